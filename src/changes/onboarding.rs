//! The first run: a company, its four default roles, the group Admin (which
//! receives the role Admin in every account connected from now on), the
//! budget code Default and its first administrator, in one transaction.
//! `/setup` and `stratus-console create-admin` both call [`set_up`].

use bigdecimal::BigDecimal;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::ChangeError;
use crate::db::{self, audit_log::NewAuditEvent, onboarding};
use crate::domain::ValidationError;
use crate::domain::admin::{Email, MASKED, name};
use crate::domain::onboarding::{ChosenPassword, company_name};

/// The set-up form, past its field rules.
pub struct SetupInput {
    pub company: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Email,
    pub password: ChosenPassword,
}

impl SetupInput {
    /// Every field's rule at once.
    pub fn parse(
        company: &str,
        given_name: &str,
        family_name: &str,
        email: &str,
        password: &str,
    ) -> Result<Self, Vec<ValidationError>> {
        let company = company_name(company);
        let given = name("given_name", given_name, "first name");
        let family = name("family_name", family_name, "last name");
        let email = Email::parse(email);
        let password = match &email {
            Ok(email) => ChosenPassword::parse(password, email),
            // Judged against the address once it is one.
            Err(_) => Err(ValidationError::new("password", "Enter a valid email address first.")),
        };
        match (company, given, family, email, password) {
            (Ok(company), Ok(given_name), Ok(family_name), Ok(email), Ok(password)) => {
                Ok(Self { company, given_name, family_name, email, password })
            }
            (company, given, family, email, password) => {
                Err([company.err(), given.err(), family.err(), email.err(), password.err()]
                    .into_iter()
                    .flatten()
                    .collect())
            }
        }
    }
}

/// Who was set up.
#[derive(Debug, Clone, Copy)]
pub struct SetUp {
    pub company: i64,
    pub user: i64,
}

/// The budget code Default starts without a limit that means anything: the
/// largest amount its column holds. An administrator sets real quotas under
/// Budget Codes.
const UNLIMITED: &str = "999999999999.99";

/// Creates the first company and its administrator (whose password hash is
/// `password_hash`). Not found once a company exists: set-up happens once.
pub async fn set_up(
    conn: &mut AsyncPgConnection,
    input: &SetupInput,
    password_hash: &str,
) -> Result<SetUp, ChangeError> {
    conn.transaction(async |conn| {
        onboarding::lock_setup(conn).await?;
        if onboarding::any_company(conn).await? {
            return Err(ChangeError::NotFound);
        }
        let company = onboarding::insert_company(conn, &input.company, &onboarding::new_external_id()).await?;
        let roles = onboarding::insert_default_roles(conn, company).await?;
        let admin_role = roles.iter().find(|(n, _)| n == "Admin").map(|(_, id)| *id).expect("Admin is a default role");
        let group = onboarding::insert_group(
            conn,
            company,
            "Admin",
            &format!("Administrators of {}", input.company),
            Some(admin_role),
        )
        .await?;
        let unlimited: BigDecimal = UNLIMITED.parse().expect("a constant amount");
        let code = onboarding::insert_budget_code(
            conn,
            company,
            "Default",
            "DEFAULT",
            "Everyday work. Set its quotas under Budget Codes.",
            (&unlimited, &unlimited),
        )
        .await?;
        let new = db::users::NewUser::active(
            company,
            input.email.as_str(),
            (&input.given_name, &input.family_name),
            password_hash,
        );
        let user = db::users::insert(conn, &new).await?.id;
        onboarding::join_group(conn, group, user).await?;
        onboarding::hold_code(conn, user, code).await?;
        let changes = serde_json::json!({
            "company": input.company, "email": input.email.as_str(), "given_name": input.given_name,
            "family_name": input.family_name, "groups": ["Admin"], "budget_codes": ["Default"], "password": MASKED,
        });
        let event = NewAuditEvent {
            account_id: None,
            user_id: Some(user),
            action: "setup",
            resource: "USER",
            resource_id: Some(user.to_string()),
            outcome: "success",
            changes,
        };
        db::audit_log::record(conn, &event).await?;
        Ok(SetUp { company, user })
    })
    .await
}

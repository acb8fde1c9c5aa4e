//! Changes of users (the Users page): add a new user, edit one, reset a
//! password, deactivate, reactivate, and let a user of the company into
//! the current account.
//!
//! A password is made by the caller (it shows it once, and hashes it off
//! the async threads); only its argon2id hash reaches these functions and
//! the database, and audit events carry a mask. Deactivating deletes the
//! user's rows in `sessions` in the same transaction, so the next request
//! of each of their browsers is signed out.

use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{Standing, escalation_check, keeping_admins, known, names, no_escalation, unique, within_reach};
use crate::changes::{Actor, ChangeError};
use crate::db;
use crate::domain::ValidationError;
use crate::domain::access::{Action, Resource, Rights};
use crate::domain::admin::{Email, MASKED, UserStatus, admission, deactivation, reactivation, widening};
use crate::domain::refusal::{Reached, Refusal};

/// A user as the form gives them, past the field rules.
pub struct UserInput {
    pub given_name: String,
    pub family_name: String,
    pub email: Email,
    pub group_ids: Vec<i64>,
    pub budget_code_ids: Vec<i64>,
    /// The accounts the user may enter; `None` when the form did not show
    /// the choice (a new user then enters the actor's account, an edited
    /// one keeps theirs).
    pub account_ids: Option<Vec<i64>>,
}

/// The company's groups and active codes, and those of them the input
/// asks for.
struct Wanted {
    all_groups: Vec<(i64, String)>,
    all_codes: Vec<(i64, String)>,
    all_accounts: Vec<(i64, String)>,
    group_ids: Vec<i64>,
    code_ids: Vec<i64>,
    /// As chosen, when the form chose.
    account_ids: Option<Vec<i64>>,
}

/// Reads what `input` asks for; invalid when it names a group or code the
/// company does not offer.
async fn wanted(conn: &mut AsyncPgConnection, company: i64, input: &UserInput) -> Result<Wanted, ChangeError> {
    let all_groups = db::admin::group_choices(conn, company).await?;
    let all_codes = db::admin::code_choices(conn, company).await?;
    let group_ids = known(&input.group_ids, &all_groups, "group_ids", "group")?;
    let code_ids = known(&input.budget_code_ids, &all_codes, "budget_code_ids", "budget code")?;
    let all_accounts = db::accounts::choices(conn, company).await?;
    let account_ids = match &input.account_ids {
        Some(ids) => {
            let ids = known(ids, &all_accounts, "account_ids", "cloud account")?;
            if ids.is_empty() {
                return Err(
                    ValidationError::new("account_ids", "Choose at least one account the user may enter.").into()
                );
            }
            Some(ids)
        }
        None => None,
    };
    Ok(Wanted { all_groups, all_codes, all_accounts, group_ids, code_ids, account_ids })
}

/// Refused when the groups carry, in any of `accounts`, more than the
/// actor holds there.
async fn no_escalation_in(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    group_ids: &[i64],
    accounts: &[i64],
) -> Result<(), ChangeError> {
    for &account in accounts {
        let wanted = db::admin::rights_of_groups(conn, account, group_ids).await?;
        escalation_check(conn, actor, account, &wanted).await?;
    }
    Ok(())
}

/// What user `user` will be in and hold once the change is made, and what
/// of it the change gives them.
struct Holdings<'a> {
    user: i64,
    groups: &'a [i64],
    codes: &'a [i64],
    groups_given: &'a [i64],
    codes_given: &'a [i64],
}

/// Refused when what the change gives a user would let one of their rights
/// reach, in `account`, images or servers that the acting user's own
/// rights there do not (`domain::admin::widening`): a budget code given
/// widens their `BILLING` rights, a group their `GROUP` rights.
async fn no_widening(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    account: i64,
    holdings: &Holdings<'_>,
    all_groups: &[(i64, String)],
    all_codes: &[(i64, String)],
) -> Result<(), ChangeError> {
    if holdings.groups_given.is_empty() && holdings.codes_given.is_empty() {
        return Ok(());
    }
    let grants = db::admin::grants_of_groups(conn, account, holdings.groups).await?;
    let after = Rights::new(holdings.user, holdings.groups.iter().copied(), holdings.codes.iter().copied(), grants);
    let own = db::admin::rights_of_user(conn, account, actor.user.id).await?;
    let Some((right, reached)) = widening(&own, &after, holdings.groups_given, holdings.codes_given) else {
        return Ok(());
    };
    let name = |id: i64, of: &[(i64, String)]| of.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone());
    let reached = match (reached.owner_group, reached.budget_code) {
        (Some(group), _) => Reached::Group(name(group, all_groups).unwrap_or_default()),
        (None, code) => Reached::BudgetCode(
            code.and_then(|code| name(code, all_codes)).unwrap_or_else(|| "an inactive code".to_owned()),
        ),
    };
    let account = if account == actor.account.id { None } else { Some(db::accounts::find(conn, account).await?.name) };
    Err(Refusal::Widening { right, reached, account }.into())
}

/// Refused at the field when the email belongs to someone else.
async fn email_free(
    conn: &mut AsyncPgConnection,
    company: i64,
    email: &Email,
    except: Option<i64>,
) -> Result<(), ChangeError> {
    let Some(owner) = db::admin::email_owner(conn, email.as_str(), except).await? else {
        return Ok(());
    };
    let colleague = except.is_none() && db::admin::find_user(conn, company, owner).await.is_ok();
    Err(Refusal::EmailTaken { colleague }.into())
}

/// The write of an email that [`email_free`] found free: another company's
/// administrator may take it at the same moment (each holds only their own
/// company's lock), and the unique index answers. The same refusal.
fn email_raced(e: diesel::result::Error) -> ChangeError {
    if crate::db::unique_violation(&e) { Refusal::EmailTaken { colleague: false }.into() } else { e.into() }
}

/// Creates the user with the password whose hash is `password_hash`, a
/// member of the actor's account, in the groups and holding the codes
/// asked for; their id.
pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    input: &UserInput,
    password_hash: &str,
) -> Result<i64, ChangeError> {
    actor.require(Resource::User, Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let Wanted { all_groups, all_codes, all_accounts, group_ids, code_ids, account_ids } =
            wanted(conn, company, input).await?;
        email_free(conn, company, &input.email, None).await?;
        let account_ids = account_ids.unwrap_or_else(|| vec![actor.account.id]);
        no_escalation_in(conn, actor, &group_ids, &account_ids).await?;
        let new = db::users::NewUser::active(
            company,
            input.email.as_str(),
            (&input.given_name, &input.family_name),
            password_hash,
        );
        let created = db::users::insert(conn, &new).await.map_err(email_raced)?;
        // Everything they hold is given them (a refusal undoes the insert).
        let holdings = Holdings {
            user: created.id,
            groups: &group_ids,
            codes: &code_ids,
            groups_given: &group_ids,
            codes_given: &code_ids,
        };
        for &account in &account_ids {
            no_widening(conn, actor, account, &holdings, &all_groups, &all_codes).await?;
        }
        for &account in &account_ids {
            db::accounts::add_member(conn, account, created.id).await?;
        }
        db::admin::set_user_groups(conn, created.id, &group_ids).await?;
        db::admin::set_user_codes(conn, created.id, &code_ids).await?;
        let changes = serde_json::json!({
            "email": input.email.as_str(), "given_name": input.given_name, "family_name": input.family_name,
            "groups": names(&group_ids, &all_groups), "budget_codes": names(&code_ids, &all_codes),
            "accounts": names(&account_ids, &all_accounts), "password": MASKED,
        });
        db::audit_log::record(conn, &actor.event("create", Resource::User, created.id, changes)).await?;
        Ok(created.id)
    })
    .await
}

/// Saves user `id` of the actor's company over version `version` (what the
/// edit form was read at): names, email, groups and codes. A stale form is
/// refused before anything else is looked at, so the dialog can show what
/// the user holds now. A user who holds more than the actor is out of their
/// reach; groups added must not raise anyone above the actor; groups taken
/// away must leave every account its administrator.
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    version: i32,
    input: &UserInput,
) -> Result<(), ChangeError> {
    actor.require(Resource::User, Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let db::users::VersionedUser { user: found, version: current } =
            db::admin::find_versioned_user(conn, company, id).await?;
        let Standing { groups: old_groups, accounts: old_accounts } =
            within_reach(conn, actor, found.id, &found.full_name()).await?;
        Refusal::stale_unless(current == version, "user")?;
        let Wanted { all_groups, all_codes, all_accounts, group_ids, code_ids, account_ids } =
            wanted(conn, company, input).await?;
        email_free(conn, company, &input.email, Some(found.id)).await?;
        let old_codes = db::admin::user_codes(conn, found.id).await?;
        let added: Vec<i64> = group_ids.iter().copied().filter(|g| !old_groups.contains(g)).collect();
        no_escalation(conn, actor, &added, Some(found.id)).await?;
        let new_accounts = account_ids.unwrap_or_else(|| old_accounts.clone());
        // In an account new to them, every group they are in counts.
        let entered: Vec<i64> = new_accounts.iter().copied().filter(|a| !old_accounts.contains(a)).collect();
        no_escalation_in(conn, actor, &group_ids, &entered).await?;
        // Codes that are inactive now stay held: the form only offers active ones.
        let inactive_held: Vec<i64> =
            old_codes.iter().copied().filter(|c| !all_codes.iter().any(|(id, _)| id == c)).collect();
        let new_codes: Vec<i64> = unique(&[code_ids.clone(), inactive_held].concat());
        let codes_added: Vec<i64> = new_codes.iter().copied().filter(|c| !old_codes.contains(c)).collect();
        for &account in &new_accounts {
            // In an account new to them, everything they hold is given them.
            let entering = entered.contains(&account);
            let holdings = Holdings {
                user: found.id,
                groups: &group_ids,
                codes: &new_codes,
                groups_given: if entering { &group_ids } else { &added },
                codes_given: if entering { &new_codes } else { &codes_added },
            };
            no_widening(conn, actor, account, &holdings, &all_groups, &all_codes).await?;
        }
        let fields = (input.given_name.as_str(), input.family_name.as_str(), input.email.as_str());
        let saved = db::admin::update_user(conn, found.id, version, fields).await.map_err(email_raced)?;
        Refusal::stale_unless(saved, "user")?;
        keeping_admins(conn, company, async |conn| {
            db::admin::set_user_groups(conn, found.id, &group_ids).await?;
            Ok(db::admin::set_user_accounts(conn, found.id, company, &new_accounts).await?)
        })
        .await?;
        db::admin::set_user_codes(conn, found.id, &new_codes).await?;
        let mut changes = serde_json::Map::new();
        let mut note = |field: &str, from: serde_json::Value, to: serde_json::Value| {
            if from != to {
                changes.insert(field.to_owned(), serde_json::json!({ "from": from, "to": to }));
            }
        };
        note("given_name", found.given_name.into(), input.given_name.clone().into());
        note("family_name", found.family_name.into(), input.family_name.clone().into());
        note("email", found.email.into(), input.email.as_str().into());
        note("groups", names(&old_groups, &all_groups).into(), names(&group_ids, &all_groups).into());
        note("budget_codes", old_codes.into(), new_codes.into());
        note("accounts", names(&old_accounts, &all_accounts).into(), names(&new_accounts, &all_accounts).into());
        db::audit_log::record(conn, &actor.event("update", Resource::User, found.id, changes.into())).await?;
        Ok(())
    })
    .await
}

/// Gives user `id` the password whose hash is `password_hash`, unless they
/// hold more than the actor; their sessions end (unless it is the actor's
/// own: they stay signed in).
pub async fn reset_password(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    password_hash: &str,
) -> Result<(), ChangeError> {
    actor.require(Resource::User, Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let found = db::admin::find_user(conn, company, id).await?;
        within_reach(conn, actor, found.id, &found.full_name()).await?;
        db::admin::set_password_hash(conn, found.id, password_hash).await?;
        // Whoever held the old password may have made tokens with it: they
        // end with the sessions (not the actor's own, who is still here).
        let (ended, revoked) = if found.id == actor.user.id {
            (0, 0)
        } else {
            (db::admin::end_sessions(conn, found.id).await?, db::tokens::revoke_all(conn, found.id).await?)
        };
        let changes = serde_json::json!({ "password": MASKED, "sessions_ended": ended, "tokens_revoked": revoked });
        db::audit_log::record(conn, &actor.event("reset_password", Resource::User, found.id, changes)).await?;
        Ok(())
    })
    .await
}

/// Deactivates user `id`, unless they hold more than the actor; ends their
/// sessions and revokes their API tokens.
pub async fn deactivate(conn: &mut AsyncPgConnection, actor: &Actor<'_>, id: i64) -> Result<(), ChangeError> {
    actor.require(Resource::User, Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let found = db::admin::find_user(conn, company, id).await?;
        deactivation(actor.user.id, found.id, found.is_active(), &found.full_name())?;
        within_reach(conn, actor, found.id, &found.full_name()).await?;
        keeping_admins(conn, company, async |conn| {
            Ok(db::admin::set_status(conn, found.id, UserStatus::Inactive).await?)
        })
        .await?;
        let ended = db::admin::end_sessions(conn, found.id).await?;
        let revoked = db::tokens::revoke_all(conn, found.id).await?;
        let changes = serde_json::json!({ "status": { "from": "active", "to": "inactive" }, "sessions_ended": ended,
                                          "tokens_revoked": revoked });
        db::audit_log::record(conn, &actor.event("deactivate", Resource::User, found.id, changes)).await?;
        Ok(())
    })
    .await
}

/// Lets user `id` sign in again, unless their groups now carry more than
/// the actor holds.
pub async fn reactivate(conn: &mut AsyncPgConnection, actor: &Actor<'_>, id: i64) -> Result<(), ChangeError> {
    actor.require(Resource::User, Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let found = db::admin::find_user(conn, company, id).await?;
        reactivation(found.is_active(), &found.full_name())?;
        let groups = db::admin::user_groups(conn, found.id).await?;
        no_escalation(conn, actor, &groups, Some(found.id)).await?;
        db::admin::set_status(conn, found.id, UserStatus::Active).await?;
        let changes = serde_json::json!({ "status": { "from": "inactive", "to": "active" } });
        db::audit_log::record(conn, &actor.event("reactivate", Resource::User, found.id, changes)).await?;
        Ok(())
    })
    .await
}

/// Makes user `id` of the company a member of the actor's account.
pub async fn add_to_account(conn: &mut AsyncPgConnection, actor: &Actor<'_>, id: i64) -> Result<(), ChangeError> {
    actor.require(Resource::User, Action::Configure)?;
    let account = actor.account;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, account.company_id).await?;
        let found = db::admin::find_user(conn, account.company_id, id).await?;
        admission(db::admin::is_member(conn, account.id, found.id).await?, &found.full_name(), &account.name)?;
        // Only this account is new to them.
        let groups = db::admin::user_groups(conn, found.id).await?;
        no_escalation(conn, actor, &groups, None).await?;
        db::accounts::add_member(conn, account.id, found.id).await?;
        let changes = serde_json::json!({ "account": account.name });
        db::audit_log::record(conn, &actor.event("add_to_account", Resource::User, found.id, changes)).await?;
        Ok(())
    })
    .await
}

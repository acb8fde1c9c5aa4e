//! The Firewalls page: `GET /firewalls`, `POST /firewalls` (`name`,
//! `description`), and Delete (`GET`/`POST /firewalls/{id}/delete`).
//!
//! Pages never wait on the provider (PRODUCT 4): the changes
//! (`changes::firewalls`) write a new firewall as pending with its job, and
//! the list shows it as "creating" (and polls) until the job has stored the
//! id. The provider's `default` group and firewalls of live servers cannot
//! be deleted (`domain::resource`); the Delete dialog says why.
//!
//! Rights: `FIREWALL Access` to see, `Configure` to create, `Delete` to
//! delete. The page, its list, the answers to its form and Delete are
//! shared with Key Pairs (`web::resources`); `create` is its own.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::error::WebError;
use super::layout::Frame;
use super::resources::{self, DeletePage, ResourceList, ResourcePage, resource_page_parts, resource_routes};
use crate::auth::CurrentUser;
use crate::changes::{self, ChangeError};
use crate::db::firewalls::FirewallRow;
use crate::domain::ValidationError;
use crate::domain::access::Resource;
use crate::domain::firewalls::{FirewallDescription, FirewallName};
use crate::domain::resource::ResourceAction;

const PAGE: &str = "/firewalls";

/// The create form as typed, with its messages.
#[derive(Default)]
pub struct FormView {
    pub name: String,
    pub description: String,
    pub name_error: Option<String>,
    pub description_error: Option<String>,
}

#[derive(Template)]
#[template(path = "firewalls/index.html", blocks = ["form", "list"])]
pub struct FirewallsPage {
    frame: Frame,
    form: FormView,
    list: ResourceList<FirewallRow>,
}

/// Listed by `db::firewalls`; a server names its firewalls by row id.
impl ResourcePage for FirewallRow {
    type Form = FormView;
    type Page = FirewallsPage;
    type Used = i64;

    resource_page_parts!(firewalls);

    fn used_as(&self) -> &i64 {
        &self.id
    }

    fn page(frame: Frame, list: ResourceList<Self>, form: FormView) -> FirewallsPage {
        FirewallsPage { frame, form, list }
    }
}

// `GET /firewalls` and Delete, as Key Pairs has them.
resource_routes!(FirewallRow, "/firewalls", "/firewalls/{id}/delete");

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

impl CreateForm {
    /// The form as typed, with a message at each field that has one.
    fn again(&self, errors: &[ValidationError]) -> FormView {
        let at = |field| errors.iter().find(|e| e.field == field).map(|e| e.message.clone());
        FormView {
            name: self.name.clone(),
            description: self.description.clone(),
            name_error: at("name"),
            description_error: at("description"),
        }
    }

    /// Reads the form; every field's problem at once.
    fn parse(&self) -> Result<(FirewallName, FirewallDescription), Vec<ValidationError>> {
        match (FirewallName::parse(&self.name), FirewallDescription::parse(&self.description)) {
            (Ok(name), Ok(description)) => Ok((name, description)),
            (name, description) => Err(name.err().into_iter().chain(description.err()).collect()),
        }
    }
}

#[post("/firewalls")]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Firewall, ResourceAction::Create.right())?;
    let created = match form.parse() {
        Ok((name, description)) => {
            let mut conn = state.pool.get().await?;
            changes::firewalls::create(&mut conn, &user.actor(), &state.jobs, &name, &description).await.map(|_| name)
        }
        Err(errors) => Err(ChangeError::Invalid(errors)),
    };
    let name = match created {
        Ok(name) => name,
        Err(e) => match e.field_errors() {
            Some(errors) => {
                let form = form.again(&errors);
                return resources::form_again::<FirewallRow>(
                    &req,
                    &user,
                    &state,
                    form,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            None => return Err(e.into()),
        },
    };
    let message = format!("Creating firewall “{}”: it is ready once the provider has it", name.as_str());
    resources::created::<FirewallRow>(&req, &user, &state, &message).await
}

impl DeletePage for FirewallRow {
    const PAGE: &'static str = PAGE;
    const LIST: &'static str = "#firewall-list";

    fn delete_detail(&self) -> String {
        match &self.provider_id {
            Some(group) => format!(
                "The security group {group} is deleted at the cloud provider, with its rules. This cannot be undone."
            ),
            None => "The provider never made it: only its row is removed.".into(),
        }
    }
}

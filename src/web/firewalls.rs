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
//! delete. Its Delete dialog is shared with Key Pairs (`web::resources`).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::error::WebError;
use super::layout::Frame;
use super::resources::{self, DeletePage, Listed, listed};
use super::respond::{added, form_again, page_or_list};
use crate::auth::CurrentUser;
use crate::changes::{self, ChangeError};
use crate::db::{self, firewalls::FirewallRow};
use crate::domain::ValidationError;
use crate::domain::access::Resource;
use crate::domain::firewalls::{FirewallDescription, FirewallName};
use crate::domain::resource::{ResourceAction, ResourceState, may};

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
struct FirewallsPage {
    frame: Frame,
    may_create: bool,
    form: FormView,
    rows: Vec<Listed<FirewallRow>>,
    /// Some rows wait for the provider: the list refreshes itself.
    polling: bool,
    /// The list replaces the page's list out of band (after a change).
    oob: bool,
}

async fn page(user: &CurrentUser, state: &AppState, form: FormView) -> Result<FirewallsPage, WebError> {
    let mut conn = state.pool.get().await?;
    let used = db::firewalls::live_servers(&mut conn, user.account.id).await?;
    let rows = db::firewalls::list(&mut conn, user.account.id).await?;
    let rows = listed(user, rows, |row| used.get(&row.id).copied().unwrap_or(0));
    Ok(FirewallsPage {
        frame: Frame::new(user, PAGE),
        may_create: may(&user.rights, Resource::Firewall, ResourceAction::Create),
        form,
        polling: rows.iter().any(|r| r.row.state == ResourceState::Pending),
        rows,
        oob: false,
    })
}

#[get("/firewalls")]
pub async fn index(req: HttpRequest, user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    user.require(Resource::Firewall, ResourceAction::See.right())?;
    let page = page(&user, &state, FormView::default()).await?;
    page_or_list(&req, "firewall-list", || page.render(), || page.as_list().render())
}

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
                let page = page(&user, &state, form.again(&errors)).await?;
                return form_again(&req, || page.as_form().render(), || page.render());
            }
            None => return Err(e.into()),
        },
    };
    let message = format!("Creating firewall “{}”: it is ready once the provider has it", name.as_str());
    added(&req, PAGE, &message, async || {
        let mut page = page(&user, &state, FormView::default()).await?;
        let form = page.as_form().render()?;
        page.oob = true;
        Ok((form, page.as_list().render()?))
    })
    .await
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

#[get("/firewalls/{id}/delete")]
pub async fn confirm_delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    resources::confirm_delete::<FirewallRow>(&req, &user, &state, id.into_inner()).await
}

#[post("/firewalls/{id}/delete")]
pub async fn delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    resources::delete::<FirewallRow>(&req, &user, &state, id.into_inner(), async || {
        Ok(page(&user, &state, FormView::default()).await?.as_list().render()?)
    })
    .await
}

//! The Firewalls page: `GET /firewalls`, `POST /firewalls` (`name`,
//! `description`), and Delete (`GET`/`POST /firewalls/{id}/delete`); and
//! each firewall's page, `GET /firewalls/{id}`, with its inbound rules:
//! `POST /firewalls/{id}/rules` (`protocol`, `ports`, `source`) adds one,
//! `POST /firewalls/{id}/rules/{rule_id}/delete` removes one
//! (`changes::firewalls`). Rules wait for the provider as firewalls do: the
//! page's rule list polls while one is being added or removed.
//!
//! Pages never wait on the provider (PRODUCT 4): the changes
//! (`changes::firewalls`) write a new firewall as pending with its job, and
//! the list shows it as "creating" (and polls) until the job has stored the
//! id. The provider's `default` group and firewalls of live servers cannot
//! be deleted (`domain::resource`); the Delete dialog says why.
//!
//! Rights: `FIREWALL Access` to see, `Configure` to create and to add or
//! remove rules, `Delete` to delete. The page, its list, the answers to its form and Delete are
//! shared with Key Pairs (`web::resources`); `create` is its own.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::dialog::done;
use super::error::WebError;
use super::layout::Frame;
use super::resources::{self, DeletePage, ResourceList, ResourcePage, resource_page_parts, resource_routes};
use super::respond::{added, html};
use crate::auth::CurrentUser;
use crate::changes::{self, ChangeError};
use crate::db;
use crate::db::firewalls::FirewallRow;
use crate::domain::ValidationError;
use crate::domain::access::Resource;
use crate::domain::firewalls::{FirewallDescription, FirewallName, PROTOCOLS, Rule};
use crate::domain::resource::{ResourceAction, ResourceState, may};
use crate::htmx::is_htmx;

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

/// A rule as the firewall's page lists it.
pub struct RuleView {
    pub id: i64,
    pub protocol: String,
    pub ports: String,
    pub source: String,
    pub summary: String,
    pub state: ResourceState,
    pub error: Option<String>,
    /// Offered Remove: the rule is in place, or failed to be added.
    pub removable: bool,
}

/// The add-rule form as typed, with its messages.
pub struct RuleFormView {
    pub protocol: String,
    pub ports: String,
    pub source: String,
    pub protocol_error: Option<String>,
    pub ports_error: Option<String>,
    pub source_error: Option<String>,
}

impl Default for RuleFormView {
    fn default() -> Self {
        Self {
            protocol: "tcp".into(),
            ports: String::new(),
            source: String::new(),
            protocol_error: None,
            ports_error: None,
            source_error: None,
        }
    }
}

#[derive(Template)]
#[template(path = "firewalls/show.html", blocks = ["rules", "form"])]
pub struct FirewallPage {
    frame: Frame,
    firewall: FirewallRow,
    servers: i64,
    rules: Vec<RuleView>,
    may_configure: bool,
    /// The provider has the firewall: it takes rules.
    ready: bool,
    polling: bool,
    /// The rule list is sent beside the form, to replace the page's.
    oob: bool,
    protocols: [(&'static str, &'static str); 4],
    form: RuleFormView,
}

/// Firewall `id`'s page, with `form`; 404 for another account's id.
async fn firewall_page(
    user: &CurrentUser,
    state: &AppState,
    id: i64,
    form: RuleFormView,
) -> Result<FirewallPage, WebError> {
    user.require(Resource::Firewall, ResourceAction::See.right())?;
    let mut conn = state.pool.get().await?;
    let firewall = db::firewalls::find(&mut conn, user.account.id, id).await?;
    let servers = db::firewalls::live_servers_using(&mut conn, user.account.id, id).await?;
    let rows = db::firewall_rules::list(&mut conn, id).await?;
    drop(conn);
    let may_configure = may(&user.rights, Resource::Firewall, ResourceAction::Create);
    let rules: Vec<RuleView> = rows
        .into_iter()
        .map(|row| {
            let rule = row.rule();
            RuleView {
                id: row.id,
                protocol: rule.protocol_name(),
                ports: rule.ports_text(),
                source: rule.source_text(),
                summary: rule.summary(),
                state: row.state,
                removable: may_configure && matches!(row.state, ResourceState::Active | ResourceState::Error),
                error: row.last_error,
            }
        })
        .collect();
    Ok(FirewallPage {
        frame: Frame::new(user, PAGE),
        ready: firewall.is_ready(),
        polling: rules.iter().any(|r| matches!(r.state, ResourceState::Pending | ResourceState::Deleting)),
        firewall,
        servers,
        rules,
        may_configure,
        oob: false,
        protocols: PROTOCOLS,
        form,
    })
}

/// `GET /firewalls/{id}`: the firewall's page; its rule list alone when
/// the list polls.
#[get("/firewalls/{id}")]
pub async fn show(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let page = firewall_page(&user, &state, id.into_inner(), RuleFormView::default()).await?;
    super::respond::page_or_list(&req, "firewall-rules", || page.render(), || page.as_rules().render())
}

#[derive(Deserialize)]
pub struct RuleForm {
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    ports: String,
    #[serde(default)]
    source: String,
}

impl RuleForm {
    /// The form as typed, with a message at each field that has one.
    fn again(&self, errors: &[ValidationError]) -> RuleFormView {
        let at = |field| errors.iter().find(|e| e.field == field).map(|e| e.message.clone());
        RuleFormView {
            protocol: self.protocol.clone(),
            ports: self.ports.clone(),
            source: self.source.clone(),
            protocol_error: at("protocol"),
            ports_error: at("ports"),
            source_error: at("source"),
        }
    }
}

/// `POST /firewalls/{id}/rules`: lets a rule in. htmx gets the empty form,
/// the rule list and the flash; a plain form the page again.
#[post("/firewalls/{id}/rules")]
pub async fn add_rule(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<RuleForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Firewall, ResourceAction::Create.right())?;
    let id = id.into_inner();
    let added_rule = match Rule::parse(&form.protocol, &form.ports, &form.source) {
        Ok(rule) => {
            let mut conn = state.pool.get().await?;
            changes::firewalls::add_rule(&mut conn, &user.actor(), &state.jobs, id, &rule).await.map(|_| rule)
        }
        Err(errors) => Err(ChangeError::Invalid(errors)),
    };
    let rule = match added_rule {
        Ok(rule) => rule,
        Err(e) => match e.field_errors() {
            Some(errors) => {
                let page = firewall_page(&user, &state, id, form.again(&errors)).await?;
                let body = if is_htmx(&req) { page.as_form().render() } else { page.render() };
                return html(StatusCode::UNPROCESSABLE_ENTITY, body);
            }
            None => return Err(e.into()),
        },
    };
    let message = format!("Adding the rule “{}”: it is in place once the provider has it", rule.summary());
    added(&req, &format!("{PAGE}/{id}"), &message, async || {
        let mut page = firewall_page(&user, &state, id, RuleFormView::default()).await?;
        page.oob = true;
        Ok((page.as_form().render()?, page.as_rules().render()?))
    })
    .await
}

/// `POST /firewalls/{id}/rules/{rule_id}/delete`: removes a rule, then
/// flashes and answers with the rule list (for htmx).
#[post("/firewalls/{id}/rules/{rule_id}/delete")]
pub async fn remove_rule(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, WebError> {
    let (id, rule_id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let removed = changes::firewalls::remove_rule(&mut conn, &user.actor(), &state.jobs, id, rule_id).await?;
    drop(conn);
    let message = if removed.at_provider {
        format!("Removing the rule “{}”: the provider takes it out shortly", removed.summary)
    } else {
        format!("Removed the rule “{}”", removed.summary)
    };
    let rules = if is_htmx(&req) {
        firewall_page(&user, &state, id, RuleFormView::default()).await?.as_rules().render()?
    } else {
        String::new()
    };
    done(&req, rules, &message, &format!("{PAGE}/{id}"))
}

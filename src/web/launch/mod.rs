//! The launch dialog (PRODUCT 3.4): "NAME: Launch" with the tabs General,
//! Key Pair, Volume Configuration and Configuration Management.
//!
//! The whole form travels with every request, so the server decides
//! everything: Next and Prev validate the tab being left, Launch Server
//! validates all tabs (`domain::launch::validate`), and an error marks its
//! tab and shows at its field.
//! (With JavaScript, tabs switch without a request; without it they are
//! submit buttons.) Nothing is created until everything is valid; then
//! `changes::launch::launch` writes the servers, their jobs and audit events
//! (a budget code that changed meanwhile shows at its field). The form
//! carries an idempotency key, so posting it twice launches once.
//!
//! Parts: `form` (the fields, tabs, messages, choices and cost) and
//! `dialog` (the view and its first form); here the routes.

mod dialog;
mod form;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use self::dialog::{LaunchDialog, NewKey, defaults};
use self::form::{Errors, LaunchForm, Tab, options};
use super::error::{WebError, change_status};
use super::respond::{FlashFragment, html};
use super::{AppState, HtmlForm, is_htmx, see_other};
use crate::auth::CurrentUser;
use crate::changes::launch::{Source, encryption};
use crate::changes::{self, ChangeError};
use crate::db::{self, images::ImageRow, images::PublicImageRow};
use crate::domain::ValidationError;
use crate::domain::access::{Action, Resource};
use crate::domain::images::Platform;
use crate::domain::keypairs::KeyPairName;
use crate::domain::launch::validate;

/// Which image a launch starts from: a record of the account, or an image of
/// the public catalog (`?catalog=public`, by its catalog row id).
#[derive(Debug, Default, Deserialize)]
pub struct Catalog {
    #[serde(default)]
    catalog: String,
}

impl Catalog {
    fn public(&self) -> bool {
        self.catalog == "public"
    }
}

/// The image being launched, as the dialog needs it.
pub struct LaunchImage {
    pub name: String,
    pub provider_image_id: String,
    pub architecture: String,
    pub platform: Platform,
    pub deprecated: bool,
    /// One of the operator's provided images (the seed's enStratus templates).
    pub provided: bool,
    /// From the public catalog: launching adds it to My images.
    pub public: Option<PublicImageRow>,
    pub record: Option<ImageRow>,
    /// `/images/{id}/launch` with its catalog parameter.
    pub action: String,
}

impl LaunchImage {
    fn windows(&self) -> bool {
        self.platform == Platform::Windows
    }

    /// Someone else's public image: from the catalog, or launched from it
    /// before and kept in My images.
    fn is_public(&self) -> bool {
        self.public.is_some() || self.record.as_ref().is_some_and(|r| r.source == "public_launched")
    }

    /// A path under the launch's, with the catalog parameter kept.
    fn sub(&self, path: &str) -> String {
        match self.action.split_once('?') {
            Some((base, query)) => format!("{base}/{path}?{query}"),
            None => format!("{}/{path}", self.action),
        }
    }

    pub fn cost_url(&self) -> String {
        self.sub("cost")
    }

    pub fn key_url(&self) -> String {
        self.sub("key-pair")
    }

    /// What the launch starts from.
    fn source(&self) -> Result<Source<'_>, WebError> {
        match (&self.record, &self.public) {
            (Some(record), _) => Ok(Source::Record(record)),
            (None, Some(public)) => Ok(Source::Public(public)),
            (None, None) => Err(WebError::NotFound),
        }
    }
}

/// The image `id`, if this user may launch it: 404 for another account's
/// record, 403 without the rights (IMAGE DefineServer — or
/// DefineServerFromPublic for a public image — and SERVER Start).
async fn launchable(user: &CurrentUser, state: &AppState, id: i64, catalog: &Catalog) -> Result<LaunchImage, WebError> {
    let mut conn = state.pool.get().await?;
    if catalog.public() {
        let account = &user.account;
        let row = db::images::find_public(&mut conn, &account.provider, &account.region, id).await?;
        changes::launch::authorize(&user.actor(), Source::Public(&row))?;
        return Ok(LaunchImage {
            name: row.name.clone(),
            provider_image_id: row.provider_image_id.clone(),
            architecture: row.architecture.clone(),
            platform: Platform::from_stored(&row.platform),
            deprecated: row.deprecated_at.is_some(),
            provided: state.provided(&row.owner_account_number),
            action: format!("/images/{id}/launch?catalog=public"),
            public: Some(row),
            record: None,
        });
    }
    // Read as listed: an image moved to the recycle bin since the list was
    // read is refused by name (409), not unknown.
    let row = db::images::find_listed(&mut conn, user.account.id, id).await?;
    changes::launch::authorize(&user.actor(), Source::Record(&row))?;
    Ok(LaunchImage {
        name: row.name.clone(),
        provider_image_id: row.provider_image_id.clone(),
        architecture: row.architecture.clone(),
        platform: Platform::from_stored(&row.platform),
        deprecated: row.deprecated_at.is_some(),
        provided: row.source == "public_launched" && state.provided(&row.owner_account_number),
        action: format!("/images/{id}/launch"),
        public: None,
        record: Some(row),
    })
}

#[get("/images/{id}/launch")]
pub async fn show(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    catalog: web::Query<Catalog>,
) -> Result<HttpResponse, WebError> {
    let image = launchable(&user, &state, id.into_inner(), &catalog).await?;
    let options = options(&state, &user, &image).await?;
    let form = defaults(&image, &options);
    let dialog = LaunchDialog::with_options(&user, image, form, options, Errors::default(), Tab::General);
    let body = if is_htmx(&req) { dialog.as_dialog_html() } else { dialog.render() };
    html(StatusCode::OK, body)
}

#[post("/images/{id}/launch")]
pub async fn submit(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    catalog: web::Query<Catalog>,
    form: HtmlForm<LaunchForm>,
) -> Result<HttpResponse, WebError> {
    let image = launchable(&user, &state, id.into_inner(), &catalog).await?;
    let form = form.0;
    let current = Tab::from_slug(&form.tab).unwrap_or(Tab::General);
    let mut options = options(&state, &user, &image).await?;
    let checked = validate(&form.input(), image.windows(), &options, encryption(&user.account)).map_err(Errors);
    let step = form.step.clone();
    // Next, Previous and a tab of the strip leave the tab shown: it is
    // checked first, and kept with its problems (PRODUCT 3.4). Problems of
    // other tabs wait for Launch Server.
    let leave_to = match step.as_str() {
        "next" => Some(Tab::ALL[(current.index() + 1).min(Tab::ALL.len() - 1)]),
        "prev" => Some(Tab::ALL[current.index().saturating_sub(1)]),
        step => step.strip_prefix("tab:").map(|slug| Tab::from_slug(slug).unwrap_or(current)),
    };
    let (errors, tab, status) = match (step.as_str(), leave_to, checked) {
        (_, Some(to), checked) => {
            let errors = checked.err().map(|e| e.only(current)).unwrap_or_default();
            if errors.is_empty() {
                (errors, to, StatusCode::OK)
            } else {
                (errors, current, StatusCode::UNPROCESSABLE_ENTITY)
            }
        }
        ("launch", None, Err(errors)) => {
            let tab = errors.first_tab().unwrap_or(current);
            (errors, tab, StatusCode::UNPROCESSABLE_ENTITY)
        }
        ("launch", None, Ok(launch)) => {
            let Ok(key) = uuid::Uuid::parse_str(&form.idempotency_key) else {
                return Err(WebError::BadRequest("The form lacks its launch key; open the dialog again.".into()));
            };
            let mut conn = state.pool.get().await?;
            let actor = user.actor();
            let outcome =
                changes::launch::launch(&mut conn, &actor, &state.jobs, image.source()?, &launch, key, None).await;
            // The connection goes back before the options are read again.
            drop(conn);
            match outcome {
                Ok(done) => return launched(&req, &done),
                // The code changed after the form was checked: the dialog
                // again, with the codes as they are now.
                Err(e) => match e.field_errors() {
                    Some(refused) => {
                        options = self::options(&state, &user, &image).await?;
                        let errors = Errors(refused);
                        let tab = errors.first_tab().unwrap_or(current);
                        (errors, tab, change_status(&e))
                    }
                    None => return Err(e.into()),
                },
            }
        }
        // Only the Launch button launches; no button of the dialog sends another step.
        _ => return Err(WebError::BadRequest("The form names no step of the dialog; open it again.".into())),
    };
    LaunchDialog::with_options(&user, image, form, options, errors, tab).respond(&req, status)
}

/// Launched: the dialog closes and the flash says how many servers start;
/// a plain form goes to the Servers page. The same form posted twice
/// answers the same.
fn launched(req: &HttpRequest, done: &changes::launch::Launched) -> Result<HttpResponse, WebError> {
    let message = match done.count {
        // The form was sent before (a double click, or again from the
        // browser's history): its launch is under way, whatever it says now.
        _ if done.again => "This launch form was sent already: nothing more was launched.".to_owned(),
        1 => "Launching 1 server".to_owned(),
        count => format!("Launching {count} servers"),
    };
    if !is_htmx(req) {
        crate::auth::current::flash_next(req, &message)?;
        return Ok(see_other("/servers"));
    }
    let mut response = html(StatusCode::OK, FlashFragment::done(&message).render())?;
    crate::htmx::swap_nothing(&mut response);
    crate::htmx::close_dialog(&mut response);
    Ok(response)
}

/// The cost panel for the choices so far (updated as they change).
#[post("/images/{id}/launch/cost")]
pub async fn estimate(
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    catalog: web::Query<Catalog>,
    form: HtmlForm<LaunchForm>,
) -> Result<HttpResponse, WebError> {
    let image = launchable(&user, &state, id.into_inner(), &catalog).await?;
    let dialog = LaunchDialog::new(&state, &user, image, form.0, Errors::default(), Tab::General).await?;
    html(StatusCode::OK, dialog.as_cost().render())
}

/// Creates a key pair at the provider for this launch and selects it; the
/// private key is offered once, for download.
#[post("/images/{id}/launch/key-pair")]
pub async fn create_key(
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    catalog: web::Query<Catalog>,
    form: HtmlForm<LaunchForm>,
) -> Result<HttpResponse, WebError> {
    let image = launchable(&user, &state, id.into_inner(), &catalog).await?;
    user.require(Resource::Keypair, Action::Configure)?;
    let mut form = form.0;
    let name = match KeyPairName::parse(&form.new_key_name) {
        Ok(name) => name,
        Err(e) => {
            let errors = Errors(vec![ValidationError::new("new_key_name", e.message)]);
            let dialog = LaunchDialog::new(&state, &user, image, form, errors, Tab::KeyPair).await?;
            return html(StatusCode::UNPROCESSABLE_ENTITY, dialog.as_keys().render());
        }
    };
    let actor = user.actor();
    let created = changes::keypairs::create(&state.pool, &actor, state.provider(&user.account).await, &name).await;
    let created = match created {
        Ok(created) => created,
        Err(e) => {
            // A name taken, or the provider's refusal: at the field.
            let message = match (&e, e.field_errors()) {
                (_, Some(errors)) => errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join(" "),
                (ChangeError::Provider(cloud), None) => changes::keypairs::not_made(&user.account.name, cloud),
                (_, None) => return Err(e.into()),
            };
            let errors = Errors(vec![ValidationError::new("new_key_name", message)]);
            let dialog = LaunchDialog::new(&state, &user, image, form, errors, Tab::KeyPair).await?;
            return html(change_status(&e), dialog.as_keys().render());
        }
    };
    form.key_choice = "existing".into();
    form.key_pair = created.name.as_str().to_owned();
    form.new_key_name.clear();
    let mut dialog = LaunchDialog::new(&state, &user, image, form, Errors::default(), Tab::KeyPair).await?;
    dialog.new_key = Some(NewKey { name: created.name.as_str().to_owned(), download: created.private_key.data_url() });
    html(StatusCode::OK, dialog.as_keys().render())
}

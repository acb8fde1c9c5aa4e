//! The Key Pairs page: `GET /keypairs`, `POST /keypairs` (`name`, and
//! `public_key` to import instead of create), and Delete
//! (`GET`/`POST /keypairs/{id}/delete`).
//!
//! Creating is the one change a page waits on the provider for
//! (`changes::keypairs::create`): the private key exists only in the
//! provider's answer, and the page hands it to the browser once, as a
//! `data:` URL behind `<a download>` that `app.js` clicks; the answer
//! carrying it is `no-store`. So a plain form POST that creates answers with
//! the page itself instead of a redirect: a redirect would need the key kept
//! somewhere until the GET. The Content-Security-Policy
//! (`web::security_headers`) allows this as it is: its fetch directives
//! govern what a page loads, not where a link downloads from, so `data:`
//! stays out of everything but `img-src`.
//!
//! Importing and deleting are written with their jobs
//! (`changes::keypairs`); the list shows an import as importing (polling
//! while it does) until the job has the provider's fingerprint. The page,
//! its list, the answers to an import and Delete are shared with Firewalls
//! (`web::resources`); `create` and the answer that carries a private key
//! are this page's own.
//!
//! Rights (see `domain::resource`): `KEYPAIR Access` to see the page,
//! `Configure` to create or import, `Delete` to delete.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::error::{WebError, change_status};
use super::layout::Frame;
use super::resources::{self, DeletePage, ResourceList, ResourcePage, resource_page_parts, resource_routes};
use super::respond::{FlashFragment, html, is_htmx, no_store};
use crate::auth::CurrentUser;
use crate::changes::{self, ChangeError, keypairs::Created};
use crate::db::keypairs::KeyPairRow;
use crate::domain::access::Resource;
use crate::domain::keypairs::{KeyPairName, PublicKey, looks_private};
use crate::domain::resource::{ResourceAction, ResourceState};

const PAGE: &str = "/keypairs";

/// The create form as typed, with its messages.
#[derive(Default)]
pub struct FormView {
    pub name: String,
    pub public_key: String,
    pub name_error: Option<String>,
    pub key_error: Option<String>,
    /// A problem of the whole form (the provider's).
    pub error: Option<String>,
}

/// The private key offered for download, once.
pub struct Download {
    pub name: String,
    pub file: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "keypairs/index.html", blocks = ["form", "list"])]
pub struct KeyPairsPage {
    frame: Frame,
    form: FormView,
    download: Option<Download>,
    list: ResourceList<KeyPairRow>,
}

/// Listed by `db::keypairs`; a server names its key pair by name.
impl ResourcePage for KeyPairRow {
    type Form = FormView;
    type Page = KeyPairsPage;
    type Used = String;

    resource_page_parts!(keypairs);

    fn used_as(&self) -> &String {
        &self.name
    }

    fn page(frame: Frame, list: ResourceList<Self>, form: FormView) -> KeyPairsPage {
        KeyPairsPage { frame, form, download: None, list }
    }
}

// `GET /keypairs` and Delete, as Firewalls has them.
resource_routes!(KeyPairRow, "/keypairs", "/keypairs/{id}/delete");

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    public_key: String,
}

/// What a valid form asks for.
enum Request {
    Create(KeyPairName),
    Import(KeyPairName, PublicKey),
}

/// Reads the form; every field's problem at once.
fn parse(form: &CreateForm) -> Result<Request, FormView> {
    let name = KeyPairName::parse(&form.name);
    let key = (!form.public_key.trim().is_empty()).then(|| PublicKey::parse(&form.public_key));
    match (name, key) {
        (Ok(name), None) => Ok(Request::Create(name)),
        (Ok(name), Some(Ok(key))) => Ok(Request::Import(name, key)),
        (name, key) => Err(FormView {
            name_error: name.err().map(|e| e.message),
            key_error: key.and_then(Result::err).map(|e| e.message),
            ..typed(form)
        }),
    }
}

/// The form as typed, to show again. A pasted private key is not echoed.
fn typed(form: &CreateForm) -> FormView {
    let public_key = if looks_private(&form.public_key) { String::new() } else { form.public_key.clone() };
    FormView { name: form.name.clone(), public_key, ..FormView::default() }
}

#[post("/keypairs")]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Keypair, ResourceAction::Create.right())?;
    let request = match parse(&form) {
        Ok(request) => request,
        Err(view) => {
            return resources::form_again::<KeyPairRow>(&req, &user, &state, view, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        }
    };
    let actor = user.actor();
    let outcome = match request {
        Request::Create(name) => {
            changes::keypairs::create(&state.pool, &actor, state.provider(&user.account).await, &name)
                .await
                .map(Made::Created)
        }
        Request::Import(name, key) => {
            let mut conn = state.pool.get().await?;
            changes::keypairs::import(&mut conn, &actor, &state.jobs, &name, &key).await.map(|_| Made::Imported(name))
        }
    };
    let e = match outcome {
        Ok(Made::Created(created)) => return created_answer(&req, &user, &state, &created).await,
        Ok(Made::Imported(name)) => {
            let message = format!("Importing “{}”: it is ready once the provider has it", name.as_str());
            return resources::created::<KeyPairRow>(&req, &user, &state, &message).await;
        }
        Err(e) => e,
    };
    let mut view = typed(&form);
    match (&e, e.field_errors()) {
        (_, Some(errors)) => {
            let at = |field| errors.iter().find(|e| e.field == field).map(|e| e.message.clone());
            view.name_error = at("name");
            view.key_error = at("public_key");
        }
        (ChangeError::Provider(cloud), None) => {
            view.error = Some(changes::keypairs::not_made(&user.account.name, cloud))
        }
        (_, None) => return Err(e.into()),
    }
    resources::form_again::<KeyPairRow>(&req, &user, &state, view, change_status(&e)).await
}

/// What a valid form made.
enum Made {
    Created(Created),
    Imported(KeyPairName),
}

/// The answer that carries the private key: never cached, never redirected.
async fn created_answer(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    created: &Created,
) -> Result<HttpResponse, WebError> {
    let mut page = resources::page::<KeyPairRow>(user, state, FormView::default(), is_htmx(req)).await?;
    page.download = Some(Download {
        name: created.name.as_str().to_owned(),
        file: created.name.pem_file(),
        href: created.private_key.data_url(),
    });
    let message = format!("Created key pair “{}”", created.name.as_str());
    let body = if is_htmx(req) {
        page.as_form().render()? + &page.as_list().render()? + &FlashFragment::done(&message).render()?
    } else {
        page.frame.flash = Some(message);
        page.render()?
    };
    Ok(no_store(html(StatusCode::OK, Ok(body))?))
}

impl DeletePage for KeyPairRow {
    const PAGE: &'static str = PAGE;
    const LIST: &'static str = "#keypair-list";

    fn delete_detail(&self) -> String {
        if self.state == ResourceState::Error {
            return "The provider never made it: only its row is removed.".into();
        }
        "It is deleted at the cloud provider: no new server can be launched with it. Servers already launched keep \
         the key they were launched with. This cannot be undone."
            .into()
    }
}

//! The Key Pairs page: `GET /keypairs`, `POST /keypairs` (`name`, and
//! `public_key` to import instead of create), and Delete
//! (`GET`/`POST /keypairs/{id}/delete`).
//!
//! Creating is the one change a page makes at the provider itself (PRODUCT
//! 3.4, 4): the private key exists only in the provider's answer, so the page
//! waits for it, writes the row with its audit event in one transaction, and
//! hands the key to the browser once, as a `data:` URL behind
//! `<a download>` that `app.js` clicks. The key is never stored: not in the
//! database, the session, a flash, a log or an audit event; `PrivateKey`
//! hides it from `Debug`, and the answer carrying it is `no-store`. So a
//! plain form POST that creates answers with the page itself instead of a
//! redirect: a redirect would need the key kept somewhere until the GET.
//! The Content-Security-Policy (`web::security_headers`) allows this as it
//! is: its fetch directives govern what a page loads, not where a link
//! downloads from, so `data:` stays out of everything but `img-src`.
//! `create_key_pair` is public for the launch dialog, which creates key
//! pairs the same way.
//!
//! Importing has no secret, so it follows the rule for every other change:
//! the row is written as pending with its audit event and an
//! `import_key_pair` job in one transaction, and the list shows it as
//! importing (polling while it does) until the job has the provider's
//! fingerprint. Deleting hides the row and queues `delete_key_pair`.
//!
//! Rights (see `domain::resource`): `KEYPAIR Access` to see the page,
//! `Configure` to create or import, `Delete` to delete.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use base64::Engine as _;
use diesel_async::AsyncConnection as _;
use serde::Deserialize;

use super::dialog::{Confirm, done};
use super::layout::Frame;
use super::resources::delete_dialog;
use super::respond::{FlashFragment, html};
use super::{AppState, is_htmx, see_other};
use crate::auth::CurrentUser;
use crate::cloud::CloudError;
use crate::db::{self, PoolError, audit::NewAuditEvent, keypairs::KeyPairRow};
use crate::domain::ValidationError;
use crate::domain::access::Resource;
use crate::domain::keypair::{KeyPairName, PublicKey, looks_private};
use crate::domain::resource::{DeleteFacts, Deletion, ResourceAction, ResourceState, deletion, may};
use crate::jobs::resources::{DeleteKeyPair, ImportKeyPair};
use crate::web::error::WebError;

const PAGE: &str = "/keypairs";

/// A private key in PEM form, as the provider handed it over. `Debug`
/// never shows it; it leaves the process only in the one answer that
/// offers it for download.
pub struct PrivateKey(String);

impl PrivateKey {
    pub fn pem(&self) -> &str {
        &self.0
    }

    /// The key as a `data:` URL, for `<a download="NAME.pem" href="…">`.
    pub fn data_url(&self) -> String {
        format!("data:application/x-pem-file;base64,{}", base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(hidden)")
    }
}

/// A key pair the provider has just made, with its private key.
#[derive(Debug)]
pub struct CreatedKeyPair {
    /// The row in `key_pairs`.
    pub id: i64,
    pub name: KeyPairName,
    pub fingerprint: String,
    pub provider_id: Option<String>,
    pub private_key: PrivateKey,
}

/// Why a key pair was not created or imported. `Invalid` and `Provider`
/// belong in the form (at the field, or above it); `Web` is answered as any
/// other error.
#[derive(Debug, thiserror::Error)]
pub enum KeyPairError {
    /// A field is wrong (`name` or `public_key`), the name taken included.
    #[error("{0}")]
    Invalid(ValidationError),
    /// The provider did not make it; nothing changed.
    #[error("{message}")]
    Provider { message: String, unreachable: bool },
    #[error(transparent)]
    Web(#[from] WebError),
}

impl KeyPairError {
    /// 422 for a field, 503 when the provider does not answer, 502 when it
    /// refuses.
    pub fn status(&self) -> StatusCode {
        match self {
            KeyPairError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            KeyPairError::Provider { unreachable: true, .. } => StatusCode::SERVICE_UNAVAILABLE,
            KeyPairError::Provider { .. } => StatusCode::BAD_GATEWAY,
            KeyPairError::Web(e) => actix_web::ResponseError::status_code(e),
        }
    }
}

impl From<diesel::result::Error> for KeyPairError {
    fn from(e: diesel::result::Error) -> Self {
        KeyPairError::Web(e.into())
    }
}

impl From<PoolError> for KeyPairError {
    fn from(e: PoolError) -> Self {
        KeyPairError::Web(e.into())
    }
}

fn forbidden(what: &str) -> WebError {
    WebError::Forbidden(format!("Your role in this account does not allow {what} key pairs."))
}

/// Why `name` cannot be used, given the state of the key pair that has it.
fn taken(name: &KeyPairName, state: &str, user: &CurrentUser) -> ValidationError {
    let name = name.as_str();
    let message = match ResourceState::from_stored(state) {
        ResourceState::Deleting => format!("A key pair named “{name}” is being deleted; try again in a moment."),
        ResourceState::Error => format!("The key pair “{name}” failed to import; delete it first to use its name."),
        _ => format!("{} already has a key pair named “{name}”.", user.account.name),
    };
    ValidationError::new("name", message)
}

fn unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

fn event<'a>(user: &CurrentUser, action: &'a str, id: i64, changes: serde_json::Value) -> NewAuditEvent<'a> {
    NewAuditEvent {
        account_id: Some(user.account.id),
        user_id: Some(user.user.id),
        action,
        resource: "KEYPAIR",
        resource_id: Some(id.to_string()),
        outcome: "success",
        changes,
    }
}

/// A provider failure in words for the form; an unreachable provider is
/// noted for the banner, as a failed job would.
async fn provider_failed(state: &AppState, user: &CurrentUser, error: CloudError) -> KeyPairError {
    let unreachable = matches!(error, CloudError::Unreachable(_));
    if unreachable
        && let Ok(mut conn) = state.pool.get().await
        && let Err(e) = db::sync::mark_unreachable(&mut conn, user.account.id).await
    {
        tracing::warn!(error = %e, "could not record the provider outage");
    }
    let message = if unreachable {
        format!(
            "The cloud provider of {} does not answer; nothing was created. Try again in a moment.",
            user.account.name
        )
    } else {
        format!("The cloud provider did not create the key pair: {error}")
    };
    KeyPairError::Provider { message, unreachable }
}

/// Creates key pair `name` at the account's provider right away and records
/// it (row and audit event, one transaction). The private key is in the
/// answer and nowhere else. Needs `KEYPAIR Configure`. If the record cannot
/// be written, the key pair is deleted at the provider again: nobody could
/// use it.
pub async fn create_key_pair(
    state: &AppState,
    user: &CurrentUser,
    name: &KeyPairName,
) -> Result<CreatedKeyPair, KeyPairError> {
    if !may(&user.rights, Resource::Keypair, ResourceAction::Create) {
        return Err(forbidden("creating").into());
    }
    let account = user.account.id;
    {
        let mut conn = state.pool.get().await?;
        if let Some(existing) = db::keypairs::name_taken(&mut conn, account, name.as_str()).await? {
            return Err(KeyPairError::Invalid(taken(name, &existing, user)));
        }
    }
    let provider = match state.provider(&user.account).await {
        Ok(provider) => provider,
        Err(e) => return Err(provider_failed(state, user, e).await),
    };
    let made = match provider.create_key_pair(name.as_str()).await {
        Ok(made) => made,
        Err(CloudError::Refused { code, .. }) if code == "InvalidKeyPair.Duplicate" => {
            return Err(KeyPairError::Invalid(ValidationError::new(
                "name",
                format!("The provider already has a key pair named “{}”; choose another name.", name.as_str()),
            )));
        }
        Err(e) => return Err(provider_failed(state, user, e).await),
    };
    let crate::cloud::KeyPair { fingerprint, id: provider_id, private_key, .. } = made;
    let saved = match private_key {
        Some(pem) => record_created(state, user, name, &fingerprint, provider_id.as_deref()).await.map(|id| (id, pem)),
        None => Err(KeyPairError::Provider {
            message: "The cloud provider made the key pair but sent no private key; it has been deleted again.".into(),
            unreachable: false,
        }),
    };
    match saved {
        Ok((id, pem)) => {
            Ok(CreatedKeyPair { id, name: name.clone(), fingerprint, provider_id, private_key: PrivateKey(pem) })
        }
        Err(e) => {
            if let Err(undo) = provider.delete_key_pair(name.as_str()).await {
                tracing::error!(error = %undo, key_pair = name.as_str(), "a key pair the console could not record is left at the provider");
            }
            Err(e)
        }
    }
}

async fn record_created(
    state: &AppState,
    user: &CurrentUser,
    name: &KeyPairName,
    fingerprint: &str,
    provider_id: Option<&str>,
) -> Result<i64, KeyPairError> {
    let mut conn = state.pool.get().await?;
    let row = db::keypairs::NewKeyPair {
        account_id: user.account.id,
        name: name.as_str(),
        fingerprint,
        provider_id,
        state: ResourceState::Active.as_str(),
    };
    conn.transaction::<_, KeyPairError, _>(async |conn| {
        let id = db::keypairs::insert(conn, &row).await?;
        let changes =
            serde_json::json!({ "name": name.as_str(), "fingerprint": fingerprint, "provider_id": provider_id });
        db::audit::record(conn, &event(user, "create", id, changes)).await?;
        Ok(id)
    })
    .await
}

/// Records key pair `name` as importing `key`, with its audit event and the
/// `import_key_pair` job, in one transaction. Needs `KEYPAIR Configure`.
pub async fn import_key_pair(
    state: &AppState,
    user: &CurrentUser,
    name: &KeyPairName,
    key: &PublicKey,
) -> Result<i64, KeyPairError> {
    if !may(&user.rights, Resource::Keypair, ResourceAction::Create) {
        return Err(forbidden("importing").into());
    }
    let account = user.account.id;
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, KeyPairError, _>(async |conn| {
        if let Some(existing) = db::keypairs::name_taken(conn, account, name.as_str()).await? {
            return Err(KeyPairError::Invalid(taken(name, &existing, user)));
        }
        let row = db::keypairs::NewKeyPair {
            account_id: account,
            name: name.as_str(),
            fingerprint: "",
            provider_id: None,
            state: ResourceState::Pending.as_str(),
        };
        let id = match db::keypairs::insert(conn, &row).await {
            Ok(id) => id,
            Err(e) if unique_violation(&e) => return Err(KeyPairError::Invalid(taken(name, "ACTIVE", user))),
            Err(e) => return Err(e.into()),
        };
        let changes = serde_json::json!({
            "name": name.as_str(), "algorithm": key.algorithm(), "public_key_fingerprint": key.fingerprint(),
        });
        db::audit::record(conn, &event(user, "import", id, changes)).await?;
        let job =
            ImportKeyPair { key_pair_id: id, name: name.as_str().to_owned(), public_key: key.openssh().to_owned() };
        db::jobs::enqueue(conn, &job.job(account, state.job_attempts())).await?;
        Ok(id)
    })
    .await
}

/// A row of the list.
pub struct KeyPairView {
    pub id: i64,
    pub name: String,
    pub fingerprint: String,
    pub provider_id: Option<String>,
    pub state: ResourceState,
    pub last_error: Option<String>,
    /// Live servers launched with it.
    pub used_by: i64,
    pub can_delete: bool,
}

fn delete_facts(row: &KeyPairRow, used_by: i64) -> DeleteFacts {
    DeleteFacts { state: ResourceState::from_stored(&row.state), live_servers: used_by, permanent: false }
}

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
struct KeyPairsPage {
    frame: Frame,
    may_create: bool,
    form: FormView,
    download: Option<Download>,
    rows: Vec<KeyPairView>,
    /// Some rows wait for the provider: the list refreshes itself.
    polling: bool,
    /// The list replaces the page's list out of band (after a change).
    oob: bool,
}

async fn page(user: &CurrentUser, state: &AppState, form: FormView) -> Result<KeyPairsPage, WebError> {
    let mut conn = state.pool.get().await?;
    let used = db::keypairs::live_servers(&mut conn, user.account.id).await?;
    let rows: Vec<KeyPairView> = db::keypairs::list(&mut conn, user.account.id)
        .await?
        .into_iter()
        .map(|row| {
            let used_by = used.get(&row.name).copied().unwrap_or(0);
            let can_delete = deletion(&user.rights, Resource::Keypair, &delete_facts(&row, used_by)).allowed();
            KeyPairView {
                id: row.id,
                state: ResourceState::from_stored(&row.state),
                name: row.name,
                fingerprint: row.fingerprint,
                provider_id: row.provider_id,
                last_error: row.last_error,
                used_by,
                can_delete,
            }
        })
        .collect();
    Ok(KeyPairsPage {
        frame: Frame::new(user, PAGE),
        may_create: may(&user.rights, Resource::Keypair, ResourceAction::Create),
        form,
        download: None,
        polling: rows.iter().any(|r| r.state == ResourceState::Pending),
        rows,
        oob: false,
    })
}

#[get("/keypairs")]
pub async fn index(req: HttpRequest, user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    if !may(&user.rights, Resource::Keypair, ResourceAction::See) {
        return Err(forbidden("seeing"));
    }
    let page = page(&user, &state, FormView::default()).await?;
    let partial = req.headers().get("HX-Target").is_some_and(|t| t == "keypair-list");
    let body = if partial { page.as_list().render()? } else { page.render()? };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Vary", "HX-Request, HX-Target"))
        .body(body))
}

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
    if !may(&user.rights, Resource::Keypair, ResourceAction::Create) {
        return Err(forbidden("creating"));
    }
    let request = match parse(&form) {
        Ok(request) => request,
        Err(view) => return form_answer(&req, &user, &state, view, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let outcome = match request {
        Request::Create(name) => create_key_pair(&state, &user, &name).await.map(Made::Created),
        Request::Import(name, key) => import_key_pair(&state, &user, &name, &key).await.map(|_| Made::Imported(name)),
    };
    match outcome {
        Ok(Made::Created(created)) => created_answer(&req, &user, &state, &created).await,
        Ok(Made::Imported(name)) => {
            let message = format!("Importing “{}”: it is ready once the provider has it", name.as_str());
            changed(&req, &user, &state, &message).await
        }
        Err(KeyPairError::Web(e)) => Err(e),
        Err(e) => {
            let status = e.status();
            let mut view = typed(&form);
            match e {
                KeyPairError::Invalid(invalid) if invalid.field == "public_key" => {
                    view.key_error = Some(invalid.message)
                }
                KeyPairError::Invalid(invalid) => view.name_error = Some(invalid.message),
                other => view.error = Some(other.to_string()),
            }
            form_answer(&req, &user, &state, view, status).await
        }
    }
}

/// What a valid form made.
enum Made {
    Created(CreatedKeyPair),
    Imported(KeyPairName),
}

/// The form again with its messages: the form alone for htmx, else the page.
async fn form_answer(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    view: FormView,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let page = page(user, state, view).await?;
    html(status, if is_htmx(req) { page.as_form().render() } else { page.render() })
}

/// A change is made: htmx gets a fresh form, the list and a flash; a plain
/// form goes back to the page (POST-redirect-GET).
async fn changed(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    message: &str,
) -> Result<HttpResponse, WebError> {
    if !is_htmx(req) {
        crate::auth::current::flash_next(req, message)?;
        return Ok(see_other(PAGE));
    }
    let mut page = page(user, state, FormView::default()).await?;
    let form = page.as_form().render()?;
    page.oob = true;
    let list = page.as_list().render()?;
    let flash = FlashFragment { message }.render()?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(form + &list + &flash))
}

/// The answer that carries the private key: never cached, never redirected.
async fn created_answer(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    created: &CreatedKeyPair,
) -> Result<HttpResponse, WebError> {
    let mut page = page(user, state, FormView::default()).await?;
    page.download = Some(Download {
        name: created.name.as_str().to_owned(),
        file: created.name.pem_file(),
        href: created.private_key.data_url(),
    });
    let message = format!("Created key pair “{}”", created.name.as_str());
    let body = if is_htmx(req) {
        let form = page.as_form().render()?;
        page.oob = true;
        form + &page.as_list().render()? + &FlashFragment { message: &message }.render()?
    } else {
        page.frame.flash = Some(message);
        page.render()?
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// The key pair `id` of the current account, and the live servers using
/// it; 404 for another account's id.
async fn target(user: &CurrentUser, state: &AppState, id: i64) -> Result<(KeyPairRow, i64), WebError> {
    let mut conn = state.pool.get().await?;
    let row = db::keypairs::find(&mut conn, user.account.id, id).await?;
    let used = db::keypairs::live_servers_using(&mut conn, user.account.id, &row.name).await?;
    Ok((row, used))
}

fn delete_detail(row: &KeyPairRow) -> String {
    if ResourceState::from_stored(&row.state) == ResourceState::Error {
        return "The provider never made it: only its row is removed.".into();
    }
    "It is deleted at the cloud provider: no new server can be launched with it. Servers already launched keep the \
     key they were launched with. This cannot be undone."
        .into()
}

fn dialog(req: &HttpRequest, user: &CurrentUser, row: &KeyPairRow, decision: Deletion) -> Confirm {
    delete_dialog(req, user, (PAGE, "#keypair-list", "key pair"), (row.id, &row.name), decision, delete_detail(row))
}

#[get("/keypairs/{id}/delete")]
pub async fn confirm_delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (row, used) = target(&user, &state, id.into_inner()).await?;
    let decision = deletion(&user.rights, Resource::Keypair, &delete_facts(&row, used));
    if decision == Deletion::Forbidden {
        return Err(forbidden("deleting"));
    }
    dialog(&req, &user, &row, decision).respond(&req, StatusCode::OK)
}

#[post("/keypairs/{id}/delete")]
pub async fn delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (row, _) = target(&user, &state, id.into_inner()).await?;
    let account = user.account.id;
    let mut conn = state.pool.get().await?;
    let decision = conn
        .transaction::<_, WebError, _>(async |conn| {
            // Asked again inside the transaction that acts on the answer.
            let used = db::keypairs::live_servers_using(conn, account, &row.name).await?;
            let decision = deletion(&user.rights, Resource::Keypair, &delete_facts(&row, used));
            let changes =
                serde_json::json!({ "name": row.name, "fingerprint": row.fingerprint, "provider_id": row.provider_id });
            match decision {
                Deletion::Forbidden => return Err(forbidden("deleting")),
                Deletion::AtProvider => {
                    if !db::keypairs::mark_deleting(conn, account, row.id).await? {
                        return Ok(Deletion::Busy(ResourceState::Deleting));
                    }
                    let job = DeleteKeyPair { key_pair_id: row.id, name: row.name.clone() };
                    db::jobs::enqueue(conn, &job.job(account, state.job_attempts())).await?;
                }
                Deletion::RowOnly => {
                    if !db::keypairs::remove(conn, account, row.id, ResourceState::Error.as_str()).await? {
                        return Ok(Deletion::Busy(ResourceState::Deleting));
                    }
                }
                _ => return Ok(decision),
            }
            db::audit::record(conn, &event(&user, "delete", row.id, changes)).await?;
            Ok(decision)
        })
        .await?;
    if !decision.allowed() {
        return dialog(&req, &user, &row, decision).respond(&req, StatusCode::CONFLICT);
    }
    let message = match decision {
        Deletion::AtProvider => format!("Deleted key pair “{}”; the provider deletes it shortly", row.name),
        _ => format!("Removed key pair “{}”", row.name),
    };
    deleted(&req, &user, &state, &message).await
}

/// After a Delete: the list and a flash for htmx (the dialog closes), else
/// back to the page.
async fn deleted(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    message: &str,
) -> Result<HttpResponse, WebError> {
    let list =
        if is_htmx(req) { page(user, state, FormView::default()).await?.as_list().render()? } else { String::new() };
    done(req, list, message, PAGE)
}

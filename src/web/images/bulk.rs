//! Bulk actions on My images (`POST /images/bulk`): the rows ticked, one
//! action (label, deprecate, undeprecate, protect, unprotect, schedule,
//! delete) with its fields. The change (`changes::images::bulk`) asks the
//! same access decision of every image and does all of it in one
//! transaction or nothing. The answer is the list again: with a summary
//! (a flash) when done; with the selection kept and the reason in the bar
//! when not. Delete asks first (`POST /images/bulk/delete`): a dialog names
//! the images and what deleting does to each, and posts them here.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use askama::Template;
use chrono::{Months, Utc};
use diesel::OptionalExtension as _;
use serde::Deserialize;

use super::{ImagesPage, SelectOption, images_page, options};
use crate::auth::CurrentUser;
use crate::changes::images::{BULK_MAX, BulkAction, BulkDone, BulkRefused};
use crate::changes::{self, ChangeError};
use crate::db;
use crate::domain::ValidationError;
use crate::domain::access::{Action, Resource};
use crate::domain::images::{DeleteFate, ImageAction, Label, ListParams, Schedule};
use crate::domain::refusal::Refusal;
use crate::web::error::{WebError, change_status};
use crate::web::layout::Frame;
use crate::web::respond::{FlashFragment, html, is_htmx};
use crate::web::{AppState, HtmlForm, see_other};

/// The bulk form as sent (and as shown again after a refusal).
#[derive(Debug, Default, Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    pub ids: Vec<i64>,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub deprecate_on: String,
    #[serde(default)]
    pub retire_on: String,
    /// The query of the list it was sent from, shown again after it.
    #[serde(default)]
    pub list: String,
    /// Why nothing was done (never sent: filled in for the answer).
    #[serde(skip)]
    pub error: Option<String>,
}

/// Whether the user may do one of the bulk actions somewhere in the account
/// (each image is still decided on its own).
pub fn may_bulk(user: &CurrentUser) -> bool {
    user.rights.allows_some(Resource::Image, Action::Configure) || may_delete_some(user)
}

fn may_delete_some(user: &CurrentUser) -> bool {
    user.rights.allows_some(Resource::Image, Action::Delete)
}

/// The bar above My images: what to do with the rows ticked.
pub struct BulkBar {
    pub list: String,
    pub label: String,
    pub deprecate_on: String,
    pub retire_on: String,
    /// The earliest and latest days the date inputs offer.
    pub min: String,
    pub max: String,
    pub error: Option<String>,
    pub csrf_token: String,
    /// Which of its buttons the user may use somewhere in the account (each
    /// image is still decided on its own).
    pub can_configure: bool,
    pub can_delete: bool,
}

impl BulkBar {
    pub fn new(user: &CurrentUser, params: &ListParams, form: BulkForm) -> Self {
        let today = Utc::now().date_naive();
        Self {
            list: serde_urlencoded::to_string(params).expect("query parameters always encode"),
            label: form.label,
            deprecate_on: form.deprecate_on,
            retire_on: form.retire_on,
            min: (today + chrono::Duration::days(1)).to_string(),
            max: today.checked_add_months(Months::new(120)).unwrap_or(today).to_string(),
            error: form.error,
            csrf_token: user.csrf_token.clone(),
            can_configure: user.rights.allows_some(Resource::Image, Action::Configure),
            can_delete: may_delete_some(user),
        }
    }

    pub fn label_options(&self) -> Vec<SelectOption> {
        options(&Label::ALL, &self.label, Label::as_str, Label::title)
    }
}

/// Some images are ticked, and not too many.
fn check_ids(ids: &[i64]) -> Result<(), ValidationError> {
    if ids.is_empty() {
        return Err(ValidationError::new("ids", "Tick the images to change first."));
    }
    if ids.len() > BULK_MAX {
        return Err(ValidationError::new("ids", format!("Change at most {BULK_MAX} images at once.")));
    }
    Ok(())
}

/// The action the form asks for, with its fields parsed.
fn parse(form: &BulkForm) -> Result<BulkAction, ValidationError> {
    check_ids(&form.ids)?;
    Ok(match form.action.as_str() {
        "label" if form.label.is_empty() => return Err(ValidationError::new("label", "Choose the label to set.")),
        "label" => BulkAction::Label(form.label.parse()?),
        "deprecate" => BulkAction::Deprecate,
        "undeprecate" => BulkAction::Undeprecate,
        "protect" => BulkAction::Protect,
        "unprotect" => BulkAction::Unprotect,
        "delete" => BulkAction::Delete,
        "schedule" => {
            let schedule = Schedule::parse(&form.deprecate_on, &form.retire_on, Utc::now().date_naive());
            BulkAction::Schedule(schedule.map_err(|errors| {
                let message = errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join(" ");
                ValidationError::new("deprecate_on", message)
            })?)
        }
        _ => return Err(ValidationError::new("action", "Choose what to do with the images ticked.")),
    })
}

/// `3 images` or `1 image`.
fn images(n: usize) -> String {
    if n == 1 { "1 image".into() } else { format!("{n} images") }
}

/// The flash after a bulk action: what it did, and what was so already.
fn summary(action: &BulkAction, done: &BulkDone) -> String {
    let n = images(done.changed.len());
    let mut message = match action {
        BulkAction::Label(Label::None) => format!("Took the label off {n}"),
        BulkAction::Label(label) => format!("Labelled {n} “{}”", label.title()),
        BulkAction::Deprecate => format!("Deprecated {n}"),
        BulkAction::Undeprecate => format!("Undeprecated {n}"),
        BulkAction::Protect => format!("Protected {n}"),
        BulkAction::Unprotect => format!("Unprotected {n}"),
        BulkAction::Schedule(s) => match (s.deprecate_on, s.retire_on) {
            (None, None) => format!("Cleared the schedule of {n}"),
            (Some(d), None) => format!("Scheduled {n}: deprecate on {d}"),
            (None, Some(r)) => format!("Scheduled {n}: retire on {r}"),
            (Some(d), Some(r)) => format!("Scheduled {n}: deprecate on {d}, retire on {r}"),
        },
        BulkAction::Delete if done.binned == 0 => format!("Deleted {n}"),
        BulkAction::Delete if done.binned == 1 && done.changed.len() == 1 => {
            format!("Deleted {n}; it waits in the recycle bin")
        }
        BulkAction::Delete if done.binned == 1 => format!("Deleted {n}; 1 of them waits in the recycle bin"),
        BulkAction::Delete if done.binned == done.changed.len() => format!("Deleted {n}; they wait in the recycle bin"),
        BulkAction::Delete => format!("Deleted {n}; {} of them wait in the recycle bin", done.binned),
    };
    if !done.unchanged.is_empty() {
        let n = done.unchanged.len();
        let was = if n == 1 { "was" } else { "were" };
        let so = match action {
            BulkAction::Label(_) => "had that label already".to_owned(),
            BulkAction::Deprecate => format!("{was} deprecated already"),
            BulkAction::Undeprecate => format!("{was} not deprecated"),
            BulkAction::Protect => format!("{was} protected already"),
            _ => format!("{was} not protected"),
        };
        if done.changed.is_empty() {
            let which = match n {
                1 => "the image".to_owned(),
                2 => "both images".to_owned(),
                _ => format!("all {n} images"),
            };
            return format!("Nothing to change: {which} {so}");
        }
        message.push_str(&format!("; {} {so}", images(n)));
    }
    message
}

/// Why nothing was done, naming the image it was refused for.
fn refusal_message(refused: &BulkRefused) -> String {
    let why = match &refused.error {
        ChangeError::Refused(refusal) => refusal.message(),
        other => other.to_string(),
    };
    match &refused.name {
        Some(name) if !why.contains(&format!("“{name}”")) => format!("Nothing was changed. “{name}”: {why}"),
        _ => format!("Nothing was changed: {why}"),
    }
}

#[post("/images/bulk")]
pub async fn apply_bulk(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: HtmlForm<BulkForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    // Without the bar, its message would have nowhere to show.
    if !may_bulk(&user) {
        return Err(WebError::Forbidden(format!("Your roles do not allow changing images in {}.", user.account.name)));
    }
    let form = form.0;
    let params = list_of(&form);
    let outcome = match parse(&form) {
        Ok(action) => {
            let mut conn = state.pool.get().await?;
            match changes::images::bulk(&mut conn, &user.actor(), &state.jobs, &form.ids, &action).await {
                Ok(done) => Ok(summary(&action, &done)),
                Err(refused) => match refused.error {
                    ChangeError::Refused(_) | ChangeError::Forbidden(_) | ChangeError::Invalid(_) => {
                        Err((change_status(&refused.error), refusal_message(&refused)))
                    }
                    // Another account's id is not found; the database's
                    // troubles are the error pages'.
                    other => return Err(other.into()),
                },
            }
        }
        Err(invalid) => Err((StatusCode::UNPROCESSABLE_ENTITY, invalid.message)),
    };
    match outcome {
        Ok(message) if !is_htmx(&req) => {
            crate::auth::current::flash_next(&req, &message)?;
            Ok(see_other(&url(&params)))
        }
        Ok(message) => {
            let page = images_page(&user, &state, params, BulkForm::default()).await?;
            let flash = FlashFragment::done(&message).render()?;
            let mut response = html(StatusCode::OK, page.as_list().render().map(|list| list + &flash))?;
            crate::htmx::close_dialog(&mut response);
            Ok(response)
        }
        Err((status, message)) => in_the_bar(&req, &user, &state, params, form, status, message).await,
    }
}

/// The list the form came from, always My images; a query that does not
/// parse shows My images from the start. Read before any change, so a bad
/// `list` never answers an error after the images were changed.
fn list_of(form: &BulkForm) -> ListParams {
    let mut params: ListParams = serde_urlencoded::from_str(&form.list).unwrap_or_default();
    params.scope.clear();
    if crate::domain::images::ListQuery::parse(&params).is_err() {
        return ListParams::default();
    }
    params
}

/// Nothing was done: the list again with the selection kept and `message`
/// in the bar. With htmx the list answers wherever the form was aimed (the
/// bar's Delete aims at the dialog it asks for), and a dialog still open
/// closes.
async fn in_the_bar(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    params: ListParams,
    mut form: BulkForm,
    status: StatusCode,
    message: String,
) -> Result<HttpResponse, WebError> {
    form.error = Some(message);
    let page: ImagesPage = images_page(user, state, params, form).await?;
    if !is_htmx(req) {
        return html(status, page.render());
    }
    let mut response = html(status, page.as_list().render())?;
    crate::htmx::retarget(&mut response, "#image-list", "outerHTML");
    crate::htmx::close_dialog(&mut response);
    Ok(response)
}

/// One image the delete dialog names, and what deleting does to it.
pub struct Doomed {
    pub id: i64,
    pub name: String,
    pub provider_image_id: String,
    pub fate: DeleteFate,
    /// Whether the user may delete it (the one access decision).
    pub allowed: bool,
}

impl Doomed {
    /// Whether this image stops the delete of them all.
    fn stops_it(&self) -> bool {
        !self.allowed || self.fate.refusal(&self.name).is_some()
    }
}

/// The question before the images ticked are deleted.
#[derive(Template)]
#[template(path = "images/bulk_delete.html", blocks = ["dialog"])]
struct BulkDeleteDialog {
    frame: Frame,
    modal: bool,
    title: String,
    submit: String,
    images: Vec<Doomed>,
    account: String,
    list: String,
    back_url: String,
    csrf_token: String,
}

impl BulkDeleteDialog {
    fn any(&self, fate: DeleteFate) -> bool {
        self.images.iter().any(|image| image.allowed && image.fate == fate)
    }

    /// How long the images that go to the recycle bin wait there, if any do.
    fn retention_days(&self) -> Option<i32> {
        self.images.iter().find_map(|image| match image.fate {
            DeleteFate::Binned { days } if image.allowed => Some(days),
            _ => None,
        })
    }

    fn in_use(&self) -> bool {
        self.images.iter().any(|image| image.allowed && matches!(image.fate, DeleteFate::InUse(_)))
    }

    fn forbidden(&self) -> bool {
        self.images.iter().any(|image| !image.allowed)
    }

    /// How many of the images stop the delete.
    fn stopping(&self) -> usize {
        self.images.iter().filter(|image| image.stops_it()).count()
    }
}

/// The bar's Delete: a dialog that names the images ticked and says what
/// deleting does to each; its Delete posts them to `/images/bulk`. Deleting
/// itself is decided there, by the same rule as every bulk action; the
/// dialog only says beforehand that a protected image, or one servers still
/// run from, stops it, as the single image's dialog does. An id of another
/// account is not found.
#[post("/images/bulk/delete")]
pub async fn ask_bulk_delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: HtmlForm<BulkForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    if !may_delete_some(&user) {
        return Err(WebError::Forbidden(format!("Your roles do not allow deleting images in {}.", user.account.name)));
    }
    let form = form.0;
    let params = list_of(&form);
    if let Err(invalid) = check_ids(&form.ids) {
        return in_the_bar(&req, &user, &state, params, form, StatusCode::UNPROCESSABLE_ENTITY, invalid.message).await;
    }
    let mut ids = form.ids.clone();
    ids.sort_unstable();
    ids.dedup();
    let mut conn = state.pool.get().await?;
    let rows: Vec<_> = db::images::find_records(&mut conn, user.account.id, &ids)
        .await?
        .into_iter()
        .filter_map(|row| changes::images::seen(&user.rights, row))
        .collect();
    if rows.len() != ids.len() {
        // One moved to the recycle bin meanwhile is named, as the action
        // itself names it; an id the account does not hold is not found.
        for id in ids.iter().filter(|id| !rows.iter().any(|row| row.id == **id)) {
            let binned = db::images::find_binned(&mut conn, user.account.id, *id).await.optional()?;
            if let Some(binned) = binned.and_then(|row| changes::images::seen(&user.rights, row)) {
                drop(conn);
                let why = Refusal::ImageInBin { name: binned.name }.message();
                return in_the_bar(&req, &user, &state, params, form, StatusCode::CONFLICT, why).await;
            }
        }
        return Err(WebError::NotFound);
    }
    let actor = user.actor();
    let fates = changes::images::delete_fates(&mut conn, &actor, &rows).await?;
    let images: Vec<Doomed> = rows
        .into_iter()
        .zip(fates)
        .map(|(row, fate)| Doomed {
            allowed: changes::images::authorize(&actor, &row, ImageAction::Delete).is_ok(),
            id: row.id,
            name: row.name,
            provider_image_id: row.provider_image_id,
            fate,
        })
        .collect();
    drop(conn);
    let n = images.len();
    let dialog = BulkDeleteDialog {
        frame: Frame::new(&user, "/images"),
        modal: is_htmx(&req),
        title: if n == 1 { "Delete 1 image".into() } else { format!("Delete {n} images") },
        submit: if n == 1 { "Delete it".into() } else { format!("Delete all {n}") },
        images,
        account: user.account.name.clone(),
        list: form.list,
        back_url: url(&params),
        csrf_token: user.csrf_token.clone(),
    };
    let body = if dialog.modal { dialog.as_dialog().render() } else { dialog.render() };
    crate::web::dialog::respond(&req, StatusCode::OK, body)
}

fn url(params: &ListParams) -> String {
    super::url_with(params, |_| {})
}

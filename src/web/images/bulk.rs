//! Bulk actions on My images (`POST /images/bulk`): the rows ticked, one
//! action (label, deprecate, undeprecate, protect, unprotect, schedule,
//! delete) with its fields. The change (`changes::images::bulk`) asks the
//! same access decision of every image and does all of it in one
//! transaction or nothing. The answer is the list again: with a summary
//! (a flash) when done; with the selection kept and the reason in the bar
//! when not.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use askama::Template;
use chrono::{Months, Utc};
use serde::Deserialize;

use super::{ImagesPage, SelectOption, images_page, options};
use crate::auth::CurrentUser;
use crate::changes::images::{BULK_MAX, BulkAction, BulkDone, BulkRefused};
use crate::changes::{self, ChangeError};
use crate::domain::ValidationError;
use crate::domain::access::{Action, Resource};
use crate::domain::images::{Label, ListParams, Schedule};
use crate::web::error::{WebError, change_status};
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
    user.rights.allows_some(Resource::Image, Action::Configure)
        || user.rights.allows_some(Resource::Image, Action::Delete)
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
        }
    }

    pub fn label_options(&self) -> Vec<SelectOption> {
        options(&Label::ALL, &self.label, Label::as_str, Label::title)
    }
}

/// The action the form asks for, with its fields parsed.
fn parse(form: &BulkForm) -> Result<BulkAction, ValidationError> {
    if form.ids.is_empty() {
        return Err(ValidationError::new("ids", "Tick the images to change first."));
    }
    if form.ids.len() > BULK_MAX {
        return Err(ValidationError::new("ids", format!("Change at most {BULK_MAX} images at once.")));
    }
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
        BulkAction::Label(label) => format!("Labelled {n} {}", label.title()),
        BulkAction::Deprecate => format!("Deprecated {n}"),
        BulkAction::Undeprecate => format!("Undeprecated {n}"),
        BulkAction::Protect => format!("Protected {n}"),
        BulkAction::Unprotect => format!("Unprotected {n}"),
        BulkAction::Schedule(s) => match (s.deprecate_on, s.retire_on) {
            (None, None) => format!("Cleared the schedule of {n}"),
            (Some(d), None) => format!("Scheduled {n}: deprecated on {d}"),
            (None, Some(r)) => format!("Scheduled {n}: retired on {r}"),
            (Some(d), Some(r)) => format!("Scheduled {n}: deprecated on {d}, retired on {r}"),
        },
        BulkAction::Delete if done.binned == 0 => format!("Deleted {n}"),
        BulkAction::Delete => format!("Deleted {n}; {} wait in the recycle bin", images(done.binned)),
    };
    if !done.unchanged.is_empty() {
        let n = done.unchanged.len();
        let was = if n == 1 { "was" } else { "were" };
        let so = match action {
            BulkAction::Label(_) => "had that label".to_owned(),
            BulkAction::Deprecate => format!("{was} deprecated"),
            BulkAction::Undeprecate => format!("{was} not deprecated"),
            BulkAction::Protect => format!("{was} protected"),
            _ => format!("{was} not protected"),
        };
        if done.changed.is_empty() {
            let which = if n == 1 { "the image".to_owned() } else { format!("all {n} images") };
            return format!("Nothing to change: {which} {so} already");
        }
        message.push_str(&format!("; {} {so} already", images(n)));
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
    let mut form = form.0;
    // The list it came from, always My images; a query that does not parse
    // shows My images from the start.
    let mut params: ListParams = serde_urlencoded::from_str(&form.list).unwrap_or_default();
    params.scope.clear();
    // Checked before the change, so a bad `list` never answers an error
    // after the images were changed.
    if crate::domain::images::ListQuery::parse(&params).is_err() {
        params = ListParams::default();
    }
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
            let flash = FlashFragment { message: &message }.render()?;
            html(StatusCode::OK, page.as_list().render().map(|list| list + &flash))
        }
        Err((status, message)) => {
            form.error = Some(message);
            let page: ImagesPage = images_page(&user, &state, params, form).await?;
            html(status, if is_htmx(&req) { page.as_list().render() } else { page.render() })
        }
    }
}

fn url(params: &ListParams) -> String {
    super::url_with(params, |_| {})
}

//! `/api/v1/images` (the account's records: My images and Shared with me)
//! and `/api/v1/public-images` (the public catalog): the page's lists, with
//! its filters, sort and cursors, and its changes (`changes::images`).

use actix_web::{delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiUser;
use super::problem::ApiError;
use crate::changes::images::{Sharing, facts, share_targets};
use crate::changes::{self, ChangeError};
use crate::db::{self, images::ImageRow, images::PublicImageRow, images::RecordTab};
use crate::domain::access::{Action, Ownership, Resource};
use crate::domain::images::{
    ImageName, Label, ListParams, ListQuery, Scope, allowed_actions, may_configure, sharing_rights,
};
use crate::domain::refusal::Refusal;
use crate::state::AppState;

/// An image record of the token's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Image {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// One of the 25 labels: `none`, the colours `blue`, `yellow`, `green`,
    /// `orange`, `purple`, `red`, `gray`, `white`, the flags `flagblue` …,
    /// the icons `iconstar` … and the tags `tagblue` … (see the list's
    /// `label` filter).
    pub label: String,
    pub deprecated_at: Option<DateTime<Utc>>,
    pub platform: String,
    pub architecture: String,
    /// The provider's id; empty while the provider is making the image.
    pub provider_image_id: String,
    /// The provider's state (`ACTIVE`, `PENDING`, `FAILED`, `DELETED`, …).
    pub state: String,
    /// `own`, `shared` (by another account) or `public_launched` (a public
    /// image launched here).
    pub source: String,
    pub owner_account_number: String,
    /// The person who keeps the record.
    pub owner: Option<String>,
    pub group: Option<String>,
    pub budget_code: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Sent back with a change (optimistic concurrency).
    pub version: i32,
    /// Delete, retirement and the bin's purge are refused while set.
    pub protected: bool,
    /// In the recycle bin (`scope=bin`): deregistered at the provider after
    /// this moment unless restored.
    pub purge_after: Option<DateTime<Utc>>,
    /// Its schedule: deprecated, then retired, on these days (UTC).
    pub deprecate_on: Option<chrono::NaiveDate>,
    pub retire_on: Option<chrono::NaiveDate>,
    /// Why its retirement, due, waits.
    pub retirement_waits: Option<String>,
    /// Servers launched from it in every account of the company, and when
    /// the last one was.
    pub launches: i64,
    pub last_launched_at: Option<DateTime<Utc>>,
    /// An image of its chain of parents is retired (gone at the provider,
    /// or retired by its schedule).
    pub built_on_retired: bool,
    /// What the token's user may do to it now: `launch`, `deprecate`,
    /// `undeprecate`, `protect`, `unprotect`, `delete`, `sharing`; in the
    /// bin `restore` and `purge`; and `configure` (rename, relabel).
    pub actions: Vec<String>,
}

impl Image {
    fn of(user: &ApiUser, row: ImageRow) -> Self {
        let facts = facts(&user.account, &row);
        let mut actions: Vec<String> = facts
            .map(|f| allowed_actions(&user.rights, &f).into_iter().map(|a| a.path().to_owned()).collect())
            .unwrap_or_default();
        if facts.is_some_and(|f| may_configure(&user.rights, &f)) {
            actions.push("configure".into());
        }
        let owner = match (row.owner_given_name, row.owner_family_name) {
            (Some(given), Some(family)) => Some(format!("{given} {family}")),
            _ => None,
        };
        Image {
            id: row.id,
            name: row.name,
            description: row.description,
            label: row.label,
            deprecated_at: row.deprecated_at,
            platform: row.platform,
            architecture: row.architecture,
            provider_image_id: row.provider_image_id,
            state: row.state,
            source: row.source,
            owner_account_number: row.owner_account_number,
            owner,
            group: row.group_name,
            budget_code: row.budget_code_name,
            created_at: row.created_at,
            version: row.version,
            protected: row.protected,
            purge_after: row.purge_after,
            deprecate_on: row.deprecate_on,
            retire_on: row.retire_on,
            retirement_waits: row.retirement_waits,
            launches: row.usage.launches,
            last_launched_at: row.usage.last_launched_at,
            built_on_retired: row.usage.built_on_retired,
            actions,
        }
    }
}

/// A page of a list. `next` and `prev` are cursors for `after` and
/// `before`; absent at the ends.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImagePage {
    pub items: Vec<Image>,
    pub next: Option<String>,
    pub prev: Option<String>,
}

/// The list's parameters, as the page's address has them.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImageParams {
    /// `own` (My images, the default), `shared` (Shared with me) or `bin`
    /// (own images deleted and waiting in the recycle bin).
    #[serde(default)]
    #[param(pattern = "^(own|shared|bin)$")]
    pub scope: Option<String>,
    /// Words of the name, description or provider id.
    #[serde(default)]
    #[param(max_length = 200)]
    pub q: Option<String>,
    #[serde(default)]
    #[param(pattern = "^(UBUNTU|DEBIAN|CENT_OS|RHEL|FEDORA_CORE|SUSE|AMAZON|WINDOWS|FREE_BSD|UNKNOWN)$")]
    pub platform: Option<String>,
    #[serde(default)]
    #[param(pattern = "^(i386|x86_64|arm64)$")]
    pub arch: Option<String>,
    #[serde(default)]
    #[param(
        pattern = "^(none|blue|yellow|green|orange|purple|red|gray|white|flag(blue|green|orange|purple|red)|icon(asterisk|bug|key|lightbulb|star)|tag(blue|green|orange|purple|red|yellow))$"
    )]
    pub label: Option<String>,
    /// `retiring` (a retirement is scheduled), `retired_root` (built on a
    /// retired image), `protected`, or `unused_90d` (older than 90 days,
    /// not launched since, no server launched from it still runs).
    #[serde(default)]
    #[param(pattern = "^(retiring|retired_root|protected|unused_90d)$")]
    pub lifecycle: Option<String>,
    /// `name` (the default), `-name`, `-created` (newest first), `created`,
    /// `-last_launched` (launched most recently first; never launched sorts
    /// last), `last_launched`, `-launches` (most launches first) or
    /// `launches`.
    #[serde(default)]
    #[param(pattern = "^-?(name|created|last_launched|launches)$")]
    pub sort: Option<String>,
    /// The `next` cursor of the page before.
    #[serde(default)]
    pub after: Option<String>,
    /// The `prev` cursor of the page after.
    #[serde(default)]
    pub before: Option<String>,
}

/// A public search's parameters: at least a term or a filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicParams {
    /// Words of the name, description or provider id.
    #[serde(default)]
    #[param(max_length = 200)]
    pub q: Option<String>,
    #[serde(default)]
    #[param(pattern = "^(UBUNTU|DEBIAN|CENT_OS|RHEL|FEDORA_CORE|SUSE|AMAZON|WINDOWS|FREE_BSD|UNKNOWN)$")]
    pub platform: Option<String>,
    #[serde(default)]
    #[param(pattern = "^(i386|x86_64|arm64)$")]
    pub arch: Option<String>,
    /// `-created` (newest first, the default) or `created`.
    #[serde(default)]
    #[param(pattern = "^-?created$")]
    pub sort: Option<String>,
    /// The `next` cursor of the page before.
    #[serde(default)]
    pub after: Option<String>,
    /// The `prev` cursor of the page after.
    #[serde(default)]
    pub before: Option<String>,
}

impl PublicParams {
    fn parse(&self) -> Result<ListQuery, ApiError> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let params = ListParams {
            scope: "public".into(),
            q: text(&self.q),
            platform: text(&self.platform),
            arch: text(&self.arch),
            label: String::new(),
            lifecycle: String::new(),
            sort: text(&self.sort),
            after: text(&self.after),
            before: text(&self.before),
        };
        Ok(ListQuery::parse(&params)?)
    }
}

impl ImageParams {
    fn parse(&self) -> Result<ListQuery, ApiError> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let params = ListParams {
            scope: text(&self.scope),
            q: text(&self.q),
            platform: text(&self.platform),
            arch: text(&self.arch),
            label: text(&self.label),
            lifecycle: text(&self.lifecycle),
            sort: text(&self.sort),
            after: text(&self.after),
            before: text(&self.before),
        };
        Ok(ListQuery::parse(&params)?)
    }
}

/// List the account's images.
#[utoipa::path(get, operation_id = "list_images", path = "/api/v1/images", tag = "images", params(ImageParams),
    responses((status = 200, description = "A page of image records", body = ImagePage)))]
#[get("/v1/images")]
pub async fn list(
    user: ApiUser,
    state: web::Data<AppState>,
    params: web::Query<ImageParams>,
) -> Result<web::Json<ImagePage>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let query = params.parse()?;
    let tab = match query.scope {
        Scope::Own => RecordTab::Own,
        Scope::Shared => RecordTab::Shared,
        Scope::Bin => RecordTab::Bin,
        Scope::Public => {
            return Err(ApiError::Invalid(vec![crate::domain::ValidationError::new(
                "scope",
                "Public images are listed at /api/v1/public-images.",
            )]));
        }
    };
    let reach = user.rights.reach(Resource::Image, Action::Access);
    let mut conn = state.lists.get().await?;
    let page =
        db::images::list_records(&mut conn, user.account.id, &reach, tab, &query.filters, query.sort, &query.page)
            .await?;
    let (prev, next) = page.prev_and_next(|row| row.cursor(query.sort));
    Ok(web::Json(ImagePage { items: page.rows.into_iter().map(|row| Image::of(&user, row)).collect(), next, prev }))
}

/// One image record of the account, in My images or its recycle bin.
#[utoipa::path(get, operation_id = "get_image", path = "/api/v1/images/{id}", tag = "images", params(("id" = i64, Path)),
    responses((status = 200, description = "The image record", body = Image)))]
#[get("/v1/images/{id}")]
pub async fn get(user: ApiUser, state: web::Data<AppState>, id: web::Path<i64>) -> Result<web::Json<Image>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let mut conn = state.pool.get().await?;
    let row = db::images::find_listed(&mut conn, user.account.id, id.into_inner()).await?;
    let row = changes::images::seen(&user.rights, row).ok_or(ApiError::NotFound)?;
    Ok(web::Json(Image::of(&user, row)))
}

/// A rename, a relabel or both, at the record's `version`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImagePatch {
    pub version: i32,
    /// 1 to 255 characters, one line.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    /// One of the 25 labels (see `Image`).
    #[serde(default)]
    pub label: Option<String>,
}

/// The record as it now is, for a 409 after a stale version: read on the
/// handler's own connection (the change's transaction has rolled back).
async fn stale_or(user: &ApiUser, conn: &mut diesel_async::AsyncPgConnection, id: i64, e: ChangeError) -> ApiError {
    if !matches!(e, ChangeError::Refused(Refusal::StaleVersion { .. })) {
        return e.into();
    }
    match db::images::find_listed(conn, user.account.id, id).await {
        Ok(row) => ApiError::stale(Image::of(user, row)),
        Err(e) => e.into(),
    }
}

/// Rename or relabel an image.
#[utoipa::path(patch, operation_id = "update_image", path = "/api/v1/images/{id}", tag = "images", params(("id" = i64, Path)), request_body = ImagePatch,
    responses((status = 200, description = "The record as it now is", body = Image)))]
#[patch("/v1/images/{id}")]
pub async fn update(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<ImagePatch>,
) -> Result<web::Json<Image>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let body = body.into_inner();
    let mut errors = Vec::new();
    let name = body.name.as_deref().map(ImageName::parse).transpose().map_err(|e| errors.push(e)).ok().flatten();
    let label = body.label.as_deref().map(str::parse::<Label>).transpose().map_err(|e| errors.push(e)).ok().flatten();
    if body.name.is_none() && body.label.is_none() {
        errors.push(crate::domain::ValidationError::new("name", "Send a name, a label or both."));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let mut conn = state.pool.get().await?;
    match changes::images::edit(&mut conn, &user.actor(), id, body.version, name.as_ref(), label).await {
        Ok(row) => Ok(web::Json(Image::of(&user, row))),
        Err(e) => Err(stale_or(&user, &mut conn, id, e).await),
    }
}

/// The record's version, as the change saw it.
#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Version {
    pub version: i32,
}

/// Deprecate an own image: at once here, at the provider through a job.
#[utoipa::path(post, operation_id = "deprecate_image", path = "/api/v1/images/{id}/deprecate", tag = "images", params(("id" = i64, Path)), request_body = Version,
    responses((status = 200, description = "The record as it now is", body = Image)))]
#[post("/v1/images/{id}/deprecate")]
pub async fn deprecate(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<Version>,
) -> Result<web::Json<Image>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    match changes::images::deprecate(&mut conn, &user.actor(), &state.jobs, id, body.version).await {
        Ok(row) => Ok(web::Json(Image::of(&user, row))),
        Err(e) => Err(stale_or(&user, &mut conn, id, e).await),
    }
}

/// An own image's schedule; a day left out (or null) is none. A field of
/// another name is refused: a misspelt day would otherwise clear the
/// schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    pub version: i32,
    /// `YYYY-MM-DD`, after today.
    #[serde(default)]
    #[schema(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub deprecate_on: Option<String>,
    /// `YYYY-MM-DD`, on or after `deprecate_on`, at most ten years ahead.
    #[serde(default)]
    #[schema(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub retire_on: Option<String>,
}

/// Schedule an own image's deprecation and retirement (disabled at the
/// provider and moved to the recycle bin on its day, unless protected or in
/// use, when it waits).
#[utoipa::path(put, operation_id = "schedule_image", path = "/api/v1/images/{id}/schedule", tag = "images", params(("id" = i64, Path)), request_body = ScheduleBody,
    responses((status = 200, description = "The record as it now is", body = Image)))]
#[put("/v1/images/{id}/schedule")]
pub async fn schedule(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<ScheduleBody>,
) -> Result<web::Json<Image>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let day = |d: &Option<String>| d.clone().unwrap_or_default();
    let schedule = crate::domain::images::Schedule::parse(
        &day(&body.deprecate_on),
        &day(&body.retire_on),
        Utc::now().date_naive(),
    )
    .map_err(ApiError::Invalid)?;
    let mut conn = state.pool.get().await?;
    match changes::images::schedule(&mut conn, &user.actor(), id, body.version, &schedule).await {
        Ok(row) => Ok(web::Json(Image::of(&user, row))),
        Err(e) => Err(stale_or(&user, &mut conn, id, e).await),
    }
}

/// Protect an own image: delete, retirement and the bin's purge are refused
/// until it is unprotected.
#[utoipa::path(post, operation_id = "protect_image", path = "/api/v1/images/{id}/protect", tag = "images", params(("id" = i64, Path)), request_body = Version,
    responses((status = 200, description = "The record as it now is", body = Image)))]
#[post("/v1/images/{id}/protect")]
pub async fn protect(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<Version>,
) -> Result<web::Json<Image>, ApiError> {
    set_protection(user, state, id.into_inner(), body.version, true).await
}

/// Remove an own image's protection.
#[utoipa::path(post, operation_id = "unprotect_image", path = "/api/v1/images/{id}/unprotect", tag = "images", params(("id" = i64, Path)), request_body = Version,
    responses((status = 200, description = "The record as it now is", body = Image)))]
#[post("/v1/images/{id}/unprotect")]
pub async fn unprotect(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<Version>,
) -> Result<web::Json<Image>, ApiError> {
    set_protection(user, state, id.into_inner(), body.version, false).await
}

async fn set_protection(
    user: ApiUser,
    state: web::Data<AppState>,
    id: i64,
    version: i32,
    protected: bool,
) -> Result<web::Json<Image>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let mut conn = state.pool.get().await?;
    match changes::images::set_protection(&mut conn, &user.actor(), id, version, protected).await {
        Ok(row) => Ok(web::Json(Image::of(&user, row))),
        Err(e) => Err(stale_or(&user, &mut conn, id, e).await),
    }
}

/// Bring an image back from the recycle bin with its name, label, shares
/// and lineage.
#[utoipa::path(post, operation_id = "restore_image", path = "/api/v1/images/{id}/restore", tag = "images", params(("id" = i64, Path)), request_body = Version,
    responses((status = 200, description = "The record as it now is", body = Image)))]
#[post("/v1/images/{id}/restore")]
pub async fn restore(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<Version>,
) -> Result<web::Json<Image>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    match changes::images::restore(&mut conn, &user.actor(), &state.jobs, id, body.version).await {
        Ok(row) => Ok(web::Json(Image::of(&user, row))),
        Err(e) => Err(stale_or(&user, &mut conn, id, e).await),
    }
}

/// Delete an image in the recycle bin for good, before its retention ends:
/// the provider deregisters it. Refused while it is protected or in use.
#[utoipa::path(post, operation_id = "purge_image", path = "/api/v1/images/{id}/purge", tag = "images", params(("id" = i64, Path)), request_body = Version,
    responses((status = 200, description = "Deleted", body = Deleted)))]
#[post("/v1/images/{id}/purge")]
pub async fn purge(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<Version>,
) -> Result<web::Json<Deleted>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    match changes::images::purge(&mut conn, &user.actor(), &state.jobs, id, body.version).await {
        Ok(done) => {
            Ok(web::Json(Deleted { name: done.name, deregistering: done.provider_image_id, purge_after: None }))
        }
        Err(e) => Err(stale_or(&user, &mut conn, id, e).await),
    }
}

/// Undeprecate an own image.
#[utoipa::path(post, operation_id = "undeprecate_image", path = "/api/v1/images/{id}/undeprecate", tag = "images", params(("id" = i64, Path)), request_body = Version,
    responses((status = 200, description = "The record as it now is", body = Image)))]
#[post("/v1/images/{id}/undeprecate")]
pub async fn undeprecate(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<Version>,
) -> Result<web::Json<Image>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    match changes::images::undeprecate(&mut conn, &user.actor(), &state.jobs, id, body.version).await {
        Ok(row) => Ok(web::Json(Image::of(&user, row))),
        Err(e) => Err(stale_or(&user, &mut conn, id, e).await),
    }
}

/// What a delete did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub name: String,
    /// The image the provider deregisters (an own image), if any: now, or
    /// when its time in the recycle bin ends.
    pub deregistering: Option<String>,
    /// In the recycle bin until then (a company keeps deleted images a
    /// while); absent when deleted at once.
    pub purge_after: Option<DateTime<Utc>>,
}

/// Delete a record: an own image goes to the recycle bin for the company's
/// retention (every account's record of it leaves the lists), then the
/// provider deregisters it; with no retention it is deregistered at once. A
/// shared or launched public image leaves this account only. Refused while
/// live servers were launched from it, or while it is protected.
#[utoipa::path(delete, operation_id = "delete_image", path = "/api/v1/images/{id}", tag = "images", params(("id" = i64, Path), Version),
    responses((status = 200, description = "Deleted", body = Deleted)))]
#[delete("/v1/images/{id}")]
pub async fn remove(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    version: web::Query<Version>,
) -> Result<web::Json<Deleted>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    match changes::images::delete(&mut conn, &user.actor(), &state.jobs, id, version.version).await {
        Ok(done) => Ok(web::Json(Deleted {
            name: done.name,
            deregistering: done.provider_image_id.filter(|_| done.source == crate::domain::images::Source::Own),
            purge_after: done.purge_after,
        })),
        Err(e) => Err(stale_or(&user, &mut conn, id, e).await),
    }
}

/// An account an image can be shared with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareTarget {
    pub account_id: i64,
    pub name: String,
    pub shared: bool,
}

/// How an image is shared.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharingState {
    pub public: bool,
    /// The user's other accounts at the same provider and region.
    pub accounts: Vec<ShareTarget>,
    pub may_share_with_accounts: bool,
    pub may_make_public: bool,
}

async fn sharing_state(
    user: &ApiUser,
    conn: &mut diesel_async::AsyncPgConnection,
    row: &ImageRow,
) -> Result<SharingState, ApiError> {
    let shared_with: Vec<i64> = db::images::shares(conn, row.image_pk).await?.into_iter().map(|(a, _)| a).collect();
    let rights = facts(&user.account, row).map(|f| sharing_rights(&user.rights, &f)).unwrap_or_default();
    Ok(SharingState {
        public: db::images::is_public(conn, row.image_pk).await?,
        accounts: share_targets(&user.actor())
            .map(|a| ShareTarget { account_id: a.id, name: a.name.clone(), shared: shared_with.contains(&a.id) })
            .collect(),
        may_share_with_accounts: rights.accounts,
        may_make_public: rights.public,
    })
}

/// How an own image is shared.
#[utoipa::path(get, operation_id = "get_image_sharing", path = "/api/v1/images/{id}/sharing", tag = "images", params(("id" = i64, Path)),
    responses((status = 200, description = "Its sharing", body = SharingState),
              (status = 409, description = "It cannot be shared now: in the recycle bin, not made yet, or its making failed",
               body = super::problem::Problem, content_type = "application/problem+json")))]
#[get("/v1/images/{id}/sharing")]
pub async fn sharing(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<SharingState>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let mut conn = state.pool.get().await?;
    // As listed: an image in the recycle bin is refused (409), as a change of its sharing is.
    let row = db::images::find_listed(&mut conn, user.account.id, id.into_inner()).await?;
    changes::images::authorize(&user.actor(), &row, crate::domain::images::ImageAction::Sharing)?;
    Ok(web::Json(sharing_state(&user, &mut conn, &row).await?))
}

/// The sharing wanted: public or not, and the accounts to share with (of
/// the user's others at the same provider and region; shares with other
/// accounts stay).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharingBody {
    pub public: bool,
    pub account_ids: Vec<i64>,
}

/// Share an own image with accounts, or make it public or private.
#[utoipa::path(put, operation_id = "set_image_sharing", path = "/api/v1/images/{id}/sharing", tag = "images", params(("id" = i64, Path)), request_body = SharingBody,
    responses((status = 200, description = "Its sharing as it now is", body = SharingState)))]
#[put("/v1/images/{id}/sharing")]
pub async fn share(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<SharingBody>,
) -> Result<web::Json<SharingState>, ApiError> {
    user.require(Resource::Image, Action::Access)?;
    let mut conn = state.pool.get().await?;
    let wanted = Sharing { public: body.public, accounts: &body.account_ids };
    let shared = changes::images::save_sharing(&mut conn, &user.actor(), &state.jobs, id.into_inner(), &wanted).await?;
    Ok(web::Json(sharing_state(&user, &mut conn, &shared.record).await?))
}

/// An image of the public catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicImage {
    /// The catalog's id: launch it at `/api/v1/images/{id}/launch?catalog=public`.
    pub id: i64,
    pub name: String,
    pub description: String,
    pub platform: String,
    pub architecture: String,
    pub provider_image_id: String,
    /// The publisher's alias, or its account number.
    pub owner: String,
    pub deprecated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// One of the operator's provided images.
    pub provided: bool,
}

impl PublicImage {
    fn of(row: PublicImageRow, provided: bool) -> Self {
        PublicImage {
            id: row.id,
            name: row.name,
            description: row.description,
            platform: row.platform,
            architecture: row.architecture,
            provider_image_id: row.provider_image_id,
            owner: row.owner_alias.unwrap_or(row.owner_account_number),
            deprecated_at: row.deprecated_at,
            created_at: row.created_at,
            provided,
        }
    }
}

/// A page of a public search: the provided images that match (on the first
/// page), then the others.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicPage {
    pub provided: Vec<PublicImage>,
    pub items: Vec<PublicImage>,
    pub next: Option<String>,
    pub prev: Option<String>,
}

/// Search the public catalog of the account's provider and region. A
/// search term or a filter is required, as on the page.
#[utoipa::path(get, operation_id = "search_public_images", path = "/api/v1/public-images", tag = "images", params(PublicParams),
    responses((status = 200, description = "A page of public images", body = PublicPage)))]
#[get("/v1/public-images")]
pub async fn search_public(
    user: ApiUser,
    state: web::Data<AppState>,
    params: web::Query<PublicParams>,
) -> Result<web::Json<PublicPage>, ApiError> {
    user.rights.require_on(Resource::Image, Action::DefineServerFromPublic, &Ownership::default())?;
    let query = params.parse()?;
    if query.filters.is_empty() {
        return Err(ApiError::Invalid(vec![crate::domain::ValidationError::new(
            "q",
            "Give a search term or a filter: the public catalog is too large to list whole.",
        )]));
    }
    let mut conn = state.pool.get().await?;
    let (provided, page) = db::images::public_search(&mut conn, &user.account, &query, &state.provided_owners).await?;
    let (prev, next) = page.prev_and_next(PublicImageRow::cursor);
    Ok(web::Json(PublicPage {
        provided: provided.into_iter().map(|row| PublicImage::of(row, true)).collect(),
        // Older provided images are listed with the others, marked too.
        items: page
            .rows
            .into_iter()
            .map(|row| {
                let provided = state.provided_owners.contains(&row.owner_account_number);
                PublicImage::of(row, provided)
            })
            .collect(),
        next,
        prev,
    }))
}

//! The Machine Images page: tabs, search, filters, sort and keyset pages
//! (here), and what a row offers: rename (`rename`), relabel (`labels`),
//! deprecate, undeprecate and delete (`actions`), and sharing (`sharing`).
//!
//! The changes themselves, with their rules, transactions, audit events and
//! jobs, are `changes::images`; these pages read, ask the same rule for
//! what to show, call the change and render. A row's answers are the row as
//! it now is (none after a delete) with a flash; a dialog's problems (a
//! stale version, a refusal, a bad field) come back into the dialog itself.

mod actions;
mod bin;
mod bulk;
mod labels;
mod page;
mod rename;
mod schedule;
mod sharing;

pub use actions::{
    actions_menu, confirm_delete, confirm_deprecate, delete, deprecate, protect, undeprecate, unprotect,
};
pub use bin::{confirm_purge, purge, restore};
pub use bulk::{apply_bulk, ask_bulk_delete};
pub use labels::{label_picker, relabel};
pub use page::show;
pub use rename::{edit_name, save_name, show_name};
pub use schedule::{save_schedule, show_schedule};
pub use sharing::{save_sharing, show_sharing};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::AppState;
use super::layout::{Frame, Moment};
use super::respond::{FlashFragment, page_or_list, render_sized};
use crate::auth::CurrentUser;
use crate::changes::images::{authorize, authorize_configure, facts, seen};
use crate::db::{self, images::ImageRow, images::RecordTab};
use crate::domain::access::{Action, Ownership, Resource};
use crate::domain::images::{
    Architecture, Filters, ImageAction, Label, Lifecycle, ListParams, ListQuery, Platform, Scope, Sort,
    allowed_actions, may_configure,
};
use crate::domain::page::{Cursor, Page};
use crate::web::error::WebError;
use bulk::{BulkBar, BulkForm, may_bulk};

const PAGE: &str = "/images";

/// A row of My images / Shared with me, ready to show.
pub struct ImageView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub label: Label,
    pub deprecated: bool,
    pub platform: Platform,
    pub provider_image_id: String,
    pub architecture: String,
    pub account: String,
    pub owner: String,
    pub group: String,
    pub budget_code: String,
    pub created: Moment,
    pub state: String,
    /// A public image launched here that its publisher has since removed.
    pub retired: bool,
    pub actions: Vec<ImageAction>,
    /// The record's version, sent back with edits (optimistic concurrency).
    pub version: i32,
    /// The user may rename and relabel it.
    pub can_configure: bool,
    /// The name cell is a form: its value and the message at the field.
    pub editing: Option<NameEdit>,
    /// Sent with the actions that post straight from the menu.
    pub csrf_token: String,
    /// Delete, retirement and the bin's purge are refused while set.
    pub protected: bool,
    /// In the recycle bin: since when, by whom, until when.
    pub bin: Option<BinView>,
    /// Days until its scheduled retirement (0: due, maybe waiting).
    pub retiring_in: Option<i64>,
    pub retirement_waits: Option<String>,
    /// Servers the company launched from it, and when last.
    pub launches: i64,
    pub last_launched: Option<Moment>,
    /// An image of its chain of parents is retired.
    pub built_on_retired: bool,
    /// My images' bulk checkbox, and whether it is ticked; `None` where the
    /// row has none (Shared with me, or a user with no bulk action).
    pub select: Option<bool>,
}

impl ImageView {
    /// The name cell shows a badge beside the name (protected, retiring, built on a retired image, or a
    /// state other than available): the cell may then wrap, badges below the name, rather than widen
    /// the table past a 1280-pixel screen.
    pub fn marked(&self) -> bool {
        self.protected || self.retiring_in.is_some() || self.built_on_retired || self.retired || self.state != "ACTIVE"
    }
}

/// What the recycle bin's list shows of a deleted image.
pub struct BinView {
    pub deleted: Moment,
    /// Filled in by the bin's list (one query for every row's name).
    pub deleted_by: String,
    deleted_by_id: Option<i64>,
    pub purge: Moment,
    /// Why the purge waits, once its day has come.
    pub waiting: Option<&'static str>,
}

/// The inline rename form of a row.
pub struct NameEdit {
    pub value: String,
    pub error: Option<String>,
    pub csrf_token: String,
}

/// A row of the public catalog.
pub struct PublicView {
    /// The catalog row's id (its launch is `/images/{id}/launch?catalog=public`).
    pub id: i64,
    pub platform: Platform,
    pub name: String,
    pub description: String,
    pub provider_image_id: String,
    pub architecture: String,
    pub owner: String,
    pub created: Moment,
    /// One of the operator's provided images.
    pub provided: bool,
}

/// Actions whose pages exist in this build; the menu offers nothing that
/// leads nowhere.
const AVAILABLE_ACTIONS: &[ImageAction] = &[
    ImageAction::Launch,
    ImageAction::Deprecate,
    ImageAction::Undeprecate,
    ImageAction::Protect,
    ImageAction::Unprotect,
    ImageAction::Delete,
    ImageAction::Sharing,
    ImageAction::Restore,
    ImageAction::Purge,
    ImageAction::Schedule,
];

pub fn image_view(user: &CurrentUser, row: db::images::ImageRow) -> ImageView {
    let facts = facts(&user.account, &row);
    let can_configure = facts.is_some_and(|facts| may_configure(&user.rights, &facts));
    let actions = facts
        .map(|facts| allowed_actions(&user.rights, &facts))
        .unwrap_or_default()
        .into_iter()
        .filter(|a| AVAILABLE_ACTIONS.contains(a))
        .collect();
    let launcher = match (&row.owner_given_name, &row.owner_family_name) {
        (Some(given), Some(family)) => format!("{given} {family}"),
        _ => String::new(),
    };
    // A public image launched here is recorded in this account, but its
    // publisher owns it: Account names the account, Owner the publisher.
    // Own and shared images are owned by the account whose number they
    // carry, and Owner names the person who keeps the record.
    let (account, owner) = if row.source == "public_launched" {
        (user.account.name.clone(), row.owner_alias.clone().unwrap_or_else(|| row.owner_account_number.clone()))
    } else {
        let account = user
            .account_name_for_number(&row.owner_account_number)
            .map_or_else(|| row.owner_account_number.clone(), str::to_owned);
        (account, launcher)
    };
    let bin = match (row.binned_at, row.purge_after) {
        (Some(at), Some(until)) => Some(BinView {
            deleted: Moment::new(at),
            deleted_by: String::new(),
            deleted_by_id: row.binned_by,
            purge: Moment::new(until),
            waiting: (until <= chrono::Utc::now()).then_some(if row.protected {
                "Waits: it is protected"
            } else {
                "Waits: servers launched from it still run, or the provider has not answered yet"
            }),
        }),
        _ => None,
    };
    let retiring_in = row.retire_on.map(|day| (day - chrono::Utc::now().date_naive()).num_days().max(0));
    ImageView {
        select: (row.source != "shared" && may_bulk(user)).then_some(false),
        launches: row.usage.launches,
        last_launched: row.usage.last_launched_at.map(Moment::new),
        built_on_retired: row.usage.built_on_retired,
        retiring_in,
        retirement_waits: row.retirement_waits.clone(),
        protected: row.protected,
        bin,
        id: row.id,
        label: row.label.parse().unwrap_or(Label::None),
        deprecated: row.deprecated_at.is_some(),
        platform: Platform::from_stored(&row.platform),
        provider_image_id: row.provider_image_id,
        architecture: row.architecture,
        account,
        owner,
        group: row.group_name.unwrap_or_default(),
        budget_code: row.budget_code_name.unwrap_or_default(),
        created: Moment::new(row.created_at),
        retired: row.source == "public_launched" && row.state == "DELETED",
        state: row.state,
        name: row.name,
        description: row.description,
        actions,
        version: row.version,
        can_configure,
        editing: None,
        csrf_token: user.csrf_token.clone(),
    }
}

fn public_view(row: db::images::PublicImageRow, provided: bool) -> PublicView {
    PublicView {
        provided,
        id: row.id,
        platform: Platform::from_stored(&row.platform),
        name: row.name,
        description: row.description,
        provider_image_id: row.provider_image_id,
        architecture: row.architecture,
        owner: row.owner_alias.unwrap_or(row.owner_account_number),
        created: Moment::new(row.created_at),
    }
}

/// What the list area shows.
pub enum Listing {
    Records(Vec<ImageView>),
    /// A public search: the provided images that match, then the others.
    Public {
        provided: Vec<PublicView>,
        rows: Vec<PublicView>,
    },
    /// The public catalog before a search or filter is given.
    PublicPrompt,
}

#[derive(Template)]
#[template(path = "images/index.html", blocks = ["list"])]
struct ImagesPage {
    frame: Frame,
    scope: Scope,
    params: ListParams,
    filters: Filters,
    sort: Sort,
    listing: Listing,
    prev_url: Option<String>,
    next_url: Option<String>,
    can_search_public: bool,
    /// Public images can be launched (`IMAGE DefineServerFromPublic` and `SERVER Start`).
    can_launch_public: bool,
    /// My images' bulk actions, for a user who may do one of them.
    bulk: Option<BulkBar>,
}

impl ImagesPage {
    fn tabs(&self) -> Vec<Tab> {
        Scope::ALL
            .iter()
            .filter(|&&scope| scope != Scope::Public || self.can_search_public)
            .map(|&scope| Tab {
                title: scope.title(),
                current: scope == self.scope,
                // A tab starts fresh: filters belong to the tab they were set on.
                url: format!("/images?scope={}", scope.as_str()),
            })
            .collect()
    }

    fn platform_options(&self) -> Vec<SelectOption> {
        options(Platform::ALL, &self.params.platform, Platform::as_str, Platform::title)
    }

    fn arch_options(&self) -> Vec<SelectOption> {
        options(Architecture::ALL, &self.params.arch, Architecture::as_str, Architecture::title)
    }

    fn label_options(&self) -> Vec<SelectOption> {
        options(&Label::ALL, &self.params.label, Label::as_str, Label::title)
    }

    fn lifecycle_options(&self) -> Vec<SelectOption> {
        options(Lifecycle::ALL, &self.params.lifecycle, Lifecycle::as_str, Lifecycle::title)
    }

    fn sort_options(&self) -> Vec<SelectOption> {
        options(Sort::choices(self.scope).0, self.sort.as_str(), Sort::as_str, Sort::title)
    }

    fn clear_url(&self) -> String {
        url_with(&ListParams { scope: self.params.scope.clone(), ..ListParams::default() }, |_| {})
    }

    /// About the bytes of the page: its frame and filters, and its rows.
    fn size_hint(&self) -> usize {
        let rows = match &self.listing {
            Listing::Records(rows) => rows.len(),
            Listing::Public { provided, rows } => provided.len() + rows.len(),
            Listing::PublicPrompt => 0,
        };
        16 * 1024 + rows * 1536
    }

    fn filtered(&self) -> bool {
        !self.filters.is_empty()
    }
}

fn url_with(params: &ListParams, change: impl FnOnce(&mut ListParams)) -> String {
    let mut params = params.clone();
    change(&mut params);
    let query = serde_urlencoded::to_string(&params).expect("query parameters always encode");
    if query.is_empty() { "/images".into() } else { format!("/images?{query}") }
}

fn page_links<T>(
    params: &ListParams,
    page: &Page<T>,
    cursor: impl Fn(&T) -> Cursor,
) -> (Option<String>, Option<String>) {
    let (prev, next) = page.prev_and_next(cursor);
    let prev = prev.map(|token| {
        url_with(params, |p| {
            p.after.clear();
            p.before = token;
        })
    });
    let next = next.map(|token| {
        url_with(params, |p| {
            p.before.clear();
            p.after = token;
        })
    });
    (prev, next)
}

#[get("/images")]
pub async fn index(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let page = images_page(&user, &state, params.into_inner(), BulkForm::default()).await?;
    let capacity = page.size_hint();
    page_or_list(&req, "image-list", || render_sized(&page, capacity), || render_sized(&page.as_list(), capacity))
}

/// The page for the list `params` asks for; `bulk` is the bulk form as sent
/// (empty but for a refused bulk action, whose selection and message it
/// keeps).
async fn images_page(
    user: &CurrentUser,
    state: &AppState,
    params: ListParams,
    bulk: BulkForm,
) -> Result<ImagesPage, WebError> {
    let query = ListQuery::parse(&params)?;
    let can_search_public = user.rights.allows_unowned(Resource::Image, Action::DefineServerFromPublic);
    if query.scope == Scope::Public {
        user.rights.require_on(Resource::Image, Action::DefineServerFromPublic, &Ownership::default())?;
    }

    let (listing, (prev_url, next_url)) = match query.scope {
        Scope::Own | Scope::Shared | Scope::Bin => {
            let tab = match query.scope {
                Scope::Own => RecordTab::Own,
                Scope::Shared => RecordTab::Shared,
                _ => RecordTab::Bin,
            };
            let reach = user.rights.reach(Resource::Image, Action::Access);
            let mut conn = state.lists.get().await?;
            let page = db::images::list_records(
                &mut conn,
                user.account.id,
                &reach,
                tab,
                &query.filters,
                query.sort,
                &query.page,
            )
            .await?;
            let links = page_links(&params, &page, |row| row.cursor(query.sort));
            let mut rows: Vec<ImageView> = page.rows.into_iter().map(|row| image_view(user, row)).collect();
            for row in rows.iter_mut().filter(|r| bulk.ids.contains(&r.id)) {
                row.select = row.select.map(|_| true);
            }
            if tab == RecordTab::Bin {
                name_deleters(&mut conn, &mut rows).await?;
            }
            (Listing::Records(rows), links)
        }
        Scope::Public if query.filters.is_empty() => (Listing::PublicPrompt, (None, None)),
        Scope::Public => {
            let mut conn = state.pool.get().await?;
            let (provided, page) =
                db::images::public_search(&mut conn, &user.account, &query, &state.provided_owners).await?;
            let links = page_links(&params, &page, |row| row.cursor());
            // Older provided images are listed with the others, badged too.
            let view = |row: db::images::PublicImageRow| {
                let provided = state.provided_owners.contains(&row.owner_account_number);
                public_view(row, provided)
            };
            (
                Listing::Public {
                    provided: provided.into_iter().map(view).collect(),
                    rows: page.rows.into_iter().map(view).collect(),
                },
                links,
            )
        }
    };

    let frame = Frame::new(user, PAGE);
    let ListQuery { scope, filters, sort, .. } = query;
    let can_launch_public = can_search_public && user.rights.allows_some(Resource::Server, Action::Start);
    let bulk = (scope == Scope::Own && may_bulk(user)).then(|| BulkBar::new(user, &params, bulk));
    Ok(ImagesPage {
        frame,
        scope,
        params,
        filters,
        sort,
        listing,
        prev_url,
        next_url,
        can_search_public,
        can_launch_public,
        bulk,
    })
}

/// Names who deleted each binned row, in one query.
async fn name_deleters(conn: &mut diesel_async::AsyncPgConnection, rows: &mut [ImageView]) -> diesel::QueryResult<()> {
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.bin.as_ref()?.deleted_by_id).collect();
    let names = db::users::names(conn, &ids).await?;
    for bin in rows.iter_mut().filter_map(|r| r.bin.as_mut()) {
        bin.deleted_by = bin
            .deleted_by_id
            .and_then(|id| names.iter().find(|(n, _)| *n == id).map(|(_, name)| name.clone()))
            .unwrap_or_else(|| "(deleted user)".into());
    }
    Ok(())
}

/// An `<option>` of a filter select.
pub struct SelectOption {
    pub value: &'static str,
    pub title: &'static str,
    pub selected: bool,
}

fn options<T: Copy>(
    all: &[T],
    current: &str,
    value: fn(T) -> &'static str,
    title: fn(T) -> &'static str,
) -> Vec<SelectOption> {
    all.iter()
        .map(|&item| SelectOption { value: value(item), title: title(item), selected: value(item) == current })
        .collect()
}

/// A tab of the page.
pub struct Tab {
    pub title: &'static str,
    pub url: String,
    pub current: bool,
}

/// One row of the list, rendered from the same file the page uses.
#[derive(Template)]
#[template(path = "images/row.html")]
pub struct RowFragment {
    pub row: ImageView,
}

/// The saved row for htmx, with a flash swapped into the flash area.
fn saved_row(row: ImageView, flash: &str) -> Result<HttpResponse, WebError> {
    row_and_flash(StatusCode::OK, row, FlashFragment::done(flash))
}

/// Changed meanwhile (htmx): the row as it now is in place of the stale one,
/// and why. Its label picker and actions menu carry the current version
/// again, so that choosing again can succeed.
fn stale_row(row: ImageView, why: &str) -> Result<HttpResponse, WebError> {
    row_and_flash(StatusCode::CONFLICT, row, FlashFragment::warning(why))
}

/// Changed meanwhile: the row as it now is for htmx (as [`done`] answers a
/// change), else the conflict page that says why.
fn stale(req: &HttpRequest, row: ImageView, why: &str) -> Result<HttpResponse, WebError> {
    if super::is_htmx(req) { stale_row(row, why) } else { Err(WebError::Conflict(why.to_owned())) }
}

fn row_and_flash(status: StatusCode, row: ImageView, flash: FlashFragment) -> Result<HttpResponse, WebError> {
    let row = RowFragment { row }.render()?;
    let oob = flash.render()?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(row + &oob))
}

/// Loads a record of the current account the user may rename and relabel:
/// 404 for another account's id, 403 without `IMAGE Configure` on it.
async fn configurable(user: &CurrentUser, state: &AppState, id: i64) -> Result<ImageView, WebError> {
    let mut conn = state.pool.get().await?;
    let row = db::images::find_record(&mut conn, user.account.id, id).await?;
    authorize_configure(&user.actor(), &row)?;
    Ok(image_view(user, row))
}

/// The record `id` of the current account and its row as shown; 404 for
/// another account's id, and the change's own refusal when the user may not
/// do `action` to it (asked of the same rule).
async fn target(
    user: &CurrentUser,
    state: &AppState,
    id: i64,
    action: ImageAction,
) -> Result<(ImageRow, ImageView), WebError> {
    let mut conn = state.pool.get().await?;
    let row = db::images::find_record(&mut conn, user.account.id, id).await?;
    authorize(&user.actor(), &row, action)?;
    Ok((row.clone(), image_view(user, row)))
}

/// The record `id` as it now is, as a row (after a refused or stale change).
async fn current(user: &CurrentUser, state: &AppState, id: i64) -> Result<ImageView, WebError> {
    let mut conn = state.pool.get().await?;
    let row = db::images::find_record(&mut conn, user.account.id, id).await?;
    Ok(image_view(user, seen(&user.rights, row).ok_or(WebError::NotFound)?))
}

/// The page an image's action was started from: My images, or the image's
/// own page, whose actions carry `?from=image`. Cancel and the answer lead
/// back there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Origin {
    #[default]
    List,
    Image,
}

impl Origin {
    /// The origin the request's query names (My images when it names none).
    fn of(req: &HttpRequest) -> Self {
        #[derive(serde::Deserialize)]
        struct From {
            from: Origin,
        }
        web::Query::<From>::from_query(req.query_string()).map(|q| q.from).unwrap_or_default()
    }

    /// The page to go back to, for record `id`.
    fn page(self, id: i64) -> String {
        match self {
            Origin::List => PAGE.to_owned(),
            Origin::Image => format!("{PAGE}/{id}"),
        }
    }

    /// What an action's address carries to keep its origin.
    fn query(self) -> &'static str {
        match self {
            Origin::List => "",
            Origin::Image => "?from=image",
        }
    }
}

/// Done: the row as it now is (none when it is gone) and a flash; the dialog
/// closes. Without htmx, back with the flash to the page the action was
/// started from (My images when the record is gone).
fn done(req: &HttpRequest, row: Option<ImageView>, message: &str) -> Result<HttpResponse, WebError> {
    let back = match &row {
        Some(row) => Origin::of(req).page(row.id),
        None => PAGE.to_owned(),
    };
    let row = match row {
        Some(row) if super::is_htmx(req) => RowFragment { row }.render()?,
        _ => String::new(),
    };
    super::dialog::done(req, row, message, &back)
}

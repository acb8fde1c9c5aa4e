//! Machine image queries: one query per tab of the Machine Images page, with
//! search, filters, sort and keyset pagination all in SQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::fixed_sql::{Fixed, fixed};
use super::keyset::limited;
use super::lower;
use super::schema::{accounts, budget_codes, groups, image_records, provider_images, public_images, users};
use crate::domain::access::Reach;
use crate::domain::images::{Lifecycle, Sort};
use crate::domain::page::{Cursor, PAGE_SIZE, Page, PageRequest};

pub use crate::domain::images::Filters;

diesel::define_sql_function!(
    /// The first of the two that is not NULL.
    fn coalesce(x: diesel::sql_types::Nullable<diesel::sql_types::Text>, y: diesel::sql_types::Text) -> diesel::sql_types::Text
);

/// Narrows the boxed `$query` to the platform and architecture `$filters`
/// ask for, by the columns of `$table` (`provider_images` for records,
/// `public_images` for the catalog): one text of the rule for every tab.
macro_rules! platform_and_arch {
    ($query:ident, $table:ident, $filters:expr) => {
        if let Some(platform) = $filters.platform {
            $query = $query.filter($table::platform.eq(platform.as_str()));
        }
        if let Some(arch) = $filters.arch {
            $query = $query.filter($table::architecture.eq(arch.as_str()));
        }
    };
}

/// The account's record `id`, if it is still at `version`: what a change
/// made from a form that showed `version` may write.
#[diesel::dsl::auto_type(no_type_alias)]
fn record_at_version(account_id: i64, id: i64, version: i32) -> _ {
    image_records::table
        .filter(image_records::account_id.eq(account_id))
        .filter(image_records::id.eq(id))
        .filter(image_records::version.eq(version))
}

/// Which of an account's image records a tab shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordTab {
    /// Own images and public images launched in this account.
    Own,
    /// Images other accounts shared with this one.
    Shared,
    /// Own images deleted and waiting in the account's recycle bin.
    Bin,
}

/// A row of the My images / Shared with me tabs.
#[derive(Debug, Clone, Queryable)]
pub struct ImageRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub label: String,
    pub deprecated_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub owner_user_id: Option<i64>,
    pub owner_group_id: Option<i64>,
    pub budget_code_id: Option<i64>,
    /// Empty while the provider is making the image (see [`pending_image`]).
    pub provider_image_id: String,
    pub platform: String,
    pub architecture: String,
    pub state: String,
    pub owner_account_number: String,
    /// The provider's name for the owner, for a public image ("amazon").
    pub owner_alias: Option<String>,
    pub owner_given_name: Option<String>,
    pub owner_family_name: Option<String>,
    pub group_name: Option<String>,
    pub budget_code_name: Option<String>,
    /// The provider image's own row (`provider_images.id`).
    pub image_pk: i64,
    /// The provider has the image: false for one made from a server until
    /// the provider answers, and for one whose making failed.
    pub at_provider: bool,
    /// Delete, retirement and the bin's purge are refused while it is set.
    pub protected: bool,
    /// In the recycle bin since, by whom, and until when.
    pub binned_at: Option<DateTime<Utc>>,
    pub binned_by: Option<i64>,
    pub purge_after: Option<DateTime<Utc>>,
    /// Its schedule: deprecated, then retired, on these days (00:00 UTC).
    pub deprecate_on: Option<chrono::NaiveDate>,
    pub retire_on: Option<chrono::NaiveDate>,
    /// Why a retirement that is due waits.
    pub retirement_waits: Option<String>,
    /// Retired by its schedule at (it is disabled at the provider).
    pub retired_at: Option<DateTime<Utc>>,
    pub usage: Usage,
}

/// The company's use of a record's image, and what it was built on.
#[derive(Debug, Clone, Queryable)]
pub struct Usage {
    /// Servers the record's company launched from the image, and when last.
    pub launches: i64,
    pub last_launched_at: Option<DateTime<Utc>>,
    /// An image of its chain of parents is retired (see the SQL function).
    pub built_on_retired: bool,
}

impl ImageRow {
    pub fn cursor(&self, sort: Sort) -> Cursor {
        match sort {
            Sort::Name | Sort::NameDesc => Cursor::by_name(self.id, self.name.clone()),
            Sort::Newest | Sort::Oldest => Cursor::by_time(self.id, self.created_at),
            Sort::RecentlyLaunched | Sort::LongestUnlaunched => {
                Cursor::by_time(self.id, self.usage.last_launched_at.unwrap_or(DateTime::UNIX_EPOCH))
            }
            Sort::MostLaunched | Sort::FewestLaunched => Cursor::by_count(self.id, self.usage.launches),
        }
    }
}

/// A row of the public catalog.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = public_images)]
pub struct PublicImageRow {
    pub id: i64,
    pub provider_image_id: String,
    pub name: String,
    pub description: String,
    pub platform: String,
    pub architecture: String,
    pub owner_account_number: String,
    pub owner_alias: Option<String>,
    pub deprecated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl PublicImageRow {
    pub fn cursor(&self) -> Cursor {
        Cursor::by_time(self.id, self.created_at)
    }
}

/// Whether the query walks the sort order forward (`true`) and ascending.
fn direction(sort: Sort, page: &PageRequest) -> bool {
    let forward = !matches!(page, PageRequest::Before(_));
    forward != sort.descending()
}

fn cursor_of(page: &PageRequest) -> Option<&Cursor> {
    match page {
        PageRequest::First => None,
        PageRequest::After(c) | PageRequest::Before(c) => Some(c),
    }
}

/// Filters `$query` to the rows after `$cursor` in the query's direction (a
/// row comparison the index answers) and orders it that way.
macro_rules! keyset {
    ($query:expr, $key:expr, $id:expr, $key_type:ty, $cursor:expr, $ascending:expr) => {
        keyset!($query, $key, $id, $key_type, $cursor, $ascending, |key| key)
    };
    // `$bind` makes the cursor's value into the key as the database computes
    // it (a name is lowercased by PostgreSQL, never by Rust, whose
    // lowercase differs: "İ").
    ($query:expr, $key:expr, $id:expr, $key_type:ty, $cursor:expr, $ascending:expr, $bind:expr) => {{
        let mut query = $query;
        if let Some((key, id)) = $cursor {
            query = query.filter(super::keyset::beyond(
                $key,
                $id,
                ($bind)(diesel::IntoSql::into_sql::<$key_type>(key)),
                diesel::IntoSql::into_sql::<diesel::sql_types::BigInt>(id),
                $ascending,
            ));
        }
        if $ascending { query.order_by(($key.asc(), $id.asc())) } else { query.order_by(($key.desc(), $id.desc())) }
    }};
}

/// `FROM … WHERE` of the servers that the company of an image record's
/// account launched from the record's image (`servers_by_image` answers it).
macro_rules! company_launches {
    () => {
        "FROM servers s JOIN accounts a ON a.id = s.account_id
         WHERE s.provider_image_id = image_records.provider_image_id
           AND a.company_id = (SELECT c.company_id FROM accounts c WHERE c.id = image_records.account_id)"
    };
}

/// How many servers the record's company launched from its image.
fn launches() -> Fixed<diesel::sql_types::BigInt> {
    fixed(concat!("(SELECT count(*) ", company_launches!(), ")"))
}

/// When the record's company last launched a server from its image.
fn last_launched() -> Fixed<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>> {
    fixed(concat!("(SELECT max(s.launched_at) ", company_launches!(), ")"))
}

/// [`last_launched`] as a sort key: never launched sorts as the epoch.
fn last_launched_key() -> Fixed<diesel::sql_types::Timestamptz> {
    fixed(concat!("COALESCE((SELECT max(s.launched_at) ", company_launches!(), "), 'epoch')"))
}

/// Unused for 90 days: older than that, not launched since, and no server
/// launched from it still runs.
fn unused_90_days() -> Fixed<diesel::sql_types::Bool> {
    fixed(concat!(
        "(image_records.created_at < now() - interval '90 days' AND NOT EXISTS (SELECT ",
        company_launches!(),
        " AND (s.launched_at >= now() - interval '90 days' OR s.state NOT IN ('TERMINATED', 'ERROR'))))"
    ))
}

/// Whether an image of the chain is retired; asked only of images that
/// have a parent.
fn built_on_retired() -> Fixed<diesel::sql_types::Bool> {
    fixed("(provider_images.parent_id IS NOT NULL AND built_on_retired(provider_images.id))")
}

/// Image records joined with what a row shows: the provider image, owner,
/// group and budget code, and the company's use of the image. One
/// definition for the list and for single rows.
macro_rules! record_rows {
    () => {
        image_records::table
            .inner_join(provider_images::table)
            .left_join(users::table)
            .left_join(groups::table)
            .left_join(budget_codes::table)
            .select((
                image_records::id,
                image_records::name,
                image_records::description,
                image_records::label,
                image_records::deprecated_at,
                image_records::version,
                image_records::source,
                image_records::created_at,
                image_records::owner_user_id,
                image_records::owner_group_id,
                image_records::budget_code_id,
                coalesce(provider_images::provider_image_id, ""),
                provider_images::platform,
                provider_images::architecture,
                provider_images::state,
                provider_images::owner_account_number,
                provider_images::owner_alias,
                users::given_name.nullable(),
                users::family_name.nullable(),
                groups::name.nullable(),
                budget_codes::name.nullable(),
                provider_images::id,
                provider_images::provider_image_id.is_not_null(),
                provider_images::protected,
                provider_images::binned_at,
                provider_images::binned_by,
                provider_images::purge_after,
                provider_images::deprecate_on,
                provider_images::retire_on,
                provider_images::retirement_waits,
                provider_images::retired_at,
                (launches(), last_launched(), built_on_retired()),
            ))
    };
}

/// One page of an account's image records, on a connection that plans it
/// once for any values (see [`super::ListPool`]).
pub async fn list_records(
    conn: &mut super::ListConnection,
    account_id: i64,
    reach: &Reach,
    tab: RecordTab,
    filters: &Filters,
    sort: Sort,
    page: &PageRequest,
) -> QueryResult<Page<ImageRow>> {
    let mut query = record_rows!()
        .filter(image_records::account_id.eq(account_id))
        .filter(image_records::shared.eq(tab == RecordTab::Shared))
        .into_boxed();
    query = within_reach!(query, image_records, reach);
    query = if tab == RecordTab::Bin {
        query.filter(provider_images::binned_at.is_not_null()).filter(image_records::source.eq("own"))
    } else {
        query.filter(provider_images::binned_at.is_null())
    };
    if let Some(search) = &filters.search {
        let pattern = lower(search.like_pattern());
        query = query.filter(
            lower(image_records::name)
                .like(pattern.clone())
                .or(lower(image_records::description).like(pattern.clone()))
                .or(lower(coalesce(provider_images::provider_image_id, "")).like(pattern)),
        );
    }
    platform_and_arch!(query, provider_images, filters);
    if let Some(label) = filters.label {
        query = query.filter(image_records::label.eq(label.as_str()));
    }
    query = match filters.lifecycle {
        None => query,
        Some(Lifecycle::Retiring) => query.filter(provider_images::retire_on.is_not_null()),
        Some(Lifecycle::RetiredRoot) => query.filter(built_on_retired()),
        Some(Lifecycle::Protected) => query.filter(provider_images::protected),
        Some(Lifecycle::Unused90d) => query.filter(unused_90_days()),
    };
    let ascending = direction(sort, page);
    let cursor = cursor_of(page);
    let name = || cursor.map(|c| (c.name.clone().unwrap_or_default(), c.id));
    let at = || cursor.map(|c| (c.at.unwrap_or_default(), c.id));
    let count = || cursor.map(|c| (c.count.unwrap_or_default(), c.id));
    use diesel::sql_types::{BigInt, Text, Timestamptz};
    let query = match sort {
        Sort::Name | Sort::NameDesc => {
            keyset!(query, lower(image_records::name), image_records::id, Text, name(), ascending, lower)
        }
        Sort::Newest | Sort::Oldest => {
            keyset!(query, image_records::created_at, image_records::id, Timestamptz, at(), ascending)
        }
        Sort::RecentlyLaunched | Sort::LongestUnlaunched => {
            keyset!(query, last_launched_key(), image_records::id, Timestamptz, at(), ascending)
        }
        Sort::MostLaunched | Sort::FewestLaunched => {
            keyset!(query, launches(), image_records::id, BigInt, count(), ascending)
        }
    };
    let rows = limited(query, PAGE_SIZE + 1).load(&mut **conn).await?;
    Ok(Page::from_fetched(rows, page))
}

/// One page of the provider's public catalog for a region. Deprecated public
/// images drop out of other accounts' searches.
///
/// The catalog is ordered by creation time only. Its names cluster by
/// publisher ("ubuntu/…", "Windows_Server-…"), so a name order would make
/// PostgreSQL walk most of a million-row index to find the first page of a
/// common word; in time order matches are spread evenly, and the planner
/// switches to the trigram index for rare terms (see `make bench`).
#[expect(clippy::too_many_arguments, reason = "the account's place, the query, and the owners listed apart")]
pub async fn search_public(
    conn: &mut AsyncPgConnection,
    provider: &str,
    region: &str,
    own_account_number: &str,
    filters: &Filters,
    sort: Sort,
    page: &PageRequest,
    except: &Provided<'_>,
) -> QueryResult<Page<PublicImageRow>> {
    let mut query = public_images::table
        .filter(public_images::provider.eq(provider))
        .filter(public_images::region.eq(region))
        .filter(public_images::state.eq("ACTIVE"))
        // Deprecated by its owner, at the provider or in the console: hidden
        // from everyone but the owner.
        .filter(
            public_images::deprecated_at
                .is_null()
                .and(diesel::dsl::not(public_images::deprecated_in_console))
                .or(public_images::owner_account_number.eq(own_account_number)),
        )
        .select(PublicImageRow::as_select())
        .into_boxed();
    if !except.owners.is_empty() {
        let others = public_images::owner_account_number.ne_all(except.owners);
        query = match except.shown_down_to {
            None => query.filter(others),
            // Those past the section's last are listed with the others.
            Some((at, id)) => query.filter(others.or(
                public_images::created_at.lt(at).or(public_images::created_at.eq(at).and(public_images::id.lt(id))),
            )),
        };
    }
    if let Some(search) = &filters.search {
        query = query.filter(public_images::search_text.like(lower(search.like_pattern())));
    }
    platform_and_arch!(query, public_images, filters);
    let ascending = direction(sort, page);
    let cursor = cursor_of(page).map(|c| (c.at.unwrap_or_default(), c.id));
    let query =
        keyset!(query, public_images::created_at, public_images::id, diesel::sql_types::Timestamptz, cursor, ascending);
    let rows = limited(query, PAGE_SIZE + 1).load(conn).await?;
    Ok(Page::from_fetched(rows, page))
}

/// One record of the account; `NotFound` for another account's id, and for
/// an image in the recycle bin (nothing but a restore or a purge reaches it:
/// [`find_listed`]).
pub async fn find_record(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> QueryResult<ImageRow> {
    record_rows!()
        .filter(image_records::account_id.eq(account_id))
        .filter(image_records::id.eq(id))
        .filter(provider_images::binned_at.is_null())
        .first(conn)
        .await
}

/// The account's records of these ids, by name; an id of another account,
/// or of an image in the recycle bin, is left out.
pub async fn find_records(conn: &mut AsyncPgConnection, account_id: i64, ids: &[i64]) -> QueryResult<Vec<ImageRow>> {
    record_rows!()
        .filter(image_records::account_id.eq(account_id))
        .filter(image_records::id.eq_any(ids))
        .filter(provider_images::binned_at.is_null())
        .order((image_records::name.asc(), image_records::id.asc()))
        .load(conn)
        .await
}

/// One record the account lists, in My images or (its own) in its recycle
/// bin: what a restore or a purge reads, so that one sent twice is told the
/// image is no longer in the bin, and what the API reads by id.
pub async fn find_listed(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> QueryResult<ImageRow> {
    record_rows!()
        .filter(image_records::account_id.eq(account_id))
        .filter(image_records::id.eq(id))
        .filter(provider_images::binned_at.is_null().or(image_records::source.eq("own")))
        .first(conn)
        .await
}

/// One own record of the account whose image is in the recycle bin.
pub async fn find_binned(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> QueryResult<ImageRow> {
    record_rows!()
        .filter(image_records::account_id.eq(account_id))
        .filter(image_records::id.eq(id))
        .filter(image_records::source.eq("own"))
        .filter(provider_images::binned_at.is_not_null())
        .first(conn)
        .await
}

/// Sets image `image_pk`'s schedule; a retirement that waited starts over.
pub async fn set_schedule(
    conn: &mut AsyncPgConnection,
    image_pk: i64,
    deprecate_on: Option<chrono::NaiveDate>,
    retire_on: Option<chrono::NaiveDate>,
) -> QueryResult<()> {
    diesel::update(provider_images::table.find(image_pk))
        .set((
            provider_images::deprecate_on.eq(deprecate_on),
            provider_images::retire_on.eq(retire_on),
            provider_images::retirement_waits.eq(None::<String>),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The account's own records, out of the bin, with a deprecation or a
/// retirement due on `today` or before.
pub async fn scheduled_due(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    today: chrono::NaiveDate,
) -> QueryResult<Vec<ImageRow>> {
    record_rows!()
        .filter(image_records::account_id.eq(account_id))
        .filter(image_records::source.eq("own"))
        .filter(provider_images::binned_at.is_null())
        .filter(provider_images::deprecate_on.le(today).or(provider_images::retire_on.le(today)))
        .order(image_records::id)
        .load(conn)
        .await
}

/// The scheduled deprecation of image `image_pk` is done: record `id` is
/// deprecated as of `at` (if it was not) and the date is cleared.
pub async fn deprecated_on_schedule(
    conn: &mut AsyncPgConnection,
    id: i64,
    image_pk: i64,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    let changed = diesel::update(image_records::table.find(id).filter(image_records::deprecated_at.is_null()))
        .set((image_records::deprecated_at.eq(at), image_records::version.eq(image_records::version + 1)))
        .execute(conn)
        .await?;
    diesel::update(provider_images::table.find(image_pk))
        .set(provider_images::deprecate_on.eq(None::<chrono::NaiveDate>))
        .execute(conn)
        .await?;
    Ok(changed == 1)
}

/// Why the due retirement of image `image_pk` waits.
pub async fn retirement_waits(conn: &mut AsyncPgConnection, image_pk: i64, why: &str) -> QueryResult<()> {
    diesel::update(provider_images::table.find(image_pk))
        .set(provider_images::retirement_waits.eq(why))
        .execute(conn)
        .await
        .map(drop)
}

/// Image `image_pk` is retired at `at`: its schedule is done.
pub async fn retired(conn: &mut AsyncPgConnection, image_pk: i64, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(provider_images::table.find(image_pk))
        .set((
            provider_images::retired_at.eq(at),
            provider_images::deprecate_on.eq(None::<chrono::NaiveDate>),
            provider_images::retire_on.eq(None::<chrono::NaiveDate>),
            provider_images::retirement_waits.eq(None::<String>),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Moves image `image_pk` to the recycle bin at `at`, by `user`, until
/// `purge_after`, and takes it out of the public catalog meanwhile.
pub async fn bin_image(
    conn: &mut AsyncPgConnection,
    image_pk: i64,
    user: Option<i64>,
    at: DateTime<Utc>,
    purge_after: DateTime<Utc>,
) -> QueryResult<()> {
    let image: (String, String, Option<String>) = diesel::update(provider_images::table.find(image_pk))
        .set((
            provider_images::binned_at.eq(at),
            provider_images::binned_by.eq(user),
            provider_images::purge_after.eq(purge_after),
        ))
        .returning((provider_images::provider, provider_images::region, provider_images::provider_image_id))
        .get_result(conn)
        .await?;
    leave_catalog(conn, &image).await
}

/// Takes image `image_pk` out of the recycle bin. A public one rejoins the
/// catalog with the next catalog sync.
pub async fn restore_image(conn: &mut AsyncPgConnection, image_pk: i64) -> QueryResult<()> {
    diesel::update(provider_images::table.find(image_pk))
        .set((
            provider_images::binned_at.eq(None::<DateTime<Utc>>),
            provider_images::binned_by.eq(None::<i64>),
            provider_images::purge_after.eq(None::<DateTime<Utc>>),
            provider_images::retired_at.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Sets or clears the protection of image `image_pk`.
pub async fn set_protected(conn: &mut AsyncPgConnection, image_pk: i64, protected: bool) -> QueryResult<()> {
    diesel::update(provider_images::table.find(image_pk))
        .set(provider_images::protected.eq(protected))
        .execute(conn)
        .await
        .map(drop)
}

/// The account's own records whose bin retention has ended by `now`, the
/// longest waiting first.
pub async fn due_for_purge(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Vec<ImageRow>> {
    record_rows!()
        .filter(image_records::account_id.eq(account_id))
        .filter(image_records::source.eq("own"))
        .filter(provider_images::purge_after.le(now))
        .order((provider_images::purge_after.asc(), image_records::id.asc()))
        .load(conn)
        .await
}

/// Live servers launched from the record: from any record of an own image
/// (whichever account of `company`, the record's, launched them), else from
/// this record. Another company's servers are not counted: it neither sees
/// them nor can terminate them.
pub async fn alive_servers(conn: &mut AsyncPgConnection, company: i64, row: &ImageRow) -> QueryResult<i64> {
    Ok(alive_servers_of(conn, company, std::slice::from_ref(row)).await?.into_iter().next().unwrap_or(0))
}

/// [`alive_servers`] of each of `rows`, in their order, in one statement.
pub async fn alive_servers_of(conn: &mut AsyncPgConnection, company: i64, rows: &[ImageRow]) -> QueryResult<Vec<i64>> {
    use super::schema::{accounts, servers};
    use std::collections::HashMap;
    let images: Vec<i64> = rows.iter().filter(|row| row.source == "own").map(|row| row.image_pk).collect();
    let records: Vec<i64> = rows.iter().filter(|row| row.source != "own").map(|row| row.id).collect();
    let counts: Vec<(i64, Option<i64>, i64)> = servers::table
        .filter(servers::state.eq_any(super::servers::alive()))
        .filter(servers::provider_image_id.eq_any(&images).or(servers::image_record_id.eq_any(&records)))
        .filter(
            servers::account_id.eq_any(accounts::table.filter(accounts::company_id.eq(company)).select(accounts::id)),
        )
        .group_by((servers::provider_image_id, servers::image_record_id))
        .select((servers::provider_image_id, servers::image_record_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    let mut by_image: HashMap<i64, i64> = HashMap::new();
    let mut by_record: HashMap<i64, i64> = HashMap::new();
    for (image, record, n) in counts {
        *by_image.entry(image).or_default() += n;
        if let Some(record) = record {
            *by_record.entry(record).or_default() += n;
        }
    }
    let alive = |row: &ImageRow| {
        let count = if row.source == "own" { by_image.get(&row.image_pk) } else { by_record.get(&row.id) };
        count.copied().unwrap_or(0)
    };
    Ok(rows.iter().map(alive).collect())
}

/// Changes a record's name and label if it is still at `version`; false when
/// someone else changed it first.
pub async fn update_record(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    id: i64,
    version: i32,
    name: &str,
    label: &str,
) -> QueryResult<bool> {
    let updated = diesel::update(record_at_version(account_id, id, version))
        .set((
            image_records::name.eq(name),
            image_records::label.eq(label),
            image_records::version.eq(image_records::version + 1),
        ))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// Sets or clears a record's deprecation if it is still at `version`; false
/// when someone else changed it first.
pub async fn set_deprecated(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    id: i64,
    version: i32,
    at: Option<DateTime<Utc>>,
) -> QueryResult<bool> {
    let updated = diesel::update(record_at_version(account_id, id, version))
        .set((image_records::deprecated_at.eq(at), image_records::version.eq(image_records::version + 1)))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// Raises a record's version if it is still at `version` (a change written
/// elsewhere, on its image); false when someone else changed it first.
pub async fn bump_version(conn: &mut AsyncPgConnection, account_id: i64, id: i64, version: i32) -> QueryResult<bool> {
    let updated = diesel::update(record_at_version(account_id, id, version))
        .set(image_records::version.eq(image_records::version + 1))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// How many days the company's deleted images wait in the recycle bin.
pub async fn retention_days(conn: &mut AsyncPgConnection, company_id: i64) -> QueryResult<i32> {
    use super::schema::companies;
    companies::table.find(company_id).select(companies::image_retention_days).first(conn).await
}

/// Sets how many days the company's deleted images wait in the bin; the
/// days it had.
pub async fn set_retention_days(conn: &mut AsyncPgConnection, company_id: i64, days: i32) -> QueryResult<i32> {
    use super::schema::companies;
    let before = retention_days(conn, company_id).await?;
    diesel::update(companies::table.find(company_id))
        .set(companies::image_retention_days.eq(days))
        .execute(conn)
        .await?;
    Ok(before)
}

/// Removes a record from its account if it is still at `version`; false when
/// someone else changed it first.
pub async fn delete_record(conn: &mut AsyncPgConnection, account_id: i64, id: i64, version: i32) -> QueryResult<bool> {
    let deleted = diesel::delete(record_at_version(account_id, id, version)).execute(conn).await?;
    Ok(deleted == 1)
}

/// An image Make Image asks the provider to make, and its record.
pub struct PendingImage<'a> {
    pub account_id: i64,
    /// The server it is made from: its image gives the platform and architecture.
    pub server_id: i64,
    pub name: &'a str,
    pub description: &'a str,
    pub owner_user_id: i64,
    pub owner_group_id: Option<i64>,
    pub budget_code_id: i64,
}

/// Whether a record of `account` other than `except` holds the provider's
/// image `provider_image_id`.
pub async fn recorded_elsewhere(
    conn: &mut AsyncPgConnection,
    account: i64,
    provider_image_id: &str,
    except: Option<i64>,
) -> QueryResult<bool> {
    let mut held = image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::account_id.eq(account))
        .filter(provider_images::provider_image_id.eq(provider_image_id))
        .select(image_records::id)
        .into_boxed();
    if let Some(except) = except {
        held = held.filter(image_records::id.ne(except));
    }
    diesel::select(diesel::dsl::exists(held)).get_result(conn).await
}

/// Holds, until the transaction ends, the right to name a new image in the
/// provider account and region of `account`, so two images made at once
/// under one name cannot both pass [`own_image_named`]. A unique index
/// cannot do it: the rows mirror the provider's images, whose states a sync
/// learns late. The lock is a transaction-scoped advisory lock keyed by the
/// provider account, so it serializes only the makers of images, across
/// every console account connected to that provider account.
pub async fn lock_own_image_names(conn: &mut AsyncPgConnection, account: &super::accounts::Account) -> QueryResult<()> {
    use diesel::sql_types::Text;
    let key = format!("image names {} {} {}", account.provider, account.region, account.provider_account_number);
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(key)
        .execute(conn)
        .await
        .map(drop)
}

/// Whether the provider account of `account` already has, in its region,
/// an image named `name` that is not deleted or failed: EC2 refuses a
/// second image of the same name in an account and region.
pub async fn own_image_named(
    conn: &mut AsyncPgConnection,
    account: &super::accounts::Account,
    name: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        provider_images::table
            .filter(provider_images::provider.eq(&account.provider))
            .filter(provider_images::region.eq(&account.region))
            .filter(provider_images::owner_account_number.eq(&account.provider_account_number))
            .filter(provider_images::name.eq(name))
            .filter(provider_images::state.ne_all(["DELETED", "FAILED"])),
    ))
    .get_result(conn)
    .await
}

/// Writes the image being made from a server, PENDING and without a
/// provider id (the `create_image` job fills it in), its parent (the
/// server's image) and its own record in the account, so My images lists it
/// at once. Returns the record's id.
pub async fn pending_image(conn: &mut AsyncPgConnection, image: &PendingImage<'_>) -> QueryResult<i64> {
    use super::schema::{accounts, servers};
    let (provider, region, number, platform, architecture, parent): (String, String, String, String, String, i64) =
        servers::table
            .inner_join(provider_images::table)
            .inner_join(accounts::table)
            .filter(servers::id.eq(image.server_id))
            .filter(servers::account_id.eq(image.account_id))
            .select((
                accounts::provider,
                accounts::region,
                accounts::provider_account_number,
                provider_images::platform,
                provider_images::architecture,
                provider_images::id,
            ))
            .first(conn)
            .await?;
    let now = Utc::now();
    let pk: i64 = diesel::insert_into(provider_images::table)
        .values((
            provider_images::provider.eq(&provider),
            provider_images::region.eq(&region),
            provider_images::platform.eq(&platform),
            provider_images::architecture.eq(&architecture),
            provider_images::state.eq("PENDING"),
            provider_images::owner_account_number.eq(&number),
            provider_images::created_at.eq(now),
            // Its lineage: made from the image the server was launched from.
            provider_images::parent_id.eq(parent),
            provider_images::name.eq(image.name),
        ))
        .returning(provider_images::id)
        .get_result(conn)
        .await?;
    diesel::insert_into(image_records::table)
        .values((
            image_records::account_id.eq(image.account_id),
            image_records::provider_image_id.eq(pk),
            image_records::name.eq(image.name),
            image_records::description.eq(image.description),
            image_records::owner_user_id.eq(image.owner_user_id),
            image_records::owner_group_id.eq(image.owner_group_id),
            image_records::budget_code_id.eq(image.budget_code_id),
            image_records::source.eq("own"),
            image_records::created_at.eq(now),
        ))
        .returning(image_records::id)
        .get_result(conn)
        .await
}

/// Removes an image the provider never made (its making failed), once its
/// one record is gone ([`delete_record`]): nothing to deregister.
pub async fn delete_unmade(conn: &mut AsyncPgConnection, image_pk: i64) -> QueryResult<()> {
    diesel::delete(provider_images::table.find(image_pk).filter(provider_images::provider_image_id.is_null()))
        .execute(conn)
        .await
        .map(drop)
}

/// Locks the provider image's row for the rest of the transaction. A
/// delete takes it before the records, as the own-images sync does
/// (`db::sync::own_images`), so the two wait for each other in one order.
pub async fn lock_image(conn: &mut AsyncPgConnection, image_pk: i64) -> QueryResult<()> {
    provider_images::table
        .find(image_pk)
        .select(provider_images::id)
        .for_update()
        .get_result::<i64>(conn)
        .await
        .map(drop)
}

/// Locks, in their id order, the provider images of the account's records
/// `records`: what a bulk action takes before it changes any, so that two
/// bulk actions over the same images (kept by two accounts, each numbering
/// its records its own way) wait for one another instead of deadlocking.
pub async fn lock_images_of(conn: &mut AsyncPgConnection, account: i64, records: &[i64]) -> QueryResult<()> {
    let images = image_records::table
        .filter(image_records::account_id.eq(account))
        .filter(image_records::id.eq_any(records))
        .select(image_records::provider_image_id);
    provider_images::table
        .filter(provider_images::id.eq_any(images))
        .order(provider_images::id)
        .select(provider_images::id)
        .for_update()
        .load::<i64>(conn)
        .await
        .map(drop)
}

/// Holds the provider image's row against changes for the rest of the
/// transaction, as a launch does while it writes its servers: a delete,
/// which locks it ([`lock_image`]) before counting them, waits.
pub async fn hold_image(conn: &mut AsyncPgConnection, image_pk: i64) -> QueryResult<()> {
    provider_images::table
        .find(image_pk)
        .select(provider_images::id)
        .for_share()
        .get_result::<i64>(conn)
        .await
        .map(drop)
}

/// The image is gone (deregistration queued): every account's record of it
/// goes, and it leaves the public catalog. Returns the `(account, record)`
/// pairs removed, for their audit events.
pub async fn retire_image(conn: &mut AsyncPgConnection, image_pk: i64) -> QueryResult<Vec<(i64, i64)>> {
    let image: (String, String, Option<String>) = diesel::update(provider_images::table.find(image_pk))
        .set((provider_images::state.eq("DELETED"), provider_images::is_public.eq(false)))
        .returning((provider_images::provider, provider_images::region, provider_images::provider_image_id))
        .get_result(conn)
        .await?;
    leave_catalog(conn, &image).await?;
    diesel::delete(image_records::table.filter(image_records::provider_image_id.eq(image_pk)))
        .returning((image_records::account_id, image_records::id))
        .get_results(conn)
        .await
}

/// The accounts an image is shared with: `(account, record)`.
pub async fn shares(conn: &mut AsyncPgConnection, image_pk: i64) -> QueryResult<Vec<(i64, i64)>> {
    image_records::table
        .filter(image_records::provider_image_id.eq(image_pk))
        .filter(image_records::source.eq("shared"))
        .select((image_records::account_id, image_records::id))
        .order(image_records::account_id)
        .load(conn)
        .await
}

/// The provider account numbers `image_pk` is shared with, one statement
/// for every share (what a launch permission names).
pub async fn shared_account_numbers(conn: &mut AsyncPgConnection, image_pk: i64) -> QueryResult<Vec<String>> {
    image_records::table
        .inner_join(accounts::table)
        .filter(image_records::provider_image_id.eq(image_pk))
        .filter(image_records::source.eq("shared"))
        .select(accounts::provider_account_number)
        .order(image_records::account_id)
        .load(conn)
        .await
}

/// Gives another account a record of a shared image, named as the owner
/// names it; returns the record's id. A record the account has from
/// launching the image from the public catalog becomes the share (it keeps
/// its name and label there). `None` when the account has the image as its
/// own: it is the owner's provider account.
pub async fn add_share(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    image_pk: i64,
    name: &str,
    description: &str,
) -> QueryResult<Option<i64>> {
    let held: Option<(i64, String)> = image_records::table
        .filter(image_records::account_id.eq(account_id))
        .filter(image_records::provider_image_id.eq(image_pk))
        .select((image_records::id, image_records::source))
        .for_update()
        .first(conn)
        .await
        .optional()?;
    match held {
        Some((id, source)) if source == "public_launched" => {
            diesel::update(image_records::table.find(id)).set(image_records::source.eq("shared")).execute(conn).await?;
            Ok(Some(id))
        }
        Some(_) => Ok(None),
        None => diesel::insert_into(image_records::table)
            .values((
                image_records::account_id.eq(account_id),
                image_records::provider_image_id.eq(image_pk),
                image_records::name.eq(name),
                image_records::description.eq(description),
                image_records::source.eq("shared"),
            ))
            .returning(image_records::id)
            .get_result(conn)
            .await
            .map(Some),
    }
}

/// Removes a shared record from an account; returns its id if there was one.
pub async fn remove_share(conn: &mut AsyncPgConnection, account_id: i64, image_pk: i64) -> QueryResult<Option<i64>> {
    diesel::delete(
        image_records::table
            .filter(image_records::account_id.eq(account_id))
            .filter(image_records::provider_image_id.eq(image_pk))
            .filter(image_records::source.eq("shared")),
    )
    .returning(image_records::id)
    .get_result(conn)
    .await
    .optional()
}

/// The record through which an account of `company` owns image `image_pk`
/// (the account that shares it): `(account, record)`.
pub async fn owner_record(
    conn: &mut AsyncPgConnection,
    company: i64,
    image_pk: i64,
) -> QueryResult<Option<(i64, i64)>> {
    use super::schema::accounts;
    image_records::table
        .inner_join(accounts::table.on(accounts::id.eq(image_records::account_id)))
        .filter(image_records::provider_image_id.eq(image_pk))
        .filter(image_records::source.eq("own"))
        .filter(accounts::company_id.eq(company))
        .select((image_records::account_id, image_records::id))
        .order(image_records::account_id)
        .first(conn)
        .await
        .optional()
}

/// Undoes the share that a grant of launching `provider_image_id`, asked
/// by account `owner`, had recorded, once the provider refused it for good:
/// to provider account `number`, the records it gave the owner company's
/// accounts there go; to everyone (`None`), the image is private again.
/// The records removed, `(account, record)`.
pub async fn undo_grant(
    conn: &mut AsyncPgConnection,
    owner: i64,
    provider_image_id: &str,
    number: Option<&str>,
) -> QueryResult<Vec<(i64, i64)>> {
    use super::schema::accounts;
    let (company, provider, region): (i64, String, String) = accounts::table
        .find(owner)
        .select((accounts::company_id, accounts::provider, accounts::region))
        .first(conn)
        .await?;
    let image_pk: Option<i64> = provider_images::table
        .filter(provider_images::provider.eq(&provider))
        .filter(provider_images::region.eq(&region))
        .filter(provider_images::provider_image_id.eq(provider_image_id))
        .select(provider_images::id)
        .first(conn)
        .await
        .optional()?;
    let Some(image_pk) = image_pk else { return Ok(Vec::new()) };
    let Some(number) = number else {
        set_public(conn, image_pk, false).await?;
        return Ok(Vec::new());
    };
    let there = accounts::table
        .filter(accounts::company_id.eq(company))
        .filter(accounts::provider_account_number.eq(number))
        .select(accounts::id);
    diesel::delete(
        image_records::table
            .filter(image_records::provider_image_id.eq(image_pk))
            .filter(image_records::source.eq("shared"))
            .filter(image_records::account_id.eq_any(there)),
    )
    .returning((image_records::account_id, image_records::id))
    .get_results(conn)
    .await
}

/// Whether the image is public (launchable by everyone).
pub async fn is_public(conn: &mut AsyncPgConnection, image_pk: i64) -> QueryResult<bool> {
    provider_images::table.find(image_pk).select(provider_images::is_public).first(conn).await
}

/// Makes the image public or private. A private image leaves the public
/// catalog at once; a public one joins it with the next catalog sync.
pub async fn set_public(conn: &mut AsyncPgConnection, image_pk: i64, public: bool) -> QueryResult<()> {
    let image: (String, String, Option<String>) = diesel::update(provider_images::table.find(image_pk))
        .set(provider_images::is_public.eq(public))
        .returning((provider_images::provider, provider_images::region, provider_images::provider_image_id))
        .get_result(conn)
        .await?;
    if !public {
        leave_catalog(conn, &image).await?;
    }
    Ok(())
}

/// Takes an image, `(provider, region, provider image id)`, out of the
/// public catalog: it is gone, or private now. One the provider never made
/// was never in it.
async fn leave_catalog(conn: &mut AsyncPgConnection, image: &(String, String, Option<String>)) -> QueryResult<()> {
    let (provider, region, Some(id)) = image else { return Ok(()) };
    diesel::update(
        public_images::table
            .filter(public_images::provider.eq(provider))
            .filter(public_images::region.eq(region))
            .filter(public_images::provider_image_id.eq(id)),
    )
    .set(public_images::state.eq("DELETED"))
    .execute(conn)
    .await
    .map(drop)
}

/// One active image of the region's public catalog by its row id.
pub async fn find_public(
    conn: &mut AsyncPgConnection,
    provider: &str,
    region: &str,
    id: i64,
) -> QueryResult<PublicImageRow> {
    public_images::table
        .filter(public_images::id.eq(id))
        .filter(public_images::provider.eq(provider))
        .filter(public_images::region.eq(region))
        .filter(public_images::state.eq("ACTIVE"))
        .select(PublicImageRow::as_select())
        .first(conn)
        .await
}

/// The provided images (public images of the given owners) that match,
/// newest first: offered above the rest of a public search.
pub async fn search_provided(
    conn: &mut AsyncPgConnection,
    provider: &str,
    region: &str,
    owners: &[String],
    filters: &Filters,
    limit: i64,
) -> QueryResult<Vec<PublicImageRow>> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = public_images::table
        .filter(public_images::provider.eq(provider))
        .filter(public_images::region.eq(region))
        .filter(public_images::state.eq("ACTIVE"))
        .filter(public_images::deprecated_at.is_null())
        .filter(diesel::dsl::not(public_images::deprecated_in_console))
        .filter(public_images::owner_account_number.eq_any(owners))
        .select(PublicImageRow::as_select())
        .order((public_images::created_at.desc(), public_images::id.desc()))
        .into_boxed();
    if let Some(search) = &filters.search {
        query = query.filter(public_images::search_text.like(lower(search.like_pattern())));
    }
    platform_and_arch!(query, public_images, filters);
    limited(query, limit).load(conn).await
}

/// How many provided images a public search answers above the rest.
pub const PROVIDED_SHOWN: usize = 20;

/// The provided images a public search offers apart, above the rest: those
/// of `owners`, all of them unless more match than the section shows; then
/// only those down to `shown_down_to` (the section's last: time, id), and
/// the older ones are listed with the others.
pub struct Provided<'a> {
    pub owners: &'a [String],
    pub shown_down_to: Option<(DateTime<Utc>, i64)>,
}

/// A public search of the account's provider and region as the page and the
/// API answer it: on the first page, the newest [`PROVIDED_SHOWN`] provided
/// images that match; then the page of the others, older provided images
/// among them.
pub async fn public_search(
    conn: &mut AsyncPgConnection,
    account: &super::accounts::Account,
    query: &crate::domain::images::ListQuery,
    provided_owners: &[String],
) -> QueryResult<(Vec<PublicImageRow>, Page<PublicImageRow>)> {
    let (provider, region) = (&account.provider, &account.region);
    // Every page asks where the section ends, so that each provided image
    // is on exactly one page.
    let limit = i64::try_from(PROVIDED_SHOWN + 1).expect("a small number");
    let mut provided = search_provided(conn, provider, region, provided_owners, &query.filters, limit).await?;
    let shown_down_to = (provided.len() > PROVIDED_SHOWN).then(|| {
        provided.truncate(PROVIDED_SHOWN);
        provided.last().map(|last| (last.created_at, last.id))
    });
    let except = Provided { owners: provided_owners, shown_down_to: shown_down_to.flatten() };
    let page = search_public(
        conn,
        provider,
        region,
        &account.provider_account_number,
        &query.filters,
        query.sort,
        &query.page,
        &except,
    )
    .await?;
    if !matches!(query.page, PageRequest::First) {
        provided.clear();
    }
    Ok((provided, page))
}

/// What the provider image itself says, for the image page.
#[derive(Debug, Clone, Queryable)]
pub struct ProviderFacts {
    pub provider: String,
    pub region: String,
    pub is_public: bool,
    pub root_device: String,
    pub min_disk_gb: i32,
    pub created_at: DateTime<Utc>,
    /// The name it was made or listed with.
    pub name: String,
    /// The image it was made from, when the console knows.
    pub parent_id: Option<i64>,
}

/// The provider facts of image `image_pk`.
pub async fn provider_facts(conn: &mut AsyncPgConnection, image_pk: i64) -> QueryResult<ProviderFacts> {
    provider_images::table
        .find(image_pk)
        .select((
            provider_images::provider,
            provider_images::region,
            provider_images::is_public,
            provider_images::root_device,
            provider_images::min_disk_gb,
            provider_images::created_at,
            provider_images::name,
            provider_images::parent_id,
        ))
        .first(conn)
        .await
}

//! Writing what a provider reports into the console's own model: images
//! (own and public), added, updated, and retired when gone.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::accounts::Account;
use super::schema::{accounts, image_records, provider_images, public_images};
use crate::domain::resource::ResourceState;

/// Upserts rows of `$table` as the provider listed them for an account:
/// new ones are added, known ones (by `(account_id, $key)`) take the listed
/// `$column`s, and all of them are active (`active = true`: the provider
/// has them). Diesel's DSL is typed by table, so this is a macro, as
/// `db::resource_state_writes!` is; it evaluates to the `execute` result.
macro_rules! upsert_listed {
    ($conn:expr, $table:ident by $key:ident, $rows:expr, update($($column:ident),*)) => {
        diesel::insert_into($table::table)
            .values($rows)
            .on_conflict(($table::account_id, $table::$key))
            .do_update()
            .set(($($table::$column.eq(excluded($table::$column)),)* $table::active.eq(true)))
            .execute($conn)
            .await
    };
}

/// Marks the account's rows of `$table` whose `$key` the provider no longer
/// lists as gone (`active = false`); `only` narrows it to the rows that can
/// be gone. Evaluates to the `execute` result (rows marked).
macro_rules! retire_unlisted {
    ($conn:expr, $table:ident by $key:ident, $account_id:expr, $listed:expr $(, only: $only:expr)?) => {
        diesel::update(
            $table::table.filter($table::account_id.eq($account_id))$(.filter($only))?.filter($table::$key.ne_all($listed)),
        )
        .set($table::active.eq(false))
        .execute($conn)
        .await
    };
}

/// A row of `provider_images` as the provider's report fills it; `None`
/// leaves a column at its default.
#[derive(Debug, Insertable)]
#[diesel(table_name = provider_images)]
pub struct NewProviderImage<'a> {
    pub provider: &'a str,
    pub region: &'a str,
    pub provider_image_id: &'a str,
    pub platform: &'a str,
    pub architecture: &'a str,
    pub state: &'a str,
    pub owner_account_number: &'a str,
    /// The provider's name for the owner ("amazon"), if it gives one.
    pub owner_alias: Option<&'a str>,
    pub is_public: bool,
    pub root_device: Option<&'a str>,
    pub min_disk_gb: Option<i32>,
    pub created_at: DateTime<Utc>,
    /// The name it was made or listed with.
    pub name: &'a str,
}

impl<'a> NewProviderImage<'a> {
    /// The row of `image`, as the provider reported it to `account`.
    pub fn reported(account: &'a Account, image: &'a ReportedImage) -> Self {
        NewProviderImage {
            provider: &account.provider,
            region: &account.region,
            provider_image_id: &image.provider_image_id,
            platform: image.platform,
            architecture: &image.architecture,
            state: image.state,
            owner_account_number: &image.owner_account_number,
            owner_alias: image.owner_alias.as_deref(),
            is_public: image.is_public,
            root_device: Some(&image.root_device),
            min_disk_gb: Some(image.min_disk_gb),
            created_at: image.created_at,
            name: &image.name,
        }
    }
}

/// An image as the provider reported it, ready to store.
#[derive(Debug, Clone)]
pub struct ReportedImage {
    pub provider_image_id: String,
    pub name: String,
    pub description: String,
    pub platform: &'static str,
    pub architecture: String,
    pub state: &'static str,
    /// Disabled at the provider (its `state` then reads DELETED).
    pub disabled: bool,
    pub owner_account_number: String,
    pub owner_alias: Option<String>,
    pub is_public: bool,
    pub root_device: String,
    pub min_disk_gb: i32,
    pub created_at: DateTime<Utc>,
    pub deprecated_at: Option<DateTime<Utc>>,
}

/// What a sync changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    pub seen: usize,
    pub added: usize,
    pub retired: usize,
}

/// Adds a public image to the account's provider images (or marks the row
/// it has public); the row's id.
pub async fn public_image(conn: &mut AsyncPgConnection, row: &NewProviderImage<'_>) -> QueryResult<i64> {
    diesel::insert_into(provider_images::table)
        .values(row)
        .on_conflict((provider_images::provider, provider_images::region, provider_images::provider_image_id))
        .do_update()
        .set((provider_images::is_public.eq(true), provider_images::owner_alias.eq(row.owner_alias)))
        .returning(provider_images::id)
        .get_result(conn)
        .await
}

/// Stores the account's own images: every image gets a provider row and a
/// record in the account (named as at the provider the first time; the
/// console's own name and label are kept after that). Images of the account
/// that the provider no longer lists are marked DELETED, unless the console
/// recorded their id (Make Image) within `cloud::LISTING_LAG`: the listing
/// may have been read before that, or not show them yet. Images the console
/// has asked the provider to deregister stay gone, even when the provider
/// still lists them. One transaction.
///
/// The provider was read before this runs, maybe before a delete the console
/// made since. A delete leaves a tombstone: its deregistration job, queued in
/// the delete's transaction and kept while it is queued, running or done
/// (it goes only if the deregistration fails for good, when the provider
/// still has the image and its record rightly comes back). A tombstone
/// rather than a comparison of times, because a sync that began after the
/// delete can still see the image listed until the job has run. The guard
/// is read after locking the provider rows of the listed images: a delete
/// writes that row (`db::images::retire_image`), so a delete committing
/// while this runs is waited for, and the guard read next sees its job
/// (under READ COMMITTED every statement sees what committed before it).
/// The same guard keeps the public flag of an image made public or private
/// whose launch permission job has not reached the provider yet.
pub async fn own_images(
    conn: &mut AsyncPgConnection,
    account: &Account,
    images: &[ReportedImage],
) -> QueryResult<SyncCounts> {
    conn.transaction(async |conn| {
        let listed: Vec<&str> = images.iter().map(|i| i.provider_image_id.as_str()).collect();
        provider_images::table
            .filter(provider_images::provider.eq(&account.provider))
            .filter(provider_images::region.eq(&account.region))
            .filter(provider_images::provider_image_id.eq_any(&listed))
            .order(provider_images::id)
            .select(provider_images::id)
            .for_update()
            .load::<i64>(conn)
            .await?;
        let deregistered = super::jobs::deregistrations(conn, account.id).await?;
        let in_bin = binned(conn, &account.provider, &account.region).await?;
        let retired_here = retired_by_console(conn, account, images, &in_bin).await?;
        // An image made public or private whose job has not reached the
        // provider yet keeps the console's flag (and its place in, or out
        // of, the catalog): the provider still reports the old one. So does
        // an image in the recycle bin, whose launch permissions the provider
        // took back: a restore grants them again as the console recorded.
        let mut flag_changes = super::jobs::public_flag_changes(conn, account.id).await?;
        flag_changes.extend(images.iter().map(|i| &i.provider_image_id).filter(|id| in_bin.contains(*id)).cloned());
        let images: std::borrow::Cow<'_, [ReportedImage]> = if flag_changes.is_empty() {
            images.into()
        } else {
            let console_flags: std::collections::HashMap<String, bool> = provider_images::table
                .filter(provider_images::provider.eq(&account.provider))
                .filter(provider_images::region.eq(&account.region))
                .filter(provider_images::provider_image_id.eq_any(&flag_changes))
                .select((provider_images::provider_image_id.assume_not_null(), provider_images::is_public))
                .load(conn)
                .await?
                .into_iter()
                .collect();
            let flag = |i: &ReportedImage| console_flags.get(&i.provider_image_id).copied().unwrap_or(i.is_public);
            images.iter().map(|i| ReportedImage { is_public: flag(i), ..i.clone() }).collect::<Vec<_>>().into()
        };
        let images = &*images;
        // Each image once (one statement cannot update a row twice), in the
        // provider's order, and by its id for the records below.
        let mut reported = std::collections::HashMap::new();
        let kept: Vec<&ReportedImage> = images
            .iter()
            .filter(|i| {
                !deregistered.contains(&i.provider_image_id)
                    && !retired_here.contains(&i.provider_image_id)
                    && reported.insert(i.provider_image_id.as_str(), *i).is_none()
            })
            .collect();
        // 1,000 rows a statement; a row the provider reports as it is
        // stored is left alone, so a sync that finds nothing new writes
        // nothing.
        for chunk in kept.chunks(1000) {
            let rows: Vec<_> = chunk.iter().map(|image| NewProviderImage::reported(account, image)).collect();
            let upsert = diesel::insert_into(provider_images::table)
                .values(&rows)
                .on_conflict((provider_images::provider, provider_images::region, provider_images::provider_image_id))
                .do_update()
                .set((
                    provider_images::state.eq(excluded(provider_images::state)),
                    provider_images::is_public.eq(excluded(provider_images::is_public)),
                    provider_images::min_disk_gb.eq(excluded(provider_images::min_disk_gb)),
                ));
            // The DO UPDATE's WHERE (not QueryDsl's `filter`, for queries).
            diesel::query_dsl::methods::FilterDsl::filter(
                upsert,
                provider_images::state
                    .is_distinct_from(excluded(provider_images::state))
                    .or(provider_images::is_public.is_distinct_from(excluded(provider_images::is_public)))
                    .or(provider_images::min_disk_gb.is_distinct_from(excluded(provider_images::min_disk_gb))),
            )
            .execute(conn)
            .await?;
        }
        // A record in the account for each image it does not have one of.
        let kept_ids: Vec<&str> = reported.keys().copied().collect();
        let unrecorded: Vec<(i64, String)> = provider_images::table
            .filter(provider_images::provider.eq(&account.provider))
            .filter(provider_images::region.eq(&account.region))
            .filter(provider_images::provider_image_id.eq_any(&kept_ids))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                image_records::table
                    .filter(image_records::account_id.eq(account.id))
                    .filter(image_records::provider_image_id.eq(provider_images::id)),
            )))
            .select((provider_images::id, provider_images::provider_image_id.assume_not_null()))
            .load(conn)
            .await?;
        let mut added = 0;
        for chunk in unrecorded.chunks(1000) {
            let rows: Vec<_> = chunk
                .iter()
                .filter_map(|(id, provider_image_id)| {
                    let image = reported.get(provider_image_id.as_str())?;
                    Some((
                        image_records::account_id.eq(account.id),
                        image_records::provider_image_id.eq(*id),
                        image_records::name.eq(if image.name.is_empty() {
                            &image.provider_image_id
                        } else {
                            &image.name
                        }),
                        image_records::description.eq(&image.description),
                        image_records::source.eq("own"),
                        image_records::created_at.eq(image.created_at),
                    ))
                })
                .collect();
            added += diesel::insert_into(image_records::table)
                .values(rows)
                .on_conflict((image_records::account_id, image_records::provider_image_id))
                .do_nothing()
                .execute(conn)
                .await?;
        }
        // The account's public images belong in the region's catalog, whatever
        // the catalog sync saw (another account's view may lack them).
        let catalog: Vec<ReportedImage> =
            images.iter().filter(|i| i.is_public && !deregistered.contains(&i.provider_image_id)).cloned().collect();
        upsert_public(conn, &account.provider, &account.region, &catalog).await?;
        let private: Vec<&str> = images.iter().filter(|i| !i.is_public).map(|i| i.provider_image_id.as_str()).collect();
        diesel::update(
            public_images::table
                .filter(public_images::provider.eq(&account.provider))
                .filter(public_images::region.eq(&account.region))
                .filter(public_images::provider_image_id.eq_any(&private))
                .filter(public_images::state.ne("DELETED")),
        )
        .set(public_images::state.eq("DELETED"))
        .execute(conn)
        .await?;
        let retired = diesel::update(
            provider_images::table
                .filter(provider_images::provider.eq(&account.provider))
                .filter(provider_images::region.eq(&account.region))
                .filter(provider_images::owner_account_number.eq(&account.provider_account_number))
                .filter(provider_images::state.ne("DELETED"))
                // One being made from a server has no id yet to be listed by.
                .filter(provider_images::provider_image_id.is_not_null())
                .filter(provider_images::provider_image_id.ne_all(&listed))
                // One made a moment ago may be missing from a listing read
                // before its id was recorded, or from the provider's
                // eventually consistent answer: not gone.
                .filter(
                    provider_images::id_recorded_at
                        .is_null()
                        .or(provider_images::id_recorded_at.lt(Utc::now() - crate::cloud::LISTING_LAG)),
                ),
        )
        .set(provider_images::state.eq("DELETED"))
        .execute(conn)
        .await?;
        Ok(SyncCounts { seen: images.len(), added, retired })
    })
    .await
}

/// Stores a region's public catalog, 1,000 rows a statement, and marks the
/// images the provider no longer lists as DELETED. One transaction.
pub async fn public_catalog(
    conn: &mut AsyncPgConnection,
    provider: &str,
    region: &str,
    images: &[ReportedImage],
) -> QueryResult<SyncCounts> {
    conn.transaction(async |conn| {
        let before: i64 = public_images::table
            .filter(public_images::provider.eq(provider))
            .filter(public_images::region.eq(region))
            .count()
            .get_result(conn)
            .await?;
        upsert_public(conn, provider, region, images).await?;
        let after: i64 = public_images::table
            .filter(public_images::provider.eq(provider))
            .filter(public_images::region.eq(region))
            .count()
            .get_result(conn)
            .await?;
        let listed: Vec<&str> = images.iter().map(|i| i.provider_image_id.as_str()).collect();
        let console_accounts = accounts::table.select(accounts::provider_account_number);
        let retired: Vec<String> = diesel::update(
            public_images::table
                .filter(public_images::provider.eq(provider))
                .filter(public_images::region.eq(region))
                .filter(public_images::state.ne("DELETED"))
                .filter(public_images::provider_image_id.ne_all(&listed))
                // An account's own sync vouches for its public images.
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    provider_images::table
                        .filter(provider_images::provider.eq(public_images::provider))
                        .filter(provider_images::region.eq(public_images::region))
                        .filter(provider_images::provider_image_id.eq(public_images::provider_image_id.nullable()))
                        .filter(provider_images::is_public)
                        .filter(provider_images::state.eq("ACTIVE"))
                        .filter(provider_images::owner_account_number.eq_any(console_accounts)),
                ))),
        )
        .set(public_images::state.eq("DELETED"))
        .returning(public_images::provider_image_id)
        .get_results(conn)
        .await?;
        // Accounts that launched a retired public image keep their record of
        // it, shown as retired; their servers keep running.
        diesel::update(
            provider_images::table
                .filter(provider_images::provider.eq(provider))
                .filter(provider_images::region.eq(region))
                .filter(provider_images::provider_image_id.eq_any(&retired))
                .filter(provider_images::owner_account_number.ne_all(console_accounts)),
        )
        .set(provider_images::state.eq("DELETED"))
        .execute(conn)
        .await?;
        let retired = retired.len();
        Ok(SyncCounts { seen: images.len(), added: usize::try_from(after - before).unwrap_or(0), retired })
    })
    .await
}

/// The listed images that are disabled because the console retired them:
/// in the recycle bin, or restored and not enabled at the provider yet (its
/// job is queued or running). Their rows keep the state the console stored,
/// as retirement is the console's to show (`retired_at`). An image disabled
/// by anyone else cannot be launched, and reads as gone until enabled again.
async fn retired_by_console(
    conn: &mut AsyncPgConnection,
    account: &Account,
    images: &[ReportedImage],
    in_bin: &std::collections::HashSet<String>,
) -> QueryResult<std::collections::HashSet<String>> {
    let disabled: Vec<&str> = images.iter().filter(|i| i.disabled).map(|i| i.provider_image_id.as_str()).collect();
    if disabled.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let mut retired = in_bin.clone();
    retired.extend(super::jobs::availability_changes(conn, account.id).await?);
    retired.retain(|id| disabled.contains(&id.as_str()));
    Ok(retired)
}

/// The provider ids of the region's images in a recycle bin.
async fn binned(
    conn: &mut AsyncPgConnection,
    provider: &str,
    region: &str,
) -> QueryResult<std::collections::HashSet<String>> {
    Ok(provider_images::table
        .filter(provider_images::provider.eq(provider))
        .filter(provider_images::region.eq(region))
        .filter(provider_images::binned_at.is_not_null())
        .filter(provider_images::provider_image_id.is_not_null())
        .select(provider_images::provider_image_id.assume_not_null())
        .load::<String>(conn)
        .await?
        .into_iter()
        .collect())
}

/// Adds or updates public catalog rows, 1,000 a statement; a row listed as
/// it is stored is not written. An image in the recycle bin stays out of
/// the catalog (`db::images::bin_image` took it out), though the provider
/// still lists it public: nobody finds or launches it until it is restored.
async fn upsert_public(
    conn: &mut AsyncPgConnection,
    provider: &str,
    region: &str,
    images: &[ReportedImage],
) -> QueryResult<()> {
    let binned = binned(conn, provider, region).await?;
    let images: Vec<&ReportedImage> = images.iter().filter(|i| !binned.contains(&i.provider_image_id)).collect();
    for chunk in images.chunks(1000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|i| {
                (
                    public_images::provider.eq(provider),
                    public_images::region.eq(region),
                    public_images::provider_image_id.eq(&i.provider_image_id),
                    public_images::name.eq(&i.name),
                    public_images::description.eq(&i.description),
                    public_images::platform.eq(i.platform),
                    public_images::architecture.eq(&i.architecture),
                    public_images::owner_account_number.eq(&i.owner_account_number),
                    public_images::owner_alias.eq(&i.owner_alias),
                    public_images::state.eq(i.state),
                    public_images::deprecated_at.eq(i.deprecated_at),
                    public_images::created_at.eq(i.created_at),
                )
            })
            .collect();
        let upsert = diesel::insert_into(public_images::table)
            .values(rows)
            .on_conflict((public_images::provider, public_images::region, public_images::provider_image_id))
            .do_update()
            .set((
                public_images::name.eq(excluded(public_images::name)),
                public_images::description.eq(excluded(public_images::description)),
                public_images::state.eq(excluded(public_images::state)),
                public_images::deprecated_at.eq(excluded(public_images::deprecated_at)),
            ));
        diesel::query_dsl::methods::FilterDsl::filter(
            upsert,
            public_images::name
                .is_distinct_from(excluded(public_images::name))
                .or(public_images::description.is_distinct_from(excluded(public_images::description)))
                .or(public_images::state.is_distinct_from(excluded(public_images::state)))
                .or(public_images::deprecated_at.is_distinct_from(excluded(public_images::deprecated_at))),
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// The provider answered: the account is synced and reachable.
pub async fn mark_synced(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<()> {
    diesel::update(accounts::table.find(account_id))
        .set((
            accounts::synced_at.eq(diesel::dsl::now),
            accounts::unreachable_since.eq(None::<DateTime<Utc>>),
            accounts::failure.eq(None::<String>),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The provider did not answer: remember since when.
pub async fn mark_unreachable(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<()> {
    diesel::update(accounts::table.find(account_id).filter(accounts::unreachable_since.is_null()))
        .set(accounts::unreachable_since.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}

/// The provider refused the account's credentials or failed a sync: why,
/// in words, and since when (kept from the first failure).
pub async fn mark_failing(conn: &mut AsyncPgConnection, account_id: i64, reason: &str) -> QueryResult<()> {
    diesel::update(accounts::table.find(account_id))
        .set((
            accounts::unreachable_since.eq(super::fixed_sql::fixed::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("coalesce(unreachable_since, now())")),
            accounts::failure.eq(reason),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Every enabled account, for the periodic sync.
pub async fn all_accounts(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Account>> {
    accounts::table
        .filter(accounts::disabled_at.is_null())
        .order(accounts::id)
        .select(Account::as_select())
        .load(conn)
        .await
}

/// A hardware size as the provider reported it.
#[derive(Debug, Clone)]
pub struct ReportedProduct {
    pub product_id: String,
    pub cpus: i32,
    pub ram_mb: i64,
    pub architectures: Vec<String>,
}

/// Seeds the price table from shipped rates; rates already there (maybe
/// edited by an administrator) are kept.
pub async fn seed_prices(
    conn: &mut AsyncPgConnection,
    provider: &str,
    region: &str,
    rates: &[(String, bigdecimal::BigDecimal)],
) -> QueryResult<()> {
    use super::schema::prices;
    let rows: Vec<_> = rates
        .iter()
        .map(|(product, rate)| {
            (
                prices::provider.eq(provider),
                prices::region.eq(region),
                prices::product_id.eq(product),
                prices::hourly_rate.eq(rate),
            )
        })
        .collect();
    diesel::insert_into(prices::table).values(rows).on_conflict_do_nothing().execute(conn).await.map(drop)
}

/// Stores the account's hardware sizes; sizes no longer offered become inactive.
pub async fn products(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    reported: &[ReportedProduct],
) -> QueryResult<usize> {
    use super::schema::products;
    conn.transaction(async |conn| {
        for chunk in reported.chunks(500) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|p| {
                    (
                        products::account_id.eq(account_id),
                        products::product_id.eq(&p.product_id),
                        products::cpus.eq(p.cpus),
                        products::ram_mb.eq(p.ram_mb),
                        products::architectures.eq(&p.architectures),
                        products::active.eq(true),
                    )
                })
                .collect();
            upsert_listed!(conn, products by product_id, rows, update(cpus, ram_mb, architectures))?;
        }
        let listed: Vec<&str> = reported.iter().map(|p| p.product_id.as_str()).collect();
        retire_unlisted!(conn, products by product_id, account_id, &listed)
    })
    .await
}

/// Stores the account's zones; zones no longer offered become inactive.
pub async fn zones(conn: &mut AsyncPgConnection, account_id: i64, names: &[String]) -> QueryResult<()> {
    use super::schema::zones;
    conn.transaction(async |conn| {
        let rows: Vec<_> = names
            .iter()
            .map(|n| (zones::account_id.eq(account_id), zones::name.eq(n), zones::active.eq(true)))
            .collect();
        upsert_listed!(conn, zones by name, rows, update())?;
        retire_unlisted!(conn, zones by name, account_id, names).map(drop)
    })
    .await
}

/// The database's time now.
pub async fn clock(conn: &mut AsyncPgConnection) -> QueryResult<DateTime<Utc>> {
    diesel::select(diesel::dsl::now.into_sql::<diesel::sql_types::Timestamptz>()).get_result(conn).await
}

/// Stores the account's firewalls as the provider listed them at
/// `listed_at`, with what each lets in (`db::firewall_rules::sync`).
///
/// Firewalls made on the Firewalls page are ahead of the provider (see
/// `db::firewalls`): a row still waiting for its group id takes the id of
/// the group of its name when the provider lists it before the row's job has
/// stored it, and such rows are never marked gone. `state` is left alone, so
/// a firewall being deleted stays hidden even while the provider lists it.
pub async fn firewalls(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    reported: &[crate::cloud::SecurityGroup],
    listed_at: DateTime<Utc>,
) -> QueryResult<()> {
    use super::schema::firewalls;
    conn.transaction(async |conn| {
        let listed: Vec<&str> = reported.iter().map(|g| g.id.as_str()).collect();
        let waiting: Vec<(i64, String)> = firewalls::table
            .filter(firewalls::account_id.eq(account_id))
            .filter(firewalls::provider_id.is_null())
            .filter(firewalls::state.eq(ResourceState::Pending.as_str()))
            .select((firewalls::id, firewalls::name))
            .load(conn)
            .await?;
        if !waiting.is_empty() {
            let known: Vec<Option<String>> = firewalls::table
                .filter(firewalls::account_id.eq(account_id))
                .filter(firewalls::provider_id.eq_any(&listed))
                .select(firewalls::provider_id)
                .load(conn)
                .await?;
            for (row, name) in waiting {
                let made = reported.iter().find(|g| g.name == name && !known.contains(&Some(g.id.clone())));
                if let Some(group) = made {
                    diesel::update(firewalls::table.find(row).filter(firewalls::provider_id.is_null()))
                        .set((firewalls::provider_id.eq(&group.id), firewalls::state.eq(ResourceState::Active.as_str())))
                        .execute(conn)
                        .await?;
                }
            }
        }
        let rows: Vec<_> = reported
            .iter()
            .map(|g| {
                (
                    firewalls::account_id.eq(account_id),
                    firewalls::provider_id.eq(&g.id),
                    firewalls::name.eq(&g.name),
                    firewalls::description.eq(&g.description),
                    firewalls::active.eq(true),
                )
            })
            .collect();
        upsert_listed!(conn, firewalls by provider_id, rows, update(name, description))?;
        retire_unlisted!(conn, firewalls by provider_id, account_id, &listed, only: firewalls::provider_id.is_not_null())?;
        let ids: Vec<(i64, Option<String>)> = firewalls::table
            .filter(firewalls::account_id.eq(account_id))
            .filter(firewalls::provider_id.eq_any(&listed))
            .select((firewalls::id, firewalls::provider_id))
            .load(conn)
            .await?;
        let inbound: Vec<(i64, &[crate::cloud::Rule])> = ids
            .iter()
            .filter_map(|(id, group)| {
                let group = reported.iter().find(|g| Some(&g.id) == group.as_ref())?;
                Some((*id, group.inbound.as_slice()))
            })
            .collect();
        super::firewall_rules::sync(conn, &inbound, listed_at).await
    })
    .await
}

/// Stores the account's key pairs `(name, fingerprint, provider id)`; never
/// a private key.
///
/// Key pairs imported on the Key Pairs page are ahead of the provider (see
/// `db::keypairs`): one waiting for its import, or whose import failed, keeps
/// its state and is never marked gone. Only its job, which compares the
/// public key, makes it ready: a key pair of that name the provider lists
/// may hold another key (made there, out of the console's sight), which its
/// user could not sign in with. A key pair being deleted keeps its state, so
/// it stays hidden even while the provider lists it.
pub async fn key_pairs(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    reported: &[(String, String, Option<String>)],
) -> QueryResult<()> {
    use super::schema::key_pairs;
    conn.transaction(async |conn| {
        let rows: Vec<_> = reported
            .iter()
            .map(|(name, fingerprint, id)| {
                (
                    key_pairs::account_id.eq(account_id),
                    key_pairs::name.eq(name),
                    key_pairs::fingerprint.eq(fingerprint),
                    key_pairs::provider_id.eq(id),
                    key_pairs::active.eq(true),
                )
            })
            .collect();
        upsert_listed!(conn, key_pairs by name, rows, update(fingerprint, provider_id))?;
        let listed: Vec<&str> = reported.iter().map(|(name, _, _)| name.as_str()).collect();
        let can_be_gone = key_pairs::state.eq_any([ResourceState::Active.as_str(), ResourceState::Deleting.as_str()]);
        retire_unlisted!(conn, key_pairs by name, account_id, &listed, only: can_be_gone).map(drop)
    })
    .await
}

/// Who an image made from a server belongs to in the console.
#[derive(Debug, Clone, Copy)]
pub struct ImageOwner {
    pub owner_user_id: i64,
    pub owner_group_id: Option<i64>,
    pub budget_code_id: i64,
}

/// Stores an image just made from a server: its record, written as pending
/// by Make Image (`record`, see `db::images::pending_image`), takes the
/// provider's id and facts. An images sync that listed the image before
/// this ran gave it a row and a record of its own; the pending record takes
/// that row over and the sync's record goes, so My images shows the image
/// once. Without a pending record (a job queued before they existed, or a
/// record deleted since) the image gets a record as the sync would give
/// it, owned as asked. Returns the record's id. One transaction, run again
/// once if a sync's row for the image committed after it looked: the new
/// run sees that row and takes it over.
pub async fn made_image(
    conn: &mut AsyncPgConnection,
    account: &Account,
    image: &ReportedImage,
    owner: &ImageOwner,
    record: Option<i64>,
) -> QueryResult<i64> {
    match record_made_image(conn, account, image, owner, record).await {
        Err(e) if super::unique_violation(&e) => record_made_image(conn, account, image, owner, record).await,
        done => done,
    }
}

async fn record_made_image(
    conn: &mut AsyncPgConnection,
    account: &Account,
    image: &ReportedImage,
    owner: &ImageOwner,
    record: Option<i64>,
) -> QueryResult<i64> {
    conn.transaction(async |conn| {
        let pending: Option<i64> = match record {
            Some(record) => image_records::table
                .find(record)
                .filter(image_records::account_id.eq(account.id))
                .select(image_records::provider_image_id)
                .for_update()
                .first(conn)
                .await
                .optional()?,
            None => None,
        };
        if let (Some(record), Some(pending)) = (record, pending) {
            let listed: Option<i64> = provider_images::table
                .filter(provider_images::provider.eq(&account.provider))
                .filter(provider_images::region.eq(&account.region))
                .filter(provider_images::provider_image_id.eq(&image.provider_image_id))
                .select(provider_images::id)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            // Make Image wrote the lineage on the pending row.
            let (parent, name): (Option<i64>, String) = provider_images::table
                .find(pending)
                .select((provider_images::parent_id, provider_images::name))
                .first(conn)
                .await?;
            let row = match listed {
                Some(listed) if listed != pending => {
                    diesel::delete(
                        image_records::table
                            .filter(image_records::account_id.eq(account.id))
                            .filter(image_records::provider_image_id.eq(listed)),
                    )
                    .execute(conn)
                    .await?;
                    diesel::update(image_records::table.find(record))
                        .set(image_records::provider_image_id.eq(listed))
                        .execute(conn)
                        .await?;
                    diesel::delete(provider_images::table.find(pending)).execute(conn).await?;
                    listed
                }
                _ => pending,
            };
            diesel::update(provider_images::table.find(row))
                .set((
                    provider_images::provider_image_id.eq(&image.provider_image_id),
                    provider_images::platform.eq(image.platform),
                    provider_images::architecture.eq(&image.architecture),
                    provider_images::state.eq(image.state),
                    provider_images::root_device.eq(&image.root_device),
                    provider_images::min_disk_gb.eq(image.min_disk_gb),
                    provider_images::created_at.eq(image.created_at),
                    provider_images::parent_id.eq(parent),
                    provider_images::name.eq(name),
                    provider_images::id_recorded_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            return Ok(record);
        }
        let id: i64 = diesel::insert_into(provider_images::table)
            .values((NewProviderImage::reported(account, image), provider_images::id_recorded_at.eq(diesel::dsl::now)))
            .on_conflict((provider_images::provider, provider_images::region, provider_images::provider_image_id))
            .do_update()
            .set(provider_images::platform.eq(image.platform))
            .returning(provider_images::id)
            .get_result(conn)
            .await?;
        diesel::insert_into(image_records::table)
            .values((
                image_records::account_id.eq(account.id),
                image_records::provider_image_id.eq(id),
                image_records::name.eq(&image.name),
                image_records::description.eq(&image.description),
                image_records::owner_user_id.eq(owner.owner_user_id),
                image_records::owner_group_id.eq(owner.owner_group_id),
                image_records::budget_code_id.eq(owner.budget_code_id),
                image_records::source.eq("own"),
                image_records::created_at.eq(image.created_at),
            ))
            .on_conflict((image_records::account_id, image_records::provider_image_id))
            .do_update()
            .set((
                image_records::owner_user_id.eq(owner.owner_user_id),
                image_records::owner_group_id.eq(owner.owner_group_id),
                image_records::budget_code_id.eq(owner.budget_code_id),
            ))
            .returning(image_records::id)
            .get_result(conn)
            .await
    })
    .await
}

/// The provider could not make the image of pending record `record` and the
/// job gave up: the image is FAILED, and the record's description says why,
/// where My images shows it. A record that has its image already is left
/// alone.
pub async fn making_failed(conn: &mut AsyncPgConnection, record: i64, why: &str) -> QueryResult<()> {
    conn.transaction(async |conn| {
        let image: Option<i64> = image_records::table
            .inner_join(provider_images::table)
            .filter(image_records::id.eq(record))
            .filter(provider_images::provider_image_id.is_null())
            .select(provider_images::id)
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let Some(image) = image else { return Ok(()) };
        diesel::update(provider_images::table.find(image))
            .set(provider_images::state.eq("FAILED"))
            .execute(conn)
            .await?;
        diesel::update(image_records::table.find(record))
            .set(image_records::description.eq(format!("The provider could not make this image: {why}")))
            .execute(conn)
            .await
            .map(drop)
    })
    .await
}

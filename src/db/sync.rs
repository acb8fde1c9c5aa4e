//! Writing what a provider reports into the console's own model: images
//! (own and public), added, updated, and retired when gone.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::accounts::Account;
use super::schema::{accounts, image_records, provider_images, public_images};

/// An image as the provider reported it, ready to store.
#[derive(Debug, Clone)]
pub struct ReportedImage {
    pub provider_image_id: String,
    pub name: String,
    pub description: String,
    pub platform: &'static str,
    pub architecture: String,
    pub state: &'static str,
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

/// Stores the account's own images: every image gets a provider row and a
/// record in the account (named as at the provider the first time; the
/// console's own name and label are kept after that). Images of the account
/// that the provider no longer lists are marked DELETED. One transaction.
pub async fn own_images(
    conn: &mut AsyncPgConnection,
    account: &Account,
    images: &[ReportedImage],
) -> QueryResult<SyncCounts> {
    conn.transaction(async |conn| {
        let mut added = 0;
        for image in images {
            let id: i64 = diesel::insert_into(provider_images::table)
                .values((
                    provider_images::provider.eq(&account.provider),
                    provider_images::region.eq(&account.region),
                    provider_images::provider_image_id.eq(&image.provider_image_id),
                    provider_images::platform.eq(image.platform),
                    provider_images::architecture.eq(&image.architecture),
                    provider_images::state.eq(image.state),
                    provider_images::owner_account_number.eq(&image.owner_account_number),
                    provider_images::is_public.eq(image.is_public),
                    provider_images::root_device.eq(&image.root_device),
                    provider_images::min_disk_gb.eq(image.min_disk_gb),
                    provider_images::created_at.eq(image.created_at),
                ))
                .on_conflict((provider_images::provider, provider_images::region, provider_images::provider_image_id))
                .do_update()
                .set((
                    provider_images::state.eq(excluded(provider_images::state)),
                    provider_images::is_public.eq(excluded(provider_images::is_public)),
                    provider_images::min_disk_gb.eq(excluded(provider_images::min_disk_gb)),
                ))
                .returning(provider_images::id)
                .get_result(conn)
                .await?;
            added += diesel::insert_into(image_records::table)
                .values((
                    image_records::account_id.eq(account.id),
                    image_records::provider_image_id.eq(id),
                    image_records::name.eq(if image.name.is_empty() { &image.provider_image_id } else { &image.name }),
                    image_records::description.eq(&image.description),
                    image_records::source.eq("own"),
                    image_records::created_at.eq(image.created_at),
                ))
                .on_conflict((image_records::account_id, image_records::provider_image_id))
                .do_nothing()
                .execute(conn)
                .await?;
        }
        let listed: Vec<&str> = images.iter().map(|i| i.provider_image_id.as_str()).collect();
        let retired = diesel::update(
            provider_images::table
                .filter(provider_images::provider.eq(&account.provider))
                .filter(provider_images::region.eq(&account.region))
                .filter(provider_images::owner_account_number.eq(&account.provider_account_number))
                .filter(provider_images::state.ne("DELETED"))
                .filter(provider_images::provider_image_id.ne_all(&listed)),
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
            diesel::insert_into(public_images::table)
                .values(rows)
                .on_conflict((public_images::provider, public_images::region, public_images::provider_image_id))
                .do_update()
                .set((
                    public_images::name.eq(excluded(public_images::name)),
                    public_images::description.eq(excluded(public_images::description)),
                    public_images::state.eq(excluded(public_images::state)),
                    public_images::deprecated_at.eq(excluded(public_images::deprecated_at)),
                ))
                .execute(conn)
                .await?;
        }
        let after: i64 = public_images::table
            .filter(public_images::provider.eq(provider))
            .filter(public_images::region.eq(region))
            .count()
            .get_result(conn)
            .await?;
        let listed: Vec<&str> = images.iter().map(|i| i.provider_image_id.as_str()).collect();
        let retired = diesel::update(
            public_images::table
                .filter(public_images::provider.eq(provider))
                .filter(public_images::region.eq(region))
                .filter(public_images::state.ne("DELETED"))
                .filter(public_images::provider_image_id.ne_all(&listed)),
        )
        .set(public_images::state.eq("DELETED"))
        .execute(conn)
        .await?;
        Ok(SyncCounts { seen: images.len(), added: usize::try_from(after - before).unwrap_or(0), retired })
    })
    .await
}

/// The provider answered: the account is synced and reachable.
pub async fn mark_synced(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<()> {
    diesel::update(accounts::table.find(account_id))
        .set((accounts::synced_at.eq(diesel::dsl::now), accounts::unreachable_since.eq(None::<DateTime<Utc>>)))
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

/// Every account, for the periodic sync.
pub async fn all_accounts(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Account>> {
    accounts::table.order(accounts::id).select(Account::as_select()).load(conn).await
}

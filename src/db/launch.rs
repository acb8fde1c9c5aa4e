//! What the launch dialog offers an account, and the launch itself: server
//! rows and their jobs, written together.

use bigdecimal::BigDecimal;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::accounts::Account;
use super::schema::{group_members, groups, image_records, prices, products, provider_images, zones};
use super::sync::{NewProviderImage, public_image};

/// A hardware size with its hourly rate. Only priced sizes are offered: a
/// launch must be budgeted.
#[derive(Debug, Clone, Queryable)]
pub struct Product {
    pub product_id: String,
    pub cpus: i32,
    pub ram_mb: i64,
    pub architectures: Vec<String>,
    pub hourly_rate: BigDecimal,
}

pub async fn products(conn: &mut AsyncPgConnection, account: &Account) -> QueryResult<Vec<Product>> {
    products::table
        .inner_join(
            prices::table.on(prices::product_id
                .eq(products::product_id)
                .and(prices::provider.eq(&account.provider))
                .and(prices::region.eq(&account.region))),
        )
        .filter(products::account_id.eq(account.id))
        .filter(products::active)
        .order((prices::hourly_rate, products::product_id))
        .select((products::product_id, products::cpus, products::ram_mb, products::architectures, prices::hourly_rate))
        .load(conn)
        .await
}

pub async fn zones(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<Vec<String>> {
    zones::table
        .filter(zones::account_id.eq(account_id))
        .filter(zones::active)
        .order(zones::name)
        .select(zones::name)
        .load(conn)
        .await
}

/// The groups a user belongs to: `(id, name)`.
pub async fn groups_of_user(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<Vec<(i64, String)>> {
    groups::table
        .inner_join(group_members::table)
        .filter(group_members::user_id.eq(user_id))
        .order(groups::name)
        .select((groups::id, groups::name))
        .load(conn)
        .await
}

/// Whether user `user_id` is in group `group`, holding the group's row (a
/// key share) for the rest of the transaction: a launch or a made image that
/// names the group as owner asks it before writing, so a delete of the group
/// that came first is seen, and one that comes after waits for its rows.
pub async fn hold_group(conn: &mut AsyncPgConnection, user_id: i64, group: i64) -> QueryResult<bool> {
    groups::table
        .inner_join(group_members::table)
        .filter(groups::id.eq(group))
        .filter(group_members::user_id.eq(user_id))
        .select(groups::id)
        .for_key_share()
        .get_result::<i64>(conn)
        .await
        .optional()
        .map(|found| found.is_some())
}

/// The account's record of a public image it launches, made on first
/// launch (`public_launched`): the image joins My images. Returns
/// `(record, provider image row)`.
pub async fn record_public_launch(
    conn: &mut AsyncPgConnection,
    account: &Account,
    image: &super::images::PublicImageRow,
    owner_user_id: i64,
) -> QueryResult<(i64, i64)> {
    let row = NewProviderImage {
        provider: &account.provider,
        region: &account.region,
        provider_image_id: &image.provider_image_id,
        platform: &image.platform,
        architecture: &image.architecture,
        state: "ACTIVE",
        owner_account_number: &image.owner_account_number,
        owner_alias: image.owner_alias.as_deref(),
        is_public: true,
        root_device: None,
        min_disk_gb: None,
        created_at: image.created_at,
        name: &image.name,
    };
    let pk = public_image(conn, &row).await?;
    // The upsert holds the image's row: a delete that put it in the bin
    // first is seen here (the catalog kept it in a form opened before), and
    // one that comes after waits and counts these servers.
    let binned: bool =
        provider_images::table.find(pk).select(provider_images::binned_at.is_not_null()).first(conn).await?;
    if binned {
        return Err(diesel::result::Error::NotFound);
    }
    let existing: Option<i64> = image_records::table
        .filter(image_records::account_id.eq(account.id))
        .filter(image_records::provider_image_id.eq(pk))
        .select(image_records::id)
        .first(conn)
        .await
        .optional()?;
    if let Some(record) = existing {
        return Ok((record, pk));
    }
    let record = diesel::insert_into(image_records::table)
        .values((
            image_records::account_id.eq(account.id),
            image_records::provider_image_id.eq(pk),
            image_records::name.eq(&image.name),
            image_records::description.eq(&image.description),
            image_records::owner_user_id.eq(owner_user_id),
            image_records::source.eq("public_launched"),
        ))
        .returning(image_records::id)
        .get_result(conn)
        .await?;
    Ok((record, pk))
}

/// What an API launch key was first used for: `None` when it is unused,
/// else whether `digest` is that request's.
pub async fn launch_key_matches(
    conn: &mut AsyncPgConnection,
    key: uuid::Uuid,
    digest: &[u8],
) -> QueryResult<Option<bool>> {
    use super::schema::launch_keys;
    let stored: Option<Vec<u8>> =
        launch_keys::table.find(key).select(launch_keys::request_digest).first(conn).await.optional()?;
    Ok(stored.map(|stored| stored == digest))
}

/// Notes the request an API launch key launched; a key already noted keeps
/// its first request.
pub async fn note_launch_key(
    conn: &mut AsyncPgConnection,
    key: uuid::Uuid,
    token_id: i64,
    digest: &[u8],
) -> QueryResult<()> {
    use super::schema::launch_keys;
    diesel::insert_into(launch_keys::table)
        .values((
            launch_keys::launch_key.eq(key),
            launch_keys::token_id.eq(token_id),
            launch_keys::request_digest.eq(digest),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

//! Sync jobs: the provider's view of an account's images and of its region's
//! public catalog, written into PostgreSQL, where pages read it.

use chrono::Utc;

use super::JobError;
use crate::cloud::{CloudProvider, ImageState, ProviderImage};
use crate::db::sync::ReportedImage;
use crate::db::{self, Pool, accounts::Account};
use crate::domain::images::Platform;

pub const OWN_IMAGES: &str = "sync_images";
pub const PUBLIC_CATALOG: &str = "sync_public_catalog";

pub fn reported(image: ProviderImage) -> ReportedImage {
    ReportedImage {
        platform: Platform::infer(&image.name, &image.description, image.windows).as_str(),
        state: match image.state {
            ImageState::Pending => "PENDING",
            ImageState::Available => "ACTIVE",
            // Gone from use, unless the console retired it itself
            // (`db::sync::own_images`).
            ImageState::Disabled | ImageState::Gone => "DELETED",
        },
        disabled: image.state == ImageState::Disabled,
        architecture: match image.architecture.as_str() {
            "i386" | "x86_64" | "arm64" => image.architecture,
            _ => "x86_64".into(),
        },
        created_at: image.created_at.unwrap_or_else(Utc::now),
        provider_image_id: image.id,
        name: image.name,
        description: image.description,
        owner_account_number: image.owner_account,
        owner_alias: image.owner_alias,
        is_public: image.public,
        root_device: image.root_device,
        min_disk_gb: image.min_disk_gb,
        deprecated_at: image.deprecated_at,
    }
}

pub async fn own_images(pool: &Pool, provider: &dyn CloudProvider, account: &Account) -> Result<(), JobError> {
    let images: Vec<ReportedImage> = provider.list_own_images().await?.into_iter().map(reported).collect();
    let mut conn = pool.get().await?;
    let counts = db::sync::own_images(&mut conn, account, &images).await?;
    tracing::info!(
        account = account.id,
        seen = counts.seen,
        added = counts.added,
        retired = counts.retired,
        "synced images"
    );
    Ok(())
}

pub async fn public_catalog(pool: &Pool, provider: &dyn CloudProvider, account: &Account) -> Result<(), JobError> {
    let images: Vec<ReportedImage> =
        provider.list_public_images().await?.into_iter().filter(|i| i.public).map(reported).collect();
    let mut conn = pool.get().await?;
    let counts = db::sync::public_catalog(&mut conn, &account.provider, &account.region, &images).await?;
    tracing::info!(region = %account.region, seen = counts.seen, added = counts.added, retired = counts.retired, "synced the public catalog");
    Ok(())
}

pub const PRODUCTS: &str = "sync_products";
pub const ZONES: &str = "sync_zones";
pub const FIREWALLS: &str = "sync_firewalls";
pub const KEY_PAIRS: &str = "sync_key_pairs";

/// Every sync kind, as the scheduler queues them.
pub const ALL: &[&str] =
    &[OWN_IMAGES, PUBLIC_CATALOG, PRODUCTS, ZONES, FIREWALLS, KEY_PAIRS, super::servers::SYNC_SERVERS];

/// The shipped EC2 price table: `(product, hourly rate)`.
pub fn shipped_prices() -> Vec<(String, bigdecimal::BigDecimal)> {
    include_str!("../cloud/ec2_prices.csv")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("product,"))
        .filter_map(|line| {
            let (product, rate) = line.split_once(',')?;
            Some((product.trim().to_owned(), rate.trim().parse().ok()?))
        })
        .collect()
}

pub async fn products(pool: &Pool, provider: &dyn CloudProvider, account: &Account) -> Result<(), JobError> {
    let reported: Vec<db::sync::ReportedProduct> = provider
        .list_instance_types()
        .await?
        .into_iter()
        .map(|t| db::sync::ReportedProduct {
            product_id: t.id,
            cpus: t.cpus,
            ram_mb: t.ram_mb,
            architectures: t.architectures,
        })
        .collect();
    let mut conn = pool.get().await?;
    db::sync::seed_prices(&mut conn, &account.provider, &account.region, &shipped_prices()).await?;
    let retired = db::sync::products(&mut conn, account.id, &reported).await?;
    tracing::info!(account = account.id, sizes = reported.len(), retired, "synced hardware sizes");
    Ok(())
}

pub async fn zones(pool: &Pool, provider: &dyn CloudProvider, account: &Account) -> Result<(), JobError> {
    let names = provider.list_zones().await?;
    let mut conn = pool.get().await?;
    db::sync::zones(&mut conn, account.id, &names).await?;
    Ok(())
}

pub async fn firewalls(pool: &Pool, provider: &dyn CloudProvider, account: &Account) -> Result<(), JobError> {
    // The database's clock, as the rule jobs note theirs (see
    // `db::firewall_rules`).
    let listed_at = db::sync::clock(&mut *pool.get().await?).await?;
    let groups = provider.list_security_groups().await?;
    let mut conn = pool.get().await?;
    db::sync::firewalls(&mut conn, account.id, &groups, listed_at).await?;
    Ok(())
}

pub async fn key_pairs(pool: &Pool, provider: &dyn CloudProvider, account: &Account) -> Result<(), JobError> {
    let keys: Vec<(String, String, Option<String>)> =
        provider.list_key_pairs().await?.into_iter().map(|k| (k.name, k.fingerprint, k.id)).collect();
    let mut conn = pool.get().await?;
    db::sync::key_pairs(&mut conn, account.id, &keys).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_price_table_parses() {
        let prices = super::shipped_prices();
        assert!(prices.len() > 20);
        let micro = prices.iter().find(|(p, _)| p == "t3.micro").expect("t3.micro");
        assert_eq!(micro.1.to_string(), "0.0104");
    }
}

//! Sync jobs: the provider's view of an account's images and of its region's
//! public catalog, written into PostgreSQL, where pages read it.

use chrono::Utc;

use super::JobError;
use crate::cloud::{CloudProvider, ImageState, ProviderImage};
use crate::db::sync::ReportedImage;
use crate::db::{self, Pool, accounts::Account};
use crate::domain::image::Platform;

pub const OWN_IMAGES: &str = "sync_images";
pub const PUBLIC_CATALOG: &str = "sync_public_catalog";

pub fn reported(image: ProviderImage) -> ReportedImage {
    ReportedImage {
        platform: Platform::infer(&image.name, &image.description, image.windows).as_str(),
        state: match image.state {
            ImageState::Pending => "PENDING",
            ImageState::Available => "ACTIVE",
            ImageState::Gone => "DELETED",
        },
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

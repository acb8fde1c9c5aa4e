//! Changes to image records: rename, relabel, deprecate, undeprecate,
//! delete and sharing.

use crate::db::{accounts::Account, images::ImageRow};
use crate::domain::access::Ownership;
use crate::domain::image::{ImageFacts, SharingSupport, Source};

/// How the account's provider can share images, as its kind documents it.
/// (Sharing is not among what a worker detects: every EC2 endpoint has it.)
fn provider_sharing(account: &Account) -> SharingSupport {
    crate::cloud::Capabilities::documented(&account.provider)
        .map(|c| SharingSupport { accounts: c.share_with_accounts, public: c.share_publicly })
        .unwrap_or_default()
}

/// The facts that decide what a user may do to a record of `account`;
/// `None` for a record of unknown source (it offers nothing).
pub fn facts(account: &Account, row: &ImageRow) -> Option<ImageFacts> {
    let ownership =
        Ownership { owner_user: row.owner_user_id, owner_group: row.owner_group_id, budget_code: row.budget_code_id };
    Source::from_stored(&row.source).map(|source| ImageFacts {
        source,
        active: row.state == "ACTIVE",
        deprecated: row.deprecated_at.is_some(),
        ownership,
        provider: provider_sharing(account),
    })
}

//! What every request handler can reach: the database pool, how jobs are
//! run, the process's provider connections and the provided-image owners.
//! Its own module, so that `auth` and `web` both use it without `auth`
//! depending on the pages.

use crate::db::Pool;

/// What every handler can reach.
pub struct AppState {
    pub pool: Pool,
    /// How jobs queued by pages are run, and how providers are reached.
    pub jobs: crate::jobs::JobSettings,
    /// Provider connections of this process, shared by its workers; pages
    /// use them for the one synchronous call (creating a key pair).
    pub providers: std::sync::Arc<crate::jobs::Providers>,
    /// Owners whose public images are provided (badged, offered first).
    pub provided_owners: std::sync::Arc<[String]>,
    /// The reverse proxies whose `Forwarded` headers are believed.
    pub trusted_proxies: std::sync::Arc<[ipnet::IpNet]>,
}

impl AppState {
    /// How often a job queued by a page is tried at the provider.
    pub fn job_attempts(&self) -> i32 {
        self.jobs.max_attempts
    }

    /// Whether a public image of this owner is a provided one.
    pub fn provided(&self, owner_account_number: &str) -> bool {
        self.provided_owners.iter().any(|o| o == owner_account_number)
    }

    /// The provider of an account, for the few calls a page makes itself.
    pub async fn provider(
        &self,
        account: &crate::db::accounts::Account,
    ) -> Result<std::sync::Arc<dyn crate::cloud::CloudProvider>, crate::jobs::JobError> {
        Ok(self.providers.for_account(&self.pool, &self.jobs, account).await?.provider)
    }
}

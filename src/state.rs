//! What every request handler can reach: the database pool, how jobs are
//! run, the process's provider connections and the provided-image owners.
//! Its own module, so that `auth` and `web` both use it without `auth`
//! depending on the pages.

use crate::db::Pool;

/// What every handler can reach.
pub struct AppState {
    pub pool: Pool,
    /// Connections for the keyset lists of image records (`db::ListPool`).
    pub lists: crate::db::ListPool,
    /// How jobs queued by pages are run, and how providers are reached.
    pub jobs: crate::jobs::JobSettings,
    /// Provider connections of this process, shared by its workers; pages
    /// use them for the one synchronous call (creating a key pair).
    pub providers: std::sync::Arc<crate::jobs::Providers>,
    /// Owners whose public images are provided (badged, offered first).
    pub provided_owners: std::sync::Arc<[String]>,
    /// The reverse proxies whose `Forwarded` headers are believed.
    pub trusted_proxies: std::sync::Arc<[ipnet::IpNet]>,
    /// Open until the console has a company: then only `/setup` is served.
    pub setup: std::sync::Arc<crate::auth::setup::SetupGate>,
    /// The AWS account of the console's own credentials, once asked.
    pub own_account: std::sync::Arc<tokio::sync::OnceCell<String>>,
    /// Each API token's allowance of requests, shared by the workers.
    pub api_rate: std::sync::Arc<crate::api::RateLimit>,
    /// Signed-in users' authorization contexts, shared by the workers.
    pub access: std::sync::Arc<crate::auth::current::AccessCache>,
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

    /// The AWS account of the console's own credentials, asked once: what
    /// the trust policy of a role the console assumes names.
    pub async fn own_account(&self) -> Option<String> {
        let connection = self.jobs.reach("us-east-1", None, crate::cloud::Credentials::Ambient);
        self.own_account
            .get_or_try_init(|| async { crate::cloud::verify::own_account(&connection).await.ok_or(()) })
            .await
            .ok()
            .cloned()
    }

    /// The provider of an account, for the few calls a page makes itself.
    pub async fn provider(
        &self,
        account: &crate::db::accounts::Account,
    ) -> Result<std::sync::Arc<dyn crate::cloud::CloudProvider>, crate::jobs::JobError> {
        Ok(self.providers.for_account(&self.pool, &self.jobs, account).await?.provider)
    }
}

//! Cloud providers: one trait, `CloudProvider`, with the operations the
//! console needs and the capabilities the UI reads. It knows no database and
//! no pages; pages reach a provider only through jobs.
//!
//! The first implementation speaks the EC2 API (`ec2`), against real AWS or
//! any EC2-compatible endpoint such as the local moto server.

pub mod ec2;
pub mod verify;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use crate::domain::firewalls::Rule;

/// What a provider can and cannot do. Detected or configured, never assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    /// Launch permissions for other accounts.
    pub share_with_accounts: bool,
    /// Launch permission for everyone.
    pub share_publicly: bool,
    /// The provider keeps an image's deprecation time (else the console
    /// keeps it alone).
    pub deprecate: bool,
    /// The provider can disable an image (EC2 DisableImage: launches are
    /// refused and it leaves other accounts' lists) when it is retired.
    #[serde(default)]
    pub disable: bool,
    /// Volumes can be encrypted by the provider.
    pub encrypted_volumes: bool,
    /// Windows images need a key pair to launch.
    pub windows_needs_key_pair: bool,
}

impl Capabilities {
    /// What a provider kind documents, for pages shown before a worker has
    /// connected and detected the rest. Deprecation, which compatible
    /// endpoints may lack, counts as absent until detected.
    pub fn documented(provider: &str) -> Option<Self> {
        match provider {
            "ec2" => Some(Self {
                share_with_accounts: true,
                share_publicly: true,
                deprecate: false,
                disable: false,
                encrypted_volumes: true,
                windows_needs_key_pair: true,
            }),
            _ => None,
        }
    }
}

/// An image as the provider describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderImage {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner_account: String,
    pub owner_alias: Option<String>,
    pub architecture: String,
    /// True for Windows images (the provider says so; other platforms are
    /// inferred from names by `domain::images::Platform::infer`).
    pub windows: bool,
    pub state: ImageState,
    pub public: bool,
    pub root_device: String,
    pub min_disk_gb: i32,
    pub created_at: Option<DateTime<Utc>>,
    pub deprecated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageState {
    Pending,
    Available,
    /// Kept, but nobody may launch it (EC2's DisableImage): how the
    /// console retires an image into the recycle bin.
    Disabled,
    Gone,
}

/// Who may launch an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchPermission {
    Account(String),
    Public,
}

/// A request to start servers from an image.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub image_id: String,
    pub instance_type: String,
    pub zone: Option<String>,
    /// Security group ids (`sg-…`).
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub user_data: Option<String>,
    /// Extra block devices, attached at launch.
    pub volumes: Vec<Volume>,
    pub name: String,
    /// Makes a retried request start no second server: sent as EC2's
    /// `ClientToken` and kept as a tag that is looked up first.
    pub idempotency_key: String,
}

/// A block device attached at launch; deleted with the server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Volume {
    /// The device name of the mapping, e.g. `/dev/sdf`.
    pub device: String,
    pub size_gb: i32,
    /// Encrypted by the provider.
    pub encrypted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: String,
    pub image_id: String,
    pub state: InstanceState,
    pub instance_type: String,
    pub zone: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub launched_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    Pending,
    Running,
    Stopping,
    Stopped,
    ShuttingDown,
    Terminated,
}

/// A key pair; the private key exists only in the answer to a create (and
/// never shows in `Debug`, so a log line cannot leak it).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub name: String,
    pub fingerprint: String,
    pub id: Option<String>,
    pub private_key: Option<String>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("name", &self.name)
            .field("fingerprint", &self.fingerprint)
            .field("id", &self.id)
            .field("private_key", &self.private_key.as_ref().map(|_| "hidden"))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    /// What it lets in.
    pub inbound: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceType {
    pub id: String,
    pub cpus: i32,
    pub ram_mb: i64,
    pub architectures: Vec<String>,
}

/// A provider call that failed, in words a person understands.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CloudError {
    /// The provider did not answer (connection refused, timeout): retry later.
    #[error("the cloud provider is unreachable: {0}")]
    Unreachable(String),
    /// The provider refused: retrying the same request will not help.
    #[error("{message} ({code})")]
    Refused { code: String, message: String },
    /// The provider lacks the capability.
    #[error("the cloud provider does not support {0}")]
    Unsupported(&'static str),
    /// The provider limits the account's rate of requests, or asks for a
    /// later try: retry later.
    #[error("the cloud provider asks to try again later: {0}")]
    Busy(String),
    /// Anything else the provider answered; may succeed on retry.
    #[error("the cloud provider failed: {0}")]
    Failed(String),
}

impl CloudError {
    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, CloudError::Unreachable(_) | CloudError::Busy(_) | CloudError::Failed(_))
    }
}

pub type CloudResult<T> = Result<T, CloudError>;

/// Where and as whom to reach a provider for one account.
#[derive(Debug, Clone)]
pub struct Connection {
    pub region: String,
    /// An EC2-compatible endpoint instead of AWS's. It is reached exactly
    /// as AWS is: the same credentials, and the account they belong to.
    pub endpoint: Option<String>,
    pub credentials: Credentials,
    pub connect_timeout: Duration,
    pub call_timeout: Duration,
}

/// As whom the console calls the provider for an account. The account is
/// the one the credentials belong to, at AWS and at any compatible endpoint.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Assume the IAM role `role_arn` in the account, with the company's
    /// `external_id`, from the console's own credentials: AWS's way for one
    /// account to act in another. The temporary credentials are renewed
    /// before they expire.
    AssumeRole { role_arn: String, external_id: String },
    /// An IAM user's access key in the account.
    AccessKey { access_key_id: String, secret_access_key: Secret },
    /// The console's own credentials, from its environment (the SDK's
    /// default chain: variables, profile, instance role).
    Ambient,
}

/// A secret that never shows in a log line or a debug print.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// How long EC2 may leave what it has just made, an instance launched or an
/// image created, out of its listings (DescribeInstances and DescribeImages
/// are eventually consistent; AWS speaks of seconds to minutes). A sync
/// takes something the provider does not list as gone only once the console
/// has known its id for longer than this.
pub const LISTING_LAG: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

#[async_trait]
pub trait CloudProvider: Send + Sync {
    fn capabilities(&self) -> Capabilities;

    /// Cheap call that tells whether the provider answers.
    async fn ping(&self) -> CloudResult<()>;

    async fn list_own_images(&self) -> CloudResult<Vec<ProviderImage>>;
    async fn list_public_images(&self) -> CloudResult<Vec<ProviderImage>>;
    async fn describe_image(&self, image_id: &str) -> CloudResult<Option<ProviderImage>>;
    async fn create_image(&self, instance_id: &str, name: &str, description: &str) -> CloudResult<String>;
    async fn deregister_image(&self, image_id: &str) -> CloudResult<()>;
    async fn add_launch_permission(&self, image_id: &str, who: &LaunchPermission) -> CloudResult<()>;
    async fn remove_launch_permission(&self, image_id: &str, who: &LaunchPermission) -> CloudResult<()>;
    /// Who besides the owner may launch the image.
    async fn launch_permissions(&self, image_id: &str) -> CloudResult<Vec<LaunchPermission>>;
    async fn set_deprecation(&self, image_id: &str, at: Option<DateTime<Utc>>) -> CloudResult<()>;
    /// Disables an image (a retired one): launches are refused.
    async fn disable_image(&self, image_id: &str) -> CloudResult<()>;
    /// Enables a disabled image again (a retired one restored).
    async fn enable_image(&self, image_id: &str) -> CloudResult<()>;

    async fn run_instance(&self, request: &RunRequest) -> CloudResult<Instance>;
    /// The instance a launch with this idempotency key started, if the
    /// provider has it: a launch whose answer was lost.
    async fn launched_with(&self, idempotency_key: &str) -> CloudResult<Option<Instance>>;
    /// The given instances the provider has (an id it does not know is left
    /// out, not an error), or every instance of the account when none given.
    async fn describe_instances(&self, instance_ids: &[String]) -> CloudResult<Vec<Instance>>;
    /// Of the given instances, those whose status checks pass: ready for use.
    async fn ready_instances(&self, instance_ids: &[String]) -> CloudResult<Vec<String>>;
    async fn stop_instance(&self, instance_id: &str) -> CloudResult<()>;
    async fn start_instance(&self, instance_id: &str) -> CloudResult<()>;
    async fn reboot_instance(&self, instance_id: &str) -> CloudResult<()>;
    async fn terminate_instance(&self, instance_id: &str) -> CloudResult<()>;

    async fn create_key_pair(&self, name: &str) -> CloudResult<KeyPair>;
    async fn import_key_pair(&self, name: &str, public_key: &str) -> CloudResult<KeyPair>;
    async fn list_key_pairs(&self) -> CloudResult<Vec<KeyPair>>;
    /// The public key (OpenSSH) the provider holds for key pair `name`;
    /// `None` when it has no key pair of that name.
    async fn public_key(&self, name: &str) -> CloudResult<Option<String>>;
    async fn list_security_groups(&self) -> CloudResult<Vec<SecurityGroup>>;
    async fn create_security_group(&self, name: &str, description: &str) -> CloudResult<SecurityGroup>;
    /// Deletes a key pair by name; one that is already gone counts as deleted.
    async fn delete_key_pair(&self, name: &str) -> CloudResult<()>;
    /// Deletes a security group by its id (`sg-…`).
    async fn delete_security_group(&self, group_id: &str) -> CloudResult<()>;
    /// Lets `rule` in through security group `group_id`; a rule the group
    /// has already counts as added.
    async fn authorize_ingress(&self, group_id: &str, rule: &Rule) -> CloudResult<()>;
    /// Takes `rule` out of security group `group_id`; a rule it no longer
    /// has counts as removed.
    async fn revoke_ingress(&self, group_id: &str, rule: &Rule) -> CloudResult<()>;
    async fn list_instance_types(&self) -> CloudResult<Vec<InstanceType>>;
    async fn list_zones(&self) -> CloudResult<Vec<String>>;
}

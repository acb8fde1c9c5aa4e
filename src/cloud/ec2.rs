//! The EC2 API through `aws-sdk-ec2`: real AWS, or an EC2-compatible
//! endpoint reached exactly as AWS is (the credentials say which account).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::{BehaviorVersion, Region};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::RequestId as _;
use aws_sdk_ec2::primitives::{Blob, DateTime as AwsDateTime};
use aws_sdk_ec2::types::{
    Filter, Image, IpPermission, IpRange, Ipv6Range, LaunchPermission as Ec2LaunchPermission,
    LaunchPermissionModifications, PermissionGroup, Placement, PrefixListId, ResourceType, Tag, TagSpecification,
    UserIdGroupPair,
};
use aws_smithy_types::timeout::TimeoutConfig;
use base64::Engine as _;
use chrono::{DateTime, Utc};

use super::{
    Capabilities, CloudError, CloudProvider, CloudResult, Connection, Credentials, ImageState, Instance, InstanceState,
    InstanceType, KeyPair, LaunchPermission, ProviderImage, Rule, RunRequest, SecurityGroup,
};

/// Every EC2 action the console calls, for the IAM policy of the role it
/// assumes (README, "Use it with your AWS accounts"). `CreateTags` is the
/// permission to tag at launch. A test keeps this list, the calls in this
/// file and the README's policy in step.
pub const EC2_ACTIONS: &[&str] = &[
    "AuthorizeSecurityGroupIngress",
    "CreateImage",
    "CreateKeyPair",
    "CreateSecurityGroup",
    "CreateTags",
    "DeleteKeyPair",
    "DeleteSecurityGroup",
    "DeregisterImage",
    "DescribeAvailabilityZones",
    "DescribeImageAttribute",
    "DescribeImages",
    "DescribeInstanceAttribute",
    "DescribeInstanceStatus",
    "DescribeInstanceTypes",
    "DescribeInstances",
    "DescribeKeyPairs",
    "DescribeSecurityGroups",
    "DescribeVolumes",
    "DisableImage",
    "DisableImageDeprecation",
    "EnableImage",
    "EnableImageDeprecation",
    "ImportKeyPair",
    "ModifyImageAttribute",
    "RebootInstances",
    "RevokeSecurityGroupIngress",
    "RunInstances",
    "StartInstances",
    "StopInstances",
    "TerminateInstances",
];

/// The tag that carries a launch's idempotency key.
const IDEMPOTENCY_TAG: &str = "stratus:idempotency-key";

pub struct Ec2Provider {
    client: Client,
    capabilities: Capabilities,
}

impl Ec2Provider {
    /// Connects, and detects what the endpoint can do the first time this
    /// process connects to it.
    pub async fn connect(connection: &Connection) -> CloudResult<Arc<Self>> {
        let shared = sdk_config(connection).await;
        let client = Client::new(&shared);
        let endpoint = (connection.endpoint.clone(), connection.region.clone());
        let known = detected().lock().ok().and_then(|found| found.get(&endpoint).copied());
        let (deprecate, disable) = match known {
            Some(found) => found,
            None => {
                let found = (detect_deprecation(&client).await?, detect_disable(&client).await?);
                if let Ok(mut detected) = detected().lock() {
                    detected.insert(endpoint, found);
                }
                found
            }
        };
        let capabilities = Capabilities {
            share_with_accounts: true,
            share_publicly: true,
            deprecate,
            disable,
            encrypted_volumes: true,
            windows_needs_key_pair: true,
        };
        Ok(Arc::new(Self { client, capabilities }))
    }
}

/// The SDK's configuration for `connection`: its region, timeouts and
/// endpoint (for every service the console calls: EC2, and STS to assume a
/// role), signed as its credentials say.
pub(super) async fn sdk_config(connection: &Connection) -> aws_config::SdkConfig {
    let shared = base_config(connection);
    match &connection.credentials {
        Credentials::Ambient => shared.load().await,
        Credentials::AccessKey { access_key_id, secret_access_key } => {
            shared.credentials_provider(static_key(access_key_id, secret_access_key.expose(), None)).load().await
        }
        Credentials::AssumeRole { role_arn, external_id } => {
            // The console's own credentials assume the role; the provider
            // renews the temporary credentials it gets.
            let own = shared.load().await;
            let role = aws_config::sts::AssumeRoleProvider::builder(role_arn)
                .external_id(external_id)
                .session_name("stratus-console")
                .configure(&own)
                .build()
                .await;
            own.into_builder().credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(role)).build()
        }
    }
}

/// Region, timeouts and endpoint, before any credentials.
pub(super) fn base_config(connection: &Connection) -> aws_config::ConfigLoader {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(connection.connect_timeout)
        .operation_timeout(connection.call_timeout)
        .build();
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(connection.region.clone()))
        .timeout_config(timeouts);
    match &connection.endpoint {
        Some(endpoint) => shared.endpoint_url(endpoint),
        None => shared,
    }
}

/// Fixed credentials: an access key, with a session token when temporary.
pub(super) fn static_key(
    access_key_id: &str,
    secret: &str,
    session_token: Option<String>,
) -> aws_sdk_ec2::config::SharedCredentialsProvider {
    aws_sdk_ec2::config::SharedCredentialsProvider::new(aws_sdk_ec2::config::Credentials::new(
        access_key_id,
        secret,
        session_token,
        None,
        "stratus-console",
    ))
}

/// A capability probe is asked once: an endpoint that fails it lacks the
/// capability, and waiting for the SDK's retries of that failure (a second
/// or more, on every connection) would learn nothing more.
fn probe_once() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::new().retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
}

/// Whether each endpoint (`None`: AWS's) in each region keeps deprecation
/// times and disables images, as its probes answered. Every job connects,
/// and the two probes would be two more calls per job, counted against the
/// account's API rate; what an endpoint can do is asked once per process.
/// Only an answer is kept: a probe that met a busy or unreachable endpoint
/// is asked again at the next connection.
type Detected = Mutex<HashMap<(Option<String>, String), (bool, bool)>>;

fn detected() -> &'static Detected {
    static DETECTED: OnceLock<Detected> = OnceLock::new();
    DETECTED.get_or_init(Default::default)
}

/// EC2 keeps deprecation times; some compatible endpoints (moto) fail on
/// them. Asking about an image that cannot exist tells which without
/// touching anything: EC2 answers "not found", moto fails.
async fn detect_deprecation(client: &Client) -> CloudResult<bool> {
    let probe = client
        .enable_image_deprecation()
        .image_id("ami-00000000000000000")
        .deprecate_at(AwsDateTime::from_secs(4_102_444_800))
        .customize()
        .config_override(probe_once())
        .send()
        .await;
    capability_of(probe)
}

/// Whether the endpoint disables images: asked of an image that does not
/// exist, it answers with that (it knows the call) or fails otherwise.
async fn detect_disable(client: &Client) -> CloudResult<bool> {
    let probe =
        client.disable_image().image_id("ami-00000000000000000").customize().config_override(probe_once()).send().await;
    capability_of(probe)
}

/// What a capability probe's answer says. An endpoint that knows the call
/// refuses the image that cannot exist. One that lacks it fails without an
/// EC2 error code (the local endpoint answers 500 with a page of HTML). A
/// provider that is busy, unreachable, or failed with an error of its own
/// (EC2's `InternalError`) has not said whether it can: ask again later.
/// Nor has one that was never asked (credentials that could not be had):
/// that is the connection's error. So every answer kept ([`detected`]) is
/// the endpoint's own.
fn capability_of<O, E, R>(probe: Result<O, SdkError<E, R>>) -> CloudResult<bool>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let answered = matches!(&probe, Ok(_) | Err(SdkError::ServiceError(_)));
    let coded = matches!(&probe, Err(SdkError::ServiceError(e)) if e.err().code().is_some_and(|c| !c.is_empty()));
    match probe.map_err(map_error) {
        Ok(_) | Err(CloudError::Refused { .. }) => Ok(true),
        Err(e @ (CloudError::Unreachable(_) | CloudError::Busy(_))) => Err(e),
        Err(CloudError::Failed(message)) if coded => Err(CloudError::Busy(message)),
        Err(e) if !answered => Err(e),
        Err(_) => Ok(false),
    }
}

/// The rules of one of EC2's `IpPermissions`: one per source it names.
fn rules_of(permission: &IpPermission) -> Vec<Rule> {
    let Some(protocol) = permission.ip_protocol() else { return Vec::new() };
    // All traffic has no ports, whatever a compatible endpoint writes there.
    let ports = match (protocol, permission.from_port(), permission.to_port()) {
        ("-1", _, _) => (None, None),
        (_, Some(from), Some(to)) => (Some(from), Some(to)),
        _ => (None, None),
    };
    let sources = permission
        .ip_ranges()
        .iter()
        .filter_map(|r| r.cidr_ip())
        .chain(permission.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6()))
        .chain(permission.user_id_group_pairs().iter().filter_map(|p| p.group_id()))
        .chain(permission.prefix_list_ids().iter().filter_map(|p| p.prefix_list_id()));
    sources
        .map(|source| Rule {
            protocol: protocol.to_owned(),
            from_port: ports.0,
            to_port: ports.1,
            source: source.to_owned(),
        })
        .collect()
}

/// A change the provider refused with `done` (the code of "it is so
/// already") counts as made.
fn settled(sent: CloudResult<()>, done: &str) -> CloudResult<()> {
    match sent {
        Err(CloudError::Refused { code, .. }) if code == done => Ok(()),
        other => other,
    }
}

/// `rule` as one of EC2's `IpPermissions`.
fn ip_permission(rule: &Rule) -> IpPermission {
    let source = rule.source.as_str();
    let permission =
        IpPermission::builder().ip_protocol(&rule.protocol).set_from_port(rule.from_port).set_to_port(rule.to_port);
    let permission = if source.starts_with("sg-") {
        permission.user_id_group_pairs(UserIdGroupPair::builder().group_id(source).build())
    } else if source.starts_with("pl-") {
        permission.prefix_list_ids(PrefixListId::builder().prefix_list_id(source).build())
    } else if source.contains(':') {
        permission.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(source).build())
    } else {
        permission.ip_ranges(IpRange::builder().cidr_ip(source).build())
    };
    permission.build()
}

/// Maps the SDK's errors to ones a person can read, keeping EC2's code.
fn map_error<E, R>(error: SdkError<E, R>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::DispatchFailure(e) => CloudError::Unreachable(if e.is_timeout() {
            "no answer in time".into()
        } else {
            "connection failed".into()
        }),
        SdkError::TimeoutError(_) => CloudError::Unreachable("no answer in time".into()),
        SdkError::ServiceError(service) => {
            let err = service.err();
            // Many refusals are expected and handled by the caller (a lookup
            // of an image that is gone, a capability probe); one that fails a
            // request or a job is logged at WARN where it does.
            tracing::debug!(
                code = err.code().unwrap_or("none"),
                request_id = err.meta().request_id().unwrap_or("none"),
                "the provider refused a call"
            );
            let message = err.message().unwrap_or("no message");
            match err.code() {
                Some(code) if busy(code) => CloudError::Busy(format!("{message} ({code})")),
                Some(code) if !code.is_empty() && !code.starts_with("InternalError") && code != "Unavailable" => {
                    CloudError::Refused {
                        code: code.to_owned(),
                        message: explain(code, err.message().unwrap_or("the provider refused the request")),
                    }
                }
                _ => CloudError::Failed(err.message().unwrap_or("internal error").to_owned()),
            }
        }
        _ => CloudError::Failed(aws_sdk_ec2::error::DisplayErrorContext(&error).to_string()),
    }
}

/// Whether EC2's error `code` asks for a later try: a limit on the
/// account's rate of requests, or a service busy for now (the codes the
/// SDK's own retry classifier takes as throttling or transient). The SDK has
/// retried a few times already; the job queue's backoff tries again later,
/// where a refusal would fail the job for good at once.
fn busy(code: &str) -> bool {
    use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
    code == "ServiceUnavailable" || THROTTLING_ERRORS.contains(&code) || TRANSIENT_ERRORS.contains(&code)
}

/// EC2's error codes in words.
fn explain(code: &str, message: &str) -> String {
    let plain = match code {
        "InvalidAMIID.NotFound" | "InvalidAMIID.Unavailable" => "The image no longer exists at the provider.",
        "InvalidInstanceID.NotFound" => "The server no longer exists at the provider.",
        "UnauthorizedOperation" | "AuthFailure" => "The account's cloud credentials do not allow this.",
        "InstanceLimitExceeded" | "VcpuLimitExceeded" => "The account has reached its limit of servers.",
        "InsufficientInstanceCapacity" => "The provider has no capacity for this size in this zone right now.",
        "InvalidKeyPair.Duplicate" => "A key pair with this name already exists.",
        "InvalidKeyPair.NotFound" => "The key pair does not exist at the provider.",
        "InvalidGroup.Duplicate" => "A firewall with this name already exists.",
        "InvalidGroup.NotFound" => "The firewall does not exist at the provider.",
        "DependencyViolation" => "It is still in use at the provider (by a server, or by another firewall's rule).",
        "CannotDelete" => "The provider does not allow deleting this firewall.",
        "IncorrectInstanceState" => "The server is not in a state that allows this.",
        _ => return message.to_owned(),
    };
    plain.to_owned()
}

fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

/// The deprecation time to send for one wanted `at`. EC2 refuses a time in
/// the past and rounds to the minute, and a deprecation "now" reaches it
/// only when its job runs, a poll or a retry later: a time less than a
/// minute ahead of `now` is sent as the first whole minute at least a
/// minute ahead.
fn deprecate_at(at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let soonest = now + chrono::TimeDelta::minutes(1);
    if at >= soonest {
        return at;
    }
    let secs = soonest.timestamp() + i64::from(soonest.timestamp_subsec_nanos() > 0);
    DateTime::from_timestamp((secs + 59).div_euclid(60) * 60, 0).unwrap_or(soonest)
}

fn aws_time(at: &AwsDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(at.secs(), at.subsec_nanos())
}

fn image(image: &Image) -> Option<ProviderImage> {
    use aws_sdk_ec2::types::ImageState as S;
    let state = match image.state()? {
        S::Available => ImageState::Available,
        S::Pending | S::Transient => ImageState::Pending,
        S::Disabled => ImageState::Disabled,
        _ => ImageState::Gone,
    };
    Some(ProviderImage {
        id: image.image_id()?.to_owned(),
        name: image.name().unwrap_or_default().to_owned(),
        description: image.description().unwrap_or_default().to_owned(),
        owner_account: image.owner_id().unwrap_or_default().to_owned(),
        owner_alias: image.image_owner_alias().map(str::to_owned),
        architecture: image.architecture().map_or("x86_64", |a| a.as_str()).replace("arm64_mac", "arm64"),
        windows: image.platform().is_some_and(|p| p.as_str() == "windows"),
        state,
        public: image.public().unwrap_or(false),
        root_device: image.root_device_type().map_or("ebs", |r| r.as_str()).to_owned(),
        min_disk_gb: image.block_device_mappings().iter().filter_map(|m| m.ebs()?.volume_size()).max().unwrap_or(8),
        created_at: parse_time(image.creation_date()),
        deprecated_at: parse_time(image.deprecation_time()),
    })
}

fn instance(instance: &aws_sdk_ec2::types::Instance) -> Option<Instance> {
    use aws_sdk_ec2::types::InstanceStateName as S;
    let state = match instance.state()?.name()? {
        S::Pending => InstanceState::Pending,
        S::Running => InstanceState::Running,
        S::Stopping => InstanceState::Stopping,
        S::Stopped => InstanceState::Stopped,
        S::ShuttingDown => InstanceState::ShuttingDown,
        _ => InstanceState::Terminated,
    };
    Some(Instance {
        id: instance.instance_id()?.to_owned(),
        image_id: instance.image_id().unwrap_or_default().to_owned(),
        state,
        instance_type: instance.instance_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        zone: instance.placement().and_then(|p| p.availability_zone()).map(str::to_owned),
        private_ip: instance.private_ip_address().map(str::to_owned),
        public_ip: instance.public_ip_address().map(str::to_owned),
        launched_at: instance.launch_time().and_then(aws_time),
    })
}

fn permission(who: &LaunchPermission) -> Ec2LaunchPermission {
    match who {
        LaunchPermission::Account(number) => Ec2LaunchPermission::builder().user_id(number).build(),
        LaunchPermission::Public => Ec2LaunchPermission::builder().group(PermissionGroup::All).build(),
    }
}

/// Everything the provider says about one instance's launch settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDetails {
    pub instance_type: String,
    pub key_name: Option<String>,
    pub security_group_ids: Vec<String>,
    /// `(device, size GB, encrypted)` of every EBS volume but the root.
    pub volumes: Vec<(String, i32, bool)>,
    pub user_data: Option<String>,
}

impl Ec2Provider {
    /// An instance's type, key, security groups, extra volumes and user data,
    /// as EC2 reports them (for operators checking a launch, and for tests).
    pub async fn instance_details(&self, instance_id: &str) -> CloudResult<InstanceDetails> {
        let out = self.client.describe_instances().instance_ids(instance_id).send().await.map_err(map_error)?;
        let instance = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .ok_or_else(|| CloudError::Failed(format!("{instance_id} is not described")))?;
        let root = instance.root_device_name().unwrap_or_default();
        let mut volumes = Vec::new();
        for mapping in instance.block_device_mappings() {
            let (Some(device), Some(volume)) = (mapping.device_name(), mapping.ebs().and_then(|e| e.volume_id()))
            else {
                continue;
            };
            if device == root {
                continue;
            }
            let described = self.client.describe_volumes().volume_ids(volume).send().await.map_err(map_error)?;
            if let Some(v) = described.volumes().first() {
                volumes.push((device.to_owned(), v.size().unwrap_or_default(), v.encrypted().unwrap_or_default()));
            }
        }
        let attribute = self
            .client
            .describe_instance_attribute()
            .instance_id(instance_id)
            .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
            .send()
            .await
            .map_err(map_error)?;
        let user_data = attribute
            .user_data()
            .and_then(|d| d.value())
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        Ok(InstanceDetails {
            instance_type: instance.instance_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            key_name: instance.key_name().map(str::to_owned),
            security_group_ids: instance
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_owned))
                .collect(),
            volumes,
            user_data,
        })
    }

    async fn images(&self, owners: Option<&str>, executable_by: Option<&str>) -> CloudResult<Vec<ProviderImage>> {
        let mut pages = self
            .client
            .describe_images()
            .set_owners(owners.map(|o| vec![o.to_owned()]))
            .set_executable_users(executable_by.map(|e| vec![e.to_owned()]))
            // EC2 leaves disabled images out unless asked: the account's
            // retired images would read as deleted.
            .set_include_disabled(owners.map(|_| true))
            .into_paginator()
            .send();
        let mut images = Vec::new();
        while let Some(page) = pages.next().await {
            images.extend(page.map_err(map_error)?.images().iter().filter_map(image));
        }
        Ok(images)
    }

    async fn change_launch_permissions(
        &self,
        image_id: &str,
        change: LaunchPermissionModifications,
    ) -> CloudResult<()> {
        self.client
            .modify_image_attribute()
            .image_id(image_id)
            .launch_permission(change)
            .send()
            .await
            .map_err(map_error)?;
        Ok(())
    }

    /// The account's instances that `filter` selects (every one without).
    async fn instances_by(&self, filter: Option<Filter>) -> CloudResult<Vec<Instance>> {
        let mut pages = self.client.describe_instances().set_filters(filter.map(|f| vec![f])).into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            for reservation in page.map_err(map_error)?.reservations() {
                found.extend(reservation.instances().iter().filter_map(instance));
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl CloudProvider for Ec2Provider {
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn ping(&self) -> CloudResult<()> {
        self.client.describe_availability_zones().send().await.map_err(map_error)?;
        Ok(())
    }

    async fn list_own_images(&self) -> CloudResult<Vec<ProviderImage>> {
        self.images(Some("self"), None).await
    }

    async fn list_public_images(&self) -> CloudResult<Vec<ProviderImage>> {
        self.images(None, Some("all")).await
    }

    async fn describe_image(&self, image_id: &str) -> CloudResult<Option<ProviderImage>> {
        match self.client.describe_images().image_ids(image_id).include_disabled(true).send().await.map_err(map_error) {
            Ok(out) => Ok(out.images().iter().find_map(image)),
            Err(CloudError::Refused { code, .. }) if code.starts_with("InvalidAMIID") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_image(&self, instance_id: &str, name: &str, description: &str) -> CloudResult<String> {
        let out = self
            .client
            .create_image()
            .instance_id(instance_id)
            .name(name)
            .description(description)
            .send()
            .await
            .map_err(map_error)?;
        out.image_id().map(str::to_owned).ok_or_else(|| CloudError::Failed("no image id in the answer".into()))
    }

    async fn deregister_image(&self, image_id: &str) -> CloudResult<()> {
        self.client.deregister_image().image_id(image_id).send().await.map_err(map_error)?;
        Ok(())
    }

    async fn add_launch_permission(&self, image_id: &str, who: &LaunchPermission) -> CloudResult<()> {
        self.change_launch_permissions(image_id, LaunchPermissionModifications::builder().add(permission(who)).build())
            .await
    }

    async fn remove_launch_permission(&self, image_id: &str, who: &LaunchPermission) -> CloudResult<()> {
        self.change_launch_permissions(
            image_id,
            LaunchPermissionModifications::builder().remove(permission(who)).build(),
        )
        .await
    }

    async fn launch_permissions(&self, image_id: &str) -> CloudResult<Vec<LaunchPermission>> {
        let out = self
            .client
            .describe_image_attribute()
            .image_id(image_id)
            .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
            .send()
            .await
            .map_err(map_error)?;
        Ok(out
            .launch_permissions()
            .iter()
            .filter_map(|p| match (p.user_id(), p.group()) {
                (Some(account), _) => Some(LaunchPermission::Account(account.to_owned())),
                (None, Some(aws_sdk_ec2::types::PermissionGroup::All)) => Some(LaunchPermission::Public),
                _ => None,
            })
            .collect())
    }

    async fn disable_image(&self, image_id: &str) -> CloudResult<()> {
        if !self.capabilities.disable {
            return Err(CloudError::Unsupported("disabling images"));
        }
        self.client.disable_image().image_id(image_id).send().await.map_err(map_error)?;
        Ok(())
    }

    async fn enable_image(&self, image_id: &str) -> CloudResult<()> {
        if !self.capabilities.disable {
            return Err(CloudError::Unsupported("disabling images"));
        }
        self.client.enable_image().image_id(image_id).send().await.map_err(map_error)?;
        Ok(())
    }

    async fn set_deprecation(&self, image_id: &str, at: Option<DateTime<Utc>>) -> CloudResult<()> {
        if !self.capabilities.deprecate {
            return Err(CloudError::Unsupported("image deprecation"));
        }
        match at {
            Some(at) => {
                self.client
                    .enable_image_deprecation()
                    .image_id(image_id)
                    .deprecate_at(AwsDateTime::from_secs(deprecate_at(at, Utc::now()).timestamp()))
                    .send()
                    .await
                    .map_err(map_error)?;
            }
            None => {
                self.client.disable_image_deprecation().image_id(image_id).send().await.map_err(map_error)?;
            }
        }
        Ok(())
    }

    async fn launched_with(&self, idempotency_key: &str) -> CloudResult<Option<Instance>> {
        let tagged = Filter::builder().name(format!("tag:{IDEMPOTENCY_TAG}")).values(idempotency_key).build();
        Ok(self.instances_by(Some(tagged)).await?.into_iter().next())
    }

    async fn run_instance(&self, request: &RunRequest) -> CloudResult<Instance> {
        // A retry after a lost answer finds the first launch by its tag.
        if let Some(existing) = self.launched_with(&request.idempotency_key).await? {
            return Ok(existing);
        }
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::Instance)
            .tags(Tag::builder().key("Name").value(&request.name).build())
            .tags(Tag::builder().key(IDEMPOTENCY_TAG).value(&request.idempotency_key).build())
            .build();
        let out = self
            .client
            .run_instances()
            .image_id(&request.image_id)
            .instance_type(request.instance_type.as_str().into())
            .min_count(1)
            .max_count(1)
            .client_token(&request.idempotency_key)
            .set_placement(request.zone.as_ref().map(|z| Placement::builder().availability_zone(z).build()))
            .set_security_group_ids((!request.security_groups.is_empty()).then(|| request.security_groups.clone()))
            .set_block_device_mappings((!request.volumes.is_empty()).then(|| {
                request
                    .volumes
                    .iter()
                    .map(|v| {
                        let ebs = aws_sdk_ec2::types::EbsBlockDevice::builder()
                            .volume_size(v.size_gb)
                            .volume_type(aws_sdk_ec2::types::VolumeType::Gp3)
                            .encrypted(v.encrypted)
                            .delete_on_termination(true)
                            .build();
                        aws_sdk_ec2::types::BlockDeviceMapping::builder().device_name(&v.device).ebs(ebs).build()
                    })
                    .collect()
            }))
            .set_key_name(request.key_name.clone())
            .set_user_data(
                request.user_data.as_ref().map(|d| base64::engine::general_purpose::STANDARD.encode(d.as_bytes())),
            )
            .tag_specifications(tags)
            .send()
            .await
            .map_err(map_error)?;
        out.instances().iter().find_map(instance).ok_or_else(|| CloudError::Failed("no instance in the answer".into()))
    }

    /// Asked with an `instance-id` filter rather than `InstanceIds`: given
    /// an id it does not know (EC2 forgets a terminated instance after about
    /// an hour, and one may be terminated outside the console), EC2 refuses
    /// the whole call with InvalidInstanceID.NotFound, where a filter leaves
    /// that one out and the sync marks it terminated. A filter takes at most
    /// 200 values.
    async fn describe_instances(&self, instance_ids: &[String]) -> CloudResult<Vec<Instance>> {
        if instance_ids.is_empty() {
            return self.instances_by(None).await;
        }
        let mut found = Vec::new();
        for ids in instance_ids.chunks(200) {
            let filter = Filter::builder().name("instance-id").set_values(Some(ids.to_vec())).build();
            found.extend(self.instances_by(Some(filter)).await?);
        }
        Ok(found)
    }

    async fn ready_instances(&self, instance_ids: &[String]) -> CloudResult<Vec<String>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let asked = self
            .client
            .describe_instance_status()
            .set_instance_ids(Some(instance_ids.to_vec()))
            .send()
            .await
            .map_err(map_error);
        let out = match asked {
            Ok(out) => out,
            // One of them went (and was forgotten) since it was reported
            // running: none is known ready this round; the sync asks again.
            Err(CloudError::Refused { code, .. }) if code.starts_with("InvalidInstanceID") => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let ok = |s: Option<&aws_sdk_ec2::types::InstanceStatusSummary>| {
            s.and_then(|s| s.status()).is_some_and(|s| *s == aws_sdk_ec2::types::SummaryStatus::Ok)
        };
        Ok(out
            .instance_statuses()
            .iter()
            .filter(|s| ok(s.instance_status()) && ok(s.system_status()))
            .filter_map(|s| s.instance_id().map(str::to_owned))
            .collect())
    }

    async fn stop_instance(&self, instance_id: &str) -> CloudResult<()> {
        self.client.stop_instances().instance_ids(instance_id).send().await.map_err(map_error)?;
        Ok(())
    }

    async fn start_instance(&self, instance_id: &str) -> CloudResult<()> {
        self.client.start_instances().instance_ids(instance_id).send().await.map_err(map_error)?;
        Ok(())
    }

    async fn reboot_instance(&self, instance_id: &str) -> CloudResult<()> {
        self.client.reboot_instances().instance_ids(instance_id).send().await.map_err(map_error)?;
        Ok(())
    }

    async fn terminate_instance(&self, instance_id: &str) -> CloudResult<()> {
        self.client.terminate_instances().instance_ids(instance_id).send().await.map_err(map_error)?;
        Ok(())
    }

    async fn create_key_pair(&self, name: &str) -> CloudResult<KeyPair> {
        let out = self.client.create_key_pair().key_name(name).send().await.map_err(map_error)?;
        Ok(KeyPair {
            name: out.key_name().unwrap_or(name).to_owned(),
            fingerprint: out.key_fingerprint().unwrap_or_default().to_owned(),
            id: out.key_pair_id().map(str::to_owned),
            private_key: out.key_material().map(str::to_owned),
        })
    }

    async fn import_key_pair(&self, name: &str, public_key: &str) -> CloudResult<KeyPair> {
        let out = self
            .client
            .import_key_pair()
            .key_name(name)
            .public_key_material(Blob::new(public_key.as_bytes()))
            .send()
            .await
            .map_err(map_error)?;
        Ok(KeyPair {
            name: out.key_name().unwrap_or(name).to_owned(),
            fingerprint: out.key_fingerprint().unwrap_or_default().to_owned(),
            id: out.key_pair_id().map(str::to_owned),
            private_key: None,
        })
    }

    async fn list_key_pairs(&self) -> CloudResult<Vec<KeyPair>> {
        let out = self.client.describe_key_pairs().send().await.map_err(map_error)?;
        Ok(out
            .key_pairs()
            .iter()
            .filter_map(|k| {
                Some(KeyPair {
                    name: k.key_name()?.to_owned(),
                    fingerprint: k.key_fingerprint().unwrap_or_default().to_owned(),
                    id: k.key_pair_id().map(str::to_owned),
                    private_key: None,
                })
            })
            .collect())
    }

    async fn public_key(&self, name: &str) -> CloudResult<Option<String>> {
        let asked = self.client.describe_key_pairs().key_names(name).include_public_key(true).send().await;
        match asked.map_err(map_error) {
            Ok(out) => Ok(out
                .key_pairs()
                .iter()
                .find(|k| k.key_name() == Some(name))
                .and_then(|k| k.public_key().map(str::to_owned))),
            Err(CloudError::Refused { code, .. }) if code == "InvalidKeyPair.NotFound" => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list_security_groups(&self) -> CloudResult<Vec<SecurityGroup>> {
        let mut pages = self.client.describe_security_groups().into_paginator().send();
        let mut groups = Vec::new();
        while let Some(page) = pages.next().await {
            groups.extend(page.map_err(map_error)?.security_groups().iter().filter_map(|g| {
                Some(SecurityGroup {
                    id: g.group_id()?.to_owned(),
                    name: g.group_name()?.to_owned(),
                    description: g.description().unwrap_or_default().to_owned(),
                    inbound: g.ip_permissions().iter().flat_map(rules_of).collect(),
                })
            }));
        }
        Ok(groups)
    }

    async fn create_security_group(&self, name: &str, description: &str) -> CloudResult<SecurityGroup> {
        let out = self
            .client
            .create_security_group()
            .group_name(name)
            .description(description)
            .send()
            .await
            .map_err(map_error)?;
        Ok(SecurityGroup {
            id: out.group_id().unwrap_or_default().to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            inbound: Vec::new(),
        })
    }

    async fn delete_key_pair(&self, name: &str) -> CloudResult<()> {
        // EC2 answers a delete of a missing key pair with success; some
        // compatible endpoints say "not found": the same outcome.
        match self.client.delete_key_pair().key_name(name).send().await.map_err(map_error) {
            Ok(_) => Ok(()),
            Err(CloudError::Refused { code, .. }) if code == "InvalidKeyPair.NotFound" => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn delete_security_group(&self, group_id: &str) -> CloudResult<()> {
        self.client.delete_security_group().group_id(group_id).send().await.map_err(map_error)?;
        Ok(())
    }

    async fn authorize_ingress(&self, group_id: &str, rule: &Rule) -> CloudResult<()> {
        let call =
            self.client.authorize_security_group_ingress().group_id(group_id).ip_permissions(ip_permission(rule));
        settled(call.send().await.map(drop).map_err(map_error), "InvalidPermission.Duplicate")
    }

    async fn revoke_ingress(&self, group_id: &str, rule: &Rule) -> CloudResult<()> {
        let call = self.client.revoke_security_group_ingress().group_id(group_id).ip_permissions(ip_permission(rule));
        settled(call.send().await.map(drop).map_err(map_error), "InvalidPermission.NotFound")
    }

    async fn list_instance_types(&self) -> CloudResult<Vec<InstanceType>> {
        let mut pages = self.client.describe_instance_types().into_paginator().send();
        let mut types = Vec::new();
        while let Some(page) = pages.next().await {
            types.extend(page.map_err(map_error)?.instance_types().iter().filter_map(|t| {
                Some(InstanceType {
                    id: t.instance_type()?.as_str().to_owned(),
                    cpus: t.v_cpu_info().and_then(|v| v.default_v_cpus()).unwrap_or(1),
                    ram_mb: t.memory_info().and_then(|m| m.size_in_mib()).unwrap_or(0),
                    architectures: t
                        .processor_info()
                        .map(|p| p.supported_architectures().iter().map(|a| a.as_str().to_owned()).collect())
                        .unwrap_or_default(),
                })
            }));
        }
        Ok(types)
    }

    async fn list_zones(&self) -> CloudResult<Vec<String>> {
        let out = self.client.describe_availability_zones().send().await.map_err(map_error)?;
        Ok(out.availability_zones().iter().filter_map(|z| z.zone_name().map(str::to_owned)).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{DateTime, Utc};

    use super::{EC2_ACTIONS, SdkError, busy, capability_of, deprecate_at};
    use crate::cloud::CloudError;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    /// A throttled or busy provider is tried again later; a request it
    /// refuses is not.
    #[test]
    fn throttling_is_busy_and_refusals_stay_refusals() {
        for code in ["RequestLimitExceeded", "Throttling", "ServiceUnavailable", "RequestTimeout"] {
            assert!(busy(code), "{code}");
        }
        for code in ["InvalidAMIID.NotFound", "UnauthorizedOperation", "InstanceLimitExceeded", "InternalError"] {
            assert!(!busy(code), "{code}");
        }
    }

    /// A probe's failure with EC2's own error code is a provider that has
    /// not said whether it can; one without a code is an endpoint that
    /// lacks the call.
    #[test]
    fn a_probe_that_meets_an_internal_error_asks_again_later() {
        use aws_sdk_ec2::error::ErrorMetadata;
        use aws_sdk_ec2::operation::disable_image::DisableImageError;
        let answer = |code: Option<&str>| {
            let mut meta = ErrorMetadata::builder().message("We encountered an internal error.");
            if let Some(code) = code {
                meta = meta.code(code);
            }
            Err::<(), _>(SdkError::service_error(DisableImageError::generic(meta.build()), ()))
        };
        assert!(matches!(capability_of(answer(Some("InternalError"))), Err(CloudError::Busy(_))));
        assert!(matches!(capability_of(answer(Some("Unavailable"))), Err(CloudError::Busy(_))));
        assert!(matches!(capability_of(answer(None)), Ok(false)), "no EC2 code: the call is missing");
        assert!(matches!(capability_of(answer(Some("InvalidAMIID.NotFound"))), Ok(true)));
    }

    /// A probe that never reached the endpoint (credentials that could not
    /// be had) says nothing of what it can: the connection fails, and no
    /// answer is kept for the endpoint.
    #[test]
    fn a_probe_that_was_never_sent_is_no_answer() {
        use aws_sdk_ec2::operation::disable_image::DisableImageError;
        let unsent = Err::<(), SdkError<DisableImageError, ()>>(SdkError::construction_failure("no credentials"));
        assert!(matches!(capability_of(unsent), Err(CloudError::Failed(_))));
    }

    #[test]
    fn a_deprecation_time_is_never_sent_in_the_past() {
        let now = at("2026-12-05T10:00:30Z");
        // Asked "now" by a job that ran later: the next whole minute a minute ahead.
        assert_eq!(deprecate_at(at("2026-12-05T09:58:00Z"), now), at("2026-12-05T10:02:00Z"));
        assert_eq!(deprecate_at(now, now), at("2026-12-05T10:02:00Z"));
        assert_eq!(deprecate_at(at("2026-12-05T10:01:00Z"), at("2026-12-05T10:00:00Z")), at("2026-12-05T10:01:00Z"));
        // A day ahead is sent as asked.
        assert_eq!(deprecate_at(at("2026-12-06T00:00:00Z"), now), at("2026-12-06T00:00:00Z"));
    }

    /// The operations this file calls on the EC2 client (the method right
    /// after the client, on its line or the next), as IAM names them.
    fn called() -> BTreeSet<String> {
        let source = include_str!("ec2.rs");
        let mut actions = BTreeSet::new();
        for (at, _) in source.match_indices("client") {
            let rest = source[at + "client".len()..].trim_start();
            let Some(call) = rest.strip_prefix('.') else { continue };
            let name: String = call.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if name.is_empty() || !call[name.len()..].starts_with("()") || name == "client_token" {
                continue;
            }
            actions.insert(name.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect());
        }
        actions
    }

    #[test]
    fn the_policy_lists_exactly_the_calls_the_console_makes() {
        let listed: BTreeSet<String> = EC2_ACTIONS.iter().map(|a| (*a).to_owned()).collect();
        let mut wanted = called();
        wanted.insert("CreateTags".into());
        assert_eq!(listed, wanted, "EC2_ACTIONS and the calls in cloud/ec2.rs");
    }

    #[test]
    fn the_readme_policy_is_the_list() {
        let readme = include_str!("../../README.md");
        let start = readme.find("<!-- iam-policy -->").expect("the README's IAM policy");
        let json = &readme[start..];
        let json = &json[json.find("```json").expect("a json block") + 7..];
        let json = &json[..json.find("```").expect("the block's end")];
        let policy: serde_json::Value = serde_json::from_str(json).expect("the policy is JSON");
        let actions: BTreeSet<String> = policy["Statement"][0]["Action"]
            .as_array()
            .expect("a list of actions")
            .iter()
            .map(|a| a.as_str().unwrap().trim_start_matches("ec2:").to_owned())
            .collect();
        let listed: BTreeSet<String> = EC2_ACTIONS.iter().map(|a| (*a).to_owned()).collect();
        assert_eq!(actions, listed);
    }
}

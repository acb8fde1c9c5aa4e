//! The EC2 provider against the local EC2 endpoint (moto), never a fake.
//! Every test uses fresh provider account numbers, so tests run in parallel.

use std::time::Duration;

use stratus_console::cloud::ec2::Ec2Provider;
use stratus_console::cloud::{
    CloudError, CloudProvider, Connection, Credentials, ImageState, LaunchPermission, RunRequest, Secret,
};
use stratus_console::demo;

/// The local EC2 endpoint of this test, one of those `make test` starts
/// (comma-separated in `TEST_EC2_ENDPOINT`). moto serves on one core, and
/// nextest runs every test in a process of its own: spreading the tests
/// over the servers by process keeps both cores busy, and every call of one
/// test (the app's, the jobs', the test's own) at the same server.
pub fn endpoint() -> String {
    let all =
        std::env::var("TEST_EC2_ENDPOINT").expect("TEST_EC2_ENDPOINT is set by `make test` (the local moto servers)");
    let servers: Vec<&str> = all.split(',').collect();
    servers[std::process::id() as usize % servers.len()].to_owned()
}

/// A 12-digit provider account number no other test uses.
pub fn fresh_account() -> String {
    let n = u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap());
    format!("{:012}", n % 900_000_000_000 + 100_000_000_000)
}

/// How the console reaches `account` at `endpoint`: by assuming the role
/// `StratusConsole` in it, as it does at AWS (the local endpoint does not
/// check external IDs; `moto_with_auth` tests where they matter).
pub fn connection(account: &str, endpoint: String) -> Connection {
    connection_as(
        endpoint,
        Credentials::AssumeRole { role_arn: demo::role_arn(account), external_id: "stratus-tests".into() },
    )
}

pub fn connection_as(endpoint: String, credentials: Credentials) -> Connection {
    Connection {
        region: "us-east-1".into(),
        endpoint: Some(endpoint),
        credentials,
        connect_timeout: Duration::from_secs(2),
        call_timeout: crate::harness::BUSY_CALL_TIMEOUT,
    }
}

async fn provider(account: &str) -> std::sync::Arc<Ec2Provider> {
    Ec2Provider::connect(&connection(account, endpoint())).await.expect("the local EC2 endpoint answers")
}

pub fn run(image_id: &str, key: &str) -> RunRequest {
    RunRequest {
        image_id: image_id.into(),
        instance_type: "t3.micro".into(),
        zone: Some("us-east-1a".into()),
        security_groups: Vec::new(),
        key_name: None,
        user_data: Some("#cloud-config\n".into()),
        volumes: vec![stratus_console::cloud::Volume { device: "/dev/sdf".into(), size_gb: 10, encrypted: true }],
        name: "test-server".into(),
        idempotency_key: key.into(),
    }
}

#[actix_web::test]
async fn an_image_made_from_a_server_is_listed_then_deregistered() {
    let ec2 = provider(&fresh_account()).await;
    let public = ec2.list_public_images().await.unwrap();
    assert!(public.len() > 200, "the endpoint's public catalog (`make test` offers 224): {}", public.len());
    assert!(ec2.list_own_images().await.unwrap().is_empty());

    let base = public.iter().find(|i| i.name.contains("ubuntu") || !i.windows).unwrap();
    let server = ec2.run_instance(&run(&base.id, &uuid::Uuid::new_v4().to_string())).await.unwrap();
    let image_id = ec2.create_image(&server.id, "golden-web", "made in a test").await.unwrap();

    let own = ec2.list_own_images().await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!((own[0].id.as_str(), own[0].name.as_str()), (image_id.as_str(), "golden-web"));
    assert_ne!(own[0].state, ImageState::Gone);
    assert_eq!(ec2.describe_image(&image_id).await.unwrap().map(|i| i.description), Some("made in a test".into()));

    ec2.deregister_image(&image_id).await.unwrap();
    let after = ec2.describe_image(&image_id).await.unwrap();
    assert!(after.as_ref().is_none_or(|i| i.state == ImageState::Gone), "{after:?}");
}

#[actix_web::test]
async fn a_retried_launch_with_the_same_idempotency_key_starts_one_server() {
    let account = fresh_account();
    let ec2 = provider(&account).await;
    let image = ec2.list_public_images().await.unwrap().into_iter().find(|i| !i.windows).unwrap();
    let key = uuid::Uuid::new_v4().to_string();

    let first = ec2.run_instance(&run(&image.id, &key)).await.unwrap();
    let again = ec2.run_instance(&run(&image.id, &key)).await.unwrap();
    let other = ec2.run_instance(&run(&image.id, "another key")).await.unwrap();

    assert_eq!(first.id, again.id);
    assert_ne!(first.id, other.id);
    let all = ec2.describe_instances(&[first.id.clone(), other.id.clone()]).await.unwrap();
    assert_eq!(all.len(), 2);
    // An id the provider does not know (terminated long ago, or never its) is left out, not an error
    // that hides the others.
    let gone = "i-0123456789abcdef0".to_owned();
    let found = ec2.describe_instances(&[gone, first.id.clone()]).await.unwrap();
    assert_eq!(found.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [first.id.as_str()]);
    // Nor does it fail the readiness check, which names its instances: none is known ready this round.
    let ready = ec2.ready_instances(&["i-0123456789abcdef0".to_owned(), first.id.clone()]).await;
    assert!(ready.is_ok(), "{ready:?}");
}

#[actix_web::test]
async fn sharing_and_unsharing_an_image_with_another_account() {
    let ec2 = provider(&fresh_account()).await;
    let image = ec2.list_public_images().await.unwrap().into_iter().find(|i| !i.windows).unwrap();
    let server = ec2.run_instance(&run(&image.id, &uuid::Uuid::new_v4().to_string())).await.unwrap();
    let mine = ec2.create_image(&server.id, "to-share", "").await.unwrap();
    let other = LaunchPermission::Account(fresh_account());

    ec2.add_launch_permission(&mine, &other).await.unwrap();
    assert_eq!(ec2.launch_permissions(&mine).await.unwrap(), std::slice::from_ref(&other));
    ec2.remove_launch_permission(&mine, &other).await.unwrap();
    assert_eq!(ec2.launch_permissions(&mine).await.unwrap(), []);
    ec2.add_launch_permission(&mine, &LaunchPermission::Public).await.unwrap();
    assert_eq!(ec2.launch_permissions(&mine).await.unwrap(), [LaunchPermission::Public]);
    assert!(ec2.describe_image(&mine).await.unwrap().unwrap().public);
    ec2.remove_launch_permission(&mine, &LaunchPermission::Public).await.unwrap();
    assert_eq!(ec2.launch_permissions(&mine).await.unwrap(), []);
}

#[actix_web::test]
async fn deprecation_the_endpoint_cannot_do_is_detected_not_faked() {
    let ec2 = provider(&fresh_account()).await;
    assert!(!ec2.capabilities().deprecate, "moto fails on EnableImageDeprecation");
    let result = ec2.set_deprecation("ami-12345678", Some(chrono::Utc::now())).await;
    assert_eq!(result, Err(CloudError::Unsupported("image deprecation")));
}

#[actix_web::test]
async fn sizes_zones_firewalls_and_key_pairs_come_from_the_provider() {
    let ec2 = provider(&fresh_account()).await;
    let types = ec2.list_instance_types().await.unwrap();
    let micro = types.iter().find(|t| t.id == "t3.micro").expect("t3.micro");
    assert!(micro.cpus >= 1 && micro.ram_mb >= 512 && micro.architectures.contains(&"x86_64".to_owned()));
    assert!(ec2.list_zones().await.unwrap().contains(&"us-east-1a".to_owned()));

    let created = ec2.create_security_group("web", "HTTP from anywhere").await.unwrap();
    let groups = ec2.list_security_groups().await.unwrap();
    assert!(groups.iter().any(|g| g.name == "default"));
    assert!(groups.iter().any(|g| g.id == created.id && g.name == "web"));

    let key = ec2.create_key_pair("deploy").await.unwrap();
    assert!(key.private_key.as_deref().is_some_and(|k| k.contains("PRIVATE KEY")));
    let duplicate = ec2.create_key_pair("deploy").await.unwrap_err();
    assert_eq!(duplicate.to_string(), "A key pair with this name already exists. (InvalidKeyPair.Duplicate)");
    let listed = ec2.list_key_pairs().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].private_key.is_none(), "a private key is never listed");
}

#[actix_web::test]
async fn a_provider_that_does_not_answer_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let result = Ec2Provider::connect(&connection(&fresh_account(), format!("http://{closed}"))).await;
    match result {
        Err(error @ CloudError::Unreachable(_)) => assert!(error.is_transient()),
        Err(other) => panic!("expected unreachable, got {other}"),
        Ok(_) => panic!("connected to a closed port"),
    }
}

/// An IAM user's access key in `account`, made as an administrator of that
/// account would: assume a role in it, then IAM `CreateUser` and
/// `CreateAccessKey`. Through boto3 from the local endpoint's own venv (the
/// console itself never calls IAM).
pub fn access_key_in(account: &str) -> (String, Secret) {
    let moto = std::env::var("TEST_MOTO_SERVER").expect("TEST_MOTO_SERVER is set by `make test`");
    let python = std::path::Path::new(&moto).with_file_name("python");
    let script = r#"
import sys, boto3
endpoint, account = sys.argv[1], sys.argv[2]
sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1")
role = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/Administrator", RoleSessionName="setup")["Credentials"]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=role["AccessKeyId"],
                   aws_secret_access_key=role["SecretAccessKey"], aws_session_token=role["SessionToken"])
iam.create_user(UserName="stratus-console")
key = iam.create_access_key(UserName="stratus-console")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script, &endpoint(), account])
        .output()
        .expect("run the local endpoint's python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = String::from_utf8(out.stdout).unwrap();
    let (id, secret) = out.trim().split_once(' ').expect("an access key id and its secret");
    (id.to_owned(), Secret::new(secret))
}

#[actix_web::test]
async fn the_credentials_say_which_account_the_console_acts_in() {
    let account = fresh_account();
    let (access_key_id, secret_access_key) = access_key_in(&account);
    assert!(access_key_id.starts_with("AKIA") && access_key_id.len() == 20, "{access_key_id}");

    // An access key of the account: what it makes is in that account...
    let by_key =
        Ec2Provider::connect(&connection_as(endpoint(), Credentials::AccessKey { access_key_id, secret_access_key }))
            .await
            .unwrap();
    let made = by_key.create_security_group("made-by-key", "made with an access key").await.unwrap();
    // ...where the role assumed in the same account sees it...
    let by_role = provider(&account).await;
    assert!(by_role.list_security_groups().await.unwrap().iter().any(|g| g.id == made.id), "same account");
    // ...and the console's own credentials, another account, do not.
    let own = Ec2Provider::connect(&connection_as(endpoint(), Credentials::Ambient)).await.unwrap();
    assert!(!own.list_security_groups().await.unwrap().iter().any(|g| g.id == made.id), "another account");
    // The secret never shows in a debug print of the connection.
    let (_, secret) = access_key_in(&fresh_account());
    let printed =
        format!("{:?}", Credentials::AccessKey { access_key_id: "AKIA".into(), secret_access_key: secret.clone() });
    assert!(!printed.contains(secret.expose()), "{printed}");
}

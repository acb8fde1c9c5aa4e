//! The connection test that runs before a cloud account is saved: whose
//! credentials they are (STS `GetCallerIdentity`: the provider account
//! number comes from here, never typed) and whether they may use EC2 in
//! each chosen region (`DescribeAvailabilityZones`, read-only). A failure
//! says in words what to fix, at the form field it concerns.

use aws_sdk_ec2::config::Region;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

use super::ec2::{base_config, sdk_config, static_key};
use super::{Connection, Credentials};

/// Why a connection test failed, and the form field to show it at
/// (`auth`, `role_arn`, `access_key_id`, `secret_access_key`, `regions`
/// or `endpoint`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectionFailure {
    pub field: &'static str,
    pub message: String,
}

impl ConnectionFailure {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// The regions an AWS account must enable before using them.
const OPT_IN: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
];

/// Which call failed.
#[derive(Clone, Copy)]
enum Step<'a> {
    AssumeRole,
    Identity,
    Ec2(&'a str),
}

/// Tests `connection` in each of `regions`; the provider account number the
/// credentials belong to.
pub async fn verify(connection: &Connection, regions: &[&str]) -> Result<String, ConnectionFailure> {
    let config = match &connection.credentials {
        // Assumed here, once, rather than by the renewing provider: its
        // refusal then reads as the role's, not as a failed call.
        Credentials::AssumeRole { role_arn, external_id } => {
            let own = base_config(connection).load().await;
            let assumed = aws_sdk_sts::Client::new(&own)
                .assume_role()
                .role_arn(role_arn)
                .external_id(external_id)
                .role_session_name("stratus-console-test")
                .send()
                .await
                .map_err(|e| explain(connection, Step::AssumeRole, &e))?;
            let Some(key) = assumed.credentials() else {
                return Err(ConnectionFailure::new(
                    "role_arn",
                    "The provider assumed the role but returned no credentials.",
                ));
            };
            let temporary =
                static_key(key.access_key_id(), key.secret_access_key(), Some(key.session_token().to_owned()));
            own.into_builder().credentials_provider(temporary).build()
        }
        _ => sdk_config(connection).await,
    };
    let identity = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| explain(connection, Step::Identity, &e))?;
    let account = identity
        .account()
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ConnectionFailure::new("auth", "The provider did not say which account the credentials belong to.")
        })?
        .to_owned();
    for &region in regions {
        let regional = config.to_builder().region(Region::new(region.to_owned())).build();
        aws_sdk_ec2::Client::new(&regional)
            .describe_availability_zones()
            .send()
            .await
            .map_err(|e| explain(connection, Step::Ec2(region), &e))?;
    }
    Ok(account)
}

/// The `<Code>` of an XML error body the SDK could not read (some
/// EC2-compatible endpoints wrap EC2's errors in `ErrorResponse` rather
/// than `Response`).
fn code_in(body: &[u8]) -> Option<&str> {
    let body = std::str::from_utf8(body).ok()?;
    let start = body.find("<Code>")? + "<Code>".len();
    let length = body[start..].find("</Code>")?;
    Some(&body[start..start + length]).filter(|code| code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
}

/// A failed call in words, at its field.
fn explain<E>(connection: &Connection, step: Step<'_>, error: &SdkError<E, HttpResponse>) -> ConnectionFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let access_key = matches!(connection.credentials, Credentials::AccessKey { .. });
    // The credentials that signed the failing call: the role's after it was
    // assumed, else those the form gave (or the console's own).
    let key_field = if access_key { "access_key_id" } else { "auth" };
    let whose = match connection.credentials {
        Credentials::AccessKey { .. } => "The access key is",
        _ => "The console's own credentials are",
    };
    let service = match error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            let message = match &connection.endpoint {
                Some(url) => format!("The endpoint {url} did not answer. Check its address and that it is running."),
                None => "AWS did not answer in time. Try again in a moment.".to_owned(),
            };
            return ConnectionFailure::new("endpoint", message);
        }
        SdkError::ServiceError(service) => service.err(),
        _ => {
            let detail = aws_sdk_ec2::error::DisplayErrorContext(error).to_string();
            let field =
                if matches!(connection.credentials, Credentials::AssumeRole { .. }) { "auth" } else { key_field };
            tracing::info!(error = %detail, "a connection test failed before the provider answered");
            return ConnectionFailure::new(
                field,
                "The credentials could not be used: none were found, or they are malformed.",
            );
        }
    };
    let raw_code = error.raw_response().and_then(|raw| raw.body().bytes()).and_then(code_in);
    let code = service.code().or(raw_code).unwrap_or_default();
    tracing::info!(code, "a connection test was refused");
    match (step, code) {
        // No error code at all: what answered is not an AWS API.
        (_, "") => {
            let status = error.raw_response().map(|raw| raw.status().as_u16());
            let answered = status.map_or_else(String::new, |status| format!(" (HTTP {status})"));
            match &connection.endpoint {
                Some(url) => ConnectionFailure::new(
                    "endpoint",
                    format!(
                        "The endpoint {url} answered{answered}, but not as an EC2 API does. Check its address: it \
                         is the URL of an EC2 service."
                    ),
                ),
                None => {
                    ConnectionFailure::new("auth", format!("AWS answered{answered} without saying why. Try again."))
                }
            }
        }
        (_, "InvalidClientTokenId" | "UnrecognizedClientException")
        | (Step::AssumeRole | Step::Identity, "AuthFailure") => ConnectionFailure::new(
            key_field,
            format!("{whose} not known to the provider (the ID is wrong or was deleted)."),
        ),
        (_, "SignatureDoesNotMatch") => ConnectionFailure::new(
            if access_key { "secret_access_key" } else { "auth" },
            if access_key {
                "The secret access key does not match the access key ID.".to_owned()
            } else {
                format!("{whose} refused: the secret does not match the key.")
            },
        ),
        (_, "ExpiredToken" | "ExpiredTokenException" | "RequestExpired") => {
            ConnectionFailure::new(key_field, "The credentials have expired.")
        }
        (Step::AssumeRole, _) => ConnectionFailure::new(
            "role_arn",
            "The role could not be assumed: check that it exists and that its trust policy names the console's \
             account and this company's external ID.",
        ),
        // EC2 answers AuthFailure both for credentials it cannot validate
        // and in an opt-in region the account has not enabled.
        (Step::Ec2(region), "OptInRequired") | (Step::Ec2(region), "AuthFailure")
            if OPT_IN.contains(&region) || code == "OptInRequired" =>
        {
            ConnectionFailure::new(
                "regions",
                format!("The account cannot use EC2 in {region}: the region is not enabled for it."),
            )
        }
        (Step::Ec2(_), "AuthFailure") => ConnectionFailure::new(
            if access_key { "access_key_id" } else { key_field },
            format!("{whose} refused by EC2: the key is unknown, or the secret does not match it."),
        ),
        (Step::Ec2(_), "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException") => ConnectionFailure::new(
            if matches!(connection.credentials, Credentials::AssumeRole { .. }) { "role_arn" } else { key_field },
            "The credentials are valid but may not call EC2 (ec2:DescribeAvailabilityZones was refused): attach \
             the console's policy.",
        ),
        _ => ConnectionFailure::new(
            "auth",
            match service.message().filter(|m| !m.trim().is_empty()) {
                Some(message) => format!("The provider refused the connection: {message} ({code})."),
                None => format!("The provider refused the connection ({code})."),
            },
        ),
    }
}

/// The AWS account of the console's own credentials (from its environment),
/// for the trust policy a role must carry; `None` when they cannot say.
pub async fn own_account(connection: &Connection) -> Option<String> {
    let config = sdk_config(connection).await;
    match aws_sdk_sts::Client::new(&config).get_caller_identity().send().await {
        Ok(identity) => identity.account().map(str::to_owned),
        Err(e) => {
            tracing::info!(error = %aws_sdk_ec2::error::DisplayErrorContext(&e), "the console's own credentials did not say whose they are");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::code_in;

    #[test]
    fn the_code_of_an_error_body_the_sdk_could_not_read() {
        let body = b"<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>AuthFailure</Code>\
                     <Message>AWS was not able to validate</Message></Error></Errors></ErrorResponse>";
        assert_eq!(code_in(body), Some("AuthFailure"));
        assert_eq!(code_in(b"<Error><Code>a<b</Code></Error>"), None);
        assert_eq!(code_in(b"no xml"), None);
    }
}

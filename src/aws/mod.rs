//! The only place that builds the AWS SDK configuration: region chain, credentials (the
//! standard chain, or GitHub OIDC → AssumeRoleWithWebIdentity), retries, and the endpoint
//! override that tests point at moto.

pub(crate) mod acm;
pub(crate) mod apigateway;
pub(crate) mod errors;
pub(crate) mod lambda;
pub(crate) mod route53;
pub(crate) mod s3;
pub(crate) mod s3_multipart;
pub(crate) mod sts;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

use crate::config::AwsSettings;
use crate::error::{Error, Result};

/// Clients for one run, built from one `SdkConfig`.
#[derive(Clone, Debug)]
pub(crate) struct Aws {
    pub config: SdkConfig,
    pub lambda: aws_sdk_lambda::Client,
    pub s3: aws_sdk_s3::Client,
    pub region: String,
}

/// Attempts per AWS request. A busy account throttles: ten attempts with exponential
/// backoff ride out a minute of throttling.
const MAX_ATTEMPTS: u32 = 10;

/// Backoff base; tests shorten it through `DEPLOY_ACTION_TEST_BACKOFF_MS` so fault
/// scenarios stay fast (the retry logic is the same, only the sleeps shrink).
fn initial_backoff() -> Duration {
    std::env::var("DEPLOY_ACTION_TEST_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_millis(500), Duration::from_millis)
}

fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(initial_backoff())
        .with_max_backoff(Duration::from_secs(20))
}

/// Load the base configuration: region from the flag or the standard chain, credentials
/// from the standard chain (unless `credentials` is given), retries, endpoint override.
pub(crate) async fn load(
    settings: &AwsSettings,
    credentials: Option<Credentials>,
) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config());
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(creds) = credentials {
        loader = loader.credentials_provider(creds);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(Error::missing(
            "--region",
            "no AWS region configured",
            "pass --region (input `region`) or set AWS_REGION",
        ));
    }
    Ok(config)
}

/// Build the clients. S3 uses path-style addressing when an endpoint override is set, since
/// local emulators don't serve virtual-host buckets.
#[must_use]
pub(crate) fn clients(config: SdkConfig) -> Aws {
    let region = config
        .region()
        .map_or_else(|| "us-east-1".to_string(), ToString::to_string);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let mut s3_config = aws_sdk_s3::config::Builder::from(&config);
    if config.endpoint_url().is_some() {
        s3_config = s3_config.force_path_style(true);
    }
    let s3 = aws_sdk_s3::Client::from_conf(s3_config.build());
    Aws {
        config,
        lambda,
        s3,
        region,
    }
}

/// Connect: with `role_to_assume`, trade the GitHub OIDC token for role credentials; else
/// use the standard chain.
pub(crate) async fn connect(settings: &AwsSettings) -> Result<Aws> {
    let base = load(settings, None).await?;
    let Some(role) = &settings.role_to_assume else {
        return Ok(clients(base));
    };
    let token = crate::github::oidc::request_token("sts.amazonaws.com").await?;
    let creds =
        sts::assume_role_with_web_identity(&base, role, &token, settings.session_seconds).await?;
    let config = load(settings, Some(creds)).await?;
    Ok(clients(config))
}

//! Builds the S3 and DynamoDB clients for one backend's settings over the
//! standard credential chain (region, profile, shared files, assumed role,
//! endpoints). Construction only: it sends no request itself.

use super::ClientSettings;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// The two clients a backend's settings call for.
#[derive(Clone)]
pub(crate) struct Clients {
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) dynamodb: aws_sdk_dynamodb::Client,
}

// The non-deprecated profile-file types live in a crate aws-config does not re-export.
#[allow(deprecated)]
pub(super) async fn build(settings: &ClientSettings, timeout: Duration) -> Clients {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(10)))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(region) = &settings.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if !settings.shared_config_files.is_empty() || !settings.shared_credentials_files.is_empty() {
        use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
        let mut files = ProfileFiles::builder();
        for f in &settings.shared_config_files {
            files = files.with_file(ProfileFileKind::Config, f);
        }
        for f in &settings.shared_credentials_files {
            files = files.with_file(ProfileFileKind::Credentials, f);
        }
        loader = loader.profile_files(files.build());
    }
    let config = loader.load().await;
    let assumed = match &settings.role_arn {
        Some(role_arn) => {
            let mut provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
                .session_name(
                    settings
                        .session_name
                        .clone()
                        .unwrap_or_else(|| "tflock".into()),
                )
                .configure(&config);
            if let Some(id) = &settings.external_id {
                provider = provider.external_id(id);
            }
            Some(provider.build().await)
        }
        None => None,
    };
    let env_s3_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    let mut s3 = aws_sdk_s3::config::Builder::from(&config);
    if let Some(endpoint) = &settings.s3_endpoint {
        s3 = s3.endpoint_url(endpoint);
    }
    // Custom endpoints (emulators, S3-compatible stores) rarely resolve bucket
    // subdomains; AWS itself serves both styles.
    if settings.path_style || settings.s3_endpoint.is_some() || env_s3_endpoint {
        s3 = s3.force_path_style(true);
    }
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&config);
    if let Some(endpoint) = &settings.dynamodb_endpoint {
        dynamodb = dynamodb.endpoint_url(endpoint);
    }
    if let Some(provider) = assumed {
        let shared = aws_sdk_s3::config::SharedCredentialsProvider::new(provider);
        s3 = s3.credentials_provider(shared.clone());
        dynamodb = dynamodb.credentials_provider(shared);
    }
    Clients {
        s3: aws_sdk_s3::Client::from_conf(s3.build()),
        dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
    }
}

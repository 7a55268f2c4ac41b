//! AWS clients built from a backend's own settings over the standard chain, one
//! per distinct setting, and the guard rails every call goes through: a bound on
//! calls in flight, a hard timeout, and a request counter.

pub use super::ClientSettings;
use super::{Options, RequestCounter};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

#[derive(Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

/// Shared by every verification task.
#[derive(Clone)]
pub struct Context {
    pub options: Options,
    counter: Arc<RequestCounter>,
    in_flight: Arc<Semaphore>,
    cache: Arc<Mutex<HashMap<ClientSettings, Clients>>>,
    /// When set, no call may end later than this: a check as a whole fails
    /// closed within its timeout, however many calls it chains.
    deadline: Option<Instant>,
}

impl Context {
    pub fn new(options: Options, counter: Arc<RequestCounter>) -> Context {
        Context {
            in_flight: Arc::new(Semaphore::new(options.concurrency.max(1))),
            options,
            counter,
            cache: Arc::new(Mutex::new(HashMap::new())),
            deadline: None,
        }
    }

    /// The same context, with every call ending by `timeout` from now.
    pub fn with_deadline(mut self) -> Context {
        self.deadline = Some(Instant::now() + self.options.timeout);
        self
    }

    /// How long the next call may take.
    fn budget(&self) -> Duration {
        match self.deadline {
            Some(deadline) => deadline
                .saturating_duration_since(Instant::now())
                .min(self.options.timeout),
            None => self.options.timeout,
        }
    }

    fn timed_out(&self) -> String {
        format!(
            "no answer within {}s (--aws-timeout)",
            self.options.timeout.as_secs()
        )
    }

    /// The clients for these settings, built once.
    pub async fn clients(&self, settings: &ClientSettings) -> Clients {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(settings) {
            return c.clone();
        }
        let clients = build(settings, self.options.timeout).await;
        cache.insert(settings.clone(), clients.clone());
        clients
    }

    /// Runs one AWS request: counted, bounded, and cut off at the timeout.
    pub async fn call<T, E, R>(
        &self,
        request: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<T, String>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let _permit = self.in_flight.acquire().await.map_err(|e| e.to_string())?;
        let budget = self.budget();
        if budget.is_zero() {
            return Err(self.timed_out());
        }
        self.counter.add();
        match tokio::time::timeout(budget, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(describe(&err)),
            Err(_) => Err(self.timed_out()),
        }
    }

    /// Like `call`, but hands back the SDK's error for callers that branch on it;
    /// the outer error is the timeout.
    pub async fn call_raw<T, E, R>(
        &self,
        request: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<Result<T, SdkError<E, R>>, String> {
        let _permit = self.in_flight.acquire().await.map_err(|e| e.to_string())?;
        let budget = self.budget();
        if budget.is_zero() {
            return Err(self.timed_out());
        }
        self.counter.add();
        tokio::time::timeout(budget, request).await.map_err(|_| {
            format!(
                "no answer within {}s (--aws-timeout)",
                self.options.timeout.as_secs()
            )
        })
    }

    /// A clean-up call (deleting tflock's own probe object): it runs even when
    /// the check's deadline has passed, bounded by its own short timeout.
    pub async fn cleanup<T, E, R>(&self, request: impl Future<Output = Result<T, SdkError<E, R>>>) {
        let _permit = self.in_flight.acquire().await;
        self.counter.add();
        let budget = self.options.timeout.min(Duration::from_secs(1));
        let _ = tokio::time::timeout(budget, request).await;
    }

    /// Runs independent jobs concurrently and returns their results.
    pub async fn run_all<T: Send + 'static>(
        &self,
        jobs: impl IntoIterator<Item = impl Future<Output = T> + Send + 'static>,
    ) -> Vec<T> {
        let mut set = tokio::task::JoinSet::new();
        for job in jobs {
            set.spawn(job);
        }
        let mut results = Vec::new();
        while let Some(result) = set.join_next().await {
            if let Ok(value) = result {
                results.push(value);
            }
        }
        results
    }
}

// The non-deprecated profile-file types live in a crate aws-config does not re-export.
#[allow(deprecated)]
async fn build(settings: &ClientSettings, timeout: Duration) -> Clients {
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

/// A one-line reason for a failed call: the service's code and message when it
/// answered, the transport failure when it did not.
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => chain(err),
            }
        }
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(_) => format!("cannot reach AWS: {}", chain(err)),
        _ => chain(err),
    }
}

/// "outer: cause: root cause", each message once, without the SDK's Debug dumps.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    short(parts.join(": "))
}

/// The SDK's error chains can run to kilobytes (whole responses); a reason in a
/// report should stay one readable line.
fn short(text: String) -> String {
    const MAX: usize = 300;
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= MAX {
        line.to_string()
    } else {
        format!("{}...", line.chars().take(MAX).collect::<String>())
    }
}

//! The guard rails every AWS call goes through: a bound on calls in flight, a
//! hard timeout (and an optional deadline for a whole check), the request
//! counter, and one set of clients per distinct setting. It decides nothing
//! about what an answer means.

use super::clients::{Clients, build};
use super::errors::describe;
use super::{ClientSettings, Options, RequestCounter};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// Shared by every task of one check or write (verify's and remote's alike).
#[derive(Clone)]
pub(crate) struct Context {
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
        tokio::time::timeout(budget, request)
            .await
            .map_err(|_| self.timed_out())
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

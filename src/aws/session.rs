//! One command's AWS session: the async runtime its calls run on and the counter
//! of the requests they send, built once per command (the CLI used to build both
//! at every call site). It sends nothing itself.

use super::RequestCounter;
use std::future::Future;
use std::sync::Arc;

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// The runtime and request counter of one command.
pub struct Session {
    runtime: tokio::runtime::Runtime,
    counter: Arc<RequestCounter>,
}

impl Session {
    /// A two-thread runtime (the calls wait on the network, not the CPU) and a
    /// counter at zero.
    pub fn new() -> Result<Session, SessionError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Session {
            runtime,
            counter: Arc::new(RequestCounter::default()),
        })
    }

    /// Runs one async step (a check, a write) to its end.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The counter to hand to each step, so the command reports one total.
    pub fn counter(&self) -> Arc<RequestCounter> {
        self.counter.clone()
    }

    /// AWS requests sent so far in this session.
    pub fn requests(&self) -> usize {
        self.counter.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_counts_into_one_total() {
        let session = Session::new().expect("runtime");
        let counter = session.counter();
        let answer = session.block_on(async move {
            counter.add();
            counter.add();
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            42
        });
        assert_eq!(answer, 42);
        let counter = session.counter();
        session.block_on(async move { counter.add() });
        assert_eq!(session.requests(), 3);
    }
}

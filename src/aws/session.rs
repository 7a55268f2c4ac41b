//! One command's AWS session: the async runtime its calls run on and the counter
//! of the requests they send, built once per command. It sends nothing itself.

use super::RequestCounter;
use std::cell::OnceCell;
use std::future::Future;
use std::sync::Arc;

/// The runtime and request counter of one command. The runtime starts on first
/// use, so an offline run starts none.
#[derive(Default)]
pub struct Session {
    runtime: OnceCell<tokio::runtime::Runtime>,
    counter: Arc<RequestCounter>,
}

impl Session {
    /// Runs one async step (a check, a write) to its end, on a two-thread
    /// runtime (the calls wait on the network, not the CPU).
    pub fn block_on<F: Future>(&self, future: F) -> std::io::Result<F::Output> {
        let runtime = match self.runtime.get() {
            Some(runtime) => runtime,
            None => {
                let built = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                self.runtime.get_or_init(|| built)
            }
        };
        Ok(runtime.block_on(future))
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
    fn offline_sessions_start_no_runtime_and_count_nothing() {
        let session = Session::default();
        assert!(session.runtime.get().is_none());
        assert_eq!(session.requests(), 0);
    }

    #[test]
    fn every_step_counts_into_one_total() {
        let session = Session::default();
        let counter = session.counter();
        let answer = session
            .block_on(async move {
                counter.add();
                counter.add();
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                42
            })
            .expect("runtime");
        assert_eq!(answer, 42);
        let counter = session.counter();
        session.block_on(async move { counter.add() }).unwrap();
        assert_eq!(session.requests(), 3);
    }
}

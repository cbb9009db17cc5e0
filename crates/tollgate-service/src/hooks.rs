//! Points inside use cases where a test can stop the work and act in between: to prove that a
//! check and the write it allows cannot be separated by another change.
//!
//! Built with the `test-hooks` feature (tollgate-testkit turns it on), a test arms a point and
//! gets a `Pause`: the use case stops there once, the test does its interleaved edit, then
//! resumes it. Without the feature every point is a no-op and nothing can arm one.

#[cfg(feature = "test-hooks")]
use std::collections::HashMap;
#[cfg(feature = "test-hooks")]
use std::sync::{Arc, Mutex};

#[cfg(feature = "test-hooks")]
use tokio::sync::Notify;

/// Where a use case can be paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookPoint {
    /// A readiness or deployment check has passed on a snapshot; the write transaction is next.
    AfterReadinessCheck,
    /// A push's content is written and hashed; the transaction that records it is next.
    BeforePushCommit,
    /// Garbage collection decided on a snapshot; the transactions that remove are next.
    BeforeRemoval,
    /// An artifact's row is removed; the transaction that removes its blob is next.
    BeforeBlobRemoval,
}

/// The armed points of one application.
#[derive(Debug, Default)]
pub struct Hooks {
    #[cfg(feature = "test-hooks")]
    armed: Mutex<HashMap<HookPoint, Pause>>,
}

/// A use case stopped at a point: `reached` resolves when it gets there, `resume` lets it go on.
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone, Default)]
pub struct Pause {
    reached: Arc<Notify>,
    resume: Arc<Notify>,
}

#[cfg(feature = "test-hooks")]
impl Pause {
    /// Waits until the use case is stopped at the point.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the stopped use case go on.
    pub fn resume(&self) {
        self.resume.notify_one();
    }
}

impl Hooks {
    /// Stops here if a test armed `point`: once, until the test resumes.
    pub(crate) async fn at(&self, point: HookPoint) {
        #[cfg(feature = "test-hooks")]
        {
            let pause = self.armed.lock().expect("the hooks lock is never poisoned").remove(&point);
            if let Some(pause) = pause {
                pause.reached.notify_one();
                pause.resume.notified().await;
            }
        }
        #[cfg(not(feature = "test-hooks"))]
        let _ = point;
    }

    /// Arms `point`: the next use case that reaches it stops there.
    #[cfg(feature = "test-hooks")]
    pub fn arm(&self, point: HookPoint) -> Pause {
        let pause = Pause::default();
        self.armed.lock().expect("the hooks lock is never poisoned").insert(point, pause.clone());
        pause
    }
}

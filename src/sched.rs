//! The CPU scheduling policy of `serve` (`SCHED_POLICY`): Linux's `SCHED_BATCH` unless
//! told otherwise.
//!
//! The receiver's request path crosses threads twice: an actix worker hands each publish
//! to lapin's I/O thread (a futex wake per publish), and that thread wakes the worker when
//! the broker confirms. Under the default policy a thread that wakes another is often
//! preempted by it on the spot, so on a busy machine the two threads ping-pong per message:
//! two context switches, and a write to the broker for every single message. Under
//! `SCHED_BATCH` a woken thread does not preempt the one that woke it (sched(7): "for
//! workloads that want a deterministic scheduling policy without interactivity causing
//! extra preemptions (between the workload's tasks)"): the worker finishes its batch of
//! publishes, the I/O thread then writes them in one go. Measured on the 2-core benchmark
//! machine, about 3 us less CPU per request for the receiver and fewer, larger writes for
//! the broker (bench/README.md, "Ingest").
//!
//! Nothing is traded that this service needs: the policy keeps the nice value and the
//! share of CPU; it only gives up preempting on wake-up, which matters to interactive
//! programs, not to a webhook that answers in milliseconds against a caller's 8-15 s
//! timeout. `SCHED_POLICY=normal` keeps the default policy.
//!
//! The policy is set on the main thread before the runtime starts, so every thread the
//! process starts afterwards (tokio's, actix's workers, lapin's I/O loop) inherits it.

use std::sync::OnceLock;

use crate::config::{ConfigError, Env};

/// `SCHED_POLICY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedPolicy {
    /// `SCHED_BATCH` (the default).
    Batch,
    /// The policy the process was started with, unchanged.
    Normal,
}

impl SchedPolicy {
    /// `SCHED_POLICY`: `batch` (default) or `normal`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable and its two values.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env.get("SCHED_POLICY").as_deref() {
            None | Some("batch") => Ok(SchedPolicy::Batch),
            Some("normal") => Ok(SchedPolicy::Normal),
            Some(other) => Err(ConfigError(format!(
                "SCHED_POLICY={other:?} must be batch (the default) or normal"
            ))),
        }
    }
}

/// What [`apply`] did, for the start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// `SCHED_BATCH` is in force.
    Batch,
    /// Left as it was (`SCHED_POLICY=normal`, or not Linux).
    Unchanged,
    /// The system refused (a seccomp profile, say); the process runs on unchanged.
    Refused(String),
}

static APPLIED: OnceLock<Applied> = OnceLock::new();

/// Sets the policy `SCHED_POLICY` asks for on the calling thread. Call it first thing in
/// `main`, while no other thread exists. An invalid `SCHED_POLICY` changes nothing here:
/// the configuration check that follows reports it.
pub fn apply(env: &Env) {
    let applied = match SchedPolicy::from_env(env) {
        Ok(SchedPolicy::Batch) => set_batch(),
        Ok(SchedPolicy::Normal) | Err(_) => Applied::Unchanged,
    };
    let _ = APPLIED.set(applied);
}

/// Logs what [`apply`] did, if it ran in this process (once telemetry is up).
pub fn log_applied() {
    match APPLIED.get() {
        Some(Applied::Batch) => {
            tracing::debug!(
                "CPU scheduling policy SCHED_BATCH (SCHED_POLICY=normal to keep the default)"
            );
        }
        Some(Applied::Refused(why)) => tracing::warn!(
            error = %why,
            "could not set the CPU scheduling policy SCHED_BATCH; running with the default policy (set SCHED_POLICY=normal to silence this)"
        ),
        Some(Applied::Unchanged) | None => {}
    }
}

#[cfg(target_os = "linux")]
fn set_batch() -> Applied {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id, thread_schedule_policy,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityOsValue};

    let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
    // The crate sets the nice value along with the policy; keep the one we were started
    // with (`nice -n 5 handover-doctor serve` must stay at 5).
    let nice = rustix::process::getpriority_process(None).unwrap_or(0);
    let set = set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Os(ThreadPriorityOsValue::default()),
        batch,
    );
    if nice != 0 {
        let _ = rustix::process::setpriority_process(None, nice);
    }
    // Read back: the policy may be in force even if resetting the nice value failed.
    match thread_schedule_policy() {
        Ok(p) if p == batch => Applied::Batch,
        Ok(_) => Applied::Refused(match set {
            Err(e) => format!("{e:?}"),
            Ok(()) => "the policy did not change".into(),
        }),
        Err(e) => Applied::Refused(format!("{e:?}")),
    }
}

#[cfg(not(target_os = "linux"))]
fn set_batch() -> Applied {
    Applied::Unchanged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_policy_is_batch_by_default_and_refuses_anything_but_its_two_values() {
        let env = |v: Option<&str>| Env::from_pairs(v.map(|v| ("SCHED_POLICY", v)));
        assert_eq!(
            SchedPolicy::from_env(&env(None)).unwrap(),
            SchedPolicy::Batch
        );
        assert_eq!(
            SchedPolicy::from_env(&env(Some("batch"))).unwrap(),
            SchedPolicy::Batch
        );
        assert_eq!(
            SchedPolicy::from_env(&env(Some("normal"))).unwrap(),
            SchedPolicy::Normal
        );
        let e = SchedPolicy::from_env(&env(Some("fifo"))).unwrap_err();
        assert!(e.0.contains("SCHED_POLICY=\"fifo\""), "{}", e.0);
        assert!(e.0.contains("batch") && e.0.contains("normal"), "{}", e.0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn batch_is_set_on_the_calling_thread_inherited_by_its_children_and_keeps_the_nice_value() {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
        };
        // A thread of its own, so the test runner's threads keep their policy.
        std::thread::spawn(|| {
            // A nice value of 3, which the policy change must keep (raising it needs no
            // privilege).
            rustix::process::setpriority_process(None, 3).unwrap();
            assert_eq!(set_batch(), Applied::Batch);
            let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
            assert_eq!(thread_schedule_policy().unwrap(), batch);
            assert_eq!(rustix::process::getpriority_process(None).unwrap(), 3);
            let child = std::thread::spawn(move || {
                (
                    thread_schedule_policy().unwrap(),
                    rustix::process::getpriority_process(None).unwrap(),
                )
            })
            .join()
            .unwrap();
            assert_eq!(child, (batch, 3));
        })
        .join()
        .unwrap();
    }
}

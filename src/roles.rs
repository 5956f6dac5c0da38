//! Starting the worker and notifier roles on the shared queue.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::queue::Queue;
use crate::startup::Role;

/// Starts the non-HTTP roles of `role`.
///
/// # Errors
/// A role cannot start (its configuration is wrong).
pub async fn start(
    _settings: &Settings,
    role: Role,
    _queue: &Queue,
    _metrics: &Arc<Metrics>,
    _cancel: &CancellationToken,
    _tasks: &TaskTracker,
) -> anyhow::Result<()> {
    if role == Role::Worker || role == Role::Notifier {
        anyhow::bail!("the {role:?} role is not available yet: run `serve --role receiver`");
    }
    if role == Role::All {
        tracing::warn!("worker and notifier roles are not built yet: only the receiver runs");
    }
    Ok(())
}

//! Starting the worker and notifier roles on the shared queue, and the periodic CXone
//! scan (`SCAN_INTERVAL_SECS`) beside the worker.
//!
//! The notifier consumes `P.reports`, a single-active-consumer queue: however many
//! processes run the notifier role, the broker delivers to one of them at a time, and a
//! standby takes over (with the unacked reports) when it stops. A report is acked only
//! when the notifier says every destination has it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cxone::CxoneClient;
use crate::diagnosis::Diagnosis;
use crate::metrics::Metrics;
use crate::notify::{Disposition, Notifier};
use crate::queue::{Delivery, OutMessage, Queue, Source, Target};
use crate::scan::Scanner;
use crate::settings::Settings;
use crate::worker::Worker;

/// Which roles this process plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Receiver, worker and notifier in one process.
    All,
    /// The HTTP endpoint only.
    Receiver,
    /// Diagnoses queued events.
    Worker,
    /// Groups and sends reports (one active across all processes).
    Notifier,
}

impl Role {
    /// Whether this role set includes the receiver.
    pub fn receiver(self) -> bool {
        matches!(self, Role::All | Role::Receiver)
    }
    /// Whether this role set includes the worker.
    pub fn worker(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
    /// Whether this role set includes the notifier.
    pub fn notifier(self) -> bool {
        matches!(self, Role::All | Role::Notifier)
    }
}

/// The CXone client, when credentials are configured.
///
/// # Errors
/// The client cannot be built.
pub fn cxone_client(
    settings: &Settings,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Option<Arc<CxoneClient>>> {
    if !settings.cxone.is_configured() {
        return Ok(None);
    }
    Ok(Some(Arc::new(CxoneClient::new(
        settings.cxone.clone(),
        metrics.clone(),
    )?)))
}

/// Starts the non-HTTP roles of `role`.
///
/// # Errors
/// A role cannot start (its configuration is wrong).
pub async fn start(
    settings: &Settings,
    role: Role,
    queue: &Queue,
    metrics: &Arc<Metrics>,
    cancel: &CancellationToken,
    tasks: &TaskTracker,
) -> anyhow::Result<()> {
    if role.worker() {
        let cxone = cxone_client(settings, metrics)?;
        if cxone.is_none() {
            tracing::warn!(
                "no CXONE_* credentials: diagnoses use the webhook payload only (CXone not checked)"
            );
        }
        let worker = Worker::new(
            queue.clone(),
            cxone.clone(),
            settings.worker.clone(),
            metrics.clone(),
        );
        if let Some(interval) = settings.worker.scan_interval {
            match cxone {
                Some(client) => {
                    // Shares the worker's memory of webhook-reported contacts.
                    let scanner = Scanner::new(
                        client,
                        queue.clone(),
                        settings.worker.scan_skills.clone(),
                        worker.reported_contacts(),
                    )
                    .with_lookback(settings.worker.scan_lookback);
                    tasks.spawn(scanner.run(interval, cancel.child_token()));
                }
                None => tracing::warn!(
                    "SCAN_INTERVAL_SECS is set but there are no CXONE_* credentials: the periodic scan is off"
                ),
            }
        }
        let (c, t) = (cancel.clone(), tasks.clone());
        tasks.spawn(async move {
            if let Err(e) = worker.run(c, t).await {
                tracing::error!(error = %e, "worker stopped");
            }
        });
    }
    if role.notifier() {
        let notifier = Notifier::new(settings.notify.clone(), metrics.clone())?;
        let handle = notifier.handle();
        tasks.spawn(notifier.run(cancel.child_token()));
        // The prefetch is how many reports may wait for their group's message at once.
        let mut consumer = queue
            .consume(Source::Reports, settings.notify.max_pending)
            .await?;
        let (c, m, queue) = (cancel.clone(), metrics.clone(), queue.clone());
        tasks.spawn(async move {
            // The reports this process holds, so that stopping can wait for exactly them.
            let pending = TaskTracker::new();
            loop {
                let mut delivery = tokio::select! {
                    () = c.cancelled() => break,
                    d = consumer.next() => match d { Some(d) => d, None => break },
                };
                let diagnosis: Diagnosis = match serde_json::from_slice(&delivery.body) {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::error!(error = %e, event_id = %delivery.id, "undecodable report dead-lettered");
                        for channel in handle.channels() {
                            m.notification(channel, "dead_lettered");
                        }
                        dead_letter_report(&queue, delivery, format!("undecodable report: {e}")).await;
                        continue;
                    }
                };
                // Held until delivered, possibly for minutes: keep only what settles it.
                delivery.shed_body();
                let submission = handle.submit(diagnosis);
                pending.spawn(async move {
                    match submission.await {
                        Disposition::Done => delivery.ack().await,
                        Disposition::Requeue => delivery.requeue().await,
                    }
                });
            }
            // On shutdown the notifier resolves what it has not delivered as Requeue;
            // settle those, then let the consumer go so the standby takes over at once.
            pending.close();
            let _ = tokio::time::timeout(Duration::from_secs(15), pending.wait()).await;
            drop(consumer);
        });
    }
    Ok(())
}

/// Moves a report the notifier cannot read to `P.dead` with its reason, then acks it; if
/// that publish fails, rejects it so the broker dead-letters it (without the reason).
async fn dead_letter_report(queue: &Queue, delivery: Delivery, reason: String) {
    let msg = OutMessage {
        id: delivery.id.clone(),
        body: delivery.body.clone(),
        reason: Some(reason),
        conversation_id: delivery.conversation_id.clone(),
        origin: Some(Source::Reports),
        ..OutMessage::default()
    };
    match queue.publish(Target::Dead, msg).await {
        Ok(()) => {
            delivery.ack().await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not publish to the dead-letter queue; rejecting");
            delivery.reject("undecodable report").await;
        }
    }
}

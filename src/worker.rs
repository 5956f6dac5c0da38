//! The worker: take a job, gather what CXone knows, run the rules, publish the Diagnosis
//! to `P.reports` (confirmed), and only then ack the job.
//!
//! What happens to a job:
//! * diagnosed → report published → ack;
//! * CXone unreachable for a transient reason (no token, or a read that failed through
//!   all its retries: timeouts, 5xx, 429) on any look-up the verdict depends on
//!   ([`diagnosis::transient_problem`], which reads the one list of failed look-ups,
//!   `/contacts/active` included) while the verdict could still change → a copy goes to a
//!   delay queue (`RETRY_DELAYS_SECS`) with its retry count, then ack; after the last
//!   delay it is diagnosed with what is known (HD503 says CXone kept failing);
//! * CXone answering with something a retry would only repeat (refused credentials, 403,
//!   or a [`ProblemKind::Rejected`](crate::diagnosis::evidence::ProblemKind::Rejected)
//!   read: another 4xx, an unreadable body) → reported at once (HD501/HD502/HD503);
//! * CXone's data still pending (HD402, or not found yet) and the verdict could still
//!   change → re-checked later (`RECHECK_DELAYS_SECS`) with its re-check count, then
//!   diagnosed with what is known. Retries and re-checks count apart: a retry does not
//!   shift the re-check schedule, and re-checks do not use up the retries;
//! * a bot-side cause that is already certain is reported at once, whatever CXone says;
//! * undecodable → `P.dead` with the reason, then ack;
//! * the report cannot be published (broker trouble) → the job is given back and comes
//!   again; a job that keeps failing or crashing its worker is dead-lettered by the
//!   broker's delivery limit.
//!
//! Scan events (`eventId` `scan:<contactId>`, published by `scan --enqueue` and the
//! periodic scan) carry no webhook payload: they are diagnosed like `scan` does, with no
//! event and the contact id, and keep their `scan:` ids. The worker notes the contact ids
//! of every webhook event it takes ([`Worker::reported_contacts`]); a scan event for a
//! contact the bot reported is acked without a report ([`Outcome::Dismissed`]), and so is
//! one whose contact an agent took after all (HD401: not a failure).
//!
//! Caller numbers: the Diagnosis is masked before it is published
//! ([`crate::notify::mask::mask_diagnosis`]), with the numbers only the worker knows (the
//! event's numeric `userId`, the CXone contact's `fromAddress`), so no report in
//! `P.reports`, message or log line carries a full number.
//!
//! [`Worker::process`] handles one delivery, so tests drive the worker step by step.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::{ConfigError, Env};
use crate::cxone::CxoneClient;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::{self, Code, Diagnosis};
use crate::event::HandoverEvent;
use crate::metrics::Metrics;
use crate::notify::mask::Masker;
use crate::queue::{Delivery, OutMessage, Queue, Source, Target};
use crate::scan::{RecentContacts, is_scan_event};

/// How long stopping waits for in-flight jobs before leaving them to redelivery.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// `WORKER_CONCURRENCY`.
const WORKER_CONCURRENCY: RangeInclusive<usize> = 1..=1000;
/// Each of `RETRY_DELAYS_SECS` / `RECHECK_DELAYS_SECS`: a week. A delay queue's
/// `x-message-ttl` in milliseconds must stay under RabbitMQ's 2^32 ms (49 days), or
/// declaring the topology fails with 406 on every reconnect.
const DELAY_SECS: RangeInclusive<u64> = 1..=7 * 86_400;
/// `SCAN_INTERVAL_SECS` (0 = off): the scan never looks further back than a day.
const SCAN_INTERVAL_SECS: RangeInclusive<u64> = 0..=86_400;

/// The worker's settings.
#[derive(Clone)]
pub struct WorkerSettings {
    /// `WORKER_CONCURRENCY`.
    pub concurrency: usize,
    /// `REQUIRED_CONTEXT_KEYS`.
    pub required_context_keys: Vec<String>,
    /// `RETRY_DELAYS_SECS` (default `10,60,300`): waits before retrying a job that failed
    /// for a transient reason (CXone or broker unreachable); after the last, the job is
    /// diagnosed with what is known.
    pub retry_delays: Vec<Duration>,
    /// `RECHECK_DELAYS_SECS` (default `60,180,600`): waits before re-checking a contact
    /// whose CXone data was still pending.
    pub recheck_delays: Vec<Duration>,
    /// `SCAN_INTERVAL_SECS`.
    pub scan_interval: Option<Duration>,
    /// `SCAN_SKILLS`.
    pub scan_skills: Vec<String>,
    /// `SCAN_LOOKBACK_SECS` (default [`crate::scan::DEFAULT_LOOKBACK`]): how far before the
    /// last periodic window's end the next one starts.
    pub scan_lookback: Duration,
}

impl WorkerSettings {
    /// Reads `WORKER_CONCURRENCY`, `REQUIRED_CONTEXT_KEYS`, `RETRY_DELAYS_SECS`,
    /// `RECHECK_DELAYS_SECS` and `SCAN_*`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is wrong.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let required_context_keys = match env.get("REQUIRED_CONTEXT_KEYS") {
            None => vec!["routingData".into(), "customerInfo".into()],
            Some(_) => env.list("REQUIRED_CONTEXT_KEYS"),
        };
        Ok(WorkerSettings {
            concurrency: env.parse_in(
                "WORKER_CONCURRENCY",
                8,
                WORKER_CONCURRENCY,
                "a whole number",
            )?,
            required_context_keys,
            retry_delays: delays(env, "RETRY_DELAYS_SECS", &[10, 60, 300])?,
            recheck_delays: delays(env, "RECHECK_DELAYS_SECS", &[60, 180, 600])?,
            scan_interval: Some(Duration::from_secs(env.parse_in(
                "SCAN_INTERVAL_SECS",
                0,
                SCAN_INTERVAL_SECS,
                "a number of seconds (0 = no periodic scan)",
            )?))
            .filter(|d| !d.is_zero()),
            scan_skills: env.list("SCAN_SKILLS"),
            scan_lookback: crate::scan::lookback_from_env(env)?,
        })
    }

    /// Every delay queue the topology needs: retries and re-checks.
    pub fn delays(&self) -> Vec<Duration> {
        let mut d = self.retry_delays.clone();
        d.extend(self.recheck_delays.iter().copied());
        d
    }
}

fn delays(env: &Env, key: &str, default: &[u64]) -> Result<Vec<Duration>, ConfigError> {
    let list = env.list(key);
    if list.is_empty() {
        return Ok(default.iter().map(|s| Duration::from_secs(*s)).collect());
    }
    list.iter()
        .map(|s| {
            s.parse::<u64>()
                .ok()
                .filter(|n| DELAY_SECS.contains(n))
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "{key} must be comma-separated whole seconds from {} to {}, e.g. 60,180,600",
                        DELAY_SECS.start(),
                        DELAY_SECS.end()
                    ))
                })
        })
        .collect()
}

/// What became of one job.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Diagnosed and reported.
    Reported(Box<Diagnosis>),
    /// Sent to a delay queue to be tried again (transient failure).
    Retried(Duration),
    /// Sent to a delay queue to be re-checked (CXone data pending).
    Rechecked(Duration),
    /// Moved to `P.dead` with this reason.
    DeadLettered(String),
    /// Given back to the queue (the report could not be published).
    Requeued,
    /// A scan event acked without a report, for this reason (the bot reported the
    /// contact by webhook, or an agent took it after all).
    Dismissed(String),
}

/// Diagnoses jobs.
#[derive(Clone)]
pub struct Worker {
    queue: Queue,
    cxone: Option<Arc<CxoneClient>>,
    settings: WorkerSettings,
    metrics: Arc<Metrics>,
    reported: RecentContacts,
}

impl Worker {
    /// A worker on `queue`, consulting `cxone` when configured.
    pub fn new(
        queue: Queue,
        cxone: Option<Arc<CxoneClient>>,
        settings: WorkerSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Worker {
            queue,
            cxone,
            settings,
            metrics,
            reported: RecentContacts::default(),
        }
    }

    /// The contact ids (contact and master contact) of the webhook events this worker
    /// took recently: the periodic scan skips them, and scan events for them are
    /// dismissed. Shared, not copied.
    pub fn reported_contacts(&self) -> RecentContacts {
        self.reported.clone()
    }

    /// Consumes `P.jobs` until `cancel`, `WORKER_CONCURRENCY` jobs at a time (the
    /// prefetch matches, so the broker never hands this process more than it works on).
    ///
    /// # Errors
    /// The consumer could not be started.
    pub async fn run(self, cancel: CancellationToken, tasks: TaskTracker) -> anyhow::Result<()> {
        let concurrency = self.settings.concurrency;
        let prefetch = u16::try_from(concurrency).unwrap_or(u16::MAX);
        let mut consumer = self.queue.consume(Source::Jobs, prefetch).await?;
        let permits = Arc::new(Semaphore::new(concurrency));
        // The jobs of this consumer, so that stopping can wait for exactly them.
        let jobs = TaskTracker::new();
        tracing::info!(concurrency, "worker started");
        loop {
            let permit = tokio::select! {
                () = cancel.cancelled() => break,
                p = permits.clone().acquire_owned() => p.expect("semaphore never closes"),
            };
            let delivery = tokio::select! {
                () = cancel.cancelled() => break,
                d = consumer.next() => match d {
                    Some(d) => d,
                    None => break,
                },
            };
            let worker = self.clone();
            jobs.spawn(async move {
                let _permit = permit;
                worker.process(delivery).await;
            });
        }
        tracing::info!(
            in_flight = jobs.len(),
            "worker stopped taking jobs; in-flight jobs finish"
        );
        jobs.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, jobs.wait())
            .await
            .is_err()
        {
            tracing::warn!("in-flight jobs did not finish in time; the broker redelivers them");
        }
        // Only now: the consumer's channel must stay open for the in-flight acks.
        drop(consumer);
        drop(tasks);
        Ok(())
    }

    /// Handles one delivery completely: after this returns it is settled.
    pub async fn process(&self, delivery: Delivery) -> Outcome {
        let span = tracing::info_span!("job", event_id = %delivery.id, attempt = delivery.attempt,
            rechecks = delivery.rechecks, conversation_id = tracing::field::Empty,
            contact_id = tracing::field::Empty);
        self.process_inner(delivery).instrument(span).await
    }

    async fn process_inner(&self, mut delivery: Delivery) -> Outcome {
        let started = std::time::Instant::now();
        let event = match HandoverEvent::from_json(&delivery.body) {
            Ok(e) => e,
            Err(e) => {
                return self
                    .dead_letter(delivery, format!("undecodable job: {e}"))
                    .await;
            }
        };
        // The receiver leaves it out of its headers; what this job is re-published as
        // (a retry, a dead letter) carries it, so `dead-letters` lists it without parsing.
        if delivery.conversation_id.is_none() {
            delivery.conversation_id = Some(event.conversation_id.clone());
        }
        let span = tracing::Span::current();
        span.record("conversation_id", event.conversation_id.as_str());
        if let Some(c) = event.real_contact_id() {
            span.record("contact_id", c);
        }
        let scanned = is_scan_event(&event);
        if !scanned {
            if let Some(c) = event.real_contact_id() {
                self.reported.note(c);
            }
            if let Some(m) = &event.cxone.master_contact_id {
                self.reported.note(m);
            }
        } else if let Some(outcome) = self.dismiss_if_reported(&event, &delivery) {
            delivery.ack().await;
            return outcome;
        }

        // A scan event has no payload: diagnose the contact as `scan` does.
        let cxone = if scanned {
            crate::cxone::gather(self.cxone.as_deref(), None, event.real_contact_id()).await
        } else {
            crate::cxone::gather(self.cxone.as_deref(), Some(&event), None).await
        };
        let evidence = Evidence {
            contact_id: event.real_contact_id().map(str::to_string),
            event: (!scanned).then(|| event.clone()),
            cxone,
            required_context_keys: self.settings.required_context_keys.clone(),
            now: chrono::Utc::now(),
        };
        let diagnosis = diagnosis::diagnose(&evidence);
        let unavailable = diagnosis::transient_problem(&evidence).cloned();
        // Masked here, where the caller numbers are known: the rules echo the flow's free
        // text (codeError, sipReason) and no rule keeps the number under a key the
        // notifier could learn it from. What leaves this function is masked.
        let masker = Masker::for_evidence(&diagnosis, &evidence);
        let mut diagnosis = masker.diagnosis(&diagnosis);

        // CXone failing for a transient reason — no token at all, or one of the reads
        // (the contact, say) through all its retries — is worth another try later, unless
        // the payload already proves a bot-side cause (a signal refused with 403, say).
        // Then the report goes out now, saying CXone could not be checked (HD503): a
        // later read could at most show that an agent took the contact after all (HD401),
        // and the refused signal would still be a fault to fix, while an outage of unknown
        // length would hold a certain cause back.
        if let Some(problem) = unavailable
            && !bot_side_cause_is_certain(&diagnosis)
            && let Some(delay) = self
                .settings
                .retry_delays
                .get(delivery.attempt as usize)
                .copied()
        {
            let detail = masker.text(&problem.detail);
            tracing::warn!(%detail, what = %problem.what, ?delay, "CXone unavailable; the job will be retried");
            let reason = format!("CXone unavailable: {detail}");
            return match self.later(&delivery, Later::Retry, delay, reason).await {
                true => {
                    self.metrics.job("retried");
                    delivery.ack().await;
                    Outcome::Retried(delay)
                }
                false => self.requeue(delivery).await,
            };
        }

        if scanned {
            diagnosis.event_id = event.event_id.clone();
            diagnosis.conversation_id = event.conversation_id.clone();
            // The webhook may have been taken while CXone was being read.
            if let Some(outcome) = self.dismiss_if_reported(&event, &delivery) {
                delivery.ack().await;
                return outcome;
            }
            if diagnosis.verdict.code == Code::Hd401 {
                self.metrics.job("dismissed");
                tracing::info!("scanned contact was handled by an agent after all; not reported");
                delivery.ack().await;
                return Outcome::Dismissed("an agent took the contact (HD401)".into());
            }
        }

        if diagnosis::needs_recheck(&diagnosis)
            && let Some(delay) = self
                .settings
                .recheck_delays
                .get(delivery.rechecks as usize)
                .copied()
        {
            tracing::info!(verdict = %diagnosis.verdict.code, ?delay, "CXone data pending; re-checking later");
            let reason = format!("re-check: {}", diagnosis.verdict.name);
            return match self.later(&delivery, Later::Recheck, delay, reason).await {
                true => {
                    self.metrics.job("rechecked");
                    delivery.ack().await;
                    Outcome::Rechecked(delay)
                }
                false => self.requeue(delivery).await,
            };
        }

        let report = OutMessage {
            id: diagnosis.event_id.clone(),
            body: serde_json::to_vec(&diagnosis).expect("a diagnosis always serialises"),
            conversation_id: Some(diagnosis.conversation_id.clone()),
            ..OutMessage::default()
        };
        if !self.publish_with_retries(Target::Reports, report).await {
            return self.requeue(delivery).await;
        }
        for f in &diagnosis.findings {
            self.metrics.finding(f.code.as_str());
        }
        self.metrics.job("diagnosed");
        let age = event
            .received_at
            .and_then(|at| (chrono::Utc::now() - at).to_std().ok());
        self.metrics.diagnosis(
            diagnosis.verdict.code.as_str(),
            diagnosis.target_skill.as_deref(),
            started.elapsed(),
            age,
        );
        tracing::info!(verdict = %diagnosis.verdict.code, findings = diagnosis.findings.len(), "diagnosed");
        if !delivery.ack().await {
            // The channel went away after the report was published: the job comes back
            // and is reported again; the notifier de-duplicates by event id.
            tracing::warn!(
                "job ack failed after its report was published; the notifier will de-duplicate"
            );
        }
        Outcome::Reported(Box::new(diagnosis))
    }

    /// For a scan event whose contact (or master contact) the bot reported by webhook:
    /// the outcome to return once the delivery is acked.
    fn dismiss_if_reported(&self, event: &HandoverEvent, d: &Delivery) -> Option<Outcome> {
        let ids = [
            event.real_contact_id(),
            event.cxone.master_contact_id.as_deref(),
        ];
        if !self.reported.any(&ids) {
            return None;
        }
        self.metrics.job("dismissed");
        tracing::info!(event_id = %d.id, "the bot reported this contact by webhook; scan event not reported");
        Some(Outcome::Dismissed(
            "the bot reported this contact by webhook".into(),
        ))
    }

    /// Publishes a copy of the job to the delay queue for `delay`, counting one more
    /// retry or re-check.
    async fn later(&self, d: &Delivery, why: Later, delay: Duration, reason: String) -> bool {
        let (attempt, rechecks) = match why {
            Later::Retry => (d.attempt + 1, d.rechecks),
            Later::Recheck => (d.attempt, d.rechecks + 1),
        };
        let msg = OutMessage {
            id: d.id.clone(),
            body: d.body.clone(),
            attempt,
            rechecks,
            reason: Some(reason),
            conversation_id: d.conversation_id.clone(),
            origin: None,
        };
        self.publish_with_retries(Target::Retry(delay), msg).await
    }

    /// Publishes, riding out a short broker hiccup (the connection heals itself).
    async fn publish_with_retries(&self, target: Target, msg: OutMessage) -> bool {
        let mut wait = Duration::from_millis(250);
        for attempt in 0..6 {
            match self.queue.publish(target, msg.clone()).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::warn!(error = %e, attempt, ?target, "publish failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(4));
                }
            }
        }
        false
    }

    async fn requeue(&self, d: Delivery) -> Outcome {
        self.metrics.job("requeued");
        tracing::error!("could not publish; the job goes back to the queue");
        d.requeue().await;
        Outcome::Requeued
    }

    async fn dead_letter(&self, d: Delivery, reason: String) -> Outcome {
        tracing::error!(%reason, "job dead-lettered");
        self.metrics.job("dead_lettered");
        let msg = OutMessage {
            id: d.id.clone(),
            body: d.body.clone(),
            attempt: d.attempt,
            rechecks: d.rechecks,
            reason: Some(reason.clone()),
            conversation_id: d.conversation_id.clone(),
            origin: Some(Source::Jobs),
        };
        if self.publish_with_retries(Target::Dead, msg).await {
            d.ack().await;
        } else {
            // Let the broker dead-letter it (without our reason) rather than lose it.
            d.reject(&reason).await;
        }
        Outcome::DeadLettered(reason)
    }
}

/// Why a job goes to a delay queue; each has its own counter and schedule.
#[derive(Clone, Copy)]
enum Later {
    /// A transient failure: `RETRY_DELAYS_SECS`.
    Retry,
    /// CXone's data pending: `RECHECK_DELAYS_SECS`.
    Recheck,
}

/// Whether the verdict is a cause the payload proves on its own (the bot side, up to
/// HD202 in the precedence), which more CXone data cannot change.
fn bot_side_cause_is_certain(d: &Diagnosis) -> bool {
    let rank = |c: Code| diagnosis::PRECEDENCE.iter().position(|p| *p == c);
    rank(d.verdict.code) <= rank(Code::Hd202)
}

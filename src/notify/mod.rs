//! The notifier: turns Diagnosis reports into grouped, de-duplicated, paced messages in
//! Slack, Microsoft Teams (Workflows) or, when neither is configured, standard output
//! (CONTRACT.md section 8).
//!
//! The queue consumer hands each diagnosis over with [`NotifierHandle::submit`] and acks
//! the broker delivery only when the returned [`Submission`] resolves to
//! [`Disposition::Done`]: every destination has the message that contains it (or refused
//! it for good), or it was a duplicate. [`Disposition::Requeue`] means nack with
//! requeue: at shutdown, and when a destination keeps failing through every retry (the
//! notifier keeps the diagnosis and tries again at the group's next interval; handing the
//! delivery back keeps it from sitting unacked past RabbitMQ's consumer timeout, and the
//! redelivery simply rejoins the kept diagnosis). Nothing is acked before it is
//! delivered, so a crash loses nothing.
//!
//! Wiring (what the `P.reports` consumer does):
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use handover_doctor::diagnosis::model::Diagnosis;
//! # use handover_doctor::metrics::Metrics;
//! # use handover_doctor::notify::{Disposition, Notifier, NotifySettings};
//! # use tokio_util::sync::CancellationToken;
//! # async fn wire(diagnosis: Diagnosis) -> anyhow::Result<()> {
//! let settings = NotifySettings::from_env()?; // or from_env_map(|k| env.get(k))
//! let notifier = Notifier::new(settings, Arc::new(Metrics::new()))?;
//! let handle = notifier.handle();
//! let cancel = CancellationToken::new();
//! let running = tokio::spawn(notifier.run(cancel.clone()));
//! // For each delivery of P.reports (parse the body into a Diagnosis first):
//! let submission = handle.submit(diagnosis);
//! tokio::spawn(async move {
//!     match submission.await {
//!         Disposition::Done => { /* basic_ack */ }
//!         Disposition::Requeue => { /* basic_nack with requeue */ }
//!     }
//! });
//! // At shutdown:
//! cancel.cancel();
//! running.await?;
//! # Ok(())
//! # }
//! ```
//!
//! Each diagnosis stays unacked while its group waits, so the consumer's prefetch
//! (`NOTIFY_MAX_PENDING`) bounds how many reports can wait at once. When it is nearly
//! full, the groups holding the most waiting reports send their message early instead
//! of leaving the queue stalled until their timer fires ([`state`]).
//!
//! Inside, one loop ([`Notifier::run`]) owns the group timers ([`state`]), and one worker
//! task per destination delivers that destination's messages in order ([`delivery`]), so a
//! slow or rate-limited Slack never holds up Teams. Time comes from a [`clock::Clock`], so
//! tests drive group waits, intervals and back-offs without sleeping.

pub mod clock;
pub mod delivery;
pub mod mask;
pub mod report;
pub mod settings;
pub mod slack;
pub mod state;
pub mod stdout;
pub mod teams;

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use clock::{Clock, ManualClock, TokioClock};
pub use report::Report;
pub use settings::{NotifySettings, SettingsError};

use crate::diagnosis::model::Diagnosis;
use crate::metrics::Metrics;
use delivery::{Deliverer, Outcome, Sink};
pub use state::Disposition;
use state::{Admission, Completion, EntryId, GroupKey, State, Timing};

/// Why the notifier could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The HTTP client could not be built (e.g. no CA certificates on the system).
    #[error("could not build the HTTP client for notifications: {0}")]
    HttpClient(#[source] reqwest::Error),
}

impl NotifyError {
    /// Building the client fails the same way every time: not transient.
    pub fn is_transient(&self) -> bool {
        false
    }
}

/// The outcome of one [`NotifierHandle::submit`]: a future of the [`Disposition`].
///
/// Resolves to `Requeue` if the notifier goes away without deciding.
#[derive(Debug)]
#[must_use = "ack or nack the delivery when this resolves"]
pub struct Submission(oneshot::Receiver<Disposition>);

impl Submission {
    /// The raw receiver, for callers who prefer it (a closed channel means `Requeue`).
    pub fn into_receiver(self) -> oneshot::Receiver<Disposition> {
        self.0
    }
}

impl Future for Submission {
    type Output = Disposition;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Disposition> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Disposition::Requeue))
    }
}

/// A message on its way to one destination's worker.
struct Job {
    key: GroupKey,
    entries: Vec<EntryId>,
    report: Report,
}

struct Shared {
    state: Mutex<State>,
    wake: Notify,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    channels: Vec<&'static str>,
    outboxes: Vec<mpsc::UnboundedSender<Job>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Builds and hands out what is due. Masking and rendering happen outside the lock.
    fn flush(&self) {
        let batches = self.state().flush_due(self.clock.now());
        for b in batches {
            let report = Report::from_shared(b.key.skill.clone(), b.update, b.total, b.diagnoses);
            tracing::debug!(
                channel = self.channels[b.dest],
                code = b.key.code.as_str(),
                count = b.entries.len(),
                update = b.update,
                "group flushed"
            );
            let job = Job {
                key: b.key,
                entries: b.entries,
                report,
            };
            // A closed outbox means the worker stopped (shutdown): the entries stay
            // pending and are requeued.
            let _ = self.outboxes[b.dest].send(job);
        }
    }
}

/// Submits diagnoses to a running [`Notifier`]. Cheap to clone.
#[derive(Clone)]
pub struct NotifierHandle {
    shared: Arc<Shared>,
}

impl NotifierHandle {
    /// Hands a diagnosis to the notifier. It joins its group at once (before this
    /// returns); the returned [`Submission`] resolves when the consumer may ack
    /// (`Done`) or must requeue (`Requeue`). A duplicate event id within the TTL resolves
    /// `Done` without a second message (immediately when the first was already
    /// delivered; together with the first while that one is still pending).
    ///
    /// Scan diagnoses (`scan:<contactId>`) are also de-duplicated by contact id against
    /// webhook diagnoses accepted within the TTL (contact or master contact, on either
    /// side): one of a contact a webhook diagnosis named resolves `Done` at once, unsent; a webhook diagnosis that arrives while a scan
    /// one of its contact still waits in its group replaces it (the scan one resolves
    /// `Done`, unsent); once the scan one has gone out, the webhook one is sent as well.
    /// Every diagnosis left unsent this way counts as `deduplicated`.
    pub fn submit(&self, diagnosis: Diagnosis) -> Submission {
        let (tx, rx) = oneshot::channel();
        let event_id = diagnosis.event_id.clone();
        let admission = self
            .shared
            .state()
            .submit(diagnosis, tx, self.shared.clock.now());
        match admission {
            Admission::Accepted => self.shared.wake.notify_one(),
            Admission::AcceptedReplacingScans(n) => {
                self.shared.wake.notify_one();
                self.count_deduplicated(n);
                tracing::info!(
                    event_id = %event_id,
                    replaced = n,
                    "webhook diagnosis replaces the waiting scan diagnosis of its contact"
                );
            }
            Admission::Duplicate => {
                self.count_deduplicated(1);
                tracing::info!(event_id = %event_id, "duplicate diagnosis; not notified again");
            }
            Admission::ReportedByWebhook => {
                self.count_deduplicated(1);
                tracing::info!(
                    event_id = %event_id,
                    "the bot reported this contact by webhook; scan diagnosis not notified"
                );
            }
            Admission::Rejoined => {
                tracing::debug!(event_id = %event_id, "redelivered diagnosis rejoined its pending entry")
            }
            Admission::Closed => {
                tracing::debug!(event_id = %event_id, "notifier stopping; diagnosis requeued")
            }
        }
        Submission(rx)
    }

    fn count_deduplicated(&self, n: usize) {
        for channel in &self.shared.channels {
            for _ in 0..n {
                self.shared.metrics.notification(channel, "deduplicated");
            }
        }
    }

    /// The `channel` labels of the configured destinations (`slack`, `teams`, `stdout`).
    pub fn channels(&self) -> &[&'static str] {
        &self.shared.channels
    }
}

/// Builds a [`Notifier`]; lets tests replace the clock and standard output.
pub struct NotifierBuilder {
    settings: NotifySettings,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    stdout: Option<Box<dyn Write + Send>>,
}

impl NotifierBuilder {
    /// Uses this clock instead of tokio's (tests: [`ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Writes standard-output messages here instead of the process' standard output.
    pub fn stdout(mut self, out: impl Write + Send + 'static) -> Self {
        self.stdout = Some(Box::new(out));
        self
    }

    /// Builds the notifier.
    ///
    /// # Errors
    /// [`NotifyError::HttpClient`] when Slack or Teams is configured and the HTTP client
    /// cannot be built.
    pub fn build(self) -> Result<Notifier, NotifyError> {
        let s = &self.settings;
        let client = || {
            reqwest::Client::builder()
                .timeout(s.request_timeout)
                .connect_timeout(s.request_timeout.min(std::time::Duration::from_secs(5)))
                .user_agent(concat!("handover-doctor/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(NotifyError::HttpClient)
        };
        let mut sinks = Vec::new();
        if s.slack_webhook_url.is_some() || s.teams_webhook_url.is_some() {
            let client = client()?;
            if let Some(url) = &s.slack_webhook_url {
                sinks.push(Sink::Slack {
                    url: url.clone(),
                    client: client.clone(),
                });
            }
            if let Some(url) = &s.teams_webhook_url {
                sinks.push(Sink::Teams {
                    url: url.clone(),
                    client,
                });
            }
        } else {
            // Text for a person at a terminal; JSON lines for anything else (and tests).
            let (out, text) = match self.stdout {
                Some(out) => (out, false),
                None => (
                    Box::new(std::io::stdout()) as Box<dyn Write + Send>,
                    std::io::stdout().is_terminal(),
                ),
            };
            sinks.push(Sink::Stdout {
                out: Mutex::new(out),
                text,
            });
        }
        let mut outboxes = Vec::new();
        let mut workers = Vec::new();
        for sink in sinks {
            let (tx, rx) = mpsc::unbounded_channel();
            outboxes.push(tx);
            workers.push((sink, rx));
        }
        let timing = Timing {
            group_wait: s.group_wait,
            group_interval: s.group_interval,
            dedup_ttl: s.dedup_ttl,
            max_pending: usize::from(s.max_pending),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(workers.len(), timing)),
            wake: Notify::new(),
            clock: self.clock,
            metrics: self.metrics,
            channels: workers.iter().map(|(s, _)| s.channel()).collect(),
            outboxes,
        });
        Ok(Notifier {
            shared,
            workers,
            settings: self.settings,
        })
    }
}

/// The notifier: build it, take [`Notifier::handle`]s, then [`Notifier::run`] it.
pub struct Notifier {
    shared: Arc<Shared>,
    workers: Vec<(Sink, mpsc::UnboundedReceiver<Job>)>,
    settings: NotifySettings,
}

impl Notifier {
    /// A builder with tokio's clock and the process' standard output.
    pub fn builder(settings: NotifySettings, metrics: Arc<Metrics>) -> NotifierBuilder {
        NotifierBuilder {
            settings,
            metrics,
            clock: Arc::new(TokioClock),
            stdout: None,
        }
    }

    /// [`Notifier::builder`] with the defaults, built.
    ///
    /// # Errors
    /// As [`NotifierBuilder::build`].
    pub fn new(settings: NotifySettings, metrics: Arc<Metrics>) -> Result<Notifier, NotifyError> {
        Self::builder(settings, metrics).build()
    }

    /// A handle for submitting diagnoses; valid before and while [`Notifier::run`] runs.
    pub fn handle(&self) -> NotifierHandle {
        NotifierHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs the group timers and the delivery workers until `cancel` fires. Then it stops
    /// taking diagnoses, lets each worker finish the request it is making (not its
    /// retries), and resolves everything not yet delivered with `Requeue`.
    pub async fn run(self, cancel: CancellationToken) {
        let Notifier {
            shared,
            workers,
            settings,
        } = self;
        let settings = Arc::new(settings);
        let mut tasks = JoinSet::new();
        for (dest, (sink, rx)) in workers.into_iter().enumerate() {
            tasks.spawn(worker(
                dest,
                sink,
                rx,
                shared.clone(),
                settings.clone(),
                cancel.child_token(),
            ));
        }
        tracing::info!(
            channels = ?shared.channels,
            group_wait_secs = settings.group_wait.as_secs(),
            group_interval_secs = settings.group_interval.as_secs(),
            "notifier started"
        );
        loop {
            let next = {
                let mut st = shared.state();
                st.gc(shared.clock.now());
                st.next_due()
            };
            let sleep = async {
                match next {
                    Some(t) => shared.clock.sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                _ = shared.wake.notified() => {}
                _ = sleep => {}
            }
            shared.flush();
        }
        shared.state().close();
        while tasks.join_next().await.is_some() {}
        let requeued = shared.state().requeue_all();
        tracing::info!(requeued, "notifier stopped");
    }
}

async fn worker(
    dest: usize,
    sink: Sink,
    mut rx: mpsc::UnboundedReceiver<Job>,
    shared: Arc<Shared>,
    settings: Arc<NotifySettings>,
    cancel: CancellationToken,
) {
    let deliverer = Deliverer {
        sink: &sink,
        settings: &settings,
        clock: &*shared.clock,
        metrics: &shared.metrics,
        cancel: &cancel,
    };
    let mut last_request = None;
    loop {
        let job = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            job = rx.recv() => match job {
                Some(job) => job,
                None => return,
            },
        };
        let payload = sink.payload(&job.report);
        let outcome = deliverer
            .deliver(&payload, job.entries.len(), &mut last_request)
            .await;
        let completion = match outcome {
            Outcome::Delivered => Completion::Delivered,
            Outcome::Refused => Completion::Refused,
            Outcome::GaveUp => Completion::GaveUp,
            Outcome::Aborted => return,
        };
        shared
            .state()
            .complete(dest, &job.key, &job.entries, completion, shared.clock.now());
        shared.wake.notify_one();
    }
}

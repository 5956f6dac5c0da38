//! The durable job queue between the receiver, the workers and the notifier.
//!
//! Two backends behind one [`Queue`]: RabbitMQ (lapin; quorum queues, publisher confirms,
//! manual acks, reconnects by itself) for real use, and an in-process bounded channel for
//! trying the tool out. Both carry the same [`OutMessage`]s and hand out the same
//! [`Delivery`]s, so the receiver, worker and notifier do not know which one they talk to.
//!
//! Topology with prefix `P` (CONTRACT.md section 9): `P.jobs`, `P.retry.<delay>`,
//! `P.reports`, `P.dead` — see [`topology`].

pub mod memory;
pub mod nodes;
pub mod rabbitmq;
mod settings;
pub mod topology;

use std::sync::Arc;
use std::time::Duration;

pub use settings::QueueSettings;
pub use topology::{Source, Target, Topology};

/// A message to publish.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutMessage {
    /// The event id; the AMQP `message_id`.
    pub id: String,
    /// JSON bytes.
    pub body: Vec<u8>,
    /// How many times the job has been retried after a transient failure (0 on first
    /// publish); picks the next of `RETRY_DELAYS_SECS`.
    pub attempt: u32,
    /// Why it is being retried or dead-lettered.
    pub reason: Option<String>,
    /// The conversation id, carried as a header so `dead-letters` can list it without
    /// parsing bodies.
    pub conversation_id: Option<String>,
    /// How many times the job has been re-checked because CXone's data was pending (0 on
    /// first publish); picks the next of `RECHECK_DELAYS_SECS`. Counted apart from
    /// `attempt`, so a transient retry does not shift the re-check schedule, nor re-checks
    /// use up the retries.
    pub rechecks: u32,
    /// For [`Target::Dead`]: the queue the message died in, where `dead-letters --requeue`
    /// sends it back.
    pub origin: Option<Source>,
}

/// Why the queue did not take a message.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Not connected to the broker right now (it reconnects by itself).
    #[error("the queue is not connected")]
    NotConnected,
    /// The broker did not confirm within the bound. The message may still be stored.
    #[error("the queue did not confirm the publish within {0:?}")]
    ConfirmTimeout(Duration),
    /// The connection broke after the message was sent and before its confirm came:
    /// the broker may have stored it.
    #[error("the connection was lost before the publish was confirmed: {0}")]
    Unconfirmed(String),
    /// The broker refused the message until the confirm timeout (nack: the queue is full,
    /// or a quorum queue was changing leader, in which case it may be stored after all).
    #[error("the queue refused the message")]
    Nacked,
    /// The message could not be routed (the queue does not exist).
    #[error("the message could not be routed to {0}")]
    Unroutable(String),
    /// The in-process queue is full.
    #[error("the in-process queue is full")]
    Full,
    /// A broker protocol or I/O error.
    #[error("broker error: {0}")]
    Broker(String),
}

impl QueueError {
    /// True when the message may have been stored although the publish failed (it was
    /// sent, and its confirm never came, or came as a nack that a leader change can
    /// contradict): a retry may duplicate it, so it must carry the same id.
    pub fn in_doubt(&self) -> bool {
        matches!(
            self,
            QueueError::ConfirmTimeout(_) | QueueError::Unconfirmed(_) | QueueError::Nacked
        )
    }

    /// Every queue error is worth retrying later: the broker comes back, queues drain.
    pub fn is_transient(&self) -> bool {
        true
    }
}

/// The queue, whichever backend.
#[derive(Clone)]
pub enum Queue {
    /// In-process: for trying the tool; not durable.
    Memory(Arc<memory::MemoryQueue>),
    /// RabbitMQ.
    Rabbit(Arc<rabbitmq::RabbitQueue>),
}

impl Queue {
    /// `"rabbitmq"` or `"memory"`, as `/readyz` shows it.
    pub fn kind(&self) -> &'static str {
        match self {
            Queue::Memory(_) => "memory",
            Queue::Rabbit(_) => "rabbitmq",
        }
    }

    /// The `host:port` of the RabbitMQ node this process publishes through, while
    /// connected (`None` for the in-process queue).
    pub fn node(&self) -> Option<String> {
        match self {
            Queue::Memory(_) => None,
            Queue::Rabbit(q) => q.node(),
        }
    }

    /// Messages waiting in `P.jobs`, `P.reports` and `P.dead`, by suffix (`jobs`, ...);
    /// empty for the in-process queue, which lives and dies with its process.
    ///
    /// # Errors
    /// [`QueueError`] when the broker cannot be asked.
    pub async fn depths(&self) -> Result<Vec<(&'static str, u32)>, QueueError> {
        match self {
            Queue::Memory(_) => Ok(Vec::new()),
            Queue::Rabbit(q) => q.depths().await,
        }
    }

    /// True while messages can be published.
    pub fn is_connected(&self) -> bool {
        match self {
            Queue::Memory(_) => true,
            Queue::Rabbit(q) => q.is_connected(),
        }
    }

    /// Publishes durably: returns once the broker confirmed the persistent message.
    ///
    /// # Errors
    /// [`QueueError`] when the message was not accepted; nothing was stored then.
    pub async fn publish(&self, target: Target, msg: OutMessage) -> Result<(), QueueError> {
        match self {
            Queue::Memory(q) => q.publish(target, msg).await,
            Queue::Rabbit(q) => q.publish(target, msg).await,
        }
    }

    /// Starts consuming with manual acks and the given prefetch.
    ///
    /// # Errors
    /// [`QueueError`] when the consumer cannot be started (memory: already taken).
    pub async fn consume(&self, source: Source, prefetch: u16) -> Result<Consumer, QueueError> {
        match self {
            Queue::Memory(q) => q.consume(source),
            Queue::Rabbit(q) => q.consume(source, prefetch).await,
        }
    }

    /// Reads every message of `P.dead` without removing it (`dead-letters`).
    ///
    /// # Errors
    /// [`QueueError`] when the broker cannot be read.
    pub async fn peek_dead(&self) -> Result<Vec<DeadLetter>, QueueError> {
        match self {
            Queue::Memory(q) => Ok(q.peek_dead()),
            Queue::Rabbit(q) => q.peek_dead().await,
        }
    }

    /// Moves every message of `P.dead` back to the queue it died in (`P.jobs` or
    /// `P.reports`); returns how many went where.
    ///
    /// # Errors
    /// [`QueueError`] when the broker cannot be read or written; what was moved stays moved.
    pub async fn requeue_dead(&self) -> Result<Requeued, QueueError> {
        match self {
            Queue::Memory(q) => q.requeue_dead().await,
            Queue::Rabbit(q) => q.requeue_dead().await,
        }
    }

    /// Closes connections, waiting for outstanding confirms.
    pub async fn close(&self) {
        if let Queue::Rabbit(q) = self {
            q.close().await;
        }
    }
}

/// A message in `P.dead`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The event id.
    pub event_id: String,
    /// The conversation id, when known.
    pub conversation_id: Option<String>,
    /// Why it died: ours when a worker or the notifier moved it here, else the broker's
    /// reason for its latest death (`x-death`).
    pub reason: String,
    /// The queue it died in, where `--requeue` sends it back.
    pub origin: Source,
    /// The body.
    pub body: Vec<u8>,
}

impl DeadLetter {
    /// The message to publish when it is sent back to [`DeadLetter::origin`]: its ids
    /// and body, with fresh counters and no reason (a re-drive starts over).
    pub fn requeued(self) -> (Target, OutMessage) {
        let msg = OutMessage {
            id: self.event_id,
            body: self.body,
            conversation_id: self.conversation_id,
            ..OutMessage::default()
        };
        (self.origin.target(), msg)
    }
}

/// What `dead-letters --requeue` moved, by the queue each went back to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requeued {
    /// Sent back to `P.jobs`.
    pub jobs: usize,
    /// Sent back to `P.reports`.
    pub reports: usize,
}

impl Requeued {
    /// How many in all.
    pub fn total(&self) -> usize {
        self.jobs + self.reports
    }

    pub(crate) fn count(&mut self, target: Target) {
        match target {
            Target::Reports => self.reports += 1,
            _ => self.jobs += 1,
        }
    }
}

/// How a delivery is settled.
pub(crate) enum Settle {
    Memory(memory::MemoryAcker),
    Rabbit(lapin::Acker),
}

/// One message handed to a consumer. Settle it exactly once: [`Delivery::ack`] after the
/// work is done, [`Delivery::requeue`] to give it back (another consumer, or this one
/// later, gets it), [`Delivery::reject`] to dead-letter it through the broker.
pub struct Delivery {
    /// The message id (event id).
    pub id: String,
    /// The body.
    pub body: Vec<u8>,
    /// Our retry counter (transient failures sent through `P.retry.*`).
    pub attempt: u32,
    /// Our re-check counter (pending CXone data sent through `P.retry.*`).
    pub rechecks: u32,
    /// The broker's redelivery count (crashes, requeues) on this queue.
    pub delivery_count: u32,
    /// The reason header, when the message carries one.
    pub reason: Option<String>,
    /// The conversation id header, when present.
    pub conversation_id: Option<String>,
    pub(crate) settle: Settle,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("id", &self.id)
            .field("attempt", &self.attempt)
            .field("rechecks", &self.rechecks)
            .finish()
    }
}

impl Delivery {
    /// Acknowledges: the work is done. Returns false when the channel it came on is gone
    /// (the broker will redeliver it; the work must be idempotent).
    pub async fn ack(self) -> bool {
        match self.settle {
            Settle::Memory(_) => true,
            Settle::Rabbit(a) => a
                .ack(lapin::options::BasicAckOptions::default())
                .await
                .unwrap_or(false),
        }
    }

    /// Frees the body once it has been read, for a delivery that may stay unsettled for
    /// long (the notifier holds each report until it is delivered). The in-process queue
    /// needs the body to requeue, so there it stays.
    pub fn shed_body(&mut self) {
        if matches!(self.settle, Settle::Rabbit(_)) {
            self.body = Vec::new();
        }
    }

    /// Gives the message back to the queue.
    pub async fn requeue(self) -> bool {
        match self.settle {
            Settle::Memory(a) => {
                let msg = OutMessage {
                    id: self.id,
                    body: self.body,
                    attempt: self.attempt,
                    reason: self.reason,
                    conversation_id: self.conversation_id,
                    rechecks: self.rechecks,
                    origin: None,
                };
                a.requeue(msg).await
            }
            Settle::Rabbit(a) => a
                .nack(lapin::options::BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await
                .unwrap_or(false),
        }
    }

    /// Rejects without requeue: the broker dead-letters it to `P.dead`, where RabbitMQ
    /// lists it with the broker's reason ("rejected"), not `reason`: publish to
    /// [`Target::Dead`] with the reason and ack instead, and keep this for when that
    /// publish fails.
    pub async fn reject(self, reason: &str) -> bool {
        match self.settle {
            Settle::Memory(a) => a.dead(self.id, self.body, reason, self.conversation_id),
            Settle::Rabbit(a) => a
                .reject(lapin::options::BasicRejectOptions { requeue: false })
                .await
                .unwrap_or(false),
        }
    }
}

/// A stream of deliveries.
pub struct Consumer {
    pub(crate) rx: tokio::sync::mpsc::Receiver<Delivery>,
    pub(crate) _guard: Option<tokio_util::sync::DropGuard>,
}

impl Consumer {
    /// The next delivery; `None` once the consumer is closed.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }
}

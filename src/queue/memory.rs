//! The in-process queue: bounded channels, for trying the tool out with `AMQP_URL` unset.
//!
//! Not durable: what is queued is lost when the process stops. `serve` warns about that
//! at start and `/readyz` says `"queue":"memory"`. Delays for retries are tokio timers.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{
    Consumer, DeadLetter, Delivery, OutMessage, QueueError, Requeued, Settle, Source, Target,
};

/// Capacity of each in-process queue.
pub const CAPACITY: usize = 10_000;

struct Lane {
    tx: mpsc::Sender<Delivery>,
    rx: Mutex<Option<mpsc::Receiver<Delivery>>>,
}

impl Lane {
    fn new() -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        Lane {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

/// The in-process queue.
pub struct MemoryQueue {
    jobs: Lane,
    reports: Lane,
    dead: Arc<Mutex<Vec<DeadLetter>>>,
    this: std::sync::Weak<MemoryQueue>,
}

/// Settles a memory delivery.
pub struct MemoryAcker {
    queue: std::sync::Weak<MemoryQueue>,
    source: Source,
}

impl MemoryAcker {
    pub(crate) async fn requeue(self, msg: OutMessage) -> bool {
        let Some(q) = self.queue.upgrade() else {
            return false;
        };
        q.publish(self.source.target(), msg).await.is_ok()
    }

    pub(crate) fn dead(
        self,
        id: String,
        body: Vec<u8>,
        reason: &str,
        conversation_id: Option<String>,
    ) -> bool {
        let Some(q) = self.queue.upgrade() else {
            return false;
        };
        q.dead.lock().expect("dead list").push(DeadLetter {
            event_id: id,
            conversation_id,
            reason: reason.to_string(),
            origin: self.source,
            body,
        });
        true
    }
}

impl MemoryQueue {
    /// A fresh, empty queue.
    pub fn new() -> Arc<Self> {
        Arc::new_cyclic(|this| MemoryQueue {
            jobs: Lane::new(),
            reports: Lane::new(),
            dead: Arc::default(),
            this: this.clone(),
        })
    }

    fn delivery(&self, source: Source, msg: OutMessage) -> Delivery {
        Delivery {
            id: msg.id,
            body: msg.body,
            attempt: msg.attempt,
            rechecks: msg.rechecks,
            delivery_count: 0,
            reason: msg.reason,
            conversation_id: msg.conversation_id,
            settle: Settle::Memory(MemoryAcker {
                queue: self.this.clone(),
                source,
            }),
        }
    }

    pub(crate) async fn publish(&self, target: Target, msg: OutMessage) -> Result<(), QueueError> {
        match target {
            Target::Jobs => self
                .jobs
                .tx
                .try_send(self.delivery(Source::Jobs, msg))
                .map_err(|_| QueueError::Full),
            Target::Reports => self
                .reports
                .tx
                .try_send(self.delivery(Source::Reports, msg))
                .map_err(|_| QueueError::Full),
            Target::Dead => {
                let origin = msg
                    .origin
                    .unwrap_or_else(|| Source::guess_from_body(&msg.body));
                self.dead.lock().expect("dead list").push(DeadLetter {
                    event_id: msg.id,
                    conversation_id: msg.conversation_id,
                    reason: msg.reason.unwrap_or_else(|| "unknown".into()),
                    origin,
                    body: msg.body,
                });
                Ok(())
            }
            Target::Retry(delay) => {
                let d = self.delivery(Source::Jobs, msg);
                let tx = self.jobs.tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if tx.send(d).await.is_err() {
                        tracing::error!("in-process queue closed: a delayed job was dropped");
                    }
                });
                Ok(())
            }
        }
    }

    pub(crate) fn consume(&self, source: Source) -> Result<Consumer, QueueError> {
        let lane = match source {
            Source::Jobs => &self.jobs,
            Source::Reports => &self.reports,
        };
        let rx = lane.rx.lock().expect("lane").take().ok_or_else(|| {
            QueueError::Broker("the in-process queue has one consumer per queue".into())
        })?;
        Ok(Consumer { rx, _guard: None })
    }

    pub(crate) fn peek_dead(&self) -> Vec<DeadLetter> {
        self.dead.lock().expect("dead list").clone()
    }

    pub(crate) async fn requeue_dead(&self) -> Result<Requeued, QueueError> {
        let dead: Vec<DeadLetter> = std::mem::take(&mut *self.dead.lock().expect("dead list"));
        let mut moved = Requeued::default();
        for d in dead {
            let (target, msg) = d.requeued();
            self.publish(target, msg).await?;
            moved.count(target);
        }
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Queue;

    #[tokio::test]
    async fn published_jobs_are_delivered_and_rejects_land_in_dead() {
        let q = Queue::Memory(MemoryQueue::new());
        let mut c = q.consume(Source::Jobs, 8).await.unwrap();
        q.publish(
            Target::Jobs,
            OutMessage {
                id: "e1".into(),
                body: b"{}".to_vec(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let d = c.next().await.unwrap();
        assert_eq!(d.id, "e1");
        assert!(d.reject("undecodable").await);
        let dead = q.peek_dead().await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].reason, "undecodable");
        assert_eq!(q.requeue_dead().await.unwrap().jobs, 1);
        assert_eq!(c.next().await.unwrap().id, "e1");
    }

    #[tokio::test]
    async fn a_dead_report_goes_back_to_the_reports_queue() {
        let q = Queue::Memory(MemoryQueue::new());
        let mut reports = q.consume(Source::Reports, 8).await.unwrap();
        q.publish(
            Target::Reports,
            OutMessage {
                id: "r1".into(),
                body: b"not a diagnosis".to_vec(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(reports.next().await.unwrap().reject("undecodable").await);
        assert_eq!(q.peek_dead().await.unwrap()[0].origin, Source::Reports);
        let moved = q.requeue_dead().await.unwrap();
        assert_eq!((moved.jobs, moved.reports), (0, 1));
        assert_eq!(reports.next().await.unwrap().id, "r1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_comes_back_after_its_delay() {
        let q = Queue::Memory(MemoryQueue::new());
        let mut c = q.consume(Source::Jobs, 8).await.unwrap();
        let msg = OutMessage {
            id: "e2".into(),
            attempt: 1,
            ..Default::default()
        };
        q.publish(Target::Retry(std::time::Duration::from_secs(60)), msg)
            .await
            .unwrap();
        let d = c.next().await.unwrap();
        assert_eq!((d.id.as_str(), d.attempt), ("e2", 1));
    }
}

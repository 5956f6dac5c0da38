//! One publishing task per actix worker thread, which owns the thread's in-flight
//! publishes.
//!
//! lapin resolves two promises per publish from its own I/O thread: "the frames are
//! written" and "the broker confirmed". Awaited in the request handler, each of them is a
//! wake-up sent from that thread to the actix worker's runtime for every request: an
//! `eventfd` write there, and often an `epoll_wait` returning here. Awaited in a single
//! task per worker instead, the promises of every request of a batch wake that one task,
//! which is already scheduled after the first: about two cross-thread wake-ups per batch
//! rather than two per request. The handler waits on a same-thread channel, which costs
//! no system call. (bench/README.md, "Ingest", has the figures.)
//!
//! Nothing else changes: each publish is still persistent, mandatory and confirmed, with
//! the same timeout and errors, and the handler answers only after its own confirm.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{Notify, oneshot};

use crate::queue::{OutMessage, Queue, QueueError, Target};

type Reply = oneshot::Sender<Result<(), QueueError>>;

/// The publisher of one actix worker thread (created by the `App` factory, which runs once
/// per worker; not `Send`).
pub struct LocalPublisher {
    queue: Queue,
    shared: Rc<Shared>,
}

struct Shared {
    pending: RefCell<VecDeque<(Target, OutMessage, Reply)>>,
    wake: Notify,
    running: Cell<bool>,
}

impl LocalPublisher {
    /// A publisher for `queue`; its task starts with the first publish.
    pub fn new(queue: Queue) -> Self {
        LocalPublisher {
            queue,
            shared: Rc::new(Shared {
                pending: RefCell::new(VecDeque::new()),
                wake: Notify::new(),
                running: Cell::new(false),
            }),
        }
    }

    /// [`Queue::publish`], run by this thread's publishing task.
    ///
    /// # Errors
    /// As [`Queue::publish`]; [`QueueError::Unconfirmed`] if the task stopped first (the
    /// worker is shutting down), since the message may have been sent.
    pub async fn publish(&self, target: Target, msg: OutMessage) -> Result<(), QueueError> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .pending
            .borrow_mut()
            .push_back((target, msg, tx));
        if !self.shared.running.replace(true) {
            tokio::task::spawn_local(run(self.queue.clone(), self.shared.clone()));
        }
        self.shared.wake.notify_one();
        rx.await.unwrap_or_else(|_| {
            Err(QueueError::Unconfirmed(
                "the worker's publishing task stopped".into(),
            ))
        })
    }
}

/// Marks the task stopped when it ends in any way (a panic in a publish, the runtime
/// dropping it): the next publish starts a new one, and whoever still waits in the queue
/// gets an error rather than waiting forever.
struct Running(Rc<Shared>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.set(false);
        self.0.pending.borrow_mut().clear();
    }
}

async fn run(queue: Queue, shared: Rc<Shared>) {
    let _running = Running(shared.clone());
    let mut inflight = FuturesUnordered::new();
    loop {
        loop {
            let next = shared.pending.borrow_mut().pop_front();
            let Some((target, msg, reply)) = next else {
                break;
            };
            let queue = queue.clone();
            inflight.push(async move {
                let _ = reply.send(queue.publish(target, msg).await);
            });
        }
        tokio::select! {
            () = shared.wake.notified() => {}
            Some(()) = inflight.next(), if !inflight.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Source;
    use crate::queue::memory::MemoryQueue;

    #[tokio::test]
    async fn concurrent_publishes_of_a_thread_each_get_their_own_answer_and_all_land() {
        let queue = Queue::Memory(MemoryQueue::new());
        let mut jobs = queue.consume(Source::Jobs, 256).await.unwrap();
        let local = tokio::task::LocalSet::new();
        let publisher = Rc::new(LocalPublisher::new(queue.clone()));
        let answers = local
            .run_until(async {
                let handles: Vec<_> = (0..100)
                    .map(|i| {
                        let p = publisher.clone();
                        tokio::task::spawn_local(async move {
                            let msg = OutMessage {
                                id: format!("e{i}"),
                                body: b"{}".to_vec(),
                                ..OutMessage::default()
                            };
                            p.publish(Target::Jobs, msg).await
                        })
                    })
                    .collect();
                let mut answers = Vec::new();
                for h in handles {
                    answers.push(h.await.unwrap());
                }
                answers
            })
            .await;
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        let mut ids = Vec::new();
        for _ in 0..100 {
            ids.push(jobs.next().await.unwrap().id);
        }
        ids.sort();
        let mut want: Vec<_> = (0..100).map(|i| format!("e{i}")).collect();
        want.sort();
        assert_eq!(ids, want);
    }

    #[tokio::test]
    async fn a_publish_after_the_task_ended_starts_a_new_one() {
        let queue = Queue::Memory(MemoryQueue::new());
        let mut jobs = queue.consume(Source::Jobs, 8).await.unwrap();
        let publisher = LocalPublisher::new(queue.clone());
        let msg = |id: &str| OutMessage {
            id: id.into(),
            ..OutMessage::default()
        };
        // The first runtime (a worker) goes away with its task.
        tokio::task::LocalSet::new()
            .run_until(publisher.publish(Target::Jobs, msg("before")))
            .await
            .unwrap();
        assert!(
            !publisher.shared.running.get(),
            "the task ended with its runtime"
        );
        let set = tokio::task::LocalSet::new();
        let after = set.run_until(publisher.publish(Target::Jobs, msg("after")));
        tokio::time::timeout(std::time::Duration::from_secs(5), after)
            .await
            .expect("a new task took the publish")
            .unwrap();
        assert_eq!(jobs.next().await.unwrap().id, "before");
        assert_eq!(jobs.next().await.unwrap().id, "after");
    }
}

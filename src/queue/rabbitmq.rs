//! RabbitMQ through lapin 4: durable quorum queues, persistent messages, publisher
//! confirms, manual acks, and reconnection by a supervisor task.
//!
//! Connections: one for publishing (the receiver's and the worker's publishes) and one per
//! consumer. A memory alarm blocks publishing connections; were the consumers on the same
//! connection their acks would be stuck too, and the queue could never drain.
//!
//! Reconnection is ours, not lapin's auto-recovery: a supervisor owns "connect → declare
//! the topology → open the channel" and, when the connection or channel breaks, drops it
//! and starts again with capped exponential backoff. Each attempt tries the nodes of
//! `AMQP_URL` in turn ([`super::nodes`]), so losing one node of a cluster moves every
//! connection to another. While the supervisor is still trying nodes after a loss, a publish
//! waits for the next connection within its confirm timeout; once every node was tried in
//! vain, publishes fail at once with [`QueueError::NotConnected`] (the receiver answers 503),
//! and consumers simply receive nothing. No restart is ever needed.
//!
//! A publish whose connection broke before its confirm came is sent again on the next
//! connection, with the same message id, if one comes within the confirm timeout: the lost
//! node may have stored the first copy, and the notifier de-duplicates by event id. Without
//! a new connection in time the publish fails as [`QueueError::Unconfirmed`]; it is never
//! reported as published without a confirm.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::Confirmation;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::nodes::{Node, Nodes};
use super::{
    Consumer, DeadLetter, Delivery, OutMessage, QueueError, Requeued, Settle, Source, Target,
    Topology,
};

/// Retries so far ([`OutMessage::attempt`]).
const H_ATTEMPT: &str = "x-hd-attempt";
/// Re-checks so far ([`OutMessage::rechecks`]).
const H_RECHECKS: &str = "x-hd-rechecks";
/// Why a job went to a delay queue, or why we moved a message to `P.dead`.
const H_REASON: &str = "x-hd-reason";
/// The queue a message we moved to `P.dead` died in. Present only on what a worker or the
/// notifier published there: then `H_REASON` is the reason it died. Without it the broker
/// dead-lettered the message, and `H_REASON`, when present, is stale (the reason of an
/// earlier trip through a delay queue).
const H_ORIGIN: &str = "x-hd-origin";
const H_EVENT_ID: &str = "x-hd-event-id";
const H_CONVERSATION: &str = "x-hd-conversation-id";

/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Longest wait for one node to connect and take the topology: a host that is down drops
/// the connection attempt silently, and the operating system would wait minutes before
/// the next node is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the broker.
#[derive(Clone)]
pub struct RabbitSettings {
    /// `AMQP_URL`: the nodes of the cluster (their URLs hold the password).
    pub nodes: Nodes,
    /// Names and arguments.
    pub topology: Topology,
    /// How long a publish may wait for the broker's confirm (default 5 s).
    pub confirm_timeout: Duration,
    /// Shown in the management UI's connection list.
    pub connection_name: String,
}

struct Publisher {
    conn: Connection,
    channel: Channel,
    /// Index of its node in [`RabbitSettings::nodes`].
    node: usize,
}

/// A RabbitMQ-backed queue with a self-healing publishing connection.
pub struct RabbitQueue {
    settings: RabbitSettings,
    publisher: RwLock<Option<Arc<Publisher>>>,
    connected: AtomicBool,
    /// True from the loss of the publishing connection (or the start) until the supervisor
    /// connects again or has tried every node in vain: meanwhile a publish waits.
    failing_over: AtomicBool,
    /// Woken whenever `publisher` or `failing_over` changes.
    changed: tokio::sync::Notify,
    cancel: CancellationToken,
    /// `P.jobs` as a routing key, made once (`None` if the name is too long for an AMQP
    /// short string: every publish there then fails with that error).
    jobs_key: Option<ShortString>,
}

impl std::fmt::Debug for RabbitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitQueue")
            .field("prefix", &self.settings.topology.prefix())
            .finish()
    }
}

impl RabbitQueue {
    /// Starts the publishing supervisor; returns at once (the first connection attempt
    /// runs in the background; see [`RabbitQueue::wait_connected`]).
    pub fn start(settings: RabbitSettings, cancel: CancellationToken) -> Arc<Self> {
        let q = Arc::new(RabbitQueue {
            publisher: RwLock::new(None),
            connected: AtomicBool::new(false),
            failing_over: AtomicBool::new(true),
            changed: tokio::sync::Notify::new(),
            cancel,
            jobs_key: ShortString::try_new(settings.topology.jobs()).ok(),
            settings,
        });
        tokio::spawn(q.clone().supervise());
        q
    }

    /// Waits until the publishing connection is up.
    ///
    /// # Errors
    /// [`QueueError::NotConnected`] after `within`.
    pub async fn wait_connected(&self, within: Duration) -> Result<(), QueueError> {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                if self.is_connected() {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, wait)
            .await
            .map_err(|_| QueueError::NotConnected)
    }

    /// True while the publishing connection and channel are open.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    async fn supervise(self: Arc<Self>) {
        let nodes = self.settings.nodes.clone();
        let mut backoff = Duration::from_millis(100);
        let mut logged_down = false;
        loop {
            if self.cancel.is_cancelled() {
                break;
            }
            let opened = match open(&self.settings, "publish").await {
                Ok((conn, channel, node)) => channel
                    .confirm_select(ConfirmSelectOptions::default())
                    .await
                    .map(|()| (conn, channel, node))
                    .map_err(|e| format!("could not enable publisher confirms: {e}")),
                Err(e) => Err(e),
            };
            match opened {
                Ok((conn, channel, node)) => {
                    let addr = nodes.get(node).addr().to_string();
                    tracing::info!(node = %addr, nodes = nodes.len(), "connected to RabbitMQ");
                    logged_down = false;
                    backoff = Duration::from_millis(100);
                    let p = Arc::new(Publisher {
                        conn,
                        channel,
                        node,
                    });
                    *self.publisher.write().expect("publisher lock") = Some(p.clone());
                    self.connected.store(true, Ordering::Release);
                    self.failing_over.store(false, Ordering::Release);
                    self.changed.notify_waiters();
                    wait_until_broken(&p.conn, &p.channel, &self.cancel).await;
                    // Publishes wait for the next node from here: the cluster may well have one.
                    self.failing_over.store(true, Ordering::Release);
                    self.connected.store(false, Ordering::Release);
                    *self.publisher.write().expect("publisher lock") = None;
                    self.changed.notify_waiters();
                    nodes.lost(node);
                    if self.cancel.is_cancelled() {
                        break;
                    }
                    tracing::warn!(node = %addr, nodes = nodes.len(), "lost the RabbitMQ connection; trying the nodes in turn");
                }
                Err(e) => {
                    // Every node was tried: publishes fail at once until one answers.
                    self.failing_over.store(false, Ordering::Release);
                    self.changed.notify_waiters();
                    if !logged_down {
                        tracing::warn!(error = %e, "cannot reach RabbitMQ; retrying with backoff");
                        logged_down = true;
                    } else {
                        tracing::debug!(error = %e, "RabbitMQ still unreachable");
                    }
                }
            }
            tokio::select! {
                () = self.cancel.cancelled() => break,
                () = tokio::time::sleep(with_jitter(backoff)) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.failing_over.store(false, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// The publisher a publish should use: the current one, unless it is `failed` (the one
    /// a first attempt just broke on, which the supervisor may not have noticed yet).
    /// While the supervisor fails over, waits for its next connection until `deadline`;
    /// `None` when none comes in time, or when no node is reachable.
    async fn usable_publisher(
        &self,
        failed: Option<&Arc<Publisher>>,
        deadline: Instant,
    ) -> Option<Arc<Publisher>> {
        let usable = |p: &Option<Arc<Publisher>>| match p {
            Some(p) if !failed.is_some_and(|f| Arc::ptr_eq(f, p)) => Some(p.clone()),
            _ => None,
        };
        // The receiver's path: no waiter is registered while a connection is up.
        if let Some(p) = usable(&self.publisher.read().expect("publisher lock")) {
            return Some(p);
        }
        loop {
            let changed = self.changed.notified();
            let current = self.publisher.read().expect("publisher lock").clone();
            if let Some(p) = usable(&current) {
                return Some(p);
            }
            if current.is_none() && !self.failing_over.load(Ordering::Acquire) {
                return None;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }

    /// The `host:port` of the node the publishing connection is on, while it is up.
    pub fn node(&self) -> Option<String> {
        self.publisher
            .read()
            .expect("publisher lock")
            .as_ref()
            .map(|p| self.settings.nodes.get(p.node).addr().to_string())
    }

    /// Messages in `P.jobs`, `P.reports` and `P.dead`, by suffix, through a short-lived
    /// channel of the publishing connection.
    ///
    /// # Errors
    /// [`QueueError`] when not connected or the broker does not answer.
    pub(crate) async fn depths(&self) -> Result<Vec<(&'static str, u32)>, QueueError> {
        let p = self
            .publisher
            .read()
            .expect("publisher lock")
            .clone()
            .ok_or(QueueError::NotConnected)?;
        let broker = |e: lapin::Error| QueueError::Broker(e.to_string());
        let ch = p.conn.create_channel().await.map_err(broker)?;
        let t = &self.settings.topology;
        let mut out = Vec::new();
        for (suffix, name) in [
            ("jobs", t.jobs()),
            ("reports", t.reports()),
            ("dead", t.dead()),
        ] {
            let q = ch
                .queue_declare(
                    name.as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(broker)?;
            out.push((suffix, q.message_count()));
        }
        let _ = ch.close(200, "counted".into()).await;
        Ok(out)
    }

    /// The nodes of `AMQP_URL`.
    pub fn nodes(&self) -> &Nodes {
        &self.settings.nodes
    }

    fn routing_key(&self, target: Target) -> String {
        let t = &self.settings.topology;
        match target {
            Target::Jobs => t.jobs(),
            Target::Reports => t.reports(),
            Target::Dead => t.dead(),
            Target::Retry(d) => t.retry_for(d).0,
        }
    }

    pub(crate) async fn publish(&self, target: Target, msg: OutMessage) -> Result<(), QueueError> {
        // `P.jobs` is named once (the receiver publishes there on every request).
        let key = match (target, &self.jobs_key) {
            (Target::Jobs, Some(k)) => k.clone(),
            _ => ShortString::try_new(self.routing_key(target))
                .map_err(|e| QueueError::Broker(e.to_string()))?,
        };
        let props = properties(&msg, &self.settings.topology);
        let timeout = self.settings.confirm_timeout;
        let deadline = Instant::now() + timeout;
        let mut failed: Option<(Arc<Publisher>, QueueError)> = None;
        loop {
            let Some(p) = self
                .usable_publisher(failed.as_ref().map(|(p, _)| p), deadline)
                .await
            else {
                return Err(failed.map_or(QueueError::NotConnected, |(_, e)| e));
            };
            let confirm = send(&p.channel, &key, &msg.body, props.clone());
            return match tokio::time::timeout_at(deadline, confirm).await {
                Err(_) => Err(QueueError::ConfirmTimeout(timeout)),
                // The connection broke: again on the next one, if it comes in time.
                Ok(Err(e)) => {
                    failed = Some((p, e));
                    continue;
                }
                // A quorum queue refuses what a channel publishes while that channel has
                // not found the queue's new leader, and a channel opened just after the
                // leader's node died stays so for many seconds (bench/drill-cluster.sh).
                // Fresh channels look the leader up again: keep trying on them until the
                // confirm timeout.
                Ok(Ok(Confirmation::Nack(_))) => {
                    resend_after_nack(&p.conn, &key, &msg.body, &props, deadline, timeout).await
                }
                Ok(Ok(Confirmation::Ack(None))) => Ok(()),
                Ok(Ok(Confirmation::Ack(Some(_)))) => Err(QueueError::Unroutable(key.to_string())),
                Ok(Ok(Confirmation::NotRequested)) => {
                    Err(QueueError::Broker("confirms not enabled".into()))
                }
            };
        }
    }

    pub(crate) async fn consume(
        &self,
        source: Source,
        prefetch: u16,
    ) -> Result<Consumer, QueueError> {
        let queue = match source {
            Source::Jobs => self.settings.topology.jobs(),
            Source::Reports => self.settings.topology.reports(),
        };
        let (tx, rx) = mpsc::channel(usize::from(prefetch.max(1)));
        let stop = self.cancel.child_token();
        let settings = self.settings.clone();
        tokio::spawn(consume_loop(settings, queue, prefetch, tx, stop.clone()));
        Ok(Consumer {
            rx,
            _guard: Some(stop.drop_guard()),
        })
    }

    /// Opens a short-lived channel for the `dead-letters` command.
    async fn admin_channel(&self) -> Result<(Connection, Channel), QueueError> {
        open(&self.settings, "admin")
            .await
            .map(|(conn, ch, _)| (conn, ch))
            .map_err(QueueError::Broker)
    }

    pub(crate) async fn peek_dead(&self) -> Result<Vec<DeadLetter>, QueueError> {
        let (conn, ch) = self.admin_channel().await?;
        let mut out = Vec::new();
        // basic.get without ack: each get hands the next message; closing the channel puts
        // every one of them back, untouched.
        while let Some(m) = ch
            .basic_get(
                self.settings.topology.dead().into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .map_err(|e| QueueError::Broker(e.to_string()))?
        {
            out.push(dead_letter(
                &m.delivery.properties,
                m.delivery.data.clone(),
                &self.settings.topology,
            ));
        }
        let _ = conn.close(200, "listed".into()).await;
        Ok(out)
    }

    pub(crate) async fn requeue_dead(&self) -> Result<Requeued, QueueError> {
        let (conn, ch) = self.admin_channel().await?;
        // Move only what is there now: a job that dies again while we work (still
        // undecodable, say) must not be re-driven in a loop.
        let present = ch
            .queue_declare(
                self.settings.topology.dead().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| QueueError::Broker(e.to_string()))?
            .message_count() as usize;
        let mut moved = Requeued::default();
        while moved.total() < present
            && let Some(m) = ch
                .basic_get(
                    self.settings.topology.dead().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await
                .map_err(|e| QueueError::Broker(e.to_string()))?
        {
            let d = dead_letter(
                &m.delivery.properties,
                m.delivery.data.clone(),
                &self.settings.topology,
            );
            // Back where it died: a report sent to P.jobs would be diagnosed as an event.
            let (target, msg) = d.requeued();
            // Publish (confirmed) first, then ack: a crash in between duplicates, never loses.
            self.publish(target, msg).await?;
            m.delivery
                .acker
                .ack(lapin::options::BasicAckOptions::default())
                .await
                .map_err(|e| QueueError::Broker(e.to_string()))?;
            moved.count(target);
        }
        let _ = conn.close(200, "requeued".into()).await;
        Ok(moved)
    }

    pub(crate) async fn close(&self) {
        let p = self.publisher.read().expect("publisher lock").clone();
        if let Some(p) = p {
            let _ =
                tokio::time::timeout(Duration::from_secs(5), p.channel.wait_for_confirms()).await;
            let _ = p.conn.close(200, "shutdown".into()).await;
        }
        self.cancel.cancel();
    }
}

/// After a nack: the same message on a fresh channel of `conn`, again after a short pause
/// while it is refused, until `deadline`. A nack during a leader change is not final (the
/// cluster drill saw a refused message stored all the same), so a repeat is possible; the
/// notifier drops it by event id.
async fn resend_after_nack(
    conn: &Connection,
    key: &ShortString,
    body: &[u8],
    props: &BasicProperties,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), QueueError> {
    let broker = |e: lapin::Error| QueueError::Broker(e.to_string());
    let mut pause = Duration::from_millis(50);
    loop {
        let attempt = async {
            let ch = conn.create_channel().await.map_err(broker)?;
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(broker)?;
            let confirmation = send(&ch, key, body, props.clone()).await;
            let _ = ch.close(200, "retried".into()).await;
            confirmation
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Err(_) => return Err(QueueError::ConfirmTimeout(timeout)),
            Ok(Ok(Confirmation::Ack(None))) => return Ok(()),
            Ok(Ok(Confirmation::Ack(Some(_)))) => {
                return Err(QueueError::Unroutable(key.to_string()));
            }
            // Sent, and the connection broke before the answer.
            Ok(Err(e @ QueueError::Unconfirmed(_))) => return Err(e),
            // Refused again, or no channel right now: once more after a pause.
            Ok(_) => {}
        }
        if Instant::now() + pause >= deadline {
            return Err(QueueError::Nacked);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// Publishes persistent and mandatory on `channel` and waits for the broker's answer.
async fn send(
    channel: &Channel,
    key: &ShortString,
    body: &[u8],
    props: BasicProperties,
) -> Result<Confirmation, QueueError> {
    channel
        // mandatory: an unroutable message (queue deleted under us) comes back as a
        // basic.return instead of vanishing with an ack.
        .basic_publish(
            "".into(),
            key.clone(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            body,
            props,
        )
        .await
        .map_err(|e| QueueError::Broker(e.to_string()))?
        // Sent: from here a failure leaves its fate unknown.
        .await
        .map_err(|e| QueueError::Unconfirmed(e.to_string()))
}

fn with_jitter(d: Duration) -> Duration {
    d.mul_f64(0.8 + fastrand::f64() * 0.4)
}

/// Tries the nodes in turn from the process's current start ([`Nodes::rotation`]): the
/// first that connects, opens a channel and takes the topology (idempotent) wins; returns
/// its index too.
///
/// # Errors
/// Every node failed: one `host:port: reason` per node.
async fn open(
    settings: &RabbitSettings,
    role: &str,
) -> Result<(Connection, Channel, usize), String> {
    let nodes = &settings.nodes;
    let mut errors = Vec::new();
    for i in nodes.rotation() {
        let node = nodes.get(i);
        match tokio::time::timeout(CONNECT_TIMEOUT, open_node(settings, node, role)).await {
            Ok(Ok((conn, channel))) => {
                nodes.connected(i);
                return Ok((conn, channel, i));
            }
            Ok(Err(e)) => errors.push(format!("{}: {e}", node.addr())),
            Err(_) => errors.push(format!(
                "{}: no answer within {CONNECT_TIMEOUT:?}",
                node.addr()
            )),
        }
    }
    Err(errors.join("; "))
}

/// `check-config`'s probe of one node: connects, declares the topology, closes.
///
/// # Errors
/// Why the node did not take it (lapin's error, which never holds the URL).
pub async fn probe(settings: &RabbitSettings, node: &Node) -> Result<(), String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, open_node(settings, node, "check")).await {
        Ok(Ok((conn, _))) => {
            let _ = conn.close(200, "checked".into()).await;
            Ok(())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

/// Connects to one node, opens a channel and declares the whole topology on it.
///
/// # Errors
/// lapin's error, which never holds the URL.
async fn open_node(
    settings: &RabbitSettings,
    node: &Node,
    role: &str,
) -> Result<(Connection, Channel), lapin::Error> {
    let props = ConnectionProperties::default().with_connection_name(LongString::from(format!(
        "{}:{role}",
        settings.connection_name
    )));
    let conn = Connection::connect_uri(node.uri(), props).await?;
    let channel = conn.create_channel().await?;
    declare(&channel, &settings.topology).await?;
    Ok((conn, channel))
}

/// Declares every queue of the topology.
///
/// # Errors
/// The broker's error, e.g. `406 PRECONDITION_FAILED` when a queue exists with other
/// arguments (delete it, or use another `QUEUE_PREFIX`).
pub async fn declare(channel: &Channel, topology: &Topology) -> Result<(), lapin::Error> {
    for (name, args) in topology.declarations() {
        channel
            .queue_declare(name.into(), Topology::declare_options(), args)
            .await?;
    }
    Ok(())
}

async fn wait_until_broken(conn: &Connection, channel: &Channel, cancel: &CancellationToken) {
    let mut events = conn.events_listener();
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            ev = events.next() => match ev {
                Some(lapin::Event::Error(e)) => {
                    tracing::debug!(error = %e, "RabbitMQ connection error");
                    return;
                }
                Some(lapin::Event::ConnectionBlocked(reason)) => {
                    // Publishes now wait until their confirm timeout; say why once.
                    tracing::warn!(%reason, "RabbitMQ blocked the publishing connection (resource alarm)");
                }
                Some(_) => {}
                None => return,
            },
            () = tokio::time::sleep(Duration::from_millis(250)) => {
                if !conn.status().connected() || !channel.status().connected() {
                    return;
                }
            }
        }
    }
}

async fn consume_loop(
    settings: RabbitSettings,
    queue: String,
    prefetch: u16,
    tx: mpsc::Sender<Delivery>,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    let nodes = settings.nodes.clone();
    while !stop.is_cancelled() {
        match open(&settings, "consume").await {
            Err(e) => {
                tracing::debug!(error = %e, queue = %queue, "consumer cannot connect yet")
            }
            Ok((conn, channel, node)) => {
                backoff = Duration::from_millis(100);
                // Per-consumer prefetch (global QoS is refused by quorum queues), set
                // before basic.consume.
                let started = async {
                    channel
                        .basic_qos(prefetch, BasicQosOptions::default())
                        .await?;
                    channel
                        .basic_consume(
                            queue.as_str().into(),
                            "".into(),
                            BasicConsumeOptions::default(),
                            FieldTable::default(),
                        )
                        .await
                }
                .await;
                match started {
                    Err(e) => tracing::warn!(error = %e, queue = %queue, "cannot start consuming"),
                    Ok(mut consumer) => {
                        tracing::info!(queue = %queue, prefetch, node = %nodes.get(node).addr(), "consuming");
                        loop {
                            tokio::select! {
                                () = stop.cancelled() => {
                                    let _ = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default()).await;
                                    // Keep the connection open a moment so in-flight work can still ack;
                                    // the owner drops the consumer once it is done.
                                    break;
                                }
                                next = consumer.next() => match next {
                                    Some(Ok(d)) => {
                                        if tx.send(delivery(d)).await.is_err() {
                                            let _ = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default()).await;
                                            break;
                                        }
                                    }
                                    Some(Err(e)) => {
                                        tracing::warn!(error = %e, queue = %queue, "consumer interrupted; reconnecting");
                                        break;
                                    }
                                    None => break,
                                },
                            }
                        }
                    }
                }
                if stop.is_cancelled() {
                    // The owner dropped the consumer after settling its in-flight work:
                    // close now; whatever was prefetched but never handed out goes back
                    // to the queue (and, for the reports queue, to the standby notifier).
                    drop(tx);
                    let _ = conn.close(200, "consumer stopped".into()).await;
                    return;
                }
                nodes.lost(node);
                let _ = conn.close(200, "reconnect".into()).await;
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(with_jitter(backoff)) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn header_str(h: &FieldTable, key: &str) -> Option<String> {
    match h.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

fn header_u32(h: &FieldTable, key: &str) -> Option<u32> {
    match h.inner().get(key)? {
        AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
        AMQPValue::LongUInt(n) => Some(*n),
        AMQPValue::ShortInt(n) => u32::try_from(*n).ok(),
        AMQPValue::ShortUInt(n) => Some(u32::from(*n)),
        _ => None,
    }
}

fn properties(msg: &OutMessage, topology: &Topology) -> BasicProperties {
    // Only what the defaults do not say: every header costs allocations on the
    // receiver's request path. The event id rides in `message_id` unless it is too long
    // for a short string (ids may be 256 characters, up to 1 KB of UTF-8); the attempt
    // is 0 when absent.
    let message_id = ShortString::try_new(msg.id.clone()).ok();
    let mut h = FieldTable::default();
    if message_id.is_none() {
        h.insert(
            H_EVENT_ID.into(),
            AMQPValue::LongString(msg.id.as_str().into()),
        );
    }
    if msg.attempt > 0 {
        h.insert(
            H_ATTEMPT.into(),
            AMQPValue::LongLongInt(i64::from(msg.attempt)),
        );
    }
    if msg.rechecks > 0 {
        h.insert(
            H_RECHECKS.into(),
            AMQPValue::LongLongInt(i64::from(msg.rechecks)),
        );
    }
    if let Some(r) = &msg.reason {
        h.insert(H_REASON.into(), AMQPValue::LongString(r.as_str().into()));
    }
    if let Some(o) = msg.origin {
        h.insert(
            H_ORIGIN.into(),
            AMQPValue::LongString(topology.queue(o).as_str().into()),
        );
    }
    if let Some(c) = &msg.conversation_id {
        h.insert(
            H_CONVERSATION.into(),
            AMQPValue::LongString(c.as_str().into()),
        );
    }
    let mut props = BasicProperties::default()
        // Persistent: quorum queues store everything anyway, but a classic queue a
        // message is dead-lettered into would not.
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    // No table at all when there is nothing in it (the receiver's publish): the broker
    // decodes every message's properties.
    if !h.inner().is_empty() {
        props = props.with_headers(h);
    }
    if let Some(id) = message_id {
        props = props.with_message_id(id);
    }
    props
}

fn delivery(d: lapin::message::Delivery) -> Delivery {
    let empty = FieldTable::default();
    let h = d.properties.headers().as_ref().unwrap_or(&empty);
    let id = header_str(h, H_EVENT_ID)
        .or_else(|| {
            d.properties
                .message_id()
                .as_ref()
                .map(|s| s.as_str().to_string())
        })
        .unwrap_or_default();
    Delivery {
        id,
        attempt: header_u32(h, H_ATTEMPT).unwrap_or(0),
        rechecks: header_u32(h, H_RECHECKS).unwrap_or(0),
        delivery_count: header_u32(h, "x-delivery-count").unwrap_or(0),
        reason: header_str(h, H_REASON),
        conversation_id: header_str(h, H_CONVERSATION),
        body: d.data,
        settle: Settle::Rabbit(d.acker),
    }
}

/// The broker's record of a message's latest death: the queue and the reason. `x-death`
/// lists deaths most recent first; `x-first-death-*` names the first one, which for a job
/// that went through a delay queue is the delay queue's `expired`, not what killed it.
fn last_death(h: &FieldTable) -> Option<(String, String)> {
    let text = |v: Option<&AMQPValue>| match v? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    };
    if let Some(AMQPValue::FieldArray(deaths)) = h.inner().get("x-death")
        && let Some(AMQPValue::FieldTable(latest)) = deaths.as_slice().first()
    {
        let t = latest.inner();
        return Some((text(t.get("queue"))?, text(t.get("reason"))?));
    }
    Some((
        header_str(h, "x-first-death-queue")?,
        header_str(h, "x-first-death-reason")?,
    ))
}

/// A reader's sentence for the broker's dead-letter reason.
fn broker_reason(reason: &str, origin: Source) -> String {
    let (what, who) = match origin {
        Source::Jobs => ("job", "worker"),
        Source::Reports => ("report", "notifier"),
    };
    match reason {
        "delivery_limit" => {
            format!("delivery limit reached: the {what} failed or crashed its {who} too often")
        }
        "rejected" => format!("rejected by a {who}"),
        "expired" => "expired".to_string(),
        "maxlen" => "the queue was full".to_string(),
        other => other.to_string(),
    }
}

fn dead_letter(props: &BasicProperties, body: Vec<u8>, topology: &Topology) -> DeadLetter {
    let empty = FieldTable::default();
    let h = props.headers().as_ref().unwrap_or(&empty);
    let event_id = header_str(h, H_EVENT_ID)
        .or_else(|| props.message_id().as_ref().map(|s| s.as_str().to_string()))
        .unwrap_or_else(|| "?".into());
    let ours = header_str(h, H_ORIGIN).and_then(|q| topology.source_of(&q));
    let (origin, reason) = match (ours, last_death(h)) {
        // A worker or the notifier moved it here, with the reason it died.
        (Some(origin), _) => (
            origin,
            header_str(h, H_REASON).unwrap_or_else(|| "unknown".into()),
        ),
        // The broker dead-lettered it: its reason, whatever an earlier trip through a
        // delay queue left in our reason header.
        (None, Some((queue, reason))) => {
            let origin = topology
                .source_of(&queue)
                .unwrap_or_else(|| Source::guess_from_body(&body));
            (origin, broker_reason(&reason, origin))
        }
        // Published to P.dead by hand, or by an older version.
        (None, None) => (
            Source::guess_from_body(&body),
            header_str(h, H_REASON).unwrap_or_else(|| "unknown".into()),
        ),
    };
    DeadLetter {
        event_id,
        conversation_id: header_str(h, H_CONVERSATION),
        reason,
        origin,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        Topology::new("p", vec![Duration::from_secs(10)])
    }

    fn death(queue: &str, reason: &str) -> AMQPValue {
        let mut t = FieldTable::default();
        t.insert("queue".into(), AMQPValue::LongString(queue.into()));
        t.insert("reason".into(), AMQPValue::LongString(reason.into()));
        t.insert("count".into(), AMQPValue::LongLongInt(1));
        AMQPValue::FieldTable(t)
    }

    fn props(headers: &[(&str, AMQPValue)]) -> BasicProperties {
        let mut h = FieldTable::default();
        for (k, v) in headers {
            h.insert((*k).into(), v.clone());
        }
        BasicProperties::default().with_headers(h)
    }

    #[test]
    fn a_job_that_died_of_the_delivery_limit_after_a_delay_queue_is_listed_so() {
        let p = props(&[
            (
                H_REASON,
                AMQPValue::LongString("re-check: data-pending".into()),
            ),
            (
                "x-death",
                AMQPValue::FieldArray(
                    vec![
                        death("p.jobs", "delivery_limit"),
                        death("p.retry.10s", "expired"),
                    ]
                    .into(),
                ),
            ),
            (
                "x-first-death-queue",
                AMQPValue::LongString("p.retry.10s".into()),
            ),
            (
                "x-first-death-reason",
                AMQPValue::LongString("expired".into()),
            ),
        ]);
        let d = dead_letter(&p, b"{}".to_vec(), &topology());
        assert_eq!(d.origin, Source::Jobs);
        assert!(
            d.reason.starts_with("delivery limit reached"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn a_report_rejected_by_the_broker_goes_back_to_the_reports_queue() {
        let p = props(&[(
            "x-death",
            AMQPValue::FieldArray(vec![death("p.reports", "rejected")].into()),
        )]);
        let d = dead_letter(&p, b"{}".to_vec(), &topology());
        assert_eq!(d.origin, Source::Reports);
        assert_eq!(d.reason, "rejected by a notifier");
    }

    #[test]
    fn what_we_dead_lettered_keeps_our_reason_and_origin() {
        let msg = OutMessage {
            id: "r-1".into(),
            body: b"garbage".to_vec(),
            reason: Some("undecodable report: expected value".into()),
            origin: Some(Source::Reports),
            ..OutMessage::default()
        };
        let d = dead_letter(
            &properties(&msg, &topology()),
            msg.body.clone(),
            &topology(),
        );
        assert_eq!((d.event_id.as_str(), d.origin), ("r-1", Source::Reports));
        assert_eq!(d.reason, "undecodable report: expected value");
        let (target, again) = d.requeued();
        assert_eq!(target, Target::Reports);
        assert_eq!((again.reason, again.origin), (None, None));
    }

    #[test]
    fn retries_and_rechecks_travel_in_their_own_headers() {
        let msg = OutMessage {
            attempt: 1,
            rechecks: 2,
            ..OutMessage::default()
        };
        let p = properties(&msg, &topology());
        let h = p.headers().as_ref().unwrap();
        assert_eq!(header_u32(h, H_ATTEMPT), Some(1));
        assert_eq!(header_u32(h, H_RECHECKS), Some(2));
    }
}

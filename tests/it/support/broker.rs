//! Direct access to the test broker: counts, reads and cleanup of a test's queues.

use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

/// The broker every test uses.
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A fresh prefix per test, so tests never see each other's messages.
pub fn unique_prefix(test: &str) -> String {
    format!(
        "hd-test-{test}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Connects, with a clear message when RabbitMQ is not running.
pub async fn connect() -> Connection {
    Connection::connect(AMQP_URL, ConnectionProperties::default())
        .await
        .expect("RabbitMQ must run on 127.0.0.1:5672 for these tests (start it: rabbitmq-server -detached)")
}

/// Messages ready in a queue.
pub async fn count(queue: &str) -> u32 {
    let conn = connect().await;
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("queue {queue} should exist: {e}"));
    let _ = conn.close(200, "bye".into()).await;
    q.message_count()
}

/// Takes (and acks) every message of a queue; returns the bodies.
pub async fn drain(queue: &str) -> Vec<Vec<u8>> {
    let conn = connect().await;
    let ch = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions::default())
        .await
        .unwrap()
    {
        m.delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
        out.push(m.delivery.data);
    }
    let _ = conn.close(200, "bye".into()).await;
    out
}

/// Deletes every queue of a prefix (best effort).
pub async fn delete_all(prefix: &str, extra_delays_secs: &[u64]) {
    let conn = connect().await;
    let ch = conn.create_channel().await.unwrap();
    let mut names = vec![
        format!("{prefix}.jobs"),
        format!("{prefix}.reports"),
        format!("{prefix}.dead"),
    ];
    for d in [10u64, 60, 180, 300, 600].iter().chain(extra_delays_secs) {
        names.push(format!("{prefix}.retry.{d}s"));
    }
    for n in names {
        let _ = ch
            .queue_delete(n.into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = conn.close(200, "bye".into()).await;
}

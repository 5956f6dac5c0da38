//! The queue's use of the broker, seen from the broker: a running service publishes on one
//! connection and consumes on others (CONTRACT.md section 9; issue 2: "separate connections
//! for publishing and consuming"), so a memory alarm that blocks publishers never blocks the
//! acks that would let the queues drain.
//!
//! The service runs as its own process so its connections carry a name no other test's
//! share (`handover-doctor@<HOSTNAME>:<role>`, `RabbitSettings::connection_name`), and
//! `rabbitmqctl` reports what the broker sees.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;

use crate::cli::{Served, bin};
use crate::support::broker;

/// `rabbitmqctl <args> --formatter json -q`, parsed.
async fn rabbitmqctl(args: &[&str]) -> Vec<Value> {
    let out = tokio::process::Command::new("rabbitmqctl")
        .args(args)
        .args(["--formatter", "json", "-q"])
        .output()
        .await
        .expect("rabbitmqctl runs");
    assert!(out.status.success(), "rabbitmqctl {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).expect("rabbitmqctl json")
}

/// The `connection_name` client property of a `list_connections` row.
fn connection_name(row: &Value) -> Option<&str> {
    row["client_properties"]
        .as_array()?
        .iter()
        .find(|p| p[0] == "connection_name")?[2]
        .as_str()
}

#[tokio::test]
async fn the_service_publishes_on_one_connection_and_consumes_on_others() {
    let prefix = broker::unique_prefix("conns");
    let host = format!(
        "hd-test-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut cmd = bin();
    cmd.args(["serve", "--role", "all"])
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("AMQP_URL", broker::AMQP_URL)
        .env("QUEUE_PREFIX", &prefix)
        .env("HOSTNAME", &host);
    let served = Served::start(cmd);
    let publish_name = format!("handover-doctor@{host}:publish");
    let consume_name = format!("handover-doctor@{host}:consume");

    // Connections by pid, once the publisher and both consumers (jobs, reports) are up.
    let ours: HashMap<String, String> = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let rows = rabbitmqctl(&["list_connections", "pid", "client_properties"]).await;
            let ours: HashMap<String, String> = rows
                .iter()
                .filter_map(|r| {
                    let name = connection_name(r)?;
                    (name == publish_name || name == consume_name)
                        .then(|| (r["pid"].as_str().unwrap().to_string(), name.to_string()))
                })
                .collect();
            let consumers = ours.values().filter(|n| **n == consume_name).count();
            if ours.values().any(|n| *n == publish_name) && consumers >= 2 {
                return ours;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await
    .expect("the service opens its publishing and consuming connections");
    assert_eq!(
        ours.values().filter(|n| **n == publish_name).count(),
        1,
        "one publishing connection: {ours:?}"
    );

    // Every consumer of P.jobs and P.reports sits on a channel of a consuming connection;
    // the publishing connection's channel is in confirm mode and consumes nothing.
    let channels = rabbitmqctl(&[
        "list_channels",
        "pid",
        "connection",
        "consumer_count",
        "confirm",
    ])
    .await;
    let channel_conn: HashMap<&str, &str> = channels
        .iter()
        .map(|c| {
            (
                c["pid"].as_str().unwrap(),
                c["connection"].as_str().unwrap(),
            )
        })
        .collect();
    for c in &channels {
        if ours.get(c["connection"].as_str().unwrap()) == Some(&publish_name) {
            assert_eq!(c["confirm"], true, "{c}");
            assert_eq!(c["consumer_count"], 0, "{c}");
        }
    }
    let consumers = rabbitmqctl(&["list_consumers", "queue_name", "channel_pid"]).await;
    let mut consumed = HashSet::new();
    for c in &consumers {
        let queue = c["queue_name"].as_str().unwrap();
        if !queue.starts_with(&format!("{prefix}.")) {
            continue;
        }
        let conn = channel_conn
            .get(c["channel_pid"].as_str().unwrap())
            .unwrap_or_else(|| panic!("the channel of {c} is listed"));
        assert_eq!(
            ours.get(*conn),
            Some(&consume_name),
            "{queue} is consumed on a connection of its own"
        );
        consumed.insert(queue.to_string());
    }
    assert_eq!(
        consumed,
        HashSet::from([format!("{prefix}.jobs"), format!("{prefix}.reports")])
    );

    assert!(served.stop().await.success());
    broker::delete_all(&prefix, &[]).await;
}

//! `AMQP_URL` as the nodes of a cluster (CONTRACT.md section 3): each node stands here as
//! a relay to the one real broker, so a test can take "a node" away without touching the
//! broker the other tests share. The three-node drill (`bench/drill-cluster.sh`) does the
//! same with real RabbitMQ nodes.

use std::time::Duration;

use handover_doctor::queue::{Queue, Source};
use handover_doctor::roles::Role;
use serde_json::Value;

use crate::cli::bin;
use crate::support::app::{self, TestApp};
use crate::support::broker;
use crate::support::relay::Relay;

const KEY: &str = "key-1";
/// Nothing listens on port 1 of the loopback: a node that is down.
const DEAD: &str = "amqp://guest:guest@127.0.0.1:1/%2f";

fn body(conversation: &str) -> Vec<u8> {
    format!(
        r#"{{"conversationId":"{conversation}","occurredAt":"2026-05-12T14:26:58Z","handover":{{"mechanism":"vg_transfer"}},"voice":{{"sipStatus":"488"}}}}"#
    )
    .into_bytes()
}

async fn post(app: &TestApp, conversation: &str) -> u16 {
    app.client
        .post(app.webhook())
        .header("content-type", "application/json")
        .header("x-api-key", KEY)
        .body(body(conversation))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn readyz(app: &TestApp) -> (u16, Value) {
    let resp = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn a_list_whose_first_node_is_dead_still_connects_to_the_live_one() {
    let list = format!("{DEAD},{}", broker::AMQP_URL);
    let app = app::spawn(
        "deadfirst",
        Role::Receiver,
        &[("WEBHOOK_API_KEYS", KEY), ("AMQP_URL", list.as_str())],
    )
    .await;
    assert_eq!(post(&app, "dead-first").await, 202);
    let (status, ready) = readyz(&app).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["node"], "127.0.0.1:5672", "{ready}");
    assert!(!ready.to_string().contains("guest"), "{ready}");
    assert_eq!(broker::count(&app.jobs()).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn when_the_node_in_use_goes_away_publishing_and_consuming_move_on_without_a_503() {
    let (a, b) = (Relay::start().await, Relay::start().await);
    let list = format!("{},{}", a.url(), b.url());
    let app = app::spawn(
        "failover",
        Role::Receiver,
        &[("WEBHOOK_API_KEYS", KEY), ("AMQP_URL", list.as_str())],
    )
    .await;
    let Queue::Rabbit(rabbit) = &app.queue else {
        panic!("AMQP_URL is set")
    };
    let mut jobs = app.queue.consume(Source::Jobs, 10).await.unwrap();
    assert_eq!(post(&app, "before").await, 202);
    let first = tokio::time::timeout(Duration::from_secs(10), jobs.next())
        .await
        .expect("the consumer gets the job")
        .unwrap();
    assert!(first.ack().await);

    let used = rabbit.node().expect("connected");
    let (lost, other) = if used == a.addr() {
        (&a, b.addr())
    } else {
        (&b, a.addr())
    };
    assert_eq!(readyz(&app).await.1["node"], used.as_str());
    lost.cut();
    // Every request during the failover waits for the next node instead of failing.
    for i in 0..20 {
        let conversation = format!("during-{i}");
        assert_eq!(post(&app, &conversation).await, 202, "{conversation}");
    }
    let (status, ready) = readyz(&app).await;
    assert_eq!(
        (status, ready["node"].as_str()),
        (200, Some(other.as_str()))
    );
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while got.len() < 20 {
            let d = jobs.next().await.unwrap();
            let event = handover_doctor::event::HandoverEvent::from_json(&d.body).unwrap();
            got.push(event.conversation_id);
            assert!(d.ack().await);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the consumer moved to the other node too; got {got:?}"));
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 20, "each job at least once: {got:?}");
    drop(jobs);
    app.stop().await;
}

#[test]
fn a_malformed_node_in_amqp_url_is_a_config_error_naming_the_variable() {
    let out = bin()
        .arg("check-config")
        .env("AMQP_URL", format!("{},rabbit-2:5672", broker::AMQP_URL))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("AMQP_URL's node 2 of 2"), "{err}");
    assert!(!err.contains("guest"), "no password in errors: {err}");
}

#[test]
fn check_config_reports_each_node_and_fails_for_one_that_is_down() {
    let prefix = broker::unique_prefix("checknodes");
    let out = bin()
        .arg("check-config")
        .env("AMQP_URL", format!("{},{DEAD}", broker::AMQP_URL))
        .env("QUEUE_PREFIX", &prefix)
        .env("WEBHOOK_API_KEYS", "k")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ok   queue: RabbitMQ node 127.0.0.1:5672 (1 of 2): connected"),
        "{text}"
    );
    assert!(
        text.contains("FAIL queue: RabbitMQ node 127.0.0.1:1 (2 of 2): "),
        "{text}"
    );
    assert!(!text.contains("guest"), "no password in the report: {text}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(broker::delete_all(&prefix, &[]));
}

//! The whole service against the real broker: webhook → worker (CXone stub) → notifier
//! → Slack and Teams stand-ins; a worker killed mid-job; the dead-letter path; two
//! notifiers with one active.

use std::time::Duration;

use handover_doctor::config::Settings;
use handover_doctor::queue::{OutMessage, Target};
use handover_doctor::startup::Role;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::app::{self, TestApp};
use crate::support::broker;
use crate::support::cxone_stub::CxoneStub;

const KEY: &str = "key-1";

async fn slack() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/slack"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&s)
        .await;
    s
}

async fn teams() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/teams"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&s)
        .await;
    s
}

/// Waits until `server` has received at least `n` requests; returns their JSON bodies.
async fn received(server: &MockServer, n: usize, within: Duration) -> Vec<Value> {
    tokio::time::timeout(within, async {
        loop {
            let reqs = server.received_requests().await.unwrap_or_default();
            if reqs.len() >= n {
                return reqs
                    .iter()
                    .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("expected {n} notification(s) within {within:?}"))
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("fixtures/webhooks/{name}.json")).unwrap()
}

async fn post(app: &TestApp, body: Vec<u8>) -> u16 {
    app.client
        .post(app.webhook())
        .header("content-type", "application/json")
        .header("x-api-key", KEY)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn base(
    test: &str,
    slack: Option<&MockServer>,
    teams: Option<&MockServer>,
    extra: &[(&str, &str)],
) -> (Settings, String) {
    let slack_url = slack
        .map(|s| format!("{}/slack", s.uri()))
        .unwrap_or_default();
    let teams_url = teams
        .map(|s| format!("{}/teams", s.uri()))
        .unwrap_or_default();
    let mut vars = vec![
        ("WEBHOOK_API_KEYS", KEY),
        ("NOTIFY_GROUP_WAIT_SECS", "0"),
        ("SLACK_WEBHOOK_URL", slack_url.as_str()),
        ("TEAMS_WEBHOOK_URL", teams_url.as_str()),
        ("RECHECK_DELAYS_SECS", "1"),
        ("RETRY_DELAYS_SECS", "1"),
    ];
    vars.extend_from_slice(extra);
    app::settings(test, &vars)
}

#[tokio::test]
async fn webhooks_become_slack_and_teams_messages_with_the_right_verdicts() {
    let (slack, teams, cxone) = (slack().await, teams().await, CxoneStub::start().await);
    cxone.mount_story().await;
    let (mut settings, prefix) = base("e2e", Some(&slack), Some(&teams), &[]);
    settings.cxone = cxone.settings();
    let app = app::spawn_with(settings, prefix, Role::All, true).await;

    // A bot-side cause the payload proves, and a routing failure only CXone can explain.
    assert_eq!(post(&app, fixture("signal-forbidden")).await, 202);
    let slack_msgs = received(&slack, 1, Duration::from_secs(20)).await;
    assert_eq!(post(&app, fixture("signal-ok-abandoned")).await, 202);
    let slack_msgs = [
        slack_msgs,
        received(&slack, 2, Duration::from_secs(20)).await[1..].to_vec(),
    ]
    .concat();
    let teams_msgs = received(&teams, 2, Duration::from_secs(20)).await;

    let texts: Vec<String> = slack_msgs.iter().map(|m| m.to_string()).collect();
    assert!(
        texts[0].contains("HD104") && texts[0].contains("vg-7b2d0e93-forbidden"),
        "{}",
        texts[0]
    );
    assert_eq!(slack_msgs[0]["blocks"][0]["type"], "header");
    assert!(
        texts[1].contains("HD205") && texts[1].contains("abandoned-in-queue"),
        "{}",
        texts[1]
    );
    for t in &teams_msgs {
        assert_eq!(t["type"], "message");
        assert_eq!(
            t["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(t["attachments"][0]["content"]["version"], "1.4");
    }
    let all_teams = teams_msgs.iter().map(|m| m.to_string()).collect::<String>();
    assert!(all_teams.contains("HD104") && all_teams.contains("HD205"));
    // The caller's number from CXone (4155550123) never appears unmasked.
    assert!(!texts.concat().contains("4155550123") && !all_teams.contains("4155550123"));
    assert!(
        cxone
            .api_requests(&format!(
                "contacts/{}",
                crate::support::cxone_stub::CONTACT_ID
            ))
            .await
            >= 1
    );
    assert_eq!(app.metrics.count("jobs", &[("outcome", "diagnosed")]), 2);
    app.stop().await;
}

#[tokio::test]
async fn the_same_event_delivered_twice_is_notified_once() {
    let slack = slack().await;
    let (settings, prefix) = base("dedup", Some(&slack), None, &[]);
    let app = app::spawn_with(settings, prefix, Role::All, true).await;
    assert_eq!(post(&app, fixture("vg-dial-488")).await, 202);
    assert_eq!(post(&app, fixture("vg-dial-488")).await, 202);
    assert_eq!(post(&app, fixture("vg-busy-486")).await, 202);
    let msgs = received(&slack, 2, Duration::from_secs(20)).await;
    // Both copies were diagnosed; the second report of the same eventId is dropped.
    tokio::time::timeout(Duration::from_secs(10), async {
        while app.metrics.count("jobs", &[("outcome", "diagnosed")]) < 3
            || broker::count(&format!("{}.reports", app.prefix)).await > 0
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("all three jobs diagnosed and reports taken");
    let msgs_after = slack.received_requests().await.unwrap().len();
    assert_eq!(msgs_after, 2, "{msgs:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_job_that_can_never_succeed_is_dead_lettered_with_its_reason_and_can_be_requeued() {
    let slack = slack().await;
    let (settings, prefix) = base("dead", Some(&slack), None, &[]);
    let app = app::spawn_with(settings, prefix, Role::All, true).await;
    app.queue
        .publish(
            Target::Jobs,
            OutMessage {
                id: "garbage-1".into(),
                body: b"not json".to_vec(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let dead = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let d = app.queue.peek_dead().await.unwrap();
            if !d.is_empty() {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the undecodable job reaches the dead-letter queue");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event_id, "garbage-1");
    assert!(dead[0].reason.contains("undecodable"), "{}", dead[0].reason);

    // An event that died elsewhere (say, before a fix was deployed) is re-driven.
    let event = handover_doctor::event::HandoverEvent::parse(&fixture("signal-forbidden")).unwrap();
    app.queue
        .publish(
            Target::Dead,
            OutMessage {
                id: event.event_id.clone(),
                body: event.to_json(),
                reason: Some("delivery limit reached".into()),
                conversation_id: Some(event.conversation_id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handover-doctor"))
        .arg("dead-letters")
        .env("AMQP_URL", broker::AMQP_URL)
        .env("QUEUE_PREFIX", &app.prefix)
        .env("RETRY_DELAYS_SECS", "1")
        .env("RECHECK_DELAYS_SECS", "1")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{listing} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listing.contains("garbage-1") && listing.contains("undecodable"),
        "{listing}"
    );
    assert!(
        listing.contains(&event.event_id) && listing.contains(&event.conversation_id),
        "{listing}"
    );

    let moved = app.queue.requeue_dead().await.unwrap();
    assert_eq!(moved, 2, "{:?}", app.queue.peek_dead().await.unwrap());
    let msgs = received(&slack, 1, Duration::from_secs(20)).await;
    assert!(msgs[0].to_string().contains("HD104"));
    // The garbage dies again, with its reason; nothing is dropped silently.
    tokio::time::timeout(Duration::from_secs(10), async {
        while app.queue.peek_dead().await.unwrap().len() != 1 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the undecodable job is dead again");
    app.stop().await;
}

#[tokio::test]
async fn a_worker_killed_mid_job_loses_nothing_and_the_failure_is_notified_once() {
    let (slack, cxone) = (slack().await, CxoneStub::start().await);
    cxone.mount_story().await;
    // The contact read hangs long enough for the kill to land mid-job.
    let contact = format!("contacts/{}", crate::support::cxone_stub::CONTACT_ID);
    cxone
        .respond_times(
            &contact,
            1,
            ResponseTemplate::new(200)
                .set_body_json(cxone.fixture("contact_completed"))
                .set_delay(Duration::from_secs(3)),
        )
        .await;
    let prefix = broker::unique_prefix("kill");
    let cx = cxone.settings();
    let mut worker = tokio::process::Command::new(env!("CARGO_BIN_EXE_handover-doctor"))
        .args(["serve", "--role", "worker"])
        .env("AMQP_URL", broker::AMQP_URL)
        .env("QUEUE_PREFIX", &prefix)
        .env("RETRY_DELAYS_SECS", "1")
        .env("RECHECK_DELAYS_SECS", "1")
        .env("CXONE_ISSUER", cx.issuer.as_str())
        .env("CXONE_CLIENT_ID", "client")
        .env("CXONE_CLIENT_SECRET", "secret")
        .env("CXONE_ACCESS_KEY_ID", "AKID")
        .env("CXONE_ACCESS_KEY_SECRET", "AKSECRET")
        .env("LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // Receiver + notifier in this process; the killed worker is the only worker at first.
    let slack_url = format!("{}/slack", slack.uri());
    let vars = [
        ("WEBHOOK_API_KEYS", KEY),
        ("NOTIFY_GROUP_WAIT_SECS", "0"),
        ("SLACK_WEBHOOK_URL", slack_url.as_str()),
        ("RETRY_DELAYS_SECS", "1"),
        ("RECHECK_DELAYS_SECS", "1"),
        ("QUEUE_PREFIX", prefix.as_str()),
    ];
    let (settings, _) = app::settings("kill", &vars);
    let front = app::spawn_with(settings.clone(), prefix.clone(), Role::Receiver, true).await;
    let notifier_settings = settings.clone();
    let notifier = app::spawn_with(notifier_settings, prefix.clone(), Role::Notifier, true).await;
    assert_eq!(post(&front, fixture("signal-ok-abandoned")).await, 202);

    // Wait until the worker is inside the job (its contact read is in flight), then kill it.
    tokio::time::timeout(Duration::from_secs(20), async {
        while cxone.api_requests(&contact).await == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the worker picks the job up");
    worker.start_kill().unwrap();
    worker.wait().await.unwrap();
    assert_eq!(
        slack.received_requests().await.unwrap().len(),
        0,
        "nothing was reported yet"
    );

    // A new worker takes the redelivered job.
    let mut s2 = settings.clone();
    s2.cxone = cxone.settings();
    let worker2 = app::spawn_with(s2, prefix.clone(), Role::Worker, true).await;
    let msgs = received(&slack, 1, Duration::from_secs(30)).await;
    assert!(msgs[0].to_string().contains("HD205"), "{}", msgs[0]);
    tokio::time::timeout(Duration::from_secs(10), async {
        while broker::count(&format!("{prefix}.jobs")).await > 0
            || broker::count(&format!("{prefix}.reports")).await > 0
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("queues drain");
    assert_eq!(
        slack.received_requests().await.unwrap().len(),
        1,
        "notified exactly once"
    );
    worker2.shutdown.cancel();
    notifier.shutdown.cancel();
    front.stop().await;
}

#[tokio::test]
async fn of_two_notifiers_only_one_is_active_and_the_standby_takes_over() {
    let (slack_a, slack_b) = (slack().await, slack().await);
    let (sa, prefix) = base("sac", Some(&slack_a), None, &[]);
    let vars_b = [("QUEUE_PREFIX", prefix.as_str())];
    let (mut sb, _) = base("sac", Some(&slack_b), None, &vars_b);
    sb.queue.prefix = prefix.clone();
    let a = app::spawn_with(sa.clone(), prefix.clone(), Role::Notifier, true).await;
    let b = app::spawn_with(sb, prefix.clone(), Role::Notifier, true).await;

    let report = |i: usize| {
        let e = format!(
            r#"{{"conversationId":"c-{i}","eventId":"e-{i}","voice":{{"event":"TRANSFER_DIAL_ERROR","sipStatus":"48{i}"}}}}"#
        );
        let ev = handover_doctor::event::HandoverEvent::parse(e.as_bytes()).unwrap();
        let d =
            handover_doctor::diagnosis::diagnose(&handover_doctor::diagnosis::evidence::Evidence {
                contact_id: None,
                event: Some(ev),
                cxone: handover_doctor::diagnosis::evidence::CxoneEvidence::NotConfigured,
                required_context_keys: vec![],
                now: chrono::Utc::now(),
            });
        OutMessage {
            id: d.event_id.clone(),
            body: serde_json::to_vec(&d).unwrap(),
            ..Default::default()
        }
    };
    for i in 0..3 {
        a.queue.publish(Target::Reports, report(i)).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let n = slack_a.received_requests().await.unwrap().len()
                + slack_b.received_requests().await.unwrap().len();
            // Paced at about one message a second per destination.
            if n >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the reports are notified");
    let (na, nb) = (
        slack_a.received_requests().await.unwrap().len(),
        slack_b.received_requests().await.unwrap().len(),
    );
    assert!(
        na == 0 || nb == 0,
        "only one notifier may be active: {na} and {nb}"
    );
    let (active, standby, standby_slack) = if na > 0 {
        (a, b, &slack_b)
    } else {
        (b, a, &slack_a)
    };

    // The active one stops; the standby receives what comes next.
    active.shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(500)).await;
    standby
        .queue
        .publish(Target::Reports, report(7))
        .await
        .unwrap();
    let msgs = received(standby_slack, 1, Duration::from_secs(20)).await;
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].to_string().contains("c-7"), "{}", msgs[0]);
    standby.stop().await;
}

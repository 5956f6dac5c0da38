//! The whole service against the real broker: webhook → worker (CXone stub) → notifier
//! → Slack and Teams stand-ins; a worker killed mid-job; the dead-letter path; two
//! notifiers with one active.

use std::time::Duration;

use handover_doctor::queue::{OutMessage, Source, Target};
use handover_doctor::roles::Role;
use handover_doctor::settings::Settings;
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
    assert_eq!(post(&app, fixture("vg-user-busy-603")).await, 202);
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

/// Runs the binary's `dead-letters` (with `--requeue` when asked) on `prefix`; returns
/// its standard output.
fn dead_letters(prefix: &str, requeue: bool) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_handover-doctor"));
    cmd.arg("dead-letters");
    if requeue {
        cmd.arg("--requeue");
    }
    let out = cmd
        .env("AMQP_URL", broker::AMQP_URL)
        .env("QUEUE_PREFIX", prefix)
        .env("RETRY_DELAYS_SECS", "1")
        .env("RECHECK_DELAYS_SECS", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The `dead-letters` line of one event id.
fn line_of<'a>(listing: &'a str, id: &str) -> &'a str {
    listing
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("{id} is not listed: {listing}"))
}

/// Waits until `P.dead` holds `n` messages; returns them.
async fn dead_count(
    app: &TestApp,
    n: usize,
    what: &str,
) -> Vec<handover_doctor::queue::DeadLetter> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let d = app.queue.peek_dead().await.unwrap();
            if d.len() == n {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: {n} dead letter(s) expected"))
}

/// A Diagnosis report as the worker publishes it, for `fixture`.
fn report_of(fixture_name: &str) -> (handover_doctor::diagnosis::Diagnosis, Vec<u8>) {
    let ev = handover_doctor::event::HandoverEvent::parse(&fixture(fixture_name)).unwrap();
    let d = handover_doctor::diagnosis::diagnose(&handover_doctor::diagnosis::evidence::Evidence {
        contact_id: None,
        event: Some(ev),
        cxone: handover_doctor::diagnosis::evidence::CxoneEvidence::NotConfigured,
        required_context_keys: vec![],
        now: chrono::Utc::now(),
    });
    let body = serde_json::to_vec(&d).unwrap();
    (d, body)
}

#[tokio::test]
async fn dead_jobs_and_dead_reports_are_listed_with_their_queue_and_requeued_where_they_died() {
    let slack = slack().await;
    let (settings, prefix) = base("dead", Some(&slack), None, &[]);
    let app = app::spawn_with(settings, prefix.clone(), Role::All, true).await;
    // Undecodable: a job (the worker moves it) and a report (the notifier moves it).
    for (target, id) in [
        (Target::Jobs, "garbage-job"),
        (Target::Reports, "garbage-report"),
    ] {
        app.queue
            .publish(
                target,
                OutMessage {
                    id: id.into(),
                    body: b"not json".to_vec(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    dead_count(&app, 2, "both undecodable messages").await;
    assert_eq!(
        app.metrics.count("jobs", &[("outcome", "dead_lettered")]),
        1
    );
    assert_eq!(
        app.metrics.count(
            "notifications",
            &[("channel", "slack"), ("outcome", "dead_lettered")]
        ),
        1,
        "the report counts as the notifier's"
    );

    // What died elsewhere (say, before a fix was deployed): an event that died in the
    // jobs queue, and a report from an older version that recorded no origin.
    let event = handover_doctor::event::HandoverEvent::parse(&fixture("signal-forbidden")).unwrap();
    let (report, report_body) = report_of("vg-dial-488");
    for msg in [
        OutMessage {
            id: event.event_id.clone(),
            body: event.to_json(),
            reason: Some("delivery limit reached".into()),
            conversation_id: Some(event.conversation_id.clone()),
            origin: Some(Source::Jobs),
            ..Default::default()
        },
        OutMessage {
            id: report.event_id.clone(),
            body: report_body,
            reason: Some("delivery limit reached".into()),
            conversation_id: Some(report.conversation_id.clone()),
            ..Default::default()
        },
    ] {
        app.queue.publish(Target::Dead, msg).await.unwrap();
    }

    let listing = dead_letters(&prefix, false);
    let jobs_q = format!("queue={prefix}.jobs\t");
    let reports_q = format!("queue={prefix}.reports\t");
    let l = line_of(&listing, "garbage-job");
    assert!(
        l.contains(&jobs_q) && l.contains("reason=undecodable job"),
        "{l}"
    );
    let l = line_of(&listing, "garbage-report");
    assert!(
        l.contains(&reports_q) && l.contains("reason=undecodable report"),
        "{l}"
    );
    let l = line_of(&listing, &event.event_id);
    assert!(
        l.contains(&jobs_q) && l.contains(&event.conversation_id),
        "{l}"
    );
    let l = line_of(&listing, &report.event_id);
    assert!(
        l.contains(&reports_q) && l.contains(&report.conversation_id),
        "{l}"
    );

    let moved = dead_letters(&prefix, true);
    assert!(
        moved.contains("moved 4 dead letter(s)")
            && moved.contains(&format!("2 to {prefix}.jobs, 2 to {prefix}.reports")),
        "{moved}"
    );
    // The event is diagnosed (HD104), the report is notified as it was (HD108): it is
    // not diagnosed again as an event, which would read as a bogus HD101.
    let msgs = received(&slack, 2, Duration::from_secs(30)).await;
    // The garbage dies again, each in its own queue, with its reason.
    let again = dead_count(&app, 2, "the undecodable messages die again").await;
    let mut origins: Vec<_> = again
        .iter()
        .map(|d| (d.event_id.as_str(), d.origin))
        .collect();
    origins.sort_by_key(|(id, _)| id.to_string());
    assert_eq!(
        origins,
        [
            ("garbage-job", Source::Jobs),
            ("garbage-report", Source::Reports)
        ]
    );
    tokio::time::timeout(Duration::from_secs(10), async {
        while broker::count(&format!("{prefix}.jobs")).await > 0
            || broker::count(&format!("{prefix}.reports")).await > 0
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("queues drain");
    let all: Vec<String> = slack
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(all.len(), 2, "{all:?}");
    let all = all.concat();
    assert!(all.contains("HD104") && all.contains("HD108"), "{msgs:?}");
    assert!(
        !all.contains("HD101"),
        "a report diagnosed as an event: {all}"
    );
    app.stop().await;
}

/// Takes every delivery of `queue` and gives it back (nack with requeue), as a consumer
/// that keeps failing or crashing would, until the broker's delivery limit dead-letters
/// it and `done` holds.
async fn keep_failing<F, Fut>(queue: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    use futures_util::StreamExt;
    use lapin::options::{BasicConsumeOptions, BasicNackOptions};
    let conn = broker::connect().await;
    let ch = conn.create_channel().await.unwrap();
    let mut consumer = ch
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            tokio::select! {
                Some(Ok(d)) = consumer.next() => {
                    d.acker
                        .nack(BasicNackOptions { requeue: true, multiple: false })
                        .await
                        .unwrap();
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    if done().await {
                        return;
                    }
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{queue}: the delivery limit never dead-lettered the message"));
    let _ = conn.close(200, "bye".into()).await;
}

#[tokio::test]
async fn a_job_that_keeps_failing_after_a_recheck_dies_of_the_delivery_limit_and_says_so() {
    // Only the queues: no worker or notifier takes anything.
    let (settings, prefix) = base("limit", None, None, &[]);
    let app = app::spawn_with(settings, prefix.clone(), Role::Receiver, true).await;
    // A job that was sent to be re-checked (our reason header says so) comes back from
    // its delay queue, then keeps failing.
    let event =
        handover_doctor::event::HandoverEvent::parse(&fixture("signal-ok-abandoned")).unwrap();
    app.queue
        .publish(
            Target::Retry(Duration::from_secs(1)),
            OutMessage {
                id: event.event_id.clone(),
                body: event.to_json(),
                rechecks: 1,
                reason: Some("re-check: data-pending".into()),
                // As the receiver publishes it: no conversation header, which
                // `dead-letters` then reads from the body.
                conversation_id: None,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // And a report that no notifier manages to deliver.
    let (report, body) = report_of("vg-dial-488");
    app.queue
        .publish(
            Target::Reports,
            OutMessage {
                id: report.event_id.clone(),
                body,
                conversation_id: Some(report.conversation_id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let dead_q = format!("{prefix}.dead");
    keep_failing(&format!("{prefix}.jobs"), || async {
        broker::count(&dead_q).await == 1
    })
    .await;
    keep_failing(&format!("{prefix}.reports"), || async {
        broker::count(&dead_q).await == 2
    })
    .await;

    let dead = app.queue.peek_dead().await.unwrap();
    let job = dead.iter().find(|d| d.event_id == event.event_id).unwrap();
    assert_eq!(job.origin, Source::Jobs);
    assert!(
        job.reason.starts_with("delivery limit reached: the job"),
        "not the stale re-check reason: {}",
        job.reason
    );
    let rep = dead.iter().find(|d| d.event_id == report.event_id).unwrap();
    assert_eq!(rep.origin, Source::Reports);
    assert!(
        rep.reason.starts_with("delivery limit reached: the report"),
        "{}",
        rep.reason
    );

    let listing = dead_letters(&prefix, false);
    let l = line_of(&listing, &event.event_id);
    assert!(
        l.contains(&format!("queue={prefix}.jobs\t"))
            && l.contains("reason=delivery limit reached")
            && l.contains(&format!("conversation={}\t", event.conversation_id)),
        "{l}"
    );
    assert!(!l.contains("re-check"), "{l}");
    let l = line_of(&listing, &report.event_id);
    assert!(l.contains(&format!("queue={prefix}.reports\t")), "{l}");

    // The broker recorded where each died (x-death): each goes back there.
    let moved = dead_letters(&prefix, true);
    assert!(
        moved.contains(&format!("1 to {prefix}.jobs, 1 to {prefix}.reports")),
        "{moved}"
    );
    assert_eq!(broker::count(&format!("{prefix}.jobs")).await, 1);
    assert_eq!(broker::count(&format!("{prefix}.reports")).await, 1);
    assert_eq!(broker::count(&dead_q).await, 0);
    let prefix = app.prefix.clone();
    app.stop().await;
    broker::delete_all(&prefix, &[1]).await;
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
        .env("CXONE_MAX_RPS", "0")
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

/// The caller's number as the CXone stub's contact has it (`fromAddress`).
const CXONE_CALLER: &str = "4155550123";
/// Another caller number, only in the event (`userId`).
const USER_ID_CALLER: &str = "4155550199";

/// A failed transfer whose flow echoes both caller numbers in its free text: the
/// event's numeric `userId`, and the CXone contact's `fromAddress` that only the worker
/// reads. No rule keeps either under a key of its own.
fn event_echoing_caller_numbers() -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture("vg-dial-488")).unwrap();
    v["eventId"] = Value::String(format!("mask:{}", uuid::Uuid::new_v4()));
    v["userId"] = Value::String(USER_ID_CALLER.into());
    v["handover"]["codeError"] = Value::String(format!(
        "Error: dial out to {CXONE_CALLER} refused for user {USER_ID_CALLER}"
    ));
    v["voice"]["sipReason"] = Value::String(format!("Not Acceptable Here (from {CXONE_CALLER})"));
    serde_json::to_vec(&v).unwrap()
}

fn assert_masked(what: &str, text: &str) {
    for raw in [CXONE_CALLER, USER_ID_CALLER] {
        assert!(
            !text.contains(raw),
            "{what} carries the caller number {raw}: {text}"
        );
    }
}

/// Reads the first message of `queue` and leaves it there (a consumer, since quorum
/// queues with a single active consumer refuse `basic.get`).
async fn peek(queue: &str) -> Vec<u8> {
    use futures_util::StreamExt;
    use lapin::options::{BasicConsumeOptions, BasicNackOptions};
    let conn = broker::connect().await;
    let ch = conn.create_channel().await.unwrap();
    let mut consumer = ch
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("a message")
        .unwrap()
        .unwrap();
    d.acker
        .nack(BasicNackOptions {
            requeue: true,
            multiple: false,
        })
        .await
        .unwrap();
    let _ = conn.close(200, "peeked".into()).await;
    d.data
}

#[tokio::test]
async fn caller_numbers_are_masked_in_the_queued_report_and_in_slack_and_teams() {
    let (slack, teams, cxone) = (slack().await, teams().await, CxoneStub::start().await);
    cxone.mount_story().await;
    let (settings, prefix) = base("mask", Some(&slack), Some(&teams), &[]);
    let front = app::spawn_with(settings.clone(), prefix.clone(), Role::Receiver, true).await;
    let mut ws = settings.clone();
    ws.cxone = cxone.settings();
    let worker = app::spawn_with(ws, prefix.clone(), Role::Worker, true).await;
    assert_eq!(post(&front, event_echoing_caller_numbers()).await, 202);

    // The report waits in P.reports (no notifier yet): already masked there.
    let reports = format!("{prefix}.reports");
    tokio::time::timeout(Duration::from_secs(20), async {
        while broker::count(&reports).await == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the worker publishes the report");
    let report = String::from_utf8(peek(&reports).await).unwrap();
    assert_masked("the queued report", &report);
    assert!(
        report.contains("•••0123") && report.contains("•••0199"),
        "{report}"
    );
    assert!(
        cxone
            .api_requests(&format!(
                "contacts/{}",
                crate::support::cxone_stub::CONTACT_ID
            ))
            .await
            >= 1,
        "the worker read the contact's fromAddress"
    );

    let notifier = app::spawn_with(settings, prefix.clone(), Role::Notifier, true).await;
    let to_slack = received(&slack, 1, Duration::from_secs(20)).await;
    let to_teams = received(&teams, 1, Duration::from_secs(20)).await;
    for m in to_slack.iter().chain(&to_teams) {
        let text = m.to_string();
        assert!(text.contains("HD108"), "{text}");
        assert_masked("a message", &text);
        assert!(
            text.contains("•••0123"),
            "the last four digits stay: {text}"
        );
    }
    notifier.shutdown.cancel();
    worker.shutdown.cancel();
    front.stop().await;
}

#[tokio::test]
async fn serve_with_the_stdout_notifier_prints_and_logs_no_caller_number() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let cxone = CxoneStub::start().await;
    cxone.mount_story().await;
    let prefix = broker::unique_prefix("mask-stdout");
    let payload = std::env::temp_dir().join(format!("{prefix}.json"));
    std::fs::write(&payload, event_echoing_caller_numbers()).unwrap();
    let mut serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_handover-doctor"))
        .arg("serve")
        .arg("--replay")
        .arg(&payload)
        .env("AMQP_URL", broker::AMQP_URL)
        .env("QUEUE_PREFIX", &prefix)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("WEBHOOK_API_KEYS", KEY)
        .env("NOTIFY_GROUP_WAIT_SECS", "0")
        .env("RETRY_DELAYS_SECS", "1")
        .env("RECHECK_DELAYS_SECS", "1")
        .env("LOG_FORMAT", "json")
        // Every log line the service writes, not just the default info ones.
        .env("RUST_LOG", "handover_doctor=trace")
        .envs(cxone.env_vars())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Read the logs as they come, so the pipe never fills.
    let mut stderr = serve.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all).await;
        all
    });
    let mut stdout = BufReader::new(serve.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(l) = stdout.next_line().await.unwrap() {
            if l.contains(r#""channel":"stdout""#) {
                return l;
            }
        }
        panic!("serve ended without a notification");
    })
    .await
    .expect("a notification on standard output within 30 s");
    // SIGTERM, not a kill: the notifier can print before the worker has logged the
    // "diagnosed" line (it logs once its report's publish is confirmed); draining lets
    // every line be written.
    let pid = serve.id().expect("serve is running").to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), serve.wait())
        .await
        .expect("serve drains and exits within 30 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let logs = logs.await.unwrap();
    let _ = std::fs::remove_file(&payload);
    broker::delete_all(&prefix, &[1]).await;

    assert!(line.contains("HD108"), "{line}");
    assert_masked("the stdout line", &line);
    assert!(
        line.contains("•••0123") && line.contains("•••0199"),
        "{line}"
    );
    assert!(
        logs.contains("diagnosed"),
        "the worker's log lines were captured: {logs}"
    );
    assert_masked("the log", &logs);
}

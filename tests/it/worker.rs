//! The worker's schedule against the real broker, a fake CXone and a Slack stand-in: a
//! contact whose data is pending is re-checked and notified once with the final verdict;
//! a certain bot-side cause is notified at once; CXone failing for a while retries the
//! job; retries running out still end in a diagnosis (HD503), never in a lost job.
//!
//! Delays are one second (`RETRY_DELAYS_SECS=1`, `RECHECK_DELAYS_SECS=1,1`) so the
//! schedule runs for real; every wait is for an observable outcome, with a timeout.
//! Longer schedules (retries and re-checks mixed) are stepped instead: the test drives
//! [`Worker::process`](handover_doctor::worker::Worker::process) one delivery at a time,
//! checks which delay queue the job went to, and moves it on without waiting its delay.

use std::future::Future;
use std::time::Duration;

use handover_doctor::roles::Role;
use handover_doctor::worker::Outcome;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::app::{self, TestApp};
use crate::support::broker;
use crate::support::cxone_stub::{CONTACT_ID, CxoneStub, HOURS_PROFILE_ID};

const KEY: &str = "key-1";

/// Waits until `cond` holds, checking every 50 ms; panics with `what` after `within`.
async fn until<F, Fut>(within: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    tokio::time::timeout(within, async {
        while !cond().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out after {within:?} waiting for {what}"));
}

async fn slack() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/slack"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&s)
        .await;
    s
}

async fn messages(slack: &MockServer) -> Vec<Value> {
    slack
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// A sample webhook, made to have just happened (the worker diagnoses at the real "now",
/// and a handover from months ago would read as long overdue) and unique to this test.
fn fresh_event(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/webhooks/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["occurredAt"] = Value::String(chrono::Utc::now().to_rfc3339());
    v["eventId"] = Value::String(format!("{name}:{}", uuid::Uuid::new_v4()));
    serde_json::to_vec(&v).unwrap()
}

/// The whole app (receiver, worker, notifier) on `cxone`, posting to `slack`.
async fn spawn(test: &str, cxone: &CxoneStub, slack: &MockServer) -> TestApp {
    let slack_url = format!("{}/slack", slack.uri());
    let (mut settings, prefix) = app::settings(
        test,
        &[
            ("WEBHOOK_API_KEYS", KEY),
            ("NOTIFY_GROUP_WAIT_SECS", "0"),
            ("SLACK_WEBHOOK_URL", slack_url.as_str()),
            ("RETRY_DELAYS_SECS", "1"),
            ("RECHECK_DELAYS_SECS", "1,1"),
        ],
    );
    settings.cxone = cxone.settings();
    app::spawn_with(settings, prefix, Role::All, true).await
}

async fn post(app: &TestApp, body: Vec<u8>) {
    let status = app
        .client
        .post(app.webhook())
        .header("content-type", "application/json")
        .header("x-api-key", KEY)
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
}

fn jobs(app: &TestApp, outcome: &str) -> u64 {
    app.metrics.count("jobs", &[("outcome", outcome)])
}

/// Stops the app and removes its queues, the one-second delay queue included.
async fn stop(app: TestApp) {
    let prefix = app.prefix.clone();
    app.stop().await;
    broker::delete_all(&prefix, &[1]).await;
}

/// Waits for the one notification, then for the queues to drain, and checks that no
/// second message follows.
async fn the_only_message(app: &TestApp, slack: &MockServer) -> Value {
    until(Duration::from_secs(10), "a Slack message", || async {
        !messages(slack).await.is_empty()
    })
    .await;
    until(Duration::from_secs(5), "the queues to drain", || async {
        broker::count(&format!("{}.jobs", app.prefix)).await == 0
            && broker::count(&format!("{}.reports", app.prefix)).await == 0
            && broker::count(&format!("{}.retry.1s", app.prefix)).await == 0
    })
    .await;
    let all = messages(slack).await;
    assert_eq!(all.len(), 1, "exactly one notification: {all:?}");
    all.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_contact_still_in_progress_is_rechecked_and_notified_once_with_the_final_verdict() {
    let (cxone, slack) = (CxoneStub::start().await, slack().await);
    cxone.mount_story().await;
    // At first CXone still has the call live: listed as active, the contact without its
    // totals. From the re-check on it is the completed, abandoned-in-queue contact.
    let contact = format!("contacts/{CONTACT_ID}");
    cxone
        .respond_times(
            &contact,
            1,
            ResponseTemplate::new(200).set_body_json(cxone.fixture("contact_active")),
        )
        .await;
    cxone
        .respond_times(
            "contacts/active",
            1,
            ResponseTemplate::new(200).set_body_json(cxone.fixture("contacts_active")),
        )
        .await;
    let app = spawn("recheck", &cxone, &slack).await;
    post(&app, fresh_event("signal-ok-abandoned")).await;

    let msg = the_only_message(&app, &slack).await.to_string();
    assert!(msg.contains("HD205"), "the final verdict: {msg}");
    assert!(!msg.contains("HD402"), "not the pending one: {msg}");
    assert!(jobs(&app, "rechecked") >= 1);
    assert_eq!(jobs(&app, "diagnosed"), 1);
    assert!(cxone.api_requests(&contact).await >= 2, "read again");
    assert!(
        app.metrics
            .render()
            .contains(r#"handover_jobs_total{outcome="rechecked"}"#)
    );
    stop(app).await;
}

#[tokio::test]
async fn a_certain_bot_side_cause_is_notified_at_once_even_with_cxone_data_pending() {
    let (cxone, slack) = (CxoneStub::start().await, slack().await);
    cxone.mount_story().await;
    // CXone's data is pending for as long as this test runs.
    let contact = format!("contacts/{CONTACT_ID}");
    cxone
        .contact(CONTACT_ID, 200, cxone.fixture("contact_active"))
        .await;
    cxone
        .active(CONTACT_ID, 200, cxone.fixture("contacts_active"))
        .await;
    let app = spawn("certain", &cxone, &slack).await;
    post(&app, fresh_event("signal-forbidden")).await;

    let msg = the_only_message(&app, &slack).await.to_string();
    assert!(msg.contains("HD104"), "{msg}");
    assert_eq!(
        jobs(&app, "rechecked"),
        0,
        "no re-check for a certain cause"
    );
    assert_eq!(jobs(&app, "diagnosed"), 1);
    assert_eq!(
        cxone.api_requests(&contact).await,
        1,
        "CXone was read once, with the data still pending"
    );
    stop(app).await;
}

#[tokio::test]
async fn a_job_is_retried_while_cxone_fails_to_grant_a_token_then_diagnosed() {
    let (cxone, slack) = (CxoneStub::start().await, slack().await);
    cxone.mount_story().await;
    // The token endpoint answers 500 through one whole round of the client's retries.
    let rounds = u64::from(cxone.settings().max_retries) + 1;
    Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(rounds)
        .with_priority(1)
        .mount(&cxone.server)
        .await;
    let app = spawn("retry-token", &cxone, &slack).await;
    post(&app, fresh_event("signal-ok-abandoned")).await;

    let msg = the_only_message(&app, &slack).await.to_string();
    assert!(msg.contains("HD205"), "diagnosed once CXone answers: {msg}");
    assert!(!msg.contains("HD503"), "{msg}");
    assert_eq!(jobs(&app, "retried"), 1);
    assert_eq!(jobs(&app, "diagnosed"), 1);
    assert_eq!(cxone.token_requests().await as u64, rounds + 1);
    stop(app).await;
}

#[tokio::test]
async fn a_job_is_retried_while_cxone_reads_fail_then_diagnosed() {
    let (cxone, slack) = (CxoneStub::start().await, slack().await);
    cxone.mount_story().await;
    // The contact read answers 500 through one whole round of the client's retries.
    let rounds = u64::from(cxone.settings().max_retries) + 1;
    let contact = format!("contacts/{CONTACT_ID}");
    cxone
        .respond_times(&contact, rounds, ResponseTemplate::new(500))
        .await;
    let app = spawn("retry-api", &cxone, &slack).await;
    post(&app, fresh_event("signal-ok-abandoned")).await;

    let msg = the_only_message(&app, &slack).await.to_string();
    assert!(msg.contains("HD205"), "diagnosed once CXone answers: {msg}");
    assert!(!msg.contains("HD503"), "{msg}");
    assert_eq!(jobs(&app, "retried"), 1);
    assert_eq!(jobs(&app, "diagnosed"), 1);
    assert_eq!(cxone.api_requests(&contact).await as u64, rounds + 1);
    stop(app).await;
}

#[tokio::test]
async fn a_job_whose_retries_run_out_is_diagnosed_with_hd503_not_lost() {
    let (cxone, slack) = (CxoneStub::start_bare().await, slack().await);
    cxone.mount_openid_configuration().await;
    cxone.mount_token(cxone.token_response(3600)).await;
    // Every API discovery answer is a 503: no attempt ever reaches the API.
    Mock::given(method("GET"))
        .and(path("/.well-known/cxone-configuration"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&cxone.server)
        .await;
    let app = spawn("exhausted", &cxone, &slack).await;
    post(&app, fresh_event("signal-ok-abandoned")).await;

    let msg = the_only_message(&app, &slack).await.to_string();
    assert!(msg.contains("HD503"), "{msg}");
    assert_eq!(jobs(&app, "retried"), 1, "one delay configured, one retry");
    assert_eq!(jobs(&app, "diagnosed"), 1);
    assert_eq!(jobs(&app, "dead_lettered"), 0);
    assert!(app.queue.peek_dead().await.unwrap().is_empty());
    stop(app).await;
}

#[tokio::test]
async fn a_certain_bot_side_cause_is_not_held_back_by_a_failing_cxone_read() {
    let (cxone, slack) = (CxoneStub::start().await, slack().await);
    cxone.mount_story().await;
    cxone
        .contact(CONTACT_ID, 503, serde_json::json!({"error": "unavailable"}))
        .await;
    let app = spawn("certain-503", &cxone, &slack).await;
    post(&app, fresh_event("signal-forbidden")).await;

    let msg = the_only_message(&app, &slack).await.to_string();
    assert!(msg.contains("HD104"), "{msg}");
    assert_eq!(
        jobs(&app, "retried"),
        0,
        "the 403 is the cause whatever CXone says"
    );
    assert_eq!(jobs(&app, "diagnosed"), 1);
    stop(app).await;
}

#[tokio::test]
async fn a_contact_read_that_keeps_failing_ends_in_a_report_that_says_so() {
    let (cxone, slack) = (CxoneStub::start().await, slack().await);
    cxone.mount_story().await;
    cxone
        .contact(CONTACT_ID, 500, serde_json::json!({"error": "internal"}))
        .await;
    let app = spawn("exhausted-read", &cxone, &slack).await;
    post(&app, fresh_event("signal-ok-abandoned")).await;

    let msg = the_only_message(&app, &slack).await.to_string();
    assert!(
        msg.contains("HD503"),
        "the report says CXone kept failing: {msg}"
    );
    assert_eq!(jobs(&app, "retried"), 1);
    assert_eq!(jobs(&app, "diagnosed"), 1);
    assert!(app.queue.peek_dead().await.unwrap().is_empty());
    stop(app).await;
}

#[tokio::test]
async fn a_certain_bot_side_cause_is_notified_at_once_when_cxone_cannot_issue_a_token() {
    let (cxone, slack) = (CxoneStub::start().await, slack().await);
    cxone.mount_story().await;
    // Every token request fails: CXone is unreachable for as long as this test runs.
    Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .mount(&cxone.server)
        .await;
    let app = spawn("certain-token", &cxone, &slack).await;
    post(&app, fresh_event("signal-forbidden")).await;

    let msg = the_only_message(&app, &slack).await.to_string();
    assert!(msg.contains("HD104"), "the refused signal: {msg}");
    assert!(
        msg.contains("HD503"),
        "and that CXone was not checked: {msg}"
    );
    assert_eq!(
        jobs(&app, "retried"),
        0,
        "a certain cause waits for no token"
    );
    assert_eq!(jobs(&app, "diagnosed"), 1);
    stop(app).await;
}

/// What the CXone stub answers for the contact in one step of a schedule.
#[derive(Clone, Copy, Debug)]
enum Cxone {
    /// Still live: the contact without its totals, listed as active (HD402).
    Pending,
    /// The contact read fails through every retry of the client (transient).
    Failing,
    /// The completed, abandoned-in-queue contact (HD205).
    Completed,
}

async fn answer(cxone: &CxoneStub, how: Cxone) {
    cxone.server.reset().await;
    cxone.mount_openid_configuration().await;
    cxone.mount_token(cxone.token_response(3600)).await;
    cxone.mount_cxone_configuration().await;
    cxone.mount_story().await;
    match how {
        Cxone::Pending => {
            cxone
                .contact(CONTACT_ID, 200, cxone.fixture("contact_active"))
                .await;
            cxone
                .active(CONTACT_ID, 200, cxone.fixture("contacts_active"))
                .await;
        }
        Cxone::Failing => {
            cxone
                .contact(CONTACT_ID, 500, serde_json::json!({"error": "internal"}))
                .await;
        }
        Cxone::Completed => {}
    }
}

/// Distinct delays, so the delay queue a job lands in names the step of the schedule.
const RETRY_DELAYS: [u64; 2] = [11, 12];
const RECHECK_DELAYS: [u64; 3] = [21, 22, 23];

/// A worker driven one delivery at a time on the real broker, and the consumer it takes
/// its jobs from.
struct Stepper {
    worker: handover_doctor::worker::Worker,
    queue: handover_doctor::queue::Queue,
    consumer: handover_doctor::queue::Consumer,
    prefix: String,
}

impl Stepper {
    async fn start(test: &str, cxone: &CxoneStub) -> Stepper {
        let retry = RETRY_DELAYS.map(|d| d.to_string()).join(",");
        let recheck = RECHECK_DELAYS.map(|d| d.to_string()).join(",");
        let (mut settings, prefix) = app::settings(
            test,
            &[
                ("RETRY_DELAYS_SECS", retry.as_str()),
                ("RECHECK_DELAYS_SECS", recheck.as_str()),
            ],
        );
        settings.cxone = cxone.settings();
        let queue = handover_doctor::startup::open_queue(&settings);
        if let handover_doctor::queue::Queue::Rabbit(q) = &queue {
            q.wait_connected(Duration::from_secs(10)).await.unwrap();
        }
        let consumer = queue
            .consume(handover_doctor::queue::Source::Jobs, 1)
            .await
            .unwrap();
        let worker = handover_doctor::worker::Worker::new(
            queue.clone(),
            Some(std::sync::Arc::new(cxone.client())),
            settings.worker.clone(),
            std::sync::Arc::new(handover_doctor::metrics::Metrics::new()),
        );
        Stepper {
            worker,
            queue,
            consumer,
            prefix,
        }
    }

    /// Publishes a job to `P.jobs`, as the receiver or the scan would.
    async fn publish(&self, id: &str, body: Vec<u8>) {
        self.queue
            .publish(
                handover_doctor::queue::Target::Jobs,
                handover_doctor::queue::OutMessage {
                    id: id.to_string(),
                    body,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    /// Takes the next job and processes it.
    async fn step(&mut self) -> Outcome {
        let d = tokio::time::timeout(Duration::from_secs(10), self.consumer.next())
            .await
            .expect("a job within 10 s")
            .expect("the consumer is open");
        self.worker.process(d).await
    }

    /// The delay queue now holding the job (exactly one does); the job is moved from it
    /// to `P.jobs` with its headers, as its expiry would, without waiting the delay.
    async fn expire_now(&self) -> u64 {
        use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions};
        let mut holding = Vec::new();
        for d in RETRY_DELAYS.iter().chain(&RECHECK_DELAYS) {
            if broker::count(&format!("{}.retry.{d}s", self.prefix)).await > 0 {
                holding.push(*d);
            }
        }
        assert_eq!(
            holding.len(),
            1,
            "one delay queue holds the job: {holding:?}"
        );
        let conn = broker::connect().await;
        let ch = conn.create_channel().await.unwrap();
        let m = ch
            .basic_get(
                format!("{}.retry.{}s", self.prefix, holding[0])
                    .as_str()
                    .into(),
                BasicGetOptions::default(),
            )
            .await
            .unwrap()
            .expect("the job");
        ch.basic_publish(
            "".into(),
            format!("{}.jobs", self.prefix).as_str().into(),
            BasicPublishOptions::default(),
            &m.delivery.data,
            m.delivery.properties.clone(),
        )
        .await
        .unwrap();
        m.delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
        let _ = conn.close(200, "moved".into()).await;
        holding[0]
    }

    async fn stop(self) {
        drop(self.consumer);
        self.queue.close().await;
        let extra: Vec<u64> = RETRY_DELAYS
            .iter()
            .chain(&RECHECK_DELAYS)
            .copied()
            .collect();
        broker::delete_all(&self.prefix, &extra).await;
    }
}

/// Runs `steps` (what CXone answers, then where the job must go: `Some(delay)` for the
/// delay queue of that many seconds, `None` for a report) and returns the final outcome.
async fn run_schedule(test: &str, steps: &[(Cxone, Option<u64>)]) -> Outcome {
    let cxone = CxoneStub::start().await;
    let mut s = Stepper::start(test, &cxone).await;
    s.publish(&format!("{test}-1"), fresh_event("signal-ok-abandoned"))
        .await;
    let mut last = None;
    for (i, (how, goes_to)) in steps.iter().enumerate() {
        answer(&cxone, *how).await;
        let outcome = s.step().await;
        match goes_to {
            Some(secs) => {
                let wanted = Duration::from_secs(*secs);
                assert!(
                    matches!(&outcome, Outcome::Retried(d) | Outcome::Rechecked(d) if *d == wanted),
                    "step {i} ({how:?}): {outcome:?}, expected a delay of {secs} s"
                );
                assert_eq!(s.expire_now().await, *secs, "step {i} ({how:?})");
            }
            None => {
                last = Some(outcome);
            }
        }
    }
    s.stop().await;
    last.expect("the schedule ends in a report")
}

/// The codes of the reported diagnosis' findings.
fn findings(outcome: &Outcome) -> Vec<&'static str> {
    match outcome {
        Outcome::Reported(d) => d.findings.iter().map(|f| f.code.as_str()).collect(),
        other => panic!("expected a report, got {other:?}"),
    }
}

#[tokio::test]
async fn a_transient_retry_does_not_shift_the_recheck_schedule() {
    use Cxone::*;
    let end = run_schedule(
        "retry-then-recheck",
        &[
            (Failing, Some(11)),
            (Pending, Some(21)),
            (Pending, Some(22)),
            (Failing, Some(12)),
            (Pending, Some(23)),
            // Re-checks used up: the final verdict with what is known.
            (Pending, None),
        ],
    )
    .await;
    let codes = findings(&end);
    assert!(codes.contains(&"HD402"), "still pending: {codes:?}");
}

#[tokio::test]
async fn rechecks_do_not_use_up_the_retries_of_a_later_cxone_outage() {
    use Cxone::*;
    let end = run_schedule(
        "recheck-then-retry",
        &[
            (Pending, Some(21)),
            (Pending, Some(22)),
            (Pending, Some(23)),
            (Failing, Some(11)),
            (Completed, None),
        ],
    )
    .await;
    let codes = findings(&end);
    assert!(
        codes.contains(&"HD205"),
        "diagnosed once CXone answered: {codes:?}"
    );
    assert!(
        !codes.contains(&"HD402") && !codes.contains(&"HD503"),
        "{codes:?}"
    );
}

// The skill's live activity (the story's: 3 agents logged in, none available, 7 queued:
// HD304) is evidence only when read within LIVE_ACTIVITY_MAX_AGE of the contact's end.
// These tests move the story in time: the contact ends some minutes before the real now.

/// `v` with every time in it moved by `by` (CXone's "never", `0001-01-01`, stays).
fn shifted(v: &Value, by: chrono::Duration) -> Value {
    use chrono::{DateTime, Datelike, SecondsFormat, Utc};
    match v {
        Value::String(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) if t.year() > 2000 => Value::String(
                (t.with_timezone(&Utc) + by).to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| shifted(x, by)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), shifted(x, by))).collect())
        }
        other => other.clone(),
    }
}

/// The skill's hours, served open around the clock. Moved to now, a story's call happens
/// at whatever time of day, weekday or holiday the test runs on, and the story's real
/// hours (Mon-Fri 08-20, Sat 09-13, closed on Sundays and at Christmas) would make it
/// HD305 at night. The tests that move it are about staffing, not hours. Mount it before
/// the worker's first read: the worker keeps the hours it read.
async fn hours_always_open(cxone: &CxoneStub) {
    let mut hours = cxone.fixture("hours_detail");
    for day in hours["days"].as_array_mut().expect("days") {
        // Equal opening and closing times: open around the clock, as HD305 reads them.
        day["openTime"] = Value::from("00:00:00");
        day["closeTime"] = Value::from("00:00:00");
        day["isClosedAllDay"] = Value::from(false);
    }
    hours["holidays"] = Value::Array(Vec::new());
    cxone
        .respond(
            &format!("hours-of-operation/{HOURS_PROFILE_ID}"),
            200,
            hours,
        )
        .await;
}

/// Serves the story's completed contact (record and state history) moved so that it
/// ended `ago` before now, and its skill's activity as read now. Returns the shift, to
/// move the webhook the same way. The skill's hours are open around the clock
/// ([`hours_always_open`]).
async fn story_ended(cxone: &CxoneStub, ago: chrono::Duration) -> chrono::Duration {
    hours_always_open(cxone).await;
    let contact = cxone.fixture("contact_completed");
    let now = chrono::Utc::now();
    let by = shift_to_end(&contact, now - ago);
    cxone.contact(CONTACT_ID, 200, shifted(&contact, by)).await;
    cxone
        .state_history(CONTACT_ID, 200, shifted(&cxone.fixture("statehistory"), by))
        .await;
    let activity = cxone.fixture("skill_activity");
    let read: chrono::DateTime<chrono::Utc> = activity["skillActivity"][0]["serverTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    cxone
        .skill_activity(
            crate::support::cxone_stub::SKILL_ID,
            200,
            shifted(&activity, now - read),
        )
        .await;
    by
}

/// How far to move the story's completed contact (`contact_completed`) so that it ends at
/// `end`.
fn shift_to_end(contact: &Value, end: chrono::DateTime<chrono::Utc>) -> chrono::Duration {
    let start: chrono::DateTime<chrono::Utc> = contact["contactId"]["contactStartDate"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let total = contact["contactId"]["totalDurationSeconds"]
        .as_f64()
        .unwrap();
    end - (start + chrono::Duration::milliseconds((total * 1000.0) as i64))
}

/// The sample webhook moved by `by` (its handover request), unique to this test.
fn event_shifted(name: &str, by: chrono::Duration) -> Vec<u8> {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/webhooks/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["occurredAt"] = shifted(&v["occurredAt"], by);
    v["eventId"] = Value::String(format!("{name}:{}", uuid::Uuid::new_v4()));
    serde_json::to_vec(&v).unwrap()
}

/// The scan event of the story's contact, as the periodic scan publishes it.
fn scan_event_body(by: chrono::Duration) -> Vec<u8> {
    let record = shifted(&crate::support::cxone_stub::shape("contact_completed"), by);
    let suspect = handover_doctor::scan::Suspect {
        contact_id: CONTACT_ID.to_string(),
        why: handover_doctor::scan::Suspicion::AbandonedInQueue,
        contact: serde_json::from_value(record["contactId"].clone()).unwrap(),
    };
    handover_doctor::scan::scan_event(&suspect).to_json()
}

fn reported(outcome: Outcome) -> Box<handover_doctor::diagnosis::Diagnosis> {
    match outcome {
        Outcome::Reported(d) => d,
        other => panic!("expected a report, got {other:?}"),
    }
}

fn says_staffing_not_judged(d: &handover_doctor::diagnosis::Diagnosis) -> bool {
    d.timeline
        .iter()
        .any(|t| t.event == "LiveStaffingNotJudged" && t.detail.contains("past contact"))
}

#[tokio::test]
async fn a_fresh_webhook_is_judged_by_the_staffing_read_with_it() {
    let cxone = CxoneStub::start().await;
    let mut s = Stepper::start("staffing-fresh", &cxone).await;
    answer(&cxone, Cxone::Completed).await;
    let by = story_ended(&cxone, chrono::Duration::minutes(1)).await;
    s.publish("fresh-1", event_shifted("signal-ok-abandoned", by))
        .await;
    let d = reported(s.step().await);
    let codes: Vec<&str> = d.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(
        codes.contains(&"HD304") && codes.contains(&"HD205"),
        "a backlog seen a minute after the caller gave up: {codes:?}"
    );
    assert!(!says_staffing_not_judged(&d), "{:?}", d.timeline);
    s.stop().await;
}

#[tokio::test]
async fn a_recheck_long_after_the_contact_ended_does_not_judge_it_by_the_staffing_seen_now() {
    let cxone = CxoneStub::start().await;
    let mut s = Stepper::start("staffing-recheck", &cxone).await;
    // The contact ended 20 minutes ago; the webhook came while it was still live.
    answer(&cxone, Cxone::Pending).await;
    hours_always_open(&cxone).await;
    let by = shift_to_end(
        &cxone.fixture("contact_completed"),
        chrono::Utc::now() - chrono::Duration::minutes(20),
    );
    s.publish("recheck-1", event_shifted("signal-ok-abandoned", by))
        .await;
    assert!(
        matches!(s.step().await, Outcome::Rechecked(d) if d == Duration::from_secs(RECHECK_DELAYS[0])),
        "pending at first"
    );
    s.expire_now().await;
    // The re-check finds it over, ended 20 minutes before this read.
    answer(&cxone, Cxone::Completed).await;
    story_ended(&cxone, chrono::Duration::minutes(20)).await;
    let d = reported(s.step().await);
    let codes: Vec<&str> = d.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(d.verdict.code.as_str(), "HD205", "{codes:?}");
    assert!(
        !codes.contains(&"HD304") && !codes.contains(&"HD303"),
        "{codes:?}"
    );
    assert!(says_staffing_not_judged(&d), "{:?}", d.timeline);
    s.stop().await;
}

#[tokio::test]
async fn a_scan_event_for_a_contact_that_ended_long_ago_is_not_judged_by_the_staffing_seen_now() {
    let cxone = CxoneStub::start().await;
    let mut s = Stepper::start("staffing-scan", &cxone).await;
    answer(&cxone, Cxone::Completed).await;
    // As the periodic scan finds them: warehoused and listed some 25 minutes after the end.
    let by = story_ended(&cxone, chrono::Duration::minutes(25)).await;
    s.publish("scan-1", scan_event_body(by)).await;
    let d = reported(s.step().await);
    let codes: Vec<&str> = d.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(d.event_id, format!("scan:{CONTACT_ID}"));
    assert_eq!(d.verdict.code.as_str(), "HD205", "{codes:?}");
    assert!(
        !codes.contains(&"HD304") && !codes.contains(&"HD303"),
        "{codes:?}"
    );
    assert!(says_staffing_not_judged(&d), "{:?}", d.timeline);
    assert_eq!(
        cxone.api_requests("skills/4412877/activity").await,
        1,
        "the activity was read, and set aside"
    );
    s.stop().await;
}

// What the worker retries: a read that failed through every retry of the client (on any
// look-up the verdict depends on); never an answer a retry would only repeat.

#[tokio::test]
async fn an_active_contact_check_that_keeps_failing_sends_the_job_to_the_retry_queue() {
    let cxone = CxoneStub::start().await;
    let mut s = Stepper::start("retry-active", &cxone).await;
    answer(&cxone, Cxone::Completed).await;
    // A record that does not show the contact's end: only /contacts/active can tell.
    cxone
        .contact(CONTACT_ID, 200, cxone.fixture("contact_active"))
        .await;
    cxone
        .active(CONTACT_ID, 503, serde_json::json!({"error": "unavailable"}))
        .await;
    s.publish("active-1", fresh_event("signal-ok-abandoned"))
        .await;
    let first = s.step().await;
    assert!(
        matches!(first, Outcome::Retried(d) if d == Duration::from_secs(RETRY_DELAYS[0])),
        "{first:?}"
    );
    assert_eq!(s.expire_now().await, RETRY_DELAYS[0]);
    answer(&cxone, Cxone::Completed).await;
    let d = reported(s.step().await);
    let codes: Vec<&str> = d.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(
        codes.contains(&"HD205") && !codes.contains(&"HD503"),
        "{codes:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_rejected_read_is_reported_at_once_not_retried() {
    let cxone = CxoneStub::start().await;
    let mut s = Stepper::start("rejected", &cxone).await;
    answer(&cxone, Cxone::Completed).await;
    cxone
        .contact(
            CONTACT_ID,
            400,
            serde_json::json!({"error": "InvalidParameter"}),
        )
        .await;
    s.publish("rejected-1", fresh_event("signal-ok-abandoned"))
        .await;
    let d = reported(s.step().await);
    let hd503 = d
        .findings
        .iter()
        .find(|f| f.code.as_str() == "HD503")
        .unwrap_or_else(|| panic!("{:?}", d.findings));
    assert!(hd503.message.contains("not retried"), "{}", hd503.message);
    assert_eq!(
        cxone.api_requests(&format!("contacts/{CONTACT_ID}")).await,
        1,
        "neither the client nor the worker asked again"
    );
    s.stop().await;
}

/// The story, ended `ago` before now, with its skill's activity failing through every
/// retry of the client.
async fn activity_failing(cxone: &CxoneStub, ago: chrono::Duration) -> chrono::Duration {
    answer(cxone, Cxone::Completed).await;
    let by = story_ended(cxone, ago).await;
    cxone
        .respond_times(
            "skills/4412877/activity",
            u64::MAX,
            wiremock::ResponseTemplate::new(503),
        )
        .await;
    by
}

#[tokio::test]
async fn a_failing_activity_read_is_retried_while_the_activity_would_be_evidence() {
    let cxone = CxoneStub::start().await;
    let mut s = Stepper::start("retry-activity", &cxone).await;
    // A webhook a minute after the end: the staffing read now is the caller's.
    let by = activity_failing(&cxone, chrono::Duration::minutes(1)).await;
    s.publish("activity-1", event_shifted("signal-ok-abandoned", by))
        .await;
    let first = s.step().await;
    assert!(
        matches!(first, Outcome::Retried(d) if d == Duration::from_secs(RETRY_DELAYS[0])),
        "{first:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_failing_activity_read_holds_back_no_scan_event_for_a_past_contact() {
    let cxone = CxoneStub::start().await;
    let mut s = Stepper::start("no-retry-activity", &cxone).await;
    // 25 minutes after the end, the activity could not be evidence however it answered.
    let by = activity_failing(&cxone, chrono::Duration::minutes(25)).await;
    s.publish("activity-2", scan_event_body(by)).await;
    let d = reported(s.step().await);
    assert_eq!(d.event_id, format!("scan:{CONTACT_ID}"));
    let codes: Vec<&str> = d.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(
        codes.contains(&"HD205") && codes.contains(&"HD503"),
        "reported at once, saying what failed: {codes:?}"
    );
    s.stop().await;
}

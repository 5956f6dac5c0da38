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

use handover_doctor::startup::Role;
use handover_doctor::worker::Outcome;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::app::{self, TestApp};
use crate::support::broker;
use crate::support::cxone_stub::{CONTACT_ID, CxoneStub};

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
    s.queue
        .publish(
            handover_doctor::queue::Target::Jobs,
            handover_doctor::queue::OutMessage {
                id: format!("{test}-1"),
                body: fresh_event("signal-ok-abandoned"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
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

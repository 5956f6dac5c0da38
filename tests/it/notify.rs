//! The notifier end to end against wiremock Slack and Teams servers: what they receive,
//! how often, and what the queue consumer is told to do with each delivery.
//!
//! Time is a `ManualClock`: in manual mode the test moves it (group waits, intervals); in
//! auto mode every wait of the notifier (pacing, `Retry-After`, back-off) jumps it
//! forward, so no test waits in real time for the notifier's timers. The tests await the
//! `Submission`s, which resolve only after delivery, so there is nothing to poll.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handover_doctor::diagnosis::model::Diagnosis;
use handover_doctor::metrics::Metrics;
use handover_doctor::notify::{
    Disposition, ManualClock, Notifier, NotifierHandle, NotifySettings, Report, Submission,
    delivery, slack, teams,
};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SLACK_PATH: &str = "/services/T0000/B0000/XXXXXXXX";
const TEAMS_PATH: &str = "/workflows/abc/triggers/manual/paths/invoke";

fn fixture(name: &str) -> String {
    let p = format!("{}/fixtures/notify/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn hd303() -> Diagnosis {
    serde_json::from_str(&fixture("diagnosis_hd303.json")).unwrap()
}

/// A diagnosis with verdict `code`, conversation `conv` and target skill `skill`.
fn diagnosis(code: &str, conv: &str, skill: Option<&str>) -> Diagnosis {
    let mut d = hd303();
    let c = handover_doctor::diagnosis::Code::parse(code).unwrap();
    d.event_id = format!("evt-{conv}");
    d.conversation_id = conv.to_string();
    d.target_skill = skill.map(str::to_string);
    d.verdict.code = c;
    d.verdict.name = c.name().to_string();
    d.verdict.title = format!("{} for {conv}", c.name());
    d.findings[0].code = c;
    d.findings[0].name = c.name().to_string();
    d
}

fn settings(
    slack: Option<&MockServer>,
    teams: Option<&MockServer>,
    wait_secs: u64,
) -> NotifySettings {
    NotifySettings {
        slack_webhook_url: slack.map(|s| Url::parse(&format!("{}{SLACK_PATH}", s.uri())).unwrap()),
        teams_webhook_url: teams.map(|s| {
            Url::parse(&format!("{}{TEAMS_PATH}?api-version=1&sig=SECRET", s.uri())).unwrap()
        }),
        group_wait: Duration::from_secs(wait_secs),
        ..NotifySettings::default()
    }
}

async fn slack_server(status: u16, body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    server
}

async fn teams_server(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TEAMS_PATH))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

struct Running {
    handle: NotifierHandle,
    clock: Arc<ManualClock>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    fn start(settings: NotifySettings, clock: ManualClock) -> Running {
        Self::start_with(settings, clock, None)
    }

    fn start_with(settings: NotifySettings, clock: ManualClock, out: Option<SharedBuf>) -> Running {
        let clock = Arc::new(clock);
        let metrics = Arc::new(Metrics::new());
        let mut builder = Notifier::builder(settings, metrics.clone()).clock(clock.clone());
        if let Some(out) = out {
            builder = builder.stdout(out);
        }
        let notifier = builder.build().unwrap();
        let handle = notifier.handle();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(notifier.run(cancel.clone()));
        Running {
            handle,
            clock,
            metrics,
            cancel,
            task,
        }
    }

    fn count(&self, channel: &str, outcome: &str) -> u64 {
        self.metrics.count(
            "notifications",
            &[("channel", channel), ("outcome", outcome)],
        )
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the notifier stops")
            .unwrap();
    }
}

async fn resolved(s: Submission) -> Disposition {
    tokio::time::timeout(Duration::from_secs(10), s)
        .await
        .expect("the submission resolves")
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.body_json::<Value>().unwrap())
        .collect()
}

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn several_verdicts_reach_slack_and_teams_each_with_its_code_and_ids() {
    let slack = slack_server(200, "ok").await;
    let teams = teams_server(202).await;
    let n = Running::start(settings(Some(&slack), Some(&teams), 0), ManualClock::auto());
    let subs: Vec<Submission> = [
        ("HD303", "conv-a", Some("Support_Voice_EN")),
        ("HD108", "conv-b", Some("Sales")),
        ("HD203", "conv-c", None),
    ]
    .into_iter()
    .map(|(c, conv, s)| n.handle.submit(diagnosis(c, conv, s)))
    .collect();
    for s in subs {
        assert_eq!(resolved(s).await, Disposition::Done);
    }

    let slack_bodies = bodies(&slack).await;
    assert_eq!(slack_bodies.len(), 3);
    for (body, (code, conv)) in slack_bodies.iter().zip([
        ("HD303", "conv-a"),
        ("HD108", "conv-b"),
        ("HD203", "conv-c"),
    ]) {
        slack::validate(body).unwrap();
        let header = body["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(header.starts_with(code), "{header}");
        assert!(body["text"].as_str().unwrap().contains(conv));
        let all = body.to_string();
        assert!(all.contains("745512890123"), "contact id listed: {all}");
        assert!(all.contains("42 s"), "waited seconds shown: {all}");
    }

    let teams_bodies = bodies(&teams).await;
    assert_eq!(teams_bodies.len(), 3);
    for (body, code) in teams_bodies.iter().zip(["HD303", "HD108", "HD203"]) {
        assert_eq!(body["type"], "message");
        let att = &body["attachments"][0];
        assert_eq!(
            att["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(att["content"]["type"], "AdaptiveCard");
        assert_eq!(att["content"]["version"], "1.4");
        let title = att["content"]["body"][0]["text"].as_str().unwrap();
        assert!(title.starts_with(code), "{title}");
    }
    assert_eq!(n.count("slack", "delivered"), 3);
    // Workflows' 202 says the flow took the request, not that the card was posted.
    assert_eq!(n.count("teams", "accepted"), 3);
    assert_eq!(n.count("teams", "delivered"), 0);
    assert_eq!(n.count("slack", "accepted"), 0);
    // Three messages to one destination are at least a second apart.
    assert!(
        n.clock.elapsed() >= Duration::from_secs(2),
        "{:?}",
        n.clock.elapsed()
    );
    n.stop().await;
}

#[tokio::test]
async fn a_burst_of_25_failures_of_one_verdict_and_skill_is_one_message() {
    let slack = slack_server(200, "ok").await;
    let n = Running::start(settings(Some(&slack), None, 30), ManualClock::new());
    let subs: Vec<Submission> = (0..25)
        .map(|i| {
            n.handle.submit(diagnosis(
                "HD303",
                &format!("conv-{i:02}"),
                Some("Support_Voice_EN"),
            ))
        })
        .collect();
    n.clock.advance(Duration::from_secs(30));
    for s in subs {
        assert_eq!(resolved(s).await, Disposition::Done);
    }
    let b = bodies(&slack).await;
    assert_eq!(b.len(), 1, "one message for the whole burst");
    slack::validate(&b[0]).unwrap();
    let text = b[0]["text"].as_str().unwrap();
    assert!(text.contains("25 failed handovers"), "{text}");
    let all = b[0].to_string();
    for i in 0..10 {
        assert!(all.contains(&format!("conv-{i:02}")), "conv-{i:02} listed");
    }
    assert!(!all.contains("conv-10"), "only ten ids listed");
    assert!(text.contains("and 15 more"), "{text}");
    n.stop().await;
}

#[tokio::test]
async fn a_full_prefetch_sends_groups_early_instead_of_stalling_until_their_timers() {
    // The consumer holds at most 20 reports unacked (its prefetch), and the clock stands
    // still, so no group timer ever fires: only the early flush can free places.
    let out = SharedBuf::default();
    let s = NotifySettings {
        group_wait: Duration::from_secs(30),
        max_pending: 20,
        min_interval: Duration::ZERO,
        ..NotifySettings::default()
    };
    let n = Running::start_with(s, ManualClock::new(), Some(out.clone()));
    let mut held: std::collections::VecDeque<Submission> = Default::default();
    for i in 0..100 {
        if held.len() == 20 {
            assert_eq!(resolved(held.pop_front().unwrap()).await, Disposition::Done);
        }
        let code = if i % 2 == 0 { "HD303" } else { "HD304" };
        let conv = format!("conv-{i:03}");
        held.push_back(
            n.handle
                .submit(diagnosis(code, &conv, Some("Support_Voice_EN"))),
        );
    }
    for s in held {
        assert_eq!(resolved(s).await, Disposition::Done);
    }
    assert_eq!(n.clock.elapsed(), Duration::ZERO, "no timer was needed");
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let messages: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let covered: u64 = messages
        .iter()
        .map(|m| m["group"]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(covered, 100, "every report is in exactly one message");
    assert!(
        messages.len() <= 14,
        "grouped, not one message each: {} messages",
        messages.len()
    );
    n.stop().await;
}

#[tokio::test]
async fn a_redelivered_event_is_notified_once_and_acked_as_a_duplicate() {
    let slack = slack_server(200, "ok").await;
    let n = Running::start(settings(Some(&slack), None, 0), ManualClock::auto());
    assert_eq!(resolved(n.handle.submit(hd303())).await, Disposition::Done);
    assert_eq!(resolved(n.handle.submit(hd303())).await, Disposition::Done);
    assert_eq!(resolved(n.handle.submit(hd303())).await, Disposition::Done);
    assert_eq!(bodies(&slack).await.len(), 1);
    assert_eq!(n.count("slack", "deduplicated"), 2);
    assert_eq!(n.count("slack", "delivered"), 1);
    n.stop().await;
}

/// A webhook diagnosis of conversation `conv` about CXone contact `contact`.
fn webhook_of(conv: &str, contact: &str) -> Diagnosis {
    let mut d = diagnosis("HD303", conv, Some("S"));
    d.contact_id = Some(contact.to_string());
    d
}

/// The diagnosis the CXone scan makes of `contact` (`scan:<contactId>`).
fn scan_of(contact: &str) -> Diagnosis {
    let mut d = diagnosis("HD303", &format!("scan:{contact}"), Some("S"));
    d.event_id = format!("scan:{contact}");
    d.contact_id = Some(contact.to_string());
    d
}

#[tokio::test]
async fn a_scan_report_of_a_contact_the_bot_reported_by_webhook_is_not_notified() {
    let slack = slack_server(200, "ok").await;
    let n = Running::start(settings(Some(&slack), None, 30), ManualClock::new());
    let hook = n.handle.submit(webhook_of("hook-conv", "745500000001"));
    // Resolved before the clock moves: it never waits for a group.
    assert_eq!(
        resolved(n.handle.submit(scan_of("745500000001"))).await,
        Disposition::Done
    );
    n.clock.advance(Duration::from_secs(30));
    assert_eq!(resolved(hook).await, Disposition::Done);
    let b = bodies(&slack).await;
    assert_eq!(b.len(), 1, "one message for the contact");
    let all = b[0].to_string();
    assert!(all.contains("hook-conv") && !all.contains("scan:"), "{all}");
    assert_eq!(n.count("slack", "deduplicated"), 1);
    assert_eq!(n.count("slack", "delivered"), 1);
    n.stop().await;
}

#[tokio::test]
async fn a_webhook_report_replaces_the_scan_report_of_its_contact_still_in_group_wait() {
    let slack = slack_server(200, "ok").await;
    let n = Running::start(settings(Some(&slack), None, 30), ManualClock::new());
    let scan = n.handle.submit(scan_of("745500000001"));
    n.clock.advance(Duration::from_secs(10));
    let hook = n.handle.submit(webhook_of("hook-conv", "745500000001"));
    // The scan report leaves its group at once, acked, unsent.
    assert_eq!(resolved(scan).await, Disposition::Done);
    n.clock.advance(Duration::from_secs(30));
    assert_eq!(resolved(hook).await, Disposition::Done);
    let b = bodies(&slack).await;
    assert_eq!(b.len(), 1, "only the webhook's message");
    let all = b[0].to_string();
    assert!(all.contains("hook-conv") && !all.contains("scan:"), "{all}");
    let text = b[0]["text"].as_str().unwrap();
    assert!(!text.contains("2 failed handovers"), "{text}");
    assert_eq!(n.count("slack", "deduplicated"), 1);
    assert_eq!(n.count("slack", "delivered"), 1);
    n.stop().await;
}

#[tokio::test]
async fn a_webhook_report_after_the_scan_report_was_sent_is_sent_too() {
    let slack = slack_server(200, "ok").await;
    let n = Running::start(settings(Some(&slack), None, 0), ManualClock::auto());
    assert_eq!(
        resolved(n.handle.submit(scan_of("745500000001"))).await,
        Disposition::Done
    );
    assert_eq!(
        resolved(n.handle.submit(webhook_of("hook-conv", "745500000001"))).await,
        Disposition::Done
    );
    let b = bodies(&slack).await;
    assert_eq!(
        b.len(),
        2,
        "the scan's message, then the webhook's with the flow's details"
    );
    assert!(b[0].to_string().contains("scan:745500000001"));
    assert!(b[1].to_string().contains("hook-conv"));
    assert_eq!(n.count("slack", "deduplicated"), 0);
    n.stop().await;
}

#[tokio::test]
async fn a_scan_report_after_the_dedup_ttl_of_the_webhook_contact_is_sent() {
    let slack = slack_server(200, "ok").await;
    let mut s = settings(Some(&slack), None, 0);
    s.dedup_ttl = Duration::from_secs(600);
    let n = Running::start(s, ManualClock::new());
    assert_eq!(
        resolved(n.handle.submit(webhook_of("hook-conv", "745500000001"))).await,
        Disposition::Done
    );
    n.clock.advance(Duration::from_secs(599));
    assert_eq!(
        resolved(n.handle.submit(scan_of("745500000001"))).await,
        Disposition::Done
    );
    assert_eq!(bodies(&slack).await.len(), 1, "within the TTL: not sent");
    n.clock.advance(Duration::from_secs(1));
    assert_eq!(
        resolved(n.handle.submit(scan_of("745500000001"))).await,
        Disposition::Done
    );
    let b = bodies(&slack).await;
    assert_eq!(b.len(), 2, "after the TTL: sent");
    assert!(b[1].to_string().contains("scan:745500000001"));
    assert_eq!(n.count("slack", "deduplicated"), 1);
    n.stop().await;
}

#[tokio::test]
async fn scan_and_webhook_reports_of_different_contacts_are_both_sent() {
    let slack = slack_server(200, "ok").await;
    let n = Running::start(settings(Some(&slack), None, 0), ManualClock::auto());
    assert_eq!(
        resolved(n.handle.submit(webhook_of("hook-conv", "745500000001"))).await,
        Disposition::Done
    );
    assert_eq!(
        resolved(n.handle.submit(scan_of("745500000002"))).await,
        Disposition::Done
    );
    let b = bodies(&slack).await;
    assert_eq!(b.len(), 2);
    assert!(b[1].to_string().contains("scan:745500000002"));
    assert_eq!(n.count("slack", "deduplicated"), 0);
    n.stop().await;
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let n = Running::start(settings(Some(&slack), None, 0), ManualClock::auto());
    assert_eq!(resolved(n.handle.submit(hd303())).await, Disposition::Done);
    assert_eq!(bodies(&slack).await.len(), 2);
    assert_eq!(n.count("slack", "rate_limited"), 1);
    assert_eq!(n.count("slack", "retried"), 1);
    assert_eq!(n.count("slack", "delivered"), 1);
    assert!(
        n.clock.elapsed() >= Duration::from_secs(7),
        "Retry-After honoured"
    );
    n.stop().await;
}

#[tokio::test]
async fn a_503_is_retried_with_backoff_then_succeeds() {
    let teams = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TEAMS_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&teams)
        .await;
    Mock::given(method("POST"))
        .and(path(TEAMS_PATH))
        .respond_with(ResponseTemplate::new(202))
        .mount(&teams)
        .await;
    let n = Running::start(settings(None, Some(&teams), 0), ManualClock::auto());
    assert_eq!(resolved(n.handle.submit(hd303())).await, Disposition::Done);
    assert_eq!(bodies(&teams).await.len(), 2);
    assert_eq!(n.count("teams", "retried"), 1);
    assert_eq!(n.count("teams", "accepted"), 1);
    assert!(
        n.clock.elapsed() >= Duration::from_millis(800),
        "backed off"
    );
    n.stop().await;
}

#[tokio::test]
async fn a_destination_that_keeps_failing_hands_the_delivery_back_and_retries_at_the_next_interval()
{
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let settings = NotifySettings {
        max_attempts: 1,
        ..settings(Some(&slack), None, 0)
    };
    let n = Running::start(settings, ManualClock::new());
    assert_eq!(
        resolved(n.handle.submit(hd303())).await,
        Disposition::Requeue
    );
    assert_eq!(n.count("slack", "failed"), 1);
    // The broker redelivers it; it waits with the diagnosis the notifier kept.
    let redelivered = n.handle.submit(hd303());
    assert_eq!(n.count("slack", "deduplicated"), 0);
    n.clock.advance(Duration::from_secs(300));
    assert_eq!(resolved(redelivered).await, Disposition::Done);
    assert_eq!(bodies(&slack).await.len(), 2);
    assert_eq!(n.count("slack", "delivered"), 1);
    n.stop().await;
}

#[tokio::test]
async fn a_permanent_slack_error_is_not_retried_but_counted_and_acked() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_string("channel_not_found"))
        .expect(1)
        .mount(&slack)
        .await;
    let n = Running::start(settings(Some(&slack), None, 0), ManualClock::auto());
    assert_eq!(resolved(n.handle.submit(hd303())).await, Disposition::Done);
    assert_eq!(n.count("slack", "permanent_error"), 1);
    assert_eq!(n.count("slack", "retried"), 0);
    n.stop().await;
    slack.verify().await;
}

#[tokio::test]
async fn slack_error_answers_are_classified_as_recorded() {
    let recorded: Value = serde_json::from_str(&fixture("slack_errors.json")).unwrap();
    for a in recorded["answers"].as_array().unwrap() {
        let status = StatusCode::from_u16(a["status"].as_u64().unwrap() as u16).unwrap();
        let body = a["body"].as_str().unwrap();
        let permanent = matches!(
            delivery::classify_slack(status, body, None),
            delivery::Attempt::Permanent(_)
        );
        assert_eq!(
            permanent,
            a["permanent"].as_bool().unwrap(),
            "{status} {body}"
        );
    }
}

#[tokio::test]
async fn caller_numbers_are_masked_in_slack_and_teams_but_ids_are_not() {
    let slack = slack_server(200, "ok").await;
    let teams = teams_server(202).await;
    let n = Running::start(settings(Some(&slack), Some(&teams), 0), ManualClock::auto());
    let mut d = hd303();
    d.verdict.title = "Caller 4915112345678 hung up (tel:+4915112345678)".into();
    d.findings[1].message =
        "The caller (0151) 1234-5678 abandoned, ANI sip:+4915112345678@sbc".into();
    assert_eq!(resolved(n.handle.submit(d)).await, Disposition::Done);
    for body in bodies(&slack).await.into_iter().chain(bodies(&teams).await) {
        let all = body.to_string();
        for raw in ["4915112345678", "151 12345678", "1234-5678"] {
            assert!(!all.contains(raw), "caller number {raw} leaked: {all}");
        }
        assert!(all.contains("•••5678"), "{all}");
        assert!(all.contains("745512890123"), "contact id kept: {all}");
        assert!(
            all.contains("b6f1c2d4-1e2f-4a5b-9c8d-0123456789ab"),
            "conversation id kept"
        );
    }
    n.stop().await;
}

#[tokio::test]
async fn a_500_failure_group_with_300_findings_stays_within_slack_and_teams_limits() {
    let slack = slack_server(200, "ok").await;
    let teams = teams_server(202).await;
    let n = Running::start(settings(Some(&slack), Some(&teams), 30), ManualClock::new());
    let mut subs = Vec::new();
    for i in 0..500 {
        let mut d = diagnosis("HD108", &format!("conv-{i:03}"), Some("Sales"));
        if i == 0 {
            let f = d.findings[0].clone();
            for j in 0..300 {
                let mut f = f.clone();
                f.message = format!("finding {j}: {}", "a long SIP explanation ".repeat(50));
                d.findings.push(f);
            }
        }
        subs.push(n.handle.submit(d));
    }
    n.clock.advance(Duration::from_secs(30));
    for s in subs {
        assert_eq!(resolved(s).await, Disposition::Done);
    }
    let s = bodies(&slack).await;
    assert_eq!(s.len(), 1);
    slack::validate(&s[0]).unwrap();
    assert!(
        s[0]["text"]
            .as_str()
            .unwrap()
            .contains("500 failed handovers")
    );
    assert!(s[0].to_string().contains("and 490 more"));
    let t = bodies(&teams).await;
    assert_eq!(t.len(), 1);
    let size = serde_json::to_vec(&t[0]).unwrap().len();
    assert!(size <= teams::MAX_BYTES, "Teams body of {size} bytes");
    const { assert!(teams::MAX_BYTES <= 20 * 1024) };
    assert_eq!(t[0]["attachments"][0]["content"]["version"], "1.4");
    n.stop().await;
}

#[tokio::test]
async fn group_wait_zero_sends_each_diagnosis_at_once() {
    let slack = slack_server(200, "ok").await;
    // A manual clock that nobody advances: anything that waited would never resolve.
    let n = Running::start(settings(Some(&slack), None, 0), ManualClock::new());
    assert_eq!(
        resolved(n.handle.submit(diagnosis("HD303", "now-1", Some("S")))).await,
        Disposition::Done
    );
    assert_eq!(bodies(&slack).await.len(), 1);
    n.stop().await;
}

#[tokio::test]
async fn later_failures_of_an_announced_group_go_out_as_one_update_after_group_interval() {
    let slack = slack_server(200, "ok").await;
    let n = Running::start(settings(Some(&slack), None, 30), ManualClock::new());
    let first = n.handle.submit(diagnosis("HD303", "first", Some("S")));
    n.clock.advance(Duration::from_secs(30));
    assert_eq!(resolved(first).await, Disposition::Done);

    let later: Vec<Submission> = ["second", "third"]
        .iter()
        .map(|c| n.handle.submit(diagnosis("HD303", c, Some("S"))))
        .collect();
    n.clock.advance(Duration::from_secs(300));
    for s in later {
        assert_eq!(resolved(s).await, Disposition::Done);
    }
    let b = bodies(&slack).await;
    assert_eq!(b.len(), 2, "the first message and one update");
    let update = b[1]["text"].as_str().unwrap();
    assert!(
        update.contains("Update: 2 more failed handovers"),
        "{update}"
    );
    assert!(update.contains("(3 in total)"), "{update}");
    assert!(update.contains("second") && update.contains("third") && !update.contains("first"));
    n.stop().await;
}

#[tokio::test]
async fn without_slack_or_teams_each_message_is_one_json_line_on_stdout() {
    let out = SharedBuf::default();
    let n = Running::start_with(
        NotifySettings {
            group_wait: Duration::ZERO,
            ..NotifySettings::default()
        },
        ManualClock::auto(),
        Some(out.clone()),
    );
    assert_eq!(n.handle.channels(), ["stdout"]);
    assert_eq!(resolved(n.handle.submit(hd303())).await, Disposition::Done);
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1);
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["channel"], "stdout");
    assert_eq!(v["group"]["verdict"]["code"], "HD303");
    assert_eq!(
        v["diagnoses"][0]["conversationId"],
        "b6f1c2d4-1e2f-4a5b-9c8d-0123456789ab"
    );
    for raw in ["4915112345678", "151 12345678"] {
        assert!(!text.contains(raw), "caller number {raw} leaked: {text}");
    }
    assert_eq!(n.count("stdout", "delivered"), 1);
    n.stop().await;
}

#[tokio::test]
async fn shutdown_before_delivery_asks_the_consumer_to_requeue() {
    let slack = slack_server(200, "ok").await;
    let n = Running::start(settings(Some(&slack), None, 30), ManualClock::new());
    let pending = n.handle.submit(hd303());
    let handle = n.handle.clone();
    n.stop().await;
    assert_eq!(resolved(pending).await, Disposition::Requeue);
    assert_eq!(
        resolved(handle.submit(diagnosis("HD303", "late", None))).await,
        Disposition::Requeue
    );
    assert!(bodies(&slack).await.is_empty());
}

#[test]
fn the_rendered_slack_and_teams_bodies_match_the_recorded_fixtures() {
    let report = Report::new(Some("Support_Voice_EN".into()), false, 1, &[hd303()]);
    for (name, body) in [
        ("slack_hd303.json", slack::render(&report)),
        ("teams_hd303.json", teams::render(&report)),
    ] {
        let path = format!("{}/fixtures/notify/{name}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_FIXTURES").is_some() {
            std::fs::write(&path, serde_json::to_string_pretty(&body).unwrap() + "\n").unwrap();
        }
        let expected: Value = serde_json::from_str(&fixture(name)).unwrap();
        assert_eq!(
            body, expected,
            "{name} (UPDATE_FIXTURES=1 rewrites it after review)"
        );
    }
}

//! The CXone scan: paging `/contacts/completed`, the suspect filter, diagnosing suspects,
//! and enqueueing them once (`scan:<contactId>`) through the real RabbitMQ, past contacts
//! the bot already reported by webhook.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use handover_doctor::cli::{Command, Format, ScanArgs};
use handover_doctor::commands::{self, CommandError};
use handover_doctor::config::Env;
use handover_doctor::diagnosis::{Code, Diagnosis};
use handover_doctor::event::HandoverEvent;
use handover_doctor::metrics::Metrics;
use handover_doctor::queue::{Consumer, OutMessage, Queue, Source, Target};
use handover_doctor::scan::{self, Scanner, Suspicion, Window};
use handover_doctor::worker::{Outcome, Worker};
use serde_json::Value;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::app;
use crate::support::broker;
use crate::support::cxone_stub::{CONTACT_ID, CxoneStub, SKILL_ID};

/// The pre-queue suspect of `fixtures/cxone/scan`.
const PREQUEUE_ID: &str = "745512890402";

fn window() -> Window {
    Window {
        from: Utc.with_ymd_and_hms(2026, 5, 12, 14, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2026, 5, 12, 15, 0, 0).unwrap(),
    }
}

/// A fixture of `fixtures/cxone/scan/`, its production host replaced by the stub's.
fn scan_fixture(stub: &CxoneStub, name: &str) -> Value {
    let file = format!(
        "{}/fixtures/cxone/scan/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text.replace("https://api-na1.niceincontact.com", &stub.uri())).unwrap()
}

/// A stub with the scan story: two pages of completed contacts for [`SKILL_ID`] (page 1
/// links to page 2, which links to a `204`), the abandoned story contact, and the
/// pre-queue contact's details and history.
async fn scan_stub() -> CxoneStub {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let completed = stub.api_path("contacts/completed");
    for (skip, answer) in [
        (
            "0",
            ResponseTemplate::new(200).set_body_json(scan_fixture(&stub, "completed_page1")),
        ),
        (
            "3",
            ResponseTemplate::new(200).set_body_json(scan_fixture(&stub, "completed_page2")),
        ),
        ("6", ResponseTemplate::new(204)),
    ] {
        Mock::given(method("GET"))
            .and(path(completed.clone()))
            .and(query_param("skip", skip))
            .respond_with(answer)
            .named(format!("completed skip={skip}"))
            .mount(&stub.server)
            .await;
    }
    stub.contact(PREQUEUE_ID, 200, scan_fixture(&stub, "contact_prequeue"))
        .await;
    stub.state_history(
        PREQUEUE_ID,
        200,
        scan_fixture(&stub, "statehistory_prequeue"),
    )
    .await;
    stub
}

fn query_of(r: &wiremock::Request) -> Vec<(String, String)> {
    r.url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn scan_picks_the_unanswered_inbound_voice_contacts_and_diagnoses_them() {
    let stub = scan_stub().await;
    let client = stub.client();
    let mut pages_seen = Vec::new();
    let found = scan::find_suspects(&client, window(), &[SKILL_ID.to_string()], |n, s| {
        pages_seen.push((n, s))
    })
    .await
    .unwrap();

    // Handled, outbound, chat and the 6-second hang-up are left out.
    assert_eq!(found.scanned, 6);
    let picked: Vec<(&str, Suspicion)> = found
        .suspects
        .iter()
        .map(|s| (s.contact_id.as_str(), s.why))
        .collect();
    assert_eq!(
        picked,
        vec![
            (CONTACT_ID, Suspicion::AbandonedInQueue),
            (PREQUEUE_ID, Suspicion::EndedInPreQueue),
        ]
    );
    // Two pages with contacts, then the 204 ends the search.
    assert_eq!(pages_seen, vec![(3, 1), (6, 2)]);

    // One page at a time: skip 0, the linked skip 3, the linked skip 6 (204).
    let reqs = stub
        .requests_to_path(&stub.api_path("contacts/completed"))
        .await;
    assert_eq!(reqs.len(), 3);
    let skips: Vec<String> = reqs
        .iter()
        .map(|r| param(&query_of(r), "skip").unwrap_or("?").to_string())
        .collect();
    assert_eq!(skips, ["0", "3", "6"]);
    for r in &reqs {
        let q = query_of(r);
        assert_eq!(
            param(&q, "startDate"),
            Some("2026-05-12T14:00:00Z"),
            "{q:?}"
        );
        assert_eq!(param(&q, "endDate"), Some("2026-05-12T15:00:00Z"), "{q:?}");
        assert_eq!(param(&q, "mediaTypeId"), Some("4"), "{q:?}");
        assert_eq!(param(&q, "skillId"), Some(SKILL_ID), "{q:?}");
    }

    // Each suspect is diagnosed by the engine, with no event.
    let diagnoses = scan::diagnose_suspects(
        &client,
        &found.suspects,
        &["routingData".to_string()],
        scan::LOOKUP_CONCURRENCY,
        || {},
    )
    .await;
    assert_eq!(diagnoses.len(), 2);
    let abandoned = &diagnoses[0];
    assert_eq!(abandoned.event_id, format!("scan:{CONTACT_ID}"));
    assert_eq!(abandoned.conversation_id, format!("scan:{CONTACT_ID}"));
    assert_eq!(abandoned.contact_id.as_deref(), Some(CONTACT_ID));
    assert!(abandoned.cxone.checked);
    assert!(abandoned.has(Code::Hd205), "{:?}", codes(abandoned));
    let prequeue = &diagnoses[1];
    assert_eq!(prequeue.contact_id.as_deref(), Some(PREQUEUE_ID));
    assert!(prequeue.cxone.checked);
    // Rules that need the webhook event are not raised.
    for d in &diagnoses {
        for code in [Code::Hd101, Code::Hd109, Code::Hd203, Code::Hd204] {
            assert!(
                !d.has(code),
                "{code} raised without an event: {:?}",
                codes(d)
            );
        }
    }
    // Each suspect's contact was read once.
    assert_eq!(
        stub.api_requests(&format!("contacts/{CONTACT_ID}")).await,
        1
    );
    assert_eq!(
        stub.api_requests(&format!("contacts/{PREQUEUE_ID}")).await,
        1
    );

    // Skill facts are cached: both suspects are on one skill, read once.
    assert_eq!(stub.api_requests(&format!("skills/{SKILL_ID}")).await, 1);
    // CXone requests: discovery and token (3), three pages (3), two contact reads per
    // suspect (details and history: 4; each record names its master and shows its end,
    // so /hierarchy and /contacts/active have nothing to add), the state names once (1),
    // and the queued suspect's skill look-ups (skill, agents, activity, hours list and
    // two profiles: 6).
    assert_eq!(stub.requests().await.len(), 17);
    // The story skill's live activity (agents logged in, none available, 7 queued) is
    // read when the scan runs, long after these contacts ended: it is no evidence about
    // them, so "no agents available" (HD304) is not raised. What their own records say
    // stands: the caller abandoned in queue; the pre-queue contact shows no cause CXone
    // can name without the bot's event (the fallback).
    for d in &diagnoses {
        assert!(!d.has(Code::Hd304), "{:?}", codes(d));
        assert!(!d.has(Code::Hd303), "{:?}", codes(d));
    }
    // The queued suspect's skill was read: its timeline says why staffing was not judged.
    assert!(
        abandoned
            .timeline
            .iter()
            .any(|t| t.event == "LiveStaffingNotJudged" && t.detail.contains("past contact")),
        "{:?}",
        abandoned.timeline
    );
    assert_eq!(abandoned.verdict.code, Code::Hd205);
    assert_eq!(prequeue.verdict.code, Code::Hd402);

    // The text list and the summary line.
    let text = scan::render_suspect(&found.suspects[0], abandoned);
    assert!(text.starts_with(&format!(
        "{CONTACT_ID}  2026-05-12T14:21:44Z  Support_Voice_EN ({SKILL_ID})  abandoned in queue"
    )));
    assert!(text.contains(&format!("  {} ", abandoned.verdict.code)));
    assert!(text.contains("  fix: "));
    let summary = scan::summary(window(), found.scanned, &diagnoses);
    assert!(
        summary.starts_with("scanned 6 voice contacts completed 2026-05-12T14:00:00Z – 2026-05-12T15:00:00Z: 2 suspected failed handovers ("),
        "{summary}"
    );
    for d in &diagnoses {
        assert!(summary.contains(d.verdict.code.as_str()), "{summary}");
    }
}

fn codes(d: &Diagnosis) -> Vec<Code> {
    d.findings.iter().map(|f| f.code).collect()
}

#[tokio::test]
async fn without_skills_the_search_covers_every_skill() {
    let stub = CxoneStub::start().await;
    stub.respond("contacts/completed", 204, Value::Null).await;
    let found = scan::find_suspects(&stub.client(), window(), &[], |_, _| {})
        .await
        .unwrap();
    assert_eq!(found, scan::Found::default());
    let reqs = stub
        .requests_to_path(&stub.api_path("contacts/completed"))
        .await;
    assert_eq!(reqs.len(), 1);
    let q = query_of(&reqs[0]);
    assert_eq!(param(&q, "skillId"), None, "{q:?}");
    assert_eq!(param(&q, "mediaTypeId"), Some("4"));
}

#[tokio::test]
async fn scan_without_cxone_credentials_exits_2_naming_the_variables() {
    let args = ScanArgs {
        since: Some("2h".into()),
        from: None,
        to: None,
        skills: vec![],
        format: Format::Text,
        enqueue: false,
    };
    let err = commands::run(Command::Scan(args), Env::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CommandError::Usage(_)), "{err:?}");
    assert_eq!(err.exit_code(), std::process::ExitCode::from(2));
    for var in [
        "CXONE_CLIENT_ID",
        "CXONE_CLIENT_SECRET",
        "CXONE_ACCESS_KEY_ID",
        "CXONE_ACCESS_KEY_SECRET",
    ] {
        assert!(err.to_string().contains(var), "{err}");
    }
    let bad = ScanArgs {
        since: Some("yesterday".into()),
        from: None,
        to: None,
        skills: vec![],
        format: Format::Text,
        enqueue: false,
    };
    let err = commands::run(Command::Scan(bad), Env::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--since"), "{err}");
}

/// A connected RabbitMQ queue under a fresh prefix, and the worker settings.
async fn rabbit(test: &str) -> (Queue, String, handover_doctor::settings::Settings) {
    let (settings, prefix) = app::settings(test, &[]);
    let queue = handover_doctor::startup::open_queue(&settings);
    if let Queue::Rabbit(q) = &queue {
        q.wait_connected(Duration::from_secs(10))
            .await
            .expect("broker connects");
    }
    (queue, prefix, settings)
}

async fn next(consumer: &mut Consumer) -> handover_doctor::queue::Delivery {
    tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("a job within 10 s")
        .expect("the consumer is open")
}

/// The bodies in `P.reports` (a single-active-consumer queue: read by consuming), after
/// checking there are exactly `n`.
async fn reports(queue: &Queue, prefix: &str, n: u32) -> Vec<Vec<u8>> {
    assert_eq!(broker::count(&format!("{prefix}.reports")).await, n);
    let mut consumer = queue.consume(Source::Reports, 10).await.unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let d = next(&mut consumer).await;
        out.push(d.body.clone());
        d.ack().await;
    }
    out
}

fn event_ids(bodies: &[Vec<u8>]) -> Vec<String> {
    let mut ids: Vec<String> = bodies
        .iter()
        .map(|b| {
            serde_json::from_slice::<Value>(b).unwrap()["eventId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_periodic_scan_enqueues_each_contact_once_across_overlapping_windows() {
    let stub = scan_stub().await;
    let (queue, prefix, _) = rabbit("scan-periodic").await;
    let scanner = Scanner::new(
        Arc::new(stub.client()),
        queue.clone(),
        vec![SKILL_ID.into()],
        scan::RecentContacts::default(),
    );

    // The first window: one interval back from now, and the lookback further.
    let interval = Duration::from_secs(3600);
    let lookback = chrono::Duration::from_std(scan::DEFAULT_LOOKBACK).unwrap();
    let w1 = scanner.next_window(interval, window().to);
    assert_eq!(w1.from, window().from - lookback);
    assert_eq!(w1.to, window().to);
    let first = scanner.scan_once(w1).await.unwrap();
    assert_eq!(first.scanned, 6);
    assert_eq!(first.enqueued, vec![CONTACT_ID, PREQUEUE_ID]);

    // The next window starts the lookback before the last one ended, so the same
    // contacts come back; none is enqueued again.
    let later: DateTime<Utc> = window().to + chrono::Duration::hours(1);
    let w2 = scanner.next_window(interval, later);
    assert_eq!(w2.from, window().to - lookback);
    assert_eq!(w2.to, later);
    let second = scanner.scan_once(w2).await.unwrap();
    assert_eq!(second.suspects, 2);
    assert!(second.enqueued.is_empty());
    assert_eq!(second.already_enqueued, 2);

    let jobs = broker::drain(&format!("{prefix}.jobs")).await;
    assert_eq!(
        event_ids(&jobs),
        vec![format!("scan:{CONTACT_ID}"), format!("scan:{PREQUEUE_ID}")]
    );
    // Canonical HandoverEvent JSON that the worker reads.
    for body in &jobs {
        let e = HandoverEvent::from_json(body).unwrap();
        assert!(scan::is_scan_event(&e));
        assert_eq!(e.conversation_id, e.event_id);
        let id = e.real_contact_id().unwrap();
        assert_eq!(e.event_id, format!("scan:{id}"));
        assert!(e.occurred_at.is_some());
    }
    queue.close().await;
    broker::delete_all(&prefix, &[]).await;
}

/// A `GET /contacts/completed` that behaves like CXone's over time: it lists a contact
/// whose start lies in `[startDate, endDate)` and only once the contact is in the
/// reporting warehouse (ended, then warehoused some minutes later). The periodic scan asks
/// for windows that end "now", so `endDate` stands for the time of the request.
struct Warehouse {
    /// (record, start, listed from).
    contacts: Vec<(Value, DateTime<Utc>, DateTime<Utc>)>,
}

impl wiremock::Respond for Warehouse {
    fn respond(&self, r: &wiremock::Request) -> ResponseTemplate {
        let q = query_of(r);
        let time = |k: &str| {
            DateTime::parse_from_rfc3339(param(&q, k).expect("startDate and endDate"))
                .unwrap()
                .with_timezone(&Utc)
        };
        let (from, to) = (time("startDate"), time("endDate"));
        let listed: Vec<&Value> = self
            .contacts
            .iter()
            .filter(|(_, start, listed_from)| from <= *start && *start < to && *listed_from <= to)
            .map(|(c, _, _)| c)
            .collect();
        if listed.is_empty() {
            return ResponseTemplate::new(204);
        }
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "totalRecords": listed.len(),
            "_links": {"self": null, "next": null, "previous": null},
            "businessUnitId": 4601234,
            "completedContacts": listed,
        }))
    }
}

#[tokio::test]
async fn the_periodic_scan_enqueues_once_a_contact_listed_a_round_late_and_one_that_straddles_a_window_boundary()
 {
    let stub = CxoneStub::start().await;
    let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 5, 12, h, m, 0).unwrap();
    let record = |id: &str, start: DateTime<Utc>, extra: Value| {
        let mut c = serde_json::json!({"contactId": id, "contactStartDate": start.to_rfc3339(),
            "mediaTypeId": 4, "isOutbound": false, "skillId": 4412877, "agentId": 0,
            "agentSeconds": 0, "abandoned": false, "inQueueSeconds": 0});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    // The scan runs every 15 minutes, at 15:00, 15:15, 15:30 and 15:45.
    let late = "745512890501";
    let straddling = "745512890502";
    let on_time = "745512890503";
    let warehouse = Warehouse {
        contacts: vec![
            // Abandoned in queue at 14:54, but in the warehouse only at 15:12: the 15:00
            // scan cannot see it, the 15:15 one lists it with its 14:50 start.
            (
                record(
                    late,
                    at(14, 50),
                    serde_json::json!({"abandoned": true, "inQueueSeconds": 60}),
                ),
                at(14, 50),
                at(15, 12),
            ),
            // A 13-minute bot call from 14:52 to 15:05, ended in pre-queue: still going at
            // 15:00, listed from 15:06 with its start before the 15:00 boundary.
            (
                record(
                    straddling,
                    at(14, 52),
                    serde_json::json!({"preQueueSeconds": 780, "totalDurationSeconds": 780}),
                ),
                at(14, 52),
                at(15, 6),
            ),
            // A short call at 14:56 listed at 14:59: the first scan sees it.
            (
                record(
                    on_time,
                    at(14, 56),
                    serde_json::json!({"inQueueSeconds": 45}),
                ),
                at(14, 56),
                at(14, 59),
            ),
        ],
    };
    Mock::given(method("GET"))
        .and(path(stub.api_path("contacts/completed")))
        .respond_with(warehouse)
        .mount(&stub.server)
        .await;
    let (queue, prefix, _) = rabbit("scan-late").await;
    let scanner = Scanner::new(
        Arc::new(stub.client()),
        queue.clone(),
        vec![],
        scan::RecentContacts::default(),
    );
    let interval = Duration::from_secs(900);

    let mut enqueued = Vec::new();
    for (h, m) in [(15, 0), (15, 15), (15, 30), (15, 45)] {
        let w = scanner.next_window(interval, at(h, m));
        let round = scanner.scan_once(w).await.unwrap();
        enqueued.push(round.enqueued);
    }
    assert_eq!(
        enqueued,
        vec![
            vec![on_time.to_string()],
            vec![late.to_string(), straddling.to_string()],
            vec![],
            vec![],
        ],
        "each contact is enqueued by the first round that CXone lists it to, and only then"
    );
    let jobs = broker::drain(&format!("{prefix}.jobs")).await;
    assert_eq!(
        event_ids(&jobs),
        vec![
            format!("scan:{late}"),
            format!("scan:{straddling}"),
            format!("scan:{on_time}"),
        ]
    );
    queue.close().await;
    broker::delete_all(&prefix, &[]).await;
}

#[tokio::test]
async fn a_contact_the_bot_reported_by_webhook_is_not_announced_again() {
    let stub = scan_stub().await;
    let (queue, prefix, settings) = rabbit("scan-webhook").await;
    let client = Arc::new(stub.client());
    let worker = Worker::new(
        queue.clone(),
        Some(client.clone()),
        settings.worker.clone(),
        Arc::new(Metrics::new()),
    );
    let mut jobs = queue.consume(Source::Jobs, 1).await.unwrap();

    // The bot reported the abandoned contact by webhook.
    let body = std::fs::read(format!(
        "{}/fixtures/webhooks/signal-ok-abandoned.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let webhook = HandoverEvent::parse(&body).unwrap();
    assert_eq!(webhook.real_contact_id(), Some(CONTACT_ID));
    queue
        .publish(
            Target::Jobs,
            OutMessage {
                id: webhook.event_id.clone(),
                body: webhook.to_json(),
                conversation_id: Some(webhook.conversation_id.clone()),
                ..OutMessage::default()
            },
        )
        .await
        .unwrap();
    let outcome = worker.process(next(&mut jobs).await).await;
    assert!(matches!(outcome, Outcome::Reported(_)), "{outcome:?}");

    // The periodic scan skips it and enqueues only the contact nobody reported.
    let scanner = Scanner::new(
        client.clone(),
        queue.clone(),
        vec![SKILL_ID.into()],
        worker.reported_contacts(),
    );
    let round = scanner.scan_once(window()).await.unwrap();
    assert_eq!(round.already_reported, 1);
    assert_eq!(round.enqueued, vec![PREQUEUE_ID]);
    let Outcome::Reported(d) = worker.process(next(&mut jobs).await).await else {
        panic!("the unreported contact is diagnosed and reported");
    };
    assert_eq!(d.event_id, format!("scan:{PREQUEUE_ID}"));
    assert_eq!(d.conversation_id, format!("scan:{PREQUEUE_ID}"));
    assert_eq!(d.contact_id.as_deref(), Some(PREQUEUE_ID));
    assert!(d.cxone.checked);
    assert!(
        !d.has(Code::Hd109),
        "no webhook context to miss: {:?}",
        codes(&d)
    );

    // A scan event for the reported contact that reaches the worker anyway (a one-off
    // `scan --enqueue`) is dismissed without a report; so is one for its master contact.
    let suspect = |id: &str, master: Option<&str>| scan::Suspect {
        contact_id: id.into(),
        why: Suspicion::AbandonedInQueue,
        contact: serde_json::from_value(
            serde_json::json!({"contactId": id, "masterContactId": master}),
        )
        .unwrap(),
    };
    scan::enqueue(&queue, &suspect(CONTACT_ID, None))
        .await
        .unwrap();
    let outcome = worker.process(next(&mut jobs).await).await;
    assert!(matches!(outcome, Outcome::Dismissed(_)), "{outcome:?}");
    scan::enqueue(&queue, &suspect("745512899999", Some("745512890101")))
        .await
        .unwrap();
    let outcome = worker.process(next(&mut jobs).await).await;
    assert!(matches!(outcome, Outcome::Dismissed(_)), "{outcome:?}");

    // The notifier gets one report per contact: the webhook's, and the scan's for the
    // contact nobody reported.
    drop(jobs);
    let reports = reports(&queue, &prefix, 2).await;
    let mut expected = vec![webhook.event_id.clone(), format!("scan:{PREQUEUE_ID}")];
    expected.sort();
    assert_eq!(event_ids(&reports), expected);
    assert!(broker::drain(&format!("{prefix}.jobs")).await.is_empty());
    queue.close().await;
    broker::delete_all(&prefix, &[]).await;
}

#[tokio::test]
async fn the_worker_dismisses_a_scanned_contact_an_agent_took_after_all() {
    let stub = CxoneStub::start().await;
    let handled = "745512890311";
    stub.contact(
        handled,
        200,
        serde_json::json!({"contactId": {"contactId": 745512890311u64, "mediaTypeId": 4,
            "contactStartDate": "2026-05-12T14:05:12Z", "agentId": 2301554, "agentSeconds": 312,
            "inQueueSeconds": 35, "totalDurationSeconds": 497, "isWarehoused": true}}),
    )
    .await;
    let (queue, prefix, settings) = rabbit("scan-handled").await;
    let worker = Worker::new(
        queue.clone(),
        Some(Arc::new(stub.client())),
        settings.worker.clone(),
        Arc::new(Metrics::new()),
    );
    let mut jobs = queue.consume(Source::Jobs, 1).await.unwrap();
    let s = scan::Suspect {
        contact_id: handled.into(),
        why: Suspicion::NotAnsweredInQueue,
        contact: Default::default(),
    };
    scan::enqueue(&queue, &s).await.unwrap();
    let outcome = worker.process(next(&mut jobs).await).await;
    assert!(
        matches!(&outcome, Outcome::Dismissed(r) if r.contains("HD401")),
        "{outcome:?}"
    );
    drop(jobs);
    assert_eq!(broker::count(&format!("{prefix}.reports")).await, 0);
    queue.close().await;
    broker::delete_all(&prefix, &[]).await;
}

#[tokio::test]
async fn serve_with_scan_interval_finds_and_reports_each_unreported_contact_once() {
    use crate::support::cxone_stub::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, CLIENT_ID, CLIENT_SECRET};
    use handover_doctor::roles::Role;

    let stub = scan_stub().await;
    let issuer = stub.uri();
    let (settings, prefix) = app::settings(
        "scan-serve",
        &[
            ("SCAN_INTERVAL_SECS", "1"),
            ("SCAN_SKILLS", SKILL_ID),
            ("CXONE_ISSUER", issuer.as_str()),
            ("CXONE_CLIENT_ID", CLIENT_ID),
            ("CXONE_CLIENT_SECRET", CLIENT_SECRET),
            ("CXONE_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("CXONE_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET),
            ("CXONE_MAX_RPS", "0"),
        ],
    );
    // The worker role alone (no HTTP, no notifier), so its reports stay in P.reports.
    let app = handover_doctor::startup::Application::build(settings, Role::Worker)
        .await
        .expect("the worker role starts");
    let queue = app.queue();
    let shutdown = app.shutdown_token();
    let handle = tokio::spawn(app.run_until_stopped());

    // Wait (bounded) until at least three scans ran: each reads the three answers.
    let completed = stub.api_path("contacts/completed");
    tokio::time::timeout(Duration::from_secs(20), async {
        while stub.requests_to_path(&completed).await.len() < 9 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("three periodic scans within 20 s");
    // ... and until the worker reported what the first one found.
    let reports_queue = format!("{prefix}.reports");
    tokio::time::timeout(Duration::from_secs(20), async {
        while broker::count(&reports_queue).await < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("both suspects reported within 20 s");

    // Every scan asked for voice contacts on the configured skill.
    for r in stub.requests_to_path(&completed).await {
        let q = query_of(&r);
        assert_eq!(param(&q, "skillId"), Some(SKILL_ID));
        assert_eq!(param(&q, "mediaTypeId"), Some("4"));
    }
    // Three overlapping scans, each contact reported once.
    assert_eq!(broker::count(&format!("{prefix}.jobs")).await, 0);
    let bodies = reports(&queue, &prefix, 2).await;
    assert_eq!(
        event_ids(&bodies),
        vec![format!("scan:{CONTACT_ID}"), format!("scan:{PREQUEUE_ID}")]
    );
    shutdown.cancel();
    let _ = handle.await;
    broker::delete_all(&prefix, &[]).await;
}

/// Runs the binary's `scan` against the stub, with the stub's CXone credentials.
async fn run_scan(stub: &CxoneStub, args: &[&str]) -> std::process::Output {
    use crate::support::cxone_stub::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, CLIENT_ID, CLIENT_SECRET};
    tokio::process::Command::new(env!("CARGO_BIN_EXE_handover-doctor"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("AMQP_URL")
        .env_remove("SCAN_SKILLS")
        .env("RUST_LOG", "warn")
        .env("CXONE_ISSUER", stub.uri())
        .env("CXONE_CLIENT_ID", CLIENT_ID)
        .env("CXONE_CLIENT_SECRET", CLIENT_SECRET)
        .env("CXONE_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("CXONE_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET)
        .env("CXONE_MAX_RPS", "0")
        .arg("scan")
        .args(args)
        .output()
        .await
        .expect("the binary runs")
}

#[tokio::test]
async fn the_scan_command_lists_each_suspect_with_its_verdict_and_fix_then_a_summary() {
    let stub = scan_stub().await;
    let window = [
        "--from",
        "2026-05-12T14:00:00Z",
        "--to",
        "2026-05-12T15:00:00Z",
        "--skill",
        SKILL_ID,
    ];
    let out = run_scan(&stub, &window).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{CONTACT_ID}  2026-05-12T14:21:44Z  Support_Voice_EN ({SKILL_ID})  abandoned in queue"
        )
    );
    assert!(
        lines[1].starts_with("  HD205 abandoned-in-queue: "),
        "{stdout}"
    );
    assert!(lines[2].starts_with("  fix: "), "{stdout}");
    assert!(stdout.contains(&format!(
        "{PREQUEUE_ID}  2026-05-12T14:41:09Z  Support_Voice_EN ({SKILL_ID})  ended in pre-queue"
    )));
    assert_eq!(
        lines.last().copied(),
        Some(
            "scanned 6 voice contacts completed 2026-05-12T14:00:00Z – 2026-05-12T15:00:00Z: 2 suspected failed handovers (HD205 ×1, HD402 ×1)"
        )
    );
    // No caller number in the list.
    assert!(!stdout.contains("4155550100"), "{stdout}");

    // JSON: one array of Diagnosis objects on stdout, the summary on stderr.
    let mut json_args = window.to_vec();
    json_args.extend(["--format", "json"]);
    let out = run_scan(&stub, &json_args).await;
    assert!(out.status.success());
    let diagnoses: Vec<Diagnosis> = serde_json::from_slice(&out.stdout).expect("a JSON array");
    let ids: Vec<&str> = diagnoses.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(
        ids,
        [format!("scan:{CONTACT_ID}"), format!("scan:{PREQUEUE_ID}")]
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 suspected failed handovers"));
}

#[tokio::test]
async fn the_scan_command_leaves_contacts_an_agent_took_after_all_out_of_the_failures() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let handled = "745512890377";
    stub.respond(
        "contacts/completed",
        200,
        scan_fixture(&stub, "completed_handled_late"),
    )
    .await;
    stub.contact(handled, 200, scan_fixture(&stub, "contact_handled_late"))
        .await;
    let window = [
        "--from",
        "2026-05-12T14:00:00Z",
        "--to",
        "2026-05-12T15:00:00Z",
    ];
    let expected_summary = "scanned 2 voice contacts completed 2026-05-12T14:00:00Z – 2026-05-12T15:00:00Z: 1 suspected failed handover (HD205 ×1); 1 handled by an agent after all (HD401)";

    let out = run_scan(&stub, &window).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with(&format!("{CONTACT_ID}  ")), "{stdout}");
    assert!(!stdout.contains(handled), "{stdout}");
    assert!(!stdout.contains("HD401 "), "{stdout}");
    assert_eq!(stdout.lines().last(), Some(expected_summary), "{stdout}");

    let mut json_args = window.to_vec();
    json_args.extend(["--format", "json"]);
    let out = run_scan(&stub, &json_args).await;
    assert!(out.status.success());
    let diagnoses: Vec<Diagnosis> = serde_json::from_slice(&out.stdout).expect("a JSON array");
    let ids: Vec<&str> = diagnoses.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(ids, [format!("scan:{CONTACT_ID}")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().any(|l| l == expected_summary), "{stderr}");
}

#[tokio::test]
async fn scan_enqueue_publishes_each_suspect_as_a_scan_event_and_warns_past_the_dedup_window() {
    use crate::support::broker::AMQP_URL;
    let stub = scan_stub().await;
    let prefix = broker::unique_prefix("scan-cli-enqueue");
    let run = |args: Vec<&'static str>| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_handover-doctor"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("SCAN_SKILLS")
            .env_remove("NOTIFY_DEDUP_TTL_SECS")
            .env("RUST_LOG", "warn")
            .env("AMQP_URL", AMQP_URL)
            .env("QUEUE_PREFIX", &prefix)
            .envs(stub.env_vars())
            .arg("scan")
            .args(["--skill", SKILL_ID, "--enqueue"])
            .args(args);
        cmd.output()
    };

    // An hour: within the notifier's de-duplication (NOTIFY_DEDUP_TTL_SECS=3600).
    let out = run(vec![
        "--from",
        "2026-05-12T14:00:00Z",
        "--to",
        "2026-05-12T15:00:00Z",
    ])
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.trim_end(),
        format!(
            "scanned 6 voice contact(s) completed 2026-05-12T14:00:00Z – 2026-05-12T15:00:00Z: enqueued 2 suspected failed handover(s) to {prefix}.jobs as scan:<contactId> events"
        )
    );
    assert!(!stderr.contains("NOTIFY_DEDUP_TTL_SECS"), "{stderr}");
    let jobs = broker::drain(&format!("{prefix}.jobs")).await;
    assert_eq!(
        event_ids(&jobs),
        vec![format!("scan:{CONTACT_ID}"), format!("scan:{PREQUEUE_ID}")]
    );
    for body in &jobs {
        let e = HandoverEvent::from_json(body).unwrap();
        assert!(scan::is_scan_event(&e));
        assert_eq!(e.event_id, format!("scan:{}", e.real_contact_id().unwrap()));
    }
    // Nothing was diagnosed here: that is the workers' job.
    assert_eq!(
        stub.api_requests(&format!("contacts/{CONTACT_ID}")).await,
        0
    );

    // A day: longer than the de-duplication; the operator is told.
    let out = run(vec!["--since", "24h"]).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("note: this window (1440 min) is longer than NOTIFY_DEDUP_TTL_SECS (3600 s)"),
        "{stderr}"
    );
    assert_eq!(broker::drain(&format!("{prefix}.jobs")).await.len(), 2);
    broker::delete_all(&prefix, &[]).await;
}

#[tokio::test]
async fn a_server_that_ignores_skip_ends_the_scan_after_the_repeated_page_with_a_warning() {
    let stub = CxoneStub::start().await;
    // A full page (the scan asks for 500) of handled contacts, no `_links`, whatever
    // `skip` says: a pager trusting `skip` alone would read it forever.
    let contacts: Vec<Value> = (0..scan_page_size())
        .map(|i| {
            serde_json::json!({
                "contactId": 745512800000u64 + i as u64, "masterContactId": 745512700000u64 + i as u64,
                "contactStartDate": "2026-05-12T14:05:12.000Z", "mediaTypeId": 4,
                "isOutbound": false, "skillId": 4412877, "agentId": 2301554,
                "agentSeconds": 312, "totalDurationSeconds": 497, "abandoned": false
            })
        })
        .collect();
    stub.respond(
        "contacts/completed",
        200,
        serde_json::json!({ "totalRecords": contacts.len(), "completedContacts": contacts }),
    )
    .await;
    let out = run_scan(
        &stub,
        &[
            "--from",
            "2026-05-12T14:00:00Z",
            "--to",
            "2026-05-12T15:00:00Z",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let pages = stub
        .requests_to_path(&stub.api_path("contacts/completed"))
        .await
        .len();
    assert_eq!(pages, 2, "the first page and its repeat, then stop");
    assert!(
        stderr.contains("same page twice") && stderr.contains("/contacts/completed"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("scanned {} voice contacts", scan_page_size())),
        "{stdout}"
    );
}

fn scan_page_size() -> usize {
    handover_doctor::cxone::DEFAULT_PAGE_SIZE
}

//! `diagnose` end to end through the real CXone client: each rule scenario's CXone bodies
//! (`fixtures/rules/<CODE>/raises/`) are served by a [`CxoneStub`] at the paths CXone
//! serves them, the real client runs discovery, the token grant and every read
//! (`cxone::gather`), the rules run on what it gathered, and the verdict, findings and
//! messages must equal the scenario's `expected.json` — the same file the in-memory loader
//! of `rules.rs` is checked against, so a disagreement between how the loader and the
//! client read a shape shows up here.
//!
//! Then the binary itself: `diagnose --payload` in JSON and text against the stub,
//! without CXone credentials, and `explain`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use handover_doctor::diagnosis::evidence::Evidence;
use handover_doctor::diagnosis::{Code, Diagnosis, diagnose, needs_recheck};
use handover_doctor::event::HandoverEvent;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::cxone_stub::{CxoneStub, OTHER_HOURS_PROFILE_ID};

/// The scenarios run end to end: every `raises` case whose story lives in CXone data or
/// in our own access to CXone.
const SCENARIOS: &[&str] = &[
    "HD201", "HD202", "HD203", "HD204", "HD205", "HD206", "HD207", "HD301", "HD302", "HD303",
    "HD304", "HD305", "HD306", "HD401", "HD402", "HD501", "HD502", "HD503",
];

fn rules_dir(code: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/rules")
        .join(code)
        .join("raises")
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// One scenario directory, as the stub serves it.
struct Scenario {
    dir: PathBuf,
    meta: Value,
    event: Option<HandoverEvent>,
    now: DateTime<Utc>,
    expected: Value,
}

impl Scenario {
    fn load(dir: PathBuf) -> Self {
        let event = std::fs::read(dir.join("event.json"))
            .ok()
            // The canonical form the worker reads (a `receivedAt` in it is kept).
            .map(|b| HandoverEvent::from_json(&b).expect("event.json is a valid event"));
        let now = std::fs::read_to_string(dir.join("now.txt"))
            .expect("now.txt")
            .trim()
            .parse()
            .expect("now.txt is RFC 3339");
        Scenario {
            meta: read_json(&dir.join("cxone.json")).unwrap_or(json!({})),
            expected: read_json(&dir.join("expected.json")).expect("expected.json"),
            event,
            now,
            dir,
        }
    }

    fn body(&self, stem: &str) -> Option<Value> {
        read_json(&self.dir.join(format!("{stem}.json")))
    }

    /// The answer for one file: the failure the meta file names, else the body (200),
    /// else `None` (left unmounted: the stub answers 404).
    fn answer(&self, stem: &str) -> Option<ResponseTemplate> {
        if let Some(kind) = self.meta["failures"][stem].as_str() {
            return Some(failure(kind));
        }
        self.body(stem)
            .map(|b| ResponseTemplate::new(200).set_body_json(b))
    }

    /// A stub that tells this scenario's story.
    async fn stub(&self) -> CxoneStub {
        if self.meta["configured"] == json!(false) {
            panic!("{}: not a CXone scenario", self.dir.display());
        }
        if let Some(kind) = self.meta["unreachable"].as_str() {
            // Discovery answers; the token grant is what fails.
            let stub = CxoneStub::start_bare().await;
            stub.mount_openid_configuration().await;
            match kind {
                "auth" => stub.mount_token_error(401, "invalid_client").await,
                "unavailable" => {
                    Mock::given(method("POST"))
                        .and(path("/auth/token"))
                        .respond_with(ResponseTemplate::new(503))
                        .mount(&stub.server)
                        .await;
                }
                other => panic!("unreachable kind {other} has no token-endpoint story"),
            }
            return stub;
        }
        let stub = CxoneStub::start().await;
        let event = self.event.as_ref();
        let contact_id = handover_doctor::cxone::contact_to_read(event, None);
        if let Some(id) = &contact_id {
            for (stem, rel) in [
                ("contact", format!("contacts/{id}")),
                ("statehistory", format!("contacts/{id}/statehistory")),
                ("hierarchy", format!("contacts/{id}/hierarchy")),
            ] {
                if let Some(t) = self.answer(stem) {
                    stub.respond_with(&rel, t).await;
                }
            }
            if let Some(t) = self.answer("active") {
                Mock::given(method("GET"))
                    .and(path(stub.api_path("contacts/active")))
                    .and(query_param("contactId", id.as_str()))
                    .respond_with(t)
                    .mount(&stub.server)
                    .await;
            }
        }

        // The skill: by id, and in the skills list (for a target given by name) next to
        // the bot's own pre-queue skill.
        let skill = self.body("skill");
        let mut listed = vec![json!({"skillId": 4412801, "skillName": "Cognigy_Bot_IVR",
            "mediaTypeId": 4, "isActive": true})];
        if let Some(s) = &skill {
            listed.push(s.clone());
        }
        stub.respond(
            "skills",
            200,
            json!({"totalRecords": listed.len(), "_links": {"next": null}, "skills": listed}),
        )
        .await;
        let Some(skill_id) = skill.as_ref().map(|s| id_string(&s["skillId"])) else {
            return stub;
        };
        for (stem, rel) in [
            ("skill", format!("skills/{skill_id}")),
            ("skill-agents", format!("skills/{skill_id}/agents")),
            ("skill-activity", format!("skills/{skill_id}/activity")),
        ] {
            if let Some(t) = self.answer(stem) {
                stub.respond_with(&rel, t).await;
            }
        }

        // Hours: the list names two profiles; only the scenario's holds the skill.
        let other = stub.fixture("hours_detail_other");
        let mut profiles = vec![json!({
            "hoursOfOperationProfileId": other["hoursOfOperationProfileId"],
            "hoursOfOperationProfileName": other["hoursOfOperationProfileName"],
        })];
        stub.respond(
            &format!("hours-of-operation/{OTHER_HOURS_PROFILE_ID}"),
            200,
            other.clone(),
        )
        .await;
        if let Some(hours) = self.body("hours") {
            let id = id_string(&hours["hoursOfOperationProfileId"]);
            profiles.push(json!({
                "hoursOfOperationProfileId": hours["hoursOfOperationProfileId"],
                "hoursOfOperationProfileName": hours["hoursOfOperationProfileName"],
            }));
            match self.answer("hours") {
                Some(t) => {
                    stub.respond_with(&format!("hours-of-operation/{id}"), t)
                        .await
                }
                None => unreachable!("the body exists"),
            }
        }
        stub.respond(
            "hours-of-operation",
            200,
            json!({"totalRecords": profiles.len(), "_links": {"next": null},
                "hoursOfOperation": profiles}),
        )
        .await;
        stub
    }

    /// Gathers through the real client and diagnoses at the scenario's "now", the way the
    /// worker and `diagnose --payload` do.
    async fn diagnose_with(&self, stub: &CxoneStub) -> Diagnosis {
        let mut settings = stub.settings();
        if let Some(zone) = self.meta["timeZone"].as_str() {
            settings.time_zone = zone.parse().expect("timeZone is an IANA name");
        }
        let client = stub.client_with(settings);
        let cxone = handover_doctor::cxone::gather(Some(&client), self.event.as_ref(), None).await;
        diagnose(&Evidence {
            contact_id: handover_doctor::cxone::contact_to_read(self.event.as_ref(), None),
            event: self.event.clone(),
            cxone,
            required_context_keys: vec!["routingData".into(), "customerInfo".into()],
            now: self.now,
        })
    }
}

fn id_string(v: &Value) -> String {
    v.to_string().trim_matches('"').to_string()
}

/// What CXone answers for each failure kind of the meta file.
fn failure(kind: &str) -> ResponseTemplate {
    match kind {
        "forbidden" => ResponseTemplate::new(403)
            .set_body_json(json!({"error": "Forbidden", "message": "Insufficient permissions"})),
        "unavailable" => ResponseTemplate::new(503),
        "auth" => ResponseTemplate::new(401),
        "rejected" => {
            ResponseTemplate::new(400).set_body_json(json!({"error": "InvalidParameter"}))
        }
        other => panic!("unknown failure kind {other}"),
    }
}

fn codes(d: &Diagnosis) -> Vec<&'static str> {
    d.findings.iter().map(|f| f.code.as_str()).collect()
}

/// Whether the scenario's messages depend on our own failure's wording (which the
/// in-memory loader invents and the real client words from the real answer).
fn messages_comparable(meta: &Value) -> bool {
    meta.get("unreachable").is_none() && meta.get("failures").is_none()
}

#[tokio::test]
async fn every_cxone_scenario_gives_its_expected_diagnosis_through_the_real_client() {
    let dirs = SCENARIOS.iter().map(|c| (c.to_string(), rules_dir(c)));
    check_scenarios(dirs).await;
}

#[tokio::test]
async fn every_other_story_gives_its_expected_diagnosis_through_the_real_client() {
    // Without a targetSkill, without occurredAt, a live contact without history, an End
    // signal, a refused /contacts/active, hours in another time zone. Payload-only stories
    // (`{"configured": false}`) have no CXone story to serve: rules.rs checks them.
    let dirs = Code::ALL.iter().flat_map(|c| {
        crate::rules::other_stories(*c)
            .into_iter()
            .filter(|dir| {
                read_json(&dir.join("cxone.json")).unwrap_or(json!({}))["configured"]
                    != json!(false)
            })
            .map(move |dir| {
                let name = format!("{c} {}", dir.file_name().unwrap().to_string_lossy());
                (name, dir)
            })
    });
    check_scenarios(dirs).await;
}

#[tokio::test]
async fn without_a_target_skill_a_contact_that_never_queued_costs_no_skill_reads() {
    let sc = Scenario::load(rules_dir("HD204").with_file_name("no-target-skill"));
    let stub = sc.stub().await;
    let d = sc.diagnose_with(&stub).await;
    assert_eq!(codes(&d), ["HD204"]);
    let skill_reads = stub
        .requests()
        .await
        .iter()
        .filter(|r| r.url.path().contains("/skills") || r.url.path().contains("/hours-of"))
        .count();
    assert_eq!(skill_reads, 0, "the bot's pre-queue skill is not checked");

    // Queued without a targetSkill: the skill of the queued state is checked.
    let sc = Scenario::load(rules_dir("HD303").with_file_name("no-target-skill"));
    let stub = sc.stub().await;
    let d = sc.diagnose_with(&stub).await;
    assert_eq!(d.verdict.code, Code::Hd303, "{:?}", codes(&d));
    assert_eq!(stub.api_requests("skills/4412877/activity").await, 1);
}

#[tokio::test]
async fn the_close_cases_that_read_cxone_give_their_expected_diagnosis_too() {
    let dirs = Code::ALL.iter().filter_map(|c| {
        let dir = rules_dir(c.as_str()).with_file_name("not-raised");
        let meta = read_json(&dir.join("cxone.json")).unwrap_or(json!({}));
        // Payload-only cases, and a token endpoint that answers 403 (the client reads any
        // refused grant as HD501, never HD502), have no CXone story to serve.
        let served =
            meta["configured"] != json!(false) && meta["unreachable"] != json!("forbidden");
        served.then(|| (format!("{c} not-raised"), dir))
    });
    check_scenarios(dirs).await;
}

async fn check_scenarios(dirs: impl Iterator<Item = (String, PathBuf)>) {
    let mut failures = Vec::new();
    let mut figures = Vec::new();
    for (code, dir) in dirs {
        let sc = Scenario::load(dir);
        let stub = sc.stub().await;
        let d = sc.diagnose_with(&stub).await;
        let want = &sc.expected;
        let got_findings = json!(codes(&d));
        if json!(d.verdict.code) != want["verdict"] || got_findings != want["findings"] {
            failures.push(format!(
                "{code}: expected {} {}, got {} {} — {:?}",
                want["verdict"],
                want["findings"],
                d.verdict.code,
                got_findings,
                d.findings.iter().map(|f| &f.message).collect::<Vec<_>>()
            ));
            continue;
        }
        if json!(d.cxone.checked) != want["cxoneChecked"]
            || json!(needs_recheck(&d)) != want["needsRecheck"]
            || json!(d.contact_id) != want["contactId"]
            || json!(d.target_skill) != want["targetSkill"]
        {
            failures.push(format!(
                "{code}: checked={} recheck={} contact={:?} skill={:?}, expected {want}",
                d.cxone.checked,
                needs_recheck(&d),
                d.contact_id,
                d.target_skill
            ));
        }
        if messages_comparable(&sc.meta) {
            let got = json!(
                d.findings
                    .iter()
                    .map(|f| json!([f.code, f.message]))
                    .collect::<Vec<_>>()
            );
            if got != want["messages"] {
                failures.push(format!(
                    "{code}: messages differ\n  want {}\n  got  {got}",
                    want["messages"]
                ));
            }
        }
        let api = stub
            .requests()
            .await
            .iter()
            .filter(|r| r.url.path().starts_with("/incontactapi/"))
            .count();
        figures.push(format!("{code}:{api}"));
    }
    eprintln!("CXone API requests per diagnosis: {}", figures.join(" "));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn our_own_cxone_failures_are_worded_from_the_real_answers() {
    // HD501: the token endpoint refused our credentials.
    let sc = Scenario::load(rules_dir("HD501"));
    let d = sc.diagnose_with(&sc.stub().await).await;
    assert_eq!(codes(&d), ["HD501"]);
    assert!(
        d.findings[0].message.contains("401"),
        "{}",
        d.findings[0].message
    );

    // HD503: the token endpoint kept answering 503; the client retried before giving up.
    let sc = Scenario::load(rules_dir("HD503"));
    let stub = sc.stub().await;
    let d = sc.diagnose_with(&stub).await;
    assert_eq!(codes(&d), ["HD503"]);
    assert!(
        stub.token_requests().await > 1,
        "5xx on the token endpoint is retried"
    );
    assert!(
        stub.requests()
            .await
            .iter()
            .all(|r| !r.url.path().starts_with("/incontactapi/")),
        "nothing is read without a token"
    );

    // HD502: a 403 on the skill's agents and activity is a side finding, not a verdict.
    let sc = Scenario::load(rules_dir("HD502"));
    let stub = sc.stub().await;
    let d = sc.diagnose_with(&stub).await;
    assert_eq!(codes(&d), ["HD205", "HD502"]);
    let m = &d.findings[1].message;
    assert!(m.contains("403") && m.contains("/agents"), "{m}");
    assert_eq!(
        stub.api_requests("skills/4412877/agents").await,
        1,
        "403 is an answer, not retried"
    );
}

#[tokio::test]
async fn skill_reads_are_cached_across_diagnoses_but_contact_reads_are_not() {
    let sc = Scenario::load(rules_dir("HD205"));
    let stub = sc.stub().await;
    let client = stub.client();
    for _ in 0..3 {
        let cxone = handover_doctor::cxone::gather(Some(&client), sc.event.as_ref(), None).await;
        assert!(matches!(
            cxone,
            handover_doctor::diagnosis::evidence::CxoneEvidence::Checked(_)
        ));
    }
    let id = sc.event.as_ref().unwrap().real_contact_id().unwrap();
    assert_eq!(stub.api_requests(&format!("contacts/{id}")).await, 3);
    assert_eq!(stub.api_requests("skills/4412877/activity").await, 1);
    assert_eq!(stub.api_requests("skills").await, 1);
    assert_eq!(stub.token_requests().await, 1, "one token for the process");
}

#[tokio::test]
async fn a_tenant_on_an_old_api_version_gets_the_same_verdict_from_drifted_shapes() {
    // The abandoned-in-queue story, told by a v1x tenant: the contact in a `resultSet`
    // with `contactStart`/`fromAddr`/`ACWSeconds` and numbers as strings, and the state
    // history only under the spec's `state-history` spelling.
    let sc = Scenario::load(rules_dir("HD205"));
    let stub = sc.stub().await;
    let id = sc.event.as_ref().unwrap().real_contact_id().unwrap();
    stub.respond_times(
        &format!("contacts/{id}"),
        1,
        ResponseTemplate::new(200).set_body_json(stub.fixture("contact_v1x_result_set")),
    )
    .await;
    stub.respond_times(
        &format!("contacts/{id}/statehistory"),
        1,
        ResponseTemplate::new(404),
    )
    .await;
    stub.respond(
        &format!("contacts/{id}/state-history"),
        200,
        sc.body("statehistory").unwrap(),
    )
    .await;
    let d = sc.diagnose_with(&stub).await;
    assert_eq!(json!(codes(&d)), sc.expected["findings"]);
    assert_eq!(
        d.findings[0].message,
        sc.expected["messages"][0][1].as_str().unwrap()
    );
    assert_eq!(
        stub.api_requests(&format!("contacts/{id}/state-history"))
            .await,
        1
    );
}

#[tokio::test]
async fn an_api_user_whose_role_reads_nothing_gets_hd502_rather_than_a_guess() {
    // The token is granted, but every read answers 403 (the role lacks permissions).
    let sc = Scenario::load(rules_dir("HD205"));
    let stub = CxoneStub::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex("^/incontactapi/"))
        .respond_with(failure("forbidden"))
        .mount(&stub.server)
        .await;
    let d = sc.diagnose_with(&stub).await;
    assert_eq!(d.verdict.code, Code::Hd502, "{:?}", codes(&d));
    assert!(
        !d.has(Code::Hd205) && !d.has(Code::Hd201),
        "{:?}",
        codes(&d)
    );
    assert!(!needs_recheck(&d), "a 403 will not heal by waiting");
    // 403s are answers: each read asked once, none retried.
    let reads = stub
        .requests()
        .await
        .iter()
        .filter(|r| r.url.path().starts_with("/incontactapi/"))
        .count();
    assert!(reads <= 8, "{reads} reads");
}

// ---- the binary ----

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_handover-doctor"));
    // Nothing from the developer's shell may point the binary elsewhere.
    for (k, _) in std::env::vars() {
        if k.starts_with("CXONE_") || k == "AMQP_URL" {
            c.env_remove(k);
        }
    }
    c.env("LOG_FORMAT", "json").env("RUST_LOG", "error");
    c
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(out)
}

/// Runs the binary off the async runtime (it blocks until the process exits).
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn diagnose_payload_prints_the_json_diagnosis_from_cxone() {
    // Abandoned in queue: a story whose verdict does not depend on the clock.
    let sc = Scenario::load(rules_dir("HD205"));
    let stub = sc.stub().await;
    let mut cmd = bin();
    cmd.args(["diagnose", "--payload"])
        .arg(sc.dir.join("event.json"))
        .args(["--format", "json"])
        .envs(stub.env_vars());
    let out = run(cmd).await;
    let d: Value = serde_json::from_str(&ok(&out)).expect("stdout is one JSON diagnosis");
    assert_eq!(d["verdict"]["code"], "HD205", "{d}");
    assert_eq!(d["cxone"]["checked"], true, "{d}");
    let findings: Vec<&str> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(json!(findings), sc.expected["findings"]);
    assert!(stub.token_requests().await >= 1);
    assert!(!stdout(&out).contains("4155550123"), "the caller is masked");
}

#[tokio::test]
async fn diagnose_payload_as_text_reads_verdict_findings_then_timeline() {
    // A story whose verdict does not hang on when it is diagnosed (the binary diagnoses
    // at the real "now", months after the story's call).
    let sc = Scenario::load(rules_dir("HD206"));
    let stub = sc.stub().await;
    let mut cmd = bin();
    cmd.args(["diagnose", "--payload"])
        .arg(sc.dir.join("event.json"))
        .args(["--format", "text"])
        .envs(stub.env_vars());
    let text = ok(&run(cmd).await);
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with("HD206 "), "verdict first: {text}");
    assert!(text.lines().any(|l| l == "CXone: checked"), "{text}");
    // Every finding in order, each with its fix, then the timeline with CXone's states.
    let (findings, timeline) = text
        .split_once("\nTimeline:")
        .unwrap_or_else(|| panic!("a timeline after the findings: {text}"));
    let mut at = 0;
    for code in sc.expected["findings"].as_array().unwrap() {
        let code = code.as_str().unwrap();
        let pos = findings[at..]
            .find(&format!("  {code} "))
            .map(|p| p + at)
            .unwrap_or_else(|| panic!("{code} missing after byte {at}: {text}"));
        at = pos + code.len();
    }
    assert_eq!(
        findings.matches("Fix: ").count(),
        sc.expected["findings"].as_array().unwrap().len(),
        "one fix per finding: {text}"
    );
    assert!(timeline.contains("cognigy"), "{text}");
    assert!(
        timeline.lines().filter(|l| l.contains("cxone")).count() >= 2,
        "CXone's state history is in the timeline: {text}"
    );
    assert!(!text.contains("4155550123"), "the caller is masked");
}

#[tokio::test]
async fn diagnosing_a_past_contact_does_not_judge_it_by_the_staffing_seen_now() {
    // The HD303 story (nobody logged in, 8 minutes after the call ended) diagnosed by
    // hand months later: the activity read now says nothing about that call.
    let sc = Scenario::load(rules_dir("HD303"));
    let stub = sc.stub().await;
    let id = sc
        .event
        .as_ref()
        .unwrap()
        .real_contact_id()
        .unwrap()
        .to_string();
    for args in [
        vec!["diagnose".to_string(), "--contact-id".into(), id.clone()],
        vec![
            "diagnose".to_string(),
            "--payload".into(),
            sc.dir.join("event.json").display().to_string(),
        ],
    ] {
        let mut cmd = bin();
        cmd.args(&args)
            .args(["--format", "json"])
            .envs(stub.env_vars());
        let d: Value = serde_json::from_str(&ok(&run(cmd).await)).unwrap();
        let found: Vec<&str> = d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert_eq!(found, ["HD205"], "{args:?}: {d}");
        let note = d["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["event"] == "LiveStaffingNotJudged")
            .unwrap_or_else(|| panic!("{args:?}: the timeline says why: {d}"));
        let detail = note["detail"].as_str().unwrap();
        assert!(
            detail.contains("could not be judged for this past contact")
                && detail.contains("after the contact ended (14:27:01 UTC)"),
            "{detail}"
        );
    }
    // Diagnosed at the story's own time, 8 minutes after the call, it is HD303.
    let d = sc.diagnose_with(&stub).await;
    assert_eq!(d.verdict.code, Code::Hd303, "{:?}", codes(&d));
}

#[tokio::test]
async fn diagnose_payload_without_credentials_uses_the_payload_alone() {
    let payload =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/webhooks/signal-forbidden.json");
    let mut cmd = bin();
    cmd.args(["diagnose", "--payload"])
        .arg(&payload)
        .args(["--format", "json"]);
    let out = run(cmd).await;
    let d: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(d["cxone"]["checked"], false, "{d}");
    assert_eq!(d["verdict"]["code"], "HD104", "{d}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("payload alone"),
        "the operator is told CXone was not consulted"
    );
}

#[tokio::test]
async fn explain_documents_one_code_lists_all_and_refuses_unknown_ones() {
    let mut one = bin();
    one.args(["explain", "HD204"]);
    let text = ok(&run(one).await);
    assert!(text.starts_with("HD204"), "{text}");
    for section in ["What it means", "Why it matters", "How to fix"] {
        assert!(text.contains(section), "{section}: {text}");
    }

    let mut list = bin();
    list.args(["explain", "--list"]);
    let text = ok(&run(list).await);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 30, "{text}");
    assert_eq!(lines.len(), Code::ALL.len());
    for (line, code) in lines.iter().zip(Code::ALL) {
        assert!(line.starts_with(code.as_str()), "{line}");
    }

    let mut bad = bin();
    bad.args(["explain", "HD999"]);
    let out = run(bad).await;
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HD999"));
}

#[tokio::test]
async fn diagnose_contact_id_reads_the_story_from_cxone_alone() {
    // No webhook: the contact's own skill is the one looked at.
    let sc = Scenario::load(rules_dir("HD205"));
    let stub = sc.stub().await;
    let id = sc
        .event
        .as_ref()
        .unwrap()
        .real_contact_id()
        .unwrap()
        .to_string();
    let mut cmd = bin();
    cmd.args(["diagnose", "--contact-id", &id, "--format", "json"])
        .envs(stub.env_vars());
    let d: Value = serde_json::from_str(&ok(&run(cmd).await)).unwrap();
    assert_eq!(d["verdict"]["code"], "HD205", "{d}");
    assert_eq!(d["contactId"], id.as_str(), "{d}");
    assert_eq!(
        stub.api_requests("skills/4412877").await,
        1,
        "the contact's skill"
    );
}

// ---------------------------------------------------------------------------------------
// The shapes of older API versions (`fixtures/cxone/shapes/*v1x*`, named with their public
// source in `fixtures/cxone/README.md`). Each is served in place of the current shape in a
// scenario whose verdict hangs on the field the variant spells differently; it must give
// the verdict the same data in the current shape gives, and a copy with that field made
// unreadable (what a reader that ignored the variant would see) must not.

/// The story of `sc`, with `overrides` (API path → body, `None` = 404) served above it;
/// the verdict of the real client's diagnosis.
async fn verdict_with(sc: &Scenario, overrides: &[(String, Option<Value>)]) -> Code {
    let stub = sc.stub().await;
    for (rel, body) in overrides {
        let answer = match body {
            Some(b) => ResponseTemplate::new(200).set_body_json(b),
            None => ResponseTemplate::new(404),
        };
        Mock::given(method("GET"))
            .and(path(stub.api_path(rel)))
            .respond_with(answer)
            .with_priority(1)
            .mount(&stub.server)
            .await;
    }
    sc.diagnose_with(&stub).await.verdict.code
}

fn shape(name: &str) -> Value {
    crate::support::cxone_stub::shape(name)
}

/// `v` in the current shape: camelCase keys, current names, `"True"`/`"False"` as
/// booleans and numeric strings (thousands separators too) as numbers, the record out of
/// its `resultSet`.
fn current_shape(v: &Value) -> Value {
    fn key(k: &str) -> String {
        let camel = match k.chars().next() {
            Some(c) if c.is_ascii_uppercase() => {
                let run = k.chars().take_while(char::is_ascii_uppercase).count();
                let lower = if run > 1 && run < k.len() {
                    run - 1
                } else {
                    run
                };
                k[..lower].to_ascii_lowercase() + &k[lower..]
            }
            _ => k.to_string(),
        };
        match camel.as_str() {
            "contactStart" => "contactStartDate",
            "fromAddr" => "fromAddress",
            "toAddr" => "toAddress",
            "mediaType" => "mediaTypeId",
            "state" => "stateName",
            "profileId" => "hoursOfOperationProfileId",
            "profileName" => "hoursOfOperationProfileName",
            "contactStateDescription" => "contactStateName",
            other => other,
        }
        .to_string()
    }
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (key(k), current_shape(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(current_shape).collect()),
        Value::String(s) if s == "True" => json!(true),
        Value::String(s) if s == "False" => json!(false),
        Value::String(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == ',') => {
            json!(s.replace(',', "").parse::<u64>().unwrap())
        }
        other => other.clone(),
    }
}

/// A v1x body as current versions wrap it: the record out of `resultSet`, a profile list
/// under `hoursOfOperation`, a single profile bare.
fn unwrapped(v: &Value) -> Value {
    let Some(inner) = v.get("resultSet") else {
        return v.clone();
    };
    match inner.get("hoursOfOperationProfiles") {
        Some(Value::Array(p)) if p.len() == 1 && p[0].get("days").is_some() => p[0].clone(),
        Some(list) => json!({ "hoursOfOperation": list }),
        None => inner.clone(),
    }
}

/// `v` with every value of `field` replaced by text no reader understands.
fn unreadable(v: &Value, field: &str) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, x)| {
                    let x = if k == field {
                        json!("unreadable")
                    } else {
                        unreadable(x, field)
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|x| unreadable(x, field)).collect()),
        other => other.clone(),
    }
}

/// `v` with the key `from` renamed to `to` wherever it appears.
fn renamed(v: &Value, from: &str, to: &str) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, x)| {
                    (
                        if k == from { to } else { k }.to_string(),
                        renamed(x, from, to),
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|x| renamed(x, from, to)).collect()),
        other => other.clone(),
    }
}

/// The three answers for one variant served at `rel` (plus `also`): the variant and its
/// current-shape twin give the same verdict, which the misread copy does not.
async fn check_variant(
    sc: &Scenario,
    rel: &str,
    variant: Value,
    misread: Value,
    also: &[(String, Option<Value>)],
) -> Code {
    let with = |body: Value| {
        let mut o = vec![(rel.to_string(), Some(body))];
        o.extend(also.iter().cloned());
        o
    };
    let current = verdict_with(sc, &with(current_shape(&unwrapped(&variant)))).await;
    let read = verdict_with(sc, &with(variant)).await;
    let ignored = verdict_with(sc, &with(misread)).await;
    assert_eq!(
        read, current,
        "{rel}: the variant must read like the current shape"
    );
    assert_ne!(
        ignored, read,
        "{rel}: the test must hang on the variant's field"
    );
    read
}

fn no_history() -> Vec<(String, Option<Value>)> {
    let id = crate::support::cxone_stub::CONTACT_ID;
    vec![
        (format!("contacts/{id}/statehistory"), None),
        (format!("contacts/{id}/state-history"), None),
    ]
}

#[tokio::test]
async fn a_v1x_contact_whose_current_state_is_state_is_judged_like_the_current_shape() {
    // No history and no queue seconds: only the state says the contact is queued, which
    // makes its skill the one checked (HD303, nobody logged in).
    let sc = Scenario::load(rules_dir("HD303").with_file_name("no-target-skill"));
    let v = shape("contact_v1x_state");
    let misread = renamed(&v, "state", "stateOfSomethingElse");
    let rel = format!("contacts/{}", crate::support::cxone_stub::CONTACT_ID);
    let verdict = check_variant(&sc, &rel, v, misread, &no_history()).await;
    assert_eq!(verdict, Code::Hd303);
}

#[tokio::test]
async fn seconds_as_strings_with_thousands_separators_are_judged_like_numbers() {
    // Without a history, the agent's talk time is what says an agent took the call.
    let sc = Scenario::load(rules_dir("HD401"));
    let v = shape("contact_v1x_seconds_strings");
    // What a reader that took "1,412" for no number would see; the state too, which
    // would also say an agent had it.
    let misread = unreadable(&unreadable(&v, "agentSeconds"), "state");
    let rel = format!("contacts/{}", crate::support::cxone_stub::CONTACT_ID);
    let verdict = check_variant(&sc, &rel, v, misread, &no_history()).await;
    assert_eq!(verdict, Code::Hd401);
}

#[tokio::test]
async fn a_pascal_case_skills_list_is_judged_like_the_current_shape() {
    // The event names its skill; the detail read fails, so the list entry (inactive)
    // stands in: HD302. Unread, the name matches nothing: HD301.
    let sc = Scenario::load(rules_dir("HD302"));
    let v = shape("skills_list_v1x_pascal");
    let misread = renamed(&v, "SkillName", "Skill_Name");
    let also = vec![(
        format!("skills/{}", crate::support::cxone_stub::SKILL_ID),
        None,
    )];
    let verdict = check_variant(&sc, "skills", v, misread, &also).await;
    assert_eq!(verdict, Code::Hd302);
}

#[tokio::test]
async fn hours_profiles_listed_by_profile_id_are_judged_like_the_current_shape() {
    let sc = Scenario::load(rules_dir("HD305"));
    let v = shape("hours_list_v1x_profile_id");
    let misread = renamed(&v, "profileId", "profile_Id");
    let verdict = check_variant(&sc, "hours-of-operation", v, misread, &[]).await;
    assert_eq!(verdict, Code::Hd305);
}

#[tokio::test]
async fn a_result_set_hours_profile_with_a_closed_day_as_empty_times_is_judged_like_the_current_shape()
 {
    let sc = Scenario::load(rules_dir("HD305"));
    let v = shape("hours_detail_v1x_closed_day");
    let misread = renamed(&v, "hoursOfOperationProfiles", "profiles");
    let verdict = check_variant(&sc, "hours-of-operation/30211", v.clone(), misread, &[]).await;
    assert_eq!(verdict, Code::Hd305);
    // The empty times alone close the day, as versions without `isClosedAllDay` mean it.
    let without_flag = renamed(&v, "isClosedAllDay", "x");
    let rel = "hours-of-operation/30211".to_string();
    assert_eq!(
        verdict_with(&sc, &[(rel, Some(without_flag))]).await,
        Code::Hd305
    );
}

#[tokio::test]
async fn true_and_false_as_strings_in_hours_are_judged_like_booleans() {
    // Tuesday 21:42 falls in the additional hours that "True" switches on: open, so no
    // HD305; read as unknown, the additional hours are off and the call was "outside".
    let sc = Scenario::load(rules_dir("HD305"));
    let v = shape("hours_detail_v1x_additional_hours");
    let misread = unreadable(&v, "hasAdditionalHours");
    let verdict = check_variant(&sc, "hours-of-operation/30211", v, misread, &[]).await;
    assert_ne!(verdict, Code::Hd305);
}

#[tokio::test]
async fn a_history_with_state_ids_only_is_named_through_pascal_case_state_descriptions() {
    // The queued state, known by its id alone, makes its skill the one checked (HD303).
    let sc = Scenario::load(rules_dir("HD303").with_file_name("no-target-skill"));
    let id = crate::support::cxone_stub::CONTACT_ID;
    let history = (
        format!("contacts/{id}/statehistory"),
        Some(shape("statehistory_ids_only")),
    );
    let v = shape("contact_state_descriptions");
    let misread = renamed(&v, "ContactStateId", "Contact_State_Id");
    let verdict = check_variant(&sc, "contact-state-descriptions", v, misread, &[history]).await;
    assert_eq!(verdict, Code::Hd303);
}

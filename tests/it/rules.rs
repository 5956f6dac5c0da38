//! The rule fixtures: every finding code has a scenario that raises it and a close one
//! that does not (`fixtures/rules/<CODE>/{raises,not-raised}/`), some codes more stories
//! that raise them (`fixtures/rules/<CODE>/<story>/`), each with the expected verdict and
//! findings checked in beside it; and every sample webhook in `fixtures/webhooks/` gives
//! the verdicts its README promises: without CXone, and with the CXone data of the
//! scenario of the code it promises with CXone.
//!
//! A scenario directory holds the webhook (`event.json`, optional), the CXone bodies as
//! CXone returns them (`contact.json` with its `contactId` wrapper, `statehistory.json`,
//! `hierarchy.json`, `skill.json`, `skill-agents.json`, `skill-activity.json`,
//! `hours.json`, `active.json`; an absent file is a 404), `now.txt`, and an optional
//! `cxone.json` meta file: `{"configured": false}`, `{"unreachable": "auth"|"forbidden"|
//! "unavailable"}`, `{"failures": {"<file stem>": "<kind>"}}` (kinds as above, or
//! `"rejected"`), `{"timeZone": "<IANA name>"}` (`CXONE_TIME_ZONE`) and
//! `{"requiredContextKeys": [...]}`. `event.json` is read as the worker reads the queued
//! event (a `receivedAt` in it is the receiver's stamp). Run with `UPDATE_EXPECT=1` to
//! rewrite the `expected.json` files, then review the diff.

use std::path::{Path, PathBuf};

use handover_doctor::cxone::types::{
    AgentSkillAssignment, Contact, ContactState, Hierarchy, HoursOfOperation, Skill, SkillActivity,
};
use handover_doctor::cxone::{contact_to_read, skill_to_check};
use handover_doctor::diagnosis::evidence::{
    CxoneEvidence, CxoneFacts, CxoneProblem, Evidence, Lookup, ProblemKind,
};
use handover_doctor::diagnosis::{Code, Diagnosis, diagnose, explain, needs_recheck, render_text};
use handover_doctor::event::HandoverEvent;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display())),
    )
}

fn kind(s: &str) -> ProblemKind {
    match s {
        "auth" => ProblemKind::AuthFailed,
        "forbidden" => ProblemKind::Forbidden,
        "unavailable" => ProblemKind::Unavailable,
        "rejected" => ProblemKind::Rejected,
        other => panic!("unknown failure kind {other}"),
    }
}

fn problem(k: ProblemKind, what: &str) -> CxoneProblem {
    let detail = match k {
        ProblemKind::AuthFailed => "CXone's token endpoint answered 401 Unauthorized",
        ProblemKind::Forbidden => "CXone answered 403 Forbidden",
        ProblemKind::Unavailable => "CXone answered 503 Service Unavailable through every retry",
        ProblemKind::Rejected => "CXone answered 400 Bad Request",
    };
    CxoneProblem {
        kind: k,
        what: what.to_string(),
        detail: detail.to_string(),
    }
}

/// One look-up: not made at all when `looked` is false (whatever files exist); else the
/// failure the meta file names, else the file's body, else a 404.
fn lookup<T: serde::de::DeserializeOwned>(
    dir: &Path,
    meta: &Value,
    stem: &str,
    what: &str,
    looked: bool,
    pick: impl Fn(Value) -> Value,
) -> Lookup<T> {
    if !looked {
        return Lookup::NotLooked;
    }
    if let Some(k) = meta["failures"][stem].as_str() {
        return Lookup::Failed(problem(kind(k), what));
    }
    match read_json(&dir.join(format!("{stem}.json"))) {
        Some(body) => Lookup::Found(
            serde_json::from_value(pick(body))
                .unwrap_or_else(|e| panic!("{}/{stem}.json: {e}", dir.display())),
        ),
        None => Lookup::NotFound,
    }
}

/// Builds the evidence a scenario directory describes, the way the CXone gatherer would.
pub fn load_evidence(dir: &Path) -> Evidence {
    let event = std::fs::read(dir.join("event.json"))
        .ok()
        // The canonical form the worker reads (a `receivedAt` in it is kept).
        .map(|b| HandoverEvent::from_json(&b).expect("event.json is a valid event"));
    load_evidence_for(dir, event)
}

/// The evidence of a scenario directory's CXone data for another webhook (`event`).
fn load_evidence_for(dir: &Path, event: Option<HandoverEvent>) -> Evidence {
    let meta = read_json(&dir.join("cxone.json")).unwrap_or(json!({}));
    let now = std::fs::read_to_string(dir.join("now.txt"))
        .expect("now.txt")
        .trim()
        .parse()
        .expect("now.txt is RFC 3339");
    // The contact and the skill the real gatherer would read (`cxone::gather`).
    let contact_id = contact_to_read(event.as_ref(), None);
    let required_context_keys = meta["requiredContextKeys"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| vec!["routingData".to_string(), "customerInfo".to_string()]);

    let cxone = if meta["configured"] == json!(false) {
        CxoneEvidence::NotConfigured
    } else if let Some(k) = meta["unreachable"].as_str() {
        CxoneEvidence::Unreachable(problem(kind(k), "POST /auth/token"))
    } else {
        let id = contact_id.clone().unwrap_or_default();
        let has_id = contact_id.is_some();
        let contact: Lookup<Contact> = lookup(
            dir,
            &meta,
            "contact",
            &format!("GET /contacts/{id}"),
            has_id,
            |v| match v.get("contactId") {
                Some(inner @ Value::Object(_)) => inner.clone(),
                _ => v,
            },
        );
        let states: Lookup<Vec<ContactState>> = lookup(
            dir,
            &meta,
            "statehistory",
            &format!("GET /contacts/{id}/statehistory"),
            has_id,
            |v| v["contactStateHistory"].clone(),
        );
        let hierarchy: Lookup<Hierarchy> = lookup(
            dir,
            &meta,
            "hierarchy",
            &format!("GET /contacts/{id}/hierarchy"),
            has_id,
            |v| v,
        );
        let target = skill_to_check(
            event.as_ref(),
            contact.found(),
            states.found().map(Vec::as_slice),
        );
        let skill: Lookup<Skill> = lookup(
            dir,
            &meta,
            "skill",
            &format!("GET /skills/{}", target.clone().unwrap_or_default()),
            target.is_some(),
            |v| v,
        );
        let skill_id = skill
            .found()
            .and_then(|s| s.skill_id.clone())
            .unwrap_or_default();
        let skill_known = skill.found().is_some();
        let skill_agents: Lookup<Vec<AgentSkillAssignment>> = lookup(
            dir,
            &meta,
            "skill-agents",
            &format!("GET /skills/{skill_id}/agents"),
            skill_known,
            |v| v["agentSkillAssignments"].clone(),
        );
        let skill_activity: Lookup<SkillActivity> = lookup(
            dir,
            &meta,
            "skill-activity",
            &format!("GET /skills/{skill_id}/activity"),
            skill_known,
            |v| v["skillActivity"][0].clone(),
        );
        let hours: Lookup<HoursOfOperation> = lookup(
            dir,
            &meta,
            "hours",
            "GET /hours-of-operation",
            skill_known,
            |v| v,
        );
        let still_active = if let Some(k) = meta["failures"]["active"].as_str() {
            Lookup::Failed(problem(
                kind(k),
                &format!("GET /contacts/active?contactId={id}"),
            ))
        } else if !has_id {
            Lookup::NotLooked
        } else {
            Lookup::Found(
                read_json(&dir.join("active.json"))
                    .and_then(|v| v["activeContacts"].as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c["contactId"].to_string().trim_matches('"') == id),
            )
        };
        CxoneEvidence::Checked(Box::new(CxoneFacts {
            contact,
            states,
            hierarchy,
            still_active,
            skill,
            skill_agents,
            skill_activity,
            hours,
            time_zone: meta["timeZone"]
                .as_str()
                .map(|z| z.parse().expect("timeZone is an IANA name"))
                .unwrap_or_default(),
        }))
    };
    Evidence {
        event,
        contact_id,
        cxone,
        required_context_keys,
        now,
    }
}

/// The stable part of a diagnosis that `expected.json` pins.
fn summary(d: &Diagnosis) -> Value {
    json!({
        "verdict": d.verdict.code,
        "findings": d.findings.iter().map(|f| f.code).collect::<Vec<_>>(),
        "contactId": d.contact_id,
        "targetSkill": d.target_skill,
        "cxoneChecked": d.cxone.checked,
        "needsRecheck": needs_recheck(d),
        "messages": d.findings.iter().map(|f| json!([f.code, f.message])).collect::<Vec<_>>(),
    })
}

/// Every scenario: `raises` and `not-raised` for each code, then each code's other
/// stories (any other directory beside them), which raise the code too.
pub fn scenario_dirs() -> Vec<(Code, bool, PathBuf)> {
    let root = fixtures().join("rules");
    let mut out = Vec::new();
    for &code in Code::ALL {
        for (case, raises) in [("raises", true), ("not-raised", false)] {
            let dir = root.join(code.as_str()).join(case);
            assert!(dir.is_dir(), "missing fixture {}", dir.display());
            out.push((code, raises, dir));
        }
    }
    for &code in Code::ALL {
        for dir in other_stories(code) {
            out.push((code, true, dir));
        }
    }
    out
}

/// A code's stories besides `raises` and `not-raised`, sorted by name.
pub fn other_stories(code: Code) -> Vec<PathBuf> {
    let root = fixtures().join("rules").join(code.as_str());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n == "raises" || n == "not-raised")
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_code_is_raised_by_its_fixture_and_not_by_the_close_case() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for (code, raises, dir) in scenario_dirs() {
        let ev = load_evidence(&dir);
        let d = diagnose(&ev);
        if d.has(code) != raises {
            failures.push(format!(
                "{}: {code} {} but findings are {:?}",
                dir.display(),
                if raises { "not raised" } else { "raised" },
                d.findings.iter().map(|f| f.code).collect::<Vec<_>>()
            ));
        }
        // The report is printable and keeps the caller's number masked.
        let text = render_text(&d);
        let json = serde_json::to_string(&d).unwrap();
        for out in [&text, &json] {
            if out.contains("4155550123") {
                failures.push(format!("{}: the caller number leaked", dir.display()));
            }
        }
        let got = summary(&d);
        let path = dir.join("expected.json");
        if update {
            std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        match read_json(&path) {
            Some(want) if want == got => {}
            Some(want) => failures.push(format!(
                "{}: expected {}\n  got {}",
                dir.display(),
                serde_json::to_string_pretty(&want).unwrap(),
                serde_json::to_string_pretty(&got).unwrap()
            )),
            None => failures.push(format!("{}: no expected.json", dir.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_raising_fixture_has_its_own_code_as_verdict_unless_precedence_says_otherwise() {
    // Documented exceptions: a side finding that another code outranks on purpose.
    let outranked: &[(Code, Code)] = &[(Code::Hd502, Code::Hd205)];
    for (code, raises, dir) in scenario_dirs() {
        if !raises || !dir.ends_with("raises") {
            continue;
        }
        let d = diagnose(&load_evidence(&dir));
        let expected = outranked
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(code, |(_, v)| *v);
        assert_eq!(d.verdict.code, expected, "{}", dir.display());
        assert_eq!(d.findings[0].code, d.verdict.code, "verdict comes first");
    }
}

#[test]
fn every_sample_webhook_gives_the_verdict_its_readme_promises_without_cxone() {
    let dir = fixtures().join("webhooks");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut rows = 0;
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let file = cells[1].trim_matches('`');
        let want = Code::parse(cells[3].split_whitespace().next().unwrap())
            .unwrap_or_else(|| panic!("README row for {file} has no code"));
        let body = std::fs::read(dir.join(file)).unwrap();
        let event = HandoverEvent::parse(&body).unwrap_or_else(|e| panic!("{file}: {e}"));
        let ev = Evidence {
            contact_id: event.real_contact_id().map(str::to_string),
            event: Some(event),
            cxone: CxoneEvidence::NotConfigured,
            required_context_keys: vec!["routingData".into(), "customerInfo".into()],
            now: "2026-05-12T14:35:00Z".parse().unwrap(),
        };
        let d = diagnose(&ev);
        assert_eq!(d.verdict.code, want, "{file}: {}", render_text(&d));
        assert!(!d.cxone.checked);
        assert!(
            !needs_recheck(&d),
            "{file}: nothing to re-check without CXone"
        );
        rows += 1;
    }
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(rows, files, "every sample webhook has a README row");
}

#[test]
fn every_sample_webhook_gives_its_readme_verdict_with_cxone_on_that_codes_scenario_data() {
    let dir = fixtures().join("webhooks");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let file = cells[1].trim_matches('`');
        // "what CXone shows (...)": no single verdict to hold it to.
        let Some(want) = cells[4].split_whitespace().next().and_then(Code::parse) else {
            continue;
        };
        let event = HandoverEvent::parse(&std::fs::read(dir.join(file)).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let scenario = fixtures().join("rules").join(want.as_str()).join("raises");
        let d = diagnose(&load_evidence_for(&scenario, Some(event)));
        if d.verdict.code != want {
            failures.push(format!(
                "{file} on {}: expected {want}, got {}",
                scenario.display(),
                render_text(&d)
            ));
        }
        checked.push(file.to_string());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every story that only CXone can tell is held to its verdict.
    for story in std::fs::read_dir(&dir).unwrap() {
        let name = story.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("signal-ok-") || name == "false-alarm.json" {
            assert!(
                checked.contains(&name),
                "{name} has no CXone verdict checked"
            );
        }
    }
}

#[test]
fn explain_documents_every_code() {
    for &code in Code::ALL {
        let text = explain(code);
        assert!(
            text.starts_with(&format!("{code} {}", code.name())),
            "{text}"
        );
        for section in ["What it means", "Why it matters", "How to fix"] {
            assert!(text.contains(section), "{code} lacks {section}");
        }
    }
    let list = handover_doctor::diagnosis::explain_list();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), Code::ALL.len());
    for (line, code) in lines.iter().zip(Code::ALL) {
        assert!(
            line.starts_with(code.as_str()) && line.contains(code.name()),
            "{line}"
        );
    }
}

#[test]
fn staffing_is_judged_from_live_activity_only_within_the_documented_bound() {
    let bound = handover_doctor::diagnosis::LIVE_ACTIVITY_MAX_AGE.num_minutes();
    for code in [Code::Hd303, Code::Hd304] {
        let text = explain(code);
        assert!(text.contains(&format!("{bound} minutes")), "{code}: {text}");
    }
    // The same call and the same activity (nobody logged in): read 8 minutes after the
    // call ended it is the cause; read 18 minutes after, it is not evidence, and the
    // timeline says so.
    let root = fixtures().join("rules");
    let in_time = diagnose(&load_evidence(&root.join("HD303/raises")));
    assert_eq!(in_time.verdict.code, Code::Hd303);
    assert!(
        !in_time
            .timeline
            .iter()
            .any(|t| t.event == "LiveStaffingNotJudged")
    );
    let late = diagnose(&load_evidence(&root.join("HD205/staffing-read-too-late")));
    assert!(!late.has(Code::Hd303), "{:?}", late.findings);
    let note = late
        .timeline
        .iter()
        .find(|t| t.event == "LiveStaffingNotJudged")
        .expect("the timeline says why staffing was not judged");
    assert!(
        note.detail
            .contains("17 min 58 s after the contact ended (14:27:01 UTC)"),
        "{}",
        note.detail
    );
    assert!(
        render_text(&late)
            .contains("live staffing of Support_Voice_EN (4412877) could not be judged")
    );
}

#[test]
fn the_scenario_readme_table_matches_what_the_scenarios_give() {
    let root = fixtures().join("rules");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut rows = 0;
    for line in readme.lines().filter(|l| l.starts_with("| HD")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let d = diagnose(&load_evidence(&root.join(cells[1]).join(cells[2])));
        assert_eq!(d.verdict.code.as_str(), cells[3], "{line}");
        let findings: Vec<&str> = d.findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(findings.join(" "), cells[4], "{line}");
        rows += 1;
    }
    assert_eq!(
        rows,
        scenario_dirs().len(),
        "every scenario has a README row"
    );
}

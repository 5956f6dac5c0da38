//! One message's content, before it is shaped for a channel: the group it belongs to and
//! the (masked) diagnoses it covers. Slack, Teams and stdout render the same [`Report`], so
//! they always say the same thing.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::mask::Masker;
use crate::diagnosis::Code;
use crate::diagnosis::model::{Diagnosis, Finding, Severity, Verdict};

/// How many conversation ids a message lists before "and N more".
pub const LISTED_IDS: usize = 10;

/// What a message says about its group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfo {
    /// The shared verdict (code, name, and the title of the first diagnosis).
    pub verdict: Verdict,
    /// The shared target skill; `None` when the diagnoses did not name one.
    pub target_skill: Option<String>,
    /// False for the group's first message, true for a later update.
    pub update: bool,
    /// How many failures this message covers.
    pub count: usize,
    /// How many failures the group has collected so far, this message included.
    pub total: usize,
}

/// A message's content: the group and the diagnoses, already masked.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The group.
    pub group: GroupInfo,
    /// The diagnoses, in arrival order, with caller numbers masked. Shared with the
    /// notifier's memory when masking changed nothing (the worker masks before
    /// publishing), so a message covering thousands of failures copies none of them.
    pub diagnoses: Vec<Arc<Diagnosis>>,
}

/// A finding as a message shows it: the same finding from several diagnoses is shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownFinding<'a> {
    /// The finding (of the first diagnosis that had it).
    pub finding: &'a Finding,
    /// In how many of the message's diagnoses it appears.
    pub occurrences: usize,
}

impl Report {
    /// Builds a report, masking every caller number in the diagnoses. `update` and `total`
    /// describe the group; the verdict is taken from the first diagnosis.
    ///
    /// # Panics
    /// When `diagnoses` is empty: a message always covers at least one failure.
    pub fn new(
        target_skill: Option<String>,
        update: bool,
        total: usize,
        diagnoses: &[Diagnosis],
    ) -> Report {
        let shared = diagnoses.iter().cloned().map(Arc::new).collect();
        Self::from_shared(target_skill, update, total, shared)
    }

    /// [`Report::new`] over diagnoses the caller already shares: each is kept as it is
    /// unless masking changes it.
    ///
    /// # Panics
    /// When `diagnoses` is empty.
    pub fn from_shared(
        target_skill: Option<String>,
        update: bool,
        total: usize,
        diagnoses: Vec<Arc<Diagnosis>>,
    ) -> Report {
        assert!(
            !diagnoses.is_empty(),
            "a report covers at least one diagnosis"
        );
        let masker = Masker::for_diagnoses(diagnoses.iter().map(|d| &**d));
        let diagnoses: Vec<Arc<Diagnosis>> = diagnoses
            .into_iter()
            .map(|d| {
                let masked = masker.diagnosis(&d);
                if masked == *d { d } else { Arc::new(masked) }
            })
            .collect();
        Report {
            group: GroupInfo {
                verdict: diagnoses[0].verdict.clone(),
                target_skill,
                update,
                count: diagnoses.len(),
                total: total.max(diagnoses.len()),
            },
            diagnoses,
        }
    }

    /// `HD303 no-agents-logged-in`.
    pub fn code_and_name(&self) -> String {
        format!(
            "{} {}",
            self.group.verdict.code.as_str(),
            self.group.verdict.name
        )
    }

    /// The conversation ids in arrival order.
    pub fn conversation_ids(&self) -> impl Iterator<Item = &str> {
        self.diagnoses.iter().map(|d| d.conversation_id.as_str())
    }

    /// Up to [`LISTED_IDS`] conversation ids, and how many more there are.
    pub fn listed_ids(&self) -> (Vec<&str>, usize) {
        let listed: Vec<&str> = self.conversation_ids().take(LISTED_IDS).collect();
        let more = self.diagnoses.len() - listed.len();
        (listed, more)
    }

    /// One sentence on how many failures this message covers.
    pub fn count_sentence(&self) -> String {
        self.count_sentence_naming(self.group.target_skill.as_deref())
    }

    /// [`Report::count_sentence`] with the skill written as given: a channel passes it
    /// already cut and escaped for its markup.
    pub fn count_sentence_naming(&self, skill: Option<&str>) -> String {
        let g = &self.group;
        let skill = skill.map(|s| format!(" for skill {s}")).unwrap_or_default();
        let noun = |n: usize| {
            if n == 1 {
                "failed handover"
            } else {
                "failed handovers"
            }
        };
        if g.update {
            format!(
                "Update: {} more {}{skill} since the last message ({} in total)",
                g.count,
                noun(g.count),
                g.total
            )
        } else {
            format!("{} {}{skill}", g.count, noun(g.count))
        }
    }

    /// The one-line summary: code, name, count and the listed conversation ids.
    pub fn summary_line(&self) -> String {
        let (ids, more) = self.listed_ids();
        let mut line = format!(
            "{}: {} — conversation{} {}",
            self.code_and_name(),
            self.count_sentence(),
            if self.diagnoses.len() == 1 { "" } else { "s" },
            ids.join(", ")
        );
        if more > 0 {
            line.push_str(&format!(" and {more} more"));
        }
        line
    }

    /// The findings a message shows: every distinct finding of the first diagnosis, then
    /// for the others only codes not seen yet, since a group's diagnoses repeat the same
    /// finding with different numbers. `occurrences` (on the first finding of each code)
    /// counts the diagnoses that have the code.
    pub fn findings(&self) -> Vec<ShownFinding<'_>> {
        let mut shown: Vec<ShownFinding<'_>> = Vec::new();
        for (i, d) in self.diagnoses.iter().enumerate() {
            let mut counted: Vec<Code> = Vec::new();
            for f in &d.findings {
                let known_code = shown.iter().any(|s| s.finding.code == f.code);
                let identical = shown.iter().any(|s| {
                    s.finding.code == f.code
                        && s.finding.message == f.message
                        && s.finding.fix == f.fix
                });
                if (i == 0 && !identical) || !known_code {
                    shown.push(ShownFinding {
                        finding: f,
                        occurrences: 0,
                    });
                }
                if !counted.contains(&f.code) {
                    counted.push(f.code);
                    if let Some(first) = shown.iter_mut().find(|s| s.finding.code == f.code) {
                        first.occurrences += 1;
                    }
                }
            }
        }
        shown
    }

    /// The earliest and latest `diagnosedAt`.
    pub fn diagnosed_range(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let first = self.diagnoses.iter().map(|d| d.diagnosed_at).min();
        let last = self.diagnoses.iter().map(|d| d.diagnosed_at).max();
        // Never empty (see `new`).
        (first.unwrap_or_default(), last.unwrap_or_default())
    }

    /// "Diagnosed at …" (or "Diagnosed … – …" for a group spanning time).
    pub fn diagnosed_sentence(&self) -> String {
        let (first, last) = self.diagnosed_range();
        let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (first, last) = (fmt(first), fmt(last));
        if first == last {
            format!("Diagnosed at {first}")
        } else {
            format!("Diagnosed {first} – {last}")
        }
    }
}

/// How long the caller waited, in seconds, when a finding's evidence says so (a numeric
/// value under a key naming a wait, such as `waitSeconds` or `queueWaitSecs`).
pub fn waited_secs(d: &Diagnosis) -> Option<f64> {
    d.findings.iter().find_map(|f| {
        f.evidence.iter().find_map(|(k, v)| {
            let key = k.to_ascii_lowercase();
            if !key.contains("wait") {
                return None;
            }
            match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
        })
    })
}

/// `error`, `warning` or `info`.
pub fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// `42 s`, or `1.5 s`.
pub fn format_secs(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.1} s")
    }
}

/// Cuts `s` to at most `max` characters, ending in `…` when it had to cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// A diagnosis for tests: verdict `code`, with a finding whose evidence has a wait.
    pub(crate) fn diagnosis(code: &str, conv: &str, skill: Option<&str>) -> Diagnosis {
        let c = crate::diagnosis::Code::parse(code).unwrap();
        serde_json::from_value(json!({
            "eventId": format!("ev-{conv}"),
            "conversationId": conv,
            "contactId": "745512890123",
            "targetSkill": skill,
            "verdict": {"code": code, "name": c.name(), "title": format!("{} happened", c.name())},
            "findings": [{
                "code": code, "name": c.name(), "severity": "error",
                "message": format!("{} for skill {}", c.name(), skill.unwrap_or("?")),
                "fix": "Log agents in to the skill", "evidence": {"waitSeconds": 42}
            }],
            "cxone": {"checked": true, "error": null},
            "timeline": [],
            "diagnosedAt": "2026-05-12T14:30:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn a_group_lists_ten_ids_and_says_how_many_more() {
        let ds: Vec<Diagnosis> = (0..25)
            .map(|i| diagnosis("HD303", &format!("conv-{i}"), Some("Support")))
            .collect();
        let r = Report::new(Some("Support".into()), false, 25, &ds);
        let line = r.summary_line();
        assert!(
            line.starts_with("HD303 no-agents-logged-in: 25 failed handovers for skill Support"),
            "{line}"
        );
        assert!(
            line.contains("conv-9") && !line.contains("conv-10"),
            "{line}"
        );
        assert!(line.ends_with("and 15 more"), "{line}");
        assert_eq!(r.findings().len(), 1);
        assert_eq!(r.findings()[0].occurrences, 25);
    }

    #[test]
    fn a_group_shows_each_finding_code_once_with_how_many_diagnoses_have_it() {
        let ds: Vec<Diagnosis> = (0..5)
            .map(|i| {
                let mut d = diagnosis("HD303", &format!("c{i}"), Some("S"));
                d.findings[0].message = format!("waited {i} s");
                if i % 2 == 0 {
                    let mut extra = d.findings[0].clone();
                    extra.code = Code::Hd205;
                    d.findings.push(extra);
                }
                d
            })
            .collect();
        let r = Report::new(Some("S".into()), false, 5, &ds);
        let f = r.findings();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].finding.code, f[0].occurrences), (Code::Hd303, 5));
        assert_eq!((f[1].finding.code, f[1].occurrences), (Code::Hd205, 3));
        assert_eq!(f[0].finding.message, "waited 0 s");
    }

    #[test]
    fn one_diagnosis_shows_all_its_findings() {
        let mut d = diagnosis("HD303", "c1", None);
        let mut second = d.findings[0].clone();
        second.message = "another problem with the same code".into();
        d.findings.push(second);
        let r = Report::new(None, false, 1, &[d]);
        assert_eq!(r.findings().len(), 2);
    }

    #[test]
    fn an_update_says_how_many_are_new_and_the_total() {
        let ds = vec![diagnosis("HD303", "c1", None)];
        let r = Report::new(None, true, 7, &ds);
        assert_eq!(
            r.count_sentence(),
            "Update: 1 more failed handover since the last message (7 in total)"
        );
    }

    #[test]
    fn waited_seconds_come_from_evidence() {
        let d = diagnosis("HD303", "c1", None);
        assert_eq!(waited_secs(&d), Some(42.0));
        assert_eq!(format_secs(42.0), "42 s");
        assert_eq!(format_secs(1.25), "1.2 s");
    }

    #[test]
    fn truncation_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("äbcdef", 4), "äbc…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}

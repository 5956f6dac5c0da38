//! The Diagnosis: what the worker produces and the notifier reports (CONTRACT.md section 7).
//!
//! This is a wire format: it travels through `P.reports` as JSON and is printed by
//! `diagnose --format json`. Field names are camelCase; add fields, never rename.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::codes::Code;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A cause of the failed handover.
    Error,
    /// Something that probably contributed, or will bite next time.
    Warning,
    /// Context: a false alarm, pending data, a side note.
    Info,
}

/// The root cause chosen among the findings by the fixed precedence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The finding code, e.g. `HD303`.
    pub code: Code,
    /// Its stable name, e.g. `no-agents-logged-in`.
    pub name: String,
    /// One line a person reads first.
    pub title: String,
}

/// One thing the rules found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The finding code.
    pub code: Code,
    /// Its stable name.
    pub name: String,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong, with the concrete values.
    pub message: String,
    /// What to do about it, in Cognigy or CXone terms.
    pub fix: String,
    /// The facts the rule looked at (ids, seconds, statuses). Never secrets; caller
    /// numbers only masked.
    #[serde(default)]
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

/// Whether CXone was consulted, and what went wrong if it could not be.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CxoneCheck {
    /// True when CXone data was read for this diagnosis.
    pub checked: bool,
    /// Why CXone was not (fully) checked, in one sentence.
    pub error: Option<String>,
}

/// Where a timeline entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// CXone's contact or state history.
    Cxone,
    /// The Cognigy webhook event.
    Cognigy,
}

/// One moment of the contact's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who told us.
    pub source: Source,
    /// What happened, e.g. `InQueue`.
    pub event: String,
    /// Details (skill, agent, seconds).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The full result of diagnosing one failed handover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnosis {
    /// The webhook event id (or `scan:<contactId>` for contacts found by `scan`).
    pub event_id: String,
    /// The Cognigy conversation (session) id.
    pub conversation_id: String,
    /// The CXone contact the diagnosis is about, when known.
    pub contact_id: Option<String>,
    /// That contact's CXone master contact, when known (CXone's record, else the event's).
    /// Lets the notifier tell that a scanned contact and a webhook report are the same call
    /// when one names the master contact and the other the spawned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_contact_id: Option<String>,
    /// The skill the bot wanted to hand over to (name or id as the event gave it, or as
    /// CXone reported it); one half of the notifier's grouping key.
    #[serde(default)]
    pub target_skill: Option<String>,
    /// The root cause.
    pub verdict: Verdict,
    /// Everything found, verdict first.
    pub findings: Vec<Finding>,
    /// Whether CXone was consulted.
    pub cxone: CxoneCheck,
    /// The contact's life, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// When this diagnosis was made.
    pub diagnosed_at: DateTime<Utc>,
}

impl Diagnosis {
    /// True when a finding with this code is present.
    pub fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

//! What the rules look at: the webhook event (if any) and what CXone knew about the
//! contact and its target skill, gathered once per diagnosis by `cxone::gather`.
//!
//! Rules never do I/O; they read this struct. That keeps every rule a pure function that a
//! fixture can drive.

use chrono::{DateTime, Utc};

use crate::cxone::types::{
    AgentSkillAssignment, Contact, ContactState, Hierarchy, HoursOfOperation, Skill, SkillActivity,
};
use crate::event::HandoverEvent;

/// Why one of our own CXone look-ups failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Our token request was refused (bad client id/secret or access key): HD501.
    AuthFailed,
    /// Our API user may not read this data (403): HD502.
    Forbidden,
    /// Timeouts, 5xx or 429 through every retry: HD503.
    Unavailable,
    /// CXone answered, but with something a retry would only repeat: another 4xx (400,
    /// 405, ...) or a body we could not read. Not retried; reported under HD503 with its
    /// own wording (it is no outage).
    Rejected,
}

impl ProblemKind {
    /// True when diagnosing again later may read what failed now: only
    /// [`ProblemKind::Unavailable`] (the client's own retries ran out on timeouts, 5xx or
    /// 429). Refused credentials, a 403 and a [`ProblemKind::Rejected`] answer would come
    /// back the same.
    pub fn is_transient(self) -> bool {
        self == ProblemKind::Unavailable
    }
}

/// A failed CXone look-up, with one sentence for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct CxoneProblem {
    /// What kind of failure.
    pub kind: ProblemKind,
    /// What was being read, e.g. `GET /skills/4412877/activity`.
    pub what: String,
    /// One human sentence, with the HTTP status where there was one. No secrets.
    pub detail: String,
}

/// The result of one look-up.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Lookup<T> {
    /// Not attempted (nothing to look up, or CXone not configured).
    #[default]
    NotLooked,
    /// CXone answered with the thing.
    Found(T),
    /// CXone answered 404 / 204: no such thing (yet).
    NotFound,
    /// The look-up failed.
    Failed(CxoneProblem),
}

impl<T> Lookup<T> {
    /// The found value, if any.
    pub fn found(&self) -> Option<&T> {
        match self {
            Lookup::Found(t) => Some(t),
            _ => None,
        }
    }
}

/// Everything CXone told us, when CXone is configured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CxoneFacts {
    /// `GET /contacts/{contactId}` for the event's (spawned) contact id.
    pub contact: Lookup<Contact>,
    /// The state history, oldest first (empty when not found or not read).
    pub states: Lookup<Vec<ContactState>>,
    /// `GET /contacts/{contactId}/hierarchy`.
    pub hierarchy: Lookup<Hierarchy>,
    /// Whether `GET /contacts/active?contactId=` still lists the contact.
    pub still_active: Lookup<bool>,
    /// The target skill: from the event's `targetSkill` (id, or name resolved through the
    /// skills list), else the skill the contact was last queued on; not looked at for a
    /// contact that never queued (`cxone::skill_to_check`).
    pub skill: Lookup<Skill>,
    /// `GET /skills/{id}/agents`.
    pub skill_agents: Lookup<Vec<AgentSkillAssignment>>,
    /// `GET /skills/{id}/activity` (first entry).
    pub skill_activity: Lookup<SkillActivity>,
    /// The hours-of-operation profile whose `skills[]` holds the skill.
    pub hours: Lookup<HoursOfOperation>,
    /// The business unit's time zone (`CXONE_TIME_ZONE`, default UTC): the profile's
    /// opening times are local times of this zone.
    pub time_zone: chrono_tz::Tz,
}

/// Whether and how CXone was consulted.
#[derive(Debug, Clone, PartialEq)]
pub enum CxoneEvidence {
    /// No CXone credentials configured: payload rules only, `cxone.checked = false`.
    NotConfigured,
    /// We could not even get a token or discover the API: nothing was read.
    Unreachable(CxoneProblem),
    /// What the look-ups returned (each may have failed on its own).
    Checked(Box<CxoneFacts>),
}

/// The input of every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The webhook event; `None` for contacts found by `scan` (rules that need an event
    /// are then simply not raised).
    pub event: Option<HandoverEvent>,
    /// The contact being diagnosed (the event's, or the scanned one).
    pub contact_id: Option<String>,
    /// What CXone said.
    pub cxone: CxoneEvidence,
    /// `REQUIRED_CONTEXT_KEYS`.
    pub required_context_keys: Vec<String>,
    /// "Now", for rules that compare times (tests pin it).
    pub now: DateTime<Utc>,
}

/// One of the look-ups of [`CxoneFacts`], to name which one failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// [`CxoneFacts::contact`].
    Contact,
    /// [`CxoneFacts::states`].
    States,
    /// [`CxoneFacts::hierarchy`].
    Hierarchy,
    /// [`CxoneFacts::still_active`].
    StillActive,
    /// [`CxoneFacts::skill`].
    Skill,
    /// [`CxoneFacts::skill_agents`].
    SkillAgents,
    /// [`CxoneFacts::skill_activity`].
    SkillActivity,
    /// [`CxoneFacts::hours`].
    Hours,
}

impl CxoneFacts {
    /// Every look-up that failed, with which one it was, in a fixed order (contact reads
    /// first). The one list of the look-ups: [`CxoneFacts::problems`], the report's CXone
    /// check and the worker's retry decision all read it.
    pub fn failed_reads(&self) -> Vec<(Read, &CxoneProblem)> {
        fn failed<T>(read: Read, l: &Lookup<T>) -> Option<(Read, &CxoneProblem)> {
            match l {
                Lookup::Failed(p) => Some((read, p)),
                _ => None,
            }
        }
        [
            failed(Read::Contact, &self.contact),
            failed(Read::States, &self.states),
            failed(Read::Hierarchy, &self.hierarchy),
            failed(Read::StillActive, &self.still_active),
            failed(Read::Skill, &self.skill),
            failed(Read::SkillAgents, &self.skill_agents),
            failed(Read::SkillActivity, &self.skill_activity),
            failed(Read::Hours, &self.hours),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Every look-up that failed, in a fixed order (contact reads first).
    pub fn problems(&self) -> Vec<&CxoneProblem> {
        self.failed_reads().into_iter().map(|(_, p)| p).collect()
    }
}

impl CxoneEvidence {
    /// Every failure of the CXone check: the one that stopped it before any read
    /// (no token, no API endpoint), else each failed look-up.
    pub fn problems(&self) -> Vec<&CxoneProblem> {
        match self {
            CxoneEvidence::NotConfigured => Vec::new(),
            CxoneEvidence::Unreachable(p) => vec![p],
            CxoneEvidence::Checked(f) => f.problems(),
        }
    }
}

impl Evidence {
    /// The CXone facts, when CXone was checked.
    pub fn facts(&self) -> Option<&CxoneFacts> {
        match &self.cxone {
            CxoneEvidence::Checked(f) => Some(f),
            _ => None,
        }
    }

    /// The contact, when CXone returned it.
    pub fn contact(&self) -> Option<&Contact> {
        self.facts().and_then(|f| f.contact.found())
    }

    /// The state history, oldest first, when read.
    pub fn states(&self) -> &[ContactState] {
        self.facts()
            .and_then(|f| f.states.found())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// When the handover was requested: the event's `occurredAt`, else (a flow that does
    /// not send it) when the receiver got the webhook, `receivedAt` — a little after the
    /// request, since the flow reports once the signal call has returned.
    pub fn requested_at(&self) -> Option<DateTime<Utc>> {
        let e = self.event.as_ref()?;
        e.occurred_at.or(e.received_at)
    }

    /// True when [`Evidence::requested_at`] is the receive time (the event had no
    /// `occurredAt`), so messages can say which time they compare.
    pub fn requested_at_is_receive_time(&self) -> bool {
        self.event
            .as_ref()
            .is_some_and(|e| e.occurred_at.is_none() && e.received_at.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(kind: ProblemKind, what: &str) -> CxoneProblem {
        CxoneProblem {
            kind,
            what: what.into(),
            detail: format!("{what} failed"),
        }
    }

    #[test]
    fn only_an_outage_is_transient() {
        assert!(ProblemKind::Unavailable.is_transient());
        for kind in [
            ProblemKind::AuthFailed,
            ProblemKind::Forbidden,
            ProblemKind::Rejected,
        ] {
            assert!(!kind.is_transient(), "{kind:?}");
        }
    }

    #[test]
    fn every_failed_look_up_is_listed_once_the_active_check_included() {
        let facts = CxoneFacts {
            still_active: Lookup::Failed(problem(ProblemKind::Unavailable, "GET /contacts/active")),
            hours: Lookup::Failed(problem(ProblemKind::Rejected, "GET /hours-of-operation")),
            ..CxoneFacts::default()
        };
        let reads: Vec<Read> = facts.failed_reads().iter().map(|(r, _)| *r).collect();
        assert_eq!(reads, [Read::StillActive, Read::Hours]);
        assert_eq!(facts.problems().len(), 2);
    }
}

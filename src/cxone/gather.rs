//! Gathering a diagnosis's CXone evidence: every look-up the rules read, run at once
//! where they do not depend on each other, each result kept as a [`Lookup`] so one
//! failed read never hides what the others found.
//!
//! Which contact and which skill are read is decided by [`contact_to_read`] and
//! [`skill_to_check`], which the rule fixtures' loader uses too, so a scenario read from
//! files and one read from CXone look at the same things.

use crate::diagnosis::evidence::{CxoneEvidence, CxoneFacts, Lookup};
use crate::diagnosis::rules::support::{is_end_state, is_queue_state};
use crate::diagnosis::signal::{SignalResult, parse_signal_result};
use crate::event::{HandoverEvent, PLACEHOLDER_CONTACT_ID};

use super::client::CxoneClient;
use super::error::CxoneError;
use super::types::{
    AgentSkillAssignment, Contact, ContactState, Hierarchy, HoursOfOperation, Skill, SkillActivity,
};

fn lookup<T>(r: Result<Option<T>, CxoneError>) -> Lookup<T> {
    match r {
        Ok(Some(t)) => Lookup::Found(t),
        Ok(None) | Err(CxoneError::NotFound { .. }) => Lookup::NotFound,
        Err(e) => Lookup::Failed(e.to_problem()),
    }
}

/// The skill the handover wanted, as the event names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SkillRef {
    Id(String),
    Name(String),
}

impl SkillRef {
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() {
            None
        } else if s.chars().all(|c| c.is_ascii_digit()) {
            Some(SkillRef::Id(s.to_string()))
        } else {
            Some(SkillRef::Name(s.to_string()))
        }
    }
}

/// The skill-level facts.
struct SkillFacts {
    skill: Lookup<Skill>,
    agents: Lookup<Vec<AgentSkillAssignment>>,
    activity: Lookup<SkillActivity>,
    hours: Lookup<HoursOfOperation>,
}

impl SkillFacts {
    fn not_looked() -> Self {
        SkillFacts {
            skill: Lookup::NotLooked,
            agents: Lookup::NotLooked,
            activity: Lookup::NotLooked,
            hours: Lookup::NotLooked,
        }
    }
}

async fn skill_facts(client: &CxoneClient, target: SkillRef) -> SkillFacts {
    let (id, listed) = match target {
        SkillRef::Id(id) => (id, None),
        SkillRef::Name(name) => match client.skill_by_name(&name).await {
            Ok(Some(skill)) => match skill.skill_id.clone() {
                // Known by name: read its details by id, keeping the list entry in case
                // the detail read fails.
                Some(id) => (id, Some(skill)),
                None => {
                    return SkillFacts {
                        skill: Lookup::Found(skill),
                        ..SkillFacts::not_looked()
                    };
                }
            },
            other => {
                return SkillFacts {
                    skill: lookup(other),
                    ..SkillFacts::not_looked()
                };
            }
        },
    };
    let (skill, agents, activity, hours) = tokio::join!(
        client.skill(&id),
        client.skill_agents(&id),
        client.skill_activity(&id),
        client.hours_for_skill(&id),
    );
    let skill = match (lookup(skill), listed) {
        (Lookup::Found(s), _) => Lookup::Found(s),
        (_, Some(listed)) => Lookup::Found(listed),
        (other, None) => other,
    };
    SkillFacts {
        skill,
        agents: lookup(agents),
        activity: lookup(activity),
        hours: lookup(hours),
    }
}

/// The contact-level answers; `None` where the first two made the read needless.
struct ContactReads {
    contact: Result<Option<Contact>, CxoneError>,
    states: Result<Option<Vec<ContactState>>, CxoneError>,
    hierarchy: Option<Result<Option<Hierarchy>, CxoneError>>,
    active: Option<Result<bool, CxoneError>>,
}

/// The contact and its history first; then `/hierarchy` and `/contacts/active` only when
/// those two leave their question open, because a storm must not spend the tenant's
/// shared API quota on answers the record already gives (4 reads become 2 for a
/// completed, spawned contact).
async fn contact_reads(client: &CxoneClient, id: &str) -> ContactReads {
    let (contact, states) = tokio::join!(client.get_contact(id), client.state_history(id));
    let record = contact.as_ref().ok().and_then(Option::as_ref);
    let history = states.as_ref().ok().and_then(Option::as_deref);
    let ended = record.is_some_and(|c| shows_ended(c, history));
    // HD202 needs the hierarchy only to tell a master from its children: a record that
    // names another master already says which call the contact belongs to.
    let names_master = record
        .and_then(|c| c.master_contact_id.as_deref())
        .is_some_and(|m| m != id);
    let (hierarchy, active) = tokio::join!(
        async {
            if names_master {
                None
            } else {
                Some(client.hierarchy(id).await)
            }
        },
        async {
            if ended {
                None
            } else {
                Some(client.is_active(id).await)
            }
        },
    );
    ContactReads {
        contact,
        states,
        hierarchy,
        active,
    }
}

/// Whether the contact record (or its history) says the contact is over: CXone's own
/// `isActive` when it gives one, else whether the current state is a final one, else its
/// end time or the last state of its history.
fn shows_ended(c: &Contact, states: Option<&[ContactState]>) -> bool {
    if let Some(active) = c.is_active {
        return !active;
    }
    match c.state_name.as_deref() {
        Some(current) => is_end_state(current),
        None => {
            c.end_time().is_some()
                || states
                    .and_then(<[ContactState]>::last)
                    .and_then(|s| s.contact_state_name.as_deref())
                    .is_some_and(is_end_state)
        }
    }
}

/// The contact a diagnosis reads: `contact_id` when given, else the event's
/// `cxone.contactId`, else the contact id the extension named in `signalResult`
/// (`... for contactId: N`, which is the id it really signalled); never an empty id or the
/// placeholder `100000000000`.
pub fn contact_to_read(event: Option<&HandoverEvent>, contact_id: Option<&str>) -> Option<String> {
    let usable = |id: &str| {
        let id = id.trim();
        (!id.is_empty() && id != PLACEHOLDER_CONTACT_ID).then(|| id.to_string())
    };
    if let Some(id) = contact_id.and_then(usable) {
        return Some(id);
    }
    let event = event?;
    if let Some(id) = event.cxone.contact_id.as_deref().and_then(usable) {
        return Some(id);
    }
    let named = match parse_signal_result(event.handover.signal_result.as_deref()?)? {
        SignalResult::Signaled { contact_id, .. } => contact_id,
        SignalResult::Failed(err) => err.contact_id,
    };
    named.as_deref().and_then(usable)
}

/// The skill whose configuration, agents, activity and hours a diagnosis checks, as the
/// event or CXone names it (all digits: an id; else a name).
///
/// The event's `handover.targetSkill` when it names one. Without it, the skill the contact
/// was last *queued* on: the skill of the last queued state of its state history, or —
/// when the history is not available — the contact's own `skillId` if the contact shows
/// it reached a queue. A contact that never queued gets no skill: its `skillId` is then
/// the bot's pre-queue (IVR) skill, which has no agents by design, and checking it would
/// blame the wrong skill (HD303/HD302/HD305 over the real HD204/HD203).
pub fn skill_to_check(
    event: Option<&HandoverEvent>,
    contact: Option<&Contact>,
    states: Option<&[ContactState]>,
) -> Option<String> {
    let target = event
        .and_then(|e| e.handover.target_skill.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(t) = target {
        return Some(t.to_string());
    }
    match states.filter(|s| !s.is_empty()) {
        Some(states) => states
            .iter()
            .rev()
            .filter(|s| s.contact_state_name.as_deref().is_some_and(is_queue_state))
            .find_map(|s| s.skill_id.clone().or_else(|| s.skill_name.clone())),
        None => {
            let c = contact?;
            let queued = c.state_name.as_deref().is_some_and(is_queue_state)
                || c.in_queue_seconds.is_some_and(|s| s > 0.0);
            if queued {
                c.skill_id.clone().or_else(|| c.skill_name.clone())
            } else {
                None
            }
        }
    }
}

/// What CXone knows about the event's contact and its target skill.
///
/// * no client: [`CxoneEvidence::NotConfigured`];
/// * no token or no API endpoint: [`CxoneEvidence::Unreachable`] with the problem
///   (`AuthFailed`, `Forbidden` or `Unavailable`);
/// * otherwise [`CxoneEvidence::Checked`], each look-up on its own (a failed
///   `/contacts/active` read included: it shows as HD502/HD503 like any other).
///
/// The contact is [`contact_to_read`]; an absent id or the placeholder skips the contact
/// reads, and an id that is not a number reads as "not found" without asking (CXone
/// contact ids are numbers).
///
/// The skill is [`skill_to_check`]: the event's `handover.targetSkill` (a name is looked
/// up in the skills list, whose entry stands in when the detail read fails), else the
/// skill the contact was queued on, else none. Skill reads are cached
/// (`CXONE_CACHE_TTL_SECS`); contact reads never are, so a re-check sees the contact as it
/// is now. `/contacts/{id}/hierarchy` is read only when the record names no other master,
/// and `/contacts/active` only when the record does not show the contact ended.
pub async fn gather(
    client: Option<&CxoneClient>,
    event: Option<&HandoverEvent>,
    contact_id: Option<&str>,
) -> CxoneEvidence {
    let Some(client) = client else {
        return CxoneEvidence::NotConfigured;
    };
    if let Err(e) = client.session().await {
        tracing::warn!(error = %e, "CXone is unreachable; diagnosing without it");
        return CxoneEvidence::Unreachable(e.to_problem());
    }

    let contact_id = contact_to_read(event, contact_id);
    let contact_id = contact_id.as_deref();
    let event_skill = skill_to_check(event, None, None)
        .as_deref()
        .and_then(SkillRef::parse);

    // CXone contact ids are numbers: anything else (an unrendered `{{...}}` template, a
    // Cognigy session id) names no contact, and asking CXone would only earn a 400.
    let numeric = contact_id.is_some_and(|id| id.chars().all(|c| c.is_ascii_digit()));
    let contact_reads = async {
        match contact_id {
            Some(id) if numeric => Some(contact_reads(client, id).await),
            _ => None,
        }
    };
    let event_skill_reads = async {
        match event_skill.clone() {
            Some(target) => Some(skill_facts(client, target).await),
            None => None,
        }
    };
    let (contact_reads, event_skill_facts) = tokio::join!(contact_reads, event_skill_reads);

    let mut facts = CxoneFacts {
        time_zone: client.settings().time_zone,
        ..CxoneFacts::default()
    };
    if let Some(reads) = contact_reads {
        facts.contact = lookup(reads.contact);
        facts.states = lookup(reads.states);
        facts.hierarchy = match reads.hierarchy {
            Some(h) => lookup(h),
            None => Lookup::NotLooked,
        };
        facts.still_active = match reads.active {
            Some(Ok(live)) => Lookup::Found(live),
            Some(Err(e)) => lookup(Err(e)),
            // The record itself says the contact is over.
            None => Lookup::Found(false),
        };
    } else if contact_id.is_some() {
        facts.contact = Lookup::NotFound;
    }

    let skill = match event_skill_facts {
        Some(f) => f,
        None => {
            let queued_on = skill_to_check(
                None,
                facts.contact.found(),
                facts.states.found().map(Vec::as_slice),
            );
            match queued_on.as_deref().and_then(SkillRef::parse) {
                Some(target) => skill_facts(client, target).await,
                None => SkillFacts::not_looked(),
            }
        }
    };
    facts.skill = skill.skill;
    facts.skill_agents = skill.agents;
    facts.skill_activity = skill.activity;
    facts.hours = skill.hours;
    CxoneEvidence::Checked(Box::new(facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_name_a_skill_id_and_anything_else_a_skill_name() {
        assert_eq!(
            SkillRef::parse(" 4412877 "),
            Some(SkillRef::Id("4412877".into()))
        );
        assert_eq!(
            SkillRef::parse("Support_Voice_EN"),
            Some(SkillRef::Name("Support_Voice_EN".into()))
        );
        assert_eq!(SkillRef::parse("  "), None);
    }

    #[test]
    fn gathering_can_run_on_any_worker_task() {
        fn assert_send<T: Send + 'static>(_: &T) {}
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<CxoneClient>();
        let client = CxoneClient::new(
            crate::cxone::CxoneSettings {
                client_id: Some("a".into()),
                client_secret: Some("b".to_string().into()),
                access_key_id: Some("c".to_string().into()),
                access_key_secret: Some("d".to_string().into()),
                ..Default::default()
            },
            std::sync::Arc::new(crate::metrics::Metrics::new()),
        )
        .unwrap();
        let fut = async move { gather(Some(&client), None, Some("1")).await };
        assert_send(&fut);
        let c2 = CxoneClient::new(
            crate::cxone::CxoneSettings {
                client_id: Some("a".into()),
                client_secret: Some("b".to_string().into()),
                access_key_id: Some("c".to_string().into()),
                access_key_secret: Some("d".to_string().into()),
                ..Default::default()
            },
            std::sync::Arc::new(crate::metrics::Metrics::new()),
        )
        .unwrap();
        let pages = async move {
            let now = chrono::Utc::now();
            c2.completed_contacts(now, now, None, None).await
        };
        assert_send(&pages);
    }

    #[tokio::test]
    async fn without_a_client_cxone_is_not_configured() {
        assert_eq!(
            gather(None, None, Some("1")).await,
            CxoneEvidence::NotConfigured
        );
    }

    #[test]
    fn a_not_found_error_is_a_not_found_lookup_and_others_are_failures() {
        let l: Lookup<u8> = lookup(Err(CxoneError::NotFound { what: "x".into() }));
        assert_eq!(l, Lookup::NotFound);
        let l: Lookup<u8> = lookup(Err(CxoneError::Forbidden { what: "x".into() }));
        assert!(
            matches!(l, Lookup::Failed(p) if p.kind == crate::diagnosis::evidence::ProblemKind::Forbidden)
        );
        assert_eq!(lookup(Ok(Some(3u8))), Lookup::Found(3));
        assert_eq!(lookup::<u8>(Ok(None)), Lookup::NotFound);
    }
}

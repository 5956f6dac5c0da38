//! What several rules need to read the evidence the same way: the parsed signal result,
//! the contact's end, whether it reached a queue, the target skill, and the masking and
//! clipping that keep caller numbers and secrets out of findings.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use crate::cxone::types::{Contact, ContactState, SkillActivity};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::{CxoneEvidence, CxoneProblem, Evidence, ProblemKind, Read};
use crate::diagnosis::model::{Finding, Severity};
use crate::diagnosis::signal::{self, SignalError, SignalResult};
use crate::event::{HandoverEvent, Mechanism, PLACEHOLDER_CONTACT_ID};

/// How long after the handover request a contact's end still counts as "the caller hung up
/// while the handover was requested" (CONTRACT.md section 7, the timing rule).
pub const HANGUP_GRACE: Duration = Duration::seconds(10);

/// Builds a finding for `code`.
pub fn finding(
    code: Code,
    severity: Severity,
    message: impl Into<String>,
    fix: impl Into<String>,
    evidence: Value,
) -> Finding {
    let evidence = match evidence {
        Value::Object(map) => map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .collect::<Map<_, _>>(),
        _ => Map::new(),
    };
    Finding {
        code,
        name: code.name().to_string(),
        severity,
        message: message.into(),
        fix: fix.into(),
        evidence,
    }
}

/// The event, when there is one.
pub fn event(ev: &Evidence) -> Option<&HandoverEvent> {
    ev.event.as_ref()
}

/// `context.CXoneHandover`, parsed.
pub fn signal_result(ev: &Evidence) -> Option<SignalResult> {
    event(ev)?
        .handover
        .signal_result
        .as_deref()
        .and_then(signal::parse_signal_result)
}

/// The extension's error: from `signalResult`, else from `extensionError` when that holds
/// one of the extension's CXone messages (a timeout is not one).
pub fn signal_error(ev: &Evidence) -> Option<SignalError> {
    if let Some(SignalResult::Failed(e)) = signal_result(ev) {
        return Some(e);
    }
    let ext = event(ev)?.handover.extension_error.as_deref()?;
    match signal::parse_signal_result(ext) {
        Some(SignalResult::Failed(e)) => Some(e),
        _ => None,
    }
}

/// True when the bot reported that CXone accepted the signal (whatever its action).
pub fn signal_accepted(ev: &Evidence) -> bool {
    matches!(signal_result(ev), Some(SignalResult::Signaled { .. }))
}

/// The action the bot signalled: the one `signalResult` names (`'Escalate'`, `'End'`),
/// else the event's `requestedAction`.
pub fn signalled_action(ev: &Evidence) -> Option<String> {
    let named = match signal_result(ev) {
        Some(SignalResult::Signaled { action, .. }) => action,
        Some(SignalResult::Failed(err)) => err.action,
        None => None,
    };
    named
        .or_else(|| event(ev)?.handover.requested_action.clone())
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
}

/// True when the bot asked for an agent: the action is `Escalate`, or unnamed (the Exit
/// Interaction node's usual action). `End` — the bot ending the contact itself — and any
/// other action are not a handover request.
pub fn is_escalation(ev: &Evidence) -> bool {
    signalled_action(ev).is_none_or(|a| a.eq_ignore_ascii_case("escalate"))
}

/// True when CXone accepted a signal that asked for an agent: the start of the HD203/HD204
/// timing rule.
pub fn escalation_accepted(ev: &Evidence) -> bool {
    signal_accepted(ev) && is_escalation(ev)
}

/// True when CXone accepted the bot's `End` signal: the bot ended the contact instead of
/// escalating it.
pub fn end_accepted(ev: &Evidence) -> bool {
    signal_accepted(ev) && signalled_action(ev).is_some_and(|a| a.eq_ignore_ascii_case("end"))
}

/// "the handover was requested at 14:26:58 UTC", or — without `occurredAt` — "the bot's
/// report was received at 14:27:03 UTC (the event has no occurredAt)".
pub fn requested_phrase(ev: &Evidence) -> Option<String> {
    let at = ev.requested_at()?;
    Some(if ev.requested_at_is_receive_time() {
        format!(
            "the bot's report was received at {} (the event has no occurredAt)",
            hms(at)
        )
    } else {
        format!("the handover was requested at {}", hms(at))
    })
}

/// True when the id is a real contact id (not empty, not the extension's placeholder).
pub fn is_real_id(id: &str) -> bool {
    let id = id.trim();
    !id.is_empty() && id != PLACEHOLDER_CONTACT_ID && id != "0"
}

/// The contact id the bot signalled (or would have): the event's `cxone.contactId`, else
/// the id named in `signalResult`; never the placeholder.
pub fn signalled_contact_id(ev: &Evidence) -> Option<String> {
    let e = event(ev)?;
    if let Some(id) = e.cxone.contact_id.as_deref().filter(|id| is_real_id(id)) {
        return Some(id.to_string());
    }
    let from_result = match signal_result(ev)? {
        SignalResult::Signaled { contact_id, .. } => contact_id,
        SignalResult::Failed(err) => err.contact_id,
    };
    from_result.filter(|id| is_real_id(id))
}

/// The contact id the diagnosis is about.
pub fn contact_id(ev: &Evidence) -> Option<String> {
    ev.contact_id
        .clone()
        .filter(|id| is_real_id(id))
        .or_else(|| signalled_contact_id(ev))
        .or_else(|| ev.contact().and_then(|c| c.contact_id.clone()))
}

/// How the bot handed over; `None` when the flow did not say.
pub fn mechanism(ev: &Evidence) -> Option<Mechanism> {
    event(ev)?.handover.mechanism
}

/// True when the handover went (or should have gone) through the CXone Signal API: the
/// flow said so, or said nothing else and the payload looks like the extension's.
pub fn uses_signal(ev: &Evidence) -> bool {
    let Some(e) = event(ev) else { return false };
    match e.handover.mechanism {
        Some(Mechanism::CxoneSignal) => true,
        Some(_) => false,
        None => {
            e.handover.provider_status.is_none()
                && e.handover.provider_error_reason.is_none()
                && e.voice.event.is_none()
        }
    }
}

/// The skill the bot wanted, as the event names it.
pub fn event_target_skill(ev: &Evidence) -> Option<String> {
    event(ev)?.handover.target_skill.clone()
}

/// The target skill for messages: the event's, else the name CXone gave the skill, else
/// the contact's own skill.
pub fn target_skill_label(ev: &Evidence) -> Option<String> {
    event_target_skill(ev)
        .or_else(|| {
            ev.facts()
                .and_then(|f| f.skill.found())
                .and_then(|s| s.skill_name.clone().or_else(|| s.skill_id.clone()))
        })
        .or_else(|| ev.contact().and_then(|c| c.skill_name.clone()))
}

/// A skill as `Name (id)` from whatever CXone or the event know.
pub fn skill_label(ev: &Evidence) -> String {
    let skill = ev.facts().and_then(|f| f.skill.found());
    let name = skill
        .and_then(|s| s.skill_name.clone())
        .or_else(|| event_target_skill(ev));
    let id = skill.and_then(|s| s.skill_id.clone());
    match (name, id) {
        (Some(n), Some(i)) if n != i => format!("{n} ({i})"),
        (Some(n), _) => n,
        (None, Some(i)) => i,
        (None, None) => "the target skill".to_string(),
    }
}

/// True when `state` names a queued state.
pub fn is_queue_state(name: &str) -> bool {
    matches!(norm(name).as_str(), "inqueue" | "queued" | "queue")
}

/// True when `state` names the pre-queue (IVR/bot) state.
pub fn is_prequeue_state(name: &str) -> bool {
    norm(name) == "prequeue"
}

/// True when `state` means the contact is over.
pub fn is_end_state(name: &str) -> bool {
    matches!(
        norm(name).as_str(),
        "released" | "endcontact" | "end" | "ended" | "disconnected" | "abandon" | "abandoned"
    )
}

/// True when `state` means an agent is connected. `Interrupted` is an agent's contact
/// set aside for a higher-priority one: it had reached the agent.
pub fn is_agent_state(name: &str) -> bool {
    matches!(
        norm(name).as_str(),
        "active"
            | "inbound"
            | "connected"
            | "withagent"
            | "hold"
            | "postqueue"
            | "acw"
            | "interrupted"
    )
}

fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn state_name(s: &ContactState) -> &str {
    s.contact_state_name.as_deref().unwrap_or("")
}

/// True when the contact is known to be still live.
pub fn still_active(ev: &Evidence) -> bool {
    let listed = ev.facts().and_then(|f| f.still_active.found().copied());
    match listed {
        Some(active) => active,
        None => ev.contact().and_then(|c| c.is_active).unwrap_or(false),
    }
}

/// When the contact ended: start plus total duration, else the start of a final state.
/// `None` while it is live or when CXone does not say.
pub fn contact_end(ev: &Evidence) -> Option<DateTime<Utc>> {
    if still_active(ev) {
        return None;
    }
    if let Some(end) = ev.contact().and_then(Contact::end_time) {
        return Some(end);
    }
    let last = ev.states().last()?;
    if is_end_state(state_name(last)) {
        return last.start_date;
    }
    None
}

/// How long after the handover failed the target skill's **live** activity
/// (`GET /skills/{id}/activity`: agents logged in and available, contacts queued, as they
/// are when the diagnosis reads them) still counts as evidence about it: 15 minutes.
///
/// The moment is [`live_activity_freshness`]'s: the contact's end, which is the last
/// moment the caller was waiting for an agent (nothing the skill did afterwards could have
/// reached them), or the read itself while the contact is still live. The bound:
/// * a webhook is diagnosed seconds after the failure, and the re-check that finds a
///   pending contact over (`RECHECK_DELAYS_SECS`, at most 600 s apart by default) reads
///   within 10 minutes of its end: their staffing evidence is kept;
/// * a scan lists a contact only once it is warehoused, about 15 minutes after it ended
///   (`shared/domain/cxone.md` 3.9), so periodic scan events (15–45 minutes old), the
///   `scan` command over past hours or days, and `diagnose --contact-id` on an old contact
///   are judged without it;
/// * agent availability turns over within a couple of handle times (a voice contact takes
///   minutes), and staffing plans change at their interval boundaries (CXone WFM and
///   reporting work in 15-minute intervals): a read further from the failure may describe
///   another shift than the one the caller met.
///
/// HD303 (its "nobody logged in" half) and HD304 are not raised from an activity read
/// later than this; the skill's configuration (HD301, HD302, HD306, HD303's assignments)
/// and its hours at the contact's own time (HD305) still count.
pub const LIVE_ACTIVITY_MAX_AGE: Duration = Duration::minutes(15);

/// Whether the skill's live activity, read at the diagnosis's `now`, says something about
/// this contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The contact is still live: the activity is what the caller meets now.
    Live,
    /// Read this long after the moment (at most [`LIVE_ACTIVITY_MAX_AGE`]): evidence.
    Recent {
        /// What the moment is.
        moment: Moment,
        /// When it was.
        at: DateTime<Utc>,
        /// How long before the read.
        age: Duration,
    },
    /// Read more than [`LIVE_ACTIVITY_MAX_AGE`] after the moment: not evidence.
    TooOld {
        /// What the moment is.
        moment: Moment,
        /// When it was.
        at: DateTime<Utc>,
        /// How long before the read.
        age: Duration,
    },
    /// Nothing tells when the handover failed (no end or start of the contact, no
    /// request time).
    Unknown,
}

/// The moment the live activity is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// The contact ended (its start plus duration, or its final state).
    ContactEnded,
    /// The handover was requested (the event's `occurredAt`, else `receivedAt`): the
    /// contact's end is unknown (not found, not read, or not yet in its record).
    HandoverRequested,
    /// The contact started: its end is unknown and there is no later request time.
    ContactStarted,
}

impl Moment {
    /// How a sentence names it: "the contact ended".
    pub fn phrase(self) -> &'static str {
        match self {
            Moment::ContactEnded => "the contact ended",
            Moment::HandoverRequested => "the handover was requested",
            Moment::ContactStarted => "the contact started",
        }
    }
}

impl Freshness {
    /// True when live activity read now is evidence about the contact: it is live, or
    /// the moment is within [`LIVE_ACTIVITY_MAX_AGE`]. An unknown moment is not: nothing
    /// shows the read was close to the failure.
    pub fn is_evidence(self) -> bool {
        matches!(self, Freshness::Live | Freshness::Recent { .. })
    }
}

/// How far the diagnosis's `now` (when the skill's activity was read; the client's skill
/// cache is seconds long) is from the moment the handover failed: the contact's end; while
/// the contact is live, [`Freshness::Live`]; when its end is unknown, the later of the
/// handover request and the contact's start.
pub fn live_activity_freshness(ev: &Evidence) -> Freshness {
    if ev.contact().is_some() && still_active(ev) {
        return Freshness::Live;
    }
    // Without an end, the failure came after both the request and the contact's start:
    // the later of the two is the closest known moment.
    let moment = contact_end(ev)
        .map(|t| (Moment::ContactEnded, t))
        .or_else(|| {
            let requested = ev.requested_at().map(|t| (Moment::HandoverRequested, t));
            let started = ev
                .contact()
                .and_then(|c| c.contact_start_date)
                .map(|t| (Moment::ContactStarted, t));
            requested.into_iter().chain(started).max_by_key(|(_, t)| *t)
        });
    let Some((moment, at)) = moment else {
        return Freshness::Unknown;
    };
    // A read before the moment (clock skew, a contact ending as it is read) is fresh.
    let age = (ev.now - at).max(Duration::zero());
    if age <= LIVE_ACTIVITY_MAX_AGE {
        Freshness::Recent { moment, at, age }
    } else {
        Freshness::TooOld { moment, at, age }
    }
}

/// The first CXone failure worth diagnosing again later for: a transient one
/// ([`ProblemKind::is_transient`]) — no token or API endpoint, or a read that failed
/// through every retry — on a look-up the verdict depends on. The skill's live
/// activity does not count once it could not be evidence anyway (a contact that ended
/// long before the read, [`live_activity_freshness`]): reading
/// it again later would only be older still.
pub fn transient_problem(ev: &Evidence) -> Option<&CxoneProblem> {
    let facts = match &ev.cxone {
        CxoneEvidence::NotConfigured => return None,
        CxoneEvidence::Unreachable(p) => return p.kind.is_transient().then_some(p),
        CxoneEvidence::Checked(f) => f,
    };
    let activity_counts = live_activity_freshness(ev).is_evidence();
    facts
        .failed_reads()
        .into_iter()
        .filter(|(read, _)| *read != Read::SkillActivity || activity_counts)
        .map(|(_, p)| p)
        .find(|p| p.kind.is_transient())
}

/// The skill's live activity, when it was read and is evidence about this contact
/// ([`live_activity_freshness`]); the rules judging staffing (HD303, HD304) read it only
/// through this.
pub fn live_activity(ev: &Evidence) -> Option<&SkillActivity> {
    let activity = ev.facts()?.skill_activity.found()?;
    live_activity_freshness(ev)
        .is_evidence()
        .then_some(activity)
}

/// One sentence on live activity set aside, when it was read but is not evidence (the
/// timeline carries it); `None` when it is evidence or was not read.
pub fn live_activity_not_judged(ev: &Evidence) -> Option<String> {
    ev.facts()?.skill_activity.found()?;
    let skill = skill_label(ev);
    let bound = LIVE_ACTIVITY_MAX_AGE.num_minutes();
    Some(match live_activity_freshness(ev) {
        Freshness::Live | Freshness::Recent { .. } => return None,
        Freshness::TooOld { moment, at, age } => format!(
            "live staffing of {skill} could not be judged for this past contact: its activity was read at {}, {} after {} ({}), and says nothing about a contact more than {bound} min old (HD303/HD304 are not raised from it)",
            hms(ev.now),
            secs(age.num_seconds() as f64),
            moment.phrase(),
            hms(at),
        ),
        Freshness::Unknown => format!(
            "live staffing of {skill} could not be judged: nothing tells when this contact's handover failed, so its activity read at {} may describe another time (HD303/HD304 are not raised from it)",
            hms(ev.now),
        ),
    })
}

/// Whether the contact ever reached a queue: from the state history, else from
/// `inQueueSeconds`, else — for a live contact, whose active shape has no totals — from
/// its current state (still in pre-queue: not yet); `None` when CXone does not say.
pub fn reached_queue(ev: &Evidence) -> Option<bool> {
    let states = ev.states();
    if !states.is_empty() {
        return Some(states.iter().any(|s| is_queue_state(state_name(s))));
    }
    let c = ev.contact()?;
    let current = c.state_name.as_deref();
    if current.is_some_and(is_queue_state) {
        return Some(true);
    }
    if let Some(s) = c.in_queue_seconds {
        return Some(s > 0.0);
    }
    if still_active(ev) && current.is_some_and(is_prequeue_state) {
        return Some(false);
    }
    None
}

/// The first state in which an agent was connected.
pub fn first_agent_state(ev: &Evidence) -> Option<&ContactState> {
    ev.states()
        .iter()
        .find(|s| is_agent_state(state_name(s)) && s.agent_id.is_some())
}

/// True when an agent took the contact.
pub fn agent_took_it(ev: &Evidence) -> bool {
    let Some(c) = ev.contact() else { return false };
    if c.agent_id.is_none() {
        return first_agent_state(ev).is_some();
    }
    c.agent_seconds.is_some_and(|s| s > 0.0)
        || first_agent_state(ev).is_some()
        || c.state_name.as_deref().is_some_and(is_agent_state)
}

/// The state the contact was in at `at`, from the history.
pub fn state_at(ev: &Evidence, at: DateTime<Utc>) -> Option<&ContactState> {
    ev.states()
        .iter()
        .rev()
        .find(|s| s.start_date.is_some_and(|d| d <= at))
}

/// Seconds as a person reads them: `76 s`, `4 min 1 s`.
pub fn secs(s: f64) -> String {
    let s = s.max(0.0).round() as i64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

/// A time as `14:25:45 UTC`.
pub fn hms(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S UTC").to_string()
}

/// A caller number masked to its last 4 digits: `•••0123`.
pub fn mask_number(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() <= 4 {
        return "•••".to_string();
    }
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("•••{tail}")
}

/// Free text from the flow, made safe to show: at most `max` characters, bearer tokens
/// and JWTs redacted, and phone-number-like runs (`+` then 7 or more digits) masked.
pub fn clip(text: &str, max: usize) -> String {
    let mut out = Vec::new();
    let mut redact_next = false;
    for word in text.split(' ') {
        let w = word.trim_matches(|c: char| c == ',' || c == ';' || c == '"' || c == '\'');
        // Only a credential-looking word after `Bearer`: "bearer token: 401" stays.
        if redact_next && w.len() >= 16 {
            out.push("[redacted]".to_string());
            redact_next = false;
            continue;
        }
        redact_next = false;
        if w.eq_ignore_ascii_case("bearer") || w.eq_ignore_ascii_case("apikey") {
            redact_next = true;
            out.push(word.to_string());
        } else if w.starts_with("eyJ") && w.len() > 20 {
            out.push("[redacted]".to_string());
        } else if w.starts_with('+') && w.chars().filter(char::is_ascii_digit).count() >= 7 {
            out.push(mask_number(w));
        } else {
            out.push(word.to_string());
        }
    }
    let joined = out.join(" ");
    if joined.chars().count() > max {
        let cut: String = joined.chars().take(max).collect();
        format!("{cut}…")
    } else {
        joined
    }
}

/// Every failed CXone look-up of one kind (the whole-check failure included).
pub fn problems(ev: &Evidence, kind: ProblemKind) -> Vec<&CxoneProblem> {
    ev.cxone
        .problems()
        .into_iter()
        .filter(|p| p.kind == kind)
        .collect()
}

/// The finding of HD501/HD502/HD503: what failed, and what the diagnosis lacks because of it.
pub fn problem_finding(
    code: Code,
    problems: &[&CxoneProblem],
    what_it_is: &str,
    fix: &str,
) -> Option<Finding> {
    let first = problems.first()?;
    let reads: Vec<&str> = problems.iter().map(|p| p.what.as_str()).collect();
    let message = format!(
        "{what_it_is}: {} ({}); the diagnosis is incomplete.",
        clip(&first.detail, 300),
        reads.join(", ")
    );
    Some(finding(
        code,
        Severity::Warning,
        message,
        fix,
        serde_json::json!({ "failedReads": reads, "detail": clip(&first.detail, 300) }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_contact_ends_a_contact_and_interrupted_means_an_agent_had_it() {
        assert!(is_end_state("EndContact"));
        assert!(is_end_state("Released"));
        assert!(is_agent_state("Interrupted"));
        assert!(!is_end_state("Interrupted") && !is_queue_state("Interrupted"));
    }

    #[test]
    fn caller_numbers_keep_only_their_last_four_digits() {
        assert_eq!(mask_number("+1 (415) 555-0123"), "•••0123");
        assert_eq!(mask_number("123"), "•••");
    }

    #[test]
    fn clipping_redacts_tokens_and_masks_numbers() {
        let s = clip(
            "failed for +14155550123 with Bearer abcdefghijklmnop.qrstuv and eyJhbGciOiJSUzI1NiIsInR5cCI6 x",
            500,
        );
        assert!(!s.contains("4155550123"), "{s}");
        assert!(s.contains("•••0123"));
        assert!(!s.contains("abcdefghijklmnop"));
        assert!(
            clip("Error getting bearer token: 401: Unauthorized", 500)
                .contains("bearer token: 401")
        );
        assert!(!s.contains("eyJhbGci"));
        assert_eq!(clip("abcdef", 3), "abc…");
    }

    use crate::diagnosis::evidence::{CxoneEvidence, CxoneFacts, Lookup};
    use crate::event::HandoverEvent;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Evidence read at `now` for a contact (its JSON record, `None`: not found) whose
    /// skill's live activity was read, with or without a webhook event requested at
    /// `requested`.
    fn evidence(
        contact: Option<serde_json::Value>,
        active: bool,
        requested: Option<&str>,
        now: &str,
    ) -> Evidence {
        let event = requested.map(|at| {
            HandoverEvent::parse(
                format!(
                    r#"{{"conversationId":"c","occurredAt":"{at}","cxone":{{"contactId":"1"}}}}"#
                )
                .as_bytes(),
            )
            .unwrap()
        });
        Evidence {
            event,
            contact_id: Some("1".into()),
            cxone: CxoneEvidence::Checked(Box::new(CxoneFacts {
                contact: match contact {
                    Some(c) => Lookup::Found(serde_json::from_value(c).unwrap()),
                    None => Lookup::NotFound,
                },
                still_active: Lookup::Found(active),
                skill_activity: Lookup::Found(SkillActivity {
                    agents_logged_in: Some(0.0),
                    ..SkillActivity::default()
                }),
                ..CxoneFacts::default()
            })),
            required_context_keys: Vec::new(),
            now: t(now),
        }
    }

    #[test]
    fn live_activity_is_evidence_only_within_fifteen_minutes_of_the_contacts_end() {
        let ended = |start: &str, total: Option<f64>, now: &str| {
            evidence(
                Some(
                    json!({"contactId": 1, "contactStartDate": start, "totalDurationSeconds": total}),
                ),
                false,
                None,
                now,
            )
        };
        // Ended 10 minutes before the read (07:40 + 600 s).
        let ev = ended("2026-05-13T07:40:00Z", Some(600.0), "2026-05-13T08:00:00Z");
        assert!(live_activity(&ev).is_some());
        assert!(live_activity_not_judged(&ev).is_none());
        // Started 50 minutes before but lasted 40: ended exactly 15 minutes before.
        let ev = ended("2026-05-13T07:10:00Z", Some(2400.0), "2026-05-13T08:05:00Z");
        assert!(live_activity(&ev).is_some());
        // A second more, and the activity is someone else's afternoon.
        let ev = ended("2026-05-13T07:10:00Z", Some(2400.0), "2026-05-13T08:05:01Z");
        assert!(live_activity(&ev).is_none());
        assert_eq!(
            live_activity_freshness(&ev),
            Freshness::TooOld {
                moment: Moment::ContactEnded,
                at: t("2026-05-13T07:50:00Z"),
                age: Duration::seconds(901)
            }
        );
        let note = live_activity_not_judged(&ev).unwrap();
        assert!(note.contains("could not be judged"), "{note}");
        assert!(
            note.contains("07:50:00 UTC") && note.contains("15 min"),
            "{note}"
        );
        // Ended yesterday: whatever the contact's request or start, its end decides.
        let ev = ended("2026-05-12T14:21:44Z", Some(317.0), "2026-05-13T08:00:00Z");
        assert!(live_activity(&ev).is_none());
    }

    #[test]
    fn a_live_contact_is_judged_by_the_activity_it_meets_now() {
        let ev = evidence(
            Some(json!({"contactId": 1, "contactStartDate": "2026-05-12T14:21:44Z"})),
            true,
            None,
            "2026-05-13T08:00:00Z",
        );
        assert_eq!(live_activity_freshness(&ev), Freshness::Live);
        assert!(live_activity(&ev).is_some());
    }

    #[test]
    fn without_an_end_the_request_or_the_start_whichever_is_later_is_the_moment() {
        // Not found: the handover request decides.
        let recent = evidence(
            None,
            false,
            Some("2026-05-13T07:55:00Z"),
            "2026-05-13T08:00:00Z",
        );
        assert!(live_activity(&recent).is_some());
        let old = evidence(
            None,
            false,
            Some("2026-05-13T07:00:00Z"),
            "2026-05-13T08:00:00Z",
        );
        assert!(matches!(
            live_activity_freshness(&old),
            Freshness::TooOld {
                moment: Moment::HandoverRequested,
                ..
            }
        ));
        // A record without totals, not live: its start, or a later request.
        let started = json!({"contactId": 1, "contactStartDate": "2026-05-13T07:00:00Z"});
        let ev = evidence(Some(started.clone()), false, None, "2026-05-13T08:00:00Z");
        assert!(matches!(
            live_activity_freshness(&ev),
            Freshness::TooOld {
                moment: Moment::ContactStarted,
                ..
            }
        ));
        let ev = evidence(
            Some(started),
            false,
            Some("2026-05-13T07:58:00Z"),
            "2026-05-13T08:00:00Z",
        );
        assert!(live_activity(&ev).is_some());
        // Nothing tells when: not evidence, and the timeline says so.
        let ev = evidence(None, false, None, "2026-05-13T08:00:00Z");
        assert_eq!(live_activity_freshness(&ev), Freshness::Unknown);
        assert!(live_activity(&ev).is_none());
        assert!(live_activity_not_judged(&ev).is_some());
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(secs(76.0), "1 min 16 s");
        assert_eq!(secs(12.4), "12 s");
        assert_eq!(secs(3720.0), "1 h 2 min");
    }

    fn problem(kind: ProblemKind, what: &str) -> CxoneProblem {
        CxoneProblem {
            kind,
            what: what.into(),
            detail: format!("{what} failed"),
        }
    }

    /// Evidence without an event, read at `now`.
    fn checked(facts: CxoneFacts, now: &str) -> Evidence {
        Evidence {
            event: None,
            contact_id: Some("1".into()),
            cxone: CxoneEvidence::Checked(Box::new(facts)),
            required_context_keys: Vec::new(),
            now: now.parse().unwrap(),
        }
    }

    fn ended_at_eight() -> Lookup<Contact> {
        Lookup::Found(Contact {
            contact_id: Some("1".into()),
            contact_start_date: Some("2026-05-13T07:55:00Z".parse().unwrap()),
            total_duration_seconds: Some(300.0),
            ..Contact::default()
        })
    }

    #[test]
    fn the_failed_active_check_is_worth_a_retry() {
        let facts = CxoneFacts {
            still_active: Lookup::Failed(problem(ProblemKind::Unavailable, "GET /contacts/active")),
            hours: Lookup::Failed(problem(ProblemKind::Rejected, "GET /hours-of-operation")),
            ..CxoneFacts::default()
        };
        let ev = checked(facts, "2026-05-13T08:01:00Z");
        assert_eq!(transient_problem(&ev).unwrap().what, "GET /contacts/active");
    }

    #[test]
    fn a_rejected_read_is_not_worth_a_retry() {
        let facts = CxoneFacts {
            contact: Lookup::Failed(problem(ProblemKind::Rejected, "GET /contacts/1")),
            ..CxoneFacts::default()
        };
        assert_eq!(
            transient_problem(&checked(facts, "2026-05-13T08:01:00Z")),
            None
        );
        let unreachable = Evidence {
            cxone: CxoneEvidence::Unreachable(problem(ProblemKind::Rejected, "GET /.well-known")),
            ..checked(CxoneFacts::default(), "2026-05-13T08:01:00Z")
        };
        assert_eq!(transient_problem(&unreachable), None);
        let outage = Evidence {
            cxone: CxoneEvidence::Unreachable(problem(
                ProblemKind::Unavailable,
                "POST /auth/token",
            )),
            ..checked(CxoneFacts::default(), "2026-05-13T08:01:00Z")
        };
        assert_eq!(transient_problem(&outage).unwrap().what, "POST /auth/token");
    }

    #[test]
    fn a_failed_activity_read_counts_only_while_the_activity_could_be_evidence() {
        let facts = || CxoneFacts {
            contact: ended_at_eight(),
            still_active: Lookup::Found(false),
            skill_activity: Lookup::Failed(problem(
                ProblemKind::Unavailable,
                "GET /skills/4412877/activity",
            )),
            ..CxoneFacts::default()
        };
        // Read a minute after the contact ended: worth reading again.
        assert!(transient_problem(&checked(facts(), "2026-05-13T08:01:00Z")).is_some());
        // Read the next day: it would not be evidence however it answered.
        assert_eq!(
            transient_problem(&checked(facts(), "2026-05-14T08:00:00Z")),
            None
        );
    }
}

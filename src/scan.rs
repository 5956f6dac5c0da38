//! The CXone scan: finds the failed handovers nobody reported.
//!
//! A Cognigy flow reports a failed handover only if its own webhook call works and the flow
//! keeps running after the failure (`shared/domain/cognigy.md`: the Exit Interaction node
//! re-throws, the HTTP Request node times out after 8–15 s, async mode hides errors). So we
//! also ask CXone: which inbound voice contacts completed in a window without reaching an
//! agent? Each such contact is a *suspect* and is diagnosed by the same engine as a webhook
//! event, with no event (the rules that need one are simply not raised).
//!
//! What this module owns:
//! * the window ([`Window`]: `--since 2h` or `--from`/`--to`);
//! * the filter ([`classify`]) that picks suspects out of `GET /contacts/completed`, read
//!   one page at a time ([`find_suspects`]);
//! * diagnosing suspects with bounded concurrency ([`diagnose_suspects`]) and the text
//!   and summary output of the `scan` command;
//! * the scan event ([`scan_event`], `eventId` = `scan:<contactId>`) that `--enqueue` and
//!   the periodic [`Scanner`] publish to `P.jobs`; each periodic window starts
//!   `SCAN_LOOKBACK_SECS` ([`DEFAULT_LOOKBACK`]) before the previous one ended, because
//!   CXone lists a contact by its start and only once it is warehoused;
//! * [`RecentContacts`], the in-process memory of contact ids that keeps a contact from
//!   being enqueued twice by overlapping windows, and from being announced again when the
//!   bot did report it by webhook.
//!
//! Several processes: [`RecentContacts`] lives in one process. With `serve --role all`, or
//! one worker process, it is exact: the worker notes the contact ids of every webhook
//! event it takes, the scanner beside it skips them, and the worker dismisses any scan
//! event for them. With several worker processes, a scan event can reach a worker that
//! did not take the webhook; the notifier, the single active consumer of `P.reports`
//! that sees every report, then keeps the contact from being announced twice: it drops a
//! `scan:` diagnosis whose contact (or master contact) a webhook diagnosis named within
//! `NOTIFY_DEDUP_TTL_SECS`, and a webhook diagnosis replaces the scan one of its contact
//! still waiting in its group (only a scan report already sent is followed by the
//! webhook's). Every process with `SCAN_INTERVAL_SECS` scans on its own (the notifier's
//! de-duplication by `scan:<contactId>` keeps that to one announcement, but CXone is asked
//! once per process). So: set `SCAN_INTERVAL_SECS` on one worker process only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, Env};
use crate::cxone::types::Contact;
use crate::cxone::{CompletedContactsQuery, CxoneClient, CxoneError, MEDIA_TYPE_PHONE_CALL};
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::{self, Code, Diagnosis};
use crate::event::{CxoneIds, HandoverEvent};
use crate::queue::{OutMessage, Queue, QueueError, Target};

/// Event ids (and conversation ids) of scanned contacts start with this.
pub const SCAN_EVENT_PREFIX: &str = "scan:";

/// Per-contact CXone look-ups in flight at once while diagnosing suspects.
pub const LOOKUP_CONCURRENCY: usize = 4;

/// A contact that ended in pre-queue is a suspect only after this long: a caller who hangs
/// up in the first seconds never talked to the bot long enough to ask for an agent.
pub const PREQUEUE_MIN_SECS: f64 = 20.0;

/// How far back before the last periodic window ended the next one starts, unless
/// `SCAN_LOOKBACK_SECS` says otherwise.
///
/// `GET /contacts/completed` lists a contact by its start (`startDate`/`endDate` bound
/// `contactStartDate`), and only once it has ended and reached the reporting warehouse,
/// which takes a while (`shared/domain/cxone.md` 3.9: about 15 minutes is a rough
/// figure). So a window that ends now misses the calls that started in it but are still
/// going (a bot call lasts minutes) or not yet warehoused; the next window must start far
/// enough back to catch them: the longest call plus the warehouse's delay. 30 minutes
/// covers a 15-minute call listed 15 minutes late. Contacts seen twice are enqueued once
/// ([`RecentContacts`]).
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(1800);

/// The periodic scan never looks further back than this, even after a long CXone outage
/// (and `SCAN_LOOKBACK_SECS` may not be longer).
pub const MAX_CATCH_UP: Duration = Duration::from_secs(24 * 3600);

/// How long contact ids are remembered (already reported by webhook, already enqueued).
///
/// A periodic window never starts before `now -` [`MAX_CATCH_UP`], and a contact is
/// enqueued (or reported by webhook) after it started; so an id remembered longer than
/// [`MAX_CATCH_UP`] is still remembered whenever a later window can list its contact
/// again, however long the lookback and however long CXone was unreachable in between.
/// An hour more for clock skew between us and CXone.
pub const REMEMBER_FOR: Duration = Duration::from_secs(25 * 3600);

/// `SCAN_LOOKBACK_SECS`: whole seconds, at most [`MAX_CATCH_UP`]; unset is
/// [`DEFAULT_LOOKBACK`].
///
/// # Errors
/// [`ConfigError`] naming the variable when it is not a number of seconds or too long.
pub fn lookback_from_env(env: &Env) -> Result<Duration, ConfigError> {
    let secs: u64 = env.parse(
        "SCAN_LOOKBACK_SECS",
        DEFAULT_LOOKBACK.as_secs(),
        "a number of seconds",
    )?;
    if secs > MAX_CATCH_UP.as_secs() {
        return Err(ConfigError(format!(
            "SCAN_LOOKBACK_SECS={secs} is longer than the scan ever looks back ({} s)",
            MAX_CATCH_UP.as_secs()
        )));
    }
    Ok(Duration::from_secs(secs))
}

/// True when the event was made by the scan (its id is `scan:<contactId>`).
pub fn is_scan_event(event: &HandoverEvent) -> bool {
    event.event_id.starts_with(SCAN_EVENT_PREFIX)
}

/// The longest `--since` accepted.
pub const MAX_SINCE: chrono::Duration = chrono::Duration::days(366);

/// Parses a relative duration: a whole number and a unit, `s`, `m`, `h`, `d` or `w`
/// (`90s`, `30m`, `2h`, `1d`); several may follow each other (`1h30m`).
///
/// # Errors
/// A sentence saying what a duration looks like.
pub fn parse_since(s: &str) -> Result<chrono::Duration, String> {
    let bad = || format!("--since {s:?} is not a duration such as 30m, 2h or 1d");
    let s = s.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = chrono::Duration::zero();
    let mut digits = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let unit = match ch.to_ascii_lowercase() {
            's' => chrono::Duration::seconds(1),
            'm' => chrono::Duration::minutes(1),
            'h' => chrono::Duration::hours(1),
            'd' => chrono::Duration::days(1),
            'w' => chrono::Duration::weeks(1),
            _ => return Err(bad()),
        };
        total = i32::try_from(n)
            .ok()
            .and_then(|n| unit.checked_mul(n))
            .and_then(|d| total.checked_add(&d))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() || total <= chrono::Duration::zero() {
        return Err(bad());
    }
    if total > MAX_SINCE {
        return Err(format!(
            "--since {s:?} is longer than {} days: use --from and --to for older windows",
            MAX_SINCE.num_days()
        ));
    }
    Ok(total)
}

/// The time window a scan looks at: contacts CXone lists between `from` and `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `startDate`.
    pub from: DateTime<Utc>,
    /// `endDate`.
    pub to: DateTime<Utc>,
}

impl Window {
    /// The last `since`, ending `now`.
    pub fn since(since: chrono::Duration, now: DateTime<Utc>) -> Self {
        Window {
            from: now - since,
            to: now,
        }
    }

    /// The window of the `scan` arguments: `--since DURATION` before `now`, or
    /// `--from TIME --to TIME` (RFC 3339).
    ///
    /// # Errors
    /// A sentence naming the argument that is wrong.
    pub fn from_args(
        since: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, String> {
        let time = |flag: &str, v: &str| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    format!("{flag} {v:?} is not an RFC 3339 time such as 2026-05-12T14:00:00Z")
                })
        };
        match (since, from, to) {
            (Some(s), None, None) => Ok(Window::since(parse_since(s)?, now)),
            (None, Some(f), Some(t)) => {
                let w = Window {
                    from: time("--from", f)?,
                    to: time("--to", t)?,
                };
                if w.from >= w.to {
                    return Err("--from must be before --to".into());
                }
                Ok(w)
            }
            _ => Err("give either --since DURATION or both --from TIME and --to TIME".into()),
        }
    }

    /// The window's length.
    pub fn length(&self) -> chrono::Duration {
        self.to - self.from
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        write!(f, "{} – {}", ts(self.from), ts(self.to))
    }
}

/// Why a completed contact looks like a failed handover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suspicion {
    /// The caller hung up while queued (`abandoned`).
    AbandonedInQueue,
    /// It was queued (`inQueueSeconds` > 0) but no agent ever talked to the caller (queue
    /// timeout, sent to voicemail, refused or missed by agents).
    NotAnsweredInQueue,
    /// It never reached a queue and ended in pre-queue after at least
    /// [`PREQUEUE_MIN_SECS`]: the bot's part was over but nothing routed the call.
    EndedInPreQueue,
}

impl Suspicion {
    /// A few words for the report.
    pub fn label(self) -> &'static str {
        match self {
            Suspicion::AbandonedInQueue => "abandoned in queue",
            Suspicion::NotAnsweredInQueue => "queued, never answered",
            Suspicion::EndedInPreQueue => "ended in pre-queue",
        }
    }
}

/// Why a completed contact is not a suspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// CXone gave no contact id.
    NoContactId,
    /// Not a phone call (`mediaTypeId` other than 4).
    NotVoice,
    /// An outbound call: no bot handover involved.
    Outbound,
    /// An agent talked to the caller.
    ReachedAgent,
    /// Never queued and too short in pre-queue to have been a handover.
    TooShort,
}

/// The scan's filter: is this completed contact a suspected failed handover?
///
/// Exactly, in this order:
/// 1. it has a contact id, else [`Skip::NoContactId`];
/// 2. it is a phone call: `mediaTypeId` is 4 when CXone says it (the search already asks
///    for `mediaTypeId=4`; this guards against versions that ignore the filter), else
///    [`Skip::NotVoice`];
/// 3. it is inbound (`isOutbound` is not true), else [`Skip::Outbound`];
/// 4. no agent talked to the caller: `agentSeconds` is 0 or absent, and when
///    `agentSeconds` is absent `agentId` is 0 or absent too (an agent id with zero agent
///    seconds is an offer that was refused or missed: still a suspect), else
///    [`Skip::ReachedAgent`];
/// 5. then: `abandoned` with queue time (`inQueueSeconds` > 0 or absent) →
///    [`Suspicion::AbandonedInQueue`]; `inQueueSeconds` > 0 →
///    [`Suspicion::NotAnsweredInQueue`]; `preQueueSeconds` (or, when absent,
///    `totalDurationSeconds`) at least [`PREQUEUE_MIN_SECS`] →
///    [`Suspicion::EndedInPreQueue`]; else [`Skip::TooShort`]. (A caller who hangs up in
///    the first seconds of pre-queue may be flagged `abandoned` too: with no queue time,
///    the pre-queue rule decides.)
pub fn classify(c: &Contact) -> Result<Suspicion, Skip> {
    if c.contact_id.is_none() {
        return Err(Skip::NoContactId);
    }
    if c.media_type_id
        .as_deref()
        .is_some_and(|m| m != MEDIA_TYPE_PHONE_CALL.to_string())
    {
        return Err(Skip::NotVoice);
    }
    if c.is_outbound == Some(true) {
        return Err(Skip::Outbound);
    }
    let reached_agent = match c.agent_seconds {
        Some(s) => s > 0.0,
        None => c.agent_id.is_some(),
    };
    if reached_agent {
        return Err(Skip::ReachedAgent);
    }
    if c.abandoned == Some(true) && !c.in_queue_seconds.is_some_and(|s| s <= 0.0) {
        return Ok(Suspicion::AbandonedInQueue);
    }
    if c.in_queue_seconds.is_some_and(|s| s > 0.0) {
        return Ok(Suspicion::NotAnsweredInQueue);
    }
    let pre_queue = c.pre_queue_seconds.or(c.total_duration_seconds);
    if pre_queue.is_some_and(|s| s >= PREQUEUE_MIN_SECS) {
        return Ok(Suspicion::EndedInPreQueue);
    }
    Err(Skip::TooShort)
}

/// A completed contact that looks like a failed handover.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspect {
    /// The contact id.
    pub contact_id: String,
    /// Why it is a suspect.
    pub why: Suspicion,
    /// The record `/contacts/completed` gave.
    pub contact: Contact,
}

/// What a search of `/contacts/completed` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// Contacts CXone listed (each counted once, over every skill searched).
    pub scanned: usize,
    /// The suspects among them, in the order CXone listed them.
    pub suspects: Vec<Suspect>,
}

/// A scan's failure.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// CXone could not be searched (after the client's retries).
    #[error("CXone search failed: {0}")]
    Cxone(#[from] CxoneError),
    /// A suspect could not be published to the jobs queue.
    #[error("could not enqueue a suspect: {0}")]
    Queue(#[from] QueueError),
}

impl ScanError {
    /// True when trying again later may work (CXone or the broker were unavailable).
    pub fn is_transient(&self) -> bool {
        match self {
            ScanError::Cxone(e) => e.is_transient(),
            ScanError::Queue(e) => e.is_transient(),
        }
    }
}

/// Searches `/contacts/completed` over `window` for phone calls (`mediaTypeId=4`), once
/// per skill in `skills` (`skillId=`) or once for every skill when `skills` is empty, one
/// page at a time, and keeps the suspects ([`classify`]). `on_page` is called after each
/// page with the running totals (contacts scanned, suspects), for a progress display.
///
/// # Errors
/// [`ScanError::Cxone`] when a page cannot be read after the client's retries.
pub async fn find_suspects(
    client: &CxoneClient,
    window: Window,
    skills: &[String],
    mut on_page: impl FnMut(usize, usize),
) -> Result<Found, ScanError> {
    let searches: Vec<Option<String>> = if skills.is_empty() {
        vec![None]
    } else {
        skills.iter().cloned().map(Some).collect()
    };
    let mut seen = HashSet::new();
    let mut found = Found::default();
    let mut skipped: BTreeMap<&'static str, usize> = BTreeMap::new();
    for skill_id in searches {
        let mut pages = client.completed_contacts_pages(CompletedContactsQuery {
            media_type_id: Some(MEDIA_TYPE_PHONE_CALL),
            skill_id,
            ..CompletedContactsQuery::new(window.from, window.to)
        });
        while let Some(page) = pages.next_page().await? {
            for contact in page {
                if let Some(id) = &contact.contact_id
                    && !seen.insert(id.clone())
                {
                    continue;
                }
                found.scanned += 1;
                match classify(&contact) {
                    Ok(why) => found.suspects.push(Suspect {
                        contact_id: contact.contact_id.clone().unwrap_or_default(),
                        why,
                        contact,
                    }),
                    Err(skip) => *skipped.entry(skip_name(skip)).or_default() += 1,
                }
            }
            on_page(found.scanned, found.suspects.len());
        }
    }
    tracing::info!(%window, scanned = found.scanned, suspects = found.suspects.len(), ?skipped, "CXone scan searched");
    Ok(found)
}

fn skip_name(s: Skip) -> &'static str {
    match s {
        Skip::NoContactId => "no_contact_id",
        Skip::NotVoice => "not_voice",
        Skip::Outbound => "outbound",
        Skip::ReachedAgent => "reached_agent",
        Skip::TooShort => "too_short",
    }
}

/// Diagnoses one suspect: the same evidence gathering and rules as a webhook event, with
/// no event. The diagnosis's event and conversation ids are `scan:<contactId>`. (A contact
/// that ended more than [`diagnosis::LIVE_ACTIVITY_MAX_AGE`] ago — most of what a scan
/// finds — is judged without its skill's live activity, as on every path.)
pub async fn diagnose_suspect(
    client: Option<&CxoneClient>,
    contact_id: &str,
    required_context_keys: &[String],
) -> Diagnosis {
    let cxone = crate::cxone::gather(client, None, Some(contact_id)).await;
    let evidence = Evidence {
        event: None,
        contact_id: Some(contact_id.to_string()),
        cxone,
        required_context_keys: required_context_keys.to_vec(),
        now: Utc::now(),
    };
    let mut d = diagnosis::diagnose(&evidence);
    d.event_id = scan_id(contact_id);
    d.conversation_id = scan_id(contact_id);
    d
}

/// Diagnoses every suspect, at most `concurrency` at once (each diagnosis makes several
/// CXone requests; the client's caches share skill and hours look-ups between them).
/// Results come back in the suspects' order; `on_done` is called as each finishes.
pub async fn diagnose_suspects(
    client: &CxoneClient,
    suspects: &[Suspect],
    required_context_keys: &[String],
    concurrency: usize,
    on_done: impl Fn(),
) -> Vec<Diagnosis> {
    futures_util::stream::iter(suspects)
        .map(|s| async {
            let d = diagnose_suspect(Some(client), &s.contact_id, required_context_keys).await;
            on_done();
            d
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

fn scan_id(contact_id: &str) -> String {
    format!("{SCAN_EVENT_PREFIX}{contact_id}")
}

/// The event a scanned suspect travels as through `P.jobs`: `eventId` and
/// `conversationId` are `scan:<contactId>` (there is no Cognigy session to name, and the
/// id is stable, so the notifier's de-duplication by event id holds across scans);
/// `occurredAt` is the contact's start; `cxone` carries the contact, master contact and
/// business unit ids. Everything the bot would have told is absent.
pub fn scan_event(s: &Suspect) -> HandoverEvent {
    HandoverEvent {
        event_id: scan_id(&s.contact_id),
        occurred_at: s.contact.contact_start_date,
        received_at: None,
        conversation_id: scan_id(&s.contact_id),
        user_id: None,
        trace_id: None,
        flow: Default::default(),
        cxone: CxoneIds {
            business_unit: s.contact.business_unit_id.clone(),
            master_contact_id: s.contact.master_contact_id.clone(),
            contact_id: Some(s.contact_id.clone()),
        },
        handover: Default::default(),
        voice: Default::default(),
        context_keys: Vec::new(),
        template_errors: Vec::new(),
    }
}

/// Publishes a suspect's [`scan_event`] to `P.jobs` (confirmed by the broker).
///
/// # Errors
/// [`QueueError`] when the broker did not take it.
pub async fn enqueue(queue: &Queue, s: &Suspect) -> Result<(), QueueError> {
    let event = scan_event(s);
    queue
        .publish(
            Target::Jobs,
            OutMessage {
                id: event.event_id.clone(),
                body: event.to_json(),
                attempt: 0,
                reason: None,
                conversation_id: Some(event.conversation_id.clone()),
                ..OutMessage::default()
            },
        )
        .await
}

/// What `scan --enqueue` says before enqueueing a window longer than the notifier's
/// de-duplication (`NOTIFY_DEDUP_TTL_SECS`): a contact announced before that (by the
/// periodic scan, or by webhook to a worker process other than the one that takes the
/// scan event) is no longer remembered by the notifier, and may be announced again.
/// `None` for a window within it.
pub fn enqueue_window_note(window: Window, dedup_ttl: Duration) -> Option<String> {
    let ttl = chrono::Duration::from_std(dedup_ttl).unwrap_or(chrono::Duration::MAX);
    (window.length() > ttl).then(|| {
        format!(
            "note: this window ({} min) is longer than NOTIFY_DEDUP_TTL_SECS ({} s): a contact announced before that may be announced again",
            window.length().num_minutes(),
            dedup_ttl.as_secs()
        )
    })
}

/// Contact ids seen recently, each forgotten [`REMEMBER_FOR`] (or the given time) after it
/// was last noted. Cheap to clone: clones share the set. Time is tokio's, so tests can
/// pause it.
#[derive(Debug, Clone)]
pub struct RecentContacts {
    inner: Arc<Mutex<Noted>>,
    ttl: Duration,
}

#[derive(Debug, Default)]
struct Noted {
    ids: HashMap<String, tokio::time::Instant>,
    /// Expired ids are dropped when the set doubles past this size, so pruning costs
    /// amortised O(1) per note however many ids are live.
    prune_at: usize,
}

impl Default for RecentContacts {
    fn default() -> Self {
        RecentContacts::new(REMEMBER_FOR)
    }
}

impl RecentContacts {
    /// An empty set whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        RecentContacts {
            inner: Arc::default(),
            ttl,
        }
    }

    /// Notes `id` (ignores empty ids and the extension's placeholder).
    pub fn note(&self, id: &str) {
        let id = id.trim();
        if id.is_empty() || id == crate::event::PLACEHOLDER_CONTACT_ID || id == "0" {
            return;
        }
        let now = tokio::time::Instant::now();
        let mut noted = self.inner.lock().expect("never poisoned: no panics inside");
        if noted.ids.len() >= noted.prune_at.max(1024) {
            let ttl = self.ttl;
            noted.ids.retain(|_, at| now.duration_since(*at) < ttl);
            noted.prune_at = noted.ids.len() * 2;
        }
        noted.ids.insert(id.to_string(), now);
    }

    /// True when `id` was noted within the time to live.
    pub fn contains(&self, id: &str) -> bool {
        let noted = self.inner.lock().expect("never poisoned: no panics inside");
        noted
            .ids
            .get(id.trim())
            .is_some_and(|at| at.elapsed() < self.ttl)
    }

    /// True when any of the ids was noted.
    pub fn any(&self, ids: &[Option<&str>]) -> bool {
        ids.iter().flatten().any(|id| self.contains(id))
    }
}

/// What one periodic scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Contacts CXone listed in the window.
    pub scanned: usize,
    /// Suspects among them.
    pub suspects: usize,
    /// Suspects published to `P.jobs` now.
    pub enqueued: Vec<String>,
    /// Suspects the bot had reported by webhook (not enqueued).
    pub already_reported: usize,
    /// Suspects an earlier, overlapping window had enqueued (not enqueued again).
    pub already_enqueued: usize,
}

/// The periodic scan of `SCAN_INTERVAL_SECS`: every interval, the window since the last
/// one ended, started the lookback earlier (`SCAN_LOOKBACK_SECS`, [`DEFAULT_LOOKBACK`]),
/// suspects enqueued once each.
pub struct Scanner {
    client: Arc<CxoneClient>,
    queue: Queue,
    skills: Vec<String>,
    reported: RecentContacts,
    enqueued: RecentContacts,
    lookback: Duration,
    last_end: Mutex<Option<DateTime<Utc>>>,
}

impl Scanner {
    /// A scanner searching `skills` (empty: every skill) and publishing to `queue`.
    /// `reported` holds the contact ids the bot reported by webhook (the worker notes
    /// them; see [`crate::worker::Worker::reported_contacts`]).
    pub fn new(
        client: Arc<CxoneClient>,
        queue: Queue,
        skills: Vec<String>,
        reported: RecentContacts,
    ) -> Self {
        Scanner {
            client,
            queue,
            skills,
            reported,
            enqueued: RecentContacts::default(),
            lookback: DEFAULT_LOOKBACK,
            last_end: Mutex::new(None),
        }
    }

    /// The same scanner with another lookback (`SCAN_LOOKBACK_SECS`), at most
    /// [`MAX_CATCH_UP`].
    pub fn with_lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback.min(MAX_CATCH_UP);
        self
    }

    /// The window the next periodic scan looks at: from where the last successful one
    /// ended (the first: one interval ago), minus the lookback, never more than
    /// [`MAX_CATCH_UP`] back; to `now`.
    pub fn next_window(&self, interval: Duration, now: DateTime<Utc>) -> Window {
        let interval = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::zero());
        let lookback = chrono::Duration::from_std(self.lookback).unwrap_or_default();
        let start = self
            .last_end
            .lock()
            .expect("never poisoned")
            .unwrap_or(now - interval);
        let earliest = now - chrono::Duration::from_std(MAX_CATCH_UP).unwrap_or_default();
        Window {
            from: (start - lookback).max(earliest),
            to: now,
        }
    }

    /// Scans one window and enqueues each new suspect: not the ones the bot reported by
    /// webhook, nor the ones an earlier window enqueued. On success, the next window
    /// starts from this one's end.
    ///
    /// # Errors
    /// [`ScanError`] when CXone cannot be searched or a publish fails; what was enqueued
    /// before stays enqueued, and the next window covers the rest.
    pub async fn scan_once(&self, window: Window) -> Result<Round, ScanError> {
        let found = find_suspects(&self.client, window, &self.skills, |_, _| {}).await?;
        let mut round = Round {
            scanned: found.scanned,
            suspects: found.suspects.len(),
            ..Round::default()
        };
        for s in &found.suspects {
            if self.reported.any(&[
                Some(s.contact_id.as_str()),
                s.contact.master_contact_id.as_deref(),
            ]) {
                round.already_reported += 1;
                continue;
            }
            if self.enqueued.contains(&s.contact_id) {
                round.already_enqueued += 1;
                continue;
            }
            enqueue(&self.queue, s).await?;
            self.enqueued.note(&s.contact_id);
            round.enqueued.push(s.contact_id.clone());
        }
        let mut last = self.last_end.lock().expect("never poisoned");
        *last = Some(last.map_or(window.to, |l| l.max(window.to)));
        Ok(round)
    }

    /// Scans every `interval` until `cancel` (the first scan one interval after start).
    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        tracing::info!(interval_secs = interval.as_secs(), lookback_secs = self.lookback.as_secs(),
            skills = ?self.skills, "periodic CXone scan started");
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let window = self.next_window(interval, Utc::now());
            let result = tokio::select! {
                () = cancel.cancelled() => break,
                r = self.scan_once(window) => r,
            };
            match result {
                Ok(r) => tracing::info!(%window, scanned = r.scanned, suspects = r.suspects,
                    enqueued = r.enqueued.len(), already_reported = r.already_reported,
                    already_enqueued = r.already_enqueued, "periodic CXone scan done"),
                Err(e) => tracing::warn!(%window, error = %e, transient = e.is_transient(),
                    "periodic CXone scan failed; the next one covers this window again"),
            }
        }
        tracing::info!("periodic CXone scan stopped");
    }
}

/// True when the diagnosis found that an agent took the contact after all (HD401): the
/// suspect was not a failed handover. The worker drops such scan events; the `scan`
/// command leaves them out of its list and only counts them in the summary.
pub fn handled_after_all(d: &Diagnosis) -> bool {
    d.verdict.code == Code::Hd401
}

/// The `scan` command's closing line: contacts scanned, suspected failures (the
/// diagnoses but those [`handled_after_all`]), their verdicts by code, then how many
/// suspects an agent took after all, when any.
pub fn summary(window: Window, scanned: usize, diagnoses: &[Diagnosis]) -> String {
    let mut by_code: BTreeMap<Code, usize> = BTreeMap::new();
    let mut handled = 0;
    for d in diagnoses {
        if handled_after_all(d) {
            handled += 1;
        } else {
            *by_code.entry(d.verdict.code).or_default() += 1;
        }
    }
    let failures: usize = by_code.values().sum();
    let codes = by_code
        .iter()
        .map(|(c, n)| format!("{c} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "scanned {scanned} voice contact{} completed {window}: {failures} suspected failed handover{}{}{}",
        if scanned == 1 { "" } else { "s" },
        if failures == 1 { "" } else { "s" },
        if codes.is_empty() {
            String::new()
        } else {
            format!(" ({codes})")
        },
        if handled == 0 {
            String::new()
        } else {
            format!(
                "; {handled} handled by an agent after all ({})",
                Code::Hd401
            )
        }
    )
}

/// One suspect as the text list shows it: contact id, start, skill and why, then the
/// verdict and its main fix.
pub fn render_suspect(s: &Suspect, d: &Diagnosis) -> String {
    let mut out = String::new();
    let start = s
        .contact
        .contact_start_date
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "start unknown".into());
    let skill = match (&s.contact.skill_name, &s.contact.skill_id) {
        (Some(n), Some(i)) => format!("{n} ({i})"),
        (Some(n), None) => n.clone(),
        (None, Some(i)) => format!("skill {i}"),
        (None, None) => "skill unknown".into(),
    };
    let _ = writeln!(out, "{}  {start}  {skill}  {}", s.contact_id, s.why.label());
    let _ = writeln!(
        out,
        "  {} {}: {}",
        d.verdict.code, d.verdict.name, d.verdict.title
    );
    if let Some(f) = d.findings.first() {
        let _ = writeln!(out, "  fix: {}", f.fix);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contact(v: serde_json::Value) -> Contact {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_since("2h").unwrap(), chrono::Duration::hours(2));
        assert_eq!(parse_since("30m").unwrap(), chrono::Duration::minutes(30));
        assert_eq!(parse_since("1d").unwrap(), chrono::Duration::days(1));
        assert_eq!(parse_since("1h30m").unwrap(), chrono::Duration::minutes(90));
        for bad in [
            "",
            "2",
            "h",
            "2x",
            "0m",
            "-1h",
            "2 h",
            "400d",
            "99999999999w",
        ] {
            assert!(parse_since(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_window_comes_from_since_or_from_and_to() {
        let now = DateTime::parse_from_rfc3339("2026-05-12T15:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let w = Window::from_args(Some("2h"), None, None, now).unwrap();
        assert_eq!(w.length(), chrono::Duration::hours(2));
        assert_eq!(w.to, now);
        let w = Window::from_args(
            None,
            Some("2026-05-12T14:00:00+02:00"),
            Some("2026-05-12T13:00:00Z"),
            now,
        )
        .unwrap();
        assert_eq!(w.length(), chrono::Duration::hours(1));
        let err = Window::from_args(
            None,
            Some("2026-05-12T14:00:00Z"),
            Some("2026-05-12T13:00:00Z"),
            now,
        )
        .unwrap_err();
        assert!(err.contains("before"), "{err}");
        assert!(
            Window::from_args(None, Some("yesterday"), Some("2026-05-12T13:00:00Z"), now)
                .unwrap_err()
                .contains("--from")
        );
    }

    #[test]
    fn the_filter_keeps_unanswered_inbound_voice_and_skips_the_rest() {
        let base = json!({"contactId": 1, "mediaTypeId": 4, "isOutbound": false, "agentId": 0,
            "agentSeconds": 0, "preQueueSeconds": 120, "inQueueSeconds": 0, "abandoned": false});
        let with = |patch: serde_json::Value| {
            let mut v = base.clone();
            for (k, x) in patch.as_object().unwrap() {
                v[k] = x.clone();
            }
            classify(&contact(v))
        };
        assert_eq!(with(json!({})), Ok(Suspicion::EndedInPreQueue));
        assert_eq!(
            with(json!({"abandoned": true, "inQueueSeconds": 76})),
            Ok(Suspicion::AbandonedInQueue)
        );
        assert_eq!(
            with(json!({"inQueueSeconds": 300})),
            Ok(Suspicion::NotAnsweredInQueue)
        );
        // Offered to an agent who refused: agent id but no talk time.
        assert_eq!(
            with(json!({"agentId": 2301554, "inQueueSeconds": 40})),
            Ok(Suspicion::NotAnsweredInQueue)
        );
        assert_eq!(
            with(json!({"agentId": 2301554, "agentSeconds": 312})),
            Err(Skip::ReachedAgent)
        );
        assert_eq!(
            with(json!({"agentId": 2301554, "agentSeconds": null})),
            Err(Skip::ReachedAgent)
        );
        assert_eq!(with(json!({"isOutbound": true})), Err(Skip::Outbound));
        assert_eq!(with(json!({"mediaTypeId": 3})), Err(Skip::NotVoice));
        assert_eq!(with(json!({"preQueueSeconds": 8})), Err(Skip::TooShort));
        // Abandoned without queue time: the caller left during the bot, and the pre-queue
        // rule decides (a hang-up in the first seconds is no handover).
        assert_eq!(
            with(json!({"abandoned": true, "preQueueSeconds": 4})),
            Err(Skip::TooShort)
        );
        assert_eq!(
            with(json!({"abandoned": true})),
            Ok(Suspicion::EndedInPreQueue)
        );
        assert_eq!(
            with(json!({"abandoned": true, "inQueueSeconds": null})),
            Ok(Suspicion::AbandonedInQueue)
        );
        assert_eq!(with(json!({"contactId": 0})), Err(Skip::NoContactId));
    }

    #[test]
    fn a_scan_event_is_named_after_its_contact_and_round_trips_through_the_queue_form() {
        let s = Suspect {
            contact_id: "745512890123".into(),
            why: Suspicion::AbandonedInQueue,
            contact: contact(
                json!({"contactId": 745512890123u64, "masterContactId": 745512890101u64,
                "contactStartDate": "2026-05-12T14:21:44.530Z", "businessUnitId": 4601234}),
            ),
        };
        let e = scan_event(&s);
        assert_eq!(e.event_id, "scan:745512890123");
        assert_eq!(e.conversation_id, "scan:745512890123");
        assert!(is_scan_event(&e));
        let back = HandoverEvent::from_json(&e.to_json()).unwrap();
        assert_eq!(back.real_contact_id(), Some("745512890123"));
        assert_eq!(
            back.cxone.master_contact_id.as_deref(),
            Some("745512890101")
        );
        assert_eq!(back.occurred_at, s.contact.contact_start_date);
        assert!(is_scan_event(&back));
    }

    #[test]
    fn the_lookback_defaults_to_half_an_hour_and_may_not_pass_the_catch_up_limit() {
        let env = |v: &str| Env::from_pairs([("SCAN_LOOKBACK_SECS", v)]);
        assert_eq!(
            lookback_from_env(&Env::default()).unwrap(),
            Duration::from_secs(1800)
        );
        assert_eq!(
            lookback_from_env(&env("3600")).unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(lookback_from_env(&env("0")).unwrap(), Duration::ZERO);
        for bad in ["86401", "30m", "-5"] {
            let err = lookback_from_env(&env(bad)).unwrap_err();
            assert!(err.0.contains("SCAN_LOOKBACK_SECS"), "{bad}: {}", err.0);
        }
    }

    #[test]
    fn contact_ids_are_remembered_longer_than_any_window_can_reach_back() {
        // A window never starts before now − MAX_CATCH_UP, and a contact is enqueued
        // after it started: remembering ids longer than that keeps every contact a later
        // window lists again from being enqueued twice.
        assert!(REMEMBER_FOR > MAX_CATCH_UP);
        assert!(REMEMBER_FOR > DEFAULT_LOOKBACK);
    }

    #[test]
    fn after_failed_scans_the_window_reaches_back_to_the_last_success_but_never_past_a_day() {
        let now = DateTime::parse_from_rfc3339("2026-05-12T15:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let scanner = Scanner::new(
            Arc::new(
                CxoneClient::new(
                    crate::cxone::CxoneSettings {
                        client_id: Some("id".into()),
                        client_secret: Some("secret".into()),
                        access_key_id: Some("key".into()),
                        access_key_secret: Some("key secret".into()),
                        ..Default::default()
                    },
                    Arc::new(crate::metrics::Metrics::new()),
                )
                .unwrap(),
            ),
            Queue::Memory(crate::queue::memory::MemoryQueue::new()),
            vec![],
            RecentContacts::default(),
        )
        .with_lookback(Duration::from_secs(600));
        let interval = Duration::from_secs(900);
        let w = scanner.next_window(interval, now);
        assert_eq!(w.from, now - chrono::Duration::minutes(25));
        *scanner.last_end.lock().unwrap() = Some(now - chrono::Duration::hours(3));
        let w = scanner.next_window(interval, now);
        assert_eq!(w.from, now - chrono::Duration::minutes(190));
        *scanner.last_end.lock().unwrap() = Some(now - chrono::Duration::hours(30));
        let w = scanner.next_window(interval, now);
        assert_eq!(w.from, now - chrono::Duration::hours(24));
        assert_eq!(w.to, now);
    }

    #[tokio::test(start_paused = true)]
    async fn recent_contacts_forget_after_their_time_to_live() {
        let r = RecentContacts::new(Duration::from_secs(60));
        r.note("42");
        r.note("100000000000");
        assert!(r.contains("42"));
        assert!(!r.contains("100000000000"));
        assert!(r.any(&[None, Some("7"), Some("42")]));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(!r.contains("42"));
    }
}

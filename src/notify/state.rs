//! The notifier's memory, as a plain state machine that takes "now" as an argument: the
//! groups and their timers, the diagnoses waiting for delivery (with the consumers waiting
//! for their outcome), and the de-duplication log.
//!
//! Keeping it free of I/O and of tokio time is what lets the grouping rules be tested
//! moment by moment.
//!
//! A group (verdict code, target skill) is born with a deadline `group_wait` away; at that
//! deadline everything it holds goes out as one message per destination, and the group is
//! "announced" there. Failures that arrive afterwards wait until `group_interval` after the
//! last message and go out as one update. A group with nothing pending or in flight is
//! forgotten `group_interval` after its last message. With `group_wait` zero every
//! diagnosis is a group of its own, due at once.
//!
//! De-duplication has two rules, both held for `dedup_ttl` (`NOTIFY_DEDUP_TTL_SECS`):
//! * by event id: an event id that was delivered, or is still pending, is not sent again;
//! * by contact, for the CXone scan (event ids `scan:<contactId>`): a scan diagnosis that
//!   shares a contact id (its contact or master contact, on either side) with a webhook
//!   (non-scan) diagnosis accepted within the TTL is a duplicate, resolved `Done` at once
//!   and never sent. A webhook diagnosis that arrives while a scan diagnosis of its
//!   contact still waits in its group (not yet handed to any destination) takes its
//!   place: the scan one leaves its group, resolved `Done`. Once the scan diagnosis has
//!   gone out (or is on its way), the webhook one is sent too, because it carries the
//!   flow's own details. The notifier is the single active consumer of `P.reports`, so
//!   this holds across any number of worker processes.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::diagnosis::Code;
use crate::diagnosis::model::Diagnosis;
use crate::diagnosis::rules::support::is_real_id;
use crate::scan::SCAN_EVENT_PREFIX;

/// What the queue consumer should do with the broker delivery of a submitted diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Ack: delivered everywhere (or refused for good somewhere), or a duplicate.
    Done,
    /// Nack with requeue: the notifier stopped before it could deliver, or a destination
    /// kept failing (the redelivery will rejoin the diagnosis the notifier kept).
    Requeue,
}

/// Identifies one accepted diagnosis while it waits for delivery.
pub(crate) type EntryId = u64;

/// What diagnoses are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct GroupKey {
    pub code: Code,
    pub skill: Option<String>,
    /// Set when `group_wait` is zero: the diagnosis is its own group.
    pub solo: Option<EntryId>,
}

/// One message to build and deliver to one destination.
#[derive(Debug)]
pub(crate) struct Batch {
    pub dest: usize,
    pub key: GroupKey,
    pub update: bool,
    pub total: usize,
    pub entries: Vec<EntryId>,
    pub diagnoses: Vec<Arc<Diagnosis>>,
}

/// How [`State::submit`] took a diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// New: it joined a group.
    Accepted,
    /// New: it joined a group, and took the place of this many scan diagnoses of its
    /// contact that were still waiting in their groups (resolved `Done`, never sent).
    AcceptedReplacingScans(usize),
    /// The same event id was already delivered within the TTL, or is pending.
    Duplicate,
    /// A scan diagnosis of a contact a webhook diagnosis named within the TTL: resolved
    /// `Done` at once, never sent.
    ReportedByWebhook,
    /// A redelivery of a diagnosis still held after a give-up: it waits with it.
    Rejoined,
    /// The notifier is shutting down: requeue it.
    Closed,
}

/// How one destination's delivery of a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completion {
    /// The destination has the message.
    Delivered,
    /// The destination refused it for good; retrying cannot help.
    Refused,
    /// Transient failures used up the attempts: try again at the group's next interval.
    GaveUp,
}

/// The timings the state machine needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub dedup_ttl: Duration,
    /// The consumer's prefetch: how many broker deliveries the notifier can hold.
    pub max_pending: usize,
}

struct Entry {
    /// Shared with the batches (and reports) that carry it: a group of thousands is
    /// held once, not once more per message on its way.
    diagnosis: Arc<Diagnosis>,
    /// The group it joined.
    key: GroupKey,
    /// True once a batch holding it was handed to a destination: from then on it counts
    /// as sent (a request on its way cannot be recalled).
    flushed: bool,
    /// Destinations that neither have it nor refused it yet.
    remaining: Vec<bool>,
    waiters: Vec<oneshot::Sender<Disposition>>,
}

struct Group {
    due: Option<Instant>,
    last_flush: Option<Instant>,
    total: usize,
    announced: Vec<bool>,
    pending: Vec<Vec<EntryId>>,
    inflight: Vec<usize>,
}

impl Group {
    fn new(dests: usize, due: Instant) -> Self {
        Group {
            due: Some(due),
            last_flush: None,
            total: 0,
            announced: vec![false; dests],
            pending: vec![Vec::new(); dests],
            inflight: vec![0; dests],
        }
    }

    fn idle(&self) -> bool {
        self.due.is_none()
            && self.pending.iter().all(Vec::is_empty)
            && self.inflight.iter().all(|n| *n == 0)
    }
}

/// Groups, pending diagnoses and the de-duplication log.
pub(crate) struct State {
    dests: usize,
    timing: Timing,
    closed: bool,
    /// Broker deliveries held: one per waiter of every entry. They fill the consumer's
    /// prefetch, so this is what [`State::relieve`] watches.
    held: usize,
    next_id: EntryId,
    entries: HashMap<EntryId, Entry>,
    pending_events: HashMap<String, EntryId>,
    delivered: HashMap<String, Instant>,
    delivered_order: VecDeque<(Instant, String)>,
    /// Contact ids named by webhook (non-scan) diagnoses, with when they were accepted.
    webhook_contacts: HashMap<String, Instant>,
    webhook_contacts_order: VecDeque<(Instant, String)>,
    groups: HashMap<GroupKey, Group>,
}

/// True for the diagnoses of contacts found by the CXone scan (`scan:<contactId>`).
fn is_scan(d: &Diagnosis) -> bool {
    d.event_id.starts_with(SCAN_EVENT_PREFIX)
}

/// The CXone contacts a diagnosis names: its contact and that contact's master (a bot
/// may report the master contact while the scan finds the spawned one, or the reverse).
fn contacts_of(d: &Diagnosis) -> impl Iterator<Item = &str> {
    [d.contact_id.as_deref(), d.master_contact_id.as_deref()]
        .into_iter()
        .flatten()
        .filter(|c| is_real_id(c))
}

impl State {
    pub(crate) fn new(dests: usize, timing: Timing) -> Self {
        State {
            dests,
            timing,
            closed: false,
            held: 0,
            next_id: 0,
            entries: HashMap::new(),
            pending_events: HashMap::new(),
            delivered: HashMap::new(),
            delivered_order: VecDeque::new(),
            webhook_contacts: HashMap::new(),
            webhook_contacts_order: VecDeque::new(),
            groups: HashMap::new(),
        }
    }

    /// Takes a diagnosis; `tx` is resolved when its fate is known (at once for duplicates
    /// of delivered events, for scan diagnoses of contacts reported by webhook, and after
    /// shutdown; with the original for a duplicate of a pending one, so an ack never
    /// races ahead of the delivery it stands for).
    pub(crate) fn submit(
        &mut self,
        diagnosis: Diagnosis,
        tx: oneshot::Sender<Disposition>,
        now: Instant,
    ) -> Admission {
        if self.closed {
            let _ = tx.send(Disposition::Requeue);
            return Admission::Closed;
        }
        self.gc(now);
        if self.delivered.contains_key(&diagnosis.event_id) {
            let _ = tx.send(Disposition::Done);
            return Admission::Duplicate;
        }
        if let Some(id) = self.pending_events.get(&diagnosis.event_id)
            && let Some(e) = self.entries.get_mut(id)
        {
            // Nobody waiting means its delivery was handed back after a give-up (see
            // `complete`) and this is the broker redelivering it: not a duplicate.
            let rejoined = e.waiters.is_empty();
            e.waiters.push(tx);
            self.held += 1;
            self.relieve(now);
            return if rejoined {
                Admission::Rejoined
            } else {
                Admission::Duplicate
            };
        }
        let replaced = if is_scan(&diagnosis) {
            if contacts_of(&diagnosis).any(|c| self.webhook_contacts.contains_key(c)) {
                let _ = tx.send(Disposition::Done);
                return Admission::ReportedByWebhook;
            }
            0
        } else {
            let contacts: Vec<String> = contacts_of(&diagnosis).map(str::to_string).collect();
            let replaced = self.drop_waiting_scans(&contacts);
            for c in contacts {
                self.webhook_contacts.insert(c.clone(), now);
                self.webhook_contacts_order.push_back((now, c));
            }
            replaced
        };
        let id = self.next_id;
        self.next_id += 1;
        let key = GroupKey {
            code: diagnosis.verdict.code,
            skill: diagnosis.target_skill.clone(),
            solo: self.timing.group_wait.is_zero().then_some(id),
        };
        let interval = self.timing.group_interval;
        let group = self
            .groups
            .entry(key.clone())
            .or_insert_with(|| Group::new(self.dests, now + self.timing.group_wait));
        if group.due.is_none() {
            let next = group.last_flush.map_or(now, |t| t + interval);
            group.due = Some(next.max(now));
        }
        group.total += 1;
        for p in &mut group.pending {
            p.push(id);
        }
        self.pending_events.insert(diagnosis.event_id.clone(), id);
        self.entries.insert(
            id,
            Entry {
                diagnosis: Arc::new(diagnosis),
                key,
                flushed: false,
                remaining: vec![true; self.dests],
                waiters: vec![tx],
            },
        );
        self.held += 1;
        self.relieve(now);
        if replaced > 0 {
            Admission::AcceptedReplacingScans(replaced)
        } else {
            Admission::Accepted
        }
    }

    /// Takes the scan diagnoses that name one of `contacts` and still wait in their
    /// groups out of them, and resolves them `Done`; returns how many. Pending entries
    /// are bounded by the consumer's prefetch, so looking through them all is cheap.
    fn drop_waiting_scans(&mut self, contacts: &[String]) -> usize {
        if contacts.is_empty() {
            return 0;
        }
        let ids: Vec<EntryId> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                !e.flushed
                    && is_scan(&e.diagnosis)
                    && contacts_of(&e.diagnosis).any(|c| contacts.iter().any(|x| x == c))
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            let Some(e) = self.entries.remove(id) else {
                continue;
            };
            self.pending_events.remove(&e.diagnosis.event_id);
            if let Some(g) = self.groups.get_mut(&e.key) {
                for p in &mut g.pending {
                    p.retain(|x| x != id);
                }
                g.total = g.total.saturating_sub(1);
                // Nothing left to send: no deadline. A group that never sent anything
                // is then idle and forgotten by `gc`.
                if g.pending.iter().all(Vec::is_empty) {
                    g.due = None;
                }
            }
            self.held -= e.waiters.len();
            for w in e.waiters {
                let _ = w.send(Disposition::Done);
            }
        }
        ids.len()
    }

    /// Keeps the consumer from stalling. Every report stays unacked until delivered, so the
    /// reports waiting for a group's next message occupy the consumer's prefetch; once it
    /// is full the broker sends nothing more until a timer fires, which in a storm can be
    /// a whole `group_interval`. So when nine in ten places are held and at least a
    /// quarter of them wait for a timer (not for a destination, which frees them as it
    /// delivers), the groups with the most waiting reports become due now, the largest
    /// first, until at most a quarter still wait. Their message comes early, as an
    /// update that counts what it covers; the number of messages stays bounded by the
    /// groups times the reports over the prefetch.
    fn relieve(&mut self, now: Instant) {
        let max = self.timing.max_pending;
        if max == 0 || self.held * 10 < max * 9 {
            return;
        }
        let mut waiting: Vec<(usize, &mut Group)> = self
            .groups
            .values_mut()
            .filter(|g| g.due.is_some_and(|t| t > now))
            .map(|g| (g.pending.iter().map(Vec::len).max().unwrap_or(0), g))
            .filter(|(n, _)| *n > 0)
            .collect();
        let total: usize = waiting.iter().map(|(n, _)| n).sum();
        if total * 4 < max {
            return;
        }
        waiting.sort_by_key(|w| std::cmp::Reverse(w.0));
        let mut left = total;
        for (n, g) in waiting {
            if left * 4 <= max {
                break;
            }
            g.due = Some(now);
            left -= n;
        }
        tracing::debug!(
            held = self.held,
            waiting = total,
            still_waiting = left,
            "notifier prefetch nearly full: flushing the largest groups early"
        );
    }

    /// How many broker deliveries are held (one per waiter).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// The earliest group deadline, if any group is waiting.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.groups.values().filter_map(|g| g.due).min()
    }

    /// Takes what is due: one batch per group and destination with something pending, in
    /// arrival order.
    pub(crate) fn flush_due(&mut self, now: Instant) -> Vec<Batch> {
        let mut batches = Vec::new();
        for (key, g) in &mut self.groups {
            if g.due.is_none_or(|t| t > now) {
                continue;
            }
            g.due = None;
            g.last_flush = Some(now);
            for dest in 0..self.dests {
                if g.pending[dest].is_empty() {
                    continue;
                }
                let mut ids = std::mem::take(&mut g.pending[dest]);
                // Every pending id has its entry (entries leave only once no destination
                // waits for them); stay safe anyway: an empty message is never built.
                ids.retain(|id| self.entries.contains_key(id));
                if ids.is_empty() {
                    continue;
                }
                g.inflight[dest] += 1;
                let diagnoses = ids
                    .iter()
                    .filter_map(|id| {
                        self.entries.get_mut(id).map(|e| {
                            e.flushed = true;
                            e.diagnosis.clone()
                        })
                    })
                    .collect();
                batches.push(Batch {
                    dest,
                    key: key.clone(),
                    update: g.announced[dest],
                    total: g.total,
                    entries: ids,
                    diagnoses,
                });
            }
        }
        batches.sort_by_key(|b| (b.entries.first().copied(), b.dest));
        batches
    }

    /// Records how a destination's delivery of a batch ended, and resolves every diagnosis
    /// that no destination is still waiting for.
    pub(crate) fn complete(
        &mut self,
        dest: usize,
        key: &GroupKey,
        ids: &[EntryId],
        outcome: Completion,
        now: Instant,
    ) {
        let interval = self.timing.group_interval;
        let group = self.groups.entry(key.clone()).or_insert_with(|| {
            // Cannot normally happen (a group with work in flight is kept), but a lost
            // group must not lose its diagnoses.
            let mut g = Group::new(self.dests, now + interval);
            g.due = None;
            g.inflight[dest] = 1;
            g
        });
        group.inflight[dest] = group.inflight[dest].saturating_sub(1);
        match outcome {
            Completion::GaveUp => {
                group.pending[dest].extend_from_slice(ids);
                if group.due.is_none() {
                    group.due = Some(now + interval);
                }
                // Keep the diagnoses for the next attempt, but hand their broker
                // deliveries back: a destination that is down for long must not hold
                // them unacked past RabbitMQ's consumer timeout (30 min), which would
                // close the consumer's channel. The redelivery rejoins the entry.
                for id in ids {
                    if let Some(e) = self.entries.get_mut(id) {
                        self.held -= e.waiters.len();
                        for w in e.waiters.drain(..) {
                            let _ = w.send(Disposition::Requeue);
                        }
                    }
                }
                return;
            }
            Completion::Delivered => group.announced[dest] = true,
            Completion::Refused => {}
        }
        for id in ids {
            let Some(e) = self.entries.get_mut(id) else {
                continue;
            };
            e.remaining[dest] = false;
            if e.remaining.iter().any(|r| *r) {
                continue;
            }
            if let Some(e) = self.entries.remove(id) {
                let event_id = e.diagnosis.event_id.clone();
                self.pending_events.remove(&event_id);
                self.delivered.insert(event_id.clone(), now);
                self.delivered_order.push_back((now, event_id));
                self.held -= e.waiters.len();
                for w in e.waiters {
                    let _ = w.send(Disposition::Done);
                }
            }
        }
    }

    /// Forgets idle groups and expired de-duplication records (event ids and webhook
    /// contact ids).
    pub(crate) fn gc(&mut self, now: Instant) {
        let interval = self.timing.group_interval;
        self.groups.retain(|key, g| {
            !(g.idle() && (key.solo.is_some() || g.last_flush.is_none_or(|t| t + interval <= now)))
        });
        let ttl = self.timing.dedup_ttl;
        while let Some((t, _)) = self.delivered_order.front() {
            if *t + ttl > now {
                break;
            }
            if let Some((t, id)) = self.delivered_order.pop_front()
                && self.delivered.get(&id) == Some(&t)
            {
                self.delivered.remove(&id);
            }
        }
        while let Some((t, _)) = self.webhook_contacts_order.front() {
            if *t + ttl > now {
                break;
            }
            if let Some((t, c)) = self.webhook_contacts_order.pop_front()
                && self.webhook_contacts.get(&c) == Some(&t)
            {
                self.webhook_contacts.remove(&c);
            }
        }
    }

    /// Stops taking diagnoses: from now on [`State::submit`] answers `Requeue`.
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }

    /// Resolves everything still waiting with `Requeue` (shutdown); returns how many.
    pub(crate) fn requeue_all(&mut self) -> usize {
        let n = self.entries.len();
        for (_, e) in self.entries.drain() {
            for w in e.waiters {
                let _ = w.send(Disposition::Requeue);
            }
        }
        self.pending_events.clear();
        self.groups.clear();
        self.held = 0;
        n
    }

    /// How many groups are remembered.
    #[cfg(test)]
    pub(crate) fn group_count(&self) -> usize {
        self.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::report::tests::diagnosis;

    const S: Duration = Duration::from_secs(1);

    fn state(dests: usize, wait: u64) -> State {
        State::new(
            dests,
            Timing {
                group_wait: S * wait as u32,
                group_interval: S * 300,
                dedup_ttl: S * 3600,
                max_pending: 0,
            },
        )
    }

    /// Like [`state`], holding at most `max_pending` deliveries.
    fn state_with_prefetch(wait: u64, max_pending: usize) -> State {
        let mut st = state(1, wait);
        st.timing.max_pending = max_pending;
        st
    }

    fn submit(
        st: &mut State,
        d: Diagnosis,
        now: Instant,
    ) -> (Admission, oneshot::Receiver<Disposition>) {
        let (tx, rx) = oneshot::channel();
        (st.submit(d, tx, now), rx)
    }

    #[test]
    fn a_new_group_waits_group_wait_then_sends_everything_as_one_batch() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        for i in 0..25 {
            submit(
                &mut st,
                diagnosis("HD303", &format!("c{i}"), Some("S")),
                t0 + S * i,
            );
        }
        assert_eq!(st.next_due(), Some(t0 + S * 30));
        assert!(st.flush_due(t0 + S * 29).is_empty());
        let b = st.flush_due(t0 + S * 30);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].diagnoses.len(), 25);
        assert!(!b[0].update);
    }

    #[test]
    fn different_verdicts_and_skills_are_different_groups_and_no_skill_is_its_own() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        submit(&mut st, diagnosis("HD303", "a", Some("S")), t0);
        submit(&mut st, diagnosis("HD303", "b", Some("T")), t0);
        submit(&mut st, diagnosis("HD303", "c", None), t0);
        submit(&mut st, diagnosis("HD108", "d", Some("S")), t0);
        submit(&mut st, diagnosis("HD303", "e", Some("S")), t0);
        let b = st.flush_due(t0 + S * 30);
        assert_eq!(b.len(), 4);
        assert_eq!(b[0].diagnoses.len(), 2);
    }

    #[test]
    fn later_failures_go_out_as_one_update_a_group_interval_after_the_first_message() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        let (_, mut rx) = submit(&mut st, diagnosis("HD303", "a", None), t0);
        let b = st.flush_due(t0 + S * 30);
        st.complete(
            0,
            &b[0].key,
            &b[0].entries,
            Completion::Delivered,
            t0 + S * 31,
        );
        assert_eq!(rx.try_recv(), Ok(Disposition::Done));
        submit(&mut st, diagnosis("HD303", "b", None), t0 + S * 40);
        submit(&mut st, diagnosis("HD303", "c", None), t0 + S * 100);
        assert_eq!(st.next_due(), Some(t0 + S * 330));
        assert!(st.flush_due(t0 + S * 329).is_empty());
        let b = st.flush_due(t0 + S * 330);
        assert_eq!(b.len(), 1);
        assert!(b[0].update);
        assert_eq!(b[0].total, 3);
        assert_eq!(b[0].diagnoses.len(), 2);
    }

    #[test]
    fn a_quiet_group_is_forgotten_and_the_next_failure_starts_a_new_one() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        submit(&mut st, diagnosis("HD303", "a", None), t0);
        let b = st.flush_due(t0 + S * 30);
        st.complete(
            0,
            &b[0].key,
            &b[0].entries,
            Completion::Delivered,
            t0 + S * 31,
        );
        st.gc(t0 + S * 329);
        assert_eq!(st.group_count(), 1);
        submit(&mut st, diagnosis("HD303", "b", None), t0 + S * 331);
        assert_eq!(st.next_due(), Some(t0 + S * 361));
        let b = st.flush_due(t0 + S * 361);
        assert!(!b[0].update);
        assert_eq!(b[0].total, 1);
    }

    #[test]
    fn group_wait_zero_makes_every_diagnosis_its_own_message_at_once() {
        let t0 = Instant::now();
        let mut st = state(1, 0);
        submit(&mut st, diagnosis("HD303", "a", None), t0);
        submit(&mut st, diagnosis("HD303", "b", None), t0);
        let b = st.flush_due(t0);
        assert_eq!(b.len(), 2);
        assert!(b.iter().all(|b| b.diagnoses.len() == 1));
        assert_eq!(b[0].diagnoses[0].conversation_id, "a");
    }

    #[test]
    fn a_duplicate_of_a_delivered_event_is_done_at_once_until_the_ttl_expires() {
        let t0 = Instant::now();
        let mut st = state(1, 0);
        submit(&mut st, diagnosis("HD303", "a", None), t0);
        let b = st.flush_due(t0);
        st.complete(0, &b[0].key, &b[0].entries, Completion::Delivered, t0);
        let (adm, mut rx) = submit(&mut st, diagnosis("HD303", "a", None), t0 + S * 3599);
        assert_eq!(adm, Admission::Duplicate);
        assert_eq!(rx.try_recv(), Ok(Disposition::Done));
        assert!(st.flush_due(t0 + S * 3599).is_empty());
        let (adm, _) = submit(&mut st, diagnosis("HD303", "a", None), t0 + S * 3600);
        assert_eq!(adm, Admission::Accepted);
    }

    #[test]
    fn a_duplicate_of_a_pending_event_resolves_with_the_original() {
        let t0 = Instant::now();
        let mut st = state(2, 30);
        let (_, mut first) = submit(&mut st, diagnosis("HD303", "a", None), t0);
        let (adm, mut dup) = submit(&mut st, diagnosis("HD303", "a", None), t0 + S);
        assert_eq!(adm, Admission::Duplicate);
        let b = st.flush_due(t0 + S * 30);
        assert_eq!(b.len(), 2, "one batch per destination");
        assert_eq!(b[0].diagnoses.len(), 1);
        st.complete(
            0,
            &b[0].key,
            &b[0].entries,
            Completion::Delivered,
            t0 + S * 31,
        );
        assert!(first.try_recv().is_err(), "teams has not got it yet");
        st.complete(
            1,
            &b[1].key,
            &b[1].entries,
            Completion::Refused,
            t0 + S * 31,
        );
        assert_eq!(first.try_recv(), Ok(Disposition::Done));
        assert_eq!(dup.try_recv(), Ok(Disposition::Done));
    }

    #[test]
    fn a_destination_that_gave_up_gets_the_diagnoses_again_at_the_next_interval() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        let (_, mut rx) = submit(&mut st, diagnosis("HD303", "a", None), t0);
        let b = st.flush_due(t0 + S * 30);
        st.complete(0, &b[0].key, &b[0].entries, Completion::GaveUp, t0 + S * 60);
        // The broker delivery is handed back, the diagnosis is kept.
        assert_eq!(rx.try_recv(), Ok(Disposition::Requeue));
        let (adm, mut again) = submit(&mut st, diagnosis("HD303", "a", None), t0 + S * 61);
        assert_eq!(adm, Admission::Rejoined);
        assert_eq!(st.next_due(), Some(t0 + S * 360));
        let b = st.flush_due(t0 + S * 360);
        assert_eq!(b.len(), 1);
        assert_eq!(
            b[0].diagnoses.len(),
            1,
            "the redelivery did not add a second copy"
        );
        assert_eq!(b[0].diagnoses[0].conversation_id, "a");
        assert!(!b[0].update, "it was never announced there");
        st.complete(
            0,
            &b[0].key,
            &b[0].entries,
            Completion::Delivered,
            t0 + S * 361,
        );
        assert_eq!(again.try_recv(), Ok(Disposition::Done));
    }

    /// A webhook diagnosis of `contact` (conversation `conv`).
    fn webhook(conv: &str, contact: &str) -> Diagnosis {
        let mut d = diagnosis("HD303", conv, Some("S"));
        d.contact_id = Some(contact.into());
        d
    }

    /// The scan diagnosis of `contact`, in another group than the webhook ones.
    fn scan(contact: &str) -> Diagnosis {
        let mut d = diagnosis("HD304", &format!("scan:{contact}"), Some("S"));
        d.event_id = format!("scan:{contact}");
        d.contact_id = Some(contact.into());
        d
    }

    fn sent(batches: &[Batch]) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| b.diagnoses.iter().map(|d| d.event_id.clone()))
            .collect()
    }

    #[test]
    fn a_scan_diagnosis_of_a_contact_reported_by_webhook_is_done_at_once_and_never_sent() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        submit(&mut st, webhook("a", "111"), t0);
        let (adm, mut rx) = submit(&mut st, scan("111"), t0 + S * 5);
        assert_eq!(adm, Admission::ReportedByWebhook);
        assert_eq!(rx.try_recv(), Ok(Disposition::Done));
        assert_eq!(sent(&st.flush_due(t0 + S * 30)), ["ev-a"]);
    }

    #[test]
    fn a_webhook_diagnosis_replaces_the_scan_one_of_its_contact_still_waiting_in_its_group() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        let (_, mut scan_rx) = submit(&mut st, scan("111"), t0);
        let (adm, mut hook_rx) = submit(&mut st, webhook("a", "111"), t0 + S * 10);
        assert_eq!(adm, Admission::AcceptedReplacingScans(1));
        assert_eq!(scan_rx.try_recv(), Ok(Disposition::Done));
        assert!(
            hook_rx.try_recv().is_err(),
            "the webhook one waits for delivery"
        );
        // The scan's group has nothing left: no deadline of its own.
        assert_eq!(st.next_due(), Some(t0 + S * 40));
        assert!(st.flush_due(t0 + S * 30).is_empty());
        let b = st.flush_due(t0 + S * 40);
        assert_eq!(sent(&b), ["ev-a"]);
        assert_eq!(b[0].total, 1);
        st.gc(t0 + S * 40);
        assert_eq!(st.group_count(), 1, "the emptied scan group is forgotten");
        // A redelivery of the dropped scan report is still a duplicate.
        let (adm, _) = submit(&mut st, scan("111"), t0 + S * 41);
        assert_eq!(adm, Admission::ReportedByWebhook);
    }

    #[test]
    fn a_replaced_scan_diagnosis_leaves_the_rest_of_its_group_in_place() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        submit(&mut st, scan("111"), t0);
        submit(&mut st, scan("222"), t0);
        submit(&mut st, webhook("a", "111"), t0 + S);
        let b = st.flush_due(t0 + S * 30);
        assert_eq!(sent(&b), ["scan:222"]);
        assert_eq!(b[0].total, 1);
    }

    #[test]
    fn a_webhook_diagnosis_after_the_scan_one_went_out_is_sent_as_well() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        submit(&mut st, scan("111"), t0);
        let b = st.flush_due(t0 + S * 30);
        assert_eq!(sent(&b), ["scan:111"]);
        // Still on its way: it counts as sent all the same.
        let (adm, _) = submit(&mut st, webhook("a", "111"), t0 + S * 31);
        assert_eq!(adm, Admission::Accepted);
        st.complete(
            0,
            &b[0].key,
            &b[0].entries,
            Completion::Delivered,
            t0 + S * 32,
        );
        assert_eq!(sent(&st.flush_due(t0 + S * 61)), ["ev-a"]);
    }

    #[test]
    fn a_scan_diagnosis_after_the_ttl_of_the_webhook_contact_is_sent() {
        let t0 = Instant::now();
        let mut st = state(1, 0);
        submit(&mut st, webhook("a", "111"), t0);
        let (adm, _) = submit(&mut st, scan("111"), t0 + S * 3599);
        assert_eq!(adm, Admission::ReportedByWebhook);
        let (adm, _) = submit(&mut st, scan("111"), t0 + S * 3600);
        assert_eq!(adm, Admission::Accepted);
        assert_eq!(sent(&st.flush_due(t0 + S * 3600)), ["ev-a", "scan:111"]);
    }

    #[test]
    fn scan_and_webhook_diagnoses_of_different_contacts_are_both_sent() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        let (a, _) = submit(&mut st, scan("111"), t0);
        let (b, _) = submit(&mut st, webhook("a", "222"), t0);
        let (c, _) = submit(&mut st, scan("333"), t0);
        assert_eq!([a, b, c], [Admission::Accepted; 3]);
        let mut out = sent(&st.flush_due(t0 + S * 30));
        out.sort();
        assert_eq!(out, ["ev-a", "scan:111", "scan:333"]);
    }

    #[test]
    fn a_scan_diagnosis_never_suppresses_another_scan_or_a_webhook_one() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        submit(&mut st, scan("111"), t0);
        let b = st.flush_due(t0 + S * 30);
        st.complete(
            0,
            &b[0].key,
            &b[0].entries,
            Completion::Delivered,
            t0 + S * 30,
        );
        // Two webhook events of one contact are two reports (different event ids).
        assert_eq!(
            submit(&mut st, webhook("a", "111"), t0 + S * 31).0,
            Admission::Accepted
        );
        assert_eq!(
            submit(&mut st, webhook("b", "111"), t0 + S * 32).0,
            Admission::Accepted
        );
    }

    #[test]
    fn the_master_contact_links_a_scanned_contact_to_the_webhook_report_of_its_call() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        // The bot reported the master contact; the scan found the spawned one.
        submit(&mut st, webhook("a", "100"), t0);
        let mut child = scan("101");
        child.master_contact_id = Some("100".into());
        assert_eq!(submit(&mut st, child, t0).0, Admission::ReportedByWebhook);
        // The scan found a contact first; the bot's report names it as the master.
        let (_, mut rx) = submit(&mut st, scan("200"), t0);
        let mut hook = webhook("b", "201");
        hook.master_contact_id = Some("200".into());
        assert_eq!(
            submit(&mut st, hook, t0 + S).0,
            Admission::AcceptedReplacingScans(1)
        );
        assert_eq!(rx.try_recv(), Ok(Disposition::Done));
        assert_eq!(sent(&st.flush_due(t0 + S * 30)), ["ev-a", "ev-b"]);
    }

    #[test]
    fn placeholder_contact_ids_link_nothing() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        submit(&mut st, webhook("a", "100000000000"), t0);
        assert_eq!(
            submit(&mut st, scan("100000000000"), t0).0,
            Admission::Accepted
        );
    }

    #[test]
    fn shutdown_requeues_what_is_pending_and_refuses_new_work() {
        let t0 = Instant::now();
        let mut st = state(1, 30);
        let (_, mut rx) = submit(&mut st, diagnosis("HD303", "a", None), t0);
        st.close();
        let (adm, mut late) = submit(&mut st, diagnosis("HD303", "b", None), t0);
        assert_eq!(adm, Admission::Closed);
        assert_eq!(late.try_recv(), Ok(Disposition::Requeue));
        assert_eq!(st.requeue_all(), 1);
        assert_eq!(rx.try_recv(), Ok(Disposition::Requeue));
    }

    #[test]
    fn a_nearly_full_prefetch_makes_the_largest_waiting_groups_due_at_once() {
        let t0 = Instant::now();
        let mut st = state_with_prefetch(30, 100);
        for i in 0..70 {
            submit(&mut st, diagnosis("HD303", &format!("a{i}"), Some("S")), t0);
        }
        for i in 0..19 {
            submit(&mut st, diagnosis("HD304", &format!("b{i}"), Some("S")), t0);
        }
        // 89 of 100 held: nothing yet.
        assert!(st.flush_due(t0).is_empty());
        submit(&mut st, diagnosis("HD304", "b19", Some("S")), t0);
        // 90 held, 90 waiting for a timer: the larger group goes now, which leaves 20
        // (at most a quarter) waiting; the smaller one keeps its deadline.
        let b = st.flush_due(t0);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].key.code, Code::Hd303);
        assert_eq!(b[0].entries.len(), 70);
        assert!(!b[0].update, "the group's first message, only earlier");
        assert_eq!(st.next_due(), Some(t0 + S * 30));
    }

    #[test]
    fn reports_already_on_their_way_do_not_make_more_groups_due() {
        let t0 = Instant::now();
        let mut st = state_with_prefetch(30, 100);
        for i in 0..80 {
            submit(&mut st, diagnosis("HD303", &format!("a{i}"), Some("S")), t0);
        }
        let b = st.flush_due(t0 + S * 30);
        assert_eq!(b[0].entries.len(), 80);
        // The 80 are in flight (still held); 10 more wait for the group's interval. The
        // destination frees the 80 as it delivers, so an early update would only add a
        // small message.
        for i in 0..10 {
            submit(
                &mut st,
                diagnosis("HD303", &format!("b{i}"), Some("S")),
                t0 + S * 31,
            );
        }
        assert_eq!(st.held(), 90);
        assert!(st.flush_due(t0 + S * 31).is_empty());
        st.complete(
            0,
            &b[0].key,
            &b[0].entries,
            Completion::Delivered,
            t0 + S * 32,
        );
        assert_eq!(st.held(), 10);
        assert_eq!(st.next_due(), Some(t0 + S * 330));
    }

    #[test]
    fn held_deliveries_are_counted_per_waiter_until_settled() {
        let t0 = Instant::now();
        let mut st = state(1, 0);
        let (_, _a) = submit(&mut st, diagnosis("HD303", "c1", None), t0);
        let (_, _dup) = submit(&mut st, diagnosis("HD303", "c1", None), t0);
        assert_eq!(
            st.held(),
            2,
            "a redelivered pending event holds its own delivery"
        );
        let b = st.flush_due(t0);
        st.complete(0, &b[0].key, &b[0].entries, Completion::GaveUp, t0);
        assert_eq!(st.held(), 0, "given back to the broker");
        let (adm, _again) = submit(&mut st, diagnosis("HD303", "c1", None), t0);
        assert_eq!(adm, Admission::Rejoined);
        assert_eq!(st.held(), 1);
        let b = st.flush_due(t0 + S * 300);
        st.complete(
            0,
            &b[0].key,
            &b[0].entries,
            Completion::Delivered,
            t0 + S * 300,
        );
        assert_eq!(st.held(), 0);
    }
}

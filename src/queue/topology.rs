//! Queue names and arguments (CONTRACT.md section 9), declared the same way by every role.
//!
//! Redeclaring a queue with different arguments closes the channel with
//! `406 PRECONDITION_FAILED`, so every declaration lives here, in one function used by
//! publishers and consumers alike.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `P.jobs`: events waiting to be diagnosed.
    Jobs,
    /// `P.retry.<delay>`: back into `P.jobs` after the delay.
    Retry(Duration),
    /// `P.reports`: diagnoses waiting for the notifier.
    Reports,
    /// `P.dead`: what can never succeed, with its reason.
    Dead,
}

/// Which queue a consumer reads; for a dead letter, the queue it died in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `P.jobs`.
    Jobs,
    /// `P.reports` (single active consumer).
    Reports,
}

impl Source {
    /// The queue name's suffix: `P.<suffix>`.
    pub fn suffix(self) -> &'static str {
        match self {
            Source::Jobs => "jobs",
            Source::Reports => "reports",
        }
    }

    /// Where a message of this queue is published again (`dead-letters --requeue`).
    pub fn target(self) -> Target {
        match self {
            Source::Jobs => Target::Jobs,
            Source::Reports => Target::Reports,
        }
    }

    /// The queue a dead letter died in when nothing recorded it (a message dead-lettered
    /// by an older version, or published to `P.dead` by hand): a body that reads as a
    /// Diagnosis was a report, anything else a job. Sending a report back to `P.jobs`
    /// would diagnose it as an event (a bogus HD101).
    pub fn guess_from_body(body: &[u8]) -> Source {
        match serde_json::from_slice::<crate::diagnosis::Diagnosis>(body) {
            Ok(_) => Source::Reports,
            Err(_) => Source::Jobs,
        }
    }
}

/// How often the broker may deliver a job before it dead-letters it (crash loops, a
/// poison message that kills the worker): RabbitMQ 3.x has no default.
pub const JOB_DELIVERY_LIMIT: i32 = 5;
/// The notifier acks only after delivery, so reports are redelivered whenever a notifier
/// stops mid-group; allow more of those.
pub const REPORT_DELIVERY_LIMIT: i32 = 20;
/// Bound on `P.jobs`: past it publishes are refused (the receiver answers 503 and the
/// flow retries) instead of the broker running out of memory.
pub const JOBS_MAX_LENGTH: i32 = 1_000_000;

/// The names derived from `QUEUE_PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    retry_delays: Vec<Duration>,
}

impl Topology {
    /// Names for `prefix`, with one delay queue per retry delay.
    pub fn new(prefix: &str, mut retry_delays: Vec<Duration>) -> Self {
        retry_delays.sort();
        retry_delays.dedup();
        Topology {
            prefix: prefix.to_string(),
            retry_delays,
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `P.jobs`.
    pub fn jobs(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    /// `P.reports`.
    pub fn reports(&self) -> String {
        format!("{}.reports", self.prefix)
    }

    /// `P.dead`.
    pub fn dead(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    /// `P.jobs` or `P.reports`.
    pub fn queue(&self, source: Source) -> String {
        format!("{}.{}", self.prefix, source.suffix())
    }

    /// Which of our consumed queues `name` is: `P.jobs`, or a delay queue (whose messages
    /// belong in `P.jobs`), or `P.reports`. `None` for any other name.
    pub fn source_of(&self, name: &str) -> Option<Source> {
        if name == self.reports() {
            Some(Source::Reports)
        } else if name == self.jobs() || name.starts_with(&format!("{}.retry.", self.prefix)) {
            Some(Source::Jobs)
        } else {
            None
        }
    }

    /// The delay queues' delays, shortest first.
    pub fn retry_delays(&self) -> &[Duration] {
        &self.retry_delays
    }

    /// `P.retry.<secs>s` for the smallest declared delay at least `delay` (the longest
    /// when `delay` exceeds them all).
    pub fn retry_for(&self, delay: Duration) -> (String, Duration) {
        let d = self
            .retry_delays
            .iter()
            .copied()
            .find(|d| *d >= delay)
            .or_else(|| self.retry_delays.last().copied())
            .unwrap_or(Duration::from_secs(60));
        (format!("{}.retry.{}s", self.prefix, d.as_secs().max(1)), d)
    }

    /// Every queue with its declare arguments, dead-letter targets before their sources.
    pub fn declarations(&self) -> Vec<(String, FieldTable)> {
        let mut out = vec![(self.dead(), quorum())];

        let mut jobs = quorum();
        dead_letter_to(&mut jobs, &self.dead());
        jobs.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongInt(JOB_DELIVERY_LIMIT),
        );
        jobs.insert("x-max-length".into(), AMQPValue::LongInt(JOBS_MAX_LENGTH));
        out.push((self.jobs(), jobs));

        for d in &self.retry_delays {
            let (name, d) = self.retry_for(*d);
            let mut retry = quorum();
            // Expired messages go back to the jobs queue: TTL per queue (not per message),
            // because quorum queues expire only at the head.
            dead_letter_to(&mut retry, &self.jobs());
            retry.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(d.as_millis() as i64),
            );
            out.push((name, retry));
        }

        let mut reports = quorum();
        dead_letter_to(&mut reports, &self.dead());
        reports.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongInt(REPORT_DELIVERY_LIMIT),
        );
        // Exactly one notifier owns grouping, de-duplication and pacing at a time; the
        // others wait as hot standbys.
        reports.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
        out.push((self.reports(), reports));
        out
    }

    /// Durable, not exclusive, not auto-delete: what quorum queues require.
    pub fn declare_options() -> QueueDeclareOptions {
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        }
    }
}

fn long(s: &str) -> AMQPValue {
    // LongString, not ShortString: RabbitMQ reads field type 's' differently from the spec.
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// Quorum: replicated, and the only type with delivery limits and at-least-once
/// dead-lettering; on RabbitMQ 3.10 also faster than durable classic queues.
fn quorum() -> FieldTable {
    let mut t = FieldTable::default();
    t.insert("x-queue-type".into(), long("quorum"));
    t
}

/// Dead-letters through the default exchange straight to `target`, at least once: the
/// broker keeps the message until the target confirmed it (needs `reject-publish`).
fn dead_letter_to(t: &mut FieldTable, target: &str) {
    t.insert("x-dead-letter-exchange".into(), long(""));
    t.insert("x-dead-letter-routing-key".into(), long(target));
    t.insert("x-dead-letter-strategy".into(), long("at-least-once"));
    t.insert("x-overflow".into(), long("reject-publish"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_for_picks_the_smallest_delay_that_covers_the_request() {
        let t = Topology::new("p", vec![Duration::from_secs(60), Duration::from_secs(10)]);
        assert_eq!(t.retry_for(Duration::from_secs(5)).0, "p.retry.10s");
        assert_eq!(t.retry_for(Duration::from_secs(30)).0, "p.retry.60s");
        assert_eq!(t.retry_for(Duration::from_secs(999)).0, "p.retry.60s");
    }

    #[test]
    fn queue_names_map_back_to_where_their_messages_belong() {
        use crate::queue::Source;
        let t = Topology::new("p", vec![Duration::from_secs(10)]);
        assert_eq!(t.source_of("p.jobs"), Some(Source::Jobs));
        assert_eq!(t.source_of("p.retry.10s"), Some(Source::Jobs));
        assert_eq!(t.source_of("p.reports"), Some(Source::Reports));
        assert_eq!(t.source_of("other.jobs"), None);
        assert_eq!(t.queue(Source::Reports), "p.reports");
    }

    #[test]
    fn every_queue_is_quorum_and_sources_dead_letter_to_dead() {
        let t = Topology::new("p", vec![Duration::from_secs(10)]);
        let decl = t.declarations();
        let names: Vec<_> = decl.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["p.dead", "p.jobs", "p.retry.10s", "p.reports"]);
        for (name, args) in &decl {
            assert_eq!(
                args.inner().get("x-queue-type"),
                Some(&long("quorum")),
                "{name}"
            );
        }
        assert_eq!(
            decl[1].1.inner().get("x-dead-letter-routing-key"),
            Some(&long("p.dead"))
        );
        assert_eq!(
            decl[2].1.inner().get("x-dead-letter-routing-key"),
            Some(&long("p.jobs"))
        );
    }
}

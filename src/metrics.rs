//! The Prometheus metrics every role records, served as text by `GET /metrics`.
//!
//! One [`Metrics`] per process (or per test app), passed around as `Arc<Metrics>`: an
//! explicit registry rather than a global recorder, so tests running side by side never
//! see each other's counts.
//!
//! Labels stay few: outcomes, codes and endpoints are fixed lists; the skill of
//! `handover_diagnoses_total` comes from the tenant's skills (or the flow's text), so its
//! distinct values are capped at [`MAX_SKILL_LABELS`]. No conversation id, contact id or
//! number is ever a label. `deploy/` holds alerting rules and a dashboard built on these.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Distinct skills `handover_diagnoses_total` labels by; later ones count as `other`, so a
/// flow that sends free text as its target skill cannot grow the series without bound.
pub const MAX_SKILL_LABELS: usize = 200;

/// Longest skill label kept (longer ones are cut).
const MAX_SKILL_LEN: usize = 100;

/// The process's counters.
pub struct Metrics {
    registry: Registry,
    webhooks: Family<Labels, Counter>,
    jobs: Family<Labels, Counter>,
    findings: Family<Labels, Counter>,
    notifications: Family<Labels, Counter>,
    cxone_requests: Family<Labels, Counter>,
    cxone_limit_wait: Counter<f64, AtomicU64>,
    queue_up: Gauge,
    diagnoses: Family<Labels, Counter>,
    diagnosis_seconds: Histogram,
    event_age_seconds: Histogram,
    queue_messages: Family<Labels, Gauge>,
    skills: Mutex<HashSet<String>>,
    /// `handover_webhooks_total{outcome="accepted"}`, resolved once: the receiver's
    /// request path counts every 202 without a label lookup.
    accepted: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every family of CONTRACT.md section 4 registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let webhooks: Family<Labels, Counter> = Family::default();
        let jobs = Family::default();
        let findings = Family::default();
        let notifications = Family::default();
        let cxone_requests = Family::default();
        let queue_up = Gauge::default();
        let cxone_limit_wait = Counter::<f64, AtomicU64>::default();
        registry.register(
            "handover_webhooks",
            "Webhooks received, by outcome",
            webhooks.clone(),
        );
        registry.register(
            "handover_jobs",
            "Jobs processed by workers, by outcome",
            jobs.clone(),
        );
        registry.register(
            "handover_findings",
            "Findings raised, by code",
            findings.clone(),
        );
        registry.register(
            "handover_notifications",
            "Notification deliveries, by channel and outcome",
            notifications.clone(),
        );
        registry.register(
            "handover_cxone_requests",
            "Requests made to CXone, by endpoint and HTTP status",
            cxone_requests.clone(),
        );
        registry.register(
            "handover_cxone_limit_wait_seconds",
            "Time CXone requests waited for their turn under CXONE_MAX_RPS or a 429's Retry-After",
            cxone_limit_wait.clone(),
        );
        registry.register(
            "handover_queue_connected",
            "1 while the queue is connected",
            queue_up.clone(),
        );
        let diagnoses = Family::default();
        registry.register(
            "handover_diagnoses",
            "Failed handovers diagnosed and sent to the notifier, by verdict code and target skill",
            diagnoses.clone(),
        );
        // 5 ms to about 80 s: a diagnosis is a few CXone round trips, or their retries.
        let diagnosis_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 15),
        );
        registry.register(
            "handover_diagnosis_duration_seconds",
            "Time a worker took for one diagnosis, from taking the job to its report being confirmed",
            diagnosis_seconds.clone(),
        );
        let event_age_seconds = Histogram::new([
            0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0,
        ]);
        registry.register(
            "handover_event_age_seconds",
            "Time from the webhook's arrival to its diagnosis being handed to the notifier (queueing, retries, re-checks)",
            event_age_seconds.clone(),
        );
        let queue_messages = Family::default();
        registry.register(
            "handover_queue_messages",
            "Messages in the jobs, reports and dead-letter queues, read from the broker at scrape time",
            queue_messages.clone(),
        );
        let accepted = webhooks
            .get_or_create(&vec![("outcome", "accepted".to_string())])
            .clone();
        Metrics {
            accepted,
            registry,
            webhooks,
            jobs,
            findings,
            notifications,
            cxone_requests,
            cxone_limit_wait,
            queue_up,
            diagnoses,
            diagnosis_seconds,
            event_age_seconds,
            queue_messages,
            skills: Mutex::new(HashSet::new()),
        }
    }

    /// Counts a webhook answer: `accepted`, or the error code (`invalid_signature`, ...).
    pub fn webhook(&self, outcome: &str) {
        self.webhooks
            .get_or_create(&vec![("outcome", outcome.to_string())])
            .inc();
    }

    /// Counts a `202`: the same series as `webhook("accepted")`, through the counter
    /// resolved at start (the request path does no label lookup).
    pub fn webhook_accepted(&self) {
        self.accepted.inc();
    }

    /// Counts a job outcome: `diagnosed`, `retried`, `rechecked`, `dead_lettered`.
    pub fn job(&self, outcome: &str) {
        self.jobs
            .get_or_create(&vec![("outcome", outcome.to_string())])
            .inc();
    }

    /// Counts a finding by code.
    pub fn finding(&self, code: &str) {
        self.findings
            .get_or_create(&vec![("code", code.to_string())])
            .inc();
    }

    /// Counts a notification attempt's outcome: `delivered` (Slack `ok`, stdout),
    /// `accepted` (a Teams Workflows 2xx: taken, not yet posted), `retried`,
    /// `rate_limited`, `permanent_error`, `failed`, `deduplicated`.
    pub fn notification(&self, channel: &str, outcome: &str) {
        self.notifications
            .get_or_create(&vec![
                ("channel", channel.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
    }

    /// Counts a CXone request by endpoint template (`/contacts/{id}`) and status (`200`,
    /// `timeout`, `error`).
    pub fn cxone_request(&self, endpoint: &str, status: &str) {
        self.cxone_requests
            .get_or_create(&vec![
                ("endpoint", endpoint.to_string()),
                ("status", status.to_string()),
            ])
            .inc();
    }

    /// Adds the time a CXone request waited for the process's rate limit: when it grows
    /// steadily, the limit, not CXone, sets the pace of diagnoses.
    pub fn cxone_limit_wait(&self, waited: Duration) {
        if !waited.is_zero() {
            self.cxone_limit_wait.inc_by(waited.as_secs_f64());
        }
    }

    /// Counts a diagnosis handed to the notifier, by its verdict code and target skill
    /// (`none` when the event named none), and records how long it took and how old the
    /// event was by then.
    pub fn diagnosis(
        &self,
        verdict: &str,
        skill: Option<&str>,
        took: std::time::Duration,
        age: Option<std::time::Duration>,
    ) {
        self.diagnoses
            .get_or_create(&vec![
                ("verdict", verdict.to_string()),
                ("skill", self.skill_label(skill)),
            ])
            .inc();
        self.diagnosis_seconds.observe(took.as_secs_f64());
        if let Some(age) = age {
            self.event_age_seconds.observe(age.as_secs_f64());
        }
    }

    fn skill_label(&self, skill: Option<&str>) -> String {
        let Some(skill) = skill.map(str::trim).filter(|s| !s.is_empty()) else {
            return "none".into();
        };
        let skill: String = skill.chars().take(MAX_SKILL_LEN).collect();
        let mut seen = self.skills.lock().expect("skills lock");
        if seen.contains(&skill) {
            return skill;
        }
        if seen.len() >= MAX_SKILL_LABELS {
            return "other".into();
        }
        seen.insert(skill.clone());
        skill
    }

    /// Sets the depth of one queue: `jobs`, `reports` or `dead`.
    pub fn set_queue_messages(&self, queue: &str, messages: u32) {
        self.queue_messages
            .get_or_create(&vec![("queue", queue.to_string())])
            .set(i64::from(messages));
    }

    /// Sets the queue connection gauge.
    pub fn set_queue_connected(&self, up: bool) {
        self.queue_up.set(i64::from(up));
    }

    /// The current value of a counter, for tests and summaries (0 when never counted).
    pub fn count(&self, family: &str, labels: &[(&'static str, &str)]) -> u64 {
        let key: Labels = labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let fam = match family {
            "webhooks" => &self.webhooks,
            "jobs" => &self.jobs,
            "findings" => &self.findings,
            "notifications" => &self.notifications,
            "cxone_requests" => &self.cxone_requests,
            "diagnoses" => &self.diagnoses,
            _ => return 0,
        };
        fam.get(&key).map(|c| c.get()).unwrap_or(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_their_contract_names() {
        let m = Metrics::new();
        m.webhook("accepted");
        m.webhook_accepted();
        m.cxone_request("/contacts/{id}", "200");
        let text = m.render();
        assert!(
            text.contains(r#"handover_webhooks_total{outcome="accepted"} 2"#),
            "{text}"
        );
        assert!(text.contains("handover_cxone_requests_total"), "{text}");
        m.cxone_limit_wait(Duration::from_millis(1500));
        let text = m.render();
        assert!(
            text.contains("handover_cxone_limit_wait_seconds_total 1.5"),
            "{text}"
        );
        assert_eq!(m.count("webhooks", &[("outcome", "accepted")]), 2);
    }

    #[test]
    fn diagnoses_are_counted_by_verdict_and_skill_with_their_timings() {
        let m = Metrics::new();
        let ms = std::time::Duration::from_millis;
        m.diagnosis("HD303", Some("Support_Voice_EN"), ms(40), Some(ms(900)));
        m.diagnosis("HD303", None, ms(40), None);
        assert_eq!(
            m.count(
                "diagnoses",
                &[("verdict", "HD303"), ("skill", "Support_Voice_EN")]
            ),
            1
        );
        assert_eq!(
            m.count("diagnoses", &[("verdict", "HD303"), ("skill", "none")]),
            1
        );
        let text = m.render();
        assert!(
            text.contains("handover_diagnosis_duration_seconds_count 2"),
            "{text}"
        );
        assert!(
            text.contains("handover_event_age_seconds_count 1"),
            "{text}"
        );
    }

    #[test]
    fn skill_labels_stop_growing_at_the_cap() {
        let m = Metrics::new();
        let d = std::time::Duration::ZERO;
        for i in 0..MAX_SKILL_LABELS + 50 {
            m.diagnosis("HD108", Some(&format!("skill-{i}")), d, None);
        }
        m.diagnosis("HD108", Some("skill-0"), d, None);
        assert_eq!(
            m.count("diagnoses", &[("verdict", "HD108"), ("skill", "other")]),
            50
        );
        assert_eq!(
            m.count("diagnoses", &[("verdict", "HD108"), ("skill", "skill-0")]),
            2
        );
    }

    #[test]
    fn queue_depths_render_per_queue() {
        let m = Metrics::new();
        m.set_queue_messages("jobs", 7);
        assert!(
            m.render()
                .contains(r#"handover_queue_messages{queue="jobs"} 7"#),
            "{}",
            m.render()
        );
    }
}

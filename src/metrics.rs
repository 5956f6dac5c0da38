//! The Prometheus metrics every role records, served as text by `GET /metrics`.
//!
//! One [`Metrics`] per process (or per test app), passed around as `Arc<Metrics>`: an
//! explicit registry rather than a global recorder, so tests running side by side never
//! see each other's counts.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// The process's counters.
pub struct Metrics {
    registry: Registry,
    webhooks: Family<Labels, Counter>,
    jobs: Family<Labels, Counter>,
    findings: Family<Labels, Counter>,
    notifications: Family<Labels, Counter>,
    cxone_requests: Family<Labels, Counter>,
    queue_up: Gauge,
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
            "handover_queue_connected",
            "1 while the queue is connected",
            queue_up.clone(),
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
            queue_up,
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
        assert_eq!(m.count("webhooks", &[("outcome", "accepted")]), 2);
    }
}

//! The operations kit in `deploy/`: the Prometheus alerting rules pass `promtool check rules`
//! and their unit tests (`promtool test rules`), and every metric the rules and the Grafana
//! dashboard query is one a running service really exposes on `/metrics`.
//!
//! promtool comes with Debian's `prometheus` package (`apt-get install -y prometheus`;
//! `.ci/run` installs it): without it these tests fail, they do not skip.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use handover_doctor::roles::Role;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::app;
use crate::support::cxone_stub::CxoneStub;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(root().join("deploy/prometheus"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool must be installed for these tests (apt-get install -y prometheus): {e}"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn the_alerting_rules_pass_promtool_check_and_their_unit_tests() {
    let checked = promtool(&["check", "rules", "alerts.yml"]);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool(&["test", "rules", "alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// Every `handover_*` metric name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.match_indices("handover_")
        .filter(|(i, _)| {
            // Not the tail of a longer identifier.
            !text[..*i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(|(i, _)| {
            text[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// What the rules and the dashboard query.
fn queried() -> BTreeSet<String> {
    let rules = std::fs::read_to_string(root().join("deploy/prometheus/alerts.yml")).unwrap();
    let exprs: String = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = metric_names(&exprs);
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/grafana/handover-doctor.json")).unwrap(),
    )
    .unwrap();
    let mut dash_exprs = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            dash_exprs += 1;
            let found = metric_names(expr);
            assert!(
                !found.is_empty(),
                "a dashboard query without a metric: {expr}"
            );
            names.extend(found);
        }
    }
    assert!(dash_exprs >= 10, "the dashboard has its panels");
    names
}

/// The metric names a scrape exposes: every sample's name, plus the series each declared
/// family has (`# TYPE x counter` → `x_total`; a histogram → `_bucket`, `_sum`, `_count`).
/// A labelled family is not even declared before its first series, so the test first
/// sends an event through every role.
fn exposed(scrape: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            match kind {
                "counter" => {
                    names.insert(format!("{name}_total"));
                }
                "histogram" => {
                    for s in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{name}{s}"));
                    }
                }
                _ => {
                    names.insert(name.to_string());
                }
            }
        } else if !line.starts_with('#') {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

#[tokio::test]
async fn every_metric_the_rules_and_the_dashboard_query_is_exposed_by_a_running_service() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let slack_url = format!("{}/services/T0/B0/x", slack.uri());
    // CXone's counters appear with the first request to it: the stub answers the token,
    // and 404 to what it was not told about.
    let cxone = CxoneStub::start().await;
    let mut vars = vec![
        ("WEBHOOK_API_KEYS", "k".to_string()),
        ("NOTIFY_GROUP_WAIT_SECS", "0".to_string()),
        ("SLACK_WEBHOOK_URL", slack_url),
        ("RETRY_DELAYS_SECS", "1".to_string()),
        ("RECHECK_DELAYS_SECS", "1".to_string()),
    ];
    vars.extend(cxone.env_vars());
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = app::spawn("deploykit", Role::All, &vars).await;
    let status = app
        .client
        .post(app.webhook())
        .header("content-type", "application/json")
        .header("x-api-key", "k")
        .body(std::fs::read(root().join("fixtures/webhooks/vg-dial-488.json")).unwrap())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 202);
    // The per-verdict series and the latency histograms appear with the first diagnosis,
    // the notification counters with its message.
    let scrape = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let text = app
                .client
                .get(format!("{}/metrics", app.address))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if text.contains("handover_diagnoses_total{")
                && text.contains("handover_notifications_total{")
                && text.contains("handover_cxone_requests_total{")
                && text.contains("handover_queue_messages{")
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the event is diagnosed (CXone asked) and notified");
    let exposed = exposed(&scrape);
    let queried = queried();
    assert!(queried.len() >= 8, "{queried:?}");
    let missing: Vec<_> = queried.difference(&exposed).collect();
    assert!(
        missing.is_empty(),
        "queried but not in /metrics: {missing:?}\n{scrape}"
    );
    app.stop().await;
}

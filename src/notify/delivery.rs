//! Delivery of one message to one destination: pacing, retries and the reading of Slack's
//! and Teams' answers.
//!
//! - Pace: at most one request per `min_interval` per destination (Slack allows ~1/s per
//!   webhook; Teams throttles above 4/s). Messages wait their turn; none is dropped.
//! - `429`: wait `Retry-After` seconds (at most [`MAX_RETRY_AFTER`]), then try again.
//! - `5xx`, `408`, timeouts, connection errors: exponential back-off with jitter, bounded
//!   by `max_attempts`; after that the group retries at its next interval.
//! - Slack succeeds only with 2xx and the body `ok`; its error strings (`channel_not_found`,
//!   `invalid_blocks`, ...) are permanent. Teams Workflows answers `202`; other 4xx are
//!   permanent. A permanent refusal is logged at `error` and counted, never retried.
//! - Slack's `ok` and a written stdout line count as `delivered`; Teams' `202` counts as
//!   `accepted`: the flow answers before it posts the card, and a card it then fails to
//!   post shows only in the flow's run history (notify-and-webhooks.md §2.3).
//!
//! Nothing here logs a webhook URL (they are credentials): only its host.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::clock::Clock;
use super::report::Report;
use super::settings::{NotifySettings, url_host};
use super::{slack, stdout, teams};
use crate::metrics::Metrics;

/// Slack webhook error strings that no retry can fix (notify-and-webhooks.md §1.4).
pub const SLACK_PERMANENT_ERRORS: &[&str] = &[
    "invalid_payload",
    "invalid_blocks",
    "invalid_blocks_format",
    "no_service",
    "no_service_id",
    "channel_not_found",
    "channel_is_archived",
    "action_prohibited",
    "posting_to_general_channel_denied",
    "no_text",
    "too_many_attachments",
    "invalid_token",
    "no_team",
    "team_disabled",
    "user_not_found",
    "no_active_hooks",
    "missing_text_or_fallback_or_attachments",
];

/// Longest `Retry-After` honoured; a larger one is treated as this (a broken header must
/// not park a destination for days).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Where messages go.
pub(crate) enum Sink {
    Slack {
        url: Url,
        client: reqwest::Client,
    },
    Teams {
        url: Url,
        client: reqwest::Client,
    },
    /// `text`: a terminal, where a person reads the messages ([`stdout::text`]).
    Stdout {
        out: Mutex<Box<dyn Write + Send>>,
        text: bool,
    },
}

/// A rendered message.
pub(crate) enum Payload {
    Json(Value),
    Line(String),
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The destination has it (Slack's `ok`, a line written).
    Delivered,
    /// The destination took the request and will post it later, or fail to, without
    /// telling us (a Teams Workflows `202`).
    Accepted,
    /// `429`, with the `Retry-After` when given.
    RateLimited(Option<Duration>),
    /// Worth retrying; the reason is safe to log.
    Transient(String),
    /// Retrying cannot help; the reason is safe to log.
    Permanent(String),
}

/// How the delivery of one message to one destination ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered,
    Refused,
    GaveUp,
    /// Shutdown came while waiting to (re)try.
    Aborted,
}

impl Sink {
    /// The `channel` label of metrics and logs.
    pub(crate) fn channel(&self) -> &'static str {
        match self {
            Sink::Slack { .. } => "slack",
            Sink::Teams { .. } => "teams",
            Sink::Stdout { .. } => "stdout",
        }
    }

    fn host(&self) -> &str {
        match self {
            Sink::Slack { url, .. } | Sink::Teams { url, .. } => url_host(url),
            Sink::Stdout { .. } => "-",
        }
    }

    pub(crate) fn payload(&self, report: &Report) -> Payload {
        match self {
            Sink::Slack { .. } => Payload::Json(slack::render(report)),
            Sink::Teams { .. } => Payload::Json(teams::render(report)),
            Sink::Stdout { text: true, .. } => Payload::Line(stdout::text(report)),
            Sink::Stdout { .. } => Payload::Line(stdout::line(report)),
        }
    }

    async fn attempt(&self, payload: &Payload) -> Attempt {
        match (self, payload) {
            (Sink::Slack { url, client }, Payload::Json(body)) => {
                match post(client, url, body).await {
                    Ok((status, retry_after, text)) => classify_slack(status, &text, retry_after),
                    Err(reason) => Attempt::Transient(reason),
                }
            }
            (Sink::Teams { url, client }, Payload::Json(body)) => {
                match post(client, url, body).await {
                    Ok((status, retry_after, _)) => classify_teams(status, retry_after),
                    Err(reason) => Attempt::Transient(reason),
                }
            }
            (Sink::Stdout { out, .. }, Payload::Line(line)) => {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                match out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
                    Ok(()) => Attempt::Delivered,
                    Err(e) => Attempt::Permanent(format!("writing to standard output: {e}")),
                }
            }
            _ => Attempt::Permanent("payload does not fit the channel".into()),
        }
    }
}

/// POSTs JSON; the error (a string safe to log) never contains the URL.
async fn post(
    client: &reqwest::Client,
    url: &Url,
    body: &Value,
) -> Result<(StatusCode, Option<Duration>, String), String> {
    let resp = client
        .post(url.clone())
        .json(body)
        .send()
        .await
        .map_err(|e| describe(e.without_url()))?;
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    // Error answers are short strings; do not hold a large body in memory.
    let text = resp.text().await.unwrap_or_default();
    Ok((status, retry_after, text))
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        e.to_string()
    }
}

/// `Retry-After` as seconds (Slack sends seconds; an HTTP date is treated as absent).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The Slack error string in a body (`channel_not_found`, or the `error` of a JSON body),
/// when the body is one: a short lower-case token, safe to log.
fn slack_error(body: &str) -> Option<String> {
    let t = body.trim();
    let t = serde_json::from_str::<Value>(t)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| t.to_string());
    let token =
        !t.is_empty() && t.len() <= 64 && t.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    token.then_some(t)
}

/// Reads a Slack webhook answer.
pub fn classify_slack(status: StatusCode, body: &str, retry_after: Option<Duration>) -> Attempt {
    let error = slack_error(body);
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Attempt::RateLimited(retry_after);
    }
    if status.is_success() {
        return match error.as_deref() {
            Some("ok") => Attempt::Delivered,
            Some(e) => Attempt::Permanent(e.to_string()),
            None => Attempt::Permanent(format!("HTTP {} without `ok`", status.as_u16())),
        };
    }
    if let Some(e) = error.as_deref()
        && SLACK_PERMANENT_ERRORS.contains(&e)
    {
        return Attempt::Permanent(e.to_string());
    }
    let reason = match &error {
        Some(e) => format!("HTTP {} {e}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Attempt::Transient(reason)
    } else {
        Attempt::Permanent(reason)
    }
}

/// Reads a Teams Workflows answer: any 2xx (`202` in practice, with an empty body) is
/// [`Attempt::Accepted`], since the flow posts the card after it answered.
pub fn classify_teams(status: StatusCode, retry_after: Option<Duration>) -> Attempt {
    if status.is_success() {
        Attempt::Accepted
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        Attempt::RateLimited(retry_after)
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Attempt::Transient(format!("HTTP {}", status.as_u16()))
    } else {
        Attempt::Permanent(format!("HTTP {}", status.as_u16()))
    }
}

/// The back-off before attempt `attempt + 1`: base × 2^(attempt-1), capped, ±20 % jitter.
fn backoff(settings: &NotifySettings, attempt: u32) -> Duration {
    let exp = settings
        .backoff_base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(settings.backoff_max);
    capped.mul_f64(0.8 + fastrand::f64() * 0.4)
}

/// Waits until `deadline` on the clock; false when shutdown came first.
async fn wait(clock: &dyn Clock, deadline: Instant, cancel: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => false,
        _ = clock.sleep_until(deadline) => true,
    }
}

/// Everything one destination's worker needs.
pub(crate) struct Deliverer<'a> {
    pub sink: &'a Sink,
    pub settings: &'a NotifySettings,
    pub clock: &'a dyn Clock,
    pub metrics: &'a Metrics,
    pub cancel: &'a CancellationToken,
}

impl Deliverer<'_> {
    /// Delivers one message, pacing against `last_request` (the destination's previous
    /// request) and retrying as the module doc says.
    pub(crate) async fn deliver(
        &self,
        payload: &Payload,
        conversations: usize,
        last_request: &mut Option<Instant>,
    ) -> Outcome {
        let channel = self.sink.channel();
        let host = self.sink.host();
        let paced = !matches!(self.sink, Sink::Stdout { .. });
        let mut attempts = 0u32;
        loop {
            if paced && let Some(last) = *last_request {
                let due = last + self.settings.min_interval;
                if self.clock.now() < due && !wait(self.clock, due, self.cancel).await {
                    return Outcome::Aborted;
                }
            }
            *last_request = Some(self.clock.now());
            attempts += 1;
            let pause = match self.sink.attempt(payload).await {
                Attempt::Delivered => {
                    self.metrics.notification(channel, "delivered");
                    tracing::info!(
                        channel,
                        host,
                        conversations,
                        attempts,
                        "notification delivered"
                    );
                    return Outcome::Delivered;
                }
                Attempt::Accepted => {
                    // Done for us (nothing to retry), but not proof the card was posted.
                    self.metrics.notification(channel, "accepted");
                    tracing::info!(
                        channel,
                        host,
                        conversations,
                        attempts,
                        "notification accepted; the flow posts it later (failures show only in its run history)"
                    );
                    return Outcome::Delivered;
                }
                Attempt::Permanent(reason) => {
                    self.metrics.notification(channel, "permanent_error");
                    tracing::error!(
                        channel,
                        host,
                        reason = %reason,
                        conversations,
                        "notification refused permanently; not retried"
                    );
                    return Outcome::Refused;
                }
                Attempt::RateLimited(after) => {
                    self.metrics.notification(channel, "rate_limited");
                    let pause = after
                        .unwrap_or(self.settings.min_interval)
                        .min(MAX_RETRY_AFTER);
                    tracing::warn!(
                        channel,
                        host,
                        retry_after_secs = pause.as_secs_f64(),
                        "rate limited"
                    );
                    pause
                }
                Attempt::Transient(reason) => {
                    let pause = backoff(self.settings, attempts);
                    tracing::warn!(
                        channel,
                        host,
                        reason = %reason,
                        attempts,
                        backoff_secs = pause.as_secs_f64(),
                        "notification failed; will retry"
                    );
                    pause
                }
            };
            if attempts >= self.settings.max_attempts {
                self.metrics.notification(channel, "failed");
                tracing::error!(
                    channel,
                    host,
                    attempts,
                    conversations,
                    "notification still failing; retrying at the group's next interval"
                );
                return Outcome::GaveUp;
            }
            self.metrics.notification(channel, "retried");
            if !wait(self.clock, self.clock.now() + pause, self.cancel).await {
                return Outcome::Aborted;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_ok_is_success_and_error_strings_are_permanent() {
        assert_eq!(
            classify_slack(StatusCode::OK, "ok", None),
            Attempt::Delivered
        );
        for e in SLACK_PERMANENT_ERRORS {
            assert_eq!(
                classify_slack(StatusCode::BAD_REQUEST, e, None),
                Attempt::Permanent(e.to_string())
            );
        }
        assert_eq!(
            classify_slack(StatusCode::NOT_FOUND, "channel_not_found\n", None),
            Attempt::Permanent("channel_not_found".into())
        );
        assert_eq!(
            classify_slack(StatusCode::GONE, "channel_is_archived", None),
            Attempt::Permanent("channel_is_archived".into())
        );
    }

    #[test]
    fn slack_429_5xx_and_rollup_error_are_retried() {
        assert_eq!(
            classify_slack(
                StatusCode::TOO_MANY_REQUESTS,
                "",
                Some(Duration::from_secs(3))
            ),
            Attempt::RateLimited(Some(Duration::from_secs(3)))
        );
        assert!(matches!(
            classify_slack(StatusCode::INTERNAL_SERVER_ERROR, "rollup_error", None),
            Attempt::Transient(_)
        ));
        assert!(matches!(
            classify_slack(StatusCode::SERVICE_UNAVAILABLE, "<html>", None),
            Attempt::Transient(_)
        ));
    }

    #[test]
    fn a_slack_2xx_without_ok_is_not_taken_for_success() {
        assert!(matches!(
            classify_slack(StatusCode::OK, "<html>proxy</html>", None),
            Attempt::Permanent(_)
        ));
        assert_eq!(
            classify_slack(
                StatusCode::OK,
                r#"{"ok":false,"error":"invalid_blocks"}"#,
                None
            ),
            Attempt::Permanent("invalid_blocks".into())
        );
    }

    #[test]
    fn teams_202_is_accepted_not_delivered_and_auth_or_not_found_is_permanent() {
        assert_eq!(
            classify_teams(StatusCode::ACCEPTED, None),
            Attempt::Accepted
        );
        assert_eq!(classify_teams(StatusCode::OK, None), Attempt::Accepted);
        for s in [400, 401, 403, 404] {
            assert!(matches!(
                classify_teams(StatusCode::from_u16(s).unwrap(), None),
                Attempt::Permanent(_)
            ));
        }
        assert!(matches!(
            classify_teams(StatusCode::BAD_GATEWAY, None),
            Attempt::Transient(_)
        ));
        assert_eq!(
            classify_teams(StatusCode::TOO_MANY_REQUESTS, None),
            Attempt::RateLimited(None)
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = NotifySettings::default();
        let b1 = backoff(&s, 1);
        let b3 = backoff(&s, 3);
        assert!(b1 >= Duration::from_millis(800) && b1 <= Duration::from_millis(1200));
        assert!(b3 >= Duration::from_millis(3200) && b3 <= Duration::from_millis(4800));
        assert!(backoff(&s, 30) <= Duration::from_secs(72));
    }
}

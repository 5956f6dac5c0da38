//! One HTTP exchange with CXone, with the retry policy around it.
//!
//! Timeouts, connect errors, 429 and 5xx are retried with exponential backoff and jitter
//! (or after `Retry-After`, capped), bounded both in count and in total time: the time
//! bound covers the attempts as well as the waits, since each attempt's timeout is cut to
//! what is left of it (and an attempt that would get less than [`MIN_ATTEMPT`] is not
//! started). Every other
//! answer, including 401/403/404, goes straight back to the caller: those are answers,
//! and asking again would only repeat them. Every attempt is counted in
//! `handover_cxone_requests_total{endpoint,status}`.
//!
//! Every attempt first waits for the process's [`RateLimiter`] (`CXONE_MAX_RPS`); that
//! wait is not taken from the retry budget, so a job queued behind a storm is delayed,
//! never failed, by the limit. A 429 pauses the limiter for its `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use tokio::time::Instant;

use crate::metrics::Metrics;

use super::error::CxoneError;
use super::limiter::RateLimiter;
use super::settings::CxoneSettings;

/// The shortest time an attempt is given: with less left of the retry budget, giving up
/// is better than an attempt that can only time out.
pub(crate) const MIN_ATTEMPT: Duration = Duration::from_millis(500);

/// A response that is not a retryable failure.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    /// The OAuth / CXone error code in the body (`error`), for messages: short, no body.
    pub fn error_code(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let code = v.get("error")?.as_str()?.trim();
        // An error code is a short token; anything else might be free text we should not
        // repeat in a report.
        (!code.is_empty()
            && code.len() <= 64
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)))
        .then(|| code.to_string())
    }
}

/// The retry bounds, from [`CxoneSettings`].
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    pub max_retries: u32,
    pub budget: Duration,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub retry_after_cap: Duration,
}

impl RetryPolicy {
    pub fn from_settings(s: &CxoneSettings) -> Self {
        RetryPolicy {
            max_retries: s.max_retries,
            budget: s.retry_budget,
            base_delay: s.retry_base_delay,
            max_delay: s.retry_max_delay,
            retry_after_cap: s.retry_after_cap,
        }
    }

    /// The wait before retry number `retry` (1-based): `base * 2^(retry-1)` capped at
    /// `max_delay`, then "equal jitter" (a random point in its upper half) so a burst of
    /// callers that failed together does not come back together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(
                1u32.checked_shl(retry.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max_delay);
        let half = exp / 2;
        half + exp.saturating_sub(half).mul_f64(fastrand::f64())
    }
}

/// Sends requests and applies the retry policy.
pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub metrics: Arc<Metrics>,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
    /// Shared by every request of the client (one client per process).
    pub limiter: Arc<RateLimiter>,
}

/// Why one attempt failed in a way worth retrying.
struct Failure {
    reason: String,
    retry_after: Option<Duration>,
}

impl Transport {
    /// Sends the request `build` makes (once per attempt) until it gets an answer that is
    /// not a retryable failure.
    ///
    /// `endpoint` is the metric label (a path template, never concrete ids); `what`
    /// names the request in errors.
    pub async fn execute(
        &self,
        endpoint: &'static str,
        what: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Reply, CxoneError> {
        self.metrics.cxone_limit_wait(self.limiter.acquire().await);
        let started = Instant::now();
        let mut deadline = started + self.retry.budget;
        let mut retries = 0u32;
        loop {
            if retries > 0 {
                // Waiting our turn is not CXone failing: it does not spend the budget.
                let waited = self.limiter.acquire().await;
                self.metrics.cxone_limit_wait(waited);
                deadline += waited;
            }
            // This attempt may take what is left of the budget, up to the request timeout.
            let timeout = self
                .request_timeout
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(MIN_ATTEMPT.min(self.request_timeout));
            let failure = match self.once(endpoint, build().timeout(timeout), timeout).await {
                Ok(reply) => return Ok(reply),
                Err(f) => f,
            };
            let attempts = retries + 1;
            let give_up = |why: &str| CxoneError::Unavailable {
                what: what.to_string(),
                detail: format!(
                    "gave up after {attempts} attempt{} in {:.1} s{why}; the last one {}",
                    if attempts == 1 { "" } else { "s" },
                    started.elapsed().as_secs_f64(),
                    failure.reason
                ),
            };
            if retries >= self.retry.max_retries {
                return Err(give_up(""));
            }
            retries += 1;
            let delay = match failure.retry_after {
                Some(d) => d.min(self.retry.retry_after_cap),
                None => self.retry.backoff(retries),
            };
            // The wait and then a useful attempt must both fit in the budget.
            let attempt_floor = MIN_ATTEMPT.min(self.request_timeout);
            if Instant::now() + delay + attempt_floor > deadline {
                return Err(give_up(" (retry time budget spent)"));
            }
            tracing::warn!(
                endpoint,
                retry = retries,
                delay_ms = delay.as_millis() as u64,
                reason = %failure.reason,
                "CXone request failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn once(
        &self,
        endpoint: &'static str,
        req: RequestBuilder,
        timeout: Duration,
    ) -> Result<Reply, Failure> {
        let transport_failure = |e: reqwest::Error| {
            let (label, reason) = if e.is_timeout() {
                (
                    "timeout",
                    format!("timed out after {} s", timeout.as_secs_f64()),
                )
            } else if e.is_connect() {
                ("error", "could not connect".to_string())
            } else {
                ("error", "failed in transit".to_string())
            };
            self.metrics.cxone_request(endpoint, label);
            tracing::debug!(endpoint, status = label, "CXone request");
            Failure {
                reason,
                retry_after: None,
            }
        };
        let resp = req.send().await.map_err(transport_failure)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp.bytes().await.map_err(transport_failure)?.to_vec();
        self.metrics.cxone_request(endpoint, status.as_str());
        tracing::debug!(endpoint, status = status.as_u16(), "CXone request");
        if status == StatusCode::TOO_MANY_REQUESTS {
            // CXone says the tenant is over its quota: every request of this process
            // waits, not only this one.
            let pause = retry_after
                .unwrap_or(Duration::from_secs(1))
                .min(self.retry.retry_after_cap);
            self.limiter.pause(pause);
            tracing::warn!(
                endpoint,
                pause_ms = pause.as_millis() as u64,
                "CXone answered 429: every CXone request of this process waits"
            );
        }
        if is_retryable(status) {
            return Err(Failure {
                reason: format!("answered {}", status.as_u16()),
                retry_after: if status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE
                {
                    retry_after
                } else {
                    None
                },
            });
        }
        Ok(Reply { status, body })
    }
}

/// 429 and server errors; not 501/505, which say "never" rather than "not now".
fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 4,
            budget: Duration::from_secs(30),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            retry_after_cap: Duration::from_secs(10),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let p = policy();
        for _ in 0..50 {
            let first = p.backoff(1);
            assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
            let third = p.backoff(3);
            assert!(third >= Duration::from_millis(400) && third <= Duration::from_millis(800));
            let late = p.backoff(40);
            assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
        let past = parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(past, Duration::ZERO);
        let future = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = parse_retry_after(&future).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
    }

    #[test]
    fn only_throttling_and_server_errors_are_retried() {
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_retryable(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!is_retryable(StatusCode::NOT_IMPLEMENTED));
        for s in [401, 403, 404, 400, 204, 200] {
            assert!(!is_retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn error_codes_are_taken_only_when_they_look_like_codes() {
        let r = |b: &str| Reply {
            status: StatusCode::BAD_REQUEST,
            body: b.as_bytes().to_vec(),
        };
        assert_eq!(
            r(r#"{"error":"invalid_grant","error_description":"x"}"#).error_code(),
            Some("invalid_grant".into())
        );
        assert_eq!(
            r(r#"{"error":"caller 4155550123 hung up"}"#).error_code(),
            None
        );
        assert_eq!(r("not json").error_code(), None);
    }
}

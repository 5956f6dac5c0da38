//! The one request-rate limit every CXone call of a process goes through
//! (`CXONE_MAX_RPS`), because a tenant's API quota is shared with every other
//! integration (WFM, CRM, reporting) and a storm of diagnoses must not use it up.
//!
//! Each request reserves the earliest moment at which it keeps "at most `max` requests in
//! any [`WINDOW`]"; reservations are handed out in arrival order, so waiting requests go
//! in turn and none is dropped. A 429 from CXone pauses the limiter for its
//! `Retry-After`: the requests queued behind it take new moments after the pause.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The window the limit counts in: a second, plus a tenth so that network jitter between
/// two requests cannot put `max + 1` of them into one second at CXone's end.
pub(crate) const WINDOW: Duration = Duration::from_millis(1100);

/// At most `max` requests per [`WINDOW`]; `max == 0` means no limit (a 429 pause still
/// holds).
pub(crate) struct RateLimiter {
    max: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The moments handed out in the last window, oldest first (some in the future).
    slots: VecDeque<Instant>,
    /// No request starts before this (a 429's `Retry-After`).
    paused_until: Option<Instant>,
}

impl RateLimiter {
    pub fn new(max_rps: u32) -> Self {
        RateLimiter {
            max: max_rps as usize,
            state: Mutex::new(State::default()),
        }
    }

    /// Waits until this request may be sent; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        loop {
            let slot = self.reserve();
            tokio::time::sleep_until(slot).await;
            // A pause that began while we waited moves us behind it.
            let paused = self
                .state
                .lock()
                .expect("limiter lock poisoned")
                .paused_until
                .is_some_and(|p| p > Instant::now());
            if !paused {
                return started.elapsed();
            }
        }
    }

    /// The earliest moment that keeps the limit, recorded as taken.
    fn reserve(&self) -> Instant {
        let mut st = self.state.lock().expect("limiter lock poisoned");
        let now = Instant::now();
        let mut at = now;
        if let Some(p) = st.paused_until {
            if p > now {
                at = p;
            } else {
                st.paused_until = None;
            }
        }
        if self.max == 0 {
            return at;
        }
        while st.slots.front().is_some_and(|t| *t + WINDOW <= now) {
            st.slots.pop_front();
        }
        if st.slots.len() >= self.max {
            at = at.max(st.slots[st.slots.len() - self.max] + WINDOW);
        }
        if let Some(last) = st.slots.back() {
            at = at.max(*last);
        }
        st.slots.push_back(at);
        at
    }

    /// Holds every request not yet sent until `for_` from now (a 429's `Retry-After`).
    pub fn pause(&self, for_: Duration) {
        let until = Instant::now() + for_;
        let mut st = self.state.lock().expect("limiter lock poisoned");
        // Moments handed out stay counted: a holder whose moment falls in the pause
        // re-reserves behind everyone, and one whose moment comes after it keeps it, so the
        // limit holds on both sides of the pause.
        st.paused_until = Some(st.paused_until.map_or(until, |p| p.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn starts(limiter: std::sync::Arc<RateLimiter>, n: usize) -> Vec<Duration> {
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move {
                    l.acquire().await;
                    t0.elapsed()
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out.sort();
        out
    }

    fn max_in_any_second(times: &[Duration]) -> usize {
        times
            .iter()
            .map(|t| {
                times
                    .iter()
                    .filter(|u| **u >= *t && **u < *t + Duration::from_secs(1))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn no_second_holds_more_than_the_limit_and_every_request_goes() {
        let limiter = std::sync::Arc::new(RateLimiter::new(5));
        let times = starts(limiter, 23).await;
        assert_eq!(times.len(), 23);
        assert!(max_in_any_second(&times) <= 5, "{times:?}");
        // 23 requests at 5 per window need four more windows after the first five.
        assert!(
            times[22] >= WINDOW * 4 && times[22] < WINDOW * 5,
            "{times:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn zero_means_no_limit() {
        let limiter = std::sync::Arc::new(RateLimiter::new(0));
        let times = starts(limiter, 50).await;
        assert!(times.iter().all(|t| *t == Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_waiting_request_and_the_limit_holds_after_it() {
        let limiter = std::sync::Arc::new(RateLimiter::new(5));
        limiter.pause(Duration::from_secs(3));
        let times = starts(limiter.clone(), 10).await;
        assert!(times[0] >= Duration::from_secs(3), "{times:?}");
        assert!(max_in_any_second(&times) <= 5, "{times:?}");

        // A pause in the middle of a queue: those due inside it go after it, those due
        // after it keep their turn, and no second holds more than the limit.
        let limiter = std::sync::Arc::new(RateLimiter::new(5));
        let queue = tokio::spawn(starts(limiter.clone(), 30));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        limiter.pause(Duration::from_secs(2));
        let times = queue.await.unwrap();
        assert_eq!(times.len(), 30);
        assert!(max_in_any_second(&times) <= 5, "{times:?}");
        assert!(
            !times
                .iter()
                .any(|t| *t > Duration::from_millis(1500) && *t < Duration::from_millis(3500)),
            "{times:?}"
        );
        let unlimited = std::sync::Arc::new(RateLimiter::new(0));
        unlimited.pause(Duration::from_secs(2));
        let times = starts(unlimited, 3).await;
        assert!(times.iter().all(|t| *t >= Duration::from_secs(2)));
    }
}

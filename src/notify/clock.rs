//! The notifier's sense of time: group waits, group intervals, pacing and back-off all read
//! and sleep on a [`Clock`], so tests can drive them without sleeping.
//!
//! Why not only `tokio::time::pause()`: a paused tokio clock jumps to the next timer
//! whenever the runtime waits on I/O, so a test that talks to a real (wiremock) HTTP server
//! would see request timeouts fire at once. A [`ManualClock`] moves only when the test (or,
//! in auto mode, one of the notifier's own sleeps) moves it, and leaves tokio's clock real.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// A boxed sleep.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of "now" and of sleeps until a moment.
pub trait Clock: Send + Sync + 'static {
    /// The current moment.
    fn now(&self) -> Instant;
    /// Completes once [`Clock::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Sleep;
}

/// Tokio's clock: real time in production (and paused time under `tokio::time::pause`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(deadline))
    }
}

/// A clock that moves only when told to, for tests.
///
/// In manual mode ([`ManualClock::new`]) sleeps complete when [`ManualClock::advance`]
/// reaches their deadline. In auto mode ([`ManualClock::auto`]) a sleep moves the clock to
/// its own deadline at once: waits cost no real time but still show in
/// [`ManualClock::elapsed`], which is how a test checks that a `Retry-After` was honoured.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<Instant>,
    start: Instant,
    auto: bool,
}

impl ManualClock {
    /// A clock that moves only on [`ManualClock::advance`].
    pub fn new() -> Self {
        Self::with_mode(false)
    }

    /// A clock that jumps to the deadline of every sleep.
    pub fn auto() -> Self {
        Self::with_mode(true)
    }

    fn with_mode(auto: bool) -> Self {
        let start = Instant::now();
        ManualClock {
            now: watch::Sender::new(start),
            start,
            auto,
        }
    }

    /// Moves the clock forward, waking every sleep that is now due.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|t| *t += by);
    }

    /// How far the clock has moved since it was made.
    pub fn elapsed(&self) -> Duration {
        *self.now.borrow() - self.start
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        if self.auto {
            self.now.send_if_modified(|t| {
                let later = *t < deadline;
                if later {
                    *t = deadline;
                }
                later
            });
            // Still yield, so that a loop of sleeps cannot starve the other tasks.
            return Box::pin(tokio::task::yield_now());
        }
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            loop {
                if *rx.borrow_and_update() >= deadline {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The clock is gone: this moment never comes.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleep_completes_only_once_the_clock_reaches_it() {
        let clock = std::sync::Arc::new(ManualClock::new());
        let deadline = clock.now() + Duration::from_secs(30);
        let sleeping = tokio::spawn(clock.sleep_until(deadline));
        clock.advance(Duration::from_secs(29));
        tokio::task::yield_now().await;
        assert!(!sleeping.is_finished());
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), sleeping)
            .await
            .expect("the sleep ends when the clock reaches it")
            .unwrap();
    }

    #[tokio::test]
    async fn an_auto_clock_jumps_to_each_deadline() {
        let clock = ManualClock::auto();
        clock
            .sleep_until(clock.now() + Duration::from_secs(2))
            .await;
        clock
            .sleep_until(clock.now() - Duration::from_secs(1))
            .await;
        assert_eq!(clock.elapsed(), Duration::from_secs(2));
    }
}

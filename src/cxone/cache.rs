//! A small time-limited cache with one fetch per key in flight.
//!
//! A storm of failed handovers usually targets one skill; without this, each diagnosis
//! would read the same skill, agents, activity and hours again. With it, concurrent
//! callers for a key share one fetch, and later callers reuse the answer (errors
//! included: a CXone that just failed for a key is not asked again at once) until the TTL
//! runs out. A TTL of zero turns caching off.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::error::CxoneError;
use super::types::{AgentSkillAssignment, HoursOfOperation, Skill, SkillActivity};

type Slot<V> = Arc<OnceCell<(Instant, V)>>;

/// Values by key, each kept for `ttl` after it was fetched.
pub(crate) struct TtlCache<K, V> {
    ttl: Duration,
    slots: Mutex<HashMap<K, Slot<V>>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The cached value for `key`, or the result of `fetch` (run by one caller while the
    /// others for the same key wait for it).
    pub async fn get_or_fetch<F, Fut>(&self, key: K, fetch: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        if self.ttl.is_zero() {
            return fetch().await;
        }
        let slot = {
            let mut slots = self.slots.lock().expect("cache lock poisoned");
            let now = Instant::now();
            // Dropping expired slots here keeps the map as small as the live key set.
            slots.retain(|_, s| s.get().is_none_or(|(at, _)| now < *at + self.ttl));
            slots.entry(key).or_default().clone()
        };
        let (_, value) = slot
            .get_or_init(|| async { (Instant::now(), fetch().await) })
            .await;
        value.clone()
    }
}

type Cached<T> = Result<T, CxoneError>;

/// Contact state names by `contactStateId` (`/contact-state-descriptions`), kept for the
/// process's life: a tenant's states do not change while it runs, but a new one may
/// appear, so an unknown id asks again (`contacts.rs` reads and fills it).
#[derive(Default)]
pub(crate) struct StateNames {
    pub(super) names: Mutex<Arc<HashMap<String, String>>>,
    /// Held while reading, so concurrent diagnoses share one read; when the last read
    /// was, so an id CXone itself does not describe is not asked about on every contact.
    pub(super) last_read: tokio::sync::Mutex<Option<Instant>>,
}

/// The skill-level caches the client holds, one per read (`skills.rs` fills them).
pub(crate) struct SkillCaches {
    pub(super) skill: TtlCache<String, Cached<Option<Skill>>>,
    pub(super) skills_list: TtlCache<(), Cached<Arc<Vec<Skill>>>>,
    pub(super) agents: TtlCache<String, Cached<Option<Vec<AgentSkillAssignment>>>>,
    pub(super) activity: TtlCache<String, Cached<Option<SkillActivity>>>,
    pub(super) hours_list: TtlCache<(), Cached<Arc<Vec<Value>>>>,
    pub(super) hours_detail: TtlCache<String, Cached<Option<HoursOfOperation>>>,
    pub(super) hours_for_skill: TtlCache<String, Cached<Option<HoursOfOperation>>>,
    /// Not skill-level and never expiring, but owned by the client like the others.
    pub(super) state_names: StateNames,
}

impl SkillCaches {
    pub fn new(ttl: Duration) -> Self {
        SkillCaches {
            skill: TtlCache::new(ttl),
            skills_list: TtlCache::new(ttl),
            agents: TtlCache::new(ttl),
            activity: TtlCache::new(ttl),
            hours_list: TtlCache::new(ttl),
            hours_detail: TtlCache::new(ttl),
            hours_for_skill: TtlCache::new(ttl),
            state_names: StateNames::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_fetch_and_reuse_it_until_the_ttl() {
        let cache: TtlCache<&str, usize> = TtlCache::new(Duration::from_secs(10));
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            calls.fetch_add(1, Ordering::SeqCst) + 1
        };
        let (a, b, c) = tokio::join!(
            cache.get_or_fetch("skill", fetch),
            cache.get_or_fetch("skill", fetch),
            cache.get_or_fetch("skill", fetch),
        );
        assert_eq!((a, b, c), (1, 1, 1));
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(cache.get_or_fetch("skill", fetch).await, 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get_or_fetch("skill", fetch).await, 2);
        assert_eq!(cache.get_or_fetch("other", fetch).await, 3);
    }

    #[tokio::test]
    async fn a_zero_ttl_fetches_every_time() {
        let cache: TtlCache<u8, usize> = TtlCache::new(Duration::ZERO);
        let calls = AtomicUsize::new(0);
        for expected in 1..=3 {
            let got = cache
                .get_or_fetch(1, || async { calls.fetch_add(1, Ordering::SeqCst) + 1 })
                .await;
            assert_eq!(got, expected);
        }
    }
}

//! Bounded retries with exponential backoff and jitter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How transient failures are retried. The delay before retry `n` (1-based)
/// is drawn uniformly from `[d/2, d]` with `d = min(max_delay, base_delay * 2^(n-1))`,
/// so that many operators failing together do not retry in lockstep. A
/// `Retry-After: <seconds>` on a 429 or 503 replaces the drawn delay, still
/// capped at `max_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries. 0 counts as 1.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn none() -> Self {
        Self {
            attempts: 1,
            ..Self::default()
        }
    }

    pub(crate) fn max_attempts(&self) -> u32 {
        self.attempts.max(1)
    }

    /// The upper bound of the delay before retry `retry` (1-based), before jitter.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }

    /// The delay before retry `retry` (1-based). `retry_after` is what the
    /// server asked for, if anything.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(asked) = retry_after {
            return asked.min(self.max_delay);
        }
        let ceiling = self.ceiling(retry);
        let half = ceiling / 2;
        let spread = (ceiling - half).as_nanos() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            random_u64() % (spread + 1)
        };
        half + Duration::from_nanos(jitter)
    }
}

/// A random number good enough for jitter, without a dependency: every
/// `RandomState` is keyed differently.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0x6a09_e667_f3bc_c908);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(1), Duration::from_millis(200));
        assert_eq!(p.ceiling(2), Duration::from_millis(400));
        assert_eq!(p.ceiling(3), Duration::from_millis(800));
        assert_eq!(p.ceiling(6), Duration::from_millis(5000));
        assert_eq!(p.ceiling(40), Duration::from_millis(5000));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_millis(5000));
    }

    #[test]
    fn jitter_stays_within_half_and_full_ceiling_and_varies() {
        let p = RetryPolicy::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = p.delay(3, None);
            assert!(
                d >= Duration::from_millis(400) && d <= Duration::from_millis(800),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 1, "no jitter");
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(120))),
            Duration::from_secs(5)
        );
        assert_eq!(p.delay(1, Some(Duration::ZERO)), Duration::ZERO);
    }

    #[test]
    fn zero_attempts_means_one() {
        let p = RetryPolicy {
            attempts: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(p.max_attempts(), 1);
    }
}

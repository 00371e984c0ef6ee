//! One retry schedule for every loop that asks again (keys DynamoDB left unprocessed, entries
//! PutEvents failed, the custom resource's answer): exponential from a first delay, capped, a
//! fixed number of retries, with jitter so concurrent invocations do not retry in step.
//! The schedule is `backon`'s; the callers sleep on their own runtime, so core stays free of
//! one.

use std::time::Duration;

use backon::BackoffBuilder as _;

/// A retry schedule: `retries` delays, the first `first`, doubling up to `max`, each with a
/// random jitter of up to the delay itself added (so a delay lies in `[d, 2d)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub retries: usize,
}

impl Backoff {
    /// `retries` delays from `first`, doubling, capped at `max` (before jitter).
    pub const fn new(first: Duration, max: Duration, retries: usize) -> Self {
        Self { first, max, retries }
    }

    /// The delays before each retry, in order; exhausted after `retries`.
    pub fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.first)
            .with_max_delay(self.max)
            .with_max_times(self.retries)
            .with_jitter()
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_jitter_stay_capped_and_end() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 8);
        for _ in 0..20 {
            let delays: Vec<Duration> = backoff.delays().collect();
            assert_eq!(delays.len(), 8);
            for (n, delay) in delays.iter().enumerate() {
                let base = (Duration::from_millis(100) * (1 << n)).min(Duration::from_secs(2));
                assert!(
                    *delay >= base && *delay <= base * 2,
                    "retry {n}: {delay:?}, base {base:?}"
                );
            }
        }
        assert_eq!(
            Backoff::new(Duration::from_millis(1), Duration::from_millis(1), 0)
                .delays()
                .count(),
            0
        );
    }
}

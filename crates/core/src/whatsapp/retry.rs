//! Retries: exponential backoff with jitter and a cap, only for what is retryable, a bounded
//! number of times.

use std::time::Duration;

use super::error::{ClientError, ErrorClass};

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (the first included) for rate limits.
    pub rate_limited_attempts: u32,
    /// Attempts in all for transient server errors.
    pub transient_attempts: u32,
    /// Attempts in all when the network failed on a request that is safe to repeat (reads).
    pub network_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            rate_limited_attempts: 6,
            transient_attempts: 3,
            network_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `n + 1` (n ≥ 1 attempts made): base·2^(n-1), capped, then a
    /// random half to all of it, so many clients backing off at once spread out.
    pub fn delay(&self, attempts_made: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (attempts_made - 1).min(20));
        let capped = exp.min(self.max_delay);
        let mut r = [0u8; 4];
        let frac = match getrandom::fill(&mut r) {
            Ok(()) => 0.5 + f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX) / 2.0,
            Err(_) => 0.75,
        };
        capped.mul_f64(frac)
    }

    /// Whether to try again after `err`, having made `attempts_made` attempts of a request that
    /// is (or is not) safe to repeat when its outcome is unknown.
    pub fn should_retry(&self, err: &ClientError, attempts_made: u32, idempotent: bool) -> bool {
        let limit = match err {
            ClientError::Graph { error, .. } => match error.class() {
                ErrorClass::RateLimited => self.rate_limited_attempts,
                ErrorClass::Transient => self.transient_attempts,
                _ => return false,
            },
            // A send that may have reached Meta is never repeated: a duplicate marketing
            // message is worse than a missing one.
            ClientError::Network { .. } if idempotent => self.network_attempts,
            _ => return false,
        };
        attempts_made < limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::error::GraphError;

    fn graph(code: i64) -> ClientError {
        ClientError::Graph {
            status: 400,
            error: Box::new(GraphError {
                code,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn delays_grow_are_jittered_and_capped() {
        let p = RetryPolicy::default();
        for n in 1..30 {
            let d = p.delay(n);
            let full = (p.base_delay * 2u32.pow((n - 1).min(20))).min(p.max_delay);
            assert!(d >= full / 2 && d <= full, "attempt {n}: {d:?} vs {full:?}");
        }
        assert!(p.delay(30) <= p.max_delay);
    }

    #[test]
    fn only_retryable_errors_are_retried_and_not_forever() {
        let p = RetryPolicy::default();
        assert!(p.should_retry(&graph(130429), 1, false));
        assert!(!p.should_retry(&graph(130429), 6, false));
        assert!(p.should_retry(&graph(131000), 2, false));
        assert!(!p.should_retry(&graph(131000), 3, false));
        for code in [131050, 190, 0, 132001, 131026, 131049, 131048, 100] {
            assert!(
                !p.should_retry(&graph(code), 1, true),
                "{code} must not be retried"
            );
        }
        let net = ClientError::Network {
            url: "u".into(),
            reason: "r".into(),
        };
        assert!(p.should_retry(&net, 1, true));
        assert!(
            !p.should_retry(&net, 1, false),
            "a send with an unknown outcome is not resent"
        );
    }
}

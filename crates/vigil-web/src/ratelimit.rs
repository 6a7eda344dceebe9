//! Login rate limiting: after too many failures for a user name or from a client address,
//! further attempts are refused for a while, whether or not the password is right.
//!
//! In memory on purpose: the limiter protects this process's password checks (argon2 is
//! deliberately expensive), and a restart resetting it is harmless. Bounded: at most
//! `MAX_KEYS` keys are tracked; the oldest are evicted first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: u32,
    lockout: Duration,
    entries: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, lockout: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            lockout,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(wait)` when any of `keys` is locked out now.
    pub fn check(&self, keys: &[&str]) -> Option<Duration> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        keys.iter()
            .filter_map(|k| map.get(*k))
            .filter(|(n, _)| *n >= self.max_failures)
            .filter_map(|(_, at)| (*at + self.lockout).checked_duration_since(now))
            .max()
    }

    /// Counts a failure for each key.
    pub fn fail(&self, keys: &[&str]) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() >= MAX_KEYS {
            let lockout = self.lockout;
            map.retain(|_, (_, at)| now.duration_since(*at) < lockout);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        for k in keys {
            let e = map.entry((*k).to_string()).or_insert((0, now));
            if now.duration_since(e.1) >= self.lockout {
                *e = (0, now);
            }
            e.0 += 1;
            e.1 = now;
        }
    }

    /// Forgets the failures of each key (after a successful login).
    pub fn succeed(&self, keys: &[&str]) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            map.remove(*k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_success_resets() {
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            l.fail(&["user:a", "ip:1"]);
        }
        assert!(l.check(&["user:a"]).is_none());
        l.fail(&["user:a", "ip:1"]);
        assert!(l.check(&["user:a"]).is_some());
        assert!(l.check(&["user:b", "ip:1"]).is_some());
        assert!(l.check(&["user:b", "ip:2"]).is_none());
        l.succeed(&["user:a", "ip:1"]);
        assert!(l.check(&["user:a", "ip:1"]).is_none());
    }

    #[test]
    fn lockout_expires() {
        let l = LoginLimiter::new(1, Duration::from_millis(1));
        l.fail(&["k"]);
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.check(&["k"]).is_none());
    }
}

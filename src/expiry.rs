//! Expiry rules shared by the stores (connect-redis's and express-session's).
//!
//! Times are milliseconds since the Unix epoch as `f64`, the way JS `Date` counts them;
//! `None` means the session has no `cookie.expires` (a browser-session cookie).

/// Whether a session whose cookie expires at `expires_ms` is expired at `now_ms`.
/// express-session's MemoryStore: expired when `expires <= now`. No expiry never expires.
pub fn is_expired(expires_ms: Option<f64>, now_ms: f64) -> bool {
    match expires_ms {
        Some(e) if e.is_finite() => e <= now_ms,
        _ => false,
    }
}

/// connect-redis's TTL in whole seconds: `ceil((expires - now) / 1000)` when the cookie has
/// an expiry, else `default_ttl_s`. A result `<= 0` means "delete the key instead".
pub fn ttl_seconds(expires_ms: Option<f64>, now_ms: f64, default_ttl_s: i64) -> i64 {
    match expires_ms {
        Some(e) if e.is_finite() => {
            let secs = ((e - now_ms) / 1000.0).ceil();
            // clamp into i64 range without panicking on huge values
            secs.clamp(i64::MIN as f64, i64::MAX as f64) as i64
        }
        _ => default_ttl_s,
    }
}

/// The current time in ms since the epoch, as JS `Date.now()` gives it.
pub fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_at_or_after_expiry() {
        assert!(is_expired(Some(1000.0), 1000.0));
        assert!(is_expired(Some(999.0), 1000.0));
        assert!(!is_expired(Some(1001.0), 1000.0));
        assert!(!is_expired(None, 1e15));
        assert!(!is_expired(Some(f64::NAN), 0.0));
    }

    #[test]
    fn ttl_rounds_up_like_connect_redis() {
        assert_eq!(ttl_seconds(Some(10_001.0), 0.0, 86400), 11);
        assert_eq!(ttl_seconds(Some(10_000.0), 0.0, 86400), 10);
        assert_eq!(ttl_seconds(Some(1.0), 0.0, 86400), 1);
        assert_eq!(ttl_seconds(Some(0.0), 0.0, 86400), 0);
        assert_eq!(ttl_seconds(Some(-1500.0), 0.0, 86400), -1);
        assert_eq!(ttl_seconds(None, 0.0, 86400), 86400);
        assert_eq!(ttl_seconds(Some(f64::INFINITY), 0.0, 7), 7);
        assert_eq!(ttl_seconds(Some(1e300), 0.0, 7), i64::MAX);
    }

    #[test]
    fn now_is_after_2020() {
        assert!(now_ms() > 1.577e12);
    }
}

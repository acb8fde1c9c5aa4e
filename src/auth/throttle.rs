//! Login throttling: after too many failed sign-ins for one email (or from
//! one address) within the window, further attempts wait.

use chrono::{DateTime, Duration, Utc};

use crate::db::login_attempts::Failures;

/// Failed sign-ins for one email allowed within the window.
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// Failed sign-ins from one address allowed within the window (a shared
/// office address makes this higher than per email).
pub const MAX_FAILURES_PER_IP: i64 = 30;

pub fn window() -> Duration {
    Duration::minutes(15)
}

/// `Err(retry_at)` when the failures within the window, this attempt's own
/// counted with them (it is written before it is checked), pass `limit`.
pub fn check(failures: Failures, limit: i64) -> Result<(), DateTime<Utc>> {
    match failures.oldest {
        Some(oldest) if failures.count > limit => Err(oldest + window()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_attempt_after_five_failures_waits_until_the_first_leaves_the_window() {
        let oldest = Utc::now() - Duration::minutes(3);
        assert!(check(Failures { count: 5, oldest: Some(oldest) }, MAX_FAILURES_PER_EMAIL).is_ok());
        let retry = check(Failures { count: 6, oldest: Some(oldest) }, MAX_FAILURES_PER_EMAIL).unwrap_err();
        assert_eq!(retry, oldest + Duration::minutes(15));
    }
}

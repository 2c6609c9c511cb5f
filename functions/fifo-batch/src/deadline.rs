//! The invocation's deadline: a Lambda context's wall-clock deadline as a tokio `Instant`.

use std::time::SystemTime;
use tokio::time::Instant;

/// The `Instant` of a wall-clock deadline, such as `LambdaEvent::context.deadline()`.
///
/// A "deadline" before 2001-09-09 (10^12 ms after the epoch) is no wall-clock time: some
/// local Runtime API emulators (`cargo lambda watch` 1.9) send the function's timeout in
/// `Lambda-Runtime-Deadline-Ms` instead of an absolute time. It is taken as that budget.
pub fn deadline_from(deadline: SystemTime) -> Instant {
    const EARLIEST_REAL_DEADLINE_MS: u128 = 1_000_000_000_000;
    let now = Instant::now();
    if let Ok(since_epoch) = deadline.duration_since(SystemTime::UNIX_EPOCH) {
        if since_epoch.as_millis() < EARLIEST_REAL_DEADLINE_MS {
            return now + since_epoch;
        }
    }
    match deadline.duration_since(SystemTime::now()) {
        Ok(left) => now + left,
        Err(_) => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn deadlines_from_wall_clock_time() {
        let now = Instant::now();
        let later = deadline_from(SystemTime::now() + Duration::from_secs(60));
        assert!(later > now + Duration::from_secs(59));
        let past = deadline_from(SystemTime::now() - Duration::from_secs(60));
        assert!(past >= now);
    }

    #[test]
    fn a_deadline_that_is_a_budget_not_a_time_is_taken_as_a_budget() {
        let now = Instant::now();
        let d = deadline_from(SystemTime::UNIX_EPOCH + Duration::from_millis(600_000));
        assert!(d >= now + Duration::from_secs(599), "{:?}", d - now);
        assert!(d <= Instant::now() + Duration::from_secs(600));
    }
}

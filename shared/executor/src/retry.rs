//! Kestra's retry rules (`models/tasks/retrys/*`): whether a failed attempt
//! is retried and when the next attempt starts.

use chrono::{DateTime, Duration, Utc};

use baton_model::{Execution, Flow, Retry, RetryKind, Task};

/// The retry policy of a failed task run of `task` at `pos`: the task's
/// own, else the nearest enclosing flowable's that has one, else the
/// flow's — Kestra's order (its executor's `searchForParentRetry`): a
/// flowable's `retry` re-runs each child task that fails inside it, not
/// the whole block. `find` gives a task run's position by id.
pub fn governing<'f>(
    flow: &'f Flow,
    exec: &Execution,
    pos: usize,
    task: &'f Task,
    find: impl Fn(&str) -> Option<usize>,
) -> Option<&'f Retry> {
    if let Some(r) = &task.retry {
        return Some(r);
    }
    let mut parent = exec.task_run_list.get(pos).and_then(|t| t.parent_task_run_id.as_deref());
    while let Some(id) = parent {
        let Some(run) = find(id).and_then(|p| exec.task_run_list.get(p)) else { break };
        if let Some(r) = flow.find_task(&run.task_id).and_then(|t| t.retry.as_ref()) {
            return Some(r);
        }
        parent = run.parent_task_run_id.as_deref();
    }
    flow.retry.as_ref()
}

/// The date of the next attempt, or `None` if no retry is left.
///
/// `attempts` is the number of attempts made so far (≥ 1), `first_start`
/// the start of the first attempt, `last_end` the end of the last one.
/// `maxAttempt` counts every attempt including the first. Exponential
/// follows Kestra's snapshot: `interval × (delayFactor × (attempts − 1))`,
/// capped at `maxInterval`. Random uses a deterministic point in
/// `[min, max)` derived from the attempt number, to keep the step pure.
pub fn next_retry_date(
    retry: &Retry,
    attempts: u32,
    first_start: DateTime<Utc>,
    last_end: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if let Some(max) = retry.max_attempt
        && attempts >= max
    {
        return None;
    }
    if retry.max_attempt.is_none() && retry.max_duration.is_none() {
        // Kestra requires one of them; without both, never retry forever.
        return None;
    }
    let delay = match &retry.kind {
        RetryKind::Constant { interval } => *interval,
        RetryKind::Exponential { interval, max_interval, delay_factor } => {
            let factor = delay_factor.unwrap_or(2.0).floor().max(1.0);
            let ms = interval.num_milliseconds() as f64 * (factor * f64::from(attempts.saturating_sub(1).max(1)));
            let d = Duration::milliseconds(ms as i64);
            if d > *max_interval { *max_interval } else { d }
        }
        RetryKind::Random { min_interval, max_interval } => {
            let span = (*max_interval - *min_interval).num_milliseconds().max(1);
            let pseudo = (u64::from(attempts).wrapping_mul(2_654_435_761) % span as u64) as i64;
            *min_interval + Duration::milliseconds(pseudo)
        }
    };
    let next = last_end + delay;
    if let Some(max_d) = retry.max_duration
        && next - first_start > max_d
    {
        return None;
    }
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constant(max: Option<u32>, max_d: Option<Duration>) -> Retry {
        Retry {
            kind: RetryKind::Constant { interval: Duration::seconds(1) },
            max_attempt: max,
            max_duration: max_d,
            warning_on_retry: false,
        }
    }

    #[test]
    fn max_attempt_counts_the_first() {
        let t = Utc::now();
        let r = constant(Some(3), None);
        assert_eq!(next_retry_date(&r, 1, t, t), Some(t + Duration::seconds(1)));
        assert!(next_retry_date(&r, 2, t, t).is_some());
        assert_eq!(next_retry_date(&r, 3, t, t), None);
    }

    #[test]
    fn max_duration_stops_retries() {
        let t = Utc::now();
        let r = constant(None, Some(Duration::milliseconds(2500)));
        assert!(next_retry_date(&r, 1, t, t + Duration::seconds(1)).is_some());
        assert_eq!(next_retry_date(&r, 2, t, t + Duration::seconds(2)), None);
    }

    #[test]
    fn exponential_is_capped() {
        let t = Utc::now();
        let r = Retry {
            kind: RetryKind::Exponential {
                interval: Duration::seconds(1),
                max_interval: Duration::seconds(3),
                delay_factor: None,
            },
            max_attempt: Some(10),
            max_duration: None,
            warning_on_retry: false,
        };
        assert_eq!(next_retry_date(&r, 1, t, t), Some(t + Duration::seconds(2)));
        assert_eq!(next_retry_date(&r, 5, t, t), Some(t + Duration::seconds(3)));
    }

    #[test]
    fn random_stays_in_range() {
        let t = Utc::now();
        let r = Retry {
            kind: RetryKind::Random { min_interval: Duration::seconds(1), max_interval: Duration::seconds(2) },
            max_attempt: Some(5),
            max_duration: None,
            warning_on_retry: false,
        };
        for a in 1..5 {
            let d = next_retry_date(&r, a, t, t).unwrap() - t;
            assert!(d >= Duration::seconds(1) && d < Duration::seconds(2));
        }
    }
}

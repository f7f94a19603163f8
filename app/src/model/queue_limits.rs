//! A queue's global concurrency and rate limit (BullMQ's `setGlobalConcurrency`,
//! `setGlobalRateLimit`): `GET` and `PUT /queue/{q}/limits`.

use serde::{Deserialize, Deserializer, Serialize};

/// At most `max` jobs start per `duration` ms, across all workers of the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub max: u64,
    pub duration: u64,
}

/// What the queue's `meta` hash says; `null` where no limit is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueLimits {
    pub queue_name: String,
    /// Jobs processed at once across all workers.
    pub concurrency: Option<u64>,
    pub rate_limit: Option<RateLimit>,
}

/// The body of `PUT /queue/{q}/limits`: a field left out stays as it is, `null` removes the
/// limit, a value sets it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitsChange {
    #[serde(default, deserialize_with = "present")]
    pub concurrency: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    pub rate_limit: Option<Option<RateLimit>>,
}

/// The largest concurrency, rate-limit `max` and `duration` (ms: a day) accepted.
pub const MAX_CONCURRENCY: u64 = 1_000_000;
pub const MAX_RATE_MAX: u64 = 1_000_000_000;
pub const MAX_RATE_DURATION_MS: u64 = 86_400_000;

impl LimitsChange {
    /// Refuses a change that changes nothing or holds a value out of bounds, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.concurrency.is_none() && self.rate_limit.is_none() {
            return Err(
                "nothing to change: give `concurrency` and/or `rateLimit` (null removes one)"
                    .into(),
            );
        }
        if let Some(Some(concurrency)) = self.concurrency {
            if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
                return Err(format!(
                    "`concurrency` must be 1 to {MAX_CONCURRENCY}, or null to remove it"
                ));
            }
        }
        if let Some(Some(rate)) = self.rate_limit {
            if !(1..=MAX_RATE_MAX).contains(&rate.max) {
                return Err(format!("`rateLimit.max` must be 1 to {MAX_RATE_MAX}"));
            }
            if !(1..=MAX_RATE_DURATION_MS).contains(&rate.duration) {
                return Err(format!(
                    "`rateLimit.duration` must be 1 to {MAX_RATE_DURATION_MS} ms"
                ));
            }
        }
        Ok(())
    }
}

/// `Some(value)` for a field that is present, even when it is `null` (then `Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<LimitsChange, String> {
        let change: LimitsChange = serde_json::from_str(body).map_err(|e| e.to_string())?;
        change.validate().map(|()| change)
    }

    #[test]
    fn absent_null_and_values_mean_keep_remove_and_set() {
        let change = parse(r#"{"concurrency": 3}"#).expect("valid");
        assert_eq!(change.concurrency, Some(Some(3)));
        assert_eq!(change.rate_limit, None);
        let change = parse(r#"{"concurrency": null, "rateLimit": {"max": 5, "duration": 1000}}"#)
            .expect("valid");
        assert_eq!(change.concurrency, Some(None));
        assert_eq!(
            change.rate_limit,
            Some(Some(RateLimit {
                max: 5,
                duration: 1000
            }))
        );
    }

    #[test]
    fn bad_changes_are_refused_naming_the_field() {
        assert!(parse("{}")
            .expect_err("refused")
            .contains("nothing to change"));
        assert!(parse(r#"{"concurrency": 0}"#)
            .expect_err("refused")
            .contains("`concurrency`"));
        assert!(parse(r#"{"rateLimit": {"max": 0, "duration": 10}}"#)
            .expect_err("refused")
            .contains("rateLimit.max"));
        assert!(parse(r#"{"rateLimit": {"max": 1, "duration": 0}}"#)
            .expect_err("refused")
            .contains("rateLimit.duration"));
        assert!(parse(r#"{"rateLimit": {"max": 1}}"#).is_err());
        assert!(parse(r#"{"concurency": 1}"#).is_err());
        assert!(parse(r#"{"concurrency": -1}"#).is_err());
    }
}

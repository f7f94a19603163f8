//! Query parameters of the REST API, typed. Handlers take these through the JSON-error query
//! extractor, so a bad value is refused with `{"error": "bad_request", "message": …}` naming the
//! parameter, before any handler runs. An empty value (`?period=`) counts as absent, as it
//! always did.

use crate::model::enums::{ClearKind, Period, Step};
use crate::model::jobs::{JobState, ListOrder};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt::Display;

/// A parameter as sent: text in a query string; text, a number or a boolean in JSON (the
/// server functions send these structs as JSON).
#[derive(Deserialize)]
#[serde(untagged)]
enum Sent {
    Text(String),
    Number(serde_json::Number),
    Flag(bool),
}

/// Reads an optional parameter through `T: TryFrom<String>`; blank means absent.
fn blank_is_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<String>,
    T::Error: Display,
{
    let text = match Option::<Sent>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(Sent::Text(text)) => text,
        Some(Sent::Number(number)) => number.to_string(),
        Some(Sent::Flag(flag)) => flag.to_string(),
    };
    if text.is_empty() {
        return Ok(None);
    }
    T::try_from(text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A yes/no parameter: `true` or `false` (also `1`/`0`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "bool")]
pub struct Switch(pub bool);

impl TryFrom<String> for Switch {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        match text.trim() {
            "true" | "1" => Ok(Switch(true)),
            "false" | "0" => Ok(Switch(false)),
            other => Err(format!("`{other}` is not true or false")),
        }
    }
}

impl From<Switch> for bool {
    fn from(value: Switch) -> bool {
        value.0
    }
}

/// `GET /live?delta=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default)]
pub struct LiveQuery {
    /// `true`: deltas between full snapshots (absent: every event is a full snapshot).
    #[serde(deserialize_with = "blank_is_none")]
    pub delta: Option<Switch>,
}

/// `GET /trends?period=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default)]
pub struct TrendsQuery {
    /// Absent: 24 h.
    #[serde(deserialize_with = "blank_is_none")]
    pub period: Option<Period>,
}

/// `DELETE /queue/{q}/clear?type=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default)]
pub struct ClearQuery {
    /// Absent: all finished jobs.
    #[serde(rename = "type", deserialize_with = "blank_is_none")]
    pub kind: Option<ClearKind>,
}

/// `GET /history?queue=&from=&to=&step=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default)]
pub struct HistoryQuery {
    /// One queue, or absent for all queues summed.
    #[serde(deserialize_with = "blank_is_none")]
    pub queue: Option<String>,
    /// RFC 3339 or epoch milliseconds; absent: 24 h before `to`.
    #[serde(deserialize_with = "blank_is_none")]
    pub from: Option<String>,
    /// RFC 3339 or epoch milliseconds; absent: now.
    #[serde(deserialize_with = "blank_is_none")]
    pub to: Option<String>,
    /// Absent: minute up to 48 h, else hour.
    #[serde(deserialize_with = "blank_is_none")]
    pub step: Option<Step>,
}

/// Declares a whole-number query parameter with its range: parsed from text, refused with a
/// sentence naming it.
macro_rules! bounded_number {
    ($(#[$meta:meta])* $name:ident, $field:literal, $min:literal ..= $max:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "u64")]
        pub struct $name(pub u64);

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(text: String) -> Result<Self, String> {
                text.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| ($min..=$max).contains(n))
                    .map($name)
                    .ok_or_else(|| {
                        format!("{} must be a whole number from {} to {}", $field, $min, $max)
                    })
            }
        }

        // In the OpenAPI description: an integer with the range.
        #[cfg(feature = "ssr")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer)
                    .minimum(Some($min as f64))
                    .maximum(Some($max as f64))
                    .into()
            }
        }

        #[cfg(feature = "ssr")]
        impl utoipa::ToSchema for $name {}

        impl From<$name> for u64 {
            fn from(value: $name) -> u64 {
                value.0
            }
        }
    };
}

bounded_number! {
    /// How many stuck jobs one answer lists.
    StuckLimit, "limit", 1 ..= 5000
}

bounded_number! {
    /// How many audit entries one page holds.
    AuditCount, "count", 1 ..= 500
}

/// `GET /alerts/stuck?limit=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default)]
pub struct StuckQuery {
    /// Absent: [`crate::model::STUCK_DEFAULT_LIMIT`].
    #[serde(deserialize_with = "blank_is_none")]
    pub limit: Option<StuckLimit>,
}

/// `GET /audit?count=&before=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default)]
pub struct AuditQuery {
    /// Absent: 50.
    #[serde(deserialize_with = "blank_is_none")]
    pub count: Option<AuditCount>,
    /// An entry id (`1764312345678-0`): the page starts after it.
    #[serde(deserialize_with = "blank_is_none")]
    pub before: Option<String>,
}

bounded_number! {
    /// Jobs per page.
    PageLimit, "limit", 1 ..= 1000
}

bounded_number! {
    /// Jobs one search request may look at.
    ScanLimit, "scanLimit", 1 ..= 100_000
}

bounded_number! {
    /// Where a page of logs starts.
    LogStart, "start", 0 ..= 1_000_000_000
}

bounded_number! {
    /// Log lines per page.
    LogCount, "count", 1 ..= 1000
}

bounded_number! {
    /// Levels of a flow shown below (and walked above) the job.
    FlowDepth, "depth", 1 ..= 20
}

bounded_number! {
    /// Children shown per flow node.
    MaxChildren, "maxChildren", 1 ..= 1000
}

/// `GET /queue/{q}/jobs?state=&limit=&cursor=&order=&search=&scanLimit=`: a page of one state,
/// or (with `search`) a search of the queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default, rename_all = "camelCase")]
pub struct JobListQuery {
    /// Absent: `waiting` for a page; every state for a search.
    #[serde(deserialize_with = "blank_is_none")]
    pub state: Option<JobState>,
    #[serde(deserialize_with = "blank_is_none")]
    pub limit: Option<PageLimit>,
    #[serde(deserialize_with = "blank_is_none")]
    pub cursor: Option<String>,
    #[serde(deserialize_with = "blank_is_none")]
    pub order: Option<ListOrder>,
    #[serde(deserialize_with = "blank_is_none")]
    pub search: Option<String>,
    #[serde(deserialize_with = "blank_is_none")]
    pub scan_limit: Option<ScanLimit>,
}

/// `GET /jobs?search=&state=&limit=&cursor=&scanLimit=`: a search across every queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default, rename_all = "camelCase")]
pub struct SearchQuery {
    #[serde(deserialize_with = "blank_is_none")]
    pub search: Option<String>,
    #[serde(deserialize_with = "blank_is_none")]
    pub state: Option<JobState>,
    #[serde(deserialize_with = "blank_is_none")]
    pub limit: Option<PageLimit>,
    #[serde(deserialize_with = "blank_is_none")]
    pub cursor: Option<String>,
    #[serde(deserialize_with = "blank_is_none")]
    pub scan_limit: Option<ScanLimit>,
}

/// `GET /queue/{q}/jobs/{id}/logs?start=&count=&order=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default)]
pub struct LogsQuery {
    #[serde(deserialize_with = "blank_is_none")]
    pub start: Option<LogStart>,
    #[serde(deserialize_with = "blank_is_none")]
    pub count: Option<LogCount>,
    /// Absent: `asc` (oldest first), as BullMQ's `getJobLogs`.
    #[serde(deserialize_with = "blank_is_none")]
    pub order: Option<ListOrder>,
}

/// `GET /queue/{q}/jobs/{id}/flow?depth=&maxChildren=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default, rename_all = "camelCase")]
pub struct FlowQuery {
    #[serde(deserialize_with = "blank_is_none")]
    pub depth: Option<FlowDepth>,
    #[serde(deserialize_with = "blank_is_none")]
    pub max_children: Option<MaxChildren>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
        serde_json::from_value::<T>(
            serde_json::to_value(
                text.split('&')
                    .filter(|pair| !pair.is_empty())
                    .filter_map(|pair| pair.split_once('='))
                    .collect::<std::collections::HashMap<_, _>>(),
            )
            .expect("json"),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn blank_values_count_as_absent_and_bad_ones_name_the_parameter() {
        assert_eq!(query::<TrendsQuery>("period=").expect("ok").period, None);
        assert_eq!(
            query::<TrendsQuery>("period=7d").expect("ok").period,
            Some(Period::Week)
        );
        assert!(query::<HistoryQuery>("step=week")
            .expect_err("refused")
            .contains("step must be one of"));
        assert_eq!(
            query::<ClearQuery>("type=failed").expect("ok").kind,
            Some(ClearKind::Failed)
        );
        assert!(query::<StuckQuery>("limit=0")
            .expect_err("refused")
            .contains("limit must be a whole number from 1 to 5000"));
        assert_eq!(
            query::<StuckQuery>("limit=20").expect("ok").limit,
            Some(StuckLimit(20))
        );
        assert!(query::<AuditQuery>("count=x")
            .expect_err("refused")
            .contains("count"));
    }
}

/// `GET /failures?queue=&since=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(default)]
pub struct FailuresQuery {
    /// Only the groups of this queue (with their numbers in it).
    #[serde(deserialize_with = "blank_is_none")]
    pub queue: Option<String>,
    /// Where the window starts: a duration back from now (`90m`, `24h`, `7d`; at most 30 days),
    /// RFC 3339 or epoch milliseconds. Absent: `24h`.
    #[serde(deserialize_with = "blank_is_none")]
    pub since: Option<String>,
}

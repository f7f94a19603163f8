//! Identifiers that come from URLs and bodies, parsed once at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest job id accepted. BullMQ has no limit, but ids are keys, and nothing legitimate
/// (numbers, UUIDs, `repeat:<scheduler>:<millis>`) comes close.
pub const MAX_JOB_ID_BYTES: usize = 256;

/// A BullMQ job id as a client sent it: 1 to [`MAX_JOB_ID_BYTES`] bytes, no control
/// characters. `:` is allowed (scheduler job ids hold it). That it names an existing job (a
/// hash with a job's fields, not the queue's `meta` or `events`) is checked where the job is
/// read, atomically with what is done to it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// Parses a job id, saying what is wrong when it cannot be one.
    pub fn parse(text: &str) -> Result<JobId, String> {
        if text.is_empty() || text.len() > MAX_JOB_ID_BYTES || text.chars().any(char::is_control) {
            return Err(format!(
                "job id must be 1 to {MAX_JOB_ID_BYTES} printable characters"
            ));
        }
        Ok(JobId(text.to_owned()))
    }

    /// The id as BullMQ stores it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// In the OpenAPI description: a string of 1 to [`MAX_JOB_ID_BYTES`] characters.
#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for JobId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_JOB_ID_BYTES))
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for JobId {}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        JobId::parse(&text)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_bounded_printable_text() {
        assert!(JobId::parse("42").is_ok());
        assert!(JobId::parse("repeat:abc:1700000000000").is_ok());
        assert!(JobId::parse("").is_err());
        assert!(JobId::parse("a\nb").is_err());
        assert!(JobId::parse(&"9".repeat(MAX_JOB_ID_BYTES + 1)).is_err());
        assert!(serde_json::from_str::<JobId>("\"\"").is_err());
        assert_eq!(
            serde_json::to_string(&JobId::parse("7").expect("valid")).expect("json"),
            "\"7\""
        );
    }
}

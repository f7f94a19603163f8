//! Time as the monitor reads and writes it: milliseconds since the epoch from this server's
//! clock (BullMQ also stamps jobs with its clients' clocks), and RFC 3339 for people. Every
//! layer may use these; they depend on nothing else of ours.

/// Milliseconds since the epoch, from this server's clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// [`now_ms`] as an unsigned number (0 before 1970, which never happens).
pub fn now_ms_u64() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

/// Milliseconds since the epoch as RFC 3339, UTC, with milliseconds (empty past the calendar).
pub fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// [`rfc3339`] of an unsigned time.
pub fn rfc3339_u64(millis: u64) -> String {
    rfc3339(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// The current time as RFC 3339, UTC, milliseconds (`2026-01-22T10:30:00.000Z`).
pub fn now_rfc3339() -> String {
    rfc3339(now_ms())
}

/// A time a client gave as epoch milliseconds or RFC 3339; `None` when it is neither.
pub fn parse_time(text: &str) -> Option<u64> {
    if let Ok(ms) = text.parse::<u64>() {
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_and_print_both_ways() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_time("1000"), Some(1000));
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("1969-12-31T23:59:59Z"), None);
    }
}

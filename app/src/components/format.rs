//! How numbers, times and payloads read on screen. Plain functions, tested on the host.

use serde_json::Value;

/// A percentage with `decimals`, or an en dash when there is nothing to rate.
pub fn percent(rate: Option<f64>, decimals: usize) -> String {
    match rate {
        Some(rate) => format!("{rate:.decimals$} %"),
        None => "–".to_owned(),
    }
}

/// A duration for people: `850 ms`, `12 s`, `3 min 07 s`, `2 h 05 min`, `3 d 4 h`.
pub fn duration(ms: u64) -> String {
    const SECOND: u64 = 1000;
    const MINUTE: u64 = 60 * SECOND;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    match ms {
        ms if ms < SECOND => format!("{ms} ms"),
        ms if ms < MINUTE => format!("{} s", ms / SECOND),
        ms if ms < HOUR => format!("{} min {:02} s", ms / MINUTE, (ms % MINUTE) / SECOND),
        ms if ms < DAY => format!("{} h {:02} min", ms / HOUR, (ms % HOUR) / MINUTE),
        ms => format!("{} d {} h", ms / DAY, (ms % DAY) / HOUR),
    }
}

/// The time of day of an RFC 3339 UTC timestamp (`2026-11-28T10:04:05.123Z` → `10:04:05 UTC`);
/// the input unchanged when it is not one.
pub fn clock(timestamp: &str) -> String {
    match timestamp.get(11..19) {
        Some(time) if timestamp.as_bytes().get(10) == Some(&b'T') => format!("{time} UTC"),
        _ => timestamp.to_owned(),
    }
}

/// A one-line preview of job data, at most `max_chars` characters (then `…`).
pub fn preview(data: &Value, max_chars: usize) -> String {
    let text = match data {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if text.chars().count() <= max_chars {
        return text;
    }
    let mut cut: String = text.chars().take(max_chars).collect();
    cut.push('…');
    cut
}

/// A job's progress as a percentage when it is a number from 0 to 100.
pub fn progress_percent(progress: &Value) -> Option<f64> {
    progress.as_f64().filter(|p| (0.0..=100.0).contains(p))
}

/// A path segment for a URL: everything but RFC 3986's unreserved characters percent-encoded.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte))
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// An epoch-milliseconds time as a UTC date and time (`2026-12-01 10:04:05 UTC`), computed
/// here (days to a civil date) so the wasm needs no date library.
pub fn date_time(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Days since 1970-01-01 to a proleptic Gregorian date, in 400-year eras of 146,097 days.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        (of_day % 3600) / 60,
        of_day % 60
    )
}

/// The browser's clock in epoch milliseconds; `None` on the server.
pub fn now_ms() -> Option<i64> {
    #[cfg(feature = "hydrate")]
    {
        Some(js_sys::Date::now() as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// How long ago `ms` was, for people (`3 min 07 s ago`), or the date when no clock is known.
pub fn ago(ms: i64, now: Option<i64>) -> String {
    match now {
        Some(now) if now >= ms => format!("{} ago", duration((now - ms) as u64)),
        Some(now) => format!("in {}", duration((ms - now) as u64)),
        None => date_time(ms),
    }
}

/// JSON laid out for reading (two-space indents); text as it is.
pub fn pretty(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string()),
    }
}

/// Milliseconds since the epoch of an RFC 3339 time the server sent, read with the browser's own
/// date parser (so the wasm carries no date library); `None` on the server, where the effects
/// that need it never run.
pub fn epoch_ms(rfc3339: &str) -> Option<i64> {
    #[cfg(feature = "hydrate")]
    {
        let ms = js_sys::Date::parse(rfc3339);
        ms.is_finite().then_some(ms as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = rfc3339;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_400), "12 s");
        assert_eq!(duration(187_000), "3 min 07 s");
        assert_eq!(duration(2 * 3_600_000 + 5 * 60_000), "2 h 05 min");
        assert_eq!(duration(3 * 86_400_000 + 4 * 3_600_000), "3 d 4 h");
    }

    #[test]
    fn percentages_and_clock_times() {
        assert_eq!(percent(Some(66.666), 1), "66.7 %");
        assert_eq!(percent(None, 1), "–");
        assert_eq!(clock("2026-11-28T10:04:05.123Z"), "10:04:05 UTC");
        assert_eq!(clock("soon"), "soon");
    }

    #[test]
    fn previews_are_cut_on_character_boundaries() {
        assert_eq!(preview(&json!({"a": 1}), 40), "{\"a\":1}");
        assert_eq!(preview(&json!("ééééé"), 3), "ééé…");
        assert_eq!(preview(&Value::Null, 3), "");
    }

    #[test]
    fn epoch_times_read_as_utc_dates() {
        assert_eq!(date_time(0), "1970-01-01 00:00:00 UTC");
        // 2026-12-01T10:04:05.999Z
        assert_eq!(date_time(1_796_119_445_999), "2026-12-01 10:04:05 UTC");
        // A leap day, and a time before 1970.
        assert_eq!(date_time(1_709_164_800_000), "2024-02-29 00:00:00 UTC");
        assert_eq!(date_time(-1000), "1969-12-31 23:59:59 UTC");
        assert_eq!(ago(10_000, Some(70_000)), "1 min 00 s ago");
        assert_eq!(ago(70_000, Some(10_000)), "in 1 min 00 s");
        assert_eq!(ago(0, None), "1970-01-01 00:00:00 UTC");
        assert_eq!(pretty(&json!({"a": [1]})), "{\n  \"a\": [\n    1\n  ]\n}");
        assert_eq!(pretty(&json!("plain")), "plain");
    }

    #[test]
    fn progress_and_path_segments() {
        assert_eq!(progress_percent(&json!(42)), Some(42.0));
        assert_eq!(progress_percent(&json!({"step": 2})), None);
        assert_eq!(progress_percent(&json!(250)), None);
        assert_eq!(path_segment("mails-v2"), "mails-v2");
        assert_eq!(path_segment("a b/é"), "a%20b%2F%C3%A9");
    }
}

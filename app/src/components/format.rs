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
    fn progress_and_path_segments() {
        assert_eq!(progress_percent(&json!(42)), Some(42.0));
        assert_eq!(progress_percent(&json!({"step": 2})), None);
        assert_eq!(progress_percent(&json!(250)), None);
        assert_eq!(path_segment("mails-v2"), "mails-v2");
        assert_eq!(path_segment("a b/é"), "a%20b%2F%C3%A9");
    }
}

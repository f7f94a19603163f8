//! What makes two failures "the same cause": the job's name, its `failedReason` with the parts
//! that vary from job to job replaced by placeholders, and the top frame of the newest stack
//! trace without its line and column. Plain code, tested on the host.
//!
//! The placeholders, in the order they are tried at each position: quoted text `<str>`, UUIDs
//! `<uuid>`, e-mail addresses `<email>`, a URL's query string `?<query>`, hex ids `<hex>`
//! (`0x…`, or 8+ hex digits holding a digit), numbers `<n>` (with their decimals and dotted
//! parts, so an IP address is one `<n>`). A single digit glued to letters (`s3`, `utf8`,
//! `http2`) is part of a word and stays.

/// At most this many characters of a message are looked at (a cause is in its start).
const MESSAGE_CHARS: usize = 1000;

/// A failure's cause, ready to be grouped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// The group id: 16 hex digits of a SHA-1 over name, message and frame.
    pub id: String,
    /// The normalised message.
    pub message: String,
    /// The top frame of the newest stack trace, without line and column ("" when unknown).
    pub frame: String,
}

impl Fingerprint {
    /// The fingerprint of a failure of a job named `name` (empty when BullMQ already removed
    /// the job and its name was not seen), with BullMQ's `failedReason` and `stacktrace` field
    /// (a JSON array of strings, oldest first; absent or empty is fine).
    pub fn of(name: &str, failed_reason: &str, stacktrace: Option<&str>) -> Fingerprint {
        let message = normalise(failed_reason);
        let frame = stacktrace.map(top_frame).unwrap_or_default();
        let id = sha1_hex(&format!("{name}\n{message}\n{frame}"))[..16].to_owned();
        Fingerprint { id, message, frame }
    }
}

fn sha1_hex(text: &str) -> String {
    fred::util::sha1_hash(text)
}

/// The first `at …` line of the newest trace, its `:line:column` dropped (a deploy moves lines;
/// the cause stays the function and file).
pub fn top_frame(stacktrace: &str) -> String {
    let newest: Option<String> = serde_json::from_str::<Vec<Option<String>>>(stacktrace)
        .ok()
        .and_then(|traces| traces.into_iter().rev().flatten().find(|t| !t.is_empty()));
    let Some(trace) = newest else {
        return String::new();
    };
    let Some(line) = trace
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("at "))
    else {
        return String::new();
    };
    strip_position(line)
}

/// `at f (/app/x.js:12:7)` → `at f (/app/x.js)`; `at /app/x.js:12:7` → `at /app/x.js`.
fn strip_position(line: &str) -> String {
    let (body, close) = match line.strip_suffix(')') {
        Some(body) => (body, ")"),
        None => (line, ""),
    };
    let mut end = body.len();
    for _ in 0..2 {
        let Some(colon) = body[..end].rfind(':') else {
            break;
        };
        let digits = &body[colon + 1..end];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        end = colon;
    }
    format!("{}{close}", &body[..end])
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_hex(byte: u8) -> bool {
    byte.is_ascii_hexdigit()
}

/// The length of a UUID at the start of `bytes`, if one is there.
fn uuid_at(bytes: &[u8]) -> Option<usize> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut at = 0;
    for (i, len) in GROUPS.iter().enumerate() {
        if bytes.len() < at + len || !bytes[at..at + len].iter().all(|b| is_hex(*b)) {
            return None;
        }
        at += len;
        if i < GROUPS.len() - 1 {
            if bytes.get(at) != Some(&b'-') {
                return None;
            }
            at += 1;
        }
    }
    (!bytes.get(at).copied().is_some_and(is_word)).then_some(at)
}

/// The length of an e-mail address at the start of `bytes`, if one is there.
fn email_at(bytes: &[u8]) -> Option<usize> {
    let local = bytes
        .iter()
        .take_while(|b| is_word(**b) || matches!(b, b'.' | b'%' | b'+' | b'-'))
        .count();
    if local == 0 || bytes.get(local) != Some(&b'@') {
        return None;
    }
    let domain = bytes[local + 1..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        .count();
    let domain_text = &bytes[local + 1..local + 1 + domain];
    let domain_text = domain_text.strip_suffix(b".").unwrap_or(domain_text);
    let dot = domain_text.iter().rposition(|b| *b == b'.')?;
    let tld = &domain_text[dot + 1..];
    (dot > 0 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
        .then_some(local + 1 + domain_text.len())
}

/// The length of a hex id at the start of `bytes`: `0x` and hex digits, or 8+ hex digits with
/// at least one decimal digit, not followed by a word character.
fn hex_at(bytes: &[u8]) -> Option<usize> {
    if bytes.len() > 2 && bytes[0] == b'0' && (bytes[1] | 0x20) == b'x' && is_hex(bytes[2]) {
        let len = 2 + bytes[2..].iter().take_while(|b| is_hex(**b)).count();
        return (!bytes.get(len).copied().is_some_and(is_word)).then_some(len);
    }
    let len = bytes.iter().take_while(|b| is_hex(**b)).count();
    let ends = !bytes.get(len).copied().is_some_and(is_word);
    (len >= 8 && ends && bytes[..len].iter().any(u8::is_ascii_digit)).then_some(len)
}

/// The length of a number at the start of `bytes` (digits, and `.digits` parts).
fn number_at(bytes: &[u8]) -> usize {
    let mut len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    while bytes.get(len) == Some(&b'.') && bytes.get(len + 1).is_some_and(u8::is_ascii_digit) {
        len += 1 + bytes[len + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
    }
    len
}

/// A message with what varies between jobs replaced (see the module docs); whitespace runs
/// become one space.
pub fn normalise(message: &str) -> String {
    let cut: String = message.chars().take(MESSAGE_CHARS).collect();
    let bytes = cut.as_bytes();
    let mut out = String::with_capacity(cut.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let prev = if i == 0 { None } else { Some(bytes[i - 1]) };
        let at_word_start = !prev.is_some_and(is_word);
        let rest = &bytes[i..];
        if matches!(byte, b'"' | b'\'' | b'`') && at_word_start {
            if let Some(close) = rest[1..]
                .iter()
                .take(200)
                .position(|b| *b == byte || *b == b'\n')
                .filter(|at| rest[1 + at] == byte)
            {
                out.push_str("<str>");
                i += close + 2;
                continue;
            }
        }
        if at_word_start && is_hex(byte) {
            if let Some(len) = uuid_at(rest) {
                out.push_str("<uuid>");
                i += len;
                continue;
            }
        }
        if at_word_start && (is_word(byte) || byte == b'.') {
            if let Some(len) = email_at(rest) {
                out.push_str("<email>");
                i += len;
                continue;
            }
        }
        if byte == b'?'
            && prev.is_some_and(|p| !p.is_ascii_whitespace())
            && rest.get(1).is_some_and(|b| !b.is_ascii_whitespace())
        {
            let len = rest.iter().take_while(|b| !b.is_ascii_whitespace()).count();
            out.push_str("?<query>");
            i += len;
            continue;
        }
        if at_word_start && is_hex(byte) {
            if let Some(len) = hex_at(rest) {
                out.push_str("<hex>");
                i += len;
                continue;
            }
        }
        if byte.is_ascii_digit() {
            let len = number_at(rest);
            let glued = prev.is_some_and(|p| p.is_ascii_alphabetic());
            if glued && len == 1 {
                out.push(byte as char);
            } else {
                // `500ms` becomes `<n>ms`: the number goes, the unit stays.
                out.push_str("<n>");
            }
            i += len;
            continue;
        }
        if byte.is_ascii_whitespace() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            i += 1;
            continue;
        }
        // Copy one character (non-ASCII ones whole).
        let width = cut[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&cut[i..i + width]);
        i += width;
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_varies_between_jobs_becomes_a_placeholder() {
        for (message, expected) in [
            (
                "connect ECONNREFUSED 10.0.0.12:5432",
                "connect ECONNREFUSED <n>:<n>",
            ),
            (
                "Timeout after 3000ms for user 6f1c2a9e-1b2c-4d5e-8f90-0a1b2c3d4e5f",
                "Timeout after <n>ms for user <uuid>",
            ),
            (
                "cannot send to jane.doe+x@example.co.uk: mailbox full",
                "cannot send to <email>: mailbox full",
            ),
            (
                "GET https://api.example.com/v2/items?id=42&token=abc failed: 502",
                "GET https://api.example.com/v2/items?<query> failed: <n>",
            ),
            (
                "order 507f1f77bcf86cd799439011 not found (0xDEADBEEF)",
                "order <hex> not found (<hex>)",
            ),
            (
                "unknown field \"colour\" in 'payload'",
                "unknown field <str> in <str>",
            ),
            (
                "s3 upload   failed\n in utf8 mode",
                "s3 upload failed in utf8 mode",
            ),
            ("don't retry job 7", "don't retry job <n>"),
            ("price 12.50 below 3", "price <n> below <n>"),
            ("", ""),
            ("日本語 7 件", "日本語 <n> 件"),
        ] {
            assert_eq!(normalise(message), expected, "{message}");
        }
    }

    #[test]
    fn the_same_cause_gets_one_id_and_another_cause_another() {
        let a = Fingerprint::of("send", "connect ECONNREFUSED 10.0.0.1:5432", None);
        let b = Fingerprint::of("send", "connect ECONNREFUSED 10.0.0.2:6379", None);
        let other_name = Fingerprint::of("bill", "connect ECONNREFUSED 10.0.0.1:5432", None);
        let other_cause = Fingerprint::of("send", "invalid address", None);
        assert_eq!(a.id, b.id);
        assert_eq!(a.id.len(), 16);
        assert_ne!(a.id, other_name.id);
        assert_ne!(a.id, other_cause.id);
    }

    #[test]
    fn the_top_frame_of_the_newest_trace_without_its_position() {
        let traces = serde_json::json!([
            "Error: old\n    at old (/app/old.js:1:1)",
            "Error: boom\n    at Worker.process (/app/dist/worker.js:12:7)\n    at next (node:internal/x:3:9)"
        ])
        .to_string();
        assert_eq!(
            top_frame(&traces),
            "at Worker.process (/app/dist/worker.js)"
        );
        assert_eq!(
            top_frame(&serde_json::json!(["E\n at /srv/a.js:4:2"]).to_string()),
            "at /srv/a.js"
        );
        assert_eq!(top_frame("[]"), "");
        assert_eq!(top_frame("not json"), "");
        let moved =
            serde_json::json!(["Error: boom\n    at Worker.process (/app/dist/worker.js:99:1)"]);
        assert_eq!(
            Fingerprint::of("n", "boom", Some(&traces)).id,
            Fingerprint::of("n", "boom", Some(&moved.to_string())).id,
            "a deploy that moved the line keeps the group"
        );
    }
}

//! A Server-Sent-Events frame parser for streams read with `fetch` (which, unlike
//! `EventSource`, can send an `Authorization` header). Bytes arrive in arbitrary chunks; events
//! come out whole. Follows the HTML spec's rules where they matter here: `\n`, `\r\n` or `\r`
//! line ends, `field: value` with one optional space, repeated `data` lines joined by `\n`,
//! comments (`:` lines, our keep-alives) ignored, and `id`/`retry` remembered.

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name; `message` when the frame had none.
    pub name: String,
    pub data: String,
    /// The last `id:` seen when it was dispatched (its own, when it had one).
    pub id: Option<String>,
}

/// Incremental parser state.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes not yet ending in a line break (a chunk may split a line, even a UTF-8 character).
    pending: Vec<u8>,
    /// A `\r` ended the last chunk: a `\n` opening the next one belongs to it.
    after_cr: bool,
    name: String,
    data: Vec<String>,
    /// The last `id:` seen (what a reconnect would send as `Last-Event-ID`).
    pub last_id: Option<String>,
    /// The server's `retry:` hint in milliseconds.
    pub retry_ms: Option<u32>,
}

impl SseParser {
    /// Feeds a chunk and returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in chunk {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.pending);
                    self.line(&String::from_utf8_lossy(&line), &mut events);
                }
                _ => self.pending.push(byte),
            }
        }
        events
    }

    fn line(&mut self, line: &str, events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                let name = std::mem::take(&mut self.name);
                events.push(SseEvent {
                    name: if name.is_empty() {
                        "message".to_owned()
                    } else {
                        name
                    },
                    data: std::mem::take(&mut self.data).join("\n"),
                    id: self.last_id.clone(),
                });
            }
            self.name.clear();
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = value.to_owned(),
            "data" => self.data.push(value.to_owned()),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            "retry" => {
                if let Ok(ms) = value.parse() {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(parser: &mut SseParser, chunks: &[&[u8]]) -> Vec<SseEvent> {
        chunks.iter().flat_map(|chunk| parser.push(chunk)).collect()
    }

    #[test]
    fn parses_the_frames_our_server_sends() {
        let mut parser = SseParser::default();
        let events = all(
            &mut parser,
            &[b"retry: 2000\nid: 1\ndata: {\"a\":1}\n\n: keep-alive\n\nevent: status\ndata: {\"status\":\"ok\"}\n\n"],
        );
        assert_eq!(
            events,
            vec![
                SseEvent {
                    name: "message".into(),
                    data: "{\"a\":1}".into(),
                    id: Some("1".into()),
                },
                SseEvent {
                    name: "status".into(),
                    data: "{\"status\":\"ok\"}".into(),
                    id: Some("1".into()),
                },
            ]
        );
        assert_eq!(parser.last_id.as_deref(), Some("1"));
        assert_eq!(parser.retry_ms, Some(2000));
    }

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let text =
            "id: 7\r\ndata: {\"name\":\"caf\u{e9}\"}\r\n\r\nevent: auth\r\ndata: expired\r\n\r\n";
        let bytes = text.as_bytes();
        for split in 1..bytes.len() {
            let mut parser = SseParser::default();
            let events = all(&mut parser, &[&bytes[..split], &bytes[split..]]);
            assert_eq!(events.len(), 2, "split at {split}");
            assert_eq!(
                events[0].data, "{\"name\":\"caf\u{e9}\"}",
                "split at {split}"
            );
            assert_eq!(events[1].name, "auth");
        }
    }

    #[test]
    fn multi_line_data_is_joined_and_incomplete_frames_wait() {
        let mut parser = SseParser::default();
        assert!(parser.push(b"data: one\ndata:two\n").is_empty());
        let events = parser.push(b"\n");
        assert_eq!(events[0].data, "one\ntwo");
        assert!(parser.push(b"event: x\n\n").is_empty(), "no data, no event");
        assert_eq!(
            parser.push(b"data: y\n\n")[0].name,
            "message",
            "the name does not leak"
        );
    }
}

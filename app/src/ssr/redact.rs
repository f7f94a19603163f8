//! Redaction (`REDACT_PATHS`): JSON paths whose values the monitor never shows — in job data,
//! return values and JSON log lines, in lists, details and whole values alike — and never
//! matches a search on (the search script skips them, see `bullmq::jobs::search`).
//!
//! A path is dot-separated keys from the root (`customer.email`); arrays are walked through,
//! so a path applies to each element (`items.card` masks `card` in every item).

use serde_json::Value;

/// What a masked value is shown as.
pub const MASK: &str = "[redacted]";

/// The configured paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Redactor {
    paths: Vec<Vec<String>>,
}

impl Redactor {
    /// Parses `password,token,customer.email`; refuses empty segments.
    pub fn parse(text: &str) -> Result<Redactor, String> {
        let mut paths = Vec::new();
        for path in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let keys: Vec<String> = path.split('.').map(str::to_owned).collect();
            if keys.iter().any(String::is_empty) {
                return Err(format!(
                    "REDACT_PATHS: `{path}` has an empty segment (write paths like customer.email)"
                ));
            }
            paths.push(keys);
        }
        Ok(Redactor { paths })
    }

    /// Whether any path is configured.
    pub fn is_active(&self) -> bool {
        !self.paths.is_empty()
    }

    /// The paths, as key lists (for the search script).
    pub fn paths(&self) -> &[Vec<String>] {
        &self.paths
    }

    /// Whether `path` (keys from the root) lies at or under a configured path.
    pub fn covers(&self, path: &[String]) -> bool {
        self.paths
            .iter()
            .any(|masked| masked.len() <= path.len() && masked[..] == path[..masked.len()])
    }

    /// Replaces every value at a configured path with [`MASK`].
    pub fn mask(&self, value: &mut Value) {
        for path in &self.paths {
            mask_at(value, path);
        }
    }

    /// A log line with its JSON (when it is a JSON object or array) masked; other text as is.
    pub fn mask_line(&self, line: String) -> String {
        if !self.is_active() || !line.trim_start().starts_with(['{', '[']) {
            return line;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(mut value) => {
                self.mask(&mut value);
                value.to_string()
            }
            Err(_) => line,
        }
    }
}

fn mask_at(value: &mut Value, path: &[String]) {
    let Some((key, rest)) = path.split_first() else {
        *value = Value::String(MASK.to_owned());
        return;
    };
    match value {
        Value::Array(items) => {
            for item in items {
                mask_at(item, path);
            }
        }
        Value::Object(fields) => {
            if let Some(child) = fields.get_mut(key) {
                mask_at(child, rest);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_mask_their_values_through_arrays() {
        let redactor = Redactor::parse("password, customer.email,items.card").expect("valid");
        let mut data = json!({
            "password": "hunter2",
            "customer": {"email": "a@b.c", "name": "Ann"},
            "items": [{"card": "4111", "sku": 1}, {"card": "5500"}],
            "note": "keep"
        });
        redactor.mask(&mut data);
        assert_eq!(
            data,
            json!({
                "password": MASK,
                "customer": {"email": MASK, "name": "Ann"},
                "items": [{"card": MASK, "sku": 1}, {"card": MASK}],
                "note": "keep"
            })
        );
        assert!(redactor.covers(&["customer".into(), "email".into()]));
        assert!(redactor.covers(&["password".into(), "x".into()]));
        assert!(!redactor.covers(&["customer".into()]));
        let line = redactor.mask_line(r#"{"password":"x","ok":1}"#.into());
        assert_eq!(
            serde_json::from_str::<Value>(&line).expect("json"),
            json!({"password": MASK, "ok": 1})
        );
        assert_eq!(redactor.mask_line("plain text".into()), "plain text");
        assert!(Redactor::parse("a..b").is_err());
    }
}

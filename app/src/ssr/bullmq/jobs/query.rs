//! The search syntax. Terms are separated by spaces and must all match:
//!
//! - `id:<id>` — that job;
//! - `name:<name>` — the job's name (any case; `*` matches any run of characters);
//! - `state:<state>` — only that state;
//! - `data.<path>:<value>` — the value at that path of the job's data equals `<value>` (any
//!   case; `*` as above; arrays on the way are walked through; numbers and booleans compare as
//!   their text);
//! - `failed:<text>` — `failedReason` or a stack trace contains the text (any case);
//! - `returned:<text>` — a value of the return value contains the text (any case);
//! - anything else — free text: the id, the name, the failure or a value of the data contains
//!   it (any case).
//!
//! A value with spaces is quoted: `failed:"connection refused"`, `data.user.name:"Ann Lee"`;
//! `\"` and `\\` inside quotes stand for `"` and `\`. Errors name the column (1-based) where
//! the query went wrong.

use crate::model::JobState;
use crate::ssr::error::AppError;
use crate::ssr::redact::Redactor;
use serde_json::json;

/// The longest query accepted.
pub const MAX_QUERY_CHARS: usize = 1000;

/// A parsed query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub id: Option<String>,
    /// Lower case, `*` kept.
    pub name: Option<String>,
    pub state: Option<JobState>,
    /// `(path, value)`, the value lower case, `*` kept.
    pub data: Vec<(Vec<String>, String)>,
    pub failed: Option<String>,
    pub returned: Option<String>,
    pub free: Vec<String>,
}

fn error(column: usize, what: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(format!("search: {what} at column {column}"))
}

/// Splits the query into `(column, word)`, honouring quotes.
fn words(text: &str) -> Result<Vec<(usize, String)>, AppError> {
    let mut out = Vec::new();
    let mut chars = text.chars().enumerate().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c == '"' {
                let opened = i + 1;
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, escaped)) => word.push(escaped),
                            None => break,
                        },
                        other => word.push(other),
                    }
                }
                if !closed {
                    return Err(error(opened, "the quote opened here is not closed"));
                }
            } else {
                word.push(c);
            }
        }
        out.push((start + 1, word));
    }
    Ok(out)
}

impl Query {
    /// Parses a query, saying where it is wrong.
    pub fn parse(text: &str) -> Result<Query, AppError> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::BadRequest(format!(
                "search: at most {MAX_QUERY_CHARS} characters"
            )));
        }
        if let Some((i, _)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| c.is_control() && !c.is_whitespace())
        {
            return Err(error(i + 1, "a control character"));
        }
        let mut query = Query::default();
        // Qualifiers are read on the raw text (before quotes are undone) so that a quoted
        // `"a:b"` stays free text.
        let raw_words = raw_positions(text);
        for ((column, word), raw) in words(text)?.into_iter().zip(raw_words) {
            let qualified = raw
                .split_once(':')
                .filter(|(qualifier, _)| !qualifier.contains('"') && !qualifier.is_empty());
            let Some((qualifier, _)) = qualified else {
                if word.is_empty() {
                    return Err(error(column, "an empty term"));
                }
                query.free.push(word.to_lowercase());
                continue;
            };
            let value = word[qualifier.len() + 1..].to_owned();
            let value_column = column + qualifier.chars().count() + 1;
            if value.is_empty() {
                return Err(error(value_column, format!("`{qualifier}:` needs a value")));
            }
            match qualifier {
                "id" => query.id = Some(value),
                "name" => query.name = Some(value.to_lowercase()),
                "state" => {
                    let state = JobState::parse(&value)
                        .filter(|s| *s != JobState::Unknown)
                        .ok_or_else(|| {
                            error(
                                value_column,
                                format!(
                                    "`{value}` is no state (waiting, prioritized, active, delayed, completed, failed, waiting-children, paused)"
                                ),
                            )
                        })?;
                    if query.state.is_some_and(|s| s != state) {
                        return Err(error(column, "a second, different `state:`"));
                    }
                    query.state = Some(state);
                }
                "failed" => query.failed = Some(value.to_lowercase()),
                "returned" => query.returned = Some(value.to_lowercase()),
                data if data.starts_with("data.") => {
                    let path: Vec<String> = data["data.".len()..]
                        .split('.')
                        .map(str::to_owned)
                        .collect();
                    if path.iter().any(String::is_empty) {
                        return Err(error(column + 5, "an empty segment in the data path"));
                    }
                    query.data.push((path, value.to_lowercase()));
                }
                other => {
                    return Err(error(
                        column,
                        format!(
                            "unknown qualifier `{other}:` (known: id, name, state, data.<path>, failed, returned)"
                        ),
                    ))
                }
            }
        }
        Ok(query)
    }

    /// The query as the search script reads it (`lua/search.lua`): glob values as anchored Lua
    /// patterns, the redacted paths alongside. Absent terms are left out (a JSON `null` would
    /// be a true value in Lua).
    pub fn to_script(&self, redactor: &Redactor) -> String {
        let mut script = json!({
            "data": self.data.iter().map(|(path, value)| json!({"path": path, "pattern": lua_glob(value)})).collect::<Vec<_>>(),
            "free": self.free,
            "redact": redactor.paths(),
        });
        for (name, value) in [
            ("id", self.id.clone()),
            ("name", self.name.as_deref().map(lua_glob)),
            ("failed", self.failed.clone()),
            ("returned", self.returned.clone()),
        ] {
            if let Some(value) = value {
                script[name] = json!(value);
            }
        }
        script.to_string()
    }
}

/// The raw text of each word (quotes kept), in order.
fn raw_positions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if quoted {
            word.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
            }
        } else if c.is_whitespace() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
        } else {
            if c == '"' {
                quoted = true;
            }
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A glob (`*` = any run) as an anchored Lua pattern; every other character literal.
fn lua_glob(glob: &str) -> String {
    let mut pattern = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => pattern.push_str(".-"),
            '^' | '$' | '(' | ')' | '%' | '.' | '[' | ']' | '+' | '-' | '?' => {
                pattern.push('%');
                pattern.push(c);
            }
            other => pattern.push(other),
        }
    }
    pattern.push('$');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        match Query::parse(text) {
            Err(AppError::BadRequest(message)) => message,
            other => panic!("{text}: expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn qualifiers_quotes_and_free_text() {
        let query = Query::parse(
            r#"name:send* state:failed data.user.email:"Ann@X.io" failed:"ECONN refused" timeout "a:b""#,
        )
        .expect("valid");
        assert_eq!(query.name.as_deref(), Some("send*"));
        assert_eq!(query.state, Some(JobState::Failed));
        assert_eq!(
            query.data,
            vec![(vec!["user".into(), "email".into()], "ann@x.io".into())]
        );
        assert_eq!(query.failed.as_deref(), Some("econn refused"));
        assert_eq!(query.free, vec!["timeout".to_owned(), "a:b".to_owned()]);
        assert_eq!(
            Query::parse("id:42").expect("valid").id.as_deref(),
            Some("42")
        );
        assert_eq!(
            Query::parse(r#"data.a:"say \"hi\"""#).expect("valid").data[0].1,
            "say \"hi\""
        );
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(
            message(r#"name:x failed:"oops"#),
            "search: the quote opened here is not closed at column 15"
        );
        assert!(message("colour:red").contains("unknown qualifier `colour:` (known:"));
        assert!(message("colour:red").ends_with("at column 1"));
        assert!(message("state:sleeping").contains("`sleeping` is no state"));
        assert!(message("name: x").contains("`name:` needs a value at column 6"));
        assert!(message("data..a:1").contains("empty segment"));
        assert!(message("state:failed state:completed").contains("second, different"));
        assert!(message(&"x".repeat(1001)).contains("at most 1000"));
    }

    #[test]
    fn globs_become_anchored_literal_lua_patterns() {
        assert_eq!(lua_glob("send*"), "^send.-$");
        assert_eq!(lua_glob("a.b%c"), "^a%.b%%c$");
    }
}

//! One page of a state's jobs, in one round trip (`lua/page.lua`): members and order as BullMQ's
//! `getJobs([state], start, end, asc)`, a summary per job, the state's total, and a cursor.
//!
//! The cursor names the last job shown (and its score, or its position in a list): the next
//! page starts right after that job wherever it is now, so jobs that workers add or remove
//! elsewhere in the state neither repeat nor get skipped. When that job itself has left, a
//! sorted set continues after its score; a list at its old position (a list's jobs leave from
//! its tail, oldest first, so a page of newer jobs loses nothing it has not shown).

use super::{script, state_keys, summary_from_row, text, Kind, Reader, COMMON, PREVIEW_BYTES};
use crate::model::{JobPage, JobState, ListOrder};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use fred::prelude::*;
use fred::types::scripts::Script;
use std::sync::LazyLock;

static PAGE: LazyLock<Script> = LazyLock::new(|| script(&[COMMON, include_str!("lua/page.lua")]));

/// Where a page starts: the last job shown before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Which of the state's keys (1-based).
    pub segment: u32,
    /// Its score (sorted sets) or position (lists).
    pub at: String,
    pub member: String,
}

impl Cursor {
    /// The opaque text clients pass back: hex of `segment\nat\nmember`, so any job id travels
    /// safely in a URL.
    pub fn encode(&self) -> String {
        let raw = format!("{}\n{}\n{}", self.segment, self.at, self.member);
        let mut out = String::with_capacity(1 + raw.len() * 2);
        out.push('c');
        for byte in raw.bytes() {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }

    /// Reads a cursor this server gave; anything else is a 400.
    pub fn decode(text: &str) -> Result<Cursor, AppError> {
        let bad = || {
            AppError::BadRequest(
                "cursor is not one this server gave (pass `nextCursor` back as it is)".into(),
            )
        };
        let hex = text.strip_prefix('c').ok_or_else(bad)?;
        if hex.len() % 2 != 0 || hex.len() > 2_048 {
            return Err(bad());
        }
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let raw = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = raw.splitn(3, '\n');
        let segment: u32 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let at = parts.next().ok_or_else(bad)?.to_owned();
        let member = parts.next().ok_or_else(bad)?.to_owned();
        if !(1..=2).contains(&segment) || at.parse::<f64>().is_err() || member.is_empty() {
            return Err(bad());
        }
        Ok(Cursor {
            segment,
            at,
            member,
        })
    }
}

/// Which page.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub state: JobState,
    pub order: ListOrder,
    pub limit: u64,
    pub cursor: Option<Cursor>,
}

/// A page of `queue`: at most `limit` jobs of `state` after `cursor`, in `order`.
pub async fn page(
    reader: Reader<'_>,
    queue: &QueueInfo,
    request: &PageRequest,
) -> Result<JobPage, AppError> {
    let Reader {
        pool,
        prefix,
        redactor,
    } = reader;
    let PageRequest {
        state,
        order,
        limit,
        ref cursor,
    } = *request;
    let cursor = cursor.as_ref();
    let keys = QueueKeys::new(prefix, &queue.name);
    let (kind, state_keys) = state_keys(&keys, queue, state)?;
    if cursor.is_some_and(|c| c.segment as usize > state_keys.len()) {
        return Err(AppError::BadRequest(
            "cursor is not one this server gave (pass `nextCursor` back as it is)".into(),
        ));
    }
    let reply: Value = PAGE
        .evalsha_with_reload(
            pool.next(),
            state_keys,
            vec![
                keys.base().to_owned(),
                kind.as_str().to_owned(),
                order.as_str().to_owned(),
                limit.to_string(),
                cursor.map(|c| c.segment.to_string()).unwrap_or_default(),
                cursor.map(|c| c.member.clone()).unwrap_or_default(),
                cursor.map(|c| c.at.clone()).unwrap_or_default(),
                PREVIEW_BYTES.to_string(),
            ],
        )
        .await?;
    let Value::Array(parts) = reply else {
        return Err(AppError::Internal(
            "unexpected reply from the page script".into(),
        ));
    };
    let total = parts.first().and_then(Value::as_u64).unwrap_or(0);
    let rows = match parts.get(1) {
        Some(Value::Array(rows)) => rows.as_slice(),
        _ => &[],
    };
    let jobs = rows
        .iter()
        .filter_map(|row| match row {
            Value::Array(row) => Some(row),
            _ => None,
        })
        .map(|row| {
            let score = (kind == Kind::Zset)
                .then(|| super::number(row.get(2)))
                .flatten();
            summary_from_row(
                text(row.get(1)),
                state,
                score,
                row.get(3..).unwrap_or(&[]),
                redactor,
            )
        })
        .collect();
    let next_cursor = match parts.get(2) {
        Some(Value::Array(next)) if next.len() == 3 => Some(
            Cursor {
                segment: text(next.first()).parse().unwrap_or(1),
                at: text(next.get(2)),
                member: text(next.get(1)),
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(JobPage {
        jobs,
        total,
        next_cursor,
    })
}

static PRIORITIES: LazyLock<Script> =
    LazyLock::new(|| script(&[include_str!("lua/priorities.lua")]));

/// The most distinct priorities one histogram lists.
pub const MAX_PRIORITIES: u64 = 1000;

/// Ready jobs per priority (0: the `wait` list), lowest number (first to run) first: one
/// `ZCOUNT` per distinct priority, in one script.
pub async fn priorities(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
) -> Result<crate::model::Priorities, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let reply: Vec<u64> = PRIORITIES
        .evalsha_with_reload(
            pool.next(),
            vec![keys.wait(), keys.prioritized()],
            vec![MAX_PRIORITIES.to_string()],
        )
        .await?;
    let (truncated, pairs) = reply
        .split_first()
        .map_or((false, &[][..]), |(t, rest)| (*t == 1, rest));
    Ok(crate::model::Priorities {
        priorities: pairs
            .chunks(2)
            .filter(|pair| pair.len() == 2)
            .map(|pair| crate::model::PriorityCount {
                priority: pair[0],
                count: pair[1],
            })
            .collect(),
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_any_job_id_and_refuse_anything_else() {
        let cursor = Cursor {
            segment: 2,
            at: "1764312345678".into(),
            member: "repeat:a b/c:1\u{e9}".into(),
        };
        let text = cursor.encode();
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()), "{text}");
        assert_eq!(Cursor::decode(&text).expect("valid"), cursor);
        for bad in [
            "",
            "x",
            "c0",
            "czz",
            "c6162",
            &format!("c{}", "00".repeat(1100)),
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }
}

//! Alert state: what each evaluation changes (`step`, plain code) and where it lives in Redis
//! (`Store`), so a restart or a failover neither sends an alert again nor loses one.
//!
//! Keys, one hash slot (`<MONITOR_PREFIX>:{alerts:<prefix>}:…`): `lease` (the evaluating
//! instance), `active` (fingerprint → the alert, pending or firing), `resolved` (the latest
//! resolved, newest first), `outbox:<channel>` (notifications not yet delivered, oldest
//! first), `retry` (per channel: the head's attempts and when to try again), `deliveries` (the
//! delivery log, newest first). An evaluation's changes and its notifications are written by
//! one script that first checks the lease: an instance that lost it changes nothing.

use super::eval::{annotations, fingerprint, labels, Finding};
use super::rules::{Channel, Rule, RuleSet};
use crate::model::alerts::{Alert, AlertStatus, ChannelKind, Delivery};
use crate::ssr::clock::rfc3339_u64;
use crate::ssr::error::AppError;
use fred::prelude::*;
use fred::types::scripts::Script;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use std::time::Duration;

/// How often a firing alert is sent again to an Alertmanager (it resolves an alert nobody
/// re-sent within its `resolve_timeout`, 5 minutes by default).
pub const ALERTMANAGER_RESEND: Duration = Duration::from_secs(60);
/// Resolved alerts kept for `GET /alerts`.
const KEEP_RESOLVED: i64 = 100;
/// Delivery attempts kept for `GET /alerts/deliveries`.
const KEEP_DELIVERIES: i64 = 500;

/// An alert as kept in Redis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub fingerprint: String,
    pub rule: String,
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Epoch ms.
    pub active_since: u64,
    pub starts_at: Option<u64>,
    pub ends_at: Option<u64>,
    pub value: f64,
    /// Per channel, when it was last notified of this alert firing (epoch ms).
    #[serde(default)]
    pub sent: BTreeMap<String, u64>,
}

impl Record {
    /// As the API and the payloads show it.
    pub fn alert(&self, dashboard: Option<&str>) -> Alert {
        Alert {
            fingerprint: self.fingerprint.clone(),
            status: self.status,
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            active_since: rfc3339_u64(self.active_since),
            starts_at: self.starts_at.map(rfc3339_u64),
            ends_at: self.ends_at.map(rfc3339_u64),
            value: self.value,
            generator_url: generator_url(dashboard, self.labels.get("queue").map(String::as_str)),
            silenced_by: None,
        }
    }
}

/// A link into the dashboard (the queue's page for a per-queue alert).
pub fn generator_url(dashboard: Option<&str>, queue: Option<&str>) -> String {
    let base = dashboard.unwrap_or("");
    match queue {
        Some(queue) => {
            let mut encoded = String::new();
            for byte in queue.bytes() {
                match byte {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        encoded.push(char::from(byte))
                    }
                    other => encoded.push_str(&format!("%{other:02X}")),
                }
            }
            format!("{base}/?queue={encoded}")
        }
        None => format!("{base}/"),
    }
}

/// A notification waiting in a channel's outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub id: String,
    pub channel: String,
    /// `firing`, `resolved` or `test`.
    pub kind: String,
    pub alerts: Vec<Alert>,
}

/// A silence as kept in Redis (the `silences` hash, by id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceRecord {
    pub id: String,
    pub matchers: BTreeMap<String, String>,
    /// Epoch ms.
    pub starts_at: u64,
    pub ends_at: u64,
    pub comment: String,
    pub created_by: String,
}

impl SilenceRecord {
    /// Whether it holds back the notifications of an alert with `labels` at `now`.
    pub fn covers(&self, labels: &BTreeMap<String, String>, now: u64) -> bool {
        (self.starts_at..self.ends_at).contains(&now)
            && self
                .matchers
                .iter()
                .all(|(key, value)| labels.get(key) == Some(value))
    }

    pub fn view(&self, now: u64) -> crate::model::alerts::Silence {
        crate::model::alerts::Silence {
            id: self.id.clone(),
            matchers: self.matchers.clone(),
            starts_at: rfc3339_u64(self.starts_at),
            ends_at: rfc3339_u64(self.ends_at),
            comment: self.comment.clone(),
            created_by: self.created_by.clone(),
            active: (self.starts_at..self.ends_at).contains(&now),
        }
    }
}

/// Ended silences are kept this long (listed, then forgotten).
const KEEP_ENDED_SILENCES_MS: u64 = 7 * 86_400_000;

/// What one evaluation changes.
#[derive(Debug, Default)]
pub struct Step {
    pub upserts: Vec<Record>,
    pub deletes: Vec<String>,
    pub resolved: Vec<Record>,
    pub notices: Vec<Notice>,
}

/// The next state from what holds now (`found`), what Redis held (`held`) and the time.
/// `judged` is false when the snapshot could not be read: per-queue alerts then keep their
/// state (nothing is known about them).
pub fn step(
    rules: &RuleSet,
    prefix: &str,
    found: &[Finding],
    held: &HashMap<String, Record>,
    silences: &[SilenceRecord],
    now: u64,
    judged: bool,
) -> Step {
    let mut out = Step::default();
    // (channel, kind) → alerts, in the order they came.
    let mut groups: Vec<((String, String), Vec<Record>)> = Vec::new();
    let mut notify = |channel: &str, kind: &str, record: &Record| {
        let key = (channel.to_owned(), kind.to_owned());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, records)) => records.push(record.clone()),
            None => groups.push((key, vec![record.clone()])),
        }
    };
    let mut wanted: HashMap<String, ()> = HashMap::new();
    for finding in found {
        let rule = &rules.rules[finding.rule];
        let queue = finding.queue.as_deref();
        let mut labels = labels(rule, queue, prefix);
        labels.extend(finding.extra.clone());
        let print = fingerprint(&labels);
        wanted.insert(print.clone(), ());
        let mut record = match held.get(&print) {
            Some(record) => record.clone(),
            None => Record {
                fingerprint: print.clone(),
                rule: rule.name.clone(),
                status: AlertStatus::Pending,
                labels,
                annotations: BTreeMap::new(),
                active_since: now,
                starts_at: None,
                ends_at: None,
                value: finding.value,
                sent: BTreeMap::new(),
            },
        };
        record.value = finding.value;
        record.annotations = annotations(rule, queue, finding.value);
        let hold = u64::try_from(rule.hold.as_millis()).unwrap_or(u64::MAX);
        if record.status == AlertStatus::Pending && now.saturating_sub(record.active_since) >= hold
        {
            record.status = AlertStatus::Firing;
            record.starts_at = Some(now);
        }
        // A silenced alert is not told; once the silence ends it is, as if it fired then.
        let silenced = silences.iter().any(|s| s.covers(&record.labels, now));
        if record.status == AlertStatus::Firing && !silenced {
            for channel in &rule.channels {
                let every = resend_every(rule, rules.channel(channel));
                let due = match record.sent.get(channel) {
                    None => true,
                    Some(last) => every.is_some_and(|every| now.saturating_sub(*last) >= every),
                };
                if due {
                    record.sent.insert(channel.clone(), now);
                    notify(channel, "firing", &record);
                }
            }
        }
        out.upserts.push(record);
    }
    for (print, record) in held {
        if wanted.contains_key(print) {
            continue;
        }
        let rule = rules.rules.iter().find(|r| r.name == record.rule);
        let per_queue = record.labels.contains_key("queue");
        if !judged && per_queue && rule.is_some() {
            continue;
        }
        out.deletes.push(print.clone());
        if record.status == AlertStatus::Firing {
            let mut ended = record.clone();
            ended.status = AlertStatus::Resolved;
            ended.ends_at = Some(now);
            // Those told it fired are told it resolved.
            for channel in ended.sent.keys() {
                if rules.channel(channel).is_some() {
                    notify(channel, "resolved", &ended);
                }
            }
            out.resolved.push(ended);
        }
    }
    for ((channel, kind), records) in groups {
        let alerts = records
            .iter()
            .map(|r| r.alert(rules.dashboard_url.as_deref()))
            .collect();
        out.notices.push(Notice {
            id: notice_id(&channel, &kind, now, &records),
            channel,
            kind,
            alerts,
        });
    }
    out
}

/// How often a firing alert is sent again on `channel` (`None`: once).
fn resend_every(rule: &Rule, channel: Option<&Channel>) -> Option<u64> {
    let repeat = rule.repeat.map(|r| r.as_millis() as u64);
    match channel.map(|c| c.kind) {
        Some(ChannelKind::Alertmanager) => {
            let resend = ALERTMANAGER_RESEND.as_millis() as u64;
            Some(repeat.map_or(resend, |r| r.min(resend)))
        }
        _ => repeat,
    }
}

fn notice_id(channel: &str, kind: &str, now: u64, records: &[Record]) -> String {
    let prints: Vec<&str> = records.iter().map(|r| r.fingerprint.as_str()).collect();
    fred::util::sha1_hash(&format!("{channel}\n{kind}\n{now}\n{}", prints.join(",")))[..16]
        .to_owned()
}

static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
-- Takes or keeps the evaluator's lease. KEYS: lease. ARGV: token, ms. Returns 1 when held.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
"#,
    )
});

static APPLY: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
-- One evaluation's changes, only while ARGV[1] holds the lease.
-- KEYS: lease, active, resolved. ARGV: token, keep resolved, then triples (op, a, b):
-- set (fingerprint, record), del (fingerprint, ''), done (record, ''), out (outbox key, notice).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
for i = 3, #ARGV, 3 do
  local op, a, b = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 'set' then
    redis.call('HSET', KEYS[2], a, b)
  elseif op == 'del' then
    redis.call('HDEL', KEYS[2], a)
  elseif op == 'done' then
    redis.call('LPUSH', KEYS[3], a)
  elseif op == 'out' then
    redis.call('RPUSH', a, b)
  end
end
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[2]) - 1)
return 1
"#,
    )
});

static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
-- A delivery attempt's end. KEYS: outbox, retry, deliveries. ARGV: channel, notice id,
-- delivery (JSON), keep deliveries, next attempt ('' when the notice is done: delivered or
-- given up), its attempt number, when (ms).
local head = redis.call('LINDEX', KEYS[1], 0)
if head and string.sub(head, 1, #ARGV[2] + 1) == ARGV[2] .. ' ' then
  if ARGV[5] == '' then
    redis.call('LPOP', KEYS[1])
    redis.call('HDEL', KEYS[2], ARGV[1])
  else
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[6] .. ' ' .. ARGV[7])
  end
end
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
return 1
"#,
    )
});

/// The alert keys of one monitor.
#[derive(Clone)]
pub struct Store {
    pub pool: Pool,
    base: String,
}

impl Store {
    pub fn new(pool: Pool, monitor_prefix: &str, prefix: &str) -> Store {
        Store {
            pool,
            base: crate::ssr::slots::slot_namespace(monitor_prefix, &format!("alerts:{prefix}")),
        }
    }

    /// Queues a notification outside an evaluation (the resolve of an outage told while Redis
    /// was away).
    pub async fn enqueue(&self, notice: &Notice) -> Result<(), AppError> {
        let _: () = self
            .pool
            .rpush(
                self.outbox(&notice.channel),
                format!("{} {}", notice.id, json(notice)),
            )
            .await?;
        Ok(())
    }

    /// Adds a resolved alert to the list `GET /alerts` shows.
    pub async fn push_resolved(&self, record: &Record) -> Result<(), AppError> {
        let key = self.key("resolved");
        let _: () = self.pool.lpush(&key, json(record)).await?;
        let _: () = self.pool.ltrim(&key, 0, KEEP_RESOLVED - 1).await?;
        Ok(())
    }

    /// Where the alert keys live (`<MONITOR_PREFIX>:{alerts:<prefix>}`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Notes what a playbook did (the latest 200 kept).
    pub async fn log_playbook(&self, run: &super::playbooks::PlaybookRun) -> Result<(), AppError> {
        let key = self.key("playbook-log");
        let _: () = self.pool.lpush(&key, json(run)).await?;
        let _: () = self.pool.ltrim(&key, 0, 199).await?;
        Ok(())
    }

    /// What the playbooks did, newest first.
    pub async fn playbook_runs(&self) -> Result<Vec<super::playbooks::PlaybookRun>, AppError> {
        let raw: Vec<String> = self.pool.lrange(self.key("playbook-log"), 0, -1).await?;
        Ok(raw
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect())
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.base)
    }

    fn outbox(&self, channel: &str) -> String {
        self.key(&format!("outbox:{channel}"))
    }

    /// Takes or keeps the lease: `true` while this token holds it.
    pub async fn claim(&self, token: &str, lease: Duration) -> Result<bool, AppError> {
        let held: i64 = CLAIM
            .evalsha_with_reload(
                self.pool.next(),
                vec![self.key("lease")],
                vec![token.to_owned(), lease.as_millis().to_string()],
            )
            .await?;
        Ok(held == 1)
    }

    /// Whether some instance evaluates now.
    pub async fn evaluating(&self) -> Result<bool, AppError> {
        Ok(self.pool.exists(self.key("lease")).await?)
    }

    /// The alerts pending or firing.
    pub async fn active(&self) -> Result<HashMap<String, Record>, AppError> {
        let raw: HashMap<String, String> = self.pool.hgetall(self.key("active")).await?;
        Ok(raw
            .into_iter()
            .filter_map(|(print, json)| Some((print, serde_json::from_str(&json).ok()?)))
            .collect())
    }

    /// The latest resolved, newest first.
    pub async fn resolved(&self) -> Result<Vec<Record>, AppError> {
        let raw: Vec<String> = self.pool.lrange(self.key("resolved"), 0, -1).await?;
        Ok(raw
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect())
    }

    /// Writes a step while `token` holds the lease: `false` when it no longer does.
    pub async fn apply(&self, token: &str, step: &Step) -> Result<bool, AppError> {
        let mut args = vec![token.to_owned(), KEEP_RESOLVED.to_string()];
        for record in &step.upserts {
            args.extend(["set".into(), record.fingerprint.clone(), json(record)]);
        }
        for print in &step.deletes {
            args.extend(["del".into(), print.clone(), String::new()]);
        }
        for record in &step.resolved {
            args.extend(["done".into(), json(record), String::new()]);
        }
        for notice in &step.notices {
            args.extend([
                "out".into(),
                self.outbox(&notice.channel),
                format!("{} {}", notice.id, json(notice)),
            ]);
        }
        let applied: i64 = APPLY
            .evalsha_with_reload(
                self.pool.next(),
                vec![self.key("lease"), self.key("active"), self.key("resolved")],
                args,
            )
            .await?;
        Ok(applied == 1)
    }

    /// Every silence not ended for more than a week (older ones are forgotten here).
    pub async fn silences(&self, now: u64) -> Result<Vec<SilenceRecord>, AppError> {
        let raw: HashMap<String, String> = self.pool.hgetall(self.key("silences")).await?;
        let mut kept = Vec::new();
        let mut forgotten = Vec::new();
        for (id, json) in raw {
            match serde_json::from_str::<SilenceRecord>(&json) {
                Ok(silence) if silence.ends_at + KEEP_ENDED_SILENCES_MS > now => kept.push(silence),
                _ => forgotten.push(id),
            }
        }
        if !forgotten.is_empty() {
            let _: () = self.pool.hdel(self.key("silences"), forgotten).await?;
        }
        kept.sort_by(|a, b| b.starts_at.cmp(&a.starts_at).then(a.id.cmp(&b.id)));
        Ok(kept)
    }

    pub async fn put_silence(&self, silence: &SilenceRecord) -> Result<(), AppError> {
        let _: () = self
            .pool
            .hset(self.key("silences"), (silence.id.as_str(), json(silence)))
            .await?;
        Ok(())
    }

    pub async fn silence(&self, id: &str) -> Result<Option<SilenceRecord>, AppError> {
        let raw: Option<String> = self.pool.hget(self.key("silences"), id).await?;
        Ok(raw.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// A channel's oldest undelivered notice, with its attempts so far and when the next may
    /// go (epoch ms).
    pub async fn next_notice(&self, channel: &str) -> Result<Option<(Notice, u32, u64)>, AppError> {
        let head: Option<String> = self.pool.lindex(self.outbox(channel), 0).await?;
        let Some(head) = head else {
            return Ok(None);
        };
        let Some((id, json)) = head.split_once(' ') else {
            return Ok(None);
        };
        let Ok(notice) = serde_json::from_str::<Notice>(json) else {
            // Not ours to read: dropped, so the channel is not blocked behind it.
            let _: () = self.pool.lpop(self.outbox(channel), None).await?;
            return Ok(None);
        };
        let retry: Option<String> = self.pool.hget(self.key("retry"), channel).await?;
        let (attempts, next) = retry
            .and_then(|r| {
                let mut parts = r.split(' ');
                (parts.next()? == id)
                    .then(|| Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?)))?
            })
            .unwrap_or((0, 0));
        Ok(Some((notice, attempts, next)))
    }

    /// Records an attempt: `retry_at` `None` when the notice is done with (delivered, or given
    /// up), else when to try again.
    pub async fn settle(
        &self,
        notice: &Notice,
        delivery: &Delivery,
        retry_at: Option<u64>,
    ) -> Result<(), AppError> {
        let _: i64 = SETTLE
            .evalsha_with_reload(
                self.pool.next(),
                vec![
                    self.outbox(&notice.channel),
                    self.key("retry"),
                    self.key("deliveries"),
                ],
                vec![
                    notice.channel.clone(),
                    notice.id.clone(),
                    serde_json::to_string(delivery).unwrap_or_default(),
                    KEEP_DELIVERIES.to_string(),
                    retry_at.map(|_| "retry".to_owned()).unwrap_or_default(),
                    delivery.attempt.to_string(),
                    retry_at.unwrap_or(0).to_string(),
                ],
            )
            .await?;
        Ok(())
    }

    /// Logs a delivery outside any outbox (a test notification).
    pub async fn log(&self, delivery: &Delivery) -> Result<(), AppError> {
        let key = self.key("deliveries");
        let _: () = self
            .pool
            .lpush(&key, serde_json::to_string(delivery).unwrap_or_default())
            .await?;
        let _: () = self.pool.ltrim(&key, 0, KEEP_DELIVERIES - 1).await?;
        Ok(())
    }

    /// The delivery log, newest first.
    pub async fn deliveries(&self) -> Result<Vec<Delivery>, AppError> {
        let raw: Vec<String> = self.pool.lrange(self.key("deliveries"), 0, -1).await?;
        Ok(raw
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect())
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::alerts::rules::SecretSource;

    fn set() -> RuleSet {
        RuleSet::parse(
            r#"
[settings]
dashboard_url = "https://mon.example"
[[channels]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9"
secret_env = "S"
[[channels]]
name = "am"
type = "alertmanager"
url = "http://127.0.0.1:9"
[[rules]]
name = "Backlog"
condition = { kind = "backlog", above = 1 }
for = "1m"
channels = ["hook", "am"]
"#,
            &|_: &SecretSource| Ok("k".into()),
        )
        .expect("rules")
    }

    fn held(step: &Step) -> HashMap<String, Record> {
        step.upserts
            .iter()
            .map(|r| (r.fingerprint.clone(), r.clone()))
            .collect()
    }

    #[test]
    fn pending_then_firing_once_then_resolved_once() {
        let rules = set();
        let found = [Finding {
            rule: 0,
            queue: Some("mail".into()),
            value: 5.0,
            extra: BTreeMap::new(),
        }];
        let t0 = 1_000_000;
        let first = step(&rules, "bull", &found, &HashMap::new(), &[], t0, true);
        assert_eq!(first.upserts[0].status, AlertStatus::Pending);
        assert!(first.notices.is_empty(), "not before `for`");
        let second = step(
            &rules,
            "bull",
            &found,
            &held(&first),
            &[],
            t0 + 30_000,
            true,
        );
        assert!(second.notices.is_empty());
        let fired = step(
            &rules,
            "bull",
            &found,
            &held(&second),
            &[],
            t0 + 60_000,
            true,
        );
        assert_eq!(fired.upserts[0].status, AlertStatus::Firing);
        let kinds: Vec<(&str, &str)> = fired
            .notices
            .iter()
            .map(|n| (n.channel.as_str(), n.kind.as_str()))
            .collect();
        assert_eq!(kinds, [("hook", "firing"), ("am", "firing")]);
        assert_eq!(
            fired.notices[0].alerts[0].generator_url,
            "https://mon.example/?queue=mail"
        );
        // Still firing: the webhook is not told again; the Alertmanager is, a minute later.
        let again = step(
            &rules,
            "bull",
            &found,
            &held(&fired),
            &[],
            t0 + 90_000,
            true,
        );
        assert!(again.notices.is_empty());
        let resent = step(
            &rules,
            "bull",
            &found,
            &held(&again),
            &[],
            t0 + 120_000,
            true,
        );
        assert_eq!(resent.notices.len(), 1);
        assert_eq!(resent.notices[0].channel, "am");
        // Unknown (Redis unreachable): kept as it is.
        let unknown = step(
            &rules,
            "bull",
            &[],
            &held(&resent),
            &[],
            t0 + 130_000,
            false,
        );
        assert!(unknown.deletes.is_empty() && unknown.notices.is_empty());
        // Gone: resolved once, to both channels.
        let gone = step(&rules, "bull", &[], &held(&resent), &[], t0 + 140_000, true);
        assert_eq!(gone.deletes.len(), 1);
        assert_eq!(gone.resolved[0].status, AlertStatus::Resolved);
        assert_eq!(gone.resolved[0].ends_at, Some(t0 + 140_000));
        assert_eq!(gone.notices.len(), 2);
        assert!(gone.notices.iter().all(|n| n.kind == "resolved"));
        // Silenced: firing, but nobody is told until the silence ends.
        let silence = SilenceRecord {
            id: "s1".into(),
            matchers: [("alertname".to_owned(), "Backlog".to_owned())].into(),
            starts_at: t0,
            ends_at: t0 + 100_000,
            comment: "deploy".into(),
            created_by: "ann".into(),
        };
        let quiet = step(
            &rules,
            "bull",
            &found,
            &held(&second),
            std::slice::from_ref(&silence),
            t0 + 60_000,
            true,
        );
        assert_eq!(quiet.upserts[0].status, AlertStatus::Firing);
        assert!(quiet.notices.is_empty() && quiet.upserts[0].sent.is_empty());
        let told = step(
            &rules,
            "bull",
            &found,
            &held(&quiet),
            std::slice::from_ref(&silence),
            t0 + 100_000,
            true,
        );
        assert_eq!(told.notices.len(), 2, "the silence ended: told now");
        let other = SilenceRecord {
            matchers: [("queue".to_owned(), "video".to_owned())].into(),
            ..silence
        };
        assert!(!other.covers(&quiet.upserts[0].labels, t0 + 60_000));
        // A pending alert that stops holding goes without a word.
        let brief = step(&rules, "bull", &[], &held(&first), &[], t0 + 10_000, true);
        assert_eq!((brief.deletes.len(), brief.notices.len()), (1, 0));
    }
}

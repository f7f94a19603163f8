//! Automated stuck-job resolution, opt-in: playbooks in the rules file say, per queue, what to
//! do with a job stuck longer than `stuck_for` **whose worker is gone** (no lock): move it back
//! to wait (what BullMQ's stalled check does) or fail it with a stated reason. Run by the
//! instance holding the alerts lease, after each evaluation, from the stuck report the
//! dashboard reads. The lock is checked in the same script that acts, so a job whose worker
//! still holds it is never touched; at most `max_per_hour` jobs per playbook and hour; every
//! action audited with the playbook's name. `dry_run` (the default) only reports what it would
//! do, once per job and hour.
//!
//! ```toml
//! [[playbooks]]
//! name = "RequeueDeadWorkers"
//! queues = ["mail"]              # or queue_pattern; default all
//! stuck_for = "15m"             # at least STUCK_AFTER_MS (the report lists no younger job)
//! action = "move_to_wait"       # or "fail" (with reason = "...")
//! max_per_hour = 60
//! dry_run = false               # the default is true: report only
//! ```

use super::rules::{duration, Scope};
use crate::model::StuckReport;
use crate::ssr::error::AppError;
use fred::prelude::*;
use fred::types::scripts::Script;
use serde::Deserialize;
use std::sync::LazyLock;
use std::time::Duration;

/// What a playbook does to a stuck job without a lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlaybookAction {
    /// Back to wait (or prioritized), its stalled counter raised, as BullMQ's stalled check.
    MoveToWait,
    /// Failed with this reason.
    Fail(String),
    /// A new job from it with these changes (the one-job retry with changes); the original
    /// failed, its reason naming the new job.
    RetryWithChanges(crate::model::RetryChanges),
}

/// A playbook, validated.
#[derive(Clone, Debug)]
pub struct Playbook {
    pub name: String,
    pub scope: Scope,
    pub stuck_for: Duration,
    pub action: PlaybookAction,
    pub max_per_hour: u64,
    pub dry_run: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlaybook {
    name: String,
    queues: Option<Vec<String>>,
    queue_pattern: Option<String>,
    stuck_for: String,
    action: String,
    reason: Option<String>,
    changes: Option<toml::Value>,
    max_per_hour: Option<u64>,
    dry_run: Option<bool>,
}

fn checked_cap(at: &str, max_per_hour: Option<u64>) -> Result<u64, String> {
    let max_per_hour = max_per_hour.unwrap_or(60);
    if !(1..=10_000).contains(&max_per_hour) {
        return Err(format!("{at}: max_per_hour must be from 1 to 10000"));
    }
    Ok(max_per_hour)
}

impl RawPlaybook {
    pub(super) fn validate(self, index: usize) -> Result<Playbook, String> {
        let at = format!("playbook {} (`{}`)", index + 1, self.name);
        if self.name.is_empty() || self.name.len() > 100 {
            return Err(format!("{at}: name must be 1 to 100 characters"));
        }
        let scope = Scope::from_fields(&at, self.queues, self.queue_pattern)?;
        let stuck_for = duration(&self.stuck_for).map_err(|e| format!("{at}: stuck_for: {e}"))?;
        if self.changes.is_some() && self.action != "retry_with_changes" {
            return Err(format!(
                "{at}: changes go with action retry_with_changes only"
            ));
        }
        if self.action == "retry_with_changes" {
            if self.reason.is_some() {
                return Err(format!("{at}: reason goes with action fail only"));
            }
            let changes = serde_json::to_value(
                self.changes
                    .unwrap_or(toml::Value::Table(Default::default())),
            )
            .map_err(|e| format!("{at}: changes: {e}"))?;
            let changes = crate::model::RetryChanges::from_value(changes)
                .map_err(|e| format!("{at}: changes: {e}"))?;
            return Ok(Playbook {
                name: self.name,
                scope,
                stuck_for,
                action: PlaybookAction::RetryWithChanges(changes),
                max_per_hour: checked_cap(&at, self.max_per_hour)?,
                dry_run: self.dry_run.unwrap_or(true),
            });
        }
        let action = match (self.action.as_str(), self.reason) {
            ("move_to_wait", None) => PlaybookAction::MoveToWait,
            ("move_to_wait", Some(_)) => {
                return Err(format!("{at}: reason goes with action fail only"))
            }
            ("fail", Some(reason)) if !reason.trim().is_empty() && reason.len() <= 500 => {
                PlaybookAction::Fail(reason)
            }
            ("fail", _) => {
                return Err(format!(
                    "{at}: action fail needs a reason (1 to 500 characters: the failedReason people will read)"
                ))
            }
            (other, _) => {
                return Err(format!(
                    "{at}: unknown action `{other}` (one of move_to_wait, fail, retry_with_changes)"
                ))
            }
        };
        Ok(Playbook {
            name: self.name,
            scope,
            stuck_for,
            action,
            max_per_hour: checked_cap(&at, self.max_per_hour)?,
            dry_run: self.dry_run.unwrap_or(true),
        })
    }
}

pub use crate::model::alerts::PlaybookRun;

impl Playbook {
    /// As `GET /alerts/playbooks` lists it.
    pub fn view(&self) -> crate::model::alerts::PlaybookView {
        crate::model::alerts::PlaybookView {
            name: self.name.clone(),
            queues: match &self.scope {
                Scope::All => None,
                Scope::Listed(names) => Some(names.join(", ")),
                Scope::Pattern(pattern) => Some(pattern.clone()),
            },
            stuck_for_seconds: self.stuck_for.as_secs(),
            action: match self.action {
                PlaybookAction::MoveToWait => "move_to_wait".into(),
                PlaybookAction::Fail(_) => "fail".into(),
                PlaybookAction::RetryWithChanges(_) => "retry_with_changes".into(),
            },
            reason: match &self.action {
                PlaybookAction::Fail(reason) => Some(reason.clone()),
                _ => None,
            },
            max_per_hour: self.max_per_hour,
            dry_run: self.dry_run,
        }
    }
}

static ACT: LazyLock<Script> = LazyLock::new(|| Script::from_lua(include_str!("lua/playbook.lua")));

/// The jobs of `report` each playbook takes now: (playbook index, queue, job id, stuck ms).
pub fn candidates(
    playbooks: &[Playbook],
    report: &StuckReport,
    stuck_after: Duration,
) -> Vec<(usize, String, String, u64)> {
    let mut out = Vec::new();
    for job in &report.jobs {
        if job.lock_held {
            continue;
        }
        // The first playbook that covers a job decides for it.
        if let Some(index) = playbooks.iter().position(|p| {
            p.scope.covers(&job.queue_name)
                && u128::from(job.stuck_duration) >= p.stuck_for.max(stuck_after).as_millis()
        }) {
            out.push((
                index,
                job.queue_name.clone(),
                job.job_id.clone(),
                job.stuck_duration,
            ));
        }
    }
    out
}

/// Acts on one job (or, for a dry run, says what it would do): the outcome word, `None` when
/// there is nothing to report (a dry run or a cap already reported for this job this hour).
/// The hourly cap and the dry runs' notes live in the alerts' keys (another hash slot than the
/// queue's, so apart from the script; only the lease holder runs playbooks).
pub async fn act(
    pool: &Pool,
    prefix: &str,
    alerts_base: &str,
    playbook: &Playbook,
    queue: &crate::ssr::bullmq::discovery::QueueInfo,
    job_id: &str,
    now: u64,
) -> Result<Option<String>, AppError> {
    let keys = crate::ssr::bullmq::keys::QueueKeys::new(prefix, &queue.name);
    let (action, reason) = match &playbook.action {
        PlaybookAction::MoveToWait => ("wait", String::new()),
        PlaybookAction::Fail(reason) => ("fail", reason.clone()),
        PlaybookAction::RetryWithChanges(_) => ("retry", String::new()),
    };
    let hour = now / 3_600_000;
    let cap_key = format!("{alerts_base}:playbook:{}:{hour}", playbook.name);
    let seen_key = format!(
        "{alerts_base}:playbook-seen:{}:{}:{job_id}",
        playbook.name, queue.name
    );
    let first_this_hour = || async {
        let set: Option<String> = pool
            .set(
                &seen_key,
                "1",
                Some(Expiration::EX(3600)),
                Some(SetOptions::NX),
                false,
            )
            .await?;
        Ok::<bool, AppError>(set.is_some())
    };
    if !playbook.dry_run {
        let used: u64 = pool.incr(&cap_key).await?;
        let _: () = pool.expire(&cap_key, 7200, None).await?;
        if used > playbook.max_per_hour {
            let _: () = pool.decr(&cap_key).await?;
            return Ok(first_this_hour().await?.then(|| "capped".to_owned()));
        }
    }
    if let (PlaybookAction::RetryWithChanges(changes), false) = (&playbook.action, playbook.dry_run)
    {
        let made =
            crate::ssr::bullmq::retry::retry_stuck(pool, prefix, queue, job_id, changes).await;
        let outcome = match made {
            Ok(Ok(new_id)) => return Ok(Some(format!("retried as {new_id}"))),
            Ok(Err(why)) => format!("skipped-{why}"),
            Err(error) => {
                let _: () = pool.decr(&cap_key).await?;
                return Err(error);
            }
        };
        let _: () = pool.decr(&cap_key).await?;
        return Ok(first_this_hour().await?.then_some(outcome));
    }
    let outcome: String = ACT
        .evalsha_with_reload(
            pool.next(),
            vec![keys.meta()],
            vec![
                keys.base().to_owned(),
                job_id.to_owned(),
                action.to_owned(),
                reason,
                now.to_string(),
                queue.bull_version().script_mode().to_owned(),
                if playbook.dry_run { "1" } else { "0" }.to_owned(),
            ],
        )
        .await?;
    let acted = matches!(outcome.as_str(), "moved" | "failed");
    if !playbook.dry_run && !acted {
        let _: () = pool.decr(&cap_key).await?;
    }
    if acted {
        return Ok(Some(outcome));
    }
    Ok(first_this_hour().await?.then_some(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Severity, StuckJob};

    fn job(queue: &str, id: &str, stuck: u64, lock: bool) -> StuckJob {
        StuckJob {
            job_id: id.into(),
            queue_name: queue.into(),
            job_name: "j".into(),
            stuck_duration: stuck,
            severity: Severity::Low,
            started_at: String::new(),
            data: serde_json::Value::Null,
            data_truncated: false,
            attempts_made: 0,
            lock_held: lock,
        }
    }

    #[test]
    fn only_lock_free_jobs_stuck_long_enough_in_scope() {
        let raw: RawPlaybook = toml::from_str(
            "name = \"p\"\nqueues = [\"mail\"]\nstuck_for = \"10m\"\naction = \"move_to_wait\"\n",
        )
        .expect("toml");
        let playbook = raw.validate(0).expect("valid");
        assert!(playbook.dry_run, "report only unless said");
        let report = StuckReport {
            jobs: vec![
                job("mail", "1", 11 * 60_000, false),
                job("mail", "2", 11 * 60_000, true),
                job("mail", "3", 5 * 60_000, false),
                job("video", "4", 60 * 60_000, false),
            ],
            ..Default::default()
        };
        let found = candidates(&[playbook], &report, Duration::from_secs(60));
        assert_eq!(found, [(0, "mail".to_owned(), "1".to_owned(), 11 * 60_000)]);
    }

    #[test]
    fn bad_playbooks_are_one_line() {
        for (text, needle) in [
            (
                "name = \"p\"\nstuck_for = \"10m\"\naction = \"fail\"\n",
                "needs a reason",
            ),
            (
                "name = \"p\"\nstuck_for = \"ten\"\naction = \"move_to_wait\"\n",
                "stuck_for",
            ),
            (
                "name = \"p\"\nstuck_for = \"1m\"\naction = \"retry\"\n",
                "unknown action",
            ),
            (
                "name = \"p\"\nstuck_for = \"1m\"\naction = \"move_to_wait\"\nmax_per_hour = 0\n",
                "max_per_hour",
            ),
        ] {
            let raw: RawPlaybook = toml::from_str(text).expect("toml");
            let error = raw.validate(0).expect_err(text);
            assert!(error.contains(needle) && !error.contains('\n'), "{error}");
        }
    }
}

//! Alerts that reach people: rules from `ALERTS_FILE`, judged by one instance at a time, their
//! state in Redis, notifications through webhooks (Alertmanager's payload, signed), Slack and
//! an Alertmanager.
//!
//! - [`rules`] — the file: channels, rules, validated at start (one-line errors).
//! - [`eval`] — which conditions hold, from the snapshot the live view reads (plain code).
//! - [`state`] — pending → firing → resolved (plain `step`), kept in Redis with each
//!   evaluation's notifications, written under the evaluator's lease.
//! - [`notify`] — payloads, signing, one delivery attempt.
//!
//! Every instance runs [`Alerting::spawn`]: the one holding the lease evaluates every
//! `ALERTS_INTERVAL` and delivers the outboxes (retries with back-off, each attempt in the
//! delivery log); the others wait to take over. A notification is removed from its outbox
//! only once delivered (or given up), so one that an instance was sending when it died is sent
//! by the next: at least once, and once in practice.

pub mod eval;
pub mod inputs;
pub mod notify;
pub mod outage;
pub mod playbooks;
pub mod rules;
pub mod state;

use crate::model::alerts::Delivery;
use crate::ssr::clock::{now_ms_u64, now_rfc3339};
use crate::ssr::config::Settings;
use crate::ssr::error::AppError;
use crate::ssr::state::AppState;
use rules::RuleSet;
use state::{Notice, Store};
use std::sync::Arc;
use std::time::Duration;

/// This instance's part in alerting.
#[derive(Clone)]
pub struct Alerting {
    pub rules: Arc<RuleSet>,
    pub store: Store,
    token: Arc<str>,
    http: reqwest::Client,
    prefix: String,
    interval: Duration,
    /// What this instance knows while Redis is away.
    outage: Arc<outage::Watch>,
}

impl Alerting {
    pub fn new(redis: fred::prelude::Pool, settings: &Settings, rules: Arc<RuleSet>) -> Alerting {
        Alerting {
            rules,
            store: Store::new(redis, &settings.monitor_prefix, &settings.prefix),
            token: Arc::from(crate::ssr::bulk::store::new_id()),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            prefix: settings.prefix.clone(),
            interval: settings.alerts_interval,
            outage: Arc::default(),
        }
    }

    /// How long the lease lives: three rounds, at least 5 s.
    fn lease(&self) -> Duration {
        (self.interval * 3).max(Duration::from_secs(5))
    }

    /// Evaluates and delivers while this instance holds the lease, until aborted.
    pub fn spawn(self, state: AppState) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(self.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = self.round(&state).await {
                    tracing::warn!(error.message = %error, "alerts: a round failed; retrying");
                }
            }
        })
    }

    async fn round(&self, state: &AppState) -> Result<(), AppError> {
        // Under the request deadline and the gate: with Redis away this fails at once (or
        // after `REDIS_TIMEOUT`), and the outage is told from memory (`outage`).
        let claimed = match state
            .within(self.store.claim(&self.token, self.lease()))
            .await
        {
            Ok(held) => held,
            Err(error) => {
                let now = now_ms_u64();
                self.outage
                    .down(&self.rules, &self.http, &self.prefix, now)
                    .await;
                return Err(error);
            }
        };
        if self.outage.quiet() {
            self.outage.held(claimed);
        } else {
            self.outage
                .back(&self.store, &self.rules, claimed, now_ms_u64())
                .await?;
        }
        if !claimed {
            return Ok(());
        }
        self.evaluate(state).await?;
        if !self.rules.playbooks.is_empty() {
            self.run_playbooks(state).await?;
        }
        self.deliver().await
    }

    /// One evaluation: what holds now, the step from what Redis held, written under the lease.
    async fn evaluate(&self, state: &AppState) -> Result<(), AppError> {
        let metrics = crate::ssr::service::reads::metrics(state).await;
        let judged = metrics.is_ok();
        let now = now_ms_u64();
        let extra = if judged {
            inputs::Inputs::read(state, &self.rules.rules, self.store.base(), now).await?
        } else {
            inputs::Inputs::default()
        };
        let seen = extra.observation(metrics.as_ref().ok(), now);
        let found = eval::evaluate(&self.rules.rules, &seen);
        let held = self.store.active().await?;
        let silences = self.store.silences(now).await?;
        let step = state::step(
            &self.rules,
            &self.prefix,
            &found,
            &held,
            &silences,
            now,
            judged,
        );
        if step.upserts.is_empty() && step.deletes.is_empty() && held.is_empty() {
            return Ok(());
        }
        self.store.apply(&self.token, &step).await?;
        Ok(())
    }

    /// The playbooks on the stuck jobs the stuck report lists (the same read as the dashboard's).
    async fn run_playbooks(&self, state: &AppState) -> Result<(), AppError> {
        let report = crate::ssr::service::reads::stuck_alerts(state, None).await?;
        let found =
            playbooks::candidates(&self.rules.playbooks, &report, state.settings.stuck_after);
        for (index, queue_name, job_id, stuck_ms) in found {
            let playbook = &self.rules.playbooks[index];
            let Ok(name) = crate::ssr::bullmq::keys::QueueName::parse(&queue_name) else {
                continue;
            };
            let Some(queue) = state.registry.find(&name).await? else {
                continue;
            };
            let now = now_ms_u64();
            let Some(outcome) = playbooks::act(
                &state.redis,
                &state.settings.prefix,
                self.store.base(),
                playbook,
                &queue,
                &job_id,
                now,
            )
            .await?
            else {
                continue;
            };
            let run = playbooks::PlaybookRun {
                at: now_rfc3339(),
                playbook: playbook.name.clone(),
                queue_name: queue_name.clone(),
                job_id: job_id.clone(),
                outcome: outcome.clone(),
                stuck_ms,
            };
            self.store.log_playbook(&run).await?;
            let audited = match outcome.as_str() {
                "moved" => Some("playbook-move-to-wait"),
                "failed" => Some("playbook-fail"),
                made if made.starts_with("retried as ") => Some("playbook-retry-with-changes"),
                _ => None,
            };
            if let Some(action) = audited {
                state.reads.forget().await;
                state.snapshots.clear();
                let entry = crate::ssr::audit::Action {
                    principal: crate::ssr::auth::Principal {
                        subject: format!("playbook:{}", playbook.name),
                        role: crate::role::Role::Admin,
                        expires_at: 0,
                        token_id: String::new(),
                    },
                    action,
                    queue: queue_name,
                    job_id: Some(job_id),
                    params: serde_json::json!({"playbook": playbook.name, "stuckMs": stuck_ms}),
                    result: serde_json::json!({"outcome": outcome}),
                };
                crate::ssr::audit::record(&state.redis, &state.settings.monitor_prefix, entry)
                    .await;
            }
        }
        Ok(())
    }

    /// Sends each channel's oldest notice that is due; a channel waiting for a retry does not
    /// hold the others up.
    async fn deliver(&self) -> Result<(), AppError> {
        for channel in &self.rules.channels {
            // Several notices per round and channel, while they go through.
            for _ in 0..20 {
                let Some((notice, attempts, next_at)) =
                    self.store.next_notice(&channel.name).await?
                else {
                    break;
                };
                if next_at > now_ms_u64() {
                    break;
                }
                let attempt = attempts + 1;
                let outcome = notify::send(&self.http, channel, &notice, self.external_url()).await;
                let (delivery, retry_at) = record(&notice, attempt, &outcome);
                self.store.settle(&notice, &delivery, retry_at).await?;
                if retry_at.is_some() {
                    break;
                }
            }
        }
        Ok(())
    }

    fn external_url(&self) -> &str {
        self.rules.dashboard_url.as_deref().unwrap_or("")
    }

    /// Sends a test notification through `channel` now (one attempt), logged.
    pub async fn test(&self, channel: &str, by: &str) -> Result<Delivery, AppError> {
        let channel = self.rules.channel(channel).ok_or_else(|| {
            AppError::NotFound(format!(
                "no channel `{}` in the rules file (GET /alerts/rules lists them)",
                channel.chars().take(100).collect::<String>()
            ))
        })?;
        let mut labels = std::collections::BTreeMap::new();
        labels.insert("alertname".to_owned(), "MonitorTest".to_owned());
        labels.insert("severity".to_owned(), "info".to_owned());
        labels.insert("prefix".to_owned(), self.prefix.clone());
        let mut annotations = std::collections::BTreeMap::new();
        annotations.insert(
            "summary".to_owned(),
            format!("Test notification sent by {by}: this channel works."),
        );
        let now = now_rfc3339();
        let alert = crate::model::alerts::Alert {
            fingerprint: eval::fingerprint(&labels),
            status: crate::model::alerts::AlertStatus::Firing,
            labels,
            annotations,
            active_since: now.clone(),
            starts_at: Some(now),
            ends_at: None,
            value: 0.0,
            generator_url: state::generator_url(self.rules.dashboard_url.as_deref(), None),
            silenced_by: None,
        };
        let notice = Notice {
            id: crate::ssr::bulk::store::new_id(),
            channel: channel.name.clone(),
            kind: "test".into(),
            alerts: vec![alert],
        };
        let outcome = notify::send(&self.http, channel, &notice, self.external_url()).await;
        let (mut delivery, _) = record(&notice, 1, &outcome);
        if delivery.outcome == "retrying" {
            // A test is one attempt: its failure is final.
            delivery.outcome = "failed".into();
        }
        self.store.log(&delivery).await?;
        Ok(delivery)
    }
}

/// The delivery log's entry for an attempt, and when to try again (`None`: done with).
fn record(notice: &Notice, attempt: u32, outcome: &notify::Outcome) -> (Delivery, Option<u64>) {
    use notify::Outcome;
    let (outcome_word, status, error, retry_at) = match outcome {
        Outcome::Delivered(status) => ("delivered", Some(*status), None, None),
        Outcome::Refused(status, why) => ("failed", Some(*status), Some(why.clone()), None),
        Outcome::Retry(status, why) if attempt >= notify::MAX_ATTEMPTS => (
            "failed",
            *status,
            Some(format!("{why}; gave up after {attempt} attempts")),
            None,
        ),
        Outcome::Retry(status, why) => (
            "retrying",
            *status,
            Some(why.clone()),
            Some(now_ms_u64() + notify::retry_delay(attempt).as_millis() as u64),
        ),
    };
    (
        Delivery {
            at: now_rfc3339(),
            channel: notice.channel.clone(),
            notification: notice.id.clone(),
            kind: notice.kind.clone(),
            alerts: notice.alerts.len() as u64,
            outcome: outcome_word.into(),
            attempt,
            http_status: status,
            error,
        },
        retry_at,
    )
}

//! Alerts: `GET /alerts` and `/alerts/rules`, `/alerts/deliveries` (MODERATOR), `POST
//! /alerts/test` (ADMIN, audited). Without a rules file the reads answer empty lists (and
//! say so: `source` null), the test 404.

use crate::model::alerts::{
    AlertStatus, AlertsReply, ChannelKind, ChannelView, DeliveriesReply, Delivery, RulesReply,
    Silence, SilenceRequest, SilencesReply, TestRequest,
};
use crate::ssr::alerts::eval::severity_rank;
use crate::ssr::alerts::rules::shown_url;
use crate::ssr::alerts::state::SilenceRecord;
use crate::ssr::auth::Principal;
use crate::ssr::error::AppError;
use crate::ssr::state::AppState;

/// `GET /alerts/rules`.
pub fn rules(state: &AppState) -> RulesReply {
    let Some(alerting) = &state.alerting else {
        return RulesReply::default();
    };
    let rules = &alerting.rules;
    RulesReply {
        source: rules.source.clone(),
        rules: rules.views(),
        channels: rules
            .channels
            .iter()
            .map(|channel| ChannelView {
                name: channel.name.clone(),
                kind: channel.kind,
                url: shown_url(channel),
                signed: channel.kind == ChannelKind::Webhook && channel.secret.is_some(),
            })
            .collect(),
    }
}

/// `GET /alerts`: active (firing first, most severe first), then the latest resolved.
pub async fn alerts(state: &AppState) -> Result<AlertsReply, AppError> {
    let Some(alerting) = &state.alerting else {
        return Ok(AlertsReply::default());
    };
    let dashboard = alerting.rules.dashboard_url.as_deref();
    state
        .within(async {
            let now = crate::ssr::clock::now_ms_u64();
            let silences = alerting.store.silences(now).await?;
            let mut active: Vec<_> = alerting
                .store
                .active()
                .await?
                .into_values()
                .map(|record| {
                    let mut alert = record.alert(dashboard);
                    alert.silenced_by = silences
                        .iter()
                        .find(|s| s.covers(&record.labels, now))
                        .map(|s| s.id.clone());
                    alert
                })
                .collect();
            active.sort_by(|a, b| {
                let rank = |alert: &crate::model::alerts::Alert| {
                    (
                        alert.status != AlertStatus::Firing,
                        severity_rank(alert.labels.get("severity").map_or("", String::as_str)),
                        alert.active_since.clone(),
                        alert.fingerprint.clone(),
                    )
                };
                rank(a).cmp(&rank(b))
            });
            let resolved = alerting
                .store
                .resolved()
                .await?
                .iter()
                .map(|record| record.alert(dashboard))
                .collect();
            Ok(AlertsReply {
                firing: active
                    .iter()
                    .filter(|a| a.status == AlertStatus::Firing)
                    .count() as u64,
                active,
                resolved,
                evaluating: alerting.store.evaluating().await?,
                silences: silences
                    .iter()
                    .map(|s| s.view(now))
                    .filter(|s| s.active)
                    .collect(),
                rules: alerting
                    .rules
                    .rules
                    .iter()
                    .map(|rule| (rule.name.clone(), rule.condition_text()))
                    .collect(),
            })
        })
        .await
}

/// How many alerts fire (the dashboard's header).
pub async fn firing(state: &AppState) -> Result<crate::model::alerts::Firing, AppError> {
    let Some(alerting) = &state.alerting else {
        return Ok(crate::model::alerts::Firing::default());
    };
    state
        .within(async {
            let active = alerting.store.active().await?;
            let firing: Vec<_> = active
                .values()
                .filter(|record| record.status == AlertStatus::Firing)
                .collect();
            Ok(crate::model::alerts::Firing {
                configured: true,
                firing: firing.len() as u64,
                critical: firing
                    .iter()
                    .filter(|r| r.labels.get("severity").map(String::as_str) == Some("critical"))
                    .count() as u64,
            })
        })
        .await
}

/// Firing alerts per `severity` label (`info`, `warning`, `critical`, each present), for the
/// Prometheus exposition; `None` without alert rules. One read of the active alerts.
pub async fn firing_by_severity(
    state: &AppState,
) -> Result<Option<std::collections::BTreeMap<String, u64>>, AppError> {
    let Some(alerting) = &state.alerting else {
        return Ok(None);
    };
    let active = state.within(alerting.store.active()).await?;
    let mut counts: std::collections::BTreeMap<String, u64> = ["info", "warning", "critical"]
        .into_iter()
        .map(|severity| (severity.to_owned(), 0))
        .collect();
    for record in active
        .values()
        .filter(|record| record.status == AlertStatus::Firing)
    {
        let severity = record.labels.get("severity").cloned().unwrap_or_default();
        *counts.entry(severity).or_default() += 1;
    }
    Ok(Some(counts))
}

fn alerting(state: &AppState) -> Result<&crate::ssr::alerts::Alerting, AppError> {
    state
        .alerting
        .as_ref()
        .ok_or_else(|| AppError::NotFound("no alert rules are configured (set ALERTS_FILE)".into()))
}

/// `GET /alerts/silences`: in force first, then those ended in the last week.
pub async fn silences(state: &AppState) -> Result<SilencesReply, AppError> {
    let Some(alerting) = &state.alerting else {
        return Ok(SilencesReply::default());
    };
    let now = crate::ssr::clock::now_ms_u64();
    state
        .within(async {
            let mut silences: Vec<_> = alerting
                .store
                .silences(now)
                .await?
                .iter()
                .map(|s| s.view(now))
                .collect();
            silences.sort_by_key(|s| !s.active);
            Ok(SilencesReply { silences })
        })
        .await
}

/// The longest a silence may last.
const MAX_SILENCE: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);

/// `POST /alerts/silences` (ADMIN, audited): holds back the notifications of the alerts whose
/// labels hold every matcher, from now for `duration`.
pub async fn add_silence(
    state: &AppState,
    principal: &Principal,
    request: &SilenceRequest,
) -> Result<Silence, AppError> {
    let alerting = alerting(state)?;
    if request.matchers.is_empty() {
        return Err(AppError::BadRequest(
            "matchers is empty: name at least one label (e.g. {\"alertname\": \"MailBacklog\"}); a silence of everything is refused".into(),
        ));
    }
    for (key, value) in &request.matchers {
        if key.is_empty() || key.len() > 100 || value.len() > 200 {
            return Err(AppError::BadRequest(
                "a matcher's label is 1 to 100 characters, its value at most 200".into(),
            ));
        }
    }
    let duration = crate::ssr::alerts::rules::duration(&request.duration)
        .map_err(|e| AppError::BadRequest(format!("duration: {e}")))?;
    if duration.is_zero() || duration > MAX_SILENCE {
        return Err(AppError::BadRequest(
            "duration must be more than 0 and at most 90d".into(),
        ));
    }
    let comment = request.comment.trim();
    if comment.is_empty() || comment.chars().count() > 500 {
        return Err(AppError::BadRequest(
            "comment is required (why, for the next person on call), at most 500 characters".into(),
        ));
    }
    let now = crate::ssr::clock::now_ms_u64();
    let record = SilenceRecord {
        id: crate::ssr::bulk::store::new_id(),
        matchers: request.matchers.clone(),
        starts_at: now,
        ends_at: now + duration.as_millis() as u64,
        comment: comment.to_owned(),
        created_by: principal.subject.clone(),
    };
    state.within(alerting.store.put_silence(&record)).await?;
    audit_silence(state, principal, "alert-silence", &record).await;
    Ok(record.view(now))
}

/// `DELETE /alerts/silences/{id}` (ADMIN, audited): ends it now.
pub async fn end_silence(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Silence, AppError> {
    let alerting = alerting(state)?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest(
            "a silence id is 16 hex digits (GET /alerts/silences lists them)".into(),
        ));
    }
    let now = crate::ssr::clock::now_ms_u64();
    let mut record = state
        .within(alerting.store.silence(id))
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no silence `{id}`")))?;
    if record.ends_at <= now {
        return Err(AppError::Conflict(format!(
            "silence `{id}` has ended already"
        )));
    }
    record.ends_at = now;
    state.within(alerting.store.put_silence(&record)).await?;
    audit_silence(state, principal, "alert-unsilence", &record).await;
    Ok(record.view(now))
}

async fn audit_silence(
    state: &AppState,
    principal: &Principal,
    action: &'static str,
    silence: &SilenceRecord,
) {
    let entry = crate::ssr::audit::Action {
        principal: principal.clone(),
        action,
        queue: silence.matchers.get("queue").cloned().unwrap_or_default(),
        job_id: None,
        params: serde_json::json!({
            "silenceId": silence.id,
            "matchers": silence.matchers,
            "endsAt": crate::ssr::clock::rfc3339_u64(silence.ends_at),
            "comment": silence.comment.chars().take(200).collect::<String>(),
        }),
        result: serde_json::json!({"ok": true}),
    };
    crate::ssr::audit::record(&state.redis, &state.settings.monitor_prefix, entry).await;
}

/// `GET /alerts/playbooks`: the playbooks and what they did.
pub async fn playbooks(state: &AppState) -> Result<crate::model::alerts::PlaybooksReply, AppError> {
    let Some(alerting) = &state.alerting else {
        return Ok(Default::default());
    };
    state
        .within(async {
            Ok(crate::model::alerts::PlaybooksReply {
                playbooks: alerting.rules.playbooks.iter().map(|p| p.view()).collect(),
                runs: alerting.store.playbook_runs().await?,
            })
        })
        .await
}

/// `GET /alerts/deliveries`: every attempt, newest first.
pub async fn deliveries(state: &AppState) -> Result<DeliveriesReply, AppError> {
    let Some(alerting) = &state.alerting else {
        return Ok(DeliveriesReply::default());
    };
    state
        .within(async {
            Ok(DeliveriesReply {
                deliveries: alerting.store.deliveries().await?,
            })
        })
        .await
}

/// `POST /alerts/test`: one notification through a channel now; audited with its outcome.
pub async fn test(
    state: &AppState,
    principal: &Principal,
    request: &TestRequest,
) -> Result<Delivery, AppError> {
    let Some(alerting) = &state.alerting else {
        return Err(AppError::NotFound(
            "no alert rules are configured (set ALERTS_FILE)".into(),
        ));
    };
    state.gate.check().await?;
    let delivery = alerting.test(&request.channel, &principal.subject).await?;
    let entry = crate::ssr::audit::Action {
        principal: principal.clone(),
        action: "alert-test",
        queue: String::new(),
        job_id: None,
        params: serde_json::json!({"channel": request.channel}),
        result: serde_json::json!({
            "outcome": delivery.outcome,
            "httpStatus": delivery.http_status,
            "error": delivery.error,
        }),
    };
    crate::ssr::audit::record(&state.redis, &state.settings.monitor_prefix, entry).await;
    Ok(delivery)
}

//! Alerts: `GET /alerts` and `/alerts/rules`, `/alerts/deliveries` (MODERATOR), `POST
//! /alerts/test` (ADMIN, audited). Without a rules file the reads answer empty lists (and
//! say so: `source` null), the test 404.

use crate::model::alerts::{
    AlertStatus, AlertsReply, ChannelKind, ChannelView, DeliveriesReply, Delivery, RulesReply,
    TestRequest,
};
use crate::ssr::alerts::eval::severity_rank;
use crate::ssr::alerts::rules::shown_url;
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
            let mut active: Vec<_> = alerting
                .store
                .active()
                .await?
                .into_values()
                .map(|record| record.alert(dashboard))
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

//! The alerts panel: active alerts (firing first, most severe first, then pending) and the
//! latest resolved, each with its severity in words and colour, the rule behind it, its queue,
//! summary and since when. Loaded in a wasm chunk of its own when opened; re-read with the
//! live feed.

use crate::api::get_alerts;
use crate::components::format::clock;
use crate::model::alerts::{Alert, AlertStatus};
use leptos::prelude::*;

/// The live updates between two re-reads (every 4 s at the default 2 s).
const REREAD_EVERY_UPDATES: u64 = 2;

/// An alert's line: "critical · MailBacklog · mail: mail has 12 jobs waiting".
pub fn alert_line(alert: &Alert) -> String {
    let label = |name: &str| alert.labels.get(name).cloned().unwrap_or_default();
    let mut line = format!("{} · {}", label("severity"), label("alertname"));
    if let Some(queue) = alert.labels.get("queue") {
        line.push_str(&format!(" · {queue}"));
    }
    if let Some(summary) = alert.annotations.get("summary") {
        line.push_str(&format!(": {summary}"));
    }
    line
}

/// When, for people: "firing since 10:01:00", "pending since …", "resolved at …".
pub fn when(alert: &Alert) -> String {
    match alert.status {
        AlertStatus::Firing => format!(
            "firing since {}",
            clock(alert.starts_at.as_deref().unwrap_or(&alert.active_since))
        ),
        AlertStatus::Pending => format!("pending since {}", clock(&alert.active_since)),
        AlertStatus::Resolved => format!(
            "resolved at {}",
            clock(alert.ends_at.as_deref().unwrap_or(&alert.active_since))
        ),
    }
}

#[component]
fn AlertRow(alert: Alert) -> impl IntoView {
    let severity = alert
        .labels
        .get("severity")
        .cloned()
        .unwrap_or_else(|| "warning".into());
    let line = alert_line(&alert);
    let when = when(&alert);
    let runbook = alert.annotations.get("runbook_url").cloned();
    view! {
        <li class="alert" data-severity=severity data-status=alert.status.as_str()>
            <span class="line">{line}</span>
            <span class="when">{when}</span>
            {runbook.map(|url| view! { <a href=url rel="noopener noreferrer" target="_blank">"runbook"</a> })}
        </li>
    }
}

/// The panel.
#[component]
pub fn Alerts(updates: Signal<u64>) -> impl IntoView {
    let load = Action::new(|_: &()| get_alerts());
    load.dispatch(());
    Effect::new(move |previous: Option<u64>| {
        let tick = updates.get() / REREAD_EVERY_UPDATES;
        if previous.is_some_and(|p| p != tick) {
            load.dispatch(());
        }
        tick
    });
    let reply = move || load.value().get();
    view! {
        <section class="alerts" aria-labelledby="alerts-title">
            <h2 id="alerts-title">"Alerts"</h2>
            {move || match reply() {
                None => view! { <p class="loading">"Loading alerts…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::components::notice::ErrorNotice error/> }.into_any(),
                Some(Ok(reply)) => {
                    let (active, resolved) = (reply.active, reply.resolved);
                    view! {
                        {(!reply.evaluating).then(|| view! {
                            <p class="note">"No instance evaluates the rules right now (no ALERTS_FILE, or starting)."</p>
                        })}
                        {active.is_empty().then(|| view! { <p class="empty">"No alert is active."</p> })}
                        <ul class="active-alerts">
                            {active.into_iter().map(|alert| view! { <AlertRow alert/> }).collect_view()}
                        </ul>
                        {(!resolved.is_empty()).then(|| view! { <h3>"Recently resolved"</h3> })}
                        <ul class="resolved-alerts">
                            {resolved.into_iter().take(10).map(|alert| view! { <AlertRow alert/> }).collect_view()}
                        </ul>
                    }
                    .into_any()
                }
            }}
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn an_alert_reads_as_a_sentence() {
        let mut labels = BTreeMap::new();
        labels.insert("alertname".to_owned(), "MailBacklog".to_owned());
        labels.insert("severity".to_owned(), "critical".to_owned());
        labels.insert("queue".to_owned(), "mail".to_owned());
        let mut annotations = BTreeMap::new();
        annotations.insert("summary".to_owned(), "mail has 12 jobs waiting".to_owned());
        let alert = Alert {
            fingerprint: "0123456789abcdef".into(),
            status: AlertStatus::Firing,
            labels,
            annotations,
            active_since: "2026-12-02T10:00:00.000Z".into(),
            starts_at: Some("2026-12-02T10:01:00.000Z".into()),
            ends_at: None,
            value: 12.0,
            generator_url: String::new(),
            silenced_by: None,
        };
        assert_eq!(
            alert_line(&alert),
            "critical · MailBacklog · mail: mail has 12 jobs waiting"
        );
        assert!(when(&alert).starts_with("firing since "));
    }
}

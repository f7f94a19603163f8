//! The alerts panel: active alerts (firing first, most severe first, then pending) and the
//! latest resolved, each with its severity in words and colour, the rule behind it, its queue,
//! summary and since when. Loaded in a wasm chunk of its own when opened; re-read with the
//! live feed.

use crate::api::{add_silence, end_silence, get_alerts};
use crate::components::format::clock;
use crate::model::alerts::{Alert, AlertStatus, Silence, SilenceRequest};
use leptos::prelude::*;
use std::collections::BTreeMap;

/// The live updates between two re-reads (every 4 s at the default 2 s).
const REREAD_EVERY_UPDATES: u64 = 2;

/// Live updates between two reads of the firing alerts' count (every 10 s at the default 2 s).
const FIRING_EVERY_UPDATES: u64 = 5;

/// The header's words for the firing alerts.
pub fn firing_label(firing: &crate::model::alerts::Firing) -> String {
    match (firing.firing, firing.critical) {
        (0, _) => "No alert firing".to_owned(),
        (1, 1) => "1 alert firing (critical)".to_owned(),
        (1, _) => "1 alert firing".to_owned(),
        (n, 0) => format!("{n} alerts firing"),
        (n, c) => format!("{n} alerts firing ({c} critical)"),
    }
}

/// The firing alerts' count in the monitor's bar (nothing while no rule is configured); a
/// click opens or closes the alerts panel. Read on mount and with every few live updates.
#[component]
pub fn FiringButton(updates: Signal<u64>, show_alerts: RwSignal<bool>) -> impl IntoView {
    let firing = Action::new(|_: &()| crate::api::get_firing());
    Effect::new(move |previous: Option<u64>| {
        let tick = updates.get() / FIRING_EVERY_UPDATES;
        if previous != Some(tick) {
            firing.dispatch(());
        }
        tick
    });
    let firing_now = move || {
        firing
            .value()
            .get()
            .and_then(Result::ok)
            .filter(|f| f.configured)
    };
    move || {
        firing_now().map(|now| {
            view! {
                <button type="button" class="firing" data-firing=now.firing.to_string()
                    data-critical=(now.critical > 0).to_string()
                    aria-expanded=move || show_alerts.get().to_string()
                    on:click=move |_| show_alerts.update(|open| *open = !*open)>
                    {firing_label(&now)}
                </button>
            }
        })
    }
}

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

/// What a silence made from an alert matches: its rule and, for a per-queue alert, its queue.
pub fn matchers_for(alert: &Alert) -> BTreeMap<String, String> {
    ["alertname", "queue", "failure_group"]
        .iter()
        .filter_map(|key| {
            alert
                .labels
                .get(*key)
                .map(|value| ((*key).to_owned(), value.clone()))
        })
        .collect()
}

/// A silence, for people: "alertname=MailBacklog, queue=mail until 11:00:00 UTC (ann: deploy)".
pub fn silence_line(silence: &Silence) -> String {
    let matchers: Vec<String> = silence
        .matchers
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{} until {} ({}: {})",
        matchers.join(", "),
        clock(&silence.ends_at),
        silence.created_by,
        silence.comment
    )
}

#[component]
fn AlertRow(
    alert: Alert,
    /// The rule's condition in words.
    rule: Option<String>,
    can_operate: bool,
    on_silence: Callback<SilenceRequest>,
) -> impl IntoView {
    let severity = alert
        .labels
        .get("severity")
        .cloned()
        .unwrap_or_else(|| "warning".into());
    let line = alert_line(&alert);
    let when = when(&alert);
    let runbook = alert.annotations.get("runbook_url").cloned();
    let silenced = alert.silenced_by.is_some();
    let open = RwSignal::new(false);
    let comment = RwSignal::new(String::new());
    let duration = RwSignal::new("1h".to_owned());
    let matchers = matchers_for(&alert);
    let active = alert.status != AlertStatus::Resolved;
    view! {
        <li class="alert" data-severity=severity data-status=alert.status.as_str() data-silenced=silenced.to_string()>
            <span class="line">{line}</span>
            <span class="when">{when}</span>
            {rule.map(|text| view! { <span class="rule">"rule: " {text}</span> })}
            {silenced.then(|| view! { <span class="silenced">"silenced"</span> })}
            {runbook.map(|url| view! { <a href=url rel="noopener noreferrer" target="_blank">"runbook"</a> })}
            {(can_operate && active && !silenced).then(|| view! {
                <button type="button" class="link" on:click=move |_| open.update(|o| *o = !*o)>"Silence…"</button>
            })}
            {move || open.get().then(|| {
                let matchers = matchers.clone();
                view! {
                    <form class="silence-form" aria-label="Silence this alert" on:submit=move |event| {
                        event.prevent_default();
                        open.set(false);
                        on_silence.run(SilenceRequest {
                            matchers: matchers.clone(),
                            duration: duration.get_untracked(),
                            comment: comment.get_untracked(),
                        });
                    }>
                        <label>"Why"
                            <input type="text" name="comment" required maxlength="500"
                                prop:value=move || comment.get()
                                on:input=move |ev| comment.set(event_target_value(&ev))/>
                        </label>
                        <label>"For"
                            <select name="duration" on:change=move |ev| duration.set(event_target_value(&ev))>
                                <option value="1h">"1 hour"</option>
                                <option value="4h">"4 hours"</option>
                                <option value="24h">"1 day"</option>
                            </select>
                        </label>
                        <button type="submit" class="primary">"Silence"</button>
                    </form>
                }
            })}
        </li>
    }
}

/// The panel.
#[component]
pub fn Alerts(updates: Signal<u64>, can_operate: Signal<bool>) -> impl IntoView {
    let load = Action::new(|_: &()| get_alerts());
    load.dispatch(());
    Effect::new(move |previous: Option<u64>| {
        let tick = updates.get() / REREAD_EVERY_UPDATES;
        if previous.is_some_and(|p| p != tick) {
            load.dispatch(());
        }
        tick
    });
    let outcome = RwSignal::new(None::<Result<String, crate::error::ApiError>>);
    let silence = Action::new(move |request: &SilenceRequest| {
        let request = request.clone();
        async move {
            outcome.set(Some(
                add_silence(request)
                    .await
                    .map(|s| format!("Silenced: {}", silence_line(&s))),
            ));
            load.dispatch(());
        }
    });
    let unsilence = Action::new(move |id: &String| {
        let id = id.clone();
        async move {
            outcome.set(Some(
                end_silence(id).await.map(|_| "Silence ended".to_owned()),
            ));
            load.dispatch(());
        }
    });
    let on_silence = Callback::new(move |request: SilenceRequest| {
        silence.dispatch(request);
    });
    let reply = move || load.value().get();
    view! {
        <section class="alerts" aria-labelledby="alerts-title">
            <h2 id="alerts-title">"Alerts"</h2>
            {move || outcome.get().map(|result| match result {
                Ok(text) => view! { <p class="outcome" role="status">{text}</p> }.into_any(),
                Err(error) => view! { <crate::components::notice::ErrorNotice error/> }.into_any(),
            })}
            {move || match reply() {
                None => view! { <p class="loading">"Loading alerts…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::components::notice::ErrorNotice error/> }.into_any(),
                Some(Ok(reply)) => {
                    let operate = can_operate.get_untracked();
                    let (active, resolved, silences) = (reply.active, reply.resolved, reply.silences);
                    let rules = reply.rules;
                    let rule_of = move |alert: &Alert| {
                        alert.labels.get("alertname").and_then(|name| rules.get(name).cloned())
                    };
                    view! {
                        {(!reply.evaluating).then(|| view! {
                            <p class="note">"No instance evaluates the rules right now (no ALERTS_FILE, or starting)."</p>
                        })}
                        {active.is_empty().then(|| view! { <p class="empty">"No alert is active."</p> })}
                        <ul class="active-alerts">
                            {active.into_iter().map(|alert| {
                                let rule = rule_of(&alert);
                                view! { <AlertRow alert rule can_operate=operate on_silence/> }
                            }).collect_view()}
                        </ul>
                        {(!silences.is_empty()).then(|| view! { <h3>"Silences"</h3> })}
                        <ul class="silences">
                            {silences.into_iter().map(|silence| {
                                let id = silence.id.clone();
                                view! {
                                    <li class="silence">
                                        <span>{silence_line(&silence)}</span>
                                        {operate.then(|| view! {
                                            <button type="button" class="link" on:click=move |_| {
                                                unsilence.dispatch(id.clone());
                                            }>"End"</button>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        {(!resolved.is_empty()).then(|| view! { <h3>"Recently resolved"</h3> })}
                        <ul class="resolved-alerts">
                            {resolved.into_iter().take(10).map(|alert| {
                                let rule = rule_of(&alert);
                                view! { <AlertRow alert rule can_operate=false on_silence/> }
                            }).collect_view()}
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
    fn the_firing_count_reads_as_words() {
        use crate::model::alerts::Firing;
        let words = |firing, critical| {
            firing_label(&Firing {
                configured: true,
                firing,
                critical,
            })
        };
        assert_eq!(words(0, 0), "No alert firing");
        assert_eq!(words(1, 1), "1 alert firing (critical)");
        assert_eq!(words(1, 0), "1 alert firing");
        assert_eq!(words(3, 0), "3 alerts firing");
        assert_eq!(words(3, 2), "3 alerts firing (2 critical)");
    }

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
        assert_eq!(
            matchers_for(&alert),
            [
                ("alertname".to_owned(), "MailBacklog".to_owned()),
                ("queue".to_owned(), "mail".to_owned())
            ]
            .into()
        );
        let silence = Silence {
            id: "s".into(),
            matchers: matchers_for(&alert),
            starts_at: "2026-12-02T10:00:00.000Z".into(),
            ends_at: "2026-12-02T11:00:00.000Z".into(),
            comment: "deploy".into(),
            created_by: "ann".into(),
            active: true,
        };
        assert_eq!(
            silence_line(&silence),
            "alertname=MailBacklog, queue=mail until 11:00:00 UTC (ann: deploy)"
        );
    }
}

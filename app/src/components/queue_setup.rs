//! A queue's setup on its page: the workers connected to it (a queue with ready jobs and no
//! worker is called out), its job schedulers and legacy repeatables with their next run, and its
//! global concurrency and rate limit, which an operator may change. Part of the queue detail's
//! wasm chunk, so it costs the first paint nothing.

use crate::api::{get_queue_setup, set_queue_limits};
use crate::components::format::{date_time, duration};
use crate::components::notice::ErrorNotice;
use crate::model::{QueueLimits, QueueSetup, Scheduler, SchedulerKind, StateCounts, Worker};
use leptos::prelude::*;

/// The setup of `name`; `counts` are the queue's live counts (for the "no worker" finding).
#[component]
pub fn QueueSetupPanel(
    name: String,
    counts: Signal<Option<StateCounts>>,
    can_operate: Signal<bool>,
) -> impl IntoView {
    let load = {
        let name = name.clone();
        Action::new(move |_: &()| get_queue_setup(name.clone()))
    };
    load.dispatch(());
    let setup = Memo::new(move |_| load.value().get());
    view! {
        <section class="queue-setup" aria-labelledby="setup-title">
            <div class="section-head">
                <h3 id="setup-title">"Workers, schedulers and limits"</h3>
                <button type="button" on:click=move |_| { load.dispatch(()); }
                    disabled=move || load.pending().get()>"Reload"</button>
            </div>
            {move || match setup.get() {
                None => view! { <p class="empty">"Reading…"</p> }.into_any(),
                Some(Err(error)) => view! { <ErrorNotice error/> }.into_any(),
                Some(Ok(setup)) => view! {
                    {workers_view(&setup, counts)}
                    {schedulers_view(&setup)}
                    <LimitsView name=name.clone() limits=setup.limits.clone() can_operate
                        saved=Callback::new(move |()| { load.dispatch(()); })/>
                }
                .into_any(),
            }}
        </section>
    }
    .into_any()
}

/// Whether ready jobs wait for a worker that is not there: the finding the panel calls out.
pub fn stalled_without_workers(workers: usize, counts: Option<&StateCounts>) -> bool {
    workers == 0 && counts.is_some_and(|counts| counts.waiting > 0)
}

fn workers_view(setup: &QueueSetup, counts: Signal<Option<StateCounts>>) -> AnyView {
    let count = setup.workers.count;
    let rows: Vec<Worker> = setup.workers.workers.clone();
    view! {
        <h4>{format!("Workers ({count})")}</h4>
        {move || counts.with(|c| stalled_without_workers(count, c.as_ref())).then(|| view! {
            <p class="finding" role="status" data-finding="no-workers">
                "No worker is connected: the waiting jobs will not run."
            </p>
        })}
        {if rows.is_empty() {
            // Said once: by the finding when jobs wait, else here.
            view! {
                {move || (!counts.with(|c| stalled_without_workers(count, c.as_ref()))).then(|| view! {
                    <p class="empty">"No worker is connected."</p>
                })}
            }
            .into_any()
        } else {
            view! {
                <div class="table-scroll">
                    <table class="workers">
                        <thead><tr>
                            <th scope="col">"Worker"</th>
                            <th scope="col">"Address"</th>
                            <th scope="col">"Connected for"</th>
                            <th scope="col">"Idle"</th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|worker| view! {
                                <tr data-worker=worker.client_name.clone()>
                                    <th scope="row">{worker.name.clone().unwrap_or_else(|| "(unnamed)".into())}</th>
                                    <td><code>{worker.addr.clone()}</code></td>
                                    <td>{duration(worker.age_seconds.saturating_mul(1000))}</td>
                                    <td>{duration(worker.idle_seconds.saturating_mul(1000))}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
    }
    .into_any()
}

/// How often a scheduler runs, in words.
pub fn cadence(scheduler: &Scheduler) -> String {
    let tz = scheduler
        .tz
        .as_deref()
        .map(|tz| format!(" ({tz})"))
        .unwrap_or_default();
    match (&scheduler.pattern, scheduler.every) {
        (Some(pattern), _) => format!("cron {pattern}{tz}"),
        (None, Some(every)) => format!("every {}", duration(every)),
        (None, None) => "—".to_owned(),
    }
}

fn schedulers_view(setup: &QueueSetup) -> AnyView {
    let page = &setup.schedulers;
    let shown = page.schedulers.len();
    let title = if (shown as u64) < page.total {
        format!("Schedulers ({} — the {shown} due soonest)", page.total)
    } else {
        format!("Schedulers ({})", page.total)
    };
    let rows = page.schedulers.clone();
    view! {
        <h4>{title}</h4>
        {if rows.is_empty() {
            view! { <p class="empty">"No job scheduler or repeatable job."</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll">
                    <table class="schedulers">
                        <thead><tr>
                            <th scope="col">"Scheduler"</th>
                            <th scope="col">"Job name"</th>
                            <th scope="col">"Runs"</th>
                            <th scope="col">"Next run (UTC)"</th>
                            <th scope="col">"Made so far"</th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|s| {
                                let kind = match (s.orphan, s.kind) {
                                    (true, _) => " · orphan (no settings left)",
                                    (false, SchedulerKind::Legacy) => " · legacy repeatable",
                                    (false, SchedulerKind::Scheduler) => "",
                                };
                                view! {
                                    <tr data-scheduler=s.key.clone()>
                                        <th scope="row"><code>{s.key.clone()}</code><small>{kind}</small></th>
                                        <td>{s.name.clone().unwrap_or_default()}</td>
                                        <td>{cadence(&s)}</td>
                                        <td>{s.next.map(date_time).unwrap_or_default()}</td>
                                        <td>{s.iteration_count.map(|n| n.to_string()).unwrap_or_default()}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
    }
    .into_any()
}

/// A number field's text as a limit: blank is none; anything else must be a whole number ≥ 1.
pub fn parse_limit(text: &str, field: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u64>() {
        Ok(value) if value >= 1 => Ok(Some(value)),
        _ => Err(format!(
            "{field} must be a whole number of at least 1, or blank"
        )),
    }
}

#[component]
fn LimitsView(
    name: String,
    limits: QueueLimits,
    can_operate: Signal<bool>,
    saved: Callback<()>,
) -> impl IntoView {
    let text = |value: Option<u64>| value.map(|v| v.to_string()).unwrap_or_default();
    let concurrency = RwSignal::new(text(limits.concurrency));
    let rate_max = RwSignal::new(text(limits.rate_limit.map(|r| r.max)));
    let rate_duration = RwSignal::new(text(limits.rate_limit.map(|r| r.duration)));
    let problem = RwSignal::new(None::<String>);
    let save = Action::new(
        move |(concurrency, max, duration): &(Option<u64>, Option<u64>, Option<u64>)| {
            set_queue_limits(name.clone(), *concurrency, *max, *duration)
        },
    );
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            saved.run(());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed = (|| {
            let c = parse_limit(&concurrency.get_untracked(), "Concurrency")?;
            let m = parse_limit(&rate_max.get_untracked(), "Jobs per period")?;
            let d = parse_limit(&rate_duration.get_untracked(), "Period")?;
            if m.is_some() != d.is_some() {
                return Err("a rate limit needs both jobs per period and the period".to_owned());
            }
            Ok((c, m, d))
        })();
        match parsed {
            Ok(values) => {
                problem.set(None);
                save.dispatch(values);
            }
            Err(message) => problem.set(Some(message)),
        }
    };
    let summary = format!(
        "Global concurrency: {}. Rate limit: {}.",
        limits
            .concurrency
            .map(|c| format!("{c} jobs at once"))
            .unwrap_or_else(|| "none".into()),
        limits
            .rate_limit
            .map(|r| format!("{} jobs per {}", r.max, duration(r.duration)))
            .unwrap_or_else(|| "none".into()),
    );
    let failed = move || {
        save.value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <ErrorNotice error/> })
    };
    view! {
        <h4>"Limits"</h4>
        <p data-field="limits">{summary}</p>
        {move || can_operate.get().then(|| view! {
            <form class="limits-form" on:submit=submit>
                <label>"Concurrency (all workers)"
                    <input type="number" min="1" name="concurrency" inputmode="numeric"
                        prop:value=move || concurrency.get()
                        on:input=move |ev| concurrency.set(event_target_value(&ev))/>
                </label>
                <label>"Jobs per period"
                    <input type="number" min="1" name="rate-max" inputmode="numeric"
                        prop:value=move || rate_max.get()
                        on:input=move |ev| rate_max.set(event_target_value(&ev))/>
                </label>
                <label>"Period (ms)"
                    <input type="number" min="1" name="rate-duration" inputmode="numeric"
                        prop:value=move || rate_duration.get()
                        on:input=move |ev| rate_duration.set(event_target_value(&ev))/>
                </label>
                <button type="submit" disabled=move || save.pending().get()>"Save limits"</button>
                <p class="note">"Blank removes a limit. Workers apply it from their next job."</p>
                {move || problem.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                {failed}
            </form>
        })}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_fields_are_blank_or_whole_numbers() {
        assert_eq!(parse_limit(" ", "x"), Ok(None));
        assert_eq!(parse_limit("12", "x"), Ok(Some(12)));
        assert!(parse_limit("0", "Concurrency")
            .expect_err("refused")
            .contains("Concurrency"));
        assert!(parse_limit("1.5", "x").is_err());
        assert!(parse_limit("-3", "x").is_err());
    }

    #[test]
    fn no_worker_is_a_finding_only_when_jobs_wait() {
        let waiting = StateCounts {
            waiting: 3,
            ..StateCounts::default()
        };
        assert!(stalled_without_workers(0, Some(&waiting)));
        assert!(!stalled_without_workers(1, Some(&waiting)));
        assert!(!stalled_without_workers(0, Some(&StateCounts::default())));
        assert!(!stalled_without_workers(0, None));
    }

    #[test]
    fn cadence_reads_like_the_schedule() {
        let mut s = Scheduler {
            key: "k".into(),
            kind: SchedulerKind::Scheduler,
            name: None,
            next: None,
            pattern: Some("0 3 * * *".into()),
            every: None,
            tz: Some("Europe/Paris".into()),
            limit: None,
            start_date: None,
            end_date: None,
            offset: None,
            iteration_count: None,
            job_id: None,
            template: None,
            orphan: false,
        };
        assert_eq!(cadence(&s), "cron 0 3 * * * (Europe/Paris)");
        s.pattern = None;
        s.tz = None;
        s.every = Some(5000);
        assert!(cadence(&s).starts_with("every "));
    }
}

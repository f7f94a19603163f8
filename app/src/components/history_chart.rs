//! The history chart: finished jobs per hour (24 h, 7 d) or per day (30 d), for all queues or
//! one, from the monitor's own history (`/history`), so it stays right when BullMQ removes
//! finished jobs. Columns are plain HTML scaled to the busiest bucket; failed is striped as well
//! as red; the whole chart has a text summary, and each column names its numbers.

use crate::api::get_history;
use crate::components::format::duration;
use crate::components::notice::ErrorNotice;
use crate::model::{History, HistoryPoint, Period, Step};
use leptos::prelude::*;

/// One column of the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Heights as percentages of the busiest bucket's.
    pub ok: f64,
    pub bad: f64,
    /// What the column says, in words (its tooltip).
    pub label: String,
}

/// The time of a bucket start for a label: `11-28 10:00` for hours, `2026-11-28` for days.
pub fn bucket_label(t: &str, step: Step) -> String {
    let label = if step == Step::Day {
        t.get(..10).map(str::to_owned)
    } else {
        t.get(5..10)
            .zip(t.get(11..16))
            .map(|(day, time)| format!("{day} {time}"))
    };
    match label {
        Some(label) if t.as_bytes().get(10) == Some(&b'T') => label,
        _ => t.to_owned(),
    }
}

/// The chart's columns: each bucket scaled to the busiest one.
pub fn columns(points: &[HistoryPoint], step: Step) -> Vec<Column> {
    let busiest = points
        .iter()
        .map(|p| p.completed + p.failed)
        .max()
        .unwrap_or(0);
    let scale = |n: u64| {
        if busiest == 0 {
            0.0
        } else {
            n as f64 * 100.0 / busiest as f64
        }
    };
    points
        .iter()
        .map(|p| {
            let avg = p
                .avg_processing_time
                .map(|ms| format!(", avg {}", duration(ms)))
                .unwrap_or_default();
            Column {
                ok: scale(p.completed),
                bad: scale(p.failed),
                label: format!(
                    "{} UTC: {} completed, {} failed{avg}",
                    bucket_label(&p.t, step),
                    p.completed,
                    p.failed
                ),
            }
        })
        .collect()
}

/// The chart's text summary.
pub fn summary(history: &History, period: Period) -> String {
    let completed: u64 = history.points.iter().map(|p| p.completed).sum();
    let failed: u64 = history.points.iter().map(|p| p.failed).sum();
    let busiest = history
        .points
        .iter()
        .max_by_key(|p| p.completed + p.failed)
        .filter(|p| p.completed + p.failed > 0)
        .map(|p| {
            format!(
                "; busiest {} {} UTC with {}",
                history.step,
                bucket_label(&p.t, history.step),
                p.completed + p.failed
            )
        })
        .unwrap_or_default();
    format!(
        "Last {}, per {}: {completed} completed, {failed} failed{busiest}",
        period.as_str(),
        history.step
    )
}

/// The chart with its queue picker; follows the trends panel's `period` and `refresh`.
#[component]
pub fn HistoryChart(
    period: RwSignal<Period>,
    refresh: RwSignal<u32>,
    /// The queues to offer (besides "All queues").
    queue_names: Memo<Vec<String>>,
) -> impl IntoView {
    let queue = RwSignal::new(String::new());
    let history = crate::codec::resource(
        move || (queue.get(), period.get(), refresh.get()),
        |(queue, period, _)| get_history(queue, period),
    );
    view! {
        <div class="history">
            <div class="history-head">
                <h3 id="history-title">"Finished jobs over time"</h3>
                <label>
                    "Queue "
                    <select on:change=move |ev| queue.set(event_target_value(&ev))
                        prop:value=move || queue.get()>
                        <option value="">"All queues"</option>
                        {move || queue_names.get().into_iter().map(|name| view! {
                            <option value=name.clone()>{name.clone()}</option>
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading history…"</p> }>
                {move || history.get().map(|result| match result {
                    Ok(history) => view! { <Chart history period=period.get_untracked()/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                })}
            </Transition>
        </div>
    }
    .into_any()
}

#[component]
fn Chart(history: History, period: Period) -> impl IntoView {
    let completed: u64 = history.points.iter().map(|p| p.completed).sum();
    let failed: u64 = history.points.iter().map(|p| p.failed).sum();
    let described = summary(&history, period);
    let first = history
        .points
        .first()
        .map(|p| bucket_label(&p.t, history.step))
        .unwrap_or_default();
    let last = history
        .points
        .last()
        .map(|p| bucket_label(&p.t, history.step))
        .unwrap_or_default();
    let gaps = (history.gaps > 0).then(|| {
        format!(
            "{} gap(s) in the event streams (events trimmed before the monitor read them); {} of those jobs were recovered from the jobs BullMQ still kept, the others are missing.",
            history.gaps, history.gap_jobs_filled
        )
    });
    let columns = columns(&history.points, history.step);
    view! {
        <div class="history-chart" role="img" aria-label=described.clone()
            data-step=history.step.as_str() data-completed=completed data-failed=failed>
            {columns.into_iter().map(|column| view! {
                <div class="column" title=column.label>
                    <span class="bad" style=format!("height: {:.2}%", column.bad)></span>
                    <span class="ok" style=format!("height: {:.2}%", column.ok)></span>
                </div>
            }).collect_view()}
        </div>
        <div class="history-axis" aria-hidden="true">
            <span>{first}</span>
            <span>{last}" UTC"</span>
        </div>
        <p class="note">{described}". From the monitor's own history (exact, even for jobs BullMQ has removed); it reaches back as far as BullMQ's event streams did when the monitor first read them."</p>
        {gaps.map(|text| view! { <p class="note gaps">{text}</p> })}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: &str, completed: u64, failed: u64) -> HistoryPoint {
        HistoryPoint {
            t: t.into(),
            completed,
            failed,
            avg_processing_time: (completed > 0).then_some(1_500),
            min_processing_time: None,
            max_processing_time: None,
            timed_jobs: completed,
            avg_wait_time: None,
            max_wait_time: None,
        }
    }

    #[test]
    fn columns_are_scaled_to_the_busiest_bucket_and_say_their_numbers() {
        let points = [
            point("2026-11-28T10:00:00.000Z", 30, 10),
            point("2026-11-28T11:00:00.000Z", 5, 5),
            point("2026-11-28T12:00:00.000Z", 0, 0),
        ];
        let columns = columns(&points, Step::Hour);
        assert_eq!((columns[0].ok, columns[0].bad), (75.0, 25.0));
        assert_eq!((columns[1].ok, columns[1].bad), (12.5, 12.5));
        assert_eq!((columns[2].ok, columns[2].bad), (0.0, 0.0));
        assert_eq!(
            columns[0].label,
            "11-28 10:00 UTC: 30 completed, 10 failed, avg 1 s"
        );
        assert_eq!(columns[2].label, "11-28 12:00 UTC: 0 completed, 0 failed");
    }

    #[test]
    fn labels_follow_the_step_and_survive_odd_input() {
        assert_eq!(
            bucket_label("2026-11-28T00:00:00.000Z", Step::Day),
            "2026-11-28"
        );
        assert_eq!(
            bucket_label("2026-11-28T13:00:00.000Z", Step::Hour),
            "11-28 13:00"
        );
        assert_eq!(bucket_label("soon", Step::Hour), "soon");
    }

    #[test]
    fn the_summary_names_totals_and_the_busiest_bucket() {
        let history = History {
            queue_name: None,
            step: Step::Hour,
            from: String::new(),
            to: String::new(),
            source: crate::model::Source::Collector,
            gaps: 0,
            gap_jobs_filled: 0,
            points: vec![
                point("2026-11-28T10:00:00.000Z", 3, 1),
                point("2026-11-28T11:00:00.000Z", 8, 0),
            ],
        };
        assert_eq!(
            summary(&history, Period::Day),
            "Last 24h, per hour: 11 completed, 1 failed; busiest hour 11-28 11:00 UTC with 8"
        );
        let empty = History {
            points: vec![point("2026-11-28T10:00:00.000Z", 0, 0)],
            ..history
        };
        assert_eq!(
            summary(&empty, Period::Day),
            "Last 24h, per hour: 0 completed, 0 failed"
        );
    }
}

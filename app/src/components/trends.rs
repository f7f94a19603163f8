//! Trends over 24 h, 7 d or 30 d: per queue successful and failed jobs, success rate and average
//! processing time, with a bar per queue (successful and failed, to the scale of the busiest
//! queue) so the odd one out shows at a glance. The numbers sit beside the bars, so colour is
//! never the only signal.

use crate::api::get_trends;
use crate::components::format::{duration, percent};
use crate::components::history_chart::HistoryChart;
use crate::components::notice::ErrorNotice;
use crate::model::{Period, Source, Trend};
use leptos::prelude::*;

/// The trends panel and the history chart; `refresh` re-reads both.
#[component]
pub fn Trends(refresh: RwSignal<u32>, queue_names: Memo<Vec<String>>) -> impl IntoView {
    let period = RwSignal::new(Period::Day);
    let trends = crate::codec::resource(
        move || (period.get(), refresh.get()),
        |(period, _)| get_trends(period),
    );
    view! {
        <section class="trends" aria-labelledby="trends-title">
            <div class="section-head">
                <h2 id="trends-title">"Trends"</h2>
                <div class="segmented" role="group" aria-label="Period">
                    {Period::ALL.iter().copied().map(|choice| view! {
                        <button type="button"
                            aria-pressed=move || (period.get() == choice).to_string()
                            on:click=move |_| period.set(choice)>
                            {choice.as_str()}
                        </button>
                    }).collect_view()}
                </div>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading trends…"</p> }>
                {move || trends.get().map(|result| match result {
                    Ok(trends) => view! { <TrendTable trends/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                })}
            </Transition>
            <HistoryChart period refresh queue_names/>
        </section>
    }
    .into_any()
}

/// Where the trends panel will be: rendered by the server and until its chunk
/// (`components::deferred`) has loaded.
#[component]
pub fn TrendsPlaceholder() -> impl IntoView {
    view! {
        <section class="trends-placeholder" aria-busy="true">
            <h2>"Trends"</h2>
            <p class="loading">"Loading trends…"</p>
        </section>
    }
}

/// When the trends panel and the history chart read again while live data flows: as soon as the
/// finished totals have moved and the last read is at least [`Self::MIN_GAP_MS`] old, and in any
/// case every [`Self::MAX_GAP_MS`] (their windows slide even when nothing finishes). Times are
/// the snapshots' own (server) times, so this is plain code, tested on the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshCadence {
    /// When the panel last read (ms), and the finished totals it then saw.
    last: Option<(i64, (u64, u64))>,
}

impl RefreshCadence {
    /// The least time between two reads.
    pub const MIN_GAP_MS: i64 = 10_000;
    /// The most time between two reads.
    pub const MAX_GAP_MS: i64 = 60_000;

    /// Whether a snapshot taken at `now_ms` with these `(completed, failed)` totals calls for
    /// a read (and if so, counts it as done). The first snapshot only sets the baseline: the
    /// panel has just read.
    pub fn due(&mut self, now_ms: i64, finished: (u64, u64)) -> bool {
        let Some((read_at, seen)) = self.last else {
            self.last = Some((now_ms, finished));
            return false;
        };
        let age = now_ms - read_at;
        let due = (finished != seen && age >= Self::MIN_GAP_MS) || age >= Self::MAX_GAP_MS;
        if due {
            self.last = Some((now_ms, finished));
        }
        due
    }
}

/// A bar's two parts as percentages of the widest bar.
pub fn bar_widths(trend: &Trend, widest: u64) -> (f64, f64) {
    if widest == 0 {
        return (0.0, 0.0);
    }
    let scale = |n: u64| n as f64 * 100.0 / widest as f64;
    (scale(trend.successful), scale(trend.failed))
}

#[component]
fn TrendTable(trends: Vec<Trend>) -> impl IntoView {
    let widest = trends.iter().map(|t| t.total).max().unwrap_or(0);
    let period = trends.first().map(|t| t.period.as_str()).unwrap_or("24h");
    // Where the numbers come from: the monitor's history (exact) or BullMQ's retained jobs.
    let from_jobs = trends
        .iter()
        .filter(|t| t.source != Source::Collector)
        .count();
    let sources = match (from_jobs, trends.len() - from_jobs) {
        (0, _) => "collector",
        (_, 0) => "jobs",
        _ => "mixed",
    }
    .to_owned();
    let sources_note = match sources.as_str() {
        "collector" => "From the monitor's own history: exact, even for jobs BullMQ has removed.",
        "jobs" => "From the finished jobs BullMQ still retains (the monitor's history does not cover this period yet).",
        _ => "Partly from the monitor's history, partly from the jobs BullMQ still retains.",
    };
    if trends.is_empty() {
        return view! { <p class="empty">"No queues to show."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="trend-table">
                <caption class="visually-hidden">{format!("Finished jobs per queue, last {period}")}</caption>
                <thead>
                    <tr>
                        <th scope="col">"Queue"</th>
                        <th scope="col">"Successful"</th>
                        <th scope="col">"Failed"</th>
                        <th scope="col">"Success rate"</th>
                        <th scope="col">"Avg processing"</th>
                        <th scope="col" class="chart-col">"Finished jobs"</th>
                    </tr>
                </thead>
                <tbody>
                    {trends.into_iter().map(|trend| {
                        let (ok, bad) = bar_widths(&trend, widest);
                        let avg = match trend.avg_processing_time {
                            Some(ms) => format!("{} ({} jobs)", duration(ms), trend.avg_processing_time_sample),
                            None => "–".to_owned(),
                        };
                        let described = format!("{} successful, {} failed", trend.successful, trend.failed);
                        view! {
                            <tr data-trend=trend.queue_name.clone()>
                                <th scope="row">{trend.queue_name.clone()}</th>
                                <td data-field="successful">{trend.successful}</td>
                                <td data-field="failed">{trend.failed}</td>
                                <td data-field="success-rate">{percent(trend.success_rate, 1)}</td>
                                <td data-field="avg">{avg}</td>
                                <td class="chart-col">
                                    <div class="bar" role="img" aria-label=described.clone() title=described>
                                        <span class="ok" style=format!("width: {ok:.2}%")></span>
                                        <span class="bad" style=format!("width: {bad:.2}%")></span>
                                    </div>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <p class="legend"><span class="swatch ok"></span>" successful " <span class="swatch bad"></span>" failed (striped)"</p>
        <p class="note" data-sources=sources.clone()>{sources_note}</p>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trend(successful: u64, failed: u64) -> Trend {
        Trend {
            queue_name: "q".into(),
            period: Period::Day,
            successful,
            failed,
            total: successful + failed,
            success_rate: None,
            avg_processing_time: None,
            avg_processing_time_sample: 0,
            source: Source::Jobs,
        }
    }

    #[test]
    fn the_panel_follows_the_live_totals_at_a_bounded_pace() {
        let mut cadence = RefreshCadence::default();
        assert!(
            !cadence.due(0, (5, 1)),
            "the first snapshot is the baseline"
        );
        assert!(!cadence.due(2_000, (6, 1)), "moved, but too soon");
        assert!(cadence.due(10_000, (6, 1)), "moved and old enough");
        assert!(!cadence.due(30_000, (6, 1)), "nothing moved");
        assert!(cadence.due(70_000, (6, 1)), "the window slides anyway");
        assert!(!cadence.due(75_000, (9, 1)));
        assert!(cadence.due(80_000, (9, 2)));
    }

    #[test]
    fn bars_are_scaled_to_the_busiest_queue() {
        assert_eq!(bar_widths(&trend(30, 10), 40), (75.0, 25.0));
        assert_eq!(bar_widths(&trend(5, 5), 40), (12.5, 12.5));
        assert_eq!(bar_widths(&trend(0, 0), 0), (0.0, 0.0));
    }
}

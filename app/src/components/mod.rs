//! The dashboard's building blocks. [`job_monitor::JobMonitor`] is the embeddable whole; the
//! other modules are its parts, each named after what it shows.

pub mod alerts;
pub mod deferred;
pub mod explorer;
pub mod failures;
pub mod format;
pub mod history_chart;
pub mod job_monitor;
pub mod notice;
pub mod queue_detail;
pub mod queue_setup;
pub mod queues;
pub mod retry_form;
pub mod stuck;
pub mod summary;
pub mod trends;

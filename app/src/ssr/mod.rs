//! Server-only code: configuration, authentication, application state, errors with their HTTP
//! mapping, and the Redis/BullMQ service layer. Compiled only with the `ssr` feature, so nothing
//! here (nor `fred`, `axum` or `jsonwebtoken`) reaches the wasm build.
//!
//! It lives in `app` rather than in `server` because server functions (defined in `app`) and the
//! REST handlers (in `server`) must call the very same service code; `server` depends on `app`,
//! never the other way round.

pub mod audit;
pub mod auth;
pub mod bullmq;
pub mod config;
pub mod error;
pub mod history;
pub mod page_policy;
pub mod redis;
pub mod service;
pub mod shared_reads;
pub mod slots;
pub mod state;

//! Pages. Each page is a data component: it owns its resources and hands plain values to views.

pub mod dashboard;
pub mod login;

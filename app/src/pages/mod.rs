//! One module per page.
pub mod dashboard;
pub mod embed;
pub mod login;

//! Server functions used by the dashboard. Each authenticates the request (session cookie or
//! bearer token), checks the minimum role, and calls the same service code as the REST API.

use crate::error::ApiError;
use crate::model::{Overview, Viewer};
use leptos::prelude::*;

/// Every queue with its counts. Minimum role: MODERATOR.
#[server(name = GetOverview, prefix = "/api/fn", endpoint = "overview")]
pub async fn get_overview() -> Result<Overview, ApiError> {
    use crate::role::Role;
    use crate::ssr::{auth::require_role, service, state::respond_with_error, state::AppState};
    require_role(Role::Moderator).await?;
    let state = AppState::from_context().map_err(respond_with_error)?;
    service::overview(&state).await.map_err(respond_with_error)
}

/// Who the current session belongs to. Minimum role: MODERATOR.
#[server(name = GetViewer, prefix = "/api/fn", endpoint = "viewer")]
pub async fn get_viewer() -> Result<Viewer, ApiError> {
    use crate::role::Role;
    use crate::ssr::auth::require_role;
    let principal = require_role(Role::Moderator).await?;
    Ok(Viewer {
        subject: principal.subject,
        role: principal.role,
        expires_at: principal.expires_at,
    })
}

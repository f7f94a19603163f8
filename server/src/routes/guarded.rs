//! Route protection, declared once: routes are added to a [`RoleRoutes`] group of one minimum
//! role, and the group's guard (a route layer) authenticates every request and checks the role
//! before any handler or extractor runs, putting the verified principal into the request for
//! handlers to take as `Caller`. The table the auth tests walk is derived from the same groups
//! ([`RoleRoutes::table`]), so a route cannot be added without a role, nor be missing from the
//! tests. (Server functions are guarded the same way, from `app::api::access::SERVER_FN_ROLES`.)

use crate::routes::ProtectedRoute;
use app::role::Role;
use app::ssr::auth::authorize;
use app::ssr::state::AppState;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use std::collections::BTreeMap;

/// A declared route: what the OpenAPI document is completed from (`crate::openapi`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePattern {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// The path as axum matches it (`/api/v1/admin/jobs/queue/{queue_name}`), which is also
    /// the OpenAPI path template.
    pub pattern: String,
    /// Minimum role.
    pub min_role: Role,
}

/// Routes that all need at least one role.
pub struct RoleRoutes {
    role: Role,
    routes: BTreeMap<&'static str, (MethodRouter<AppState>, Vec<&'static str>)>,
}

macro_rules! method {
    ($name:ident, $verb:literal) => {
        #[doc = concat!("Adds a `", $verb, "` route.")]
        pub fn $name<H, T>(self, path: &'static str, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.on(path, $verb, |router| router.$name(handler))
        }
    };
}

impl RoleRoutes {
    /// An empty group for `role` and above.
    pub fn new(role: Role) -> Self {
        Self {
            role,
            routes: BTreeMap::new(),
        }
    }

    method!(get, "GET");
    method!(post, "POST");
    method!(put, "PUT");
    method!(patch, "PATCH");
    method!(delete, "DELETE");

    fn on(
        mut self,
        path: &'static str,
        verb: &'static str,
        add: impl FnOnce(MethodRouter<AppState>) -> MethodRouter<AppState>,
    ) -> Self {
        let (router, verbs) = self.routes.entry(path).or_default();
        *router = add(std::mem::take(router));
        verbs.push(verb);
        self
    }

    /// The group's routes as declared: method, path pattern under `base`, role.
    pub fn patterns(&self, base: &str) -> Vec<RoutePattern> {
        self.routes
            .iter()
            .flat_map(|(path, (_, verbs))| {
                verbs.iter().map(move |verb| RoutePattern {
                    method: verb,
                    pattern: format!("{base}{path}"),
                    min_role: self.role,
                })
            })
            .collect()
    }

    /// The group's routes with a sample path each (`{queue_name}` filled with a queue that does
    /// not exist, other parameters with `1`), under `base`.
    pub fn table(&self, base: &str) -> Vec<ProtectedRoute> {
        self.routes
            .iter()
            .flat_map(|(path, (_, verbs))| {
                let sample = sample_path(base, path);
                verbs.iter().map(move |verb| ProtectedRoute {
                    method: verb,
                    path: sample.clone(),
                    min_role: self.role,
                })
            })
            .collect()
    }

    /// The routes, each behind the group's guard.
    pub fn into_router(self, state: &AppState) -> Router<AppState> {
        let role = self.role;
        let mut router = Router::new();
        for (path, (method_router, _)) in self.routes {
            router = router.route(path, method_router);
        }
        router.route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), role),
            guard,
        ))
    }
}

/// A concrete path for a route pattern.
fn sample_path(base: &str, pattern: &str) -> String {
    let segments: Vec<String> = pattern
        .split('/')
        .map(|segment| match segment.strip_prefix('{') {
            Some(name) if name.contains("queue") => "no-such-queue".to_owned(),
            Some(_) => "1".to_owned(),
            None => segment.to_owned(),
        })
        .collect();
    format!("{base}{}", segments.join("/"))
}

/// Authenticates the request and demands the group's role; on success the principal goes into
/// the request's extensions.
async fn guard(
    State((state, role)): State<(AppState, Role)>,
    mut request: Request,
    next: Next,
) -> Response {
    match authorize(
        &state.auth,
        state.settings.session_cookie(),
        request.headers(),
        role,
    ) {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_paths_fill_the_parameters() {
        assert_eq!(
            sample_path("/api", "/queue/{queue_name}/jobs/{job_id}"),
            "/api/queue/no-such-queue/jobs/1"
        );
        assert_eq!(sample_path("/api", "/metrics"), "/api/metrics");
    }
}

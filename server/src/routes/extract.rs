//! Extractors whose rejections are the one JSON error shape (`AppError`): a bad query, path or
//! body is refused with `{"error": "bad_request", "message": …}` naming what is wrong, before the
//! handler runs, and no response rewriting is needed for them.

use app::ssr::error::AppError;
use axum::extract::{FromRequest, FromRequestParts, Request};

/// `Query<T>` with JSON rejections.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct AppQuery<T>(pub T);

/// `Path<T>` with JSON rejections.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct AppPath<T>(pub T);

/// The raw body (within the body limit), with JSON rejections: 413 over the limit.
pub struct AppBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for AppBody {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(AppBody(
            axum::body::Bytes::from_request(request, state).await?,
        ))
    }
}

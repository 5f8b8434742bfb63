//! timestamp-authority's REST surface (axum). Handlers pick the request
//! form by media type and read the body within the limit; the logic is in
//! [`crate::service`].
//!
//! Errors are `{"code": <status>, "message": "..."}`, upstream's body and
//! status codes (400 for any bad request, including an oversized body; 415
//! for another media type). Upstream labels the 400 body
//! `application/timestamp-reply`; ours says `application/json`, which is
//! what it is, so sigstore-js shows the message instead of the status text.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::service::{Tsa, TsaError};

/// Upstream's `--max-request-body-size` default.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1 << 20;

#[derive(Clone)]
struct AppState {
    tsa: Arc<Tsa>,
    max_request_bytes: usize,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    sigstack_http::json_response(
        status,
        &serde_json::json!({"code": status.as_u16(), "message": message.into()}),
    )
}

impl IntoResponse for TsaError {
    fn into_response(self) -> Response {
        let status = match self {
            TsaError::Sign(_) | TsaError::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        error(status, self.to_string())
    }
}

pub fn router(tsa: Arc<Tsa>) -> Router {
    router_with_limit(tsa, DEFAULT_MAX_REQUEST_BYTES)
}

pub fn router_with_limit(tsa: Arc<Tsa>, max_request_bytes: usize) -> Router {
    let http = tsa.http.clone();
    let state = AppState {
        tsa,
        max_request_bytes,
    };
    Router::new()
        .route("/api/v1/timestamp", post(timestamp))
        .route("/api/v1/timestamp/certchain", get(certchain))
        .route("/healthz", get(|| async { "ok" }))
        .route("/ping", get(|| async { "." }))
        .route("/metrics", get(metrics))
        // The handler enforces its own limit with upstream's status code.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
        .layer(middleware::from_fn_with_state(http, sigstack_http::observe))
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next()?.trim().to_ascii_lowercase())
}

async fn timestamp(State(s): State<AppState>, req: Request) -> Response {
    let media = media_type(req.headers());
    let json = match media.as_deref() {
        Some("application/timestamp-query") => false,
        Some("application/json") => true,
        other => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported media type {:?}, only [application/timestamp-query application/json] are allowed",
                    other.unwrap_or("application/octet-stream")
                ),
            )
        }
    };
    let body = match axum::body::to_bytes(req.into_body(), s.max_request_bytes).await {
        Ok(b) => b,
        Err(_) => return TsaError::TooLarge.into_response(),
    };
    let out = if json {
        s.tsa.timestamp_json(&body)
    } else {
        s.tsa.timestamp_der(&body)
    };
    match out {
        Ok(der) => {
            let mut resp = Response::new(Body::from(der));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/timestamp-reply"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(
                    "no-cache, no-store, no-transform, must-revalidate, private, max-age=0",
                ),
            );
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn certchain(State(s): State<AppState>) -> Response {
    let mut resp = Response::new(Body::from(s.tsa.chain_pem()));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pem-certificate-chain"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, immutable"),
    );
    resp
}

async fn metrics(State(s): State<AppState>) -> Response {
    sigstack_http::metrics_response(sigstack_http::render(s.tsa.registry()))
}

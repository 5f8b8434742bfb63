//! Rekor v1 REST API (axum). Handlers parse and validate requests and shape
//! responses; the log logic lives in [`crate::service`].

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::service::{LookupError, Service};

/// An error in Rekor's shape: `{"code": <status>, "message": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub location: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            location: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.status.as_u16(), "message": self.message});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(loc) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            resp.headers_mut().insert(header::LOCATION, loc);
        }
        resp
    }
}

impl From<LookupError> for ApiError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error reading the log",
                )
            }
        }
    }
}

/// 404 for entry lookups has no body upstream.
fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

pub fn router(svc: Arc<Service>) -> Router {
    // The v2 routes, at the v2 log's URL path (rekor-tiles serves them at
    // its root; here they share a listener with v1).
    let v2 = Router::new()
        .route("/api/v2/log/entries", post(create_entry_v2))
        .route("/checkpoint", get(v2_checkpoint))
        .route("/tile/{*path}", get(v2_tile));
    let prefix = svc.v2().map(|l| l.path_prefix().to_owned());
    let base = match prefix.as_deref() {
        Some("") => v2,
        Some(p) => Router::new().nest(p, v2),
        None => Router::new(),
    };
    base.route(
        "/api/v1/log/entries",
        post(create_entry).get(entry_by_index),
    )
    .route("/api/v1/log/entries/retrieve", post(search_log_query))
    .route("/api/v1/log/entries/retrieve/", post(search_log_query))
    .route("/api/v1/log/entries/{id}", get(entry_by_uuid))
    .route("/api/v1/log", get(log_info))
    .route("/api/v1/log/publicKey", get(public_key))
    .route("/api/v1/log/proof", get(log_proof))
    .route("/api/v1/index/retrieve", post(search_index))
    .route("/healthz", get(healthz))
    .route("/metrics", get(metrics))
    .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "path not found") })
    // Metrics by matched route (not raw path, so that entry IDs do not
    // explode label cardinality).
    .layer(middleware::from_fn_with_state(
        svc.metrics().http.clone(),
        sigstack_http::observe,
    ))
    .layer(middleware::from_fn(no_cache))
    .with_state(svc)
}

/// GET responses reflect the moving head; upstream marks them no-cache.
async fn no_cache(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    resp
}

async fn read_json(svc: &Service, body: Body) -> Result<Value, ApiError> {
    let limit = svc.max_request_bytes();
    let bytes: Bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the maximum of {limit} bytes"),
        )
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("error parsing request body as JSON: {e}")))
}

async fn create_entry(State(svc): State<Arc<Service>>, req: Request) -> Response {
    let value = match read_json(&svc, req.into_body()).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match svc.create(&value).await {
        Ok(entry) => {
            let mut resp = sigstack_http::json_response(StatusCode::CREATED, &entry);
            let h = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&entry.id) {
                h.insert(header::ETAG, v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/log/entries/{}", entry.id)) {
                h.insert(header::LOCATION, v);
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct IndexQuery {
    #[serde(rename = "logIndex")]
    log_index: Option<String>,
}

async fn entry_by_index(State(svc): State<Arc<Service>>, Query(q): Query<IndexQuery>) -> Response {
    let Some(raw) = q.log_index else {
        return ApiError::bad_request("logIndex is required").into_response();
    };
    let Ok(index) = raw.parse::<i64>() else {
        return ApiError::bad_request(format!("logIndex {raw:?} is not an integer"))
            .into_response();
    };
    if index < 0 {
        return ApiError::bad_request("logIndex must be greater than or equal to 0")
            .into_response();
    }
    match svc.entry_by_index(index as u64) {
        Ok(Some(entry)) => sigstack_http::json_response(StatusCode::OK, &entry),
        Ok(None) => not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn entry_by_uuid(State(svc): State<Arc<Service>>, Path(id): Path<String>) -> Response {
    let leaf = match svc.parse_entry_id(&id) {
        Ok(Some(leaf)) => leaf,
        Ok(None) => return not_found(),
        Err(e) => return e.into_response(),
    };
    match svc.entry_by_leaf(&leaf) {
        Ok(Some(entry)) => sigstack_http::json_response(StatusCode::OK, &entry),
        Ok(None) => not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn search_log_query(State(svc): State<Arc<Service>>, req: Request) -> Response {
    let value = match read_json(&svc, req.into_body()).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match svc.search_log_query(&value) {
        Ok(results) => sigstack_http::json_response(StatusCode::OK, &results),
        Err(e) => e.into_response(),
    }
}

async fn log_info(State(svc): State<Arc<Service>>) -> Response {
    sigstack_http::json_response(StatusCode::OK, &svc.log_info())
}

#[derive(Deserialize)]
struct TreeQuery {
    #[serde(rename = "treeID")]
    tree_id: Option<String>,
}

async fn public_key(State(svc): State<Arc<Service>>, Query(q): Query<TreeQuery>) -> Response {
    if let Err(e) = svc.check_tree_id(q.tree_id.as_deref()) {
        return e.into_response();
    }
    let mut resp = Response::new(Body::from(svc.public_key_pem()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    resp
}

#[derive(Deserialize)]
struct ProofQuery {
    #[serde(rename = "firstSize")]
    first_size: Option<String>,
    #[serde(rename = "lastSize")]
    last_size: Option<String>,
    #[serde(rename = "treeID")]
    tree_id: Option<String>,
}

async fn log_proof(State(svc): State<Arc<Service>>, Query(q): Query<ProofQuery>) -> Response {
    let parse =
        |name: &str, v: Option<&str>, default: Option<u64>| -> Result<u64, ApiError> {
            match v {
                None => default.ok_or_else(|| ApiError::bad_request(format!("{name} is required"))),
                Some(s) => s.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ApiError::bad_request(format!("{name} must be an integer >= 1"))
                }),
            }
        };
    let result = (|| {
        svc.check_tree_id(q.tree_id.as_deref())?;
        let first = parse("firstSize", q.first_size.as_deref(), Some(1))?;
        let last = parse("lastSize", q.last_size.as_deref(), None)?;
        svc.consistency_proof(first, last)
    })();
    match result {
        Ok(v) => sigstack_http::json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

async fn search_index(State(svc): State<Arc<Service>>, req: Request) -> Response {
    let value = match read_json(&svc, req.into_body()).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match svc.search_index(&value) {
        Ok(ids) => sigstack_http::json_response(StatusCode::OK, &json!(ids)),
        Err(e) => e.into_response(),
    }
}

async fn healthz(State(svc): State<Arc<Service>>) -> Response {
    let head = svc.head();
    sigstack_http::json_response(
        StatusCode::OK,
        &json!({"status": "ok", "treeSize": head.size}),
    )
}

async fn metrics(State(svc): State<Arc<Service>>) -> Response {
    sigstack_http::metrics_response(svc.render_metrics())
}

// ---------------------------------------------------------------- Rekor v2

/// grpc-gateway's error body (`{"code": <gRPC code>, "message", "details"}`),
/// which rekor-tiles' clients parse, with its HTTP status.
fn v2_error(status: StatusCode, grpc_code: u16, message: impl Into<String>) -> Response {
    sigstack_http::json_response(
        status,
        &json!({"code": grpc_code, "message": message.into(), "details": []}),
    )
}

fn no_v2() -> Response {
    v2_error(StatusCode::NOT_FOUND, 5, "this server runs no Rekor v2 log")
}

async fn create_entry_v2(State(svc): State<Arc<Service>>, body: Body) -> Response {
    use crate::v2::WriteError;
    let Some(log) = svc.v2() else {
        return no_v2();
    };
    let limit = svc.max_request_bytes();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return v2_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            8,
            format!("request body exceeds the maximum of {limit} bytes"),
        );
    };
    match log.create(&bytes).await {
        Ok(entry) => {
            let kind = entry["kindVersion"]["kind"].as_str().unwrap_or("unknown");
            svc.metrics().outcome(&format!("v2-{kind}"), "added");
            sigstack_http::json_response(StatusCode::CREATED, &entry)
        }
        Err(e) => {
            let (status, code, outcome) = match &e {
                WriteError::Invalid(_) | WriteError::TooLarge(_) => {
                    (StatusCode::BAD_REQUEST, 3, "invalid")
                }
                WriteError::Duplicate(_) => (StatusCode::CONFLICT, 6, "duplicate"),
                WriteError::Busy => (StatusCode::SERVICE_UNAVAILABLE, 14, "busy"),
                WriteError::Internal(m) => {
                    tracing::error!(error = %m, "v2 append failed");
                    (StatusCode::INTERNAL_SERVER_ERROR, 2, "error")
                }
            };
            svc.metrics().outcome("v2", outcome);
            let mut resp = v2_error(status, code, e.to_string());
            if let WriteError::Duplicate(i) = e {
                if let Ok(v) = HeaderValue::from_str(&i.to_string()) {
                    resp.headers_mut().insert("x-log-index", v);
                }
            }
            resp
        }
    }
}

async fn v2_checkpoint(State(svc): State<Arc<Service>>) -> Response {
    let Some(log) = svc.v2() else {
        return no_v2();
    };
    let mut resp = Response::new(Body::from(log.head().checkpoint.to_vec()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Tiles and entry bundles never change once they exist (a partial tile of
/// width W is final for that width), so they are cached for good.
async fn v2_tile(State(svc): State<Arc<Service>>, Path(path): Path<String>) -> Response {
    let Some(log) = svc.v2() else {
        return no_v2();
    };
    let Some((level, index, width)) = crate::v2::parse_tile_path(&path) else {
        return (StatusCode::NOT_FOUND, "not a tile path\n").into_response();
    };
    let found = match level {
        Some(l) => log.tile(l, index, width),
        None => log.entry_bundle(index, width),
    };
    match found {
        Ok(Some(bytes)) => {
            let mut resp = Response::new(Body::from(bytes));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            resp
        }
        Ok(None) => (StatusCode::NOT_FOUND, "no such tile yet\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reading a tile failed");
            v2_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                2,
                "internal error reading the log",
            )
        }
    }
}

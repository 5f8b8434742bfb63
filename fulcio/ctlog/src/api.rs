//! RFC 6962 §4 HTTP API (axum). Handlers parse and validate parameters and
//! shape JSON; the log logic lives in [`crate::service`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::chain::Kind;
use crate::service::{LeafEntry, RequestError, Service};

/// An error response: `{"error": "..."}` with the status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        sigstack_http::json_response(self.status, &json!({ "error": self.message }))
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::BadRequest(m) => ApiError::bad_request(m),
            RequestError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, m),
            RequestError::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the log is overloaded, retry later",
            ),
            RequestError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

fn ok_json(value: Value) -> Response {
    sigstack_http::json_response(StatusCode::OK, &value)
}

/// The API under `prefix` (e.g. `""` as TesseraCT, or `"/test"` as a
/// Trillian CTFE log URL `http://host:6962/test`).
pub fn router(svc: Arc<Service>, prefix: &str) -> Router {
    let p = |path: &str| format!("{prefix}/ct/v1/{path}");
    Router::new()
        .route(&p("add-chain"), post(add_chain))
        .route(&p("add-pre-chain"), post(add_pre_chain))
        .route(&p("get-sth"), get(get_sth))
        .route(&p("get-sth-consistency"), get(get_sth_consistency))
        .route(&p("get-proof-by-hash"), get(get_proof_by_hash))
        .route(&p("get-entries"), get(get_entries))
        .route(&p("get-roots"), get(get_roots))
        .route(&p("get-entry-and-proof"), get(get_entry_and_proof))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "path not found") })
        .layer(middleware::from_fn_with_state(
            svc.metrics().http.clone(),
            sigstack_http::observe,
        ))
        .with_state(svc)
}

async fn read_body(svc: &Service, body: Body) -> Result<Bytes, ApiError> {
    let limit = svc.max_request_bytes();
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the maximum of {limit} bytes"),
        )
    })
}

async fn submit(svc: Arc<Service>, req: Request, kind: Kind) -> Response {
    let body = match read_body(&svc, req.into_body()).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    match svc.add_chain(&body, kind).await {
        Ok(sct) => ok_json(sct.to_add_chain_response()),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn add_chain(State(svc): State<Arc<Service>>, req: Request) -> Response {
    submit(svc, req, Kind::X509).await
}

async fn add_pre_chain(State(svc): State<Arc<Service>>, req: Request) -> Response {
    submit(svc, req, Kind::Precert).await
}

type Params = Query<HashMap<String, String>>;

/// A required non-negative decimal parameter (digits only, as Go's
/// `strconv.ParseInt` after the sign check).
fn param_u64(q: &HashMap<String, String>, name: &str) -> Result<u64, ApiError> {
    let v = q
        .get(name)
        .ok_or_else(|| ApiError::bad_request(format!("missing parameter {name}")))?;
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(format!(
            "parameter {name} must be a non-negative integer, got {v:?}"
        )));
    }
    v.parse::<u64>()
        .map_err(|_| ApiError::bad_request(format!("parameter {name} is out of range")))
}

fn b64_hashes(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes.iter().map(|h| STANDARD.encode(h)).collect()
}

fn entry_json(e: &LeafEntry) -> Value {
    json!({
        "leaf_input": STANDARD.encode(&e.leaf_input),
        "extra_data": STANDARD.encode(&e.extra_data),
    })
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => ok_json(v),
        Err(e) => e.into_response(),
    }
}

async fn get_sth(State(svc): State<Arc<Service>>) -> Response {
    respond(svc.sth().map_err(ApiError::from).map(|sth| {
        json!({
            "tree_size": sth.tree_size,
            "timestamp": sth.timestamp_ms,
            "sha256_root_hash": STANDARD.encode(sth.root),
            "tree_head_signature": STANDARD.encode(&sth.signature),
        })
    }))
}

async fn get_sth_consistency(State(svc): State<Arc<Service>>, Query(q): Params) -> Response {
    respond((|| {
        let first = param_u64(&q, "first")?;
        let second = param_u64(&q, "second")?;
        let proof = svc.consistency(first, second)?;
        Ok(json!({ "consistency": b64_hashes(&proof) }))
    })())
}

async fn get_proof_by_hash(State(svc): State<Arc<Service>>, Query(q): Params) -> Response {
    respond((|| {
        let raw = q
            .get("hash")
            .ok_or_else(|| ApiError::bad_request("missing parameter hash"))?;
        let hash: [u8; 32] = STANDARD
            .decode(raw)
            .ok()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| {
                ApiError::bad_request("parameter hash must be a base64 32-byte leaf hash")
            })?;
        let tree_size = param_u64(&q, "tree_size")?;
        let (index, proof) = svc.proof_by_hash(&hash, tree_size)?;
        Ok(json!({ "leaf_index": index, "audit_path": b64_hashes(&proof) }))
    })())
}

async fn get_entries(State(svc): State<Arc<Service>>, Query(q): Params) -> Response {
    respond((|| {
        let start = param_u64(&q, "start")?;
        let end = param_u64(&q, "end")?;
        let entries = svc.entries(start, end)?;
        Ok(json!({ "entries": entries.iter().map(entry_json).collect::<Vec<_>>() }))
    })())
}

async fn get_roots(State(svc): State<Arc<Service>>) -> Response {
    let certs: Vec<String> = svc.roots().map(|d| STANDARD.encode(d)).collect();
    ok_json(json!({ "certificates": certs }))
}

async fn get_entry_and_proof(State(svc): State<Arc<Service>>, Query(q): Params) -> Response {
    respond((|| {
        let index = param_u64(&q, "leaf_index")?;
        let tree_size = param_u64(&q, "tree_size")?;
        let (entry, proof) = svc.entry_and_proof(index, tree_size)?;
        let mut v = entry_json(&entry);
        v["audit_path"] = json!(b64_hashes(&proof));
        Ok(v)
    })())
}

async fn healthz(State(svc): State<Arc<Service>>) -> Response {
    ok_json(json!({"status": "ok", "tree_size": svc.head().size}))
}

async fn metrics(State(svc): State<Arc<Service>>) -> Response {
    sigstack_http::metrics_response(svc.render_metrics())
}

//! Fulcio's HTTP API as grpc-gateway serves it: protojson bodies (camelCase
//! or snake_case names accepted, unknown fields ignored), errors as
//! `{"code","message","details":[]}`. Handlers parse; [`crate::service`] decides.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use crate::cert;
use crate::service::{
    chain_pems_trimmed, Fulcio, FulcioError, KeyRequest, CODE_RESOURCE_EXHAUSTED, MSG_CSR, MSG_KEY,
};

/// grpc-gateway's limit (`maxMsgSize = 1<<22`).
pub const MAX_BODY_BYTES: usize = 4 << 20;

impl IntoResponse for FulcioError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "message": self.message, "details": []});
        let status =
            StatusCode::from_u16(self.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        sigstack_http::json_response(status, &body)
    }
}

fn pem_chain_response(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pem-certificate-chain"),
    );
    resp
}

pub fn router(f: Arc<Fulcio>) -> Router {
    Router::new()
        .route("/api/v2/signingCert", post(signing_cert_v2))
        .route("/api/v2/trustBundle", get(trust_bundle))
        .route("/api/v2/configuration", get(configuration))
        .route("/api/v1/signingCert", post(signing_cert_v1))
        .route("/api/v1/rootCert", get(root_cert))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            FulcioError {
                http_status: 404,
                code: 5,
                message: "Not Found".into(),
            }
        })
        .layer(middleware::from_fn_with_state(
            f.metrics.http.clone(),
            sigstack_http::observe,
        ))
        .with_state(f)
}

async fn read_body(body: Body) -> Result<Bytes, FulcioError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| FulcioError {
            http_status: 413,
            code: CODE_RESOURCE_EXHAUSTED,
            message: format!("request body larger than {MAX_BODY_BYTES} bytes"),
        })
}

/// protojson `bytes`: standard or URL-safe base64, padded or not.
fn proto_bytes(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
        .ok()
}

#[derive(Deserialize, Default)]
struct Credentials {
    #[serde(default, alias = "oidc_identity_token")]
    #[serde(rename = "oidcIdentityToken")]
    oidc_identity_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct PublicKeyMsg {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize, Default)]
struct PublicKeyRequest {
    #[serde(default, rename = "publicKey", alias = "public_key")]
    public_key: Option<PublicKeyMsg>,
    #[serde(default, rename = "proofOfPossession", alias = "proof_of_possession")]
    proof_of_possession: Option<String>,
}

#[derive(Deserialize, Default)]
struct SigningCertV2 {
    #[serde(default)]
    credentials: Option<Credentials>,
    #[serde(default, rename = "publicKeyRequest", alias = "public_key_request")]
    public_key_request: Option<PublicKeyRequest>,
    #[serde(
        default,
        rename = "certificateSigningRequest",
        alias = "certificate_signing_request"
    )]
    certificate_signing_request: Option<String>,
}

/// The token from `Authorization`, with the first `"Bearer "` removed as the gateway does.
fn bearer(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.replacen("Bearer ", "", 1))
        .unwrap_or_default()
}

fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, FulcioError> {
    serde_json::from_slice(bytes)
        .map_err(|e| FulcioError::bad_request(format!("invalid request body: {e}")))
}

async fn signing_cert_v2(State(f): State<Arc<Fulcio>>, headers: HeaderMap, body: Body) -> Response {
    match signing_cert_v2_inner(&f, &headers, body).await {
        Ok(chain) => sigstack_http::json_response(
            StatusCode::OK,
            &json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": chain_pems_trimmed(&chain)}}}),
        ),
        Err(e) => e.into_response(),
    }
}

async fn signing_cert_v2_inner(
    f: &Fulcio,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<Vec<u8>>, FulcioError> {
    let bytes = read_body(body).await?;
    let req: SigningCertV2 = parse_json(&bytes)?;
    let token = req
        .credentials
        .and_then(|c| c.oidc_identity_token)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| bearer(headers));
    let key = if let Some(csr) = req.certificate_signing_request.filter(|c| !c.is_empty()) {
        KeyRequest::Csr(proto_bytes(&csr).ok_or_else(|| FulcioError::bad_request(MSG_CSR))?)
    } else if let Some(pkr) = req.public_key_request {
        let content = pkr
            .public_key
            .and_then(|k| k.content)
            .unwrap_or_default()
            .into_bytes();
        let proof = pkr
            .proof_of_possession
            .as_deref()
            .map(|p| {
                proto_bytes(p)
                    .ok_or_else(|| FulcioError::bad_request("invalid base64 in proofOfPossession"))
            })
            .transpose()?
            .unwrap_or_default();
        KeyRequest::PublicKey { content, proof }
    } else {
        // Upstream authenticates first: a bad token wins over a missing key.
        KeyRequest::PublicKey {
            content: Vec::new(),
            proof: Vec::new(),
        }
    };
    f.create_signing_certificate(&token, key).await
}

#[derive(Deserialize, Default)]
struct LegacyPublicKey {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize, Default)]
struct SigningCertV1 {
    #[serde(default, rename = "publicKey", alias = "public_key")]
    public_key: Option<LegacyPublicKey>,
    #[serde(default, rename = "signedEmailAddress", alias = "signed_email_address")]
    signed_email_address: Option<String>,
    #[serde(
        default,
        rename = "certificateSigningRequest",
        alias = "certificate_signing_request"
    )]
    certificate_signing_request: Option<String>,
}

/// Legacy v1: token only from `Authorization`; `publicKey.content` is base64
/// of PEM or DER; 201 with a PEM chain.
async fn signing_cert_v1(State(f): State<Arc<Fulcio>>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let bytes = read_body(body).await?;
        let req: SigningCertV1 = parse_json(&bytes)?;
        let key = if let Some(csr) = req.certificate_signing_request.filter(|c| !c.is_empty()) {
            KeyRequest::Csr(proto_bytes(&csr).ok_or_else(|| FulcioError::bad_request(MSG_CSR))?)
        } else {
            let content = match req.public_key.and_then(|k| k.content) {
                Some(c) => proto_bytes(&c).ok_or_else(|| FulcioError::bad_request(MSG_KEY))?,
                None => Vec::new(),
            };
            let proof = match req.signed_email_address {
                Some(p) => proto_bytes(&p).ok_or_else(|| {
                    FulcioError::bad_request("invalid base64 in signedEmailAddress")
                })?,
                None => Vec::new(),
            };
            KeyRequest::PublicKey { content, proof }
        };
        f.create_signing_certificate(&bearer(&headers), key).await
    }
    .await;
    match result {
        Ok(chain) => {
            let pems: Vec<String> = chain_pems_trimmed(&chain);
            pem_chain_response(StatusCode::CREATED, pems.join("\n"))
        }
        Err(e) => e.into_response(),
    }
}

async fn trust_bundle(State(f): State<Arc<Fulcio>>) -> Response {
    let certs: Vec<String> = f.ca.chain_der().iter().map(|d| cert::to_pem(d)).collect();
    sigstack_http::json_response(
        StatusCode::OK,
        &json!({"chains": [{"certificates": certs}]}),
    )
}

async fn configuration(State(f): State<Arc<Fulcio>>) -> Response {
    sigstack_http::json_response(StatusCode::OK, &f.config.configuration_json())
}

async fn root_cert(State(f): State<Arc<Fulcio>>) -> Response {
    let mut body = String::new();
    for d in f.ca.chain_der() {
        body.push_str(&cert::to_pem(d));
        body.push('\n');
    }
    pem_chain_response(StatusCode::OK, body.trim().to_string())
}

async fn healthz() -> Response {
    sigstack_http::json_response(StatusCode::OK, &json!({"status": "SERVING"}))
}

async fn metrics(State(f): State<Arc<Fulcio>>) -> Response {
    sigstack_http::metrics_response(f.metrics.render())
}

//! A development OIDC issuer, for local stacks and CI only (it authenticates
//! nobody: any username gets a token). Off unless started.
//!
//! * `GET /.well-known/openid-configuration`, `GET /jwks`: discovery and the
//!   signing key, kept in a key file so tokens survive a restart. New keys
//!   are RSA-2048 and tokens RS256, as most identity providers issue them:
//!   Go cosign only recognises an `--identity-token` value as a token when
//!   it is RS256 (anything else is taken for a file name). An existing
//!   P-256 key file keeps working (ES256).
//! * `POST /token` (form-encoded, standard OAuth 2.0 error shape):
//!   - `grant_type=password&client_id=sigstore&username=U`: `sub` = U, plus
//!     `email` and `email_verified: true` when U is an address;
//!   - `grant_type=client_credentials&client_id=C`: a workload identity
//!     issued by `<issuer>/workloads` with the URI subject
//!     `<issuer>/workloads/C` (configure Fulcio with a `uri` issuer for it);
//!   - `grant_type=urn:ietf:params:oauth:grant-type:device_code`: RFC 8628.
//! * `POST /device/code`, `GET|POST /device`: the device authorization flow
//!   for a person at a terminal (the page asks for a username and approves).
//! * `GET|POST /authorize` + `grant_type=authorization_code`: the browser
//!   sign-in (authorization code flow, PKCE S256 required, codes single-use
//!   and valid for a minute); the page asks for a username, and the ID token
//!   carries the request's `nonce`.
//!
//! The ID token's `aud` is the client ID (`sigstore` for Fulcio).

pub mod cli;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use rand_core::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The sub-issuer for workload (client credentials) tokens.
pub const WORKLOAD_PATH: &str = "/workloads";
const DEVICE_TTL: Duration = Duration::from_secs(600);
const DEVICE_INTERVAL_S: u64 = 1;
const MAX_PENDING_DEVICES: usize = 1024;
const CODE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum DevIssuerError {
    #[error("the issuer key must be RSA (2048 bits or more) or ECDSA P-256")]
    KeyType,
    #[error("issuer URL: {0}")]
    Url(String),
}

#[derive(Clone, Hash, PartialEq, Eq, Debug, EncodeLabelSet)]
struct GrantLabels {
    grant: String,
    outcome: String,
}

struct Device {
    user_code: String,
    client_id: String,
    created: Instant,
    approved: Option<String>,
}

/// An authorization code waiting to be exchanged.
struct AuthCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    username: String,
    created: Instant,
}

struct Inner {
    issuer: String,
    key: IssuerKey,
    kid: String,
    jwks: Value,
    ttl: Duration,
    devices: Mutex<HashMap<String, Device>>,
    codes: Mutex<HashMap<String, AuthCode>>,
    tokens: Family<GrantLabels, Counter>,
    http: sigstack_http::HttpMetrics,
    registry: Registry,
}

/// The issuer's state, shared by the handlers.
#[derive(Clone)]
pub struct DevIssuer(Arc<Inner>);

/// The issuer's signing key.
pub enum IssuerKey {
    /// Kept as the PKCS#1 v1.5 signer, built once (not per token).
    Rs256(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>),
    Es256(p256::ecdsa::SigningKey),
}

impl IssuerKey {
    /// A new RSA-2048 key.
    pub fn generate() -> Result<Self, DevIssuerError> {
        rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
            .map(|k| IssuerKey::Rs256(Box::new(rsa::pkcs1v15::SigningKey::new(k))))
            .map_err(|_| DevIssuerError::KeyType)
    }

    /// Reads a PKCS#8 PEM key (RSA or P-256).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, DevIssuerError> {
        use pkcs8::DecodePrivateKey;
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
            use rsa::traits::PublicKeyParts;
            if k.size() * 8 < 2048 {
                return Err(DevIssuerError::KeyType);
            }
            return Ok(IssuerKey::Rs256(Box::new(rsa::pkcs1v15::SigningKey::new(
                k,
            ))));
        }
        p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map(IssuerKey::Es256)
            .map_err(|_| DevIssuerError::KeyType)
    }

    pub fn to_pkcs8_pem(&self) -> Result<String, DevIssuerError> {
        use pkcs8::EncodePrivateKey;
        let doc = match self {
            IssuerKey::Rs256(k) => {
                let key: &rsa::RsaPrivateKey = (**k).as_ref();
                key.to_pkcs8_pem(pkcs8::LineEnding::LF)
            }
            IssuerKey::Es256(k) => k.to_pkcs8_pem(pkcs8::LineEnding::LF),
        };
        doc.map(|d| d.to_string())
            .map_err(|_| DevIssuerError::KeyType)
    }

    fn alg(&self) -> &'static str {
        match self {
            IssuerKey::Rs256(_) => "RS256",
            IssuerKey::Es256(_) => "ES256",
        }
    }

    fn spki_der(&self) -> Vec<u8> {
        use spki::EncodePublicKey;
        match self {
            IssuerKey::Rs256(k) => AsRef::<rsa::RsaPrivateKey>::as_ref(&**k)
                .to_public_key()
                .to_public_key_der()
                .map(|d| d.to_vec())
                .unwrap_or_default(),
            IssuerKey::Es256(k) => k
                .verifying_key()
                .to_public_key_der()
                .map(|d| d.to_vec())
                .unwrap_or_default(),
        }
    }

    fn jwk(&self, kid: &str) -> Value {
        match self {
            IssuerKey::Rs256(k) => {
                use rsa::traits::PublicKeyParts;
                let k: &rsa::RsaPrivateKey = (**k).as_ref();
                json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                    "n": URL_SAFE_NO_PAD.encode(k.n().to_bytes_be()),
                    "e": URL_SAFE_NO_PAD.encode(k.e().to_bytes_be())})
            }
            IssuerKey::Es256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                    "x": URL_SAFE_NO_PAD.encode(point.x().map(|x| x.to_vec()).unwrap_or_default()),
                    "y": URL_SAFE_NO_PAD.encode(point.y().map(|y| y.to_vec()).unwrap_or_default())})
            }
        }
    }

    /// The JWS signature over `input`: PKCS#1 v1.5 SHA-256, or raw r‖s.
    fn sign(&self, input: &[u8]) -> Vec<u8> {
        use signature::{SignatureEncoding, Signer};
        match self {
            IssuerKey::Rs256(k) => k.sign(input).to_vec(),
            IssuerKey::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(input);
                sig.to_bytes().to_vec()
            }
        }
    }
}

/// An OAuth 2.0 error response (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random_code(alphabet: &[u8], len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

/// A plausible e-mail address: one `@`, non-empty local part, a dotted or
/// `localhost` domain, no spaces.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !s.contains(char::is_whitespace)
        && (domain.contains('.') || domain == "localhost")
}

impl DevIssuer {
    /// `issuer` is the URL clients (and Fulcio) use; `key` must be P-256.
    pub fn new(issuer: &str, key: IssuerKey, ttl: Duration) -> Result<Self, DevIssuerError> {
        let issuer = issuer.trim_end_matches('/').to_string();
        url::Url::parse(&issuer).map_err(|e| DevIssuerError::Url(e.to_string()))?;
        // Stable across restarts with the same key file: clients that cached
        // the JWKS keep working.
        let kid = hex::encode(&Sha256::digest(key.spki_der())[..8]);
        let jwks = json!({"keys": [key.jwk(&kid)]});
        let mut registry = Registry::default();
        let tokens = Family::<GrantLabels, Counter>::default();
        registry.register(
            "oidc_dev_tokens",
            "ID tokens requested, by grant and outcome",
            tokens.clone(),
        );
        let http = sigstack_http::HttpMetrics::register(&mut registry);
        Ok(DevIssuer(Arc::new(Inner {
            issuer,
            key,
            kid,
            jwks,
            ttl,
            devices: Mutex::new(HashMap::new()),
            codes: Mutex::new(HashMap::new()),
            tokens,
            http,
            registry,
        })))
    }

    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The workload sub-issuer URL.
    pub fn workload_issuer(&self) -> String {
        format!("{}{WORKLOAD_PATH}", self.0.issuer)
    }

    /// Mints an ID token (RS256, or ES256 with a P-256 key file).
    pub fn mint(&self, iss: &str, sub: &str, aud: &str, email: Option<&str>) -> String {
        self.mint_with_nonce(iss, sub, aud, email, None)
    }

    fn mint_with_nonce(
        &self,
        iss: &str,
        sub: &str,
        aud: &str,
        email: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let now = now_s();
        let header = json!({"alg": self.0.key.alg(), "typ": "JWT", "kid": self.0.kid});
        let mut claims = json!({"iss": iss, "sub": sub, "aud": aud, "iat": now, "nbf": now,
            "exp": now + self.0.ttl.as_secs()});
        if let Some(e) = email {
            claims["email"] = json!(e);
            claims["email_verified"] = json!(true);
        }
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let raw = self.0.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
    }

    fn token_response(&self, id_token: String) -> Response {
        (
            [(header::CACHE_CONTROL, "no-store")],
            Json(
                json!({"access_token": id_token, "id_token": id_token, "token_type": "Bearer",
                "expires_in": self.0.ttl.as_secs(), "scope": "openid email"}),
            ),
        )
            .into_response()
    }

    fn count(&self, grant: &str, outcome: &str) {
        self.0
            .tokens
            .get_or_create(&GrantLabels {
                grant: grant.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// A person's token: `sub` = username, `email` when it is an address.
    fn person_token(&self, username: &str, client_id: &str, nonce: Option<&str>) -> String {
        let email = is_email(username).then_some(username);
        self.mint_with_nonce(&self.0.issuer, username, client_id, email, nonce)
    }
}

/// The router: `/` is the person issuer, `/workloads` the workload issuer.
pub fn router(issuer: DevIssuer) -> Router {
    let http = issuer.0.http.clone();
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route(
            "/workloads/.well-known/openid-configuration",
            get(workload_discovery),
        )
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .route("/device/code", post(device_code))
        .route("/device", get(device_page).post(device_approve))
        .route("/authorize", get(authorize_page).post(authorize_approve))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(http, sigstack_http::observe))
        .with_state(issuer)
}

fn discovery_doc(s: &DevIssuer, iss: &str) -> Value {
    let base = &s.0.issuer;
    json!({
        "issuer": iss,
        "jwks_uri": format!("{base}/jwks"),
        "token_endpoint": format!("{base}/token"),
        "device_authorization_endpoint": format!("{base}/device/code"),
        "authorization_endpoint": format!("{base}/authorize"),
        "response_types_supported": ["code", "id_token"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [s.0.key.alg()],
        "grant_types_supported": ["authorization_code", "password", "client_credentials", DEVICE_GRANT],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
        "scopes_supported": ["openid", "email"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "email", "email_verified"],
    })
}

async fn discovery(State(s): State<DevIssuer>) -> Json<Value> {
    let iss = s.0.issuer.clone();
    Json(discovery_doc(&s, &iss))
}

async fn workload_discovery(State(s): State<DevIssuer>) -> Json<Value> {
    Json(discovery_doc(&s, &s.workload_issuer()))
}

async fn jwks(State(s): State<DevIssuer>) -> Json<Value> {
    Json(s.0.jwks.clone())
}

async fn metrics(State(s): State<DevIssuer>) -> Response {
    sigstack_http::metrics_response(sigstack_http::render(&s.0.registry))
}

type FormMap = HashMap<String, String>;

fn field<'a>(f: &'a FormMap, name: &str) -> Option<&'a str> {
    f.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

async fn token(State(s): State<DevIssuer>, Form(f): Form<FormMap>) -> Response {
    let grant = field(&f, "grant_type").unwrap_or("");
    let Some(client_id) = field(&f, "client_id") else {
        s.count(grant, "invalid_client");
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id is required",
        );
    };
    match grant {
        "password" => {
            if client_id != "sigstore" {
                s.count(grant, "invalid_client");
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "the password grant is for client_id=sigstore",
                );
            }
            let Some(username) = field(&f, "username") else {
                s.count(grant, "invalid_request");
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "username is required",
                );
            };
            s.count(grant, "issued");
            let t = s.person_token(username, client_id, None);
            s.token_response(t)
        }
        "client_credentials" => {
            if !client_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            {
                s.count(grant, "invalid_client");
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client_id must be URL-safe ([A-Za-z0-9-._~])",
                );
            }
            let iss = s.workload_issuer();
            let sub = format!("{iss}/{client_id}");
            // Fulcio's audience is `sigstore`; a workload asks for it.
            let aud = field(&f, "audience").unwrap_or("sigstore");
            s.count(grant, "issued");
            let t = s.mint(&iss, &sub, aud, None);
            s.token_response(t)
        }
        DEVICE_GRANT => {
            let Some(code) = field(&f, "device_code") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "device_code is required",
                );
            };
            let mut devices = s.0.devices.lock().unwrap_or_else(|e| e.into_inner());
            let Some(d) = devices.get(code) else {
                s.count(grant, "invalid_grant");
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown device_code",
                );
            };
            if d.created.elapsed() > DEVICE_TTL {
                devices.remove(code);
                s.count(grant, "expired_token");
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "expired_token",
                    "the device code expired",
                );
            }
            if d.client_id != client_id {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "device_code was issued to another client",
                );
            }
            match d.approved.clone() {
                None => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "authorization_pending",
                    "waiting for the user to approve",
                ),
                Some(user) => {
                    devices.remove(code);
                    drop(devices);
                    s.count(grant, "issued");
                    let t = s.person_token(&user, client_id, None);
                    s.token_response(t)
                }
            }
        }
        "authorization_code" => s.exchange_code(&f, client_id),
        "" => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
        other => {
            s.count("other", "unsupported_grant_type");
            oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {other:?} is not supported"),
            )
        }
    }
}

async fn device_code(State(s): State<DevIssuer>, Form(f): Form<FormMap>) -> Response {
    let Some(client_id) = field(&f, "client_id") else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id is required",
        );
    };
    let device_code = random_code(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        40,
    );
    // Unambiguous letters for a person to type (RFC 8628 §6.1).
    let user_code = random_code(b"BCDFGHJKLMNPQRSTVWXZ", 8);
    let mut devices = s.0.devices.lock().unwrap_or_else(|e| e.into_inner());
    devices.retain(|_, d| d.created.elapsed() <= DEVICE_TTL);
    if devices.len() >= MAX_PENDING_DEVICES {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many pending device authorizations",
        );
    }
    devices.insert(
        device_code.clone(),
        Device {
            user_code: user_code.clone(),
            client_id: client_id.to_string(),
            created: Instant::now(),
            approved: None,
        },
    );
    let uri = format!("{}/device", s.0.issuer);
    Json(json!({"device_code": device_code, "user_code": user_code,
        "verification_uri": uri, "verification_uri_complete": format!("{uri}?user_code={user_code}"),
        "expires_in": DEVICE_TTL.as_secs(), "interval": DEVICE_INTERVAL_S}))
    .into_response()
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '&' => "&amp;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

async fn device_page(Query(q): Query<FormMap>) -> Html<String> {
    let code = html_escape(q.get("user_code").map(String::as_str).unwrap_or(""));
    Html(format!(
        "<!doctype html><title>sigstack dev sign-in</title><h1>Development sign-in</h1>\
         <p>Local development issuer: whatever you enter is who the token says you are.</p>\
         <form method=post action=device><label>Code <input name=user_code value=\"{code}\"></label><br>\
         <label>Username or e-mail <input name=username></label><br><button>Approve</button></form>"
    ))
}

async fn device_approve(State(s): State<DevIssuer>, Form(f): Form<FormMap>) -> Response {
    let (Some(code), Some(user)) = (field(&f, "user_code"), field(&f, "username")) else {
        return (
            StatusCode::BAD_REQUEST,
            Html("user_code and username are required".to_string()),
        )
            .into_response();
    };
    let code = code.trim().to_ascii_uppercase();
    let mut devices = s.0.devices.lock().unwrap_or_else(|e| e.into_inner());
    let found = devices
        .values_mut()
        .find(|d| d.user_code == code && d.approved.is_none() && d.created.elapsed() <= DEVICE_TTL);
    match found {
        Some(d) => {
            d.approved = Some(user.to_string());
            Html(format!(
                "<p>Approved as {}. You can close this page.</p>",
                html_escape(user)
            ))
            .into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Html("unknown or expired code".to_string()),
        )
            .into_response(),
    }
}

/// The parameters of an authorization request, checked: `Err` is the
/// reason, shown on the page (never sent to an unchecked redirect URI).
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    challenge: String,
}

fn auth_request(q: &FormMap) -> Result<AuthRequest, String> {
    if field(q, "response_type") != Some("code") {
        return Err("response_type must be code".into());
    }
    let client_id = field(q, "client_id").ok_or("client_id is required")?;
    let redirect_uri = field(q, "redirect_uri").ok_or("redirect_uri is required")?;
    let parsed = url::Url::parse(redirect_uri).map_err(|e| format!("redirect_uri: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.fragment().is_some() {
        return Err("redirect_uri must be an http(s) URL without a fragment".into());
    }
    if field(q, "code_challenge_method") != Some("S256") {
        return Err("PKCE is required: code_challenge_method=S256".into());
    }
    let challenge = field(q, "code_challenge").ok_or("code_challenge is required")?;
    Ok(AuthRequest {
        client_id: client_id.into(),
        redirect_uri: redirect_uri.into(),
        state: field(q, "state").map(str::to_owned),
        nonce: field(q, "nonce").map(str::to_owned),
        challenge: challenge.into(),
    })
}

fn bad_page(reason: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<p>Bad sign-in request: {}</p>",
            html_escape(reason)
        )),
    )
        .into_response()
}

/// `GET /authorize`: the sign-in page, carrying the request in hidden fields.
async fn authorize_page(Query(q): Query<FormMap>) -> Response {
    if let Err(reason) = auth_request(&q) {
        return bad_page(&reason);
    }
    let hidden: String = [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "scope",
    ]
    .iter()
    .filter_map(|k| {
        q.get(*k)
            .map(|v| format!("<input type=hidden name={k} value=\"{}\">", html_escape(v)))
    })
    .collect();
    Html(format!(
        "<!doctype html><title>sigstack dev sign-in</title><h1>Development sign-in</h1>\
         <p>Local development issuer: whatever you enter is who the token says you are.</p>\
         <form method=post action=authorize>{hidden}\
         <label>Username or e-mail <input name=username autofocus></label><br><button>Sign in</button></form>"
    ))
    .into_response()
}

/// `POST /authorize`: issues a code for the username and sends the browser
/// back to the client's redirect URI.
async fn authorize_approve(State(s): State<DevIssuer>, Form(f): Form<FormMap>) -> Response {
    let req = match auth_request(&f) {
        Ok(r) => r,
        Err(reason) => return bad_page(&reason),
    };
    let Some(username) = field(&f, "username") else {
        return bad_page("username is required");
    };
    let code = random_code(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        40,
    );
    {
        let mut codes = s.0.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes.retain(|_, c| c.created.elapsed() <= CODE_TTL);
        if codes.len() >= MAX_PENDING_DEVICES {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Html("too many pending sign-ins".to_string()),
            )
                .into_response();
        }
        codes.insert(
            code.clone(),
            AuthCode {
                client_id: req.client_id,
                redirect_uri: req.redirect_uri.clone(),
                challenge: req.challenge,
                nonce: req.nonce,
                username: username.to_string(),
                created: Instant::now(),
            },
        );
    }
    // Checked by auth_request.
    let Ok(mut target) = url::Url::parse(&req.redirect_uri) else {
        return bad_page("redirect_uri");
    };
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(st) = &req.state {
        target.query_pairs_mut().append_pair("state", st);
    }
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, target.to_string())],
    )
        .into_response()
}

impl DevIssuer {
    /// `grant_type=authorization_code`: the code (once, within its TTL), the
    /// same client and redirect URI, and the PKCE verifier.
    fn exchange_code(&self, f: &FormMap, client_id: &str) -> Response {
        const G: &str = "authorization_code";
        let invalid = |s: &Self, m: &str| {
            s.count(G, "invalid_grant");
            oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", m)
        };
        let (Some(code), Some(verifier)) = (field(f, "code"), field(f, "code_verifier")) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "code and code_verifier are required",
            );
        };
        // Removed whatever happens next: a code is good for one attempt.
        let entry = self
            .0
            .codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(code);
        let Some(c) = entry else {
            return invalid(self, "unknown or already used code");
        };
        if c.created.elapsed() > CODE_TTL {
            return invalid(self, "the code expired");
        }
        if c.client_id != client_id || field(f, "redirect_uri") != Some(c.redirect_uri.as_str()) {
            return invalid(
                self,
                "client_id or redirect_uri differs from the authorization request",
            );
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if computed != c.challenge {
            return invalid(self, "code_verifier does not match the code_challenge");
        }
        self.count(G, "issued");
        let t = self.person_token(&c.username, client_id, c.nonce.as_deref());
        self.token_response(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@example.com", "dev@localhost", "x.y+z@sub.example.org"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "alice",
            "@example.com",
            "a@",
            "a@b@c.com",
            "a b@example.com",
            "a@nodot",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}

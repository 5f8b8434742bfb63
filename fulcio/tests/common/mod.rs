//! Test harness: an in-process OIDC provider (discovery + JWKS, ES256 tokens
//! minted by the test), our CT log and our Fulcio, all on 127.0.0.1:0.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sigstack_core::keys::SigningKey;

pub struct Oidc {
    pub base: String,
    pub key: SigningKey,
    pub kid: String,
}

impl Oidc {
    /// Issuer URL for one of the provider's tenants (each has its own discovery document).
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}", self.base)
    }

    /// An ES256 token with the standard claims plus `extra`.
    pub fn token(&self, tenant: &str, sub: &str, extra: Value) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = json!({
            "iss": self.issuer(tenant), "sub": sub, "aud": ["sigstore"],
            "iat": now, "exp": now + 600,
        });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        self.sign(
            &json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}),
            &claims,
        )
    }

    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap());
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
        let input = format!("{h}.{c}");
        // JWS ES256 wants the raw r||s signature, not DER.
        let der = self.key.sign(input.as_bytes());
        let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }
}

async fn discovery(State(base): State<Arc<String>>, Path(tenant): Path<String>) -> Json<Value> {
    Json(json!({
        "issuer": format!("{base}/{tenant}"),
        "jwks_uri": format!("{base}/jwks"),
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
    }))
}

pub async fn start_oidc() -> Oidc {
    let key = SigningKey::generate_p256();
    let kid = "test-key-1".to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let point = key.public_key().to_spki_der();
    // Last 64 bytes of a P-256 SPKI are X || Y.
    let xy = &point[point.len() - 64..];
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&xy[..32]), "y": URL_SAFE_NO_PAD.encode(&xy[32..]),
    }]});
    let app = Router::new()
        .route("/{tenant}/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(move || async move { Json(jwks) }))
        .with_state(Arc::new(base.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Oidc { base, key, kid }
}

/// Fulcio issuer configuration for the mock's tenants.
pub fn issuer_config(oidc: &Oidc) -> String {
    let i = |t: &str| oidc.issuer(t);
    json!({
        "OIDCIssuers": {
            i("email"): {"IssuerURL": i("email"), "ClientID": "sigstore", "Type": "email"},
            i("uri"): {"IssuerURL": i("uri"), "ClientID": "sigstore", "Type": "uri", "SubjectDomain": "http://127.0.0.1"},
            i("username"): {"IssuerURL": i("username"), "ClientID": "sigstore", "Type": "username", "SubjectDomain": "127.0.0.1"},
            i("k8s"): {"IssuerURL": i("k8s"), "ClientID": "sigstore", "Type": "kubernetes"},
            i("spiffe"): {"IssuerURL": i("spiffe"), "ClientID": "sigstore", "Type": "spiffe", "SPIFFETrustDomain": "example.org"},
            i("gha"): {"IssuerURL": i("gha"), "ClientID": "sigstore", "Type": "ci-provider", "CIProvider": "github-workflow"},
        },
        "CIIssuerMetadata": {
            "github-workflow": {
                "DefaultTemplateValues": {"url": "https://github.com"},
                "SubjectAlternativeNameTemplate": "{{ .url }}/{{ .job_workflow_ref }}",
                "ExtensionTemplates": {
                    "GithubWorkflowTrigger": "event_name",
                    "BuildSignerURI": "{{ .url }}/{{ .job_workflow_ref }}",
                    "RunInvocationURI": "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}",
                    "SourceRepositoryIdentifier": "repository_id"
                }
            }
        }
    })
    .to_string()
}

//! Fulcio issuance (`fulcio-issue`): `POST /api/v2/signingCert` in the sigstore-js form
//! (token in the body, publicKeyRequest + proof of possession).
//!
//! The OIDC issuer is a tiny discovery + JWKS server run by the load generator itself, so
//! the benchmark measures the CA (token verification, PoP, precert, CT log round trip, final
//! certificate) and not a third-party identity provider. Tokens are minted before the timed
//! phase (ES256) and each request picks one at random: Fulcio does not track token reuse.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use hyper::{Method, StatusCode, Uri};
use serde_json::{json, Value};
use sigstack_core::keys::SigningKey;

use crate::http::{Req, Resp, Target};
use crate::util::SplitMix64;
use crate::workload::{Check, Workload};

pub const SIGNING_CERT_PATH: &str = "/api/v2/signingCert";
pub const EMAIL: &str = "loadgen@example.com";

/// The mock issuer: answers discovery and JWKS on `listen` from a background thread.
pub struct MockIssuer {
    pub url: String,
    key: SigningKey,
    /// Unique per process: a later run on the same address must look like a key
    /// rotation (unknown kid → JWKS refresh), not a forged signature.
    kid: String,
}

impl MockIssuer {
    pub fn start(listen: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
        let url = format!("http://{}", listener.local_addr()?);
        let key = SigningKey::generate_p256();
        let spki = key.public_key().to_spki_der();
        let xy = &spki[spki.len() - 64..];
        let kid = format!("loadgen-{}", hex::encode(&xy[..8]));
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&xy[..32]), "y": URL_SAFE_NO_PAD.encode(&xy[32..])}]})
        .to_string();
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/jwks"),
            "id_token_signing_alg_values_supported": ["ES256"]})
        .to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (jwks, discovery) = (jwks.clone(), discovery.clone());
                std::thread::spawn(move || serve_one(stream, &discovery, &jwks));
            }
        });
        Ok(MockIssuer { url, key, kid })
    }

    /// An ES256 ID token for `EMAIL`, valid for `ttl_s`.
    pub fn token(&self, i: u64, ttl_s: u64) -> anyhow::Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let claims = json!({"iss": self.url, "sub": format!("loadgen-{i}"), "aud": "sigstore",
            "iat": now, "exp": now + ttl_s, "email": EMAIL, "email_verified": true});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let der = self.key.sign(input.as_bytes());
        // JWS ES256 is the raw r||s, not DER.
        let raw = p256::ecdsa::Signature::from_der(&der).context("ES256 signature")?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(raw.to_bytes())
        ))
    }
}

/// One request per connection; enough for an issuer that is hit once per JWKS refresh.
fn serve_one(mut s: std::net::TcpStream, discovery: &str, jwks: &str) {
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    let path = head.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = match path {
        "/.well-known/openid-configuration" => ("200 OK", discovery),
        "/jwks" => ("200 OK", jwks),
        _ => ("404 Not Found", "{}"),
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

pub struct FulcioIssue {
    uri: Uri,
    /// One request body per token; requests pick one at random (no per-request work).
    bodies: Vec<Bytes>,
}

impl FulcioIssue {
    pub fn new(
        target: &Target,
        issuer: &MockIssuer,
        tokens: usize,
        ttl_s: u64,
    ) -> anyhow::Result<Self> {
        let key = SigningKey::generate_p256();
        let key_pem = key.public_key().to_pem();
        let pop = STANDARD.encode(key.sign(EMAIL.as_bytes()));
        let bodies = (0..tokens.max(1) as u64)
            .map(|i| {
                let body = json!({"credentials": {"oidcIdentityToken": issuer.token(i, ttl_s)?},
                    "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": key_pem},
                                         "proofOfPossession": pop}});
                let mut out = BytesMut::new();
                out.put_slice(body.to_string().as_bytes());
                Ok(out.freeze())
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(FulcioIssue {
            uri: target.uri(SIGNING_CERT_PATH),
            bodies,
        })
    }
}

impl Workload for FulcioIssue {
    fn name(&self) -> &'static str {
        "fulcio-issue"
    }

    fn request(&self, _: &Bytes, rng: &mut SplitMix64) -> Req {
        let i = (rng.next_u64() % self.bodies.len() as u64) as usize;
        Req {
            method: Method::POST,
            uri: self.uri.clone(),
            body: self.bodies[i].clone(),
            tag: 0,
        }
    }

    fn check(&self, _req: &Req, resp: &Resp, verify: bool) -> Check {
        if resp.status != StatusCode::OK {
            return Check::Status;
        }
        if !verify {
            return Check::Ok { verified: false };
        }
        let v: Value = match serde_json::from_slice(&resp.body) {
            Ok(v) => v,
            Err(e) => return Check::Invalid(format!("response is not JSON: {e}")),
        };
        let chain = &v["signedCertificateEmbeddedSct"]["chain"]["certificates"];
        match chain.as_array() {
            Some(c) if c.len() >= 2 => {
                let leaf = c[0].as_str().unwrap_or("");
                match sigstack_core::pem::parse_labeled(leaf.as_bytes(), "CERTIFICATE")
                    .ok()
                    .map(|der| sigstack_core::ct::embedded_scts(&der))
                {
                    Some(Ok(scts)) if scts.len() == 1 => Check::Ok { verified: true },
                    other => Check::Invalid(format!("leaf without exactly one SCT: {other:?}")),
                }
            }
            _ => Check::Invalid("no certificate chain in the response".into()),
        }
    }
}

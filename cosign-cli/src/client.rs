//! The services a signer talks to: Fulcio (API v2 `signingCert`) and Rekor v1
//! (`POST /api/v1/log/entries`), as sigstore-go calls them, plus the
//! conversion of a Rekor v1 response into the bundle's log entry.
//!
//! Everything here is blocking from the caller's point of view: the CLI runs
//! one request at a time, so each call drives a small current-thread runtime.

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;
use sigstack_core::keys::HashAlgorithm;
use sigstack_core::trust::{
    Checkpoint, InclusionPromise, InclusionProof, KindVersion, LogId, TransparencyLogEntry,
};

use crate::keys::PrivateKey;

/// Why a service call failed; each names the service and what it said.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{service}: {message}")]
    Transport {
        service: &'static str,
        message: String,
    },
    #[error("{service} returned HTTP {status}: {message}")]
    Status {
        service: &'static str,
        status: u16,
        message: String,
    },
    #[error("{service}: unexpected response: {message}")]
    Response {
        service: &'static str,
        message: String,
    },
    #[error("identity token: {0}")]
    Token(String),
}

fn response(service: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::Response {
        service,
        message: message.into(),
    }
}

/// A blocking HTTP client over reqwest (rustls; the system roots plus
/// `SSL_CERT_FILE`, so a private CA works as for Go clients).
pub struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    pub fn new(timeout: Duration) -> Result<Self, ServiceError> {
        let transport = |e: &dyn std::fmt::Display| ServiceError::Transport {
            service: "http",
            message: e.to_string(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| transport(&e))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("sigstack-cosign/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| transport(&e))?;
        Ok(Http { rt, client })
    }

    /// POSTs JSON; returns the status, the `Location` header and the body.
    fn post_json(
        &self,
        service: &'static str,
        url: &str,
        body: &Value,
        bearer: Option<&str>,
    ) -> Result<(u16, Option<String>, Vec<u8>), ServiceError> {
        let mut req = self.client.post(url).json(body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        self.send(service, req)
    }

    fn get(&self, service: &'static str, url: &str) -> Result<(u16, Vec<u8>), ServiceError> {
        let (status, _, body) = self.send(service, self.client.get(url))?;
        Ok((status, body))
    }

    fn send(
        &self,
        service: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, Option<String>, Vec<u8>), ServiceError> {
        self.rt.block_on(async {
            let transport = |e: reqwest::Error| ServiceError::Transport {
                service,
                message: format!("{e:#}"),
            };
            let resp = req.send().await.map_err(transport)?;
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = resp.bytes().await.map_err(transport)?.to_vec();
            Ok((status, location, body))
        })
    }

    /// Fulcio API v2: a certificate for `key`, proving possession by signing
    /// `subject` (the token's email, else its `sub`). Returns the chain
    /// (DER, leaf first): the leaf goes into bundles and log entries, the
    /// rest only into the legacy `chain` annotation (verifiers take the CAs
    /// from the trusted root).
    pub fn fulcio_certificate(
        &self,
        fulcio_url: &str,
        token: &str,
        key: &PrivateKey,
        subject: &str,
    ) -> Result<Vec<Vec<u8>>, ServiceError> {
        const S: &str = "Fulcio";
        let proof = key
            .sign(subject.as_bytes())
            .map_err(|e| ServiceError::Token(e.to_string()))?;
        let body = json!({
            "publicKeyRequest": {
                "publicKey": {"algorithm": fulcio_algorithm(key), "content": key.public_key().to_pem()},
                "proofOfPossession": STANDARD.encode(proof),
            }
        });
        let url = format!("{}/api/v2/signingCert", fulcio_url.trim_end_matches('/'));
        let (status, _, resp) = self.post_json(S, &url, &body, Some(token))?;
        if status != 200 && status != 201 {
            return Err(status_error(S, status, &resp));
        }
        let v: Value = serde_json::from_slice(&resp).map_err(|e| response(S, e.to_string()))?;
        let certs = v
            .pointer("/signedCertificateEmbeddedSct/chain/certificates")
            .or_else(|| v.pointer("/signedCertificateDetachedSct/chain/certificates"))
            .and_then(Value::as_array)
            .ok_or_else(|| response(S, "no certificate chain"))?;
        // Every certificate must be a PEM certificate.
        let chain = certs
            .iter()
            .map(|pem| {
                let pem = pem
                    .as_str()
                    .ok_or_else(|| response(S, "a certificate is not a string"))?;
                sigstack_core::pem::parse_labeled(pem.as_bytes(), "CERTIFICATE")
                    .map_err(|e| response(S, e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if chain.is_empty() {
            return Err(response(S, "empty certificate chain"));
        }
        Ok(chain)
    }

    /// Rekor v1: uploads `entry` (a proposed entry) and returns the entry as
    /// a bundle carries it. A duplicate (409) is fetched from its `Location`,
    /// as sigstore-go does, so signing the same thing twice still works.
    pub fn rekor_upload(
        &self,
        rekor_url: &str,
        entry: &Value,
    ) -> Result<TransparencyLogEntry, ServiceError> {
        const S: &str = "Rekor";
        let base = rekor_url.trim_end_matches('/');
        let (status, location, body) =
            self.post_json(S, &format!("{base}/api/v1/log/entries"), entry, None)?;
        let body = match status {
            201 => body,
            409 => {
                let loc = location.ok_or_else(|| response(S, "409 without a Location header"))?;
                let url = if loc.starts_with("http") {
                    loc
                } else {
                    format!("{base}{loc}")
                };
                let (status, body) = self.get(S, &url)?;
                if status != 200 {
                    return Err(status_error(S, status, &body));
                }
                body
            }
            _ => return Err(status_error(S, status, &body)),
        };
        let v: Value = serde_json::from_slice(&body).map_err(|e| response(S, e.to_string()))?;
        entry_from_rekor_v1(&v).map_err(|m| response(S, m))
    }
}

impl Http {
    /// Rekor v2: uploads a `CreateEntryRequest` (protojson) to
    /// `<url>/api/v2/log/entries` and returns the `TransparencyLogEntry` it
    /// answers (proto3 JSON, the bundle's own format). Anything but 201 is
    /// an error, as in every upstream v2 client (a duplicate, 409, too).
    pub fn rekor_v2_upload(
        &self,
        url: &str,
        request: &Value,
    ) -> Result<TransparencyLogEntry, ServiceError> {
        const S: &str = "Rekor v2";
        let endpoint = format!("{}/api/v2/log/entries", url.trim_end_matches('/'));
        let (status, _, body) = self.post_json(S, &endpoint, request, None)?;
        if status != 201 {
            return Err(status_error(S, status, &body));
        }
        let mut v: Value = serde_json::from_slice(&body).map_err(|e| response(S, e.to_string()))?;
        // proto3 JSON with every field present: nulls are absent values here.
        if let Some(o) = v.as_object_mut() {
            o.retain(|_, x| !x.is_null());
        }
        let e: TransparencyLogEntry =
            serde_json::from_value(v).map_err(|e| response(S, format!("entry: {e}")))?;
        if e.inclusion_proof.is_none() {
            return Err(response(S, "the entry has no inclusion proof"));
        }
        Ok(e)
    }

    /// RFC 3161: a timestamp over `signature` from the TSA at `url` (the
    /// signing config's `tsaUrls[].url`, used as is). The request is DER,
    /// SHA-256, with a nonce and `certReq` (as sigstore-python sends it); the
    /// answer must be granted, stamp exactly this signature and echo the
    /// nonce. Returns the DER `TimeStampResp` the bundle stores. Whether the
    /// TSA is trusted is the verifier's question, not the signer's.
    pub fn tsa_timestamp(&self, url: &str, signature: &[u8]) -> Result<Vec<u8>, ServiceError> {
        use sigstack_core::tsp::{TimeStampRequest, TimeStampResponse};
        const S: &str = "TSA";
        let req = TimeStampRequest::for_data(HashAlgorithm::Sha256, signature);
        let post = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
            .body(req.to_der());
        let (status, _, body) = self.send(S, post)?;
        if status != 200 && status != 201 {
            return Err(status_error(S, status, &body));
        }
        let resp = TimeStampResponse::from_der(&body).map_err(|e| response(S, e.to_string()))?;
        let tst = &resp.tst_info;
        if tst.hash.digest(signature) != tst.hashed_message {
            return Err(response(S, "the timestamp is not over the signature"));
        }
        if tst.nonce != req.nonce {
            return Err(response(
                S,
                "the timestamp does not echo the request's nonce",
            ));
        }
        Ok(body)
    }

    /// Rekor v1: the logged entry equal to `proposed` (`POST
    /// /api/v1/log/entries/retrieve`), for verifying a signature that came
    /// without a bundle. `Ok(None)`: the log has no such entry.
    pub fn rekor_find(
        &self,
        rekor_url: &str,
        proposed: &Value,
    ) -> Result<Option<TransparencyLogEntry>, ServiceError> {
        const S: &str = "Rekor";
        let url = format!(
            "{}/api/v1/log/entries/retrieve",
            rekor_url.trim_end_matches('/')
        );
        let (status, _, body) = self.post_json(S, &url, &json!({ "entries": [proposed] }), None)?;
        if status != 200 {
            return Err(status_error(S, status, &body));
        }
        let v: Value = serde_json::from_slice(&body).map_err(|e| response(S, e.to_string()))?;
        match v.as_array().and_then(|a| a.first()) {
            None => Ok(None),
            Some(found) => entry_from_rekor_v1(found)
                .map(Some)
                .map_err(|m| response(S, m)),
        }
    }
}

/// The OAuth 2.0 device grant (RFC 8628).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

impl Http {
    /// The issuer's OpenID discovery document.
    pub fn discovery(&self, issuer: &str) -> Result<Value, ServiceError> {
        self.get_json(
            "OIDC issuer",
            &format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ),
        )
    }

    /// GET with a bearer token, JSON back (ambient token endpoints).
    pub fn get_json_bearer(
        &self,
        service: &'static str,
        url: &str,
        bearer: &str,
    ) -> Result<Value, ServiceError> {
        let (status, _, body) = self.send(service, self.client.get(url).bearer_auth(bearer))?;
        if status != 200 {
            return Err(status_error(service, status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| response(service, e.to_string()))
    }

    fn get_json(&self, service: &'static str, url: &str) -> Result<Value, ServiceError> {
        let (status, body) = self.get(service, url)?;
        if status != 200 {
            return Err(status_error(service, status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| response(service, e.to_string()))
    }

    pub(crate) fn post_form(
        &self,
        service: &'static str,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, Value), ServiceError> {
        let (status, _, body) = self.send(service, self.client.post(url).form(form))?;
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok((status, v))
    }

    /// An ID token by the device authorization flow (RFC 8628, with PKCE as
    /// sigstore's `oauthflow` sends it): `show(user_code, verification_uri,
    /// verification_uri_complete)` tells the person what to do; the token
    /// endpoint is then polled at the issuer's interval (plus 5 s on
    /// `slow_down`) until approval, refusal or expiry.
    pub fn device_flow(
        &self,
        issuer: &str,
        client_id: &str,
        show: &dyn Fn(&str, &str, Option<&str>),
    ) -> Result<String, ServiceError> {
        const S: &str = "OIDC issuer";
        let disc = self.discovery(issuer)?;
        let endpoint = |k: &str| {
            disc.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| response(S, format!("discovery has no {k}")))
        };
        let device_ep = endpoint("device_authorization_endpoint")?;
        let token_ep = endpoint("token_endpoint")?;
        let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let (status, auth) = self.post_form(
            S,
            &device_ep,
            &[
                ("client_id", client_id),
                ("scope", "openid email"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )?;
        if status != 200 {
            return Err(ServiceError::Status {
                service: S,
                status,
                message: auth.to_string(),
            });
        }
        let field = |k: &str| {
            auth.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| response(S, format!("device authorization has no {k}")))
        };
        let device_code = field("device_code")?;
        show(
            &field("user_code")?,
            &field("verification_uri")?,
            auth.get("verification_uri_complete")
                .and_then(Value::as_str),
        );
        let mut interval = auth.get("interval").and_then(Value::as_u64).unwrap_or(5);
        let expires = auth
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(300);
        let deadline = std::time::Instant::now() + Duration::from_secs(expires);
        loop {
            std::thread::sleep(Duration::from_secs(interval));
            if std::time::Instant::now() > deadline {
                return Err(ServiceError::Token(
                    "the device code expired before it was approved".into(),
                ));
            }
            let (status, v) = self.post_form(
                S,
                &token_ep,
                &[
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", &device_code),
                    ("client_id", client_id),
                    ("code_verifier", &verifier),
                ],
            )?;
            if status == 200 {
                return v
                    .get("id_token")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| response(S, "the token response has no id_token"));
            }
            match v.get("error").and_then(Value::as_str) {
                Some("authorization_pending") => {}
                Some("slow_down") => interval += 5,
                Some(e) => {
                    let d = v
                        .get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    return Err(ServiceError::Token(format!("device flow refused: {e} {d}")));
                }
                None => return Err(status_error(S, status, v.to_string().as_bytes())),
            }
        }
    }
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b
}

/// The algorithm name Fulcio's v2 `publicKey.algorithm` takes.
fn fulcio_algorithm(key: &PrivateKey) -> &'static str {
    match key {
        PrivateKey::P256(_) | PrivateKey::P384(_) | PrivateKey::P521(_) => "ECDSA",
        PrivateKey::Ed25519(_) => "ED25519",
        PrivateKey::Rsa(_) => "RSA_PSS",
    }
}

/// An error status, with the service's own message when it sent one
/// (Rekor: `{"code","message"}`, Fulcio: `{"code","message","details"}`).
fn status_error(service: &'static str, status: u16, body: &[u8]) -> ServiceError {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    ServiceError::Status {
        service,
        status,
        message,
    }
}

/// A hashedrekord v0.0.1 proposed entry: digest, signature and the
/// verifier's PEM (public key or certificate), as cosign uploads it.
pub fn hashedrekord(
    alg: HashAlgorithm,
    digest: &[u8],
    signature: &[u8],
    verifier_pem: &str,
) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": alg.rekor_name(), "value": hex::encode(digest)}},
            "signature": {
                "content": STANDARD.encode(signature),
                "publicKey": {"content": STANDARD.encode(verifier_pem)},
            }
        }
    })
}

/// Converts Rekor v1's `{"<uuid>": {body, integratedTime, logID, logIndex,
/// verification}}` into the bundle's `TransparencyLogEntry`: hex log ID and
/// hashes become bytes, the global `logIndex` stays at the top and the
/// shard-local index in the proof; the kind comes from the body.
pub fn entry_from_rekor_v1(v: &Value) -> Result<TransparencyLogEntry, String> {
    let obj = v.as_object().ok_or("not a JSON object")?;
    let (_, e) = obj.iter().next().ok_or("no entry in the response")?;
    let str_field = |p: &str| {
        e.pointer(p)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no {p}"))
    };
    let int_field = |p: &str| {
        e.pointer(p)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("no {p}"))
    };
    let body = STANDARD
        .decode(str_field("/body")?)
        .map_err(|_| "body is not base64")?;
    let parsed: Value = serde_json::from_slice(&body).map_err(|_| "body is not JSON")?;
    let kind_version = KindVersion {
        kind: parsed["kind"].as_str().unwrap_or_default().to_owned(),
        version: parsed["apiVersion"].as_str().unwrap_or_default().to_owned(),
    };
    let unhex = |s: &str| hex::decode(s).map_err(|_| format!("{s:?} is not hex"));
    let set = STANDARD
        .decode(str_field("/verification/signedEntryTimestamp")?)
        .map_err(|_| "signedEntryTimestamp is not base64")?;
    let proof = match e.pointer("/verification/inclusionProof") {
        Some(p) if !p.is_null() => Some(InclusionProof {
            log_index: p["logIndex"].as_i64().ok_or("no inclusionProof.logIndex")?,
            root_hash: unhex(p["rootHash"].as_str().ok_or("no inclusionProof.rootHash")?)?,
            tree_size: p["treeSize"].as_i64().ok_or("no inclusionProof.treeSize")?,
            hashes: p["hashes"]
                .as_array()
                .ok_or("no inclusionProof.hashes")?
                .iter()
                .map(|h| unhex(h.as_str().unwrap_or_default()))
                .collect::<Result<_, _>>()?,
            checkpoint: Some(Checkpoint {
                envelope: p["checkpoint"]
                    .as_str()
                    .ok_or("no inclusionProof.checkpoint")?
                    .to_owned(),
            }),
        }),
        _ => None,
    };
    Ok(TransparencyLogEntry {
        log_index: int_field("/logIndex")?,
        log_id: LogId {
            key_id: unhex(str_field("/logID")?)?,
        },
        kind_version,
        integrated_time: int_field("/integratedTime")?,
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: set,
        }),
        inclusion_proof: proof,
        canonicalized_body: body,
    })
}

/// The subject Fulcio's proof of possession is over: the token's `email`
/// claim when present, else `sub` (sigstore's `SubjectFromUnverifiedToken`).
/// The token is not verified here; Fulcio does that.
pub fn token_subject(token: &str) -> Result<String, ServiceError> {
    let claims = token_claims(token)?;
    claims
        .get("email")
        .and_then(Value::as_str)
        .or_else(|| claims.get("sub").and_then(Value::as_str))
        .map(str::to_owned)
        .ok_or_else(|| ServiceError::Token("the token has neither an email nor a sub claim".into()))
}

/// The unverified claims of a compact JWS, split and decoded by the same
/// parser Fulcio uses (`sigstack_oidc::Token`).
pub fn token_claims(token: &str) -> Result<sigstack_oidc::Claims, ServiceError> {
    sigstack_oidc::Token::parse(token)
        .map(|t| t.unverified_claims().clone())
        .map_err(|e| ServiceError::Token(e.to_string()))
}

/// `--identity-token` takes the token itself or a file holding it (Go cosign
/// tells them apart by trying to parse a JWT first).
pub fn resolve_token(value: &str) -> Result<String, ServiceError> {
    if token_claims(value).is_ok() {
        return Ok(value.to_owned());
    }
    let text = std::fs::read_to_string(value).map_err(|e| {
        ServiceError::Token(format!(
            "{value:?} is neither a JWT nor a readable file: {e}"
        ))
    })?;
    let token = text.trim().to_owned();
    token_claims(&token)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rekor_v1_response_becomes_a_bundle_entry() {
        let body = br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#;
        let v = json!({"24296fb24b8ad77a": {
            "body": STANDARD.encode(body), "integratedTime": 1700000000,
            "logID": "c0d23d6ad406973f", "logIndex": 42,
            "verification": {"signedEntryTimestamp": STANDARD.encode(b"set"),
                "inclusionProof": {"logIndex": 7, "rootHash": "00ff", "treeSize": 8,
                    "hashes": ["aa", "bb"], "checkpoint": "cp\n"}}}});
        let e = entry_from_rekor_v1(&v).unwrap();
        assert_eq!(e.log_index, 42);
        assert_eq!(e.log_id.key_id, hex::decode("c0d23d6ad406973f").unwrap());
        assert_eq!(e.kind_version.kind, "hashedrekord");
        assert_eq!(e.kind_version.version, "0.0.1");
        assert_eq!(e.integrated_time, 1700000000);
        assert_eq!(e.canonicalized_body, body);
        let p = e.inclusion_proof.unwrap();
        assert_eq!((p.log_index, p.tree_size), (7, 8));
        assert_eq!(p.root_hash, vec![0, 255]);
        assert_eq!(p.hashes, vec![vec![0xaa], vec![0xbb]]);
        assert_eq!(e.inclusion_promise.unwrap().signed_entry_timestamp, b"set");
        // Missing pieces are errors, not defaults.
        let mut broken = v.clone();
        broken["24296fb24b8ad77a"]["logID"] = json!("not hex");
        assert!(entry_from_rekor_v1(&broken).is_err());
        let mut broken = v.clone();
        broken["24296fb24b8ad77a"]["verification"] = json!({});
        assert!(entry_from_rekor_v1(&broken).is_err());
        assert!(entry_from_rekor_v1(&json!({})).is_err());
    }

    #[test]
    fn token_subject_prefers_email() {
        let jwt = |claims: Value| {
            format!(
                "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
            )
        };
        assert_eq!(
            token_subject(&jwt(json!({"sub": "123", "email": "a@b.c"}))).unwrap(),
            "a@b.c"
        );
        assert_eq!(
            token_subject(&jwt(json!({"sub": "spiffe://x"}))).unwrap(),
            "spiffe://x"
        );
        assert!(token_subject(&jwt(json!({"iss": "x"}))).is_err());
        assert!(token_subject("a.b").is_err());
        // A value that is not a JWT is read as a file path.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let t = jwt(json!({"sub": "s"}));
        std::fs::write(&path, format!("{t}\n")).unwrap();
        assert_eq!(resolve_token(path.to_str().unwrap()).unwrap(), t);
        assert_eq!(resolve_token(&t).unwrap(), t);
        assert!(resolve_token("/nonexistent/token").is_err());
    }
}

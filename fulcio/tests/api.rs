//! End to end over HTTP: mock OIDC provider → our Fulcio → our CT log, all in-process.

mod common;

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use der::{Decode, Encode};
use serde_json::{json, Value};
use sigstack_core::keys::{self, PublicKey, SigningKey};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use common::{issuer_config, start_oidc, Oidc};
use fulcio::ca::Ca;
use fulcio::config::FulcioConfig;
use fulcio::metrics::Metrics;
use fulcio::service::{CtLog, Fulcio};

struct Stack {
    oidc: Oidc,
    url: String,
    ct_url: String,
    ct_key: PublicKey,
    ct_shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    http: reqwest::Client,
}

async fn spawn<F>(make: F) -> (String, tokio::sync::oneshot::Sender<()>)
where
    F: FnOnce(
        tokio::net::TcpListener,
        tokio::sync::oneshot::Receiver<()>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(make(listener, rx));
    (url, tx)
}

async fn start() -> Stack {
    start_with(None).await
}

/// `ct_key_override`: the CT log key Fulcio is told to verify SCTs with
/// (default: the real one).
async fn start_with(ct_key_override: Option<PublicKey>) -> Stack {
    let oidc = start_oidc().await;
    let ca = Ca::ephemeral().unwrap();
    let roots = sigstack_ctlog::chain::Roots::from_der(vec![ca.root_der().to_vec()]).unwrap();
    let ct_signing = SigningKey::generate_p256();
    let ct_key = ct_signing.public_key();
    let ct = Arc::new(sigstack_ctlog::open_in_memory(ct_signing, roots).unwrap());
    let (ct_url, ct_tx) = spawn(move |l, rx| {
        Box::pin(async move {
            let _ = sigstack_ctlog::serve(l, ct, async {
                let _ = rx.await;
            })
            .await;
        })
    })
    .await;
    let fulcio = Arc::new(Fulcio {
        config: FulcioConfig::parse(issuer_config(&oidc).as_bytes()).unwrap(),
        verifier: sigstack_oidc::Verifier::new(Default::default()).unwrap(),
        ca,
        ct: CtLog::new(
            &ct_url,
            Some(ct_key_override.unwrap_or_else(|| ct_key.clone())),
        )
        .unwrap(),
        metrics: Arc::new(Metrics::default()),
    });
    let (url, f_tx) = spawn(move |l, rx| {
        Box::pin(async move {
            let _ = fulcio::serve(l, fulcio, None, async {
                let _ = rx.await;
            })
            .await;
        })
    })
    .await;
    std::mem::forget(f_tx);
    Stack {
        oidc,
        url,
        ct_url,
        ct_key,
        ct_shutdown: Some(ct_tx),
        http: reqwest::Client::new(),
    }
}

impl Stack {
    async fn post(&self, path: &str, body: &Value, bearer: Option<&str>) -> (u16, Value) {
        let mut r = self.http.post(format!("{}{path}", self.url)).json(body);
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn ct_size(&self) -> u64 {
        let v: Value = self
            .http
            .get(format!("{}/ct/v1/get-sth", self.ct_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["tree_size"].as_u64().unwrap()
    }
}

/// A publicKeyRequest body with a proof of possession over `name`.
fn pk_request(key: &SigningKey, name: &str) -> Value {
    json!({"publicKeyRequest": {
        "publicKey": {"algorithm": "ECDSA", "content": key.public_key().to_pem()},
        "proofOfPossession": STANDARD.encode(key.sign(name.as_bytes())),
    }})
}

fn chain_of(v: &Value) -> Vec<Vec<u8>> {
    v["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("no chain in {v}"))
        .iter()
        .map(|p| {
            sigstack_core::pem::parse_labeled(p.as_str().unwrap().as_bytes(), "CERTIFICATE")
                .unwrap()
        })
        .collect()
}

fn ext_value(c: &Certificate, oid: &str) -> Option<Vec<u8>> {
    c.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| e.extn_value.as_bytes().to_vec())
}

fn utf8_ext(c: &Certificate, arc: u32) -> Option<String> {
    let v = ext_value(c, &format!("1.3.6.1.4.1.57264.1.{arc}"))?;
    Some(
        der::asn1::Utf8StringRef::from_der(&v)
            .unwrap()
            .as_str()
            .to_string(),
    )
}

fn san(c: &Certificate) -> GeneralName {
    let v = ext_value(c, "2.5.29.17").unwrap();
    SubjectAltName::from_der(&v).unwrap().0.remove(0)
}

/// Chain signatures, the embedded SCT, and the leaf's fixed template.
fn check_issued(stack: &Stack, chain: &[Vec<u8>], key: &PublicKey) -> Certificate {
    assert_eq!(chain.len(), 3, "leaf, intermediate, root");
    let certs: Vec<Certificate> = chain
        .iter()
        .map(|d| Certificate::from_der(d).unwrap())
        .collect();
    for i in 0..2 {
        let parent = keys::certificate_public_key(&certs[i + 1]).unwrap();
        keys::verify_certificate_signature(&certs[i], &parent).unwrap();
    }
    let leaf = &certs[0];
    assert_eq!(
        keys::certificate_public_key(leaf).unwrap().to_spki_der(),
        key.to_spki_der()
    );
    assert!(leaf.tbs_certificate.subject.0.is_empty(), "empty subject");
    let scts = sigstack_core::ct::embedded_scts(&chain[0]).unwrap();
    assert_eq!(scts.len(), 1, "exactly one SCT");
    sigstack_core::ct::verify_embedded_sct(&chain[0], &chain[1], &scts[0], &stack.ct_key).unwrap();
    // The poison is gone and the SCT list is the last extension.
    let exts = leaf.tbs_certificate.extensions.as_ref().unwrap();
    assert_eq!(
        exts.last().unwrap().extn_id.to_string(),
        "1.3.6.1.4.1.11129.2.4.2"
    );
    assert!(ext_value(leaf, "1.3.6.1.4.1.11129.2.4.3").is_none());
    let crit: Vec<String> = exts
        .iter()
        .filter(|e| e.critical)
        .map(|e| e.extn_id.to_string())
        .collect();
    assert_eq!(
        crit,
        vec!["2.5.29.15", "2.5.29.17"],
        "only KU and SAN are critical"
    );
    let v = &leaf.tbs_certificate.validity;
    assert_eq!(
        v.not_after.to_unix_duration() - v.not_before.to_unix_duration(),
        std::time::Duration::from_secs(600)
    );
    leaf.clone()
}

#[tokio::test]
async fn email_identity_public_key_request() {
    let s = start().await;
    let key = SigningKey::generate_p256();
    let token = s.oidc.token(
        "email",
        "user-123",
        json!({"email": "alice@example.com", "email_verified": true}),
    );
    // Token in the body (sigstore-js).
    let mut body = pk_request(&key, "alice@example.com");
    body["credentials"] = json!({"oidcIdentityToken": token});
    let (st, v) = s.post("/api/v2/signingCert", &body, None).await;
    assert_eq!(st, 200, "{v}");
    let leaf = check_issued(&s, &chain_of(&v), &key.public_key());
    assert!(matches!(san(&leaf), GeneralName::Rfc822Name(e) if e.as_str() == "alice@example.com"));
    let iss = s.oidc.issuer("email");
    assert_eq!(
        ext_value(&leaf, "1.3.6.1.4.1.57264.1.1").unwrap(),
        iss.as_bytes()
    );
    assert_eq!(utf8_ext(&leaf, 8).unwrap(), iss);
    assert_eq!(utf8_ext(&leaf, 24).unwrap(), "user-123");
    assert_eq!(s.ct_size().await, 1);

    // Token in the Authorization header (cosign), snake_case field names.
    let token = s.oidc.token(
        "email",
        "user-123",
        json!({"email": "alice@example.com", "email_verified": "True"}),
    );
    let body = json!({"public_key_request": {
        "public_key": {"algorithm": "RSA", "content": key.public_key().to_pem()},
        "proof_of_possession": STANDARD.encode(key.sign(b"alice@example.com")),
    }, "someUnknownField": 1});
    let (st, v) = s.post("/api/v2/signingCert", &body, Some(&token)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(s.ct_size().await, 2);
}

/// Curves Go parses but Fulcio's key policy refuses (generated with openssl ecparam).
const P224_PEM: &str = "-----BEGIN PUBLIC KEY-----\nME4wEAYHKoZIzj0CAQYFK4EEACEDOgAEJrShksyHdUuscdC/VxGwGoEPaR0IF64w\nIaWxZf+CDOh+wryCc7P3BGNX0UfHXSfLv7D8KitOfdQ=\n-----END PUBLIC KEY-----\n";
const SECP256K1_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEF1/zLAq+biAcVR+MGHJk1gcXVBP99ABU\nd60LILa6BVlpnrTkw7vhlGSI7/Nsb01o4N0kS6DyhNo799FhmPe9Ow==\n-----END PUBLIC KEY-----\n";

/// HMAC-SHA256 (RFC 2104), for forging an HS256 token keyed with the public key.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn csr_pem(key: &SigningKey, sig_alg: &str) -> String {
    csr_pem_signed(key, key, sig_alg)
}

fn csr_pem_signed(key: &SigningKey, signer: &SigningKey, sig_alg: &str) -> String {
    use x509_cert::request::{CertReq, CertReqInfo};
    let info = CertReqInfo {
        version: x509_cert::request::Version::V1,
        subject: Default::default(),
        public_key: spki::SubjectPublicKeyInfoOwned::from_der(&key.public_key().to_spki_der())
            .unwrap(),
        attributes: Default::default(),
    };
    let tbs = info.to_der().unwrap();
    let sig = if sig_alg == "1.2.840.10045.4.3.3" {
        // ECDSA-SHA384 over a P-256 key: a valid signature that the allow-list refuses.
        use sha2::Digest;
        use signature::hazmat::PrehashSigner;
        let SigningKey::P256(k) = signer else {
            unreachable!()
        };
        let s: p256::ecdsa::Signature =
            k.inner().sign_prehash(&sha2::Sha384::digest(&tbs)).unwrap();
        s.to_der().as_bytes().to_vec()
    } else {
        signer.sign(&tbs)
    };
    let req = CertReq {
        info,
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: sig_alg.parse().unwrap(),
            parameters: None,
        },
        signature: der::asn1::BitString::from_bytes(&sig).unwrap(),
    };
    sigstack_core::pem::encode("CERTIFICATE REQUEST", &req.to_der().unwrap())
}

#[tokio::test]
async fn csr_form_and_identity_types() {
    let s = start().await;
    let key = SigningKey::generate_p256();
    let csr = STANDARD.encode(csr_pem(&key, "1.2.840.10045.4.3.2"));
    let body = json!({"certificateSigningRequest": csr});

    type SanCheck = Box<dyn Fn(&GeneralName) -> bool>;
    let cases: Vec<(&str, &str, Value, SanCheck)> = vec![
        (
            "uri",
            "http://127.0.0.1/svc/a",
            json!({}),
            Box::new(
                |g| matches!(g, GeneralName::UniformResourceIdentifier(u) if u.as_str() == "http://127.0.0.1/svc/a"),
            ),
        ),
        (
            "username",
            "bob",
            json!({}),
            Box::new(|g| {
                matches!(g, GeneralName::OtherName(o) if o.type_id.to_string() == "1.3.6.1.4.1.57264.1.7"
            && o.value.decode_as::<der::asn1::Utf8StringRef>().unwrap().as_str() == "bob!127.0.0.1")
            }),
        ),
        (
            "k8s",
            "system:serviceaccount:ns1:sa1",
            json!({"kubernetes.io": {"namespace": "ns1", "serviceaccount": {"name": "sa1"}}}),
            Box::new(
                |g| matches!(g, GeneralName::UniformResourceIdentifier(u) if u.as_str() == "https://kubernetes.io/namespaces/ns1/serviceaccounts/sa1"),
            ),
        ),
        (
            "spiffe",
            "spiffe://example.org/ns/a",
            json!({}),
            Box::new(
                |g| matches!(g, GeneralName::UniformResourceIdentifier(u) if u.as_str() == "spiffe://example.org/ns/a"),
            ),
        ),
        (
            "gha",
            "repo:o/r:ref:refs/heads/main",
            json!({"job_workflow_ref": "o/r/.github/workflows/w.yml@refs/heads/main",
            "event_name": "push", "repository": "o/r", "run_id": 42, "run_attempt": "1", "repository_id": "99"}),
            Box::new(
                |g| matches!(g, GeneralName::UniformResourceIdentifier(u) if u.as_str() == "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"),
            ),
        ),
    ];
    for (n, (tenant, sub, extra, want)) in cases.into_iter().enumerate() {
        let token = s.oidc.token(tenant, sub, extra);
        let (st, v) = s.post("/api/v2/signingCert", &body, Some(&token)).await;
        assert_eq!(st, 200, "{tenant}: {v}");
        let leaf = check_issued(&s, &chain_of(&v), &key.public_key());
        assert!(want(&san(&leaf)), "{tenant}: SAN {:?}", san(&leaf));
        assert_eq!(utf8_ext(&leaf, 24).unwrap(), sub, "{tenant}");
        if tenant == "gha" {
            assert_eq!(ext_value(&leaf, "1.3.6.1.4.1.57264.1.2").unwrap(), b"push");
            assert_eq!(
                utf8_ext(&leaf, 21).unwrap(),
                "https://github.com/o/r/actions/runs/42/attempts/1"
            );
            assert_eq!(utf8_ext(&leaf, 15).unwrap(), "99");
            assert_eq!(
                utf8_ext(&leaf, 9).unwrap(),
                "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"
            );
        }
        assert_eq!(s.ct_size().await, n as u64 + 1);
    }
}

#[tokio::test]
async fn refusals_log_nothing() {
    let s = start().await;
    let key = SigningKey::generate_p256();
    let good = |extra: Value| {
        s.oidc.token("email", "u", {
            let mut c = json!({"email": "alice@example.com", "email_verified": true});
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            c
        })
    };
    let body = pk_request(&key, "alice@example.com");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token_msg = "There was an error processing the identity token";

    // Flip a byte inside the decoded signature (the last base64 character
    // may only carry padding bits, which would make the token malformed
    // instead of wrongly signed).
    let forged = {
        let t = good(json!({}));
        let (input, sig) = t.rsplit_once('.').unwrap();
        let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .unwrap();
        raw[10] ^= 0x01;
        format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        )
    };
    let header_none = json!({"alg": "none", "typ": "JWT"});
    let claims = json!({"iss": s.oidc.issuer("email"), "sub": "u", "aud": "sigstore", "exp": now + 600, "iat": now,
                        "email": "alice@example.com", "email_verified": true});
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let alg_none = format!("{}.{}.", b64(&header_none), b64(&claims));
    let hs256 = {
        let input = format!(
            "{}.{}",
            b64(&json!({"alg": "HS256", "typ": "JWT"})),
            b64(&claims)
        );
        let mac = hmac_sha256(
            s.oidc.key.public_key().to_pem().as_bytes(),
            input.as_bytes(),
        );
        format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
        )
    };
    let mut other_issuer = claims.clone();
    other_issuer["iss"] = json!("https://unknown.example");
    let unknown_issuer = s
        .oidc
        .sign(&json!({"alg": "ES256", "kid": s.oidc.kid}), &other_issuer);

    let cases: Vec<(&str, String, Value, u16, &str)> = vec![
        (
            "expired",
            good(json!({"exp": now - 3600, "iat": now - 7200})),
            body.clone(),
            400,
            token_msg,
        ),
        (
            "not yet valid",
            good(json!({"nbf": now + 3600})),
            body.clone(),
            400,
            token_msg,
        ),
        (
            "wrong audience",
            good(json!({"aud": "other"})),
            body.clone(),
            400,
            token_msg,
        ),
        (
            "unknown issuer",
            unknown_issuer,
            body.clone(),
            400,
            token_msg,
        ),
        ("bad signature", forged, body.clone(), 400, token_msg),
        ("alg none", alg_none, body.clone(), 400, token_msg),
        (
            "HS256 with the public key",
            hs256,
            body.clone(),
            400,
            token_msg,
        ),
        (
            "email not verified",
            good(json!({"email_verified": false})),
            body.clone(),
            400,
            token_msg,
        ),
        ("no token", String::new(), body.clone(), 400, token_msg),
        (
            "PoP over the wrong value",
            good(json!({})),
            pk_request(&key, "mallory@example.com"),
            400,
            "The signature supplied in the request could not be verified",
        ),
        (
            "no key",
            good(json!({})),
            json!({}),
            400,
            "The public key supplied in the request could not be parsed",
        ),
        (
            "garbage key",
            good(json!({})),
            json!({"publicKeyRequest": {"publicKey": {"content": "nope"}, "proofOfPossession": ""}}),
            400,
            "The public key supplied in the request could not be parsed",
        ),
        (
            "RSA-1024 key",
            good(json!({})),
            {
                let k = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap();
                use rsa::pkcs8::EncodePublicKey;
                let pem = rsa::RsaPublicKey::from(&k)
                    .to_public_key_pem(Default::default())
                    .unwrap();
                json!({"publicKeyRequest": {"publicKey": {"content": pem}, "proofOfPossession": "AAAA"}})
            },
            400,
            "The public key supplied in the request is insecure",
        ),
        (
            "P-224 key",
            good(json!({})),
            json!({"publicKeyRequest": {"publicKey": {"content": P224_PEM}, "proofOfPossession": "AAAA"}}),
            400,
            "The public key supplied in the request is insecure",
        ),
        (
            "secp256k1 key",
            good(json!({})),
            json!({"publicKeyRequest": {"publicKey": {"content": SECP256K1_PEM}, "proofOfPossession": "AAAA"}}),
            400,
            "The public key supplied in the request is insecure",
        ),
        (
            "garbage CSR",
            good(json!({})),
            json!({"certificateSigningRequest": STANDARD.encode("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")}),
            400,
            "The certificate signing request could not be parsed",
        ),
        (
            "CSR with P-256 + SHA-384",
            good(json!({})),
            json!({"certificateSigningRequest": STANDARD.encode(csr_pem(&key, "1.2.840.10045.4.3.3"))}),
            400,
            "signing algorithm not permitted",
        ),
        (
            "CSR signed by another key",
            good(json!({})),
            json!({"certificateSigningRequest": STANDARD.encode(
            csr_pem_signed(&key, &SigningKey::generate_p256(), "1.2.840.10045.4.3.2"))}),
            400,
            "The signature supplied in the request could not be verified",
        ),
        (
            "malformed JSON",
            good(json!({})),
            json!("not an object"),
            400,
            "invalid request body",
        ),
    ];
    for (name, token, body, want, msg) in cases {
        let (st, v) = s.post("/api/v2/signingCert", &body, Some(&token)).await;
        assert_eq!(st, want, "{name}: {v}");
        assert!(
            v["message"].as_str().unwrap_or("").contains(msg),
            "{name}: {v}"
        );
        assert_eq!(v["code"], 3, "{name}: {v}");
        assert_eq!(v["details"], json!([]), "{name}");
    }
    // Oversized body.
    let big = json!({"certificateSigningRequest": "A".repeat(5 << 20)});
    let (st, _) = s
        .post("/api/v2/signingCert", &big, Some(&good(json!({}))))
        .await;
    assert_eq!(st, 413);
    assert_eq!(s.ct_size().await, 0, "nothing reached the CT log");
}

#[tokio::test]
async fn read_endpoints_legacy_and_ct_outage() {
    let mut s = start().await;
    let get = |p: &str| {
        let url = format!("{}{p}", s.url);
        let c = s.http.clone();
        async move {
            let r = c.get(url).send().await.unwrap();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), ct, r.text().await.unwrap())
        }
    };
    let (st, _, body) = get("/healthz").await;
    assert_eq!((st, body.as_str()), (200, r#"{"status":"SERVING"}"#));
    let (st, _, body) = get("/api/v2/trustBundle").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st, 200);
    assert_eq!(v["chains"][0]["certificates"].as_array().unwrap().len(), 2);
    assert!(v["chains"][0]["certificates"][0]
        .as_str()
        .unwrap()
        .ends_with("-----\n"));
    let (st, ct, body) = get("/api/v1/rootCert").await;
    assert_eq!(
        (st, ct.as_deref()),
        (200, Some("application/pem-certificate-chain"))
    );
    assert_eq!(
        sigstack_core::pem::parse_all(body.as_bytes())
            .unwrap()
            .len(),
        2
    );
    let (st, _, body) = get("/api/v2/configuration").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st, 200);
    assert!(v["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["issuerUrl"] == s.oidc.issuer("email") && i["challengeClaim"] == "email"));
    let (st, _, body) = get("/metrics").await;
    assert_eq!(st, 200);
    assert!(body.contains("fulcio_http_requests"));

    // Legacy v1: base64 of the PEM key, 201 + PEM chain.
    let key = SigningKey::generate_p256();
    let token = s.oidc.token(
        "email",
        "u",
        json!({"email": "alice@example.com", "email_verified": true}),
    );
    let body = json!({"publicKey": {"algorithm": "ecdsa", "content": STANDARD.encode(key.public_key().to_pem())},
                      "signedEmailAddress": STANDARD.encode(key.sign(b"alice@example.com"))});
    let r = s
        .http
        .post(format!("{}/api/v1/signingCert", s.url))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let pems = sigstack_core::pem::parse_all(r.text().await.unwrap().as_bytes()).unwrap();
    assert_eq!(pems.len(), 3);

    // CT log down: no certificate.
    if let Some(tx) = s.ct_shutdown.take() {
        let _ = tx.send(());
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let token = s.oidc.token(
        "email",
        "u",
        json!({"email": "alice@example.com", "email_verified": true}),
    );
    let (st, v) = s
        .post(
            "/api/v2/signingCert",
            &pk_request(&key, "alice@example.com"),
            Some(&token),
        )
        .await;
    assert_eq!(st, 500, "{v}");
    assert_eq!(v["message"], "Error entering certificate in CTL");
}

#[tokio::test]
async fn sct_that_does_not_verify_is_refused() {
    // Fulcio configured with another CT key: the log answers, but its SCT
    // does not verify under the configured key, so no certificate.
    let s = start_with(Some(SigningKey::generate_p256().public_key())).await;
    let key = SigningKey::generate_p256();
    let token = s.oidc.token(
        "email",
        "u",
        json!({"email": "alice@example.com", "email_verified": true}),
    );
    let (st, v) = s
        .post(
            "/api/v2/signingCert",
            &pk_request(&key, "alice@example.com"),
            Some(&token),
        )
        .await;
    assert_eq!(st, 500, "{v}");
    assert_eq!(v["message"], "Error entering certificate in CTL");
    assert_eq!(
        s.ct_size().await,
        1,
        "the precert was logged before the check"
    );
}

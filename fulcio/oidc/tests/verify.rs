//! End-to-end tests against an in-process mock OIDC provider (axum on 127.0.0.1:0).
//! Keys are generated here with aws-lc-rs and tokens are built by hand, so every header
//! and signature byte is under the test's control.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents,
};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use sigstack_oidc::{unverified_issuer, OidcError, Verifier, VerifierOptions};

// ---------------------------------------------------------------- keys and tokens

enum TestKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ec384(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn new_rsa() -> TestKey {
    TestKey::Rsa(RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa keygen"))
}

/// RSA keygen is the slow part of these tests; most tests can share one key.
fn shared_rsa() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(new_rsa)
}

fn new_ec() -> TestKey {
    TestKey::Ec(EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec keygen"))
}

fn new_ec384() -> TestKey {
    TestKey::Ec384(
        EcdsaKeyPair::generate(&sig::ECDSA_P384_SHA384_FIXED_SIGNING).expect("ec keygen"),
    )
}

fn new_ed() -> TestKey {
    TestKey::Ed(Ed25519KeyPair::generate().expect("ed keygen"))
}

impl TestKey {
    fn jwk(&self, kid: Option<&str>) -> Value {
        let mut j = match self {
            TestKey::Rsa(k) => {
                let c = RsaPublicKeyComponents::<Vec<u8>>::from(k.public_key());
                json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e)})
            }
            TestKey::Ec(k) => {
                let p = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65])})
            }
            TestKey::Ec384(k) => {
                let p = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-384", "x": b64(&p[1..49]), "y": b64(&p[49..97])})
            }
            TestKey::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        };
        if let Some(kid) = kid {
            j["kid"] = json!(kid);
        }
        j
    }

    fn sign(&self, alg: &str, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match (self, alg) {
            (TestKey::Rsa(k), _) => {
                let enc: &'static dyn sig::RsaEncoding = match alg {
                    "RS256" => &sig::RSA_PKCS1_SHA256,
                    "RS384" => &sig::RSA_PKCS1_SHA384,
                    "RS512" => &sig::RSA_PKCS1_SHA512,
                    "PS256" => &sig::RSA_PSS_SHA256,
                    _ => panic!("test: RSA cannot sign {alg}"),
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(enc, &rng, msg, &mut out).expect("rsa sign");
                out
            }
            (TestKey::Ec(k), "ES256") => k.sign(&rng, msg).expect("ec sign").as_ref().to_vec(),
            (TestKey::Ec384(k), "ES384") => k.sign(&rng, msg).expect("ec sign").as_ref().to_vec(),
            (TestKey::Ed(k), "EdDSA") => k.sign(msg).as_ref().to_vec(),
            _ => panic!("test: key cannot sign {alg}"),
        }
    }
}

fn header(alg: &str, kid: Option<&str>) -> Value {
    let mut h = json!({"typ": "JWT", "alg": alg});
    if let Some(kid) = kid {
        h["kid"] = json!(kid);
    }
    h
}

fn mint_with_header(key: &TestKey, alg: &str, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let s = key.sign(alg, input.as_bytes());
    format!("{input}.{}", b64(&s))
}

fn mint(key: &TestKey, alg: &str, kid: Option<&str>, claims: &Value) -> String {
    mint_with_header(key, alg, &header(alg, kid), claims)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// Claims like oidc-provider-mock's: aud is a list.
fn claims(iss: &str) -> Value {
    let t = now().floor();
    json!({"iss": iss, "sub": "alice@example.com", "aud": ["sigstore"], "exp": t + 3600.0,
           "iat": t, "auth_time": t, "email": "alice@example.com", "email_verified": true})
}

// ---------------------------------------------------------------- mock provider

struct Cfg {
    /// `issuer` in the discovery document (None: the base URL).
    issuer: Option<String>,
    /// `id_token_signing_alg_values_supported` (None: field absent).
    algs: Option<Vec<&'static str>>,
    keys: Vec<Value>,
    discovery_status: StatusCode,
    discovery_delay: Duration,
    /// Answer discovery with a 302 to this URL.
    redirect_to: Option<String>,
}

struct Shared {
    base: String,
    cfg: Mutex<Cfg>,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

struct Mock {
    base: String,
    shared: Arc<Shared>,
}

impl Mock {
    async fn start(algs: Option<Vec<&'static str>>, keys: Vec<Value>) -> Mock {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            base: base.clone(),
            cfg: Mutex::new(Cfg {
                issuer: None,
                algs,
                keys,
                discovery_status: StatusCode::OK,
                discovery_delay: Duration::ZERO,
                redirect_to: None,
            }),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(shared.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Mock { base, shared }
    }

    fn set(&self, f: impl FnOnce(&mut Cfg)) {
        f(&mut self.shared.cfg.lock().expect("cfg"));
    }
    fn discovery_hits(&self) -> usize {
        self.shared.discovery_hits.load(Ordering::SeqCst)
    }
    fn jwks_hits(&self) -> usize {
        self.shared.jwks_hits.load(Ordering::SeqCst)
    }
}

async fn discovery(State(s): State<Arc<Shared>>) -> Response {
    s.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let (status, delay, redirect, doc) = {
        let c = s.cfg.lock().expect("cfg");
        let mut doc = json!({
            "issuer": c.issuer.clone().unwrap_or_else(|| s.base.clone()),
            "jwks_uri": format!("{}/jwks", s.base),
            "response_types_supported": ["code"],
        });
        if let Some(a) = &c.algs {
            doc["id_token_signing_alg_values_supported"] = json!(a);
        }
        (
            c.discovery_status,
            c.discovery_delay,
            c.redirect_to.clone(),
            doc,
        )
    };
    tokio::time::sleep(delay).await;
    if let Some(to) = redirect {
        return (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
    }
    if status != StatusCode::OK {
        return (status, "nope").into_response();
    }
    Json(doc).into_response()
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let keys = s.cfg.lock().expect("cfg").keys.clone();
    Json(json!({ "keys": keys })).into_response()
}

fn opts() -> VerifierOptions {
    VerifierOptions {
        http_timeout: Duration::from_secs(5),
        clock_skew: Duration::from_secs(60),
        jwks_min_refresh: Duration::from_millis(200),
        jwks_max_age: Duration::from_secs(3600),
    }
}

fn verifier() -> Verifier {
    Verifier::new(opts()).expect("verifier")
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn valid_rs256_es256_eddsa_ps256() {
    let (rsa, ec, ec384, ed) = (shared_rsa(), new_ec(), new_ec384(), new_ed());
    let mock = Mock::start(
        Some(vec!["RS256", "PS256", "ES256", "ES384", "EdDSA", "ES512"]),
        vec![
            rsa.jwk(Some("r")),
            ec.jwk(Some("e")),
            ec384.jwk(Some("e384")),
            ed.jwk(Some("d")),
        ],
    )
    .await;
    let v = verifier();
    let c = claims(&mock.base);
    for (key, alg, kid) in [
        (rsa, "RS256", "r"),
        (rsa, "PS256", "r"),
        (&ec, "ES256", "e"),
        (&ec384, "ES384", "e384"),
        (&ed, "EdDSA", "d"),
    ] {
        let tok = mint(key, alg, Some(kid), &c);
        let got = v.verify(&tok, &mock.base, "sigstore").await;
        let got = got.unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(got.get("email"), Some(&json!("alice@example.com")), "{alg}");
        assert_eq!(
            got,
            *c.as_object().expect("obj"),
            "{alg}: all claims returned"
        );
    }
    // One discovery and one JWKS fetch for all of them.
    assert_eq!((mock.discovery_hits(), mock.jwks_hits()), (1, 1));
}

#[tokio::test]
async fn no_kid_tries_every_compatible_key() {
    let other_rsa = new_rsa();
    let (ec, ed) = (new_ec(), new_ed());
    // Like oidc-provider-mock: the JWKS entries have kids, the tokens do not.
    let mock = Mock::start(
        Some(vec!["RS256", "ES256", "EdDSA"]),
        vec![
            ed.jwk(Some("ed")),
            other_rsa.jwk(Some("a")),
            ec.jwk(None),
            shared_rsa().jwk(Some("b")),
        ],
    )
    .await;
    let v = verifier();
    let c = claims(&mock.base);
    for (key, alg) in [(shared_rsa(), "RS256"), (&ec, "ES256"), (&ed, "EdDSA")] {
        let tok = mint(key, alg, None, &c);
        v.verify(&tok, &mock.base, "sigstore")
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
    // A kid-less token signed by a key that is not in the set.
    let stranger = new_ec();
    let tok = mint(&stranger, "ES256", None, &c);
    assert_eq!(
        v.verify(&tok, &mock.base, "sigstore").await,
        Err(OidcError::BadSignature)
    );
}

#[tokio::test]
async fn unknown_kid_refreshes_after_rotation() {
    let old = shared_rsa();
    let new = new_rsa();
    let mock = Mock::start(Some(vec!["RS256"]), vec![old.jwk(Some("k1"))]).await;
    let v = verifier();
    let c = claims(&mock.base);
    v.verify(&mint(old, "RS256", Some("k1"), &c), &mock.base, "sigstore")
        .await
        .expect("old key");
    // The provider restarts with a new key.
    mock.set(|cfg| cfg.keys = vec![new.jwk(Some("k2"))]);
    v.verify(&mint(&new, "RS256", Some("k2"), &c), &mock.base, "sigstore")
        .await
        .expect("new key after refresh");
    assert_eq!(mock.jwks_hits(), 2, "one refresh");
    assert_eq!(
        mock.discovery_hits(),
        1,
        "discovery is not re-fetched for a key miss"
    );
    // Tokens of the old key are now unknown (after one more, rate-limited refresh).
    assert_eq!(
        v.verify(&mint(old, "RS256", Some("k1"), &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::UnknownKey)
    );
    // Cached keys keep working without traffic.
    let before = mock.jwks_hits();
    v.verify(&mint(&new, "RS256", Some("k2"), &c), &mock.base, "sigstore")
        .await
        .expect("cached");
    assert_eq!(mock.jwks_hits(), before);
}

#[tokio::test]
async fn rotation_without_kid() {
    let old = new_ec();
    let new = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![old.jwk(Some("x"))]).await;
    let v = verifier();
    let c = claims(&mock.base);
    v.verify(&mint(&old, "ES256", None, &c), &mock.base, "sigstore")
        .await
        .expect("old key");
    mock.set(|cfg| cfg.keys = vec![new.jwk(Some("y"))]);
    // Immediately (inside jwks_min_refresh of the first fetch): the refresh waits for the
    // rate-limit window instead of failing.
    v.verify(&mint(&new, "ES256", None, &c), &mock.base, "sigstore")
        .await
        .expect("new key after refresh");
    assert_eq!(mock.jwks_hits(), 2);
}

#[tokio::test]
async fn key_miss_refreshes_are_coalesced_and_rate_limited() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(Some("k"))]).await;
    let v = Verifier::new(VerifierOptions {
        jwks_min_refresh: Duration::from_millis(500),
        ..opts()
    })
    .expect("verifier");
    let c = claims(&mock.base);
    v.verify(&mint(&key, "ES256", Some("k"), &c), &mock.base, "sigstore")
        .await
        .expect("valid");
    assert_eq!(mock.jwks_hits(), 1);
    let bogus = mint(&key, "ES256", Some("nope"), &c);
    let started = std::time::Instant::now();
    let results = futures_join_all(
        (0..20)
            .map(|_| {
                let v = v.clone();
                let (t, iss) = (bogus.clone(), mock.base.clone());
                tokio::spawn(async move { v.verify(&t, &iss, "sigstore").await })
            })
            .collect(),
    )
    .await;
    for r in results {
        assert_eq!(r, Err(OidcError::UnknownKey));
    }
    assert_eq!(mock.jwks_hits(), 2, "20 key misses, one refresh");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waited for the window"
    );
    // Valid tokens are never held up by the limiter.
    v.verify(&mint(&key, "ES256", Some("k"), &c), &mock.base, "sigstore")
        .await
        .expect("valid");
}

/// Join spawned tasks (no futures crate needed).
async fn futures_join_all<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn max_age_refresh_and_stale_keys_while_issuer_down() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    let v = Verifier::new(VerifierOptions {
        jwks_max_age: Duration::from_millis(300),
        ..opts()
    })
    .expect("verifier");
    let tok = mint(&key, "ES256", None, &claims(&mock.base));
    v.verify(&tok, &mock.base, "sigstore").await.expect("valid");
    tokio::time::sleep(Duration::from_millis(350)).await;
    v.verify(&tok, &mock.base, "sigstore").await.expect("valid");
    assert_eq!(
        (mock.discovery_hits(), mock.jwks_hits()),
        (2, 2),
        "both re-fetched after jwks_max_age"
    );
    // The issuer goes down: the old keys keep working, and it is retried at most once per
    // jwks_min_refresh.
    mock.set(|c| c.discovery_status = StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(Duration::from_millis(350)).await;
    for _ in 0..5 {
        v.verify(&tok, &mock.base, "sigstore")
            .await
            .expect("stale keys");
    }
    assert_eq!(mock.discovery_hits(), 3);
}

#[tokio::test]
async fn concurrent_verifies_fetch_once() {
    let key = new_ed();
    let mock = Mock::start(Some(vec!["EdDSA"]), vec![key.jwk(Some("k"))]).await;
    mock.set(|c| c.discovery_delay = Duration::from_millis(200));
    let v = verifier();
    let tok = mint(&key, "EdDSA", Some("k"), &claims(&mock.base));
    let handles = (0..32)
        .map(|_| {
            let (v, t, iss) = (v.clone(), tok.clone(), mock.base.clone());
            tokio::spawn(async move { v.verify(&t, &iss, "sigstore").await })
        })
        .collect();
    for r in futures_join_all(handles).await {
        r.expect("valid");
    }
    assert_eq!((mock.discovery_hits(), mock.jwks_hits()), (1, 1));
}

#[tokio::test]
async fn audience_string_list_and_wrong() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    let v = verifier();
    let mut c = claims(&mock.base);
    c["aud"] = json!("sigstore");
    v.verify(&mint(&key, "ES256", None, &c), &mock.base, "sigstore")
        .await
        .expect("aud string");
    c["aud"] = json!(["other", "sigstore"]);
    v.verify(&mint(&key, "ES256", None, &c), &mock.base, "sigstore")
        .await
        .expect("aud list");
    c["aud"] = json!(["other"]);
    assert_eq!(
        v.verify(&mint(&key, "ES256", None, &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::Audience {
            expected: "sigstore".into(),
            found: vec!["other".into()]
        })
    );
    c["aud"] = json!("sigstore-x");
    assert!(matches!(
        v.verify(&mint(&key, "ES256", None, &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::Audience { .. })
    ));
    c.as_object_mut().expect("obj").remove("aud");
    assert_eq!(
        v.verify(&mint(&key, "ES256", None, &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::MissingClaim("aud"))
    );
}

#[tokio::test]
async fn wrong_iss_is_refused_without_network() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    let v = verifier();
    // localhost vs 127.0.0.1: the mock's classic trap (exact string match).
    let other = mock.base.replace("127.0.0.1", "localhost");
    let tok = mint(&key, "ES256", None, &claims(&other));
    assert_eq!(
        v.verify(&tok, &mock.base, "sigstore").await,
        Err(OidcError::Issuer {
            expected: mock.base.clone(),
            found: other
        })
    );
    assert_eq!(mock.discovery_hits(), 0);
}

#[tokio::test]
async fn discovery_issuer_mismatch() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    mock.set(|c| c.issuer = Some("http://evil.example".into()));
    let v = verifier();
    let tok = mint(&key, "ES256", None, &claims(&mock.base));
    let err = v.verify(&tok, &mock.base, "sigstore").await.unwrap_err();
    assert!(
        matches!(&err, OidcError::Discovery(m) if m.contains("does not match")),
        "{err}"
    );
    assert!(err.is_issuer_unavailable());
}

#[tokio::test]
async fn issuer_with_trailing_slash() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    let iss = format!("{}/", mock.base);
    mock.set(|c| c.issuer = Some(iss.clone()));
    let v = verifier();
    // Discovery is at <base>/.well-known/... (one "/" stripped), and the document's
    // issuer and the token's iss both equal the configured URL with its slash.
    v.verify(&mint(&key, "ES256", None, &claims(&iss)), &iss, "sigstore")
        .await
        .expect("trailing slash");
}

#[tokio::test]
async fn time_claims() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    let v = verifier(); // skew 60 s
    let t = now();
    let check = |edit: Box<dyn Fn(&mut Value)>| {
        let mut c = claims(&mock.base);
        edit(&mut c);
        let tok = mint(&key, "ES256", None, &c);
        let v = v.clone();
        let iss = mock.base.clone();
        async move { v.verify(&tok, &iss, "sigstore").await.map(|_| ()) }
    };
    assert_eq!(
        check(Box::new(move |c| c["exp"] = json!(t - 120.0))).await,
        Err(OidcError::Expired)
    );
    // Inside / outside the skew, 10 s margins against test scheduling.
    assert_eq!(
        check(Box::new(move |c| c["exp"] = json!(t - 50.0))).await,
        Ok(())
    );
    assert_eq!(
        check(Box::new(move |c| c["exp"] = json!(t - 70.0))).await,
        Err(OidcError::Expired)
    );
    assert_eq!(
        check(Box::new(|c| {
            c.as_object_mut().expect("obj").remove("exp");
        }))
        .await,
        Err(OidcError::MissingClaim("exp"))
    );
    assert_eq!(
        check(Box::new(move |c| c["nbf"] = json!(t + 3000.0))).await,
        Err(OidcError::NotYetValid)
    );
    assert_eq!(
        check(Box::new(move |c| c["nbf"] = json!(t + 50.0))).await,
        Ok(())
    );
    assert_eq!(
        check(Box::new(move |c| c["nbf"] = json!(t + 70.0))).await,
        Err(OidcError::NotYetValid)
    );
    assert_eq!(
        check(Box::new(move |c| c["iat"] = json!(t + 3000.0))).await,
        Err(OidcError::IssuedInFuture)
    );
    assert_eq!(
        check(Box::new(move |c| c["iat"] = json!(t + 50.0))).await,
        Ok(())
    );
    // NumericDate may be a float.
    assert_eq!(
        check(Box::new(move |c| c["exp"] = json!(t + 100.25))).await,
        Ok(())
    );
    assert!(matches!(
        check(Box::new(|c| c["exp"] = json!("soon"))).await,
        Err(OidcError::InvalidClaim { claim: "exp", .. })
    ));
}

#[tokio::test]
async fn bad_signatures() {
    let key = shared_rsa();
    let mock = Mock::start(Some(vec!["RS256"]), vec![key.jwk(Some("k"))]).await;
    let v = verifier();
    let c = claims(&mock.base);
    let tok = mint(key, "RS256", Some("k"), &c);
    let (input, s) = tok.rsplit_once('.').expect("3 parts");
    let mut sig = URL_SAFE_NO_PAD.decode(s).expect("b64");
    sig[17] ^= 0x01;
    let flipped = format!("{input}.{}", b64(&sig));
    assert_eq!(
        v.verify(&flipped, &mock.base, "sigstore").await,
        Err(OidcError::BadSignature)
    );
    // Same signature, altered payload (email changed).
    let mut c2 = c.clone();
    c2["email"] = json!("mallory@example.com");
    let (_, s) = tok.rsplit_once('.').expect("3 parts");
    let (h, _) = input.split_once('.').expect("2 parts");
    let forged = format!("{h}.{}.{s}", b64(c2.to_string().as_bytes()));
    assert_eq!(
        v.verify(&forged, &mock.base, "sigstore").await,
        Err(OidcError::BadSignature)
    );
    // Truncated signature.
    let short = format!("{input}.{}", b64(&sig[..100]));
    assert_eq!(
        v.verify(&short, &mock.base, "sigstore").await,
        Err(OidcError::BadSignature)
    );
    // Same claims without kid, signed by a stranger: no key verifies.
    let stranger = new_rsa();
    assert_eq!(
        v.verify(&mint(&stranger, "RS256", None, &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::BadSignature)
    );
    // Error text never contains the token or its signature.
    for t in [&flipped, &forged, &short] {
        let e = v.verify(t, &mock.base, "sigstore").await.unwrap_err();
        let msg = format!("{e} {e:?}");
        let sig_part = t.rsplit('.').next().expect("part");
        assert!(
            !msg.contains(sig_part) && !msg.contains(t.as_str()),
            "{msg}"
        );
    }

    // Errors that do carry token-derived text (issuer, audiences, alg) carry it
    // clipped: never the token, a token part, or a long value past the clip.
    let long_iss = format!("{}/{}ISS-TAIL", mock.base, "i".repeat(300));
    let mut ci = c.clone();
    ci["iss"] = json!(long_iss);
    let iss_tok = mint(key, "RS256", Some("k"), &ci);
    let long_aud = format!("{}AUD-TAIL", "a".repeat(300));
    let mut ca = c.clone();
    ca["aud"] = json!([long_aud]);
    let aud_tok = mint(key, "RS256", Some("k"), &ca);
    let long_alg = format!("{}ALG-TAIL", "X".repeat(300));
    let alg_tok = format!(
        "{}.{}.{}",
        b64(json!({"alg": long_alg, "kid": "k"}).to_string().as_bytes()),
        b64(c.to_string().as_bytes()),
        b64(b"signature bytes")
    );
    for (t, long, tail) in [
        (&iss_tok, &long_iss, "ISS-TAIL"),
        (&aud_tok, &long_aud, "AUD-TAIL"),
        (&alg_tok, &long_alg, "ALG-TAIL"),
    ] {
        let e = v.verify(t, &mock.base, "sigstore").await.unwrap_err();
        match (&e, tail) {
            (OidcError::Issuer { found, expected }, "ISS-TAIL") => {
                assert_eq!(expected, &mock.base);
                assert!(found.len() < long.len(), "{found}");
            }
            (OidcError::Audience { found, expected }, "AUD-TAIL") => {
                assert_eq!(expected, "sigstore");
                assert_eq!(found.len(), 1);
                assert!(found[0].len() < long.len(), "{found:?}");
            }
            (OidcError::AlgorithmNotAllowed(a), "ALG-TAIL") => {
                assert!(a.len() < long.len(), "{a}");
            }
            _ => panic!("{tail}: unexpected error {e:?}"),
        }
        for msg in [e.to_string(), format!("{e:?}")] {
            // The value is there, clipped: the check below is not vacuous.
            assert!(msg.contains(&long[..100]), "{tail}: {msg}");
            assert!(!msg.contains(long.as_str()), "{tail}: {msg}");
            assert!(!msg.contains(tail), "{tail}: {msg}");
            assert!(!msg.contains(t.as_str()), "{tail}: {msg}");
            for part in t.split('.') {
                assert!(!msg.contains(part), "{tail}: token part in {msg}");
            }
        }
    }
}

#[tokio::test]
async fn alg_none_is_refused() {
    let key = shared_rsa();
    let mock = Mock::start(Some(vec!["RS256", "none"]), vec![key.jwk(None)]).await;
    let v = verifier();
    let c = claims(&mock.base);
    let h = b64(json!({"alg": "none", "typ": "JWT"}).to_string().as_bytes());
    let p = b64(c.to_string().as_bytes());
    // The unsecured form: empty signature.
    assert!(matches!(
        v.verify(&format!("{h}.{p}."), &mock.base, "sigstore").await,
        Err(OidcError::Malformed(_))
    ));
    // With some bytes in the signature part.
    assert_eq!(
        v.verify(&format!("{h}.{p}.{}", b64(b"x")), &mock.base, "sigstore")
            .await,
        Err(OidcError::AlgorithmNotAllowed("none".into()))
    );
    for alg in ["None", "NONE", "", "ES512", "RSA-OAEP"] {
        let h = b64(json!({"alg": alg}).to_string().as_bytes());
        assert_eq!(
            v.verify(&format!("{h}.{p}.{}", b64(b"x")), &mock.base, "sigstore")
                .await,
            Err(OidcError::AlgorithmNotAllowed(alg.into()))
        );
    }
    assert_eq!(mock.discovery_hits(), 0, "refused before any fetch");
}

#[tokio::test]
async fn hs256_key_confusion_is_refused() {
    let TestKey::Rsa(rsa) = shared_rsa() else {
        unreachable!()
    };
    let jwk = shared_rsa().jwk(Some("k"));
    // The issuer even (wrongly) advertises HS256.
    let mock = Mock::start(Some(vec!["RS256", "HS256"]), vec![jwk.clone()]).await;
    let v = verifier();
    let c = claims(&mock.base);
    let comps = RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
    // Candidate "secrets" an attacker would try: public key DER, modulus, the JWK text.
    let secrets: Vec<Vec<u8>> = vec![
        rsa.public_key().as_ref().to_vec(),
        comps.n.clone(),
        jwk.to_string().into_bytes(),
    ];
    for secret in secrets {
        for kid in [Some("k"), None] {
            let hdr = header("HS256", kid);
            let input = format!(
                "{}.{}",
                b64(hdr.to_string().as_bytes()),
                b64(c.to_string().as_bytes())
            );
            let mac = aws_lc_rs::hmac::sign(
                &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
                input.as_bytes(),
            );
            let tok = format!("{input}.{}", b64(mac.as_ref()));
            assert_eq!(
                v.verify(&tok, &mock.base, "sigstore").await,
                Err(OidcError::AlgorithmNotAllowed("HS256".into()))
            );
            // Refused before any discovery or key fetch, so no key (and no
            // advertised algorithm list) was ever consulted.
            assert_eq!((mock.discovery_hits(), mock.jwks_hits()), (0, 0), "{kid:?}");
        }
    }
    // Control: the mock does count; a genuine RS256 token fetches both.
    v.verify(
        &mint(shared_rsa(), "RS256", Some("k"), &c),
        &mock.base,
        "sigstore",
    )
    .await
    .expect("RS256");
    assert_eq!((mock.discovery_hits(), mock.jwks_hits()), (1, 1));
}

#[tokio::test]
async fn alg_must_be_advertised() {
    let (rsa, ec) = (shared_rsa(), new_ec());
    let mock = Mock::start(Some(vec!["RS256"]), vec![rsa.jwk(None), ec.jwk(None)]).await;
    let v = verifier();
    let c = claims(&mock.base);
    assert_eq!(
        v.verify(&mint(&ec, "ES256", None, &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::AlgorithmNotAllowed("ES256".into()))
    );
    assert_eq!(
        v.verify(&mint(rsa, "PS256", None, &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::AlgorithmNotAllowed("PS256".into()))
    );
    v.verify(&mint(rsa, "RS256", None, &c), &mock.base, "sigstore")
        .await
        .expect("RS256 advertised");

    // Field absent (scaffolding's fakeoidc): RS256 only.
    let mock = Mock::start(None, vec![rsa.jwk(None), ec.jwk(None)]).await;
    let v = verifier();
    let c = claims(&mock.base);
    v.verify(&mint(rsa, "RS256", None, &c), &mock.base, "sigstore")
        .await
        .expect("RS256 default");
    assert_eq!(
        v.verify(&mint(&ec, "ES256", None, &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::AlgorithmNotAllowed("ES256".into()))
    );
}

#[tokio::test]
async fn jwk_alg_and_key_type_must_match() {
    let (rsa, ec) = (shared_rsa(), new_ec());
    let mut rsa_jwk = rsa.jwk(Some("r"));
    rsa_jwk["alg"] = json!("RS384");
    let mut enc_jwk = ec.jwk(Some("enc"));
    enc_jwk["use"] = json!("enc");
    let mock = Mock::start(
        Some(vec!["RS256", "RS384", "ES256"]),
        vec![
            rsa_jwk,
            enc_jwk,
            json!({"kty": "weird", "kid": "w"}),
            ec.jwk(Some("e")),
        ],
    )
    .await;
    let v = verifier();
    let c = claims(&mock.base);
    // The JWK says RS384: an RS256 token for it finds no usable key.
    assert_eq!(
        v.verify(&mint(rsa, "RS256", Some("r"), &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::UnknownKey)
    );
    v.verify(&mint(rsa, "RS384", Some("r"), &c), &mock.base, "sigstore")
        .await
        .expect("RS384 with the RS384 JWK");
    // An ES256 token pointing at the RSA key.
    assert_eq!(
        v.verify(&mint(&ec, "ES256", Some("r"), &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::UnknownKey)
    );
    // use=enc keys are not signature keys; unknown key types are skipped, not fatal.
    assert_eq!(
        v.verify(&mint(&ec, "ES256", Some("enc"), &c), &mock.base, "sigstore")
            .await,
        Err(OidcError::UnknownKey)
    );
    v.verify(&mint(&ec, "ES256", Some("e"), &c), &mock.base, "sigstore")
        .await
        .expect("ES256");
}

#[tokio::test]
async fn malformed_tokens() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    let v = verifier();
    let good = mint(&key, "ES256", None, &claims(&mock.base));
    let parts: Vec<&str> = good.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let non_json = b64(b"{not json");
    let array = b64(b"[1,2]");
    let hdr_not_json = b64(b"alg");
    let cases = [
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}.{s}.{s}"),
        String::new(),
        format!("{h}.{p}!.{s}"),
        format!("{h}.{p}=.{s}"),
        format!("{h}.{p}.{s}*"),
        format!("{h}.{non_json}.{s}"),
        format!("{h}.{array}.{s}"),
        format!("{hdr_not_json}.{p}.{s}"),
        format!(
            "{}.{p}.{s}",
            b64(json!({"alg": 256}).to_string().as_bytes())
        ),
        format!(
            "{}.{p}.{s}",
            b64(json!({"typ": "JWT"}).to_string().as_bytes())
        ),
        format!(
            "{}.{p}.{s}",
            b64(json!({"alg": "ES256", "crit": ["exp"]})
                .to_string()
                .as_bytes())
        ),
        "a".repeat(70_000),
    ];
    for t in &cases {
        let r = v.verify(t, &mock.base, "sigstore").await;
        assert!(
            matches!(r, Err(OidcError::Malformed(_))),
            "{:.40}: {r:?}",
            t
        );
    }
    // unverified_issuer decodes only the payload, so a bad signature part (case 6) and
    // header problems pass it.
    for t in [0, 1, 2, 3, 4, 5, 7, 8].map(|i| &cases[i]) {
        assert!(
            matches!(unverified_issuer(t), Err(OidcError::Malformed(_))),
            "{t:.40}"
        );
    }
    // Three well-formed parts (valid header and payload, base64url signature):
    // only the length limit refuses it.
    let oversized = format!("{h}.{p}.{}", "A".repeat(70_000));
    let want = OidcError::Malformed("token longer than 65536 bytes".into());
    assert_eq!(
        v.verify(&oversized, &mock.base, "sigstore").await,
        Err(want.clone())
    );
    assert_eq!(unverified_issuer(&oversized), Err(want.clone()));
    assert!(
        want.to_string().contains("longer than 65536 bytes"),
        "{want}"
    );
    assert_eq!(mock.discovery_hits(), 0);
    // Control: the same shape within the limit passes parsing (and then
    // fails on the signature, after fetching the keys).
    let n = (65_536 - h.len() - p.len() - 2) / 4 * 4;
    let at_limit = format!("{h}.{p}.{}", "A".repeat(n));
    assert!(at_limit.len() <= 65_536);
    assert_eq!(unverified_issuer(&at_limit), Ok(mock.base.clone()));
    assert_eq!(
        v.verify(&at_limit, &mock.base, "sigstore").await,
        Err(OidcError::BadSignature)
    );
    assert_eq!(unverified_issuer(&good), Ok(mock.base.clone()));
    let no_iss = format!("{h}.{}.{s}", b64(b"{\"sub\":\"x\"}"));
    assert_eq!(
        unverified_issuer(&no_iss),
        Err(OidcError::MissingClaim("iss"))
    );
}

#[tokio::test]
async fn discovery_errors_are_clear() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    mock.set(|c| c.discovery_status = StatusCode::NOT_FOUND);
    let v = verifier();
    let tok = mint(&key, "ES256", None, &claims(&mock.base));
    let err = v.verify(&tok, &mock.base, "sigstore").await.unwrap_err();
    assert!(
        matches!(&err, OidcError::Discovery(m) if m.contains("404")),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("/.well-known/openid-configuration"),
        "{err}"
    );
    // Failure is remembered for jwks_min_refresh: no hammering of a failing issuer...
    let hits = mock.discovery_hits();
    assert!(matches!(
        v.verify(&tok, &mock.base, "sigstore").await,
        Err(OidcError::Discovery(_))
    ));
    assert_eq!(mock.discovery_hits(), hits);
    // ...and retried after it.
    mock.set(|c| c.discovery_status = StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(250)).await;
    v.verify(&tok, &mock.base, "sigstore")
        .await
        .expect("recovered");

    // Timeout.
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    mock.set(|c| c.discovery_delay = Duration::from_secs(3));
    let v = Verifier::new(VerifierOptions {
        http_timeout: Duration::from_millis(300),
        ..opts()
    })
    .expect("verifier");
    let tok = mint(&key, "ES256", None, &claims(&mock.base));
    let started = std::time::Instant::now();
    let err = v.verify(&tok, &mock.base, "sigstore").await.unwrap_err();
    assert!(
        matches!(&err, OidcError::Discovery(m) if m.contains("timed out")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // Nothing listening.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let tok = mint(&key, "ES256", None, &claims(&dead));
    let err = v.verify(&tok, &dead, "sigstore").await.unwrap_err();
    assert!(matches!(err, OidcError::Discovery(_)), "{err}");
    assert!(err.is_issuer_unavailable());
}

#[tokio::test]
async fn redirect_to_other_host_is_refused() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    let elsewhere = mock.base.replace("127.0.0.1", "localhost");
    mock.set(|c| c.redirect_to = Some(format!("{elsewhere}/.well-known/openid-configuration")));
    let v = verifier();
    let tok = mint(&key, "ES256", None, &claims(&mock.base));
    let err = v.verify(&tok, &mock.base, "sigstore").await.unwrap_err();
    assert!(
        matches!(&err, OidcError::Discovery(m) if m.contains("refused")),
        "{err}"
    );
}

#[tokio::test]
async fn prefetch_and_ca_bundle() {
    let key = new_ec();
    let mock = Mock::start(Some(vec!["ES256"]), vec![key.jwk(None)]).await;
    let v = verifier();
    v.prefetch(&mock.base).await.expect("prefetch");
    assert_eq!((mock.discovery_hits(), mock.jwks_hits()), (1, 1));
    v.verify(
        &mint(&key, "ES256", None, &claims(&mock.base)),
        &mock.base,
        "sigstore",
    )
    .await
    .expect("uses the prefetched keys");
    assert_eq!((mock.discovery_hits(), mock.jwks_hits()), (1, 1));
    // A real CA certificate (self-signed P-256, generated once with openssl) is accepted;
    // the https path itself is not exercised here (no TLS server in the tests).
    v.set_issuer_ca_bundle("https://issuer.internal", TEST_CA_PEM.as_bytes())
        .expect("CA bundle");
    // A bundle without certificates is refused at configuration time.
    assert!(matches!(
        v.set_issuer_ca_bundle("https://issuer.internal", b"not pem"),
        Err(OidcError::CaBundle(_))
    ));
}

#[test]
fn verify_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let v = Verifier::new(VerifierOptions::default()).expect("verifier");
    let fut = v.verify("a.b.c", "http://x", "sigstore");
    is_send(&fut);
}

const TEST_CA_PEM: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBjDCCATOgAwIBAgIUYW3bbSSQcqlj0mQkddEUc/TwRvowCgYIKoZIzj0EAwIw\n\
GzEZMBcGA1UEAwwQc2lnc3RhY2sgdGVzdCBDQTAgFw0yNjExMjIwMTA1NDhaGA8y\n\
MTI2MTAyOTAxMDU0OFowGzEZMBcGA1UEAwwQc2lnc3RhY2sgdGVzdCBDQTBZMBMG\n\
ByqGSM49AgEGCCqGSM49AwEHA0IABAJ3uU/quA+4RRYR6H582D1fr7KqqHLIZ+jE\n\
5jlDU5wGxJ/8wxX6v+djcXhlFSzVANPFCy+35ml67m3+wqVOARqjUzBRMB0GA1Ud\n\
DgQWBBQ35HsZJemlwYBs/zRuf7lPQ/NLEjAfBgNVHSMEGDAWgBQ35HsZJemlwYBs\n\
/zRuf7lPQ/NLEjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCICkx\n\
dIEU+CL5GiAgBFMcv6JS1KaVptTrAtYjPgJuiNTWAiAUvwvqez3qlHsahLluJp/V\n\
vc72u5+xus+or36AXGiGVw==\n\
-----END CERTIFICATE-----\n\
";

//! The development issuer end to end: tokens from each grant verified by the
//! same OIDC verifier Fulcio uses (discovery, JWKS, ES256, claims), and the
//! OAuth error shape for bad requests.

use std::time::Duration;

use serde_json::Value;
use sigstack_oidc::{Verifier, VerifierOptions};
use sigstack_oidc_dev::{router, DevIssuer, IssuerKey, DEVICE_GRANT};

async fn start() -> String {
    start_with(IssuerKey::generate().unwrap()).await
}

async fn start_with(key: IssuerKey) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let issuer = DevIssuer::new(&url, key, Duration::from_secs(300)).unwrap();
    tokio::spawn(async move { axum::serve(listener, router(issuer)).await });
    url
}

async fn post(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('@', "%40").replace(':', "%3A")))
        .collect::<Vec<_>>()
        .join("&");
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn grants_mint_tokens_fulcio_accepts() {
    let url = start().await;
    let v = Verifier::new(VerifierOptions::default()).unwrap();

    let (s, body) = post(
        &format!("{url}/token"),
        &[
            ("grant_type", "password"),
            ("client_id", "sigstore"),
            ("username", "alice@example.com"),
            ("password", "x"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let claims = v
        .verify(body["id_token"].as_str().unwrap(), &url, "sigstore")
        .await
        .unwrap();
    assert_eq!(claims["sub"], "alice@example.com");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);

    // A plain username: no email claim.
    let (_, body) = post(
        &format!("{url}/token"),
        &[
            ("grant_type", "password"),
            ("client_id", "sigstore"),
            ("username", "bob"),
        ],
    )
    .await;
    let claims = v
        .verify(body["id_token"].as_str().unwrap(), &url, "sigstore")
        .await
        .unwrap();
    assert_eq!(claims["sub"], "bob");
    assert!(claims.get("email").is_none());

    // A workload: its own issuer URL, URI subject.
    let (s, body) = post(
        &format!("{url}/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "ci-runner"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let wl = format!("{url}/workloads");
    let claims = v
        .verify(body["id_token"].as_str().unwrap(), &wl, "sigstore")
        .await
        .unwrap();
    assert_eq!(claims["sub"], format!("{wl}/ci-runner"));
    // ... which the person issuer does not accept.
    assert!(v
        .verify(body["id_token"].as_str().unwrap(), &url, "sigstore")
        .await
        .is_err());
}

#[tokio::test]
async fn device_flow() {
    let url = start().await;
    let (s, code) = post(&format!("{url}/device/code"), &[("client_id", "sigstore")]).await;
    assert_eq!(s, 200, "{code}");
    let device_code = code["device_code"].as_str().unwrap();
    let user_code = code["user_code"].as_str().unwrap();
    assert!(code["verification_uri_complete"]
        .as_str()
        .unwrap()
        .ends_with(user_code));
    let poll = [
        ("grant_type", DEVICE_GRANT),
        ("client_id", "sigstore"),
        ("device_code", device_code),
    ];
    let (s, body) = post(&format!("{url}/token"), &poll).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    // The person approves on the page.
    let page = reqwest::get(format!("{url}/device?user_code={user_code}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(user_code));
    let r = reqwest::Client::new()
        .post(format!("{url}/device"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "user_code={}&username=carol%40example.com",
            user_code.to_lowercase()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, body) = post(&format!("{url}/token"), &poll).await;
    assert_eq!(s, 200, "{body}");
    let v = Verifier::new(VerifierOptions::default()).unwrap();
    let claims = v
        .verify(body["id_token"].as_str().unwrap(), &url, "sigstore")
        .await
        .unwrap();
    assert_eq!(claims["email"], "carol@example.com");
    // A device code is good for one token.
    let (s, body) = post(&format!("{url}/token"), &poll).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn errors_in_the_oauth_shape() {
    let url = start().await;
    let t = format!("{url}/token");
    type Form<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Form, u16, &str); 7] = [
        (
            &[("grant_type", "password"), ("username", "a")],
            401,
            "invalid_client",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", "other"),
                ("username", "a"),
            ],
            401,
            "invalid_client",
        ),
        (
            &[("grant_type", "password"), ("client_id", "sigstore")],
            400,
            "invalid_request",
        ),
        (
            &[("grant_type", "refresh_token"), ("client_id", "sigstore")],
            400,
            "unsupported_grant_type",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "sigstore"),
            ],
            400,
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "sigstore"),
                ("code", "nope"),
                ("code_verifier", "v"),
            ],
            400,
            "invalid_grant",
        ),
        (
            &[
                ("grant_type", DEVICE_GRANT),
                ("client_id", "sigstore"),
                ("device_code", "nope"),
            ],
            400,
            "invalid_grant",
        ),
    ];
    for (form, status, error) in cases {
        let (s, body) = post(&t, form).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (status, Some(error)),
            "{form:?}: {body}"
        );
    }
    let m = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("oidc_dev_tokens"), "{m}");
}

/// Go cosign only takes an `--identity-token` value for a token when it is
/// RS256, so new issuer keys are RSA; an older P-256 key file still works.
#[tokio::test]
async fn rs256_by_default_es256_from_an_ec_key_file() {
    use base64::Engine;
    let v = Verifier::new(VerifierOptions::default()).unwrap();
    let ec = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let ec_pem = {
        use p256::pkcs8::EncodePrivateKey;
        ec.to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    };
    for (key, alg) in [
        (IssuerKey::generate().unwrap(), "RS256"),
        (IssuerKey::from_pkcs8_pem(&ec_pem).unwrap(), "ES256"),
    ] {
        let url = start_with(key).await;
        let (_, body) = post(
            &format!("{url}/token"),
            &[
                ("grant_type", "password"),
                ("client_id", "sigstore"),
                ("username", "a@example.com"),
            ],
        )
        .await;
        let token = body["id_token"].as_str().unwrap();
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], alg);
        v.verify(token, &url, "sigstore").await.unwrap();
    }
    // A round trip through the key file keeps the key (and so the kid).
    let k = IssuerKey::generate().unwrap();
    let pem = k.to_pkcs8_pem().unwrap();
    assert_eq!(
        IssuerKey::from_pkcs8_pem(&pem)
            .unwrap()
            .to_pkcs8_pem()
            .unwrap(),
        pem
    );
    assert!(IssuerKey::from_pkcs8_pem("garbage").is_err());
}

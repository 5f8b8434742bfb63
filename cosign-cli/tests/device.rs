//! The interactive sign-ins against our development issuer, in-process:
//! - the device authorization flow (RFC 8628): the client shows the code, a
//!   person (here the test) approves it on the issuer's page, and the
//!   client's polling returns the ID token;
//! - the browser flow (authorization code + PKCE, loopback redirect): the
//!   test plays the browser, from the URL the client shows to the redirect
//!   back to the client's listener.

use std::time::Duration;

use cosign_cli::client::{token_claims, Http};
use sigstack_oidc_dev::{router, DevIssuer, IssuerKey};

#[test]
fn device_flow_returns_the_approved_identity() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = dev_issuer(&rt);

    let (tx, rx) = std::sync::mpsc::channel();
    let iss = url.clone();
    let client = std::thread::spawn(move || {
        let http = Http::new(Duration::from_secs(30)).unwrap();
        http.device_flow(&iss, "sigstore", &|code, uri, _complete| {
            tx.send((code.to_owned(), uri.to_owned())).unwrap();
        })
    });
    let (code, uri) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(uri, format!("{url}/device"));
    // Approve as a person would on the verification page.
    let approved = rt
        .block_on(
            reqwest::Client::new()
                .post(&uri)
                .form(&[
                    ("user_code", code.as_str()),
                    ("username", "dana@example.com"),
                ])
                .send(),
        )
        .unwrap();
    assert!(approved.status().is_success());
    let token = client.join().unwrap().unwrap();
    let claims = token_claims(&token).unwrap();
    assert_eq!(claims["iss"], url.as_str());
    assert_eq!(claims["email"], "dana@example.com");
    assert_eq!(claims["email_verified"], true);

    // An issuer that is not there: a clear error, no hang.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let http = Http::new(Duration::from_secs(5)).unwrap();
    let err = http
        .device_flow(&dead, "sigstore", &|_, _, _| panic!("no code expected"))
        .unwrap_err();
    assert!(err.to_string().contains("OIDC issuer"), "{err}");
}

/// The dev issuer, served in-process; returns its URL.
fn dev_issuer(rt: &tokio::runtime::Runtime) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let issuer = DevIssuer::new(
        &url,
        IssuerKey::generate().unwrap(),
        Duration::from_secs(300),
    )
    .unwrap();
    rt.spawn(async move { axum::serve(listener, router(issuer)).await });
    url
}

/// Starts the client's browser flow on a thread; returns the URL it shows
/// and the handle that yields its result.
fn start_browser_flow(
    iss: &str,
) -> (
    url::Url,
    std::thread::JoinHandle<Result<String, cosign_cli::client::ServiceError>>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    let iss = iss.to_owned();
    let handle = std::thread::spawn(move || {
        let http = Http::new(Duration::from_secs(30)).unwrap();
        let flow = cosign_cli::oauth::CodeFlow {
            issuer: &iss,
            client_id: "sigstore",
            client_secret: None,
            redirect_url: None,
        };
        cosign_cli::oauth::browser_flow(&http, &flow, &|u| tx.send(u.to_owned()).unwrap())
    });
    let shown = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    (url::Url::parse(&shown).unwrap(), handle)
}

/// A "browser" that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `url` with its query pairs rewritten by `f` (dropped where it says None).
fn map_query(url: &url::Url, f: impl Fn(String, String) -> Option<(String, String)>) -> url::Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter_map(|(k, v)| f(k, v))
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut().clear().extend_pairs(&pairs);
    out
}

/// The person signs in on the issuer's page: the form is posted with the
/// request's parameters; returns where the issuer sends the browser.
async fn sign_in(browser: &reqwest::Client, auth: &url::Url, username: &str) -> url::Url {
    let page = browser.get(auth.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=username"));
    let mut form: Vec<(String, String)> = auth.query_pairs().into_owned().collect();
    form.push(("username".into(), username.into()));
    let mut post = auth.clone();
    post.set_query(None);
    let r = browser.post(post).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

#[test]
fn browser_flow_returns_the_signed_in_identity_and_checks_state() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = dev_issuer(&rt);
    let browser = browser();

    let (auth, client) = start_browser_flow(&url);
    assert_eq!(auth.path(), "/authorize");
    let q: std::collections::HashMap<String, String> = auth.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], "sigstore");
    assert!(q["redirect_uri"].starts_with("http://localhost:"));
    assert!(q["redirect_uri"].ends_with("/auth/callback"));
    let back = rt.block_on(sign_in(&browser, &auth, "erin@example.com"));
    assert!(back.as_str().starts_with(q["redirect_uri"].as_str()));
    let done = rt.block_on(browser.get(back).send()).unwrap();
    assert_eq!(done.status(), 200);
    let token = client.join().unwrap().unwrap();
    let claims = token_claims(&token).unwrap();
    assert_eq!(claims["iss"], url.as_str());
    assert_eq!(claims["email"], "erin@example.com");
    assert_eq!(claims["nonce"], q["nonce"].as_str());

    // A redirect with another state (a forged or stale one) ends the flow.
    let (auth, client) = start_browser_flow(&url);
    let back = rt.block_on(sign_in(&browser, &auth, "erin@example.com"));
    let forged = map_query(&back, |k, v| {
        let v = if k == "state" { "forged".into() } else { v };
        Some((k, v))
    });
    let r = rt.block_on(browser.get(forged).send()).unwrap();
    assert_eq!(r.status(), 400);
    let err = client.join().unwrap().unwrap_err().to_string();
    assert!(err.contains("another state"), "{err}");
}

/// The issuer's side: PKCE is required, the verifier must match, and a
/// code is good once.
#[test]
fn dev_issuer_code_exchange_is_pkce_bound_and_single_use() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = dev_issuer(&rt);
    let browser = browser();
    let verifier = "a-verifier-of-the-right-length-0123456789abcdefghij";
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
    };
    let redirect = "http://127.0.0.1:9/cb";
    let mut auth = url::Url::parse(&format!("{url}/authorize")).unwrap();
    auth.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", "sigstore"),
        ("redirect_uri", redirect),
        ("state", "s1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    // Without PKCE: refused on the page.
    let no_pkce = map_query(&auth, |k, v| {
        (!k.starts_with("code_challenge")).then_some((k, v))
    });
    let r = rt.block_on(browser.get(no_pkce).send()).unwrap();
    assert_eq!(r.status(), 400);

    let code_of = |back: &url::Url| -> String {
        back.query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned()
    };
    let exchange = |code: &str, verifier: &str| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", "sigstore"),
            ("code_verifier", verifier),
        ];
        let r = rt
            .block_on(browser.post(format!("{url}/token")).form(&form).send())
            .unwrap();
        let status = r.status().as_u16();
        (status, rt.block_on(r.json::<serde_json::Value>()).unwrap())
    };
    let back = rt.block_on(sign_in(&browser, &auth, "frank"));
    assert_eq!(
        back.query_pairs().find(|(k, _)| k == "state").unwrap().1,
        "s1"
    );
    // A wrong verifier burns the code; the right one then finds it gone.
    let code = code_of(&back);
    let (status, v) = exchange(&code, "not-the-verifier");
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
    let (status, v) = exchange(&code, verifier);
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));

    // A fresh code with the right verifier: a token for the username.
    let back = rt.block_on(sign_in(&browser, &auth, "frank"));
    let (status, v) = exchange(&code_of(&back), verifier);
    assert_eq!(status, 200, "{v}");
    let claims = token_claims(v["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["sub"], "frank");
}

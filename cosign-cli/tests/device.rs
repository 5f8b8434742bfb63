//! The device authorization flow (RFC 8628) against our development issuer,
//! in-process: the client shows the code, a person (here the test) approves
//! it on the issuer's page, and the client's polling returns the ID token.

use std::time::Duration;

use cosign_cli::client::{token_claims, Http};
use sigstack_oidc_dev::{router, DevIssuer, IssuerKey};

#[test]
fn device_flow_returns_the_approved_identity() {
    let rt = tokio::runtime::Runtime::new().unwrap();
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

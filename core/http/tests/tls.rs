//! HTTPS serving with a configured certificate, and the loopback-only rule
//! for plain HTTP.

use axum::routing::get;
use axum::Router;
use sigstack_http::tls::{check_plain_http, TlsArgs, TlsError};

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cp, kp) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cp, cert.cert.pem()).unwrap();
    std::fs::write(&kp, cert.signing_key.serialize_pem()).unwrap();
    let args = TlsArgs {
        tls_cert: Some(cp.clone()),
        tls_key: Some(kp.clone()),
        insecure_http: false,
    };
    let config = args.load().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/healthz", get(|| async { "ok" }));
    tokio::spawn(sigstack_http::tls::serve(
        listener,
        app,
        config,
        std::future::pending(),
    ));

    let trusted = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = trusted
        .get(format!("https://localhost:{}/healthz", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    // A client that does not trust the certificate is refused by its own TLS.
    let untrusting = reqwest::Client::new();
    assert!(untrusting
        .get(format!("https://localhost:{}/healthz", addr.port()))
        .send()
        .await
        .is_err());
    // Plain HTTP to the TLS port gets no HTTP response.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{}/healthz", addr.port()))
            .await
            .is_err()
    );

    // Half a configuration, a missing file, a key file that is a cert.
    let half = TlsArgs {
        tls_cert: Some(cp.clone()),
        tls_key: None,
        insecure_http: false,
    };
    assert!(matches!(half.load(), Err(TlsError::Half)));
    let missing = TlsArgs {
        tls_cert: Some(dir.path().join("nope")),
        tls_key: Some(kp),
        insecure_http: false,
    };
    assert!(matches!(missing.load(), Err(TlsError::File { .. })));
    let wrong = TlsArgs {
        tls_cert: Some(cp.clone()),
        tls_key: Some(cp),
        insecure_http: false,
    };
    assert!(wrong.load().is_err());
}

#[test]
fn plain_http_only_on_loopback_unless_allowed() {
    let lo = "127.0.0.1:80".parse().unwrap();
    let lo6 = "[::1]:80".parse().unwrap();
    let any = "0.0.0.0:80".parse().unwrap();
    assert!(check_plain_http(lo, false, false).is_ok());
    assert!(check_plain_http(lo6, false, false).is_ok());
    assert!(matches!(
        check_plain_http(any, false, false),
        Err(TlsError::PlainHttp(_))
    ));
    assert!(check_plain_http(any, true, false).is_ok());
    assert!(check_plain_http(any, false, true).is_ok());
}

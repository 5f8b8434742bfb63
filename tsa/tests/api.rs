//! The TSA over HTTP, in process on 127.0.0.1:0: both request forms, the
//! chain endpoint, upstream's error shapes, and the key files that
//! `certificate create` writes loaded by the file signer.

use std::sync::Arc;

use base64::Engine;
use sigstack_core::keys::HashAlgorithm;
use sigstack_core::trust::{
    CertificateAuthority, DistinguishedName, TimeRange, X509Certificate, X509CertificateChain,
};
use sigstack_core::tsp::{verify_timestamp, TimeStampRequest};
use tsa::config::{Config, ServeArgs, SignerKind};

async fn start(tsa: tsa::Tsa, limit: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = tsa::api::router_with_limit(Arc::new(tsa), limit);
    tokio::spawn(sigstack_http::tls::serve(
        listener,
        app,
        None,
        std::future::pending(),
    ));
    format!("http://{addr}")
}

fn trusted(chain_pem: &str) -> Vec<CertificateAuthority> {
    let chain = sigstack_core::pem::parse_certificates(chain_pem.as_bytes()).unwrap();
    vec![CertificateAuthority {
        subject: DistinguishedName {
            organization: "sigstack".into(),
            common_name: "tsa".into(),
        },
        uri: String::new(),
        cert_chain: X509CertificateChain {
            certificates: chain
                .into_iter()
                .map(|raw_bytes| X509Certificate { raw_bytes })
                .collect(),
        },
        valid_for: TimeRange {
            start: time::OffsetDateTime::UNIX_EPOCH,
            end: None,
        },
        operator: String::new(),
    }]
}

#[tokio::test]
async fn stamps_der_and_json_requests_and_serves_the_chain() {
    let base = start(tsa::Tsa::ephemeral().unwrap(), 1 << 20).await;
    let http = reqwest::Client::new();
    let chain = http
        .get(format!("{base}/api/v1/timestamp/certchain"))
        .send()
        .await
        .unwrap();
    assert_eq!(chain.status(), 200);
    assert_eq!(
        chain.headers()["content-type"],
        "application/pem-certificate-chain"
    );
    let roots = trusted(&chain.text().await.unwrap());
    assert_eq!(roots[0].cert_chain.certificates.len(), 2);

    // DER, as sigstore-python and Go cosign send it (content-type parameters allowed).
    let req = TimeStampRequest::for_data(HashAlgorithm::Sha256, b"sig bytes");
    let resp = http
        .post(format!("{base}/api/v1/timestamp"))
        .header(
            "content-type",
            "application/timestamp-query; charset=binary",
        )
        .body(req.to_der())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/timestamp-reply"
    );
    let der = resp.bytes().await.unwrap();
    verify_timestamp(&der, b"sig bytes", &roots, req.nonce.as_deref()).unwrap();

    // JSON, as sigstore-js sends it.
    let digest = HashAlgorithm::Sha256.digest(b"sig bytes");
    let resp = http
        .post(format!("{base}/api/v1/timestamp"))
        .json(&serde_json::json!({
            "artifactHash": base64::engine::general_purpose::STANDARD.encode(digest),
            "hashAlgorithm": "sha256",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let der = resp.bytes().await.unwrap();
    verify_timestamp(&der, b"sig bytes", &roots, None).unwrap();

    for path in ["/healthz", "/ping"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tsa_timestamps_total{outcome=\"issued\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("tsa_http_requests_total"), "{metrics}");
}

#[tokio::test]
async fn bad_requests_get_upstream_errors() {
    let base = start(tsa::Tsa::ephemeral().unwrap(), 4096).await;
    let http = reqwest::Client::new();
    let post = |ct: Option<&'static str>, body: Vec<u8>| {
        let mut r = http.post(format!("{base}/api/v1/timestamp")).body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        async move {
            let resp = r.send().await.unwrap();
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["code"], status, "{body}");
            (
                status,
                body["message"].as_str().unwrap_or_default().to_string(),
            )
        }
    };
    let (s, m) = post(Some("text/plain"), b"x".to_vec()).await;
    assert_eq!(s, 415);
    assert!(m.contains("unsupported media type"), "{m}");
    assert_eq!(post(None, b"x".to_vec()).await.0, 415);
    let (s, m) = post(Some("application/timestamp-query"), b"garbage".to_vec()).await;
    assert_eq!(s, 400);
    assert!(m.starts_with("Error generating timestamp response"), "{m}");
    let (s, m) = post(Some("application/timestamp-query"), vec![0x30; 5000]).await;
    assert_eq!((s, m.as_str()), (400, "timestamp request is too large"));
    let (s, m) = post(
        Some("application/json"),
        br#"{"artifactHash":"AAAA","hashAlgorithm":"sha1"}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (s, m.as_str()),
        (400, "Weak hash algorithm in timestamp request")
    );
    // A request with an extension.
    let mut req = TimeStampRequest::for_data(HashAlgorithm::Sha256, b"x").to_der();
    let mut body = req[2..].to_vec();
    body.extend_from_slice(&[0xa0, 0x02, 0x30, 0x00]);
    req = vec![0x30, body.len() as u8];
    req.extend(body);
    let (s, m) = post(Some("application/timestamp-query"), req).await;
    assert_eq!(s, 400);
    assert!(m.starts_with("unaccepted extension"), "{m}");
}

#[tokio::test]
async fn certificate_create_writes_what_the_file_signer_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tsa");
    tsa::cli::create_files(
        &out,
        "example",
        "example-tsa",
        std::time::Duration::from_secs(86400),
        Some("secret"),
        None,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    for key in ["root.key.pem", "tsa.key.pem"] {
        let mode = std::fs::metadata(out.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
        let text = std::fs::read_to_string(out.join(key)).unwrap();
        assert!(text.contains("ENCRYPTED PRIVATE KEY"), "{key}");
    }
    // A second run refuses to overwrite.
    assert!(tsa::cli::create_files(
        &out,
        "o",
        "c",
        std::time::Duration::from_secs(60),
        None,
        None
    )
    .is_err());

    // SAFETY of the env var: only this test in this binary reads it.
    std::env::set_var("TSA_FILE_SIGNER_PASSWD", "secret");
    let args = ServeArgs {
        timestamp_signer: Some(SignerKind::File),
        file_signer_key_path: Some(out.join("tsa.key.pem")),
        certificate_chain_path: Some(out.join("chain.pem")),
        ..Default::default()
    };
    let t = tsa::cli::open(&Config::resolve(&args).unwrap()).unwrap();
    let roots = trusted(&t.chain_pem());
    let base = start(t, 1 << 20).await;
    let req = TimeStampRequest::for_data(HashAlgorithm::Sha512, b"abc");
    let der = reqwest::Client::new()
        .post(format!("{base}/api/v1/timestamp"))
        .header("content-type", "application/timestamp-query")
        .body(req.to_der())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    verify_timestamp(&der, b"abc", &roots, req.nonce.as_deref()).unwrap();

    // The root key with the chain: refused at start.
    let wrong = ServeArgs {
        file_signer_key_path: Some(out.join("root.key.pem")),
        ..args.clone()
    };
    let err = tsa::cli::open(&Config::resolve(&wrong).unwrap())
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("does not match"), "{err:#}");
    // A wrong passphrase.
    std::env::set_var("TSA_FILE_SIGNER_PASSWD", "wrong");
    assert!(tsa::cli::open(&Config::resolve(&args).unwrap()).is_err());
}

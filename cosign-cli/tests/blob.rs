//! `sign-blob` / `verify-blob` with bundles, through the `cosign` binary:
//! - verification of sigstore-python's real staging bundle with every URL of
//!   the trusted root (and any proxy) pointing to a closed port, so a
//!   verification that needed the network would fail;
//! - key-based signing recorded in our Rekor (in-process), then verified
//!   offline, and each refusal with its one-line reason.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::{json, Value};
use sigstack_core::keys::SigningKey;

const COSIGN: &str = env!("CARGO_BIN_EXE_cosign");

fn upstream(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/data/upstream/sigstore-python")
        .join(name)
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cosign(dir: &Path, args: &[&str]) -> Output {
    let dead = format!("http://127.0.0.1:{}", closed_port());
    Command::new(COSIGN)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("TUF_ROOT", dir.join("tuf"))
        .env("COSIGN_PASSWORD", "pw")
        .env("HTTP_PROXY", &dead)
        .env("HTTPS_PROXY", &dead)
        .env("ALL_PROXY", &dead)
        .env_remove("SIGSTORE_ID_TOKEN")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "cosign failed: {}", stderr(o));
}

/// Fails with exit code 1 and says `reason` on its last line.
fn refused(o: &Output, reason: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    let err = stderr(o);
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Error: ") && last.contains(reason),
        "want /{reason}/ in {err:?}"
    );
}

/// The staging trusted root with every URL moved to a closed port.
fn offline_root(dir: &Path) -> String {
    let mut root: Value =
        serde_json::from_slice(&std::fs::read(upstream("trusted_root.sigstage.json")).unwrap())
            .unwrap();
    let dead = format!("http://127.0.0.1:{}", closed_port());
    for list in ["tlogs", "ctlogs"] {
        for log in root[list].as_array_mut().unwrap() {
            log["baseUrl"] = json!(dead);
        }
    }
    for list in ["certificateAuthorities", "timestampAuthorities"] {
        for ca in root[list].as_array_mut().unwrap() {
            ca["uri"] = json!(dead);
        }
    }
    let path = dir.join("trusted_root.json");
    std::fs::write(&path, serde_json::to_vec(&root).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn verifies_an_upstream_bundle_without_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = offline_root(d);
    let bundle = upstream("bundle_v3.txt.sigstore");
    let bundle = bundle.to_str().unwrap();
    let artifact = upstream("bundle_v3.txt");
    let artifact = artifact.to_str().unwrap();
    let base = [
        "verify-blob",
        "--trusted-root",
        &root,
        "--bundle",
        bundle,
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cosign(d, &refs)
    };

    let o = run(with(&[
        "--certificate-identity",
        "william@yossarian.net",
        artifact,
    ]));
    ok(&o);
    assert!(stderr(&o).contains("Verified OK"));
    // The flag aliases and an unanchored regexp, as Go cosign.
    ok(&run(with(&[
        "--cert-identity",
        "william@yossarian.net",
        artifact,
    ])));
    ok(&run(with(&[
        "--certificate-identity-regexp",
        "yossarian",
        artifact,
    ])));
    // By digest.
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(artifact).unwrap(),
    ));
    ok(&run(with(&[
        "--certificate-identity",
        "william@yossarian.net",
        &format!("sha256:{digest}"),
    ])));

    refused(
        &run(with(&[
            "--certificate-identity",
            "mallory@yossarian.net",
            artifact,
        ])),
        "does not match \"mallory@yossarian.net\"",
    );
    let other = d.join("other.txt");
    std::fs::write(&other, "another artifact").unwrap();
    refused(
        &run(with(&[
            "--certificate-identity",
            "william@yossarian.net",
            other.to_str().unwrap(),
        ])),
        "digest does not match",
    );
    refused(
        &run(base[..5]
            .iter()
            .map(|s| s.to_string())
            .chain([artifact.to_string()])
            .collect()),
        "--certificate-identity or --certificate-identity-regexp is required",
    );
    // A truncated bundle.
    let text = std::fs::read(bundle).unwrap();
    let cut = d.join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    refused(
        &cosign(
            d,
            &[
                "verify-blob",
                "--trusted-root",
                &root,
                "--bundle",
                cut.to_str().unwrap(),
                "--certificate-identity",
                "william@yossarian.net",
                "--certificate-oidc-issuer",
                "https://github.com/login/oauth",
                artifact,
            ],
        ),
        "invalid document",
    );
}

fn trusted_root_for(log: &sigstack_core::keys::PublicKey, url: &str) -> Value {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let spki = log.to_spki_der();
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": url, "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": STANDARD.encode(&spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": "2020-01-01T00:00:00Z"}},
            "logId": {"keyId": STANDARD.encode(sigstack_core::keys::sha256_key_id(&spki))}
        }],
        "certificateAuthorities": [], "ctlogs": [], "timestampAuthorities": []
    })
}

fn signing_config_for(rekor: &str) -> Value {
    json!({
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [], "oidcUrls": [],
        "rekorTlogUrls": [{"url": rekor, "majorApiVersion": 1,
            "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "test"}],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaUrls": [], "tsaConfig": {"selector": "ANY"}
    })
}

#[test]
fn key_signing_through_our_rekor_then_offline_verification() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let log_key = SigningKey::generate_p256();
    let log_public = log_key.public_key();
    let svc = Arc::new(
        rekor::service::Service::open(rekor::service::ServiceOptions {
            data_dir: data.path().join("data"),
            key: rekor::signer::LogKey::new(log_key).unwrap(),
            hostname: "127.0.0.1".into(),
            tree_id: Some(77),
            log: Default::default(),
            max_request_bytes: 4 << 20,
            block_cache_bytes: 8 << 20,
            v2: None,
        })
        .unwrap(),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(rekor::serve(listener, svc.clone(), None, async {
        let _ = stopped.await;
    }));

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, v: &Value| {
        let p = d.join(name);
        std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let root = write("root.json", &trusted_root_for(&log_public, &url));
    let sc = write("sc.json", &signing_config_for(&url));
    std::fs::write(d.join("a.txt"), "an artifact").unwrap();
    std::fs::write(d.join("b.txt"), "another artifact").unwrap();
    // Our client signs through the live log; the proxy variables must not
    // apply to loopback, so unset them for this one call.
    ok(&cosign(d, &["generate-key-pair"]));
    let o = Command::new(COSIGN)
        .args(["sign-blob", "--key", "cosign.key", "--signing-config", &sc])
        .args(["--bundle", "a.sigstore.json", "a.txt"])
        .current_dir(d)
        .env("COSIGN_PASSWORD", "pw")
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    ok(&o);
    assert!(
        stderr(&o).contains("tlog entry created with index: 0"),
        "{}",
        stderr(&o)
    );
    // Signing the same blob again with the same key gives the same
    // (RFC 6979 deterministic) signature: a duplicate for the log (409),
    // for which the client fetches the existing entry instead of failing.
    let again = Command::new(COSIGN)
        .args(["sign-blob", "--key", "cosign.key", "--signing-config", &sc])
        .args(["--bundle", "again.sigstore.json", "a.txt"])
        .current_dir(d)
        .env("COSIGN_PASSWORD", "pw")
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    ok(&again);
    assert!(stderr(&again).contains("index: 0"), "{}", stderr(&again));

    // An attestation (dsse entry) about the same blob.
    std::fs::write(
        d.join("pred.json"),
        r#"{"buildType":"b","builder":{"id":"c"}}"#,
    )
    .unwrap();
    let att = Command::new(COSIGN)
        .args([
            "attest-blob",
            "--key",
            "cosign.key",
            "--signing-config",
            &sc,
        ])
        .args(["--predicate", "pred.json", "--type", "slsaprovenance1"])
        .args(["--bundle", "att.sigstore.json", "a.txt"])
        .current_dir(d)
        .env("COSIGN_PASSWORD", "pw")
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    ok(&att);

    // The log is stopped: everything below is offline.
    let _ = stop.send(());
    rt.block_on(server).unwrap().unwrap();
    drop(svc);

    let bundle: Value =
        serde_json::from_slice(&std::fs::read(d.join("a.sigstore.json")).unwrap()).unwrap();
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert!(bundle["verificationMaterial"]["publicKey"]["hint"].is_string());
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord");
    assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert!(entry["inclusionProof"]["hashes"].is_array());

    let verify = |bundle: &str, key: &str, artifact: &str| {
        cosign(
            d,
            &[
                "verify-blob",
                "--key",
                key,
                "--trusted-root",
                &root,
                "--bundle",
                bundle,
                artifact,
            ],
        )
    };
    ok(&verify("a.sigstore.json", "cosign.pub", "a.txt"));
    ok(&verify("again.sigstore.json", "cosign.pub", "a.txt"));
    refused(
        &verify("a.sigstore.json", "cosign.pub", "b.txt"),
        "digest does not match",
    );
    ok(&cosign(
        d,
        &["generate-key-pair", "--output-key-prefix", "other"],
    ));
    refused(
        &verify("a.sigstore.json", "other.pub", "a.txt"),
        "transparency log entry 0: the logged key or certificate is not the bundle's",
    );
    // A root that trusts another log.
    let stranger = write(
        "stranger.json",
        &trusted_root_for(&SigningKey::generate_p256().public_key(), &url),
    );
    refused(
        &cosign(
            d,
            &[
                "verify-blob",
                "--key",
                "cosign.pub",
                "--trusted-root",
                &stranger,
                "--bundle",
                "a.sigstore.json",
                "a.txt",
            ],
        ),
        "is not a transparency log of the trusted root",
    );
    // Each entry field tampered with.
    for (pointer, what) in [
        ("/verificationMaterial/tlogEntries/0/integratedTime", "SET"),
        ("/verificationMaterial/tlogEntries/0/logIndex", "SET"),
    ] {
        let mut b = bundle.clone();
        let v = b
            .pointer(pointer)
            .unwrap()
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap();
        *b.pointer_mut(pointer).unwrap() = json!((v + 1).to_string());
        let p = write("tampered.json", &b);
        refused(&verify(&p, "cosign.pub", "a.txt"), what);
    }
    let mut b = bundle.clone();
    let sig = b["messageSignature"]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sig).unwrap();
    raw[10] ^= 1;
    b["messageSignature"]["signature"] = json!(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        raw
    ));
    let p = write("tampered.json", &b);
    refused(
        &verify(&p, "cosign.pub", "a.txt"),
        "the logged signature is not the bundle's",
    );
    // The attestation: its statement names a.txt, its type is SLSA v1.
    let att: Value =
        serde_json::from_slice(&std::fs::read(d.join("att.sigstore.json")).unwrap()).unwrap();
    assert_eq!(
        att["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
        "dsse"
    );
    let verify_att = |extra: &[&str]| {
        let mut args = vec![
            "verify-blob-attestation",
            "--key",
            "cosign.pub",
            "--trusted-root",
            &root,
            "--bundle",
            "att.sigstore.json",
        ];
        args.extend_from_slice(extra);
        cosign(d, &args)
    };
    ok(&verify_att(&["--type", "slsaprovenance1", "a.txt"]));
    ok(&verify_att(&[
        "--type",
        "https://slsa.dev/provenance/v1",
        "a.txt",
    ]));
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"an artifact"));
    ok(&verify_att(&[
        "--type",
        "slsaprovenance1",
        "--digest",
        &digest,
    ]));
    ok(&verify_att(&[
        "--type",
        "slsaprovenance1",
        "--check-claims=false",
    ]));
    refused(
        &verify_att(&["a.txt"]),
        "none of the attestations matched the predicate type",
    );
    refused(
        &verify_att(&["--type", "slsaprovenance1", "b.txt"]),
        "no subject of the in-toto statement has the artifact's digest",
    );
    // A message-signature bundle is not an attestation.
    refused(
        &cosign(
            d,
            &[
                "verify-blob-attestation",
                "--key",
                "cosign.pub",
                "--trusted-root",
                &root,
                "--bundle",
                "a.sigstore.json",
                "--check-claims=false",
            ],
        ),
        "not an attestation",
    );
    // Keyless signing without a token says what is missing.
    refused(
        &cosign(
            d,
            &[
                "sign-blob",
                "--signing-config",
                &sc,
                "--bundle",
                "k.json",
                "a.txt",
            ],
        ),
        "no identity token",
    );
    // And a key bundle is not a keyless one.
    refused(
        &cosign(
            d,
            &[
                "verify-blob",
                "--trusted-root",
                &root,
                "--bundle",
                "a.sigstore.json",
                "--certificate-identity",
                "x",
                "--certificate-oidc-issuer",
                "y",
                "a.txt",
            ],
        ),
        "verify it with --key",
    );
}

/// A key signature timestamped by our TSA (in-process), no log: the bundle
/// carries the RFC 3161 timestamp, and verification with
/// `--use-signed-timestamps --insecure-ignore-tlog` needs the TSA in the
/// trusted root, as Go cosign does.
#[test]
fn key_signing_with_a_timestamp_from_our_tsa() {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tsa = Arc::new(tsa::Tsa::ephemeral().unwrap());
    let chain: Vec<Value> = tsa
        .chain_der()
        .iter()
        .map(|d| json!({"rawBytes": STANDARD.encode(d)}))
        .collect();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/api/v1/timestamp", listener.local_addr().unwrap());
    rt.spawn(tsa::serve(listener, tsa, None, std::future::pending()));

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, v: &Value| {
        let p = d.join(name);
        std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let mut sc = signing_config_for("http://127.0.0.1:1");
    sc["tsaUrls"] = json!([{"url": url, "majorApiVersion": 1,
        "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "test"}]);
    let sc = write("sc.json", &sc);
    let mut root = trusted_root_for(&SigningKey::generate_p256().public_key(), "http://x");
    root["timestampAuthorities"] = json!([{
        "subject": {"organization": "sigstack", "commonName": "sigstack-tsa"},
        "uri": url, "certChain": {"certificates": chain},
        "validFor": {"start": "2020-01-01T00:00:00Z"}
    }]);
    let with_tsa = write("root.json", &root);
    root["timestampAuthorities"] = json!([]);
    let without_tsa = write("root-no-tsa.json", &root);
    std::fs::write(d.join("a.txt"), "an artifact").unwrap();
    ok(&cosign(d, &["generate-key-pair"]));
    let o = Command::new(COSIGN)
        .args(["sign-blob", "--key", "cosign.key", "--signing-config", &sc])
        .args([
            "--tlog-upload=false",
            "--bundle",
            "a.sigstore.json",
            "a.txt",
        ])
        .current_dir(d)
        .env("COSIGN_PASSWORD", "pw")
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    ok(&o);
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(d.join("a.sigstore.json")).unwrap()).unwrap();
    let vm = &bundle["verificationMaterial"];
    assert!(vm["tlogEntries"].as_array().is_none_or(|a| a.is_empty()));
    assert!(vm["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"].is_string());

    let verify = |root: &str, bundle: &str| {
        cosign(
            d,
            &[
                "verify-blob",
                "--key",
                "cosign.pub",
                "--trusted-root",
                root,
                "--insecure-ignore-tlog",
                "--use-signed-timestamps",
                "--bundle",
                bundle,
                "a.txt",
            ],
        )
    };
    ok(&verify(&with_tsa, "a.sigstore.json"));
    refused(
        &verify(&without_tsa, "a.sigstore.json"),
        "RFC 3161 timestamp 0",
    );
    // A timestamp taken from another signature's bundle.
    let mut other = bundle.clone();
    other["messageSignature"]["signature"] = json!(STANDARD.encode([1u8; 70]));
    let other = write("other.json", &other);
    let o = verify(&with_tsa, &other);
    assert_ne!(o.status.code(), Some(0));
}

/// Key signing through our Rekor v2 log and TSA (both in-process), as Go
/// cosign does when the signing config offers v2: a hashedrekord 0.0.2 entry
/// (DSSE: over the PAE's hash) and a timestamp; both verify offline, and
/// without the timestamp the v2-only bundle has no time and is refused.
#[test]
fn key_signing_to_rekor_v2_with_a_timestamp() {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let v2_key = SigningKey::generate_ed25519();
    let v2_public = v2_key.public_key();
    let svc = Arc::new(
        rekor::service::Service::open(rekor::service::ServiceOptions {
            data_dir: data.path().join("data"),
            key: rekor::signer::LogKey::new(SigningKey::generate_p256()).unwrap(),
            hostname: "127.0.0.1".into(),
            tree_id: Some(78),
            log: Default::default(),
            max_request_bytes: 4 << 20,
            block_cache_bytes: 8 << 20,
            v2: Some(rekor::v2::TilesOptions {
                data_dir: data.path().join("v2"),
                key: rekor::v2::TilesKey::new(v2_key, "127.0.0.1").unwrap(),
                path_prefix: "/v2".into(),
                log: Default::default(),
                block_cache_bytes: 8 << 20,
            }),
        })
        .unwrap(),
    );
    let log_id = *svc.v2().unwrap().key().log_id();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(rekor::serve(listener, svc, None, std::future::pending()));
    let tsa = Arc::new(tsa::Tsa::ephemeral().unwrap());
    let chain: Vec<Value> = tsa
        .chain_der()
        .iter()
        .map(|d| json!({"rawBytes": STANDARD.encode(d)}))
        .collect();
    let tl = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let tsa_url = format!("http://{}/api/v1/timestamp", tl.local_addr().unwrap());
    rt.spawn(tsa::serve(tl, tsa, None, std::future::pending()));

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, v: &Value| {
        let p = d.join(name);
        std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let v2_url = format!("{url}/v2");
    let mut sc = signing_config_for(&url);
    sc["rekorTlogUrls"] = json!([
        {"url": v2_url, "majorApiVersion": 2, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "test"},
        {"url": url, "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "test"}]);
    sc["tsaUrls"] = json!([{"url": tsa_url, "majorApiVersion": 1,
        "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "test"}]);
    let sc = write("sc.json", &sc);
    let root = json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{"baseUrl": v2_url, "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": STANDARD.encode(v2_public.to_spki_der()), "keyDetails": "PKIX_ED25519",
                "validFor": {"start": "2020-01-01T00:00:00Z"}},
            "logId": {"keyId": STANDARD.encode(log_id)}}],
        "certificateAuthorities": [], "ctlogs": [],
        "timestampAuthorities": [{
            "subject": {"organization": "sigstack", "commonName": "sigstack-tsa"},
            "uri": tsa_url, "certChain": {"certificates": chain},
            "validFor": {"start": "2020-01-01T00:00:00Z"}}]
    });
    let root = write("root.json", &root);
    std::fs::write(d.join("a.txt"), "an artifact").unwrap();
    std::fs::write(d.join("pred.json"), r#"{"buildType":"b"}"#).unwrap();
    ok(&cosign(d, &["generate-key-pair"]));
    let run = |args: &[&str]| {
        Command::new(COSIGN)
            .args(args)
            .current_dir(d)
            .env("COSIGN_PASSWORD", "pw")
            .env("NO_PROXY", "127.0.0.1")
            .output()
            .unwrap()
    };
    let o = run(&[
        "sign-blob",
        "--key",
        "cosign.key",
        "--signing-config",
        &sc,
        "--bundle",
        "a.sigstore.json",
        "a.txt",
    ]);
    ok(&o);
    assert!(stderr(&o).contains("(Rekor v2)"), "{}", stderr(&o));
    let o = run(&[
        "attest-blob",
        "--key",
        "cosign.key",
        "--signing-config",
        &sc,
        "--predicate",
        "pred.json",
        "--type",
        "slsaprovenance1",
        "--bundle",
        "att.sigstore.json",
        "a.txt",
    ]);
    ok(&o);
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(d.join("a.sigstore.json")).unwrap()).unwrap();
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["version"], "0.0.2");
    assert!(entry.get("integratedTime").is_none());
    // Offline verification (the servers keep running, but a proxy on a
    // closed port would catch any request).
    ok(&cosign(
        d,
        &[
            "verify-blob",
            "--key",
            "cosign.pub",
            "--trusted-root",
            &root,
            "--bundle",
            "a.sigstore.json",
            "a.txt",
        ],
    ));
    ok(&cosign(
        d,
        &[
            "verify-blob-attestation",
            "--key",
            "cosign.pub",
            "--trusted-root",
            &root,
            "--type",
            "slsaprovenance1",
            "--bundle",
            "att.sigstore.json",
            "a.txt",
        ],
    ));
    let mut no_ts = bundle.clone();
    no_ts["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("timestampVerificationData");
    let no_ts = write("no-ts.json", &no_ts);
    refused(
        &cosign(
            d,
            &[
                "verify-blob",
                "--key",
                "cosign.pub",
                "--trusted-root",
                &root,
                "--bundle",
                &no_ts,
                "a.txt",
            ],
        ),
        "no verified RFC 3161 timestamp",
    );
}

//! `cosign sign` / `cosign verify` for images through the `cosign` binary,
//! against an in-process registry that speaks the distribution API subset
//! the client uses, in both shapes a registry comes in: with the OCI 1.1
//! referrers API, and without it (the tag-schema fallback index). The real
//! registry (docker-registry) and Go cosign are in scripts/interop/images.sh.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const COSIGN: &str = env!("CARGO_BIN_EXE_cosign");

#[derive(Default)]
struct Store {
    blobs: HashMap<String, Vec<u8>>,
    /// (repository, tag or digest) -> (content type, bytes)
    manifests: HashMap<(String, String), (String, Vec<u8>)>,
    uploads: u64,
    referrers_api: bool,
    /// Blobs served with their last byte flipped (a registry that lies).
    corrupt: bool,
}

type Shared = Arc<Mutex<Store>>;

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// `/v2/<repo>/<kind>/<rest>`, with `<repo>` possibly holding slashes.
fn split(path: &str) -> Option<(String, &'static str, String)> {
    let p = path.strip_prefix("/v2/")?;
    for kind in ["blobs/uploads", "blobs", "manifests", "referrers"] {
        if let Some(i) = p.find(&format!("/{kind}/")) {
            let rest = &p[i + kind.len() + 2..];
            return Some((p[..i].to_owned(), kind, rest.to_owned()));
        }
    }
    None
}

async fn handle(State(st): State<Shared>, req: Request) -> Response {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let headers: HeaderMap = req.headers().clone();
    let body: Bytes = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    let Some((repo, kind, rest)) = split(uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut s = st.lock().unwrap();
    match (kind, method) {
        ("blobs/uploads", Method::POST) => {
            s.uploads += 1;
            let loc = format!("/v2/{repo}/blobs/uploads/{}", s.uploads);
            (StatusCode::ACCEPTED, [("location", loc)]).into_response()
        }
        ("blobs/uploads", Method::PUT) => {
            let want = uri
                .query()
                .and_then(|q| q.strip_prefix("digest="))
                .map(|d| d.replace("%3A", ":"))
                .unwrap_or_default();
            if digest(&body) != want {
                return StatusCode::BAD_REQUEST.into_response();
            }
            s.blobs.insert(want, body.to_vec());
            StatusCode::CREATED.into_response()
        }
        ("blobs", m) => match s.blobs.get(&rest) {
            None => StatusCode::NOT_FOUND.into_response(),
            Some(_) if m == Method::HEAD => StatusCode::OK.into_response(),
            Some(b) => {
                let mut b = b.clone();
                if s.corrupt {
                    if let Some(last) = b.last_mut() {
                        *last ^= 1;
                    }
                }
                (StatusCode::OK, b).into_response()
            }
        },
        ("manifests", Method::PUT) => {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let d = digest(&body);
            s.manifests
                .insert((repo.clone(), d.clone()), (ct.clone(), body.to_vec()));
            if rest != d {
                s.manifests.insert((repo, rest), (ct, body.to_vec()));
            }
            (StatusCode::CREATED, [("docker-content-digest", d)]).into_response()
        }
        ("manifests", Method::DELETE) => {
            // By digest; every tag on the same content goes with it.
            let before = s.manifests.len();
            s.manifests.retain(|(r, reference), (_, b)| {
                !(r == &repo && (reference == &rest || digest(b) == rest))
            });
            if s.manifests.len() < before {
                StatusCode::ACCEPTED.into_response()
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        }
        ("manifests", _) => match s.manifests.get(&(repo, rest)) {
            Some((ct, b)) => {
                (StatusCode::OK, [("content-type", ct.clone())], b.clone()).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        },
        ("referrers", Method::GET) if s.referrers_api => {
            let manifests: Vec<Value> = s
                .manifests
                .iter()
                .filter(|((r, reference), _)| r == &repo && reference.starts_with("sha256:"))
                .filter_map(|(_, (ct, b))| {
                    let m: Value = serde_json::from_slice(b).ok()?;
                    (m["subject"]["digest"].as_str() == Some(rest.as_str())).then(|| {
                        json!({"mediaType": ct, "digest": digest(b), "size": b.len(),
                               "artifactType": m["artifactType"]})
                    })
                })
                .collect();
            let index = json!({"schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
            (StatusCode::OK, axum::Json(index)).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Registry {
    host: String,
    store: Shared,
    _rt: tokio::runtime::Runtime,
}

fn registry(referrers_api: bool) -> Registry {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store: Shared = Arc::new(Mutex::new(Store {
        referrers_api,
        ..Default::default()
    }));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(store.clone());
    rt.spawn(async move { axum::serve(listener, app).await });
    Registry {
        host,
        store,
        _rt: rt,
    }
}

/// Pushes a one-layer image with the client's own registry code; returns
/// `host/repo@digest`.
fn push_image(reg: &Registry, repo: &str, content: &str) -> String {
    let client = cosign_cli::oci::Registry::new(false).unwrap();
    let r = cosign_cli::oci::Reference::parse(&format!("{}/{repo}:v1", reg.host)).unwrap();
    let layer = client.push_blob(&r, content.as_bytes()).unwrap();
    let config = br#"{"architecture":"amd64","os":"linux","config":{}}"#;
    let config_d = client.push_blob(&r, config).unwrap();
    let manifest = json!({"schemaVersion": 2, "mediaType": cosign_cli::oci::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_d, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": content.len()}]});
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let d = client
        .put_manifest(&r, "v1", &bytes, cosign_cli::oci::OCI_MANIFEST)
        .unwrap();
    format!("{}/{repo}@{d}", reg.host)
}

fn cosign(dir: &Path, args: &[&str]) -> Output {
    Command::new(COSIGN)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("TUF_ROOT", dir.join("tuf"))
        .env("COSIGN_PASSWORD", "pw")
        .env_remove("COSIGN_REPOSITORY")
        .env_remove("SIGSTORE_ID_TOKEN")
        .output()
        .unwrap()
}

/// `<prefix>.key` / `<prefix>.pub` for each prefix (password "pw").
fn key_pairs(d: &Path, prefixes: &[&str]) {
    for prefix in prefixes {
        let o = cosign(d, &["generate-key-pair", "--output-key-prefix", prefix]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn refused(o: &Output, reason: &str) {
    refused_with(o, 1, reason)
}

/// Go cosign's exit codes: 10 no signatures found, 12 no matching
/// signatures (legacy `.sig` path only).
fn refused_with(o: &Output, code: i32, reason: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
    assert!(
        stderr(o).contains(reason),
        "want {reason:?} in {}",
        stderr(o)
    );
}

fn sign_and_verify_in(referrers_api: bool) {
    let reg = registry(referrers_api);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_pairs(d, &["a", "b"]);
    let img = push_image(&reg, "team/app", "layer one");
    let unsigned = push_image(&reg, "team/other", "layer two");
    let sign = cosign(
        d,
        &[
            "sign",
            "--key",
            "a.key",
            "--tlog-upload=false",
            "-a",
            "env=prod",
            &img,
        ],
    );
    assert!(sign.status.success(), "{}", stderr(&sign));
    let verify_args = |key: &'static str, extra: &[&'static str], image: &str| -> Vec<String> {
        ["verify", "--key", key, "--insecure-ignore-tlog=true"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .chain([image.to_owned()])
            .collect()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cosign(d, &refs)
    };
    let ok = run(verify_args("a.pub", &["-a", "env=prod"], &img));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let out: Value = serde_json::from_str(String::from_utf8_lossy(&ok.stdout).trim()).unwrap();
    let digest = img.split('@').nth(1).unwrap();
    assert_eq!(
        out[0]["critical"]["image"]["docker-manifest-digest"],
        digest
    );
    assert_eq!(
        out[0]["critical"]["type"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    assert_eq!(out[0]["optional"]["env"], "prod");

    // Where the signature went: a referrer (API), or the fallback index tag.
    {
        let s = reg.store.lock().unwrap();
        let tag = digest.replace(':', "-");
        let fallback = s.manifests.contains_key(&("team/app".to_owned(), tag));
        assert_eq!(
            fallback, !referrers_api,
            "fallback index iff no referrers API"
        );
    }

    refused(
        &run(verify_args("b.pub", &[], &img)),
        "no matching signatures",
    );
    refused(
        &run(verify_args("a.pub", &["-a", "env=dev"], &img)),
        "missing or incorrect annotation",
    );
    refused_with(
        &run(verify_args("a.pub", &[], &unsigned)),
        10,
        "no signatures found",
    );
    // A registry that alters the bundle blob: caught by its digest.
    reg.store.lock().unwrap().corrupt = true;
    refused(
        &run(verify_args("a.pub", &[], &img)),
        "does not match its digest",
    );
}

#[test]
fn images_sign_and_verify_with_the_referrers_api() {
    sign_and_verify_in(true);
}

#[test]
fn images_sign_and_verify_through_the_fallback_index() {
    sign_and_verify_in(false);
}

#[test]
fn bad_references_and_missing_images_are_refused_before_signing() {
    let reg = registry(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_pairs(d, &["cosign"]);
    refused(
        &cosign(
            d,
            &[
                "sign",
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                "Bad/Ref",
            ],
        ),
        "invalid image reference",
    );
    refused(
        &cosign(
            d,
            &[
                "sign",
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                &format!("{}/nope:v1", reg.host),
            ],
        ),
        "no such image",
    );
    assert!(reg.store.lock().unwrap().blobs.is_empty(), "nothing pushed");
}

/// The legacy `.sig` tag: written with `--new-bundle-format=false`, read
/// when there is no bundle referrer; once a referrer exists, a verification
/// that fails on it does not fall back to the `.sig` tag (upstream's rule).
#[test]
fn legacy_sig_images_and_no_fallback_past_a_referrer() {
    let reg = registry(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_pairs(d, &["a", "b"]);
    let img = push_image(&reg, "team/legacy", "legacy layer");
    let digest = img.split('@').nth(1).unwrap().to_owned();
    let o = cosign(
        d,
        &[
            "sign",
            "--new-bundle-format=false",
            "--key",
            "a.key",
            "--tlog-upload=false",
            "-a",
            "k=v=w",
            &img,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // One simple-signing layer under sha256-<hex>.sig, payload as Go writes it.
    {
        let s = reg.store.lock().unwrap();
        let tag = format!("{}.sig", digest.replace(':', "-"));
        let (_, m) = &s.manifests[&("team/legacy".to_owned(), tag)];
        let m: Value = serde_json::from_slice(m).unwrap();
        let layer = &m["layers"][0];
        assert_eq!(
            layer["mediaType"],
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        assert!(layer["annotations"]["dev.cosignproject.cosign/signature"].is_string());
        let payload = &s.blobs[layer["digest"].as_str().unwrap()];
        let expected = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"{}/team/legacy"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{"k":"v=w"}}}}"#,
            reg.host
        );
        assert_eq!(String::from_utf8_lossy(payload), expected);
    }
    let verify = |key: &str| {
        cosign(
            d,
            &["verify", "--key", key, "--insecure-ignore-tlog=true", &img],
        )
    };
    let ok = verify("a.pub");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let out: Value = serde_json::from_str(String::from_utf8_lossy(&ok.stdout).trim()).unwrap();
    assert_eq!(
        out[0]["critical"]["type"],
        "cosign container image signature"
    );
    refused_with(&verify("b.pub"), 12, "no matching signatures");

    // A v3 referrer by key b: key a's legacy signature is no longer consulted.
    let o = cosign(d, &["sign", "--key", "b.key", "--tlog-upload=false", &img]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(verify("b.pub").status.success());
    refused(&verify("a.pub"), "no matching signatures");
}

/// `attest` / `verify-attestation`: the statement is about the image, the
/// predicate type selects, and another key or type is refused.
#[test]
fn image_attestations_by_predicate_type() {
    let reg = registry(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_pairs(d, &["a", "b"]);
    std::fs::write(
        d.join("vex.json"),
        r#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[]}"#,
    )
    .unwrap();
    let img = push_image(&reg, "team/att", "attested layer");
    let o = cosign(
        d,
        &[
            "attest",
            "--key",
            "a.key",
            "--tlog-upload=false",
            "--type",
            "openvex",
            "--predicate",
            "vex.json",
            &img,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let verify = |key: &str, t: &str| {
        cosign(
            d,
            &[
                "verify-attestation",
                "--key",
                key,
                "--insecure-ignore-tlog=true",
                "--type",
                t,
                &img,
            ],
        )
    };
    let ok = verify("a.pub", "openvex");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let env: Value = serde_json::from_str(String::from_utf8_lossy(&ok.stdout).trim()).unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    use base64::Engine;
    let stmt: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(env["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stmt["predicateType"], "https://openvex.dev/ns");
    assert_eq!(stmt["subject"][0]["name"], format!("{}/team/att", reg.host));
    assert_eq!(
        format!(
            "sha256:{}",
            stmt["subject"][0]["digest"]["sha256"].as_str().unwrap()
        ),
        img.split('@').nth(1).unwrap()
    );
    refused(
        &verify("a.pub", "custom"),
        "none of the attestations matched the predicate type",
    );
    refused(&verify("b.pub", "openvex"), "signature");
}

/// `triangulate`, `tree` and `download` show what `sign` and `attest` stored.
#[test]
fn triangulate_tree_and_download_show_the_attachments() {
    let reg = registry(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_pairs(d, &["cosign"]);
    std::fs::write(d.join("p.txt"), "hello").unwrap();
    let img = push_image(&reg, "team/look", "looked-at layer");
    let digest = img.split('@').nth(1).unwrap().to_owned();
    let stdout = |args: &[&str]| {
        let o = cosign(d, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let tag = digest.replace(':', "-");
    assert_eq!(
        stdout(&["triangulate", &img]).trim(),
        format!("{}/team/look:{tag}.sig", reg.host)
    );
    assert_eq!(
        stdout(&["triangulate", "--type", "attestation", &img]).trim(),
        format!("{}/team/look:{tag}.att", reg.host)
    );
    assert!(stdout(&["tree", &img]).contains("No Supply Chain Security Related Artifacts"));

    stdout(&["sign", "--key", "cosign.key", "--tlog-upload=false", &img]);
    stdout(&[
        "attest",
        "--key",
        "cosign.key",
        "--tlog-upload=false",
        "--predicate",
        "p.txt",
        &img,
    ]);
    stdout(&[
        "sign",
        "--new-bundle-format=false",
        "--key",
        "cosign.key",
        "--tlog-upload=false",
        &img,
    ]);
    let tree = stdout(&["tree", &img]);
    assert!(
        tree.contains(&format!(
            "🔐 Signatures for an image tag: {}/team/look:{tag}.sig",
            reg.host
        )),
        "{tree}"
    );
    assert!(
        tree.contains("https://sigstore.dev/cosign/sign/v1 artifacts via OCI referrer"),
        "{tree}"
    );
    assert!(
        tree.contains("https://cosign.sigstore.dev/attestation/v1 artifacts via OCI referrer"),
        "{tree}"
    );
    // Signatures: the bundles (here one signature, one attestation: both are
    // bundles referring to the image); attestations: only the attestation.
    let sigs = stdout(&["download", "signature", &img]);
    assert_eq!(sigs.lines().count(), 2, "{sigs}");
    let atts = stdout(&["download", "attestation", &img]);
    assert_eq!(atts.lines().count(), 1, "{atts}");
    let b: Value = serde_json::from_str(atts.trim()).unwrap();
    assert_eq!(
        b["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert!(stdout(&[
        "download",
        "attestation",
        "--predicate-type",
        "openvex",
        &img
    ])
    .is_empty());
}

/// `clean`: by type, legacy tags and referrers go; the image stays.
#[test]
fn clean_removes_attachments_by_type() {
    let reg = registry(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_pairs(d, &["cosign"]);
    let img = push_image(&reg, "team/clean", "to be cleaned");
    for args in [
        &["sign", "--key", "cosign.key", "--tlog-upload=false"][..],
        &[
            "sign",
            "--new-bundle-format=false",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
        ][..],
    ] {
        let mut a: Vec<&str> = args.to_vec();
        a.push(&img);
        assert!(cosign(d, &a).status.success());
    }
    let verify = |extra: &[&str]| {
        let mut a = vec![
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog=true",
        ];
        a.extend_from_slice(extra);
        a.push(&img);
        cosign(d, &a)
    };
    // Without -f and without a "y": nothing is deleted.
    let o = cosign(d, &["clean", "--type", "referrer", &img]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(verify(&[]).status.success());
    // The referrers go: verification falls back to the legacy .sig tag.
    let o = cosign(d, &["clean", "--type", "referrer", "-f", &img]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = verify(&[]);
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(String::from_utf8_lossy(&v.stdout).contains("cosign container image signature"));
    // Then the .sig tag: nothing left.
    assert!(cosign(d, &["clean", "--type", "signature", "-f", &img])
        .status
        .success());
    refused_with(&verify(&[]), 10, "no signatures found");
    // The image itself is still there.
    assert!(cosign(d, &["triangulate", "--type", "digest", &img])
        .status
        .success());
}

/// `sign -r` on an image index signs the index and every image it lists;
/// without `-r`, only the index.
#[test]
fn recursive_signing_of_an_index() {
    let reg = registry(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_pairs(d, &["cosign"]);
    let amd = push_image(&reg, "team/multi", "amd64 layer");
    let arm = push_image(&reg, "team/multi", "arm64 layer");
    let client = cosign_cli::oci::Registry::new(false).unwrap();
    let r = cosign_cli::oci::Reference::parse(&format!("{}/team/multi:v1", reg.host)).unwrap();
    let entry = |img: &str, arch: &str| {
        let digest = img.split('@').nth(1).unwrap();
        let m = client.resolve(&r.with_reference(digest)).unwrap();
        json!({"mediaType": m.media_type, "digest": m.digest, "size": m.bytes.len(),
               "platform": {"os": "linux", "architecture": arch}})
    };
    let index = json!({"schemaVersion": 2, "mediaType": cosign_cli::oci::OCI_INDEX,
        "manifests": [entry(&amd, "amd64"), entry(&arm, "arm64")]});
    let bytes = serde_json::to_vec(&index).unwrap();
    let idx = client
        .put_manifest(&r, "multi", &bytes, cosign_cli::oci::OCI_INDEX)
        .unwrap();
    let idx_ref = format!("{}/team/multi@{idx}", reg.host);
    let verify = |img: &str| {
        cosign(
            d,
            &[
                "verify",
                "--key",
                "cosign.pub",
                "--insecure-ignore-tlog=true",
                img,
            ],
        )
    };
    let o = cosign(
        d,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            &idx_ref,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(verify(&idx_ref).status.success());
    refused_with(&verify(&amd), 10, "no signatures found");
    let o = cosign(
        d,
        &[
            "sign",
            "-r",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            &idx_ref,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for img in [&idx_ref, &amd, &arm] {
        let v = verify(img);
        assert!(v.status.success(), "{img}: {}", stderr(&v));
    }
}

/// Legacy `.att` attestations: written with `--new-bundle-format=false`,
/// read by `verify-attestation` when there is no bundle referrer.
#[test]
fn legacy_att_attestations() {
    let reg = registry(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_pairs(d, &["cosign"]);
    std::fs::write(d.join("p.txt"), "legacy predicate").unwrap();
    let img = push_image(&reg, "team/latt", "legacy attested layer");
    let o = cosign(
        d,
        &[
            "attest",
            "--new-bundle-format=false",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "--predicate",
            "p.txt",
            &img,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    {
        let s = reg.store.lock().unwrap();
        let digest = img.split('@').nth(1).unwrap();
        let tag = format!("{}.att", digest.replace(':', "-"));
        let (_, m) = &s.manifests[&("team/latt".to_owned(), tag)];
        let m: Value = serde_json::from_slice(m).unwrap();
        let layer = &m["layers"][0];
        assert_eq!(layer["mediaType"], "application/vnd.dsse.envelope.v1+json");
        assert_eq!(
            layer["annotations"]["predicateType"],
            "https://cosign.sigstore.dev/attestation/v1"
        );
        assert_eq!(
            layer["annotations"]["dev.cosignproject.cosign/signature"],
            ""
        );
    }
    let ok = cosign(
        d,
        &[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog=true",
            &img,
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let env: Value = serde_json::from_str(String::from_utf8_lossy(&ok.stdout).trim()).unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    // Unlogged: refused unless the tlog check is off.
    std::fs::write(
        d.join("empty_root.json"),
        r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
    )
    .unwrap();
    refused(
        &cosign(
            d,
            &[
                "verify-attestation",
                "--key",
                "cosign.pub",
                "--trusted-root",
                "empty_root.json",
                &img,
            ],
        ),
        "no matching attestations",
    );
}

//! The Rekor v2 log over HTTP: entries written with `POST
//! /api/v2/log/entries` verify as clients verify them (our `core::verify`
//! over a bundle built from the response, with a trusted root listing the
//! log as `trusted-root create` would); a tile client rebuilds the tree from
//! `/tile/...` and checks it against `/checkpoint`; bad requests and
//! duplicates get rekor-tiles' status, gRPC code and message, and change
//! nothing; a restart with another key or origin is refused.

mod common;

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rekor::service::Service;
use rekor::v2::{tile_index_path, TilesKey, TilesOptions};
use serde_json::{json, Value};
use sigstack_core::keys::{HashAlgorithm, SigningKey};
use sigstack_core::merkle::{hash_leaf, Hash};
use sigstack_core::note::SignedNote;
use sigstack_core::trust::{Bundle, TrustedRoot};
use sigstack_core::verify::{verify_bundle, Artifact, Options, SignerPolicy};

fn v2_options(dir: &std::path::Path, key: SigningKey, origin: &str) -> TilesOptions {
    TilesOptions {
        data_dir: dir.join("v2"),
        key: TilesKey::new(key, origin).unwrap(),
        path_prefix: "/v2".into(),
        log: Default::default(),
        block_cache_bytes: 8 << 20,
    }
}

async fn start(v2_key: SigningKey) -> common::TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = common::options(
        &dir.path().join("data"),
        SigningKey::generate_p256(),
        4 << 20,
    );
    opts.v2 = Some(v2_options(dir.path(), v2_key, "127.0.0.1"));
    let svc = Arc::new(Service::open(opts).unwrap());
    common::serve(svc, dir).await
}

fn request(key: &SigningKey, artifact: &[u8]) -> Value {
    let digest = HashAlgorithm::Sha256.digest(artifact);
    let sig = key
        .sign_prehash_sha256(&digest.clone().try_into().unwrap())
        .unwrap();
    json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(&digest),
        "signature": {"content": STANDARD.encode(sig), "verifier": {
            "publicKey": {"rawBytes": STANDARD.encode(key.public_key().to_spki_der())},
            "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}})
}

fn trusted_root(url: &str, log: &Service) -> TrustedRoot {
    let k = log.v2().unwrap().key();
    let spki = k.public_key().to_spki_der();
    let details = match k.public_key() {
        sigstack_core::keys::PublicKey::Ed25519(_) => "PKIX_ED25519",
        _ => "PKIX_ECDSA_P256_SHA_256",
    };
    TrustedRoot::from_json(
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": url, "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": STANDARD.encode(&spki), "keyDetails": details,
                    "validFor": {"start": "2020-01-01T00:00:00Z"}},
                "logId": {"keyId": STANDARD.encode(k.log_id())}}],
            "certificateAuthorities": [], "ctlogs": [], "timestampAuthorities": []
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

/// A bundle for a key-signed message, carrying the v2 entry as returned.
fn bundle(entry: &Value, signer: &SigningKey, artifact: &[u8]) -> Bundle {
    let digest = HashAlgorithm::Sha256.digest(artifact);
    let sig = STANDARD
        .decode(
            STANDARD
                .decode(entry["canonicalizedBody"].as_str().unwrap())
                .map(|b| serde_json::from_slice::<Value>(&b).unwrap())
                .unwrap()["spec"]["hashedRekordV002"]["signature"]["content"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    serde_json::from_value(json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": STANDARD.encode(sigstack_core::keys::sha256_key_id(&signer.public_key().to_spki_der()))},
            "tlogEntries": [entry],
        },
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest)},
            "signature": STANDARD.encode(sig)}
    }))
    .unwrap()
}

async fn post(url: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/api/v2/log/entries"))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn entries_verify_and_tiles_rebuild_the_tree() {
    // Ed25519 (what rekor-tiles deployments use) through two level-0 tiles;
    // an ECDSA checkpoint key through a few entries (debug-build ECDSA
    // signing is slow, and the tile logic does not depend on the key).
    for (v2_key, count) in [
        (SigningKey::generate_ed25519(), 260usize),
        (SigningKey::generate_p256(), 3),
    ] {
        let server = start(v2_key).await;
        let signer = SigningKey::generate_p256();
        let v2url = format!("{}/v2", server.url);
        let root = trusted_root(&v2url, &server.svc);
        let mut entries = Vec::new();
        // One full level-0 tile and a partial one (with 260 entries).
        let futs: Vec<_> = (0..count)
            .map(|i| {
                let url = v2url.clone();
                let req = request(&signer, format!("artifact {i}").as_bytes());
                async move {
                    let r = post(&url, &req).await;
                    assert_eq!(r.status(), 201);
                    r.json::<Value>().await.unwrap()
                }
            })
            .collect();
        for e in futures_join(futs).await {
            entries.push(e);
        }
        for (i, e) in entries.iter().enumerate().step_by(37) {
            assert_eq!(e["integratedTime"], "0");
            assert!(e["inclusionPromise"].is_null());
            assert_eq!(
                e["kindVersion"],
                json!({"kind": "hashedrekord", "version": "0.0.2"})
            );
            let idx: u64 = e["logIndex"].as_str().unwrap().parse().unwrap();
            let artifact = (0..count)
                .map(|j| format!("artifact {j}"))
                .find(|a| {
                    let b = STANDARD
                        .decode(e["canonicalizedBody"].as_str().unwrap())
                        .unwrap();
                    String::from_utf8(b)
                        .unwrap()
                        .contains(&STANDARD.encode(HashAlgorithm::Sha256.digest(a.as_bytes())))
                })
                .unwrap();
            let b = bundle(e, &signer, artifact.as_bytes());
            // A v2-only bundle needs a timestamp for its time; the entry
            // itself (proof, checkpoint, rebuilt body) is what is checked here.
            let err = verify_bundle(
                &b,
                &root,
                Artifact::Bytes(artifact.as_bytes()),
                &SignerPolicy::Key(signer.public_key()),
                &Options {
                    ignore_tlog: false,
                    ignore_sct: true,
                    require_timestamp: false,
                    now: time::OffsetDateTime::now_utc(),
                },
            )
            .unwrap_err();
            assert!(
                matches!(err, sigstack_core::verify::VerifyError::NoTimestamp),
                "entry {i} ({idx}): {err}"
            );
        }

        // The tile client: checkpoint, then level-0 tiles, up to the root.
        if count < 256 {
            continue;
        }
        let get = |path: String| {
            let url = format!("{v2url}/{path}");
            async move {
                let r = reqwest::get(url).await.unwrap();
                let status = r.status().as_u16();
                let cache = r
                    .headers()
                    .get("cache-control")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                (status, cache, r.bytes().await.unwrap())
            }
        };
        let (_, _, cp_bytes) = get("checkpoint".into()).await;
        let cp_text = String::from_utf8(cp_bytes.to_vec()).unwrap();
        let note = SignedNote::parse(&cp_text).unwrap();
        let cp = note.checkpoint().unwrap();
        assert_eq!(cp.origin, "127.0.0.1");
        assert_eq!(cp.size, 260);
        let (status, cache, full) = get(format!("tile/0/{}", tile_index_path(0))).await;
        assert_eq!(status, 200);
        assert!(cache.contains("immutable"), "{cache}");
        assert_eq!(full.len(), 256 * 32);
        let (_, _, partial) = get("tile/0/001.p/4".into()).await;
        assert_eq!(partial.len(), 4 * 32);
        // Not there yet: the full second tile, a wider partial.
        for missing in [
            "tile/0/001",
            "tile/0/001.p/5",
            "tile/1/000",
            "tile/entries/002",
        ] {
            assert_eq!(get(missing.into()).await.0, 404, "{missing}");
        }
        // The level-1 partial tile holds the root of the first level-0 tile.
        let (_, _, l1) = get("tile/1/000.p/1".into()).await;
        let leaves: Vec<Hash> = full
            .chunks(32)
            .chain(partial.chunks(32))
            .map(|c| c.try_into().unwrap())
            .collect();
        assert_eq!(l1.as_ref(), root_of(&leaves[..256]).as_slice());
        assert_eq!(root_of(&leaves), cp.root_hash);
        // Entry bundles hold the bodies whose leaf hashes are the tile's.
        let (_, _, eb) = get("tile/entries/000".into()).await;
        let mut pos = 0;
        let mut n = 0;
        while pos < eb.len() {
            let len = u16::from_be_bytes([eb[pos], eb[pos + 1]]) as usize;
            let body = &eb[pos + 2..pos + 2 + len];
            assert_eq!(hash_leaf(body), leaves[n]);
            pos += 2 + len;
            n += 1;
        }
        assert_eq!(n, 256);
    }
}

use common::root_of;

async fn futures_join<F: std::future::Future<Output = Value> + Send + 'static>(
    futs: Vec<F>,
) -> Vec<Value> {
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn bad_requests_and_duplicates_change_nothing() {
    let server = start(SigningKey::generate_ed25519()).await;
    let signer = SigningKey::generate_p256();
    let good = request(&signer, b"one");
    let v2url = format!("{}/v2", server.url);
    let r = post(&v2url, &good).await;
    assert_eq!(r.status(), 201);
    let size = || server.svc.v2().unwrap().head().size;
    assert_eq!(size(), 1);
    let r = post(&v2url, &good).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["x-log-index"], "0");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], 6);
    assert_eq!(
        body["message"],
        "an equivalent entry already exists in the transparency log with index 0"
    );
    let mut bad_sig = request(&signer, b"two");
    bad_sig["hashedRekordRequestV002"]["digest"] =
        json!(STANDARD.encode(HashAlgorithm::Sha256.digest(b"three")));
    let mut unknown = request(&signer, b"two");
    unknown["hashedRekordRequestV002"]["extra"] = json!(true);
    for (what, body) in [
        ("bad signature", bad_sig),
        ("unknown field", unknown),
        ("unknown kind", json!({"rekordRequestV002": {}})),
        ("dsse", json!({"dsseRequestV002": {"envelope": {}}})),
    ] {
        let r = post(&v2url, &body).await;
        assert_eq!(r.status(), 400, "{what}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["code"], 3, "{what}");
        assert!(b["details"].is_array());
    }
    let r = reqwest::Client::new()
        .post(format!("{v2url}/api/v2/log/entries"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(size(), 1, "nothing stored by the refusals");
}

#[test]
fn a_restart_with_another_key_or_origin_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = SigningKey::generate_p256().to_pkcs8_pem(None).unwrap();
    let v2 = SigningKey::generate_ed25519().to_pkcs8_pem(None).unwrap();
    let key = |pem: &str| SigningKey::from_pem(pem.as_bytes(), None).unwrap();
    let open = |k: SigningKey, origin: &str| {
        let mut opts = common::options(&dir.path().join("data"), key(&v1), 1 << 20);
        opts.v2 = Some(v2_options(dir.path(), k, origin));
        Service::open(opts).map(drop)
    };
    open(key(&v2), "127.0.0.1").unwrap();
    open(key(&v2), "127.0.0.1").unwrap();
    for (k, origin, what) in [
        (SigningKey::generate_ed25519(), "127.0.0.1", "log key"),
        (key(&v2), "rekor.example", "origin"),
    ] {
        let err = open(k, origin).unwrap_err().to_string();
        assert!(
            err.contains("refusing to start") && err.contains(what),
            "{err}"
        );
    }
}

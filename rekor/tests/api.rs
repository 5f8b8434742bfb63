//! The Rekor v1 REST API end to end, in process, on 127.0.0.1:0.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use serde_json::{json, Value};
use sigstack_core::keys::{PublicKey, SigningKey};
use sigstack_core::merkle::verify_consistency;

async fn log_key(c: &reqwest::Client, url: &str) -> PublicKey {
    let r = c
        .get(format!("{url}/api/v1/log/publicKey"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-pem-file");
    PublicKey::from_pem(&r.bytes().await.unwrap()).unwrap()
}

async fn tree_size(c: &reqwest::Client, url: &str) -> u64 {
    let info: Value = c
        .get(format!("{url}/api/v1/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    info["treeSize"].as_u64().unwrap()
}

fn assert_error_shape(v: &Value, code: u16) {
    assert_eq!(v["code"].as_u64(), Some(code as u64), "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

#[tokio::test]
async fn create_get_and_duplicate() {
    let srv = start().await;
    let c = reqwest::Client::new();
    let key = log_key(&c, &srv.url).await;
    let signer = SigningKey::generate_p256();
    let entry = hashedrekord(&signer, b"hello");

    let r = c
        .post(format!("{}/api/v1/log/entries", srv.url))
        .json(&entry)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let v: Value = r.json().await.unwrap();
    let (id, index, _, _) = verify_entry(&v, &key);
    assert_eq!(etag, id, "ETag is the map key, unquoted");
    assert_eq!(location, format!("/api/v1/log/entries/{id}"));
    assert_eq!(id.len(), 80);
    assert_eq!(&id[..16], format!("{:016x}", 1234));
    assert_eq!(index, 0);

    // The same entry again: 409 with the existing entry's location.
    let r = c
        .post(format!("{}/api/v1/log/entries", srv.url))
        .json(&entry)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["location"].to_str().unwrap(), location);
    let e: Value = r.json().await.unwrap();
    assert_error_shape(&e, 409);
    assert!(e["message"].as_str().unwrap().contains(&id));
    assert_eq!(tree_size(&c, &srv.url).await, 1);

    // Lookups: 80-hex ID, 64-hex UUID, log index.
    for path in [
        format!("/api/v1/log/entries/{id}"),
        format!("/api/v1/log/entries/{}", &id[16..]),
        "/api/v1/log/entries?logIndex=0".to_string(),
    ] {
        let r = c.get(format!("{}{path}", srv.url)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(verify_entry(&v, &key).0, id);
    }
    // Misses are 404 with no body; malformed IDs are 400.
    for path in [
        format!("/api/v1/log/entries/{}", "ab".repeat(32)),
        format!("/api/v1/log/entries/{:016x}{}", 99, &id[16..]),
        "/api/v1/log/entries?logIndex=5".to_string(),
    ] {
        let r = c.get(format!("{}{path}", srv.url)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.bytes().await.unwrap().is_empty());
    }
    for path in [
        "/api/v1/log/entries/xyz",
        "/api/v1/log/entries?logIndex=-1",
        "/api/v1/log/entries?logIndex=abc",
    ] {
        let r = c.get(format!("{}{path}", srv.url)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert_error_shape(&r.json().await.unwrap(), 400);
    }
}

#[tokio::test]
async fn bad_input_is_rejected_and_changes_nothing() {
    let srv = start_with(64 * 1024).await;
    let c = reqwest::Client::new();
    let signer = SigningKey::generate_p256();
    let good = hashedrekord(&signer, b"x");
    let mut wrong_sig = good.clone();
    wrong_sig["spec"]["signature"]["content"] =
        hashedrekord(&signer, b"y")["spec"]["signature"]["content"].clone();
    let mut bad_b64 = good.clone();
    bad_b64["spec"]["signature"]["content"] = json!("***");
    let mut unknown_kind = good.clone();
    unknown_kind["kind"] = json!("alpine");
    let mut unknown_version = good.clone();
    unknown_version["apiVersion"] = json!("9.9.9");
    let url = format!("{}/api/v1/log/entries", srv.url);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("malformed JSON", b"{\"kind\":".to_vec(), 400),
        ("not an object", b"[1,2]".to_vec(), 400),
        (
            "wrong signature",
            serde_json::to_vec(&wrong_sig).unwrap(),
            400,
        ),
        ("bad base64", serde_json::to_vec(&bad_b64).unwrap(), 400),
        (
            "unknown kind",
            serde_json::to_vec(&unknown_kind).unwrap(),
            400,
        ),
        (
            "unknown version",
            serde_json::to_vec(&unknown_version).unwrap(),
            400,
        ),
        ("oversized", vec![b' '; 100 * 1024], 413),
    ];
    for (name, body, code) in cases {
        let r = c
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), code, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_error_shape(&v, code);
        if name == "wrong signature" {
            assert!(v["message"]
                .as_str()
                .unwrap()
                .starts_with("error processing entry"));
        }
    }
    assert_eq!(tree_size(&c, &srv.url).await, 0, "nothing was stored");
    let r = c.post(&url).json(&good).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(tree_size(&c, &srv.url).await, 1);
}

#[tokio::test]
async fn search_proofs_and_index() {
    let srv = start().await;
    let c = reqwest::Client::new();
    let key = log_key(&c, &srv.url).await;
    let signer = SigningKey::generate_p256();
    let mut ids = Vec::new();
    let mut checkpoints = Vec::new();
    // Signatures are randomized, so lookups by entry reuse the submitted JSON.
    let mut submitted = Vec::new();
    for i in 0..12 {
        submitted.push(hashedrekord(&signer, format!("artifact-{i}").as_bytes()));
        let r = c
            .post(format!("{}/api/v1/log/entries", srv.url))
            .json(&submitted[i])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let (id, _, size, root) = verify_entry(&r.json().await.unwrap(), &key);
        ids.push(id);
        checkpoints.push((size, root));
    }
    // Every checkpoint handed out is consistent with the latest one.
    let (last, last_root) = *checkpoints.last().unwrap();
    for &(size, root) in &checkpoints {
        let r = c
            .get(format!(
                "{}/api/v1/log/proof?firstSize={size}&lastSize={last}",
                srv.url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let hashes: Vec<_> = v["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hex32(h.as_str().unwrap()))
            .collect();
        verify_consistency(size, last, &root, &last_root, &hashes).unwrap();
        assert_eq!(hex32(v["rootHash"].as_str().unwrap()), last_root);
    }
    for q in [
        "firstSize=5&lastSize=3",
        "firstSize=1&lastSize=999",
        "lastSize=x",
        "firstSize=1",
    ] {
        let r = c
            .get(format!("{}/api/v1/log/proof?{q}", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
        assert_error_shape(&r.json().await.unwrap(), 400);
    }

    // Retrieve, with and without the trailing slash sigstore-python uses.
    for path in [
        "/api/v1/log/entries/retrieve",
        "/api/v1/log/entries/retrieve/",
    ] {
        let q = json!({
            "entryUUIDs": [ids[0], &ids[1][16..]],
            "logIndexes": [2, 999],
            "entries": [submitted[3], {"kind": "rpm", "apiVersion": "0.0.1", "spec": {}}],
        });
        let r = c
            .post(format!("{}{path}", srv.url))
            .json(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = r.json().await.unwrap();
        let got: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|m| verify_entry(m, &key).0)
            .collect();
        assert_eq!(
            got,
            vec![
                ids[0].clone(),
                ids[1].clone(),
                ids[2].clone(),
                ids[3].clone()
            ]
        );
    }
    let too_many = json!({"logIndexes": (0..11).collect::<Vec<_>>()});
    let r = c
        .post(format!("{}/api/v1/log/entries/retrieve", srv.url))
        .json(&too_many)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_error_shape(&r.json().await.unwrap(), 422);

    // Index search by artifact hash, by key, and combined.
    use sha2::Digest;
    let h = hex::encode(sha2::Sha256::digest(b"artifact-5"));
    let search = |q: Value| {
        let c = c.clone();
        let url = format!("{}/api/v1/index/retrieve", srv.url);
        async move {
            let r = c.post(url).json(&q).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Vec<String>>().await.unwrap()
        }
    };
    assert_eq!(
        search(json!({"hash": format!("sha256:{h}")})).await,
        vec![ids[5].clone()]
    );
    assert_eq!(
        search(json!({"hash": h.to_uppercase()})).await,
        vec![ids[5].clone()]
    );
    let pk = json!({"format": "x509", "content": STANDARD.encode(signer.public_key().to_pem())});
    assert_eq!(search(json!({"publicKey": pk})).await.len(), 12);
    assert_eq!(
        search(json!({"publicKey": pk, "hash": h, "operator": "and"})).await,
        vec![ids[5].clone()]
    );
    let other = SigningKey::generate_p256();
    let pk2 = json!({"format": "x509", "content": STANDARD.encode(other.public_key().to_pem())});
    assert!(
        search(json!({"publicKey": pk2, "hash": h, "operator": "and"}))
            .await
            .is_empty()
    );

    // Log info, health, metrics.
    let info: Value = c
        .get(format!("{}/api/v1/log", srv.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["treeSize"], 12);
    assert_eq!(info["treeID"], "1234");
    assert!(info["signedTreeHead"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1 - 1234\n12\n"));
    let r = c.get(format!("{}/healthz", srv.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let m = c
        .get(format!("{}/metrics", srv.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("rekor_http_requests_total"), "{m}");
    assert!(m.contains("rekor_log_size 12"), "{m}");
    assert!(m.contains("outcome=\"added\""), "{m}");
}

#[tokio::test]
async fn concurrent_writers_all_get_valid_proofs() {
    let srv = start().await;
    let c = reqwest::Client::new();
    let key = log_key(&c, &srv.url).await;
    let signer = SigningKey::generate_p256();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let c = c.clone();
        let url = srv.url.clone();
        let e = hashedrekord(&signer, format!("c-{i}").as_bytes());
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(format!("{url}/api/v1/log/entries"))
                .json(&e)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()
        }));
    }
    let mut indexes = Vec::new();
    for t in tasks {
        indexes.push(verify_entry(&t.await.unwrap(), &key).1);
    }
    indexes.sort();
    assert_eq!(indexes, (0..200).collect::<Vec<u64>>());
}

/// Entries stored before SETs were sealed at sequencing (no seal in the
/// record) are still served with a valid SET, signed on read; new entries
/// in the same log get theirs from the sequencer.
#[tokio::test]
async fn entries_stored_without_a_seal_get_a_set_on_read() {
    use rekor::service::Service;
    use rekor::signer::{LogKey, V1Checkpointer};
    use sigstack_tlog::{Append, Log, LogOptions, RocksOptions, RocksStore};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log_key = SigningKey::generate_p256();
    let open = || Service::open(options(&data, log_key.clone(), 1 << 20)).unwrap();
    // First start pins the identity; then an unsealed engine writes an entry,
    // as the log did before seals existed.
    drop(open());
    let old = hashedrekord(&SigningKey::generate_p256(), b"old entry");
    let body = rekor::types::canonicalize(&old, rekor::types::Purpose::Insert)
        .unwrap()
        .body;
    {
        let store = Arc::new(RocksStore::open(&data, &RocksOptions::default()).unwrap());
        let key = Arc::new(LogKey::new(log_key.clone()).unwrap());
        let log = Log::open(
            store,
            Arc::new(V1Checkpointer::new(key, "127.0.0.1", 1234)),
            LogOptions::default(),
        )
        .unwrap();
        log.append(Append {
            leaf_hash: sigstack_core::merkle::hash_leaf(&body),
            data: body,
            search_keys: Vec::new(),
        })
        .await
        .unwrap();
        assert!(log.entry(0).unwrap().unwrap().seal.is_empty());
    }
    let srv = serve(Arc::new(open()), dir).await;
    let url = &srv.url;
    let c = reqwest::Client::new();
    let pk = log_key.public_key();
    let new = hashedrekord(&SigningKey::generate_p256(), b"new entry");
    let r = c
        .post(format!("{url}/api/v1/log/entries"))
        .json(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(verify_entry(&r.json().await.unwrap(), &pk).1, 1);
    for index in [0, 1] {
        let v: Value = c
            .get(format!("{url}/api/v1/log/entries?logIndex={index}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(verify_entry(&v, &pk).1, index);
    }
}

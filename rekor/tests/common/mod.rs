#![allow(dead_code)]

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rekor::service::{Service, ServiceOptions};
use rekor::signer::LogKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sigstack_core::keys::{PublicKey, SigningKey};
use sigstack_core::merkle::{hash_leaf, verify_inclusion, Hash};
use sigstack_core::note::{Checkpoint, SignedNote};

pub struct TestServer {
    pub url: String,
    pub svc: Arc<Service>,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start() -> TestServer {
    start_with(4 << 20).await
}

pub async fn start_with(max_request_bytes: usize) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(
        &dir.path().join("data"),
        SigningKey::generate_p256(),
        max_request_bytes,
    );
    let svc = Arc::new(Service::open(opts).unwrap());
    serve(svc, dir).await
}

/// The options every test log uses: tree ID 1234, host 127.0.0.1.
pub fn options(
    data_dir: &std::path::Path,
    key: SigningKey,
    max_request_bytes: usize,
) -> ServiceOptions {
    ServiceOptions {
        data_dir: data_dir.to_path_buf(),
        key: LogKey::new(key).unwrap(),
        hostname: "127.0.0.1".into(),
        tree_id: Some(1234),
        log: Default::default(),
        max_request_bytes,
        block_cache_bytes: 8 << 20,
        v2: None,
    }
}

/// Serves `svc` on 127.0.0.1:0 until the returned server is dropped.
pub async fn serve(svc: Arc<Service>, dir: tempfile::TempDir) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let s = svc.clone();
    tokio::spawn(async move {
        rekor::serve(listener, s, None, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer {
        url,
        svc,
        dir,
        shutdown: Some(tx),
    }
}

/// A hashedrekord 0.0.1 request signed by `key` over SHA-256(artifact).
pub fn hashedrekord(key: &SigningKey, artifact: &[u8]) -> Value {
    let digest: [u8; 32] = Sha256::digest(artifact).into();
    let sig = key.sign_prehash_sha256(&digest).unwrap();
    json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
        "signature": {"content": STANDARD.encode(sig),
                      "publicKey": {"content": STANDARD.encode(key.public_key().to_pem())}},
        "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}}}})
}

pub fn hex32(s: &str) -> Hash {
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h).unwrap();
    h
}

/// Checks one `{entryID: LogEntry}` value the way clients do: entry ID is the
/// leaf hash, the inclusion proof verifies to the root, the root and size
/// equal the checkpoint's, the checkpoint is signed by `log_key`, and the SET
/// verifies. Returns (entry ID, log index, checkpoint size, checkpoint root).
pub fn verify_entry(map: &Value, log_key: &PublicKey) -> (String, u64, u64, Hash) {
    let obj = map.as_object().expect("entry map");
    assert_eq!(obj.len(), 1, "exactly one entry per map");
    let (id, e) = obj.iter().next().unwrap();
    let body = STANDARD.decode(e["body"].as_str().unwrap()).unwrap();
    let leaf = hash_leaf(&body);
    assert_eq!(
        &id[16..],
        hex::encode(leaf),
        "entry ID ends with the leaf hash"
    );
    let p = &e["verification"]["inclusionProof"];
    let index = p["logIndex"].as_u64().unwrap();
    let size = p["treeSize"].as_u64().unwrap();
    let root = hex32(p["rootHash"].as_str().unwrap());
    let hashes: Vec<Hash> = p["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex32(h.as_str().unwrap()))
        .collect();
    verify_inclusion(index, size, &leaf, &hashes, &root).expect("inclusion proof");
    let note = SignedNote::parse(p["checkpoint"].as_str().unwrap()).expect("checkpoint parses");
    let cp = Checkpoint::from_body(&note.body).unwrap();
    assert_eq!(
        (cp.size, cp.root_hash),
        (size, root),
        "proof matches checkpoint"
    );
    // Rekor v1 origin "<host> - <treeID>" (sigstore-go classifies v1 entries
    // by it), and the signature line is named by the bare host.
    let (host, tree) = cp.origin.rsplit_once(" - ").expect("v1 origin");
    assert!(
        tree.parse::<i64>().is_ok_and(|t| t > 0),
        "origin {:?}",
        cp.origin
    );
    assert_eq!(note.signatures.len(), 1, "only the log's own signature");
    assert_eq!(note.signatures[0].name, host);
    let spki = log_key.to_spki_der();
    let log_id = sigstack_core::keys::sha256_key_id(&spki);
    let mut hint = [0u8; 4];
    hint.copy_from_slice(&log_id[..4]);
    note.verify_with(host, hint, |m, s| log_key.verify_message(m, s).is_ok())
        .expect("checkpoint signature");
    assert_eq!(e["logID"].as_str().unwrap(), hex::encode(log_id));
    let set = STANDARD
        .decode(e["verification"]["signedEntryTimestamp"].as_str().unwrap())
        .unwrap();
    let payload = rekor::signer::set_payload(
        &body,
        e["integratedTime"].as_i64().unwrap(),
        &hex::encode(log_id),
        e["logIndex"].as_u64().unwrap(),
    )
    .unwrap();
    log_key.verify_message(&payload, &set).expect("SET");
    (id.clone(), index, size, root)
}

/// RFC 6962 root of a list of leaf hashes (for checking tiles against a
/// checkpoint).
pub fn root_of(leaves: &[Hash]) -> Hash {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let k = leaves.len().next_power_of_two() / 2;
    let k = if k == leaves.len() { k / 2 } else { k };
    sigstack_core::merkle::hash_children(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
}

/// The leaf hashes of a Rekor v2 log from its level-0 tiles, and the size and
/// root its checkpoint states (signature checked with `key` under `origin`).
pub async fn v2_leaves(
    c: &reqwest::Client,
    v2url: &str,
    key: &PublicKey,
    origin: &str,
) -> (u64, Hash, Vec<Hash>) {
    let text = c
        .get(format!("{v2url}/checkpoint"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let note = SignedNote::parse(&text).unwrap();
    let sigstack_core::keys::PublicKey::Ed25519(k) = key else {
        panic!("Ed25519 v2 key")
    };
    let hint = sigstack_core::note::key_hint(&sigstack_core::note::c2sp_ed25519_key_id(
        origin,
        k.as_bytes(),
    ));
    assert!(
        note.signatures.iter().any(|s| s.key_hint == hint
            && key
                .verify_message(note.body.as_bytes(), &s.signature)
                .is_ok()),
        "the v2 checkpoint is not signed by the log key"
    );
    let cp = note.checkpoint().unwrap();
    assert_eq!(cp.origin, origin);
    let mut leaves = Vec::new();
    let mut n = 0u64;
    while (leaves.len() as u64) < cp.size {
        let width = (cp.size - n * 256).min(256);
        let path = format!(
            "{v2url}/tile/0/{}{}",
            rekor::v2::tile_index_path(n),
            if width == 256 {
                String::new()
            } else {
                format!(".p/{width}")
            }
        );
        let r = c.get(&path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let bytes = r.bytes().await.unwrap();
        assert_eq!(bytes.len() as u64, width * 32, "{path}");
        leaves.extend(bytes.chunks(32).map(|h| <Hash>::try_from(h).unwrap()));
        n += 1;
    }
    (cp.size, cp.root_hash, leaves)
}

//! Crash safety: append under concurrent load, SIGKILL the server at random
//! moments, restart, and check that nothing acknowledged was lost and that
//! the log never forked.
//!
//! Rounds: `REKOR_CRASH_ROUNDS` (default 20).

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use serde_json::Value;
use sha2::Digest;
use sigstack_core::keys::{PublicKey, SigningKey};
use sigstack_core::merkle::{verify_consistency, Hash};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
}

impl Server {
    fn spawn(data: &std::path::Path, key: &std::path::Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_rekor-server"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data)
            .arg("--signing-key")
            .arg(key)
            .args(["--tree-id", "77", "--v2"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rekor-server");
        Server { child }
    }

    fn kill(&mut self) {
        // SIGKILL: no chance to flush anything.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn wait_healthy(c: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = c.get(format!("{url}/healthz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("server did not become healthy");
}

/// A checkpoint a client saw: (size, root).
type Seen = (u64, Hash);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_acknowledged_and_never_forks() {
    let rounds: usize = std::env::var("REKOR_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.pem");
    rekor::write_new_key(&key_path).unwrap();
    let data = dir.path().join("data");
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let signer = SigningKey::generate_p256();
    // entry ID -> index for every acknowledged (201) append.
    let acked: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    // The v2 log: (index, leaf hash) of every 201, and every checkpoint seen.
    let v2_acked: Arc<Mutex<Vec<(u64, Hash)>>> = Arc::default();
    let v2_seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    // Everything acknowledged so far (new acks move here once verified) and
    // the last verified head: consistency is transitive, so checking each
    // new checkpoint against the current head, and the previous head against
    // it, covers every checkpoint ever handed out.
    let mut all_acked: HashMap<String, u64> = HashMap::new();
    let mut verified_head: Option<Seen> = None;
    let mut log_key: Option<PublicKey> = None;
    let mut rng_state = 0x9e3779b97f4a7c15u64;
    let mut next_rand = move || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };

    let started = Instant::now();
    for round in 0..rounds {
        eprintln!("round {round} starts at {:?}", started.elapsed());
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let mut server = Server::spawn(&data, &key_path, port);
        wait_healthy(&c, &url).await;
        if log_key.is_none() {
            let pem = c
                .get(format!("{url}/api/v1/log/publicKey"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            log_key = Some(PublicKey::from_pem(&pem).unwrap());
        }
        let key = log_key.clone().unwrap();
        // The v2 key the server generated on its first start.
        let v2_key =
            SigningKey::from_pem(&std::fs::read(data.join("v2/log-key.pem")).unwrap(), None)
                .unwrap()
                .public_key();
        verify_v2(&c, &format!("{url}/v2"), &v2_key, &v2_acked, &v2_seen).await;

        // After a restart, before new load: everything acknowledged is there
        // and provable, and every checkpoint seen is consistent with now.
        let t = Instant::now();
        let n_new = acked.lock().unwrap().len();
        let n_seen = seen.lock().unwrap().len();
        verified_head =
            Some(verify_state(&c, &url, &key, &acked, &seen, verified_head, &mut all_acked).await);
        eprintln!(
            "round {round}: verified {n_new} acks, {n_seen} checkpoints in {:?}",
            t.elapsed()
        );

        // Load: 8 writers (40 entries each at most) until the kill, and 2
        // more writing to the v2 log.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..2u64 {
            let (c, url, v2_acked, v2_seen, stop) = (
                c.clone(),
                format!("{url}/v2"),
                v2_acked.clone(),
                v2_seen.clone(),
                stop.clone(),
            );
            let entries: Vec<Value> = (0..40)
                .map(|i| v2_request(&signer, format!("v2-r{round}-w{w}-{i}").as_bytes()))
                .collect();
            writers.push(tokio::spawn(async move {
                for e in entries {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let Ok(r) = c
                        .post(format!("{url}/api/v2/log/entries"))
                        .json(&e)
                        .send()
                        .await
                    else {
                        break;
                    };
                    if r.status() != 201 {
                        break;
                    }
                    let Ok(v) = r.json::<Value>().await else {
                        break;
                    };
                    let num = |x: &Value| x.as_str().unwrap().parse::<u64>().unwrap();
                    let body = STANDARD
                        .decode(v["canonicalizedBody"].as_str().unwrap())
                        .unwrap();
                    let p = &v["inclusionProof"];
                    let root: Hash = STANDARD
                        .decode(p["rootHash"].as_str().unwrap())
                        .unwrap()
                        .try_into()
                        .unwrap();
                    v2_acked
                        .lock()
                        .unwrap()
                        .push((num(&v["logIndex"]), sigstack_core::merkle::hash_leaf(&body)));
                    v2_seen.lock().unwrap().push((num(&p["treeSize"]), root));
                }
            }));
        }
        for w in 0..8u64 {
            let (c, url, acked, seen, stop, key) = (
                c.clone(),
                url.clone(),
                acked.clone(),
                seen.clone(),
                stop.clone(),
                key.clone(),
            );
            let entries: Vec<Value> = (0..40)
                .map(|i| hashedrekord(&signer, format!("r{round}-w{w}-{i}").as_bytes()))
                .collect();
            writers.push(tokio::spawn(async move {
                for e in entries {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let Ok(r) = c
                        .post(format!("{url}/api/v1/log/entries"))
                        .json(&e)
                        .send()
                        .await
                    else {
                        break; // server died mid-request: not acknowledged
                    };
                    if r.status() != 201 {
                        break;
                    }
                    let Ok(v) = r.json::<Value>().await else {
                        break;
                    };
                    let (id, index, size, root) = verify_entry(&v, &key);
                    acked.lock().unwrap().insert(id, index);
                    seen.lock().unwrap().push((size, root));
                }
            }));
        }
        let delay = 10 + next_rand() % 150;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            let _ = w.await;
        }
    }

    // Final restart and full check.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = Server::spawn(&data, &key_path, port);
    wait_healthy(&c, &url).await;
    let key = log_key.unwrap();
    verify_state(&c, &url, &key, &acked, &seen, verified_head, &mut all_acked).await;
    let v2_key = SigningKey::from_pem(&std::fs::read(data.join("v2/log-key.pem")).unwrap(), None)
        .unwrap()
        .public_key();
    let v2_total = verify_v2(&c, &format!("{url}/v2"), &v2_key, &v2_acked, &v2_seen).await;
    assert!(v2_total > rounds as u64, "too few v2 entries ({v2_total})");
    eprintln!("final restart verified at {:?}", started.elapsed());
    // Final pass: every acknowledged entry of every round, against the final head.
    let everything = Mutex::new(all_acked.clone());
    let none = Mutex::new(Vec::new());
    verify_state(
        &c,
        &url,
        &key,
        &everything,
        &none,
        None,
        &mut HashMap::new(),
    )
    .await;
    eprintln!("final pass done at {:?}", started.elapsed());
    let n = all_acked.len();
    assert!(
        n > rounds,
        "load generated too few acknowledged entries ({n})"
    );
    eprintln!(
        "crash test: {rounds} SIGKILL rounds, {n} acknowledged v1 entries, all present; v2 log of {v2_total} entries, tiles = checkpoint"
    );
}

fn v2_request(key: &SigningKey, artifact: &[u8]) -> Value {
    let digest: [u8; 32] = sha2::Sha256::digest(artifact).into();
    let sig = key.sign_prehash_sha256(&digest).unwrap();
    serde_json::json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(digest),
        "signature": {"content": STANDARD.encode(sig), "verifier": {
            "publicKey": {"rawBytes": STANDARD.encode(key.public_key().to_spki_der())},
            "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}})
}

/// The v2 log after a restart: tiles and checkpoint agree (the root of the
/// level-0 tiles is the signed root), every acknowledged entry's leaf is at
/// its index, and every checkpoint handed out is a prefix of the tree now
/// (so consistent with it). Returns the tree size.
async fn verify_v2(
    c: &reqwest::Client,
    v2url: &str,
    key: &PublicKey,
    acked: &Mutex<Vec<(u64, Hash)>>,
    seen: &Mutex<Vec<Seen>>,
) -> u64 {
    let (size, root, leaves) = v2_leaves(c, v2url, key, "127.0.0.1").await;
    if size > 0 {
        assert_eq!(root_of(&leaves), root, "tiles and checkpoint disagree");
    }
    for (index, leaf) in acked.lock().unwrap().iter() {
        assert_eq!(
            leaves.get(*index as usize),
            Some(leaf),
            "acknowledged v2 entry {index} lost"
        );
    }
    for (s, r) in seen.lock().unwrap().iter() {
        assert!(*s <= size, "v2 log shrank from {s} to {size}");
        assert_eq!(
            root_of(&leaves[..*s as usize]),
            *r,
            "v2 log forked below {s}"
        );
    }
    size
}

/// Checks the entries and checkpoints collected since the last call (and
/// moves them to `all_acked`); returns the current head.
async fn verify_state(
    c: &reqwest::Client,
    url: &str,
    key: &PublicKey,
    acked: &Mutex<HashMap<String, u64>>,
    seen: &Mutex<Vec<Seen>>,
    previous_head: Option<Seen>,
    all_acked: &mut HashMap<String, u64>,
) -> Seen {
    let info: Value = c
        .get(format!("{url}/api/v1/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let size = info["treeSize"].as_u64().unwrap();
    let root = hex32(info["rootHash"].as_str().unwrap());
    let acked: Vec<(String, u64)> = acked.lock().unwrap().drain().collect();
    // Every acknowledged entry: present at its index, proof valid now.
    for chunk in acked.chunks(10) {
        let q =
            serde_json::json!({"entryUUIDs": chunk.iter().map(|(id, _)| id).collect::<Vec<_>>()});
        let r = c
            .post(format!("{url}/api/v1/log/entries/retrieve"))
            .json(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let found: Vec<Value> = r.json().await.unwrap();
        assert_eq!(found.len(), chunk.len(), "an acknowledged entry is missing");
        for (m, (id, index)) in found.iter().zip(chunk) {
            let (got_id, got_index, psize, proot) = verify_entry(m, key);
            assert_eq!((&got_id, got_index), (id, *index), "entry moved");
            assert_eq!((psize, proot), (size, root));
        }
    }
    // Every checkpoint handed out before is consistent with the current one:
    // the log never forked or shrank.
    let mut checkpoints: Vec<Seen> = seen.lock().unwrap().drain(..).collect();
    checkpoints.extend(previous_head);
    checkpoints.sort();
    checkpoints.dedup();
    for (s, r) in checkpoints {
        assert!(s <= size, "log shrank from {s} to {size}");
        if s == 0 {
            continue; // the empty tree is a prefix of every tree
        }
        let v: Value = c
            .get(format!(
                "{url}/api/v1/log/proof?firstSize={s}&lastSize={size}"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let hashes: Vec<Hash> = v["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hex32(h.as_str().unwrap()))
            .collect();
        verify_consistency(s, size, &r, &root, &hashes)
            .expect("consistent with every earlier checkpoint");
    }
    all_acked.extend(acked);
    (size, root)
}

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

use common::*;
use serde_json::Value;
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
            .args(["--tree-id", "77"])
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

        // Load: 8 writers (40 entries each at most) until the kill.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
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
    eprintln!("crash test: {rounds} SIGKILL rounds, {n} acknowledged entries, all present");
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

use super::*;
use sigstack_core::keys::SigningKey;
use sigstack_core::merkle::{hash_leaf, verify_consistency, verify_inclusion};
use tree::NodeId;

/// Checkpoint = "size root_hex\n" || ECDSA signature, enough to test key pinning.
struct TestSigner(SigningKey);

impl CheckpointSigner for TestSigner {
    fn sign(&self, size: u64, root: &Hash, _ts: u64) -> Result<Vec<u8>, String> {
        let mut text = format!("{size} {}\n", hex(root)).into_bytes();
        let sig = self.0.sign(&text);
        text.extend_from_slice(&sig);
        Ok(text)
    }
    fn verify(&self, cp: &[u8], size: u64, root: &Hash) -> bool {
        let body = format!("{size} {}\n", hex(root)).into_bytes();
        cp.starts_with(&body)
            && self
                .0
                .public_key()
                .verify_message(&body, &cp[body.len()..])
                .is_ok()
    }
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn append_req(data: &[u8]) -> Append {
    Append {
        data: data.to_vec(),
        leaf_hash: hash_leaf(data),
        search_keys: vec![b"all".to_vec()],
    }
}

async fn exercise(log: Arc<Log>, n: usize) -> Vec<Arc<Head>> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let data = format!("entry-{i}").into_bytes();
            (data.clone(), log.append(append_req(&data)).await)
        }));
    }
    let mut heads = Vec::new();
    for t in tasks {
        let (data, res) = t.await.unwrap();
        match res.unwrap() {
            AppendResult::Added { index, head, .. } => {
                assert!(index < head.size);
                let proof = log.inclusion_proof(index, head.size).unwrap();
                verify_inclusion(index, head.size, &hash_leaf(&data), &proof, &head.root).unwrap();
                assert_eq!(log.entry(index).unwrap().unwrap().data, data);
                heads.push(head);
            }
            AppendResult::Duplicate { .. } => panic!("unexpected duplicate"),
        }
    }
    heads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_batch_and_prove() {
    let signer = Arc::new(TestSigner(SigningKey::generate_p256()));
    let log =
        Arc::new(Log::open(Arc::new(MemStore::default()), signer, LogOptions::default()).unwrap());
    let heads = exercise(log.clone(), 300).await;
    let final_head = log.head();
    assert_eq!(final_head.size, 300);
    // Fewer batches than entries: concurrent appends were grouped.
    let batches = log
        .stats()
        .batches
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!((1..=300).contains(&batches));
    for h in heads {
        let proof = log.consistency_proof(h.size, final_head.size).unwrap();
        verify_consistency(h.size, final_head.size, &h.root, &final_head.root, &proof).unwrap();
        assert_eq!(log.root_at(h.size).unwrap(), h.root);
    }
    assert_eq!(log.search(b"all", 1000).unwrap().len(), 300);
}

#[tokio::test]
async fn duplicates_are_refused_in_store_and_batch() {
    let signer = Arc::new(TestSigner(SigningKey::generate_p256()));
    let opts = LogOptions {
        max_linger: Duration::from_millis(20),
        ..Default::default()
    };
    let log = Arc::new(Log::open(Arc::new(MemStore::default()), signer, opts).unwrap());
    // Two identical appends in flight at once land in one batch.
    let (a, b) = tokio::join!(log.append(append_req(b"x")), log.append(append_req(b"x")));
    let results = [a.unwrap(), b.unwrap()];
    let added = results
        .iter()
        .filter(|r| matches!(r, AppendResult::Added { .. }))
        .count();
    assert_eq!(added, 1);
    assert!(results
        .iter()
        .any(|r| matches!(r, AppendResult::Duplicate { index: 0 })));
    // And later against the store.
    assert!(matches!(
        log.append(append_req(b"x")).await.unwrap(),
        AppendResult::Duplicate { index: 0 }
    ));
    assert_eq!(log.head().size, 1);
}

#[tokio::test]
async fn bad_requests_change_nothing() {
    let signer = Arc::new(TestSigner(SigningKey::generate_p256()));
    let log = Log::open(Arc::new(MemStore::default()), signer, LogOptions::default()).unwrap();
    let mut req = append_req(b"y");
    req.search_keys = vec![b"a\0b".to_vec()];
    assert!(log.append(req).await.is_err());
    assert_eq!(log.head().size, 0);
    assert!(log.inclusion_proof(0, 0).is_err());
    assert!(log.inclusion_proof(0, 1).is_err());
    assert!(log.consistency_proof(0, 0).is_err());
    assert!(log.consistency_proof(2, 1).is_err());
}

#[tokio::test]
async fn rocks_reopen_keeps_head_and_refuses_other_key_and_second_writer() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate_p256();
    let head_before;
    {
        let store = Arc::new(RocksStore::open(dir.path(), &RocksOptions::default()).unwrap());
        // A second opener of the same directory is refused while the first lives.
        match RocksStore::open(dir.path(), &RocksOptions::default()) {
            Err(StoreError::Locked(_)) => {}
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("second writer opened the store"),
        }
        let log = Arc::new(
            Log::open(
                store,
                Arc::new(TestSigner(key.clone())),
                LogOptions::default(),
            )
            .unwrap(),
        );
        exercise(log.clone(), 50).await;
        head_before = log.head();
    }
    {
        let store = Arc::new(RocksStore::open(dir.path(), &RocksOptions::default()).unwrap());
        match Log::open(
            store,
            Arc::new(TestSigner(SigningKey::generate_p256())),
            LogOptions::default(),
        ) {
            Err(LogError::KeyMismatch) => {}
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("opened with a foreign key"),
        }
    }
    let store = Arc::new(RocksStore::open(dir.path(), &RocksOptions::default()).unwrap());
    let log = Arc::new(Log::open(store, Arc::new(TestSigner(key)), LogOptions::default()).unwrap());
    let h = log.head();
    assert_eq!((h.size, h.root), (head_before.size, head_before.root));
    exercise_more(&log).await;
}

async fn exercise_more(log: &Arc<Log>) {
    let before = log.head();
    match log.append(append_req(b"after-restart")).await.unwrap() {
        AppendResult::Added { index, head, .. } => {
            assert_eq!(index, before.size);
            let p = log.consistency_proof(before.size, head.size).unwrap();
            verify_consistency(before.size, head.size, &before.root, &head.root, &p).unwrap();
        }
        other => panic!("{other:?}"),
    }
}

/// Proofs served through the node cache equal proofs computed from the
/// store alone, across budget changes (small budget: levels are dropped as
/// the tree grows) and a reopen (the cache is rebuilt from the store).
#[test]
fn cached_upper_levels_give_the_same_proofs() {
    use crate::cache::NodeCache;
    use crate::tree::inclusion_plan;
    let store: Arc<dyn Store> = Arc::new(MemStore::default());
    let cache = NodeCache::load(store.as_ref(), 0, 16).unwrap();
    let mut frontier = tree::Frontier::default();
    for i in 0..300u64 {
        let mut batch = CommitBatch {
            first_index: i,
            ..Default::default()
        };
        let leaf = sigstack_core::merkle::hash_leaf(&i.to_be_bytes());
        frontier.push(leaf, |id, h| batch.nodes.push((id, h)));
        batch.entries.push((
            leaf,
            StoredEntry {
                data: i.to_be_bytes().to_vec(),
                integrated_time_ms: 0,
                seal: Vec::new(),
            },
        ));
        store.commit(&batch).unwrap();
        cache.extend(&batch.nodes, i + 1);
        assert!(cache.len() <= 16, "budget exceeded at {i}: {}", cache.len());
        let size = i + 1;
        for index in [0, i / 2, i] {
            let plan = inclusion_plan(index, size);
            let direct = store.nodes(&plan.nodes).unwrap();
            assert_eq!(
                cache.nodes(store.as_ref(), &plan.nodes).unwrap(),
                direct,
                "{index}/{size}"
            );
        }
    }
    let reopened = NodeCache::load(store.as_ref(), 300, 16).unwrap();
    assert!(!reopened.is_empty());
    let plan = inclusion_plan(123, 300);
    assert_eq!(
        reopened.nodes(store.as_ref(), &plan.nodes).unwrap(),
        store.nodes(&plan.nodes).unwrap()
    );
    // The cached levels are really served from memory: a store that cannot
    // read any node still answers for them, and only for them.
    let cached: Vec<NodeId> = plan
        .nodes
        .iter()
        .copied()
        .filter(|n| n.level >= 6)
        .collect();
    let uncached: Vec<NodeId> = plan.nodes.iter().copied().filter(|n| n.level < 6).collect();
    assert!(!cached.is_empty() && !uncached.is_empty());
    assert_eq!(
        reopened.nodes(&NoNodes, &cached).unwrap(),
        store.nodes(&cached).unwrap()
    );
    assert!(reopened.nodes(&NoNodes, &uncached).is_err());
}

/// A store whose node reads all fail.
struct NoNodes;

impl Store for NoNodes {
    fn head(&self) -> Result<Option<StoredHead>, StoreError> {
        Ok(None)
    }
    fn nodes(&self, _: &[NodeId]) -> Result<Vec<sigstack_core::merkle::Hash>, StoreError> {
        Err(StoreError::Corrupt("no node reads in this test".into()))
    }
    fn entry(&self, _: u64) -> Result<Option<StoredEntry>, StoreError> {
        Ok(None)
    }
    fn leaf_index(&self, _: &sigstack_core::merkle::Hash) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
    fn search(&self, _: &[u8], _: usize) -> Result<Vec<u64>, StoreError> {
        Ok(Vec::new())
    }
    fn get_meta(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn put_meta(&self, _: &str, _: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
    fn commit(&self, _: &CommitBatch) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Seal = index || time || data, or a failure for data "fail".
struct TestSealer;

impl EntrySealer for TestSealer {
    fn seal(&self, index: u64, time_ms: u64, data: &[u8]) -> Result<Vec<u8>, String> {
        if data == b"fail" {
            return Err("sealer refused".into());
        }
        let mut s = index.to_be_bytes().to_vec();
        s.extend_from_slice(&time_ms.to_be_bytes());
        s.extend_from_slice(data);
        Ok(s)
    }
}

#[tokio::test]
async fn seals_are_made_at_sequencing_stored_and_returned() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(RocksStore::open(dir.path(), &RocksOptions::default()).unwrap());
    let signer = Arc::new(TestSigner(SigningKey::generate_p256()));
    let log = Log::open_sealed(
        store,
        signer,
        Some(Arc::new(TestSealer)),
        LogOptions::default(),
    )
    .unwrap();
    log.append(append_req(b"first")).await.unwrap();
    let AppendResult::Added {
        index,
        integrated_time_ms,
        seal,
        head,
    } = log.append(append_req(b"second")).await.unwrap()
    else {
        panic!("not added");
    };
    assert_eq!(index, 1);
    assert_eq!(
        seal,
        TestSealer.seal(1, integrated_time_ms, b"second").unwrap()
    );
    let stored = log.entry(1).unwrap().unwrap();
    assert_eq!(
        (stored.seal, stored.integrated_time_ms),
        (seal, integrated_time_ms)
    );
    // The leaf comes from the stored level-0 node, with the same proof.
    let (leaf, proof) = log.leaf_and_inclusion_proof(1, head.size).unwrap();
    assert_eq!(leaf, hash_leaf(b"second"));
    assert_eq!(proof, log.inclusion_proof(1, head.size).unwrap());
    verify_inclusion(1, head.size, &leaf, &proof, &head.root).unwrap();
    // A failed seal adds nothing.
    assert!(matches!(
        log.append(append_req(b"fail")).await,
        Err(LogError::Signing(_))
    ));
    assert_eq!(log.head().size, 2);
    assert!(log.find(&hash_leaf(b"fail")).unwrap().is_none());
}

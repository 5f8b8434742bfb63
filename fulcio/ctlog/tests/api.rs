//! End-to-end tests of the RFC 6962 API against an in-process server.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::json;
use sigstack_core::ct::{self, Sct, SignedEntry, OID_CT_POISON, OID_CT_SCT_LIST};
use sigstack_core::keys::SigningKey;
use sigstack_core::merkle::{hash_leaf, verify_consistency, verify_inclusion};
use sigstack_ctlog::signer::verify_sth;
use sigstack_ctlog::{open_in_memory, CtKey, Roots, Service, ServiceOptions};
use sigstack_tlog::MemStore;

fn in_memory(pki: &Pki, log_key: &SigningKey) -> Service {
    open_in_memory(
        log_key.clone(),
        Roots::from_der(vec![pki.root.der.clone()]).unwrap(),
    )
    .unwrap()
}

/// The final certificate Fulcio would issue: the precert's TBS without the
/// poison, plus the SCT list, re-signed by the intermediate.
fn final_cert(precert: &[u8], sct: &Sct, issuer: &Ca) -> Vec<u8> {
    use der::{Decode, Encode};
    let cert = x509_cert::Certificate::from_der(precert).unwrap();
    let mut tbs = cert.tbs_certificate;
    let exts = tbs.extensions.as_mut().unwrap();
    exts.retain(|e| e.extn_id != OID_CT_POISON);
    let list = ct::encode_sct_list(std::slice::from_ref(sct));
    exts.push(x509_cert::ext::Extension {
        extn_id: OID_CT_SCT_LIST,
        critical: false,
        extn_value: der::asn1::OctetString::new(
            der::asn1::OctetString::new(list).unwrap().to_der().unwrap(),
        )
        .unwrap(),
    });
    sign(tbs, &issuer.key)
}

async fn verify_sth_and_inclusion(srv: &TestServer, log_key: &SigningKey, leaf_input: &[u8]) {
    let (s, sth) = srv.get("/ct/v1/get-sth").await;
    assert_eq!(s, 200);
    let size = sth["tree_size"].as_u64().unwrap();
    let root = b64_hash(&sth["sha256_root_hash"]);
    assert!(verify_sth(
        &log_key.public_key(),
        sth["timestamp"].as_u64().unwrap(),
        size,
        &root,
        &b64(&sth["tree_head_signature"]),
    ));
    let leaf_hash = hash_leaf(leaf_input);
    let hash_q = urlencode(&base64_std(&leaf_hash));
    let (s, p) = srv
        .get(&format!(
            "/ct/v1/get-proof-by-hash?hash={hash_q}&tree_size={size}"
        ))
        .await;
    assert_eq!(s, 200, "{p}");
    let index = p["leaf_index"].as_u64().unwrap();
    let path: Vec<[u8; 32]> = p["audit_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64_hash)
        .collect();
    verify_inclusion(index, size, &leaf_hash, &path, &root).unwrap();
}

fn base64_std(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[tokio::test]
async fn submit_verify_prove_and_read_back() {
    let pki = Pki::new();
    let log_key = SigningKey::generate_p256();
    let log_pub = log_key.public_key();
    let srv = serve(in_memory(&pki, &log_key)).await;
    assert_eq!(srv.tree_size().await, 0);

    // add-chain with [leaf, intermediate]: the root is appended in extra_data.
    let leaf = pki.inter.leaf();
    let (s, v) = srv
        .post("/ct/v1/add-chain", &chain_body(&[&leaf, &pki.inter.der]))
        .await;
    assert_eq!(s, 200, "{v}");
    let sct = Sct::from_add_chain_response(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(sct.log_id, ct::log_id(&log_pub.to_spki_der()));
    assert!(sct.extensions.is_empty());
    sct.verify(&SignedEntry::X509(&leaf), &log_pub).unwrap();
    let leaf_input = ct::merkle_tree_leaf(sct.timestamp_ms, &SignedEntry::X509(&leaf), &[]);
    verify_sth_and_inclusion(&srv, &log_key, &leaf_input).await;

    // add-pre-chain with [precert, intermediate, root].
    let precert = pki.inter.precert();
    let (s, v) = srv
        .post(
            "/ct/v1/add-pre-chain",
            &chain_body(&[&precert, &pki.inter.der, &pki.root.der]),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let psct = Sct::from_add_chain_response(&serde_json::to_vec(&v).unwrap()).unwrap();
    let tbs = ct::tbs_without_extension(&precert, OID_CT_POISON).unwrap();
    let pentry = SignedEntry::Precert {
        issuer_key_hash: ct::issuer_key_hash(&pki.inter.der).unwrap(),
        tbs: &tbs,
    };
    psct.verify(&pentry, &log_pub).unwrap();
    // The SCT is bound to the intermediate, not the root.
    let wrong = SignedEntry::Precert {
        issuer_key_hash: ct::issuer_key_hash(&pki.root.der).unwrap(),
        tbs: &tbs,
    };
    assert!(psct.verify(&wrong, &log_pub).is_err());
    // Embedded in the final certificate, it verifies as clients check it.
    let fin = final_cert(&precert, &psct, &pki.inter);
    let embedded = ct::embedded_scts(&fin).unwrap();
    assert_eq!(embedded, vec![psct.clone()]);
    ct::verify_embedded_sct(&fin, &pki.inter.der, &embedded[0], &log_pub).unwrap();
    let pleaf_input = ct::merkle_tree_leaf(psct.timestamp_ms, &pentry, &[]);
    verify_sth_and_inclusion(&srv, &log_key, &pleaf_input).await;

    // Consistency between the 2-entry and 3-entry heads.
    let (_, sth2) = srv.get("/ct/v1/get-sth").await;
    let leaf3 = pki.inter.leaf();
    let (s, _) = srv
        .post("/ct/v1/add-chain", &chain_body(&[&leaf3, &pki.inter.der]))
        .await;
    assert_eq!(s, 200);
    let (_, sth3) = srv.get("/ct/v1/get-sth").await;
    assert_eq!(sth3["tree_size"], 3);
    let (s, c) = srv.get("/ct/v1/get-sth-consistency?first=2&second=3").await;
    assert_eq!(s, 200, "{c}");
    let proof: Vec<[u8; 32]> = c["consistency"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64_hash)
        .collect();
    verify_consistency(
        2,
        3,
        &b64_hash(&sth2["sha256_root_hash"]),
        &b64_hash(&sth3["sha256_root_hash"]),
        &proof,
    )
    .unwrap();
    let (s, c) = srv.get("/ct/v1/get-sth-consistency?first=3&second=3").await;
    assert_eq!((s, c["consistency"].as_array().unwrap().len()), (200, 0));

    // get-entries decodes back to the submissions.
    let (s, e) = srv.get("/ct/v1/get-entries?start=0&end=99").await;
    assert_eq!(s, 200, "{e}");
    let entries = e["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(b64(&entries[0]["leaf_input"]), leaf_input);
    let l0 = ct::parse_merkle_tree_leaf(&b64(&entries[0]["leaf_input"])).unwrap();
    assert_eq!(l0.entry, ct::OwnedSignedEntry::X509(leaf.clone()));
    let x0 = b64(&entries[0]["extra_data"]);
    let (chain0, rest) = split_cert_list(&x0);
    assert!(rest.is_empty());
    assert_eq!(chain0, vec![pki.inter.der.clone(), pki.root.der.clone()]);
    assert_eq!(b64(&entries[1]["leaf_input"]), pleaf_input);
    let x1 = b64(&entries[1]["extra_data"]);
    let n = u24(&x1);
    assert_eq!(&x1[3..3 + n], &precert[..]);
    let (chain1, rest) = split_cert_list(&x1[3 + n..]);
    assert!(rest.is_empty());
    assert_eq!(chain1, vec![pki.inter.der.clone(), pki.root.der.clone()]);
    let (_, e) = srv.get("/ct/v1/get-entries?start=1&end=1").await;
    assert_eq!(e["entries"].as_array().unwrap().len(), 1);

    // get-entry-and-proof.
    let (s, ep) = srv
        .get("/ct/v1/get-entry-and-proof?leaf_index=1&tree_size=3")
        .await;
    assert_eq!(s, 200, "{ep}");
    assert_eq!(b64(&ep["leaf_input"]), pleaf_input);
    let path: Vec<[u8; 32]> = ep["audit_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64_hash)
        .collect();
    verify_inclusion(
        1,
        3,
        &hash_leaf(&pleaf_input),
        &path,
        &b64_hash(&sth3["sha256_root_hash"]),
    )
    .unwrap();

    // get-roots, healthz, metrics.
    let (s, r) = srv.get("/ct/v1/get-roots").await;
    assert_eq!(s, 200);
    assert_eq!(r["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(b64(&r["certificates"][0]), pki.root.der);
    let (s, h) = srv.get("/healthz").await;
    assert_eq!((s, h["tree_size"].as_u64()), (200, Some(3)));
    let (s, m) = srv.get("/metrics").await;
    assert_eq!(s, 200);
    let m = m.as_str().unwrap().to_string();
    assert!(
        m.contains("ctlog_submissions_total{kind=\"add-pre-chain\",outcome=\"added\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn leaf_signed_directly_by_root() {
    let pki = Pki::new();
    let log_key = SigningKey::generate_p256();
    let srv = serve(in_memory(&pki, &log_key)).await;
    let precert = pki.root.precert();
    let (s, v) = srv
        .post("/ct/v1/add-pre-chain", &chain_body(&[&precert]))
        .await;
    assert_eq!(s, 200, "{v}");
    let sct = Sct::from_add_chain_response(&serde_json::to_vec(&v).unwrap()).unwrap();
    let tbs = ct::tbs_without_extension(&precert, OID_CT_POISON).unwrap();
    sct.verify(
        &SignedEntry::Precert {
            issuer_key_hash: ct::issuer_key_hash(&pki.root.der).unwrap(),
            tbs: &tbs,
        },
        &log_key.public_key(),
    )
    .unwrap();
}

#[tokio::test]
async fn refuses_bad_submissions_without_appending() {
    let pki = Pki::new();
    let log_key = SigningKey::generate_p256();
    let mut opts = ServiceOptions::new(
        CtKey::new(log_key.clone()).unwrap(),
        Roots::from_der(vec![pki.root.der.clone()]).unwrap(),
    );
    opts.max_request_bytes = 64 << 10;
    let srv = serve(Service::open(Arc::new(MemStore::default()), opts).unwrap()).await;
    // One good entry so that "unchanged" is not trivially zero.
    let good = pki.inter.leaf();
    let (s, _) = srv
        .post("/ct/v1/add-chain", &chain_body(&[&good, &pki.inter.der]))
        .await;
    assert_eq!(s, 200);

    let other = Pki::new();
    let not_ca = pki
        .root
        .issue_ca("not-a-ca", vec![eku_ext(&[OID_CODE_SIGNING])]);
    let server_auth_ca = pki
        .root
        .issue_ca("tls-ca", vec![ca_ext(), eku_ext(&[OID_SERVER_AUTH])]);
    // A CA that also allows codeSigning: only the precert-signing EKU check
    // (not the accepted-EKU nesting check) can refuse it.
    let precert_signer = pki.inter.issue_ca(
        "precert-signer",
        vec![
            ca_ext(),
            eku_ext(&["1.3.6.1.4.1.11129.2.4.4".parse().unwrap(), OID_CODE_SIGNING]),
        ],
    );
    // A proper CA under the accepted root, but not the leaf's issuer.
    let unrelated_ca = pki
        .root
        .issue_ca("unrelated-ca", vec![ca_ext(), eku_ext(&[OID_CODE_SIGNING])]);
    let leaf = pki.inter.leaf();
    let precert = pki.inter.precert();
    let no_eku = pki.inter.issue(vec![]);
    let tls_leaf = pki.inter.issue(vec![eku_ext(&[OID_SERVER_AUTH])]);
    let noncritical_poison = pki.inter.issue(vec![
        eku_ext(&[OID_CODE_SIGNING]),
        ext("1.3.6.1.4.1.11129.2.4.3", false, vec![0x05, 0x00]),
    ]);
    let eleven: Vec<&[u8]> = std::iter::repeat_n(&pki.inter.der[..], 11).collect();

    let max = sigstack_ctlog::chain::MAX_CHAIN_LEN;
    let too_many = format!("chain has 11 certificates, at most {max} accepted");
    // (what, endpoint, body, substring the error message must contain: the
    // reason this case is meant to be refused for).
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "not JSON",
            "add-chain",
            b"{".to_vec(),
            "error parsing request body as JSON",
        ),
        (
            "no chain",
            "add-chain",
            b"{}".to_vec(),
            "missing field `chain`",
        ),
        (
            "unknown field",
            "add-chain",
            serde_json::to_vec(
                &json!({"chain": [base64_std(&leaf), base64_std(&pki.inter.der)], "x": 1}),
            )
            .unwrap(),
            "unknown field `x`",
        ),
        (
            "chain not an array",
            "add-chain",
            br#"{"chain":"abc"}"#.to_vec(),
            "invalid type: string \"abc\", expected a sequence",
        ),
        (
            "empty chain",
            "add-chain",
            br#"{"chain":[]}"#.to_vec(),
            "chain is empty",
        ),
        (
            "bad base64",
            "add-chain",
            br#"{"chain":["not base64!"]}"#.to_vec(),
            "chain[0] is not valid base64",
        ),
        (
            "bad DER",
            "add-chain",
            br#"{"chain":["anVuaw=="]}"#.to_vec(),
            "chain[0] is not a DER certificate",
        ),
        (
            "bad DER intermediate",
            "add-chain",
            serde_json::to_vec(&json!({"chain": [base64_std(&leaf), "anVuaw=="]})).unwrap(),
            "chain[1] is not a DER certificate",
        ),
        // chain[1] (another PKI's intermediate, same names) is checked before
        // the leaf's link to it, so this is refused at the anchor.
        (
            "broken chain",
            "add-chain",
            body(&[&leaf, &other.inter.der]),
            "the chain does not end at an accepted root",
        ),
        (
            "leaf issuer is not chain[1]'s subject",
            "add-chain",
            body(&[&leaf, &unrelated_ca.der]),
            "chain[0]'s issuer is not chain[1]'s subject",
        ),
        (
            "leaf not signed by chain[1]",
            "add-chain",
            body(&[&other.inter.leaf(), &pki.inter.der]),
            "chain[0] is not signed by chain[1]",
        ),
        (
            "chain[1] not signed by chain[2]",
            "add-chain",
            body(&[&leaf, &pki.inter.der, &other.root.der]),
            "chain[1] is not signed by chain[2]",
        ),
        (
            "unknown root",
            "add-chain",
            body(&[&other.inter.leaf(), &other.inter.der, &other.root.der]),
            "the chain does not end at an accepted root",
        ),
        (
            "unknown root, intermediate only",
            "add-chain",
            body(&[&other.inter.leaf(), &other.inter.der]),
            "the chain does not end at an accepted root",
        ),
        (
            "leaf alone, not signed by a root",
            "add-chain",
            body(&[&leaf]),
            "chain[0] is not signed by any accepted root",
        ),
        (
            "root alone",
            "add-chain",
            body(&[&pki.root.der]),
            "a root certificate cannot be logged",
        ),
        (
            "missing poison",
            "add-pre-chain",
            body(&[&leaf, &pki.inter.der]),
            "add-pre-chain needs a precertificate",
        ),
        (
            "poison on add-chain",
            "add-chain",
            body(&[&precert, &pki.inter.der]),
            "submitted to add-chain; use add-pre-chain",
        ),
        (
            "non-critical poison",
            "add-pre-chain",
            body(&[&noncritical_poison, &pki.inter.der]),
            "the CT poison extension must be critical",
        ),
        (
            "missing EKU",
            "add-chain",
            body(&[&no_eku, &pki.inter.der]),
            "chain[0] lacks an accepted extended key usage",
        ),
        (
            "wrong EKU",
            "add-chain",
            body(&[&tls_leaf, &pki.inter.der]),
            "chain[0] lacks an accepted extended key usage",
        ),
        (
            "issuer not a CA",
            "add-chain",
            body(&[&not_ca.leaf(), &not_ca.der]),
            "chain[1] is not a CA certificate",
        ),
        (
            "intermediate EKU excludes codeSigning",
            "add-chain",
            body(&[&server_auth_ca.leaf(), &server_auth_ca.der]),
            "chain[1]'s extended key usages exclude the accepted ones",
        ),
        (
            "precert signing certificate",
            "add-pre-chain",
            body(&[
                &precert_signer.precert(),
                &precert_signer.der,
                &pki.inter.der,
            ]),
            "precertificate signing certificates are not supported",
        ),
        (
            "too many certificates",
            "add-chain",
            body(&eleven),
            &too_many,
        ),
    ];
    for (what, endpoint, raw, want) in cases {
        let (s, v) = srv.post_raw(&format!("/ct/v1/{endpoint}"), raw).await;
        assert_eq!(s, 400, "{what}: {v}");
        assert!(v["error"].is_string(), "{what}: {v}");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(want), "{what}: want {want:?} in {msg:?}");
    }
    let big = vec![b' '; 65 << 10];
    let (s, _) = srv.post_raw("/ct/v1/add-chain", big).await;
    assert_eq!(s, 413);
    assert_eq!(srv.tree_size().await, 1, "nothing was appended");
    let (s, v) = srv.get("/metrics").await;
    assert_eq!(s, 200);
    assert!(v.as_str().unwrap().contains("outcome=\"invalid\""));

    // Wrong method, unknown path.
    assert_eq!(srv.get("/ct/v1/add-chain").await.0, 405);
    assert_eq!(srv.post("/ct/v1/get-sth", &json!({})).await.0, 405);
    assert_eq!(srv.get("/ct/v1/nope").await.0, 404);
    assert_eq!(srv.get("/nope").await.0, 404);

    // Controls: the shapes used above are refused only for the reason under
    // test; with that one thing changed they are accepted.
    let code_signer = pki
        .inter
        .issue_ca("code-signer", vec![ca_ext(), eku_ext(&[OID_CODE_SIGNING])]);
    for (what, endpoint, raw) in [
        (
            "the unknown-field body without the unknown field",
            "add-chain",
            body(&[&leaf, &pki.inter.der]),
        ),
        (
            "the precert-signer chain with a codeSigning-only sub-CA",
            "add-pre-chain",
            body(&[&code_signer.precert(), &code_signer.der, &pki.inter.der]),
        ),
    ] {
        let (s, v) = srv.post_raw(&format!("/ct/v1/{endpoint}"), raw).await;
        assert_eq!(s, 200, "control {what}: {v}");
    }
    // Exactly the limit is not refused for its length (these ten copies fail
    // later, on the chain's names).
    let ten: Vec<&[u8]> = std::iter::repeat_n(&pki.inter.der[..], max).collect();
    let (s, v) = srv.post_raw("/ct/v1/add-chain", body(&ten)).await;
    assert_eq!(s, 400, "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(!msg.contains("accepted"), "{msg}");
    assert!(
        msg.contains("chain[1]'s issuer is not chain[2]'s subject"),
        "{msg}"
    );
}

fn body(certs: &[&[u8]]) -> Vec<u8> {
    serde_json::to_vec(&chain_body(certs)).unwrap()
}

#[tokio::test]
async fn query_parameter_validation() {
    let pki = Pki::new();
    let log_key = SigningKey::generate_p256();
    let mut opts = ServiceOptions::new(
        CtKey::new(log_key.clone()).unwrap(),
        Roots::from_der(vec![pki.root.der.clone()]).unwrap(),
    );
    opts.max_get_entries = 2;
    let srv = serve(Service::open(Arc::new(MemStore::default()), opts).unwrap()).await;
    let mut leaf_inputs = Vec::new();
    for _ in 0..3 {
        let leaf = pki.inter.leaf();
        let (s, v) = srv
            .post("/ct/v1/add-chain", &chain_body(&[&leaf, &pki.inter.der]))
            .await;
        assert_eq!(s, 200);
        let sct = Sct::from_add_chain_response(&serde_json::to_vec(&v).unwrap()).unwrap();
        leaf_inputs.push(ct::merkle_tree_leaf(
            sct.timestamp_ms,
            &SignedEntry::X509(&leaf),
            &[],
        ));
    }
    // The per-call cap applies.
    let (s, e) = srv.get("/ct/v1/get-entries?start=0&end=2").await;
    assert_eq!((s, e["entries"].as_array().unwrap().len()), (200, 2));
    let (s, e) = srv.get("/ct/v1/get-entries?start=2&end=1000").await;
    assert_eq!((s, e["entries"].as_array().unwrap().len()), (200, 1));

    let h = urlencode(&base64_std(&hash_leaf(&leaf_inputs[2])));
    for (q, want) in [
        ("get-sth-consistency?first=1", 400),
        ("get-sth-consistency?second=2", 400),
        ("get-sth-consistency?first=-1&second=2", 400),
        ("get-sth-consistency?first=+1&second=2", 400),
        ("get-sth-consistency?first=x&second=2", 400),
        ("get-sth-consistency?first=3&second=2", 400),
        ("get-sth-consistency?first=1&second=4", 400),
        (
            "get-sth-consistency?first=1&second=99999999999999999999999",
            400,
        ),
        ("get-sth-consistency?first=1&second=3", 200),
        ("get-sth-consistency?first=0&second=3", 200),
        ("get-proof-by-hash?tree_size=3", 400),
        ("get-proof-by-hash?hash=AAAA&tree_size=3", 400),
        ("get-proof-by-hash?hash=!!&tree_size=3", 400),
        (&format!("get-proof-by-hash?hash={h}"), 400),
        (&format!("get-proof-by-hash?hash={h}&tree_size=0"), 400),
        (&format!("get-proof-by-hash?hash={h}&tree_size=4"), 400),
        (&format!("get-proof-by-hash?hash={h}&tree_size=2"), 404),
        (&format!("get-proof-by-hash?hash={h}&tree_size=3"), 200),
        (
            "get-proof-by-hash?hash=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D&tree_size=3",
            404,
        ),
        ("get-entries?start=0", 400),
        ("get-entries?end=0", 400),
        ("get-entries?start=2&end=1", 400),
        ("get-entries?start=3&end=5", 400),
        ("get-entries?start=a&end=5", 400),
        ("get-entries?start=-1&end=5", 400),
        ("get-entry-and-proof?leaf_index=0", 400),
        ("get-entry-and-proof?leaf_index=3&tree_size=3", 400),
        ("get-entry-and-proof?leaf_index=0&tree_size=4", 400),
        ("get-entry-and-proof?leaf_index=2&tree_size=3", 200),
    ] {
        let (s, v) = srv.get(&format!("/ct/v1/{q}")).await;
        assert_eq!(s, want, "{q}: {v}");
        if want == 400 {
            assert!(v["error"].is_string(), "{q}: {v}");
        }
    }
    assert_eq!(srv.tree_size().await, 3);
}

#[test]
fn restart_keeps_tree_and_refuses_other_key() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pki = Pki::new();
    let log_key = SigningKey::generate_p256();
    let open = |key: &SigningKey| {
        Service::open_dir(
            &data,
            8 << 20,
            ServiceOptions::new(
                CtKey::new(key.clone()).unwrap(),
                Roots::from_der(vec![pki.root.der.clone()]).unwrap(),
            ),
        )
    };
    let svc = open(&log_key).unwrap();
    for _ in 0..2 {
        let b = body(&[&pki.inter.leaf(), &pki.inter.der]);
        rt.block_on(svc.add_chain(&b, sigstack_ctlog::Kind::X509))
            .unwrap();
    }
    let before = svc.sth().unwrap();
    assert_eq!(before.tree_size, 2);
    // A second writer on the same data dir is refused.
    let e = open(&log_key).err().expect("second writer refused");
    assert!(e.to_string().contains("in use"), "{e}");
    drop(svc);

    let svc = open(&log_key).unwrap();
    assert_eq!(svc.sth().unwrap(), before);
    assert_eq!(
        svc.log_id_hex(),
        hex::encode(ct::log_id(&log_key.public_key().to_spki_der()))
    );
    drop(svc);

    let e = open(&SigningKey::generate_p256())
        .err()
        .expect("another key refused");
    assert!(e.to_string().contains("refusing to start"), "{e}");
}

#[test]
fn open_service_generates_a_private_key_and_requires_roots() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let roots = dir.path().join("roots.pem");
    std::fs::write(
        &roots,
        sigstack_core::pem::encode("CERTIFICATE", &pki.root.der),
    )
    .unwrap();
    let args = sigstack_ctlog::config::Args {
        data_dir: Some(dir.path().join("data")),
        roots_pem_file: Some(roots.clone()),
        ..Default::default()
    };
    let cfg = sigstack_ctlog::Config::resolve(&args).unwrap();
    let svc = sigstack_ctlog::open_service(&cfg).unwrap();
    let mode = std::fs::metadata(&cfg.signing_key)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(svc.roots().count(), 1);
    drop(svc);

    // Roots that are not certificates, or a missing file, refuse to start.
    std::fs::write(
        &roots,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    assert!(sigstack_ctlog::open_service(&cfg).is_err());
    std::fs::remove_file(&roots).unwrap();
    let e = sigstack_ctlog::open_service(&cfg).err().unwrap();
    assert!(e.to_string().contains("roots_pem_file"), "{e}");
}

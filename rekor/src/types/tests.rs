//! Canonicalization vectors from real upstream log entries (sigstore-js test
//! bundles, produced by rekor.sigstore.dev), plus every rejection path.

use super::*;
use sigstack_core::keys::SigningKey;
use sigstack_core::pem;

const BUNDLES: &str = include_str!("../../tests/data/sigstore-js-bundles.json");

struct Upstream {
    name: String,
    bundle: Value,
    body: Vec<u8>,
    kind: String,
}

fn upstream() -> Vec<Upstream> {
    let all: Value = serde_json::from_str(BUNDLES).unwrap();
    all["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let e = &b["bundle"]["verificationMaterial"]["tlogEntries"][0];
            Upstream {
                name: b["name"].as_str().unwrap().to_string(),
                bundle: b["bundle"].clone(),
                body: STANDARD
                    .decode(e["canonicalizedBody"].as_str().unwrap())
                    .unwrap(),
                kind: e["kindVersion"]["kind"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

/// Verification material of a bundle as Go-style PEM.
fn bundle_key_pem(bundle: &Value, all: &Value) -> String {
    let vm = &bundle["verificationMaterial"];
    if let Some(certs) = vm["x509CertificateChain"]["certificates"].as_array() {
        let der = STANDARD
            .decode(certs[0]["rawBytes"].as_str().unwrap())
            .unwrap();
        return pem::encode("CERTIFICATE", &der);
    }
    if let Some(raw) = vm["certificate"]["rawBytes"].as_str() {
        return pem::encode("CERTIFICATE", &STANDARD.decode(raw).unwrap());
    }
    let hint = vm["publicKey"]["hint"].as_str().unwrap();
    all["publicKeys"][hint].as_str().unwrap().to_string()
}

#[test]
fn hashedrekord_bodies_recanonicalize_byte_for_byte() {
    let mut n = 0;
    for u in upstream().into_iter().filter(|u| u.kind == "hashedrekord") {
        // An upstream canonical body is itself a valid proposed entry.
        let proposed: Value = serde_json::from_slice(&u.body).unwrap();
        let c = canonicalize(&proposed, Purpose::Insert).unwrap();
        assert_eq!(
            String::from_utf8(c.body).unwrap(),
            String::from_utf8(u.body).unwrap(),
            "{}",
            u.name
        );
        assert!(c.index_keys.iter().any(|k| k.starts_with("sha256:")));
        n += 1;
    }
    assert!(n >= 3);
}

#[test]
fn intoto_v002_bodies_match_upstream() {
    let mut n = 0;
    for u in upstream().into_iter().filter(|u| u.kind == "intoto") {
        let env = &u.bundle["dsseEnvelope"];
        let body: Value = serde_json::from_slice(&u.body).unwrap();
        // intoto stores the client's key PEM as sent (one fixture's bundle
        // carries a key hint instead of the certificate that was logged).
        let key_pem = String::from_utf8(
            STANDARD
                .decode(
                    body["spec"]["content"]["envelope"]["signatures"][0]["publicKey"]
                        .as_str()
                        .unwrap(),
                )
                .unwrap(),
        )
        .unwrap();
        // Rebuild the request sigstore-js sends (double base64), taking the
        // client-computed envelope hash from the stored body.
        let sigs: Vec<Value> = env["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let mut m = Map::new();
                if let Some(k) = s["keyid"].as_str().filter(|k| !k.is_empty()) {
                    m.insert("keyid".into(), json!(k));
                }
                m.insert(
                    "sig".into(),
                    json!(STANDARD.encode(s["sig"].as_str().unwrap())),
                );
                m.insert("publicKey".into(), json!(STANDARD.encode(&key_pem)));
                Value::Object(m)
            })
            .collect();
        let proposed = json!({"kind": "intoto", "apiVersion": "0.0.2", "spec": {"content": {
            "envelope": {
                "payloadType": env["payloadType"],
                "payload": STANDARD.encode(env["payload"].as_str().unwrap()),
                "signatures": sigs,
            },
            "hash": body["spec"]["content"]["hash"],
        }}});
        let c = canonicalize(&proposed, Purpose::Insert).unwrap();
        assert_eq!(
            String::from_utf8(c.body).unwrap(),
            String::from_utf8(u.body.clone()).unwrap(),
            "{}",
            u.name
        );
        n += 1;
    }
    assert!(n >= 2);
}

#[test]
fn dsse_v001_body_matches_upstream() {
    let all: Value = serde_json::from_str(BUNDLES).unwrap();
    let u = upstream().into_iter().find(|u| u.kind == "dsse").unwrap();
    let env = &u.bundle["dsseEnvelope"];
    let stored: Value = serde_json::from_slice(&u.body).unwrap();
    let key_pem = bundle_key_pem(&u.bundle, &all);
    let envelope = serde_json::to_string(env).unwrap();
    let proposed = json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {
        "envelope": envelope,
        "verifiers": [STANDARD.encode(&key_pem)],
    }}});
    let c = canonicalize(&proposed, Purpose::Insert).unwrap();
    let ours: Value = serde_json::from_slice(&c.body).unwrap();
    // The envelope hash covers the exact bytes the client sent, which a
    // bundle does not keep; everything else must match.
    assert_eq!(ours["spec"]["payloadHash"], stored["spec"]["payloadHash"]);
    assert_eq!(ours["spec"]["signatures"], stored["spec"]["signatures"]);
    assert_eq!(
        ours["spec"]["envelopeHash"]["value"].as_str().unwrap(),
        hex::encode(Sha256::digest(envelope.as_bytes()))
    );
    // A lookup by the canonical fields rebuilds the stored body exactly.
    let lookup = json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": stored["spec"]});
    let c = canonicalize(&lookup, Purpose::Lookup).unwrap();
    assert_eq!(c.body, u.body);
    assert!(canonicalize(&lookup, Purpose::Insert).is_err());
}

fn signed_hashedrekord(key: &SigningKey, artifact: &[u8]) -> Value {
    let digest: [u8; 32] = Sha256::digest(artifact).into();
    let sig = key.sign_prehash_sha256(&digest).unwrap();
    json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
        "signature": {"content": STANDARD.encode(sig),
                      "publicKey": {"content": STANDARD.encode(key.public_key().to_pem())}},
        "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}}}})
}

#[test]
fn hashedrekord_accepts_fresh_and_rejects_each_bad_field() {
    let key = SigningKey::generate_p256();
    let good = signed_hashedrekord(&key, b"artifact");
    let c = canonicalize(&good, Purpose::Insert).unwrap();
    assert_eq!(c.kind, "hashedrekord");

    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        canonicalize(&v, Purpose::Insert)
    };
    // Wrong signature (over another artifact).
    let other = signed_hashedrekord(&key, b"other");
    assert!(matches!(
        mutate(&|v| v["spec"]["signature"]["content"] = other["spec"]["signature"]["content"].clone()),
        Err(EntryError::Invalid(m)) if m.contains("verifying signature")
    ));
    assert!(mutate(&|v| v["spec"]["signature"]["content"] = json!("!!notbase64")).is_err());
    assert!(mutate(&|v| v["spec"]["signature"]["content"] = json!("")).is_err());
    assert!(mutate(
        &|v| v["spec"]["signature"]["publicKey"]["content"] = json!(STANDARD.encode("garbage"))
    )
    .is_err());
    assert!(mutate(&|v| v["spec"]["data"]["hash"]["value"] = json!("abcd")).is_err());
    assert!(mutate(&|v| v["spec"]["data"]["hash"]["value"] = json!("z".repeat(64))).is_err());
    assert!(mutate(&|v| v["spec"]["data"]["hash"]["algorithm"] = json!("md5")).is_err());
    assert!(mutate(&|v| v["spec"]["data"] = Value::Null).is_err());
    assert!(mutate(&|v| v["spec"] = json!([])).is_err());
    assert!(matches!(
        mutate(&|v| v["apiVersion"] = json!("0.0.9")),
        Err(EntryError::Unsupported(_))
    ));
    assert!(matches!(
        mutate(&|v| v["kind"] = json!("rpm")),
        Err(EntryError::Unsupported(_))
    ));
    // P-256 with a SHA-512 digest verifies but is outside the allow-list.
    let digest = sha2::Sha512::digest(b"artifact");
    let sig = {
        use signature::hazmat::PrehashSigner;
        let SigningKey::P256(k) = &key else {
            unreachable!()
        };
        let s: p256::ecdsa::Signature = k.inner().sign_prehash(&digest).unwrap();
        s.to_der().as_bytes().to_vec()
    };
    let v = json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
        "signature": {"content": STANDARD.encode(sig),
                      "publicKey": {"content": STANDARD.encode(key.public_key().to_pem())}},
        "data": {"hash": {"algorithm": "sha512", "value": hex::encode(digest)}}}});
    assert!(matches!(
        canonicalize(&v, Purpose::Insert),
        Err(EntryError::AlgorithmNotAllowed)
    ));
}

#[test]
fn dsse_rejects_bad_envelopes() {
    let key = SigningKey::generate_p256();
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"abcd"}}]}"#;
    let sig = key.sign(&pae(INTOTO_PAYLOAD_TYPE, payload));
    let envelope = json!({"payload": STANDARD.encode(payload), "payloadType": INTOTO_PAYLOAD_TYPE,
        "signatures": [{"keyid": "", "sig": STANDARD.encode(&sig)}]});
    let make = |env: &Value, verifier: &str| {
        json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {
            "envelope": env.to_string(), "verifiers": [STANDARD.encode(verifier)]}}})
    };
    let pem = key.public_key().to_pem();
    let ok = canonicalize(&make(&envelope, &pem), Purpose::Insert).unwrap();
    assert!(ok.index_keys.contains(&"sha256:abcd".to_string()));

    let other = SigningKey::generate_p256().public_key().to_pem();
    assert!(canonicalize(&make(&envelope, &other), Purpose::Insert).is_err());
    let mut tampered = envelope.clone();
    tampered["payload"] = json!(STANDARD.encode(b"{}"));
    assert!(canonicalize(&make(&tampered, &pem), Purpose::Insert).is_err());
    let mut nosigs = envelope.clone();
    nosigs["signatures"] = json!([]);
    assert!(canonicalize(&make(&nosigs, &pem), Purpose::Insert).is_err());
    let bad_json = json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {
        "envelope": "{not json", "verifiers": [STANDARD.encode(&pem)]}}});
    assert!(canonicalize(&bad_json, Purpose::Insert).is_err());
    let no_verifiers = json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {
        "envelope": envelope.to_string(), "verifiers": []}}});
    assert!(canonicalize(&no_verifiers, Purpose::Insert).is_err());
}

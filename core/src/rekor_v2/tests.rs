//! Vectors: sigstore-python's staging bundles logged in a rekor-tiles log
//! (a message signature, and a DSSE envelope logged as a hashedrekord over
//! SHA-256 of its PAE). Rebuilding each entry from the bundle alone must give
//! the logged body byte for byte, as sigstore-go's check demands.

use super::*;
use crate::keys::SigningKey;
use crate::trust::{Bundle, BundleContent, VerificationMaterialContent};

fn upstream(name: &str) -> Bundle {
    let path = format!(
        "{}/tests/data/upstream/sigstore-python/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn leaf(b: &Bundle) -> Vec<u8> {
    match &b.verification_material.content {
        VerificationMaterialContent::Certificate(c) => c.raw_bytes.clone(),
        _ => panic!("certificate bundle"),
    }
}

fn rebuilt(b: &Bundle) -> Vec<u8> {
    let cert = leaf(b);
    let key = Verifier::Certificate(cert.clone()).public_key().unwrap();
    let (digest, sig) = match &b.content {
        BundleContent::MessageSignature(m) => (
            m.message_digest.as_ref().unwrap().digest.clone(),
            m.signature.clone(),
        ),
        BundleContent::DsseEnvelope(e) => (
            HashAlgorithm::Sha256.digest(&crate::verify::pae(&e.payload_type, &e.payload)),
            e.signatures[0].sig.clone(),
        ),
    };
    hashedrekord_body(&HashedRekordRequest {
        digest,
        signature: Signature {
            content: sig,
            verifier: Verifier::Certificate(cert),
            key_details: default_details(&key).unwrap(),
        },
    })
    .unwrap()
}

#[test]
fn staging_bodies_are_rebuilt_byte_for_byte() {
    for name in [
        "staging-rekor-v2.txt.sigstore.json",
        "a.dsse.staging-rekor-v2.txt.sigstore.json",
    ] {
        let b = upstream(name);
        let logged = &b.verification_material.tlog_entries[0].canonicalized_body;
        assert_eq!(
            String::from_utf8_lossy(&rebuilt(&b)),
            String::from_utf8_lossy(logged),
            "{name}"
        );
    }
}

fn request_json(key: &SigningKey, digest: &[u8], sig: &[u8], details: &str) -> Value {
    json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(digest),
        "signature": {"content": STANDARD.encode(sig), "verifier": {
            "publicKey": {"rawBytes": STANDARD.encode(key.public_key().to_spki_der())},
            "keyDetails": details}}}})
}

#[test]
fn requests_parse_in_both_spellings_and_validate() {
    let key = SigningKey::generate_p256();
    let digest = HashAlgorithm::Sha256.digest(b"artifact");
    let sig = key
        .sign_prehash_sha256(&digest.clone().try_into().unwrap())
        .unwrap();
    let camel = request_json(&key, &digest, &sig, "PKIX_ECDSA_P256_SHA_256");
    let CreateRequest::HashedRekord(r) =
        parse_create_request(camel.to_string().as_bytes()).unwrap()
    else {
        panic!("hashedrekord")
    };
    assert_eq!(r.digest, digest);
    let body = hashedrekord_body(&r).unwrap();
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with(r#"{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"SHA2_256","digest":""#), "{text}");
    assert!(
        text.contains(
            r#""verifier":{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{"rawBytes":""#
        ),
        "{text}"
    );

    // proto names, URL-safe unpadded base64, the enum by number.
    let snake = json!({"hashed_rekord_request_v002": {
        "digest": URL_SAFE_NO_PAD.encode(&digest),
        "signature": {"content": URL_SAFE_NO_PAD.encode(&sig), "verifier": {
            "public_key": {"raw_bytes": STANDARD.encode(key.public_key().to_spki_der())},
            "key_details": 5}}}});
    let CreateRequest::HashedRekord(r2) =
        parse_create_request(snake.to_string().as_bytes()).unwrap()
    else {
        panic!("hashedrekord")
    };
    assert_eq!(r2, r);
}

#[test]
fn bad_requests_are_refused() {
    let key = SigningKey::generate_p256();
    let digest = HashAlgorithm::Sha256.digest(b"artifact");
    let sig = key
        .sign_prehash_sha256(&digest.clone().try_into().unwrap())
        .unwrap();
    let err = |v: Value| parse_create_request(v.to_string().as_bytes()).unwrap_err();
    // Unknown fields, anywhere.
    let mut v = request_json(&key, &digest, &sig, "PKIX_ECDSA_P256_SHA_256");
    v["extra"] = json!(1);
    assert!(matches!(err(v), EntryError::Malformed(m) if m.contains("unknown field")));
    let mut v = request_json(&key, &digest, &sig, "PKIX_ECDSA_P256_SHA_256");
    v["hashedRekordRequestV002"]["signature"]["verifier"]["x"] = json!(1);
    assert!(matches!(err(v), EntryError::Malformed(_)));
    // Wrong signature, wrong digest, digest length, key details.
    let other = HashAlgorithm::Sha256.digest(b"other");
    assert!(matches!(
        err(request_json(&key, &other, &sig, "PKIX_ECDSA_P256_SHA_256")),
        EntryError::HashedRekord(m) if m.contains("does not verify")
    ));
    assert!(matches!(
        err(request_json(&key, &digest[..20], &sig, "PKIX_ECDSA_P256_SHA_256")),
        EntryError::HashedRekord(m) if m.contains("digest is 20 bytes")
    ));
    assert!(matches!(
        err(request_json(&key, &digest, &sig, "PKIX_ECDSA_P384_SHA_384")),
        EntryError::HashedRekord(m) if m.contains("do not fit")
    ));
    assert!(matches!(
        err(request_json(&key, &digest, &sig, "NOT_A_THING")),
        EntryError::Malformed(m) if m.contains("unknown keyDetails")
    ));
    // Both verifiers, none, empty signature, no request, two requests, DSSE.
    let mut v = request_json(&key, &digest, &sig, "PKIX_ECDSA_P256_SHA_256");
    v["hashedRekordRequestV002"]["signature"]["verifier"]["x509Certificate"] =
        json!({"rawBytes": "AA=="});
    assert!(matches!(err(v), EntryError::Malformed(m) if m.contains("exactly one")));
    let mut v = request_json(&key, &digest, &sig, "PKIX_ECDSA_P256_SHA_256");
    v["hashedRekordRequestV002"]["signature"]["content"] = json!("");
    assert!(matches!(err(v), EntryError::HashedRekord(m) if m.contains("missing signature")));
    assert!(matches!(err(json!({})), EntryError::Malformed(_)));
    assert!(parse_create_request(b"not json").is_err());
    assert!(matches!(
        err(json!({"dsseRequestV002": {}})),
        EntryError::Dsse(_)
    ));
    // Pure Ed25519 cannot sign a digest.
    let ed = SigningKey::generate_ed25519();
    let sig = ed.sign(&digest);
    assert!(matches!(
        err(request_json(&ed, &digest, &sig, "PKIX_ED25519")),
        EntryError::HashedRekord(m) if m.contains("PKIX_ED25519_PH")
    ));
}

#[test]
fn dsse_requests_parse_verify_and_encode() {
    let key = SigningKey::generate_p256();
    let other = SigningKey::generate_p256();
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    let pae = crate::verify::pae("application/vnd.in-toto+json", payload);
    let sig = key.sign(&pae);
    let verifier = |k: &SigningKey| {
        json!({
        "publicKey": {"rawBytes": STANDARD.encode(k.public_key().to_spki_der())},
        "keyDetails": "PKIX_ECDSA_P256_SHA_256"})
    };
    let req = |sigs: Vec<Vec<u8>>, verifiers: Vec<Value>| {
        json!({"dsseRequestV002": {
        "envelope": {"payload": STANDARD.encode(payload), "payloadType": "application/vnd.in-toto+json",
            "signatures": sigs.iter().map(|s| json!({"sig": STANDARD.encode(s), "keyid": ""})).collect::<Vec<_>>()},
        "verifiers": verifiers}})
    };
    // The second verifier is the one that verifies.
    let CreateRequest::Dsse(d) = parse_create_request(
        req(vec![sig.clone()], vec![verifier(&other), verifier(&key)])
            .to_string()
            .as_bytes(),
    )
    .unwrap() else {
        panic!("dsse")
    };
    assert_eq!(d.signatures.len(), 1);
    assert_eq!(
        d.signatures[0].verifier,
        Verifier::PublicKey(key.public_key().to_spki_der())
    );
    let body = String::from_utf8(dsse_body(&d).unwrap()).unwrap();
    let want_hash = STANDARD.encode(HashAlgorithm::Sha256.digest(payload));
    assert!(body.starts_with(&format!(
        r#"{{"apiVersion":"0.0.2","kind":"dsse","spec":{{"dsseV002":{{"payloadHash":{{"algorithm":"SHA2_256","digest":"{want_hash}"}},"signatures":[{{"content":""#
    )), "{body}");
    // Two signers: sorted by raw signature bytes.
    let sig2 = other.sign(&pae);
    let CreateRequest::Dsse(two) = parse_create_request(
        req(
            vec![sig.clone(), sig2.clone()],
            vec![verifier(&key), verifier(&other)],
        )
        .to_string()
        .as_bytes(),
    )
    .unwrap() else {
        panic!("dsse")
    };
    let mut want = vec![sig.clone(), sig2.clone()];
    want.sort();
    assert_eq!(
        two.signatures
            .iter()
            .map(|s| s.content.clone())
            .collect::<Vec<_>>(),
        want
    );
    // Refusals: a signature no verifier verifies, duplicates, none.
    let err = |v: Value| parse_create_request(v.to_string().as_bytes()).unwrap_err();
    assert!(
        matches!(err(req(vec![sig2.clone()], vec![verifier(&key)])), EntryError::Dsse(m) if m.contains("verifies"))
    );
    assert!(
        matches!(err(req(vec![sig.clone()], vec![verifier(&key), verifier(&key)])), EntryError::Dsse(m) if m.contains("duplicate"))
    );
    assert!(
        matches!(err(req(vec![], vec![verifier(&key)])), EntryError::Dsse(m) if m.contains("missing signatures"))
    );
    assert!(
        matches!(err(req(vec![sig.clone()], vec![])), EntryError::Dsse(m) if m.contains("missing verifiers"))
    );
}

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use time::macros::datetime;

use super::*;
use crate::keys::SigningKey;
use crate::trust::{
    Checkpoint, InclusionPromise, InclusionProof, KindVersion, LogId, MessageSignature,
    PublicKeyDetails, PublicKeyIdentifier, TimeRange, VerificationMaterial, BUNDLE_MEDIA_TYPE_V0_3,
};

fn upstream(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/upstream/sigstore-python/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn bundle(name: &str) -> Bundle {
    serde_json::from_slice(&upstream(name)).unwrap()
}

fn root(name: &str) -> TrustedRoot {
    TrustedRoot::from_json(&upstream(name)).unwrap()
}

fn opts() -> Options {
    Options {
        ignore_tlog: false,
        ignore_sct: false,
        require_timestamp: false,
        now: datetime!(2026-11-22 0:00 UTC),
    }
}

fn who(subject: Matcher, issuer: Matcher) -> SignerPolicy {
    SignerPolicy::Identity(IdentityPolicy {
        subject,
        issuer,
        extensions: vec![],
    })
}

fn exact(s: &str) -> Matcher {
    Matcher::Exact(s.into())
}

fn william() -> SignerPolicy {
    who(
        exact("william@yossarian.net"),
        exact("https://github.com/login/oauth"),
    )
}

/// The staging bundle sigstore-python ships (v0.3, Rekor v1 entry with SET
/// and inclusion proof, Fulcio certificate with an SCT) and its artifact.
fn staging() -> (Bundle, TrustedRoot, Vec<u8>) {
    (
        bundle("bundle_v3.txt.sigstore"),
        root("trusted_root.sigstage.json"),
        upstream("bundle_v3.txt"),
    )
}

fn check(
    b: &Bundle,
    r: &TrustedRoot,
    artifact: &[u8],
    p: &SignerPolicy,
) -> Result<Verified, VerifyError> {
    verify_bundle(b, r, Artifact::Bytes(artifact), p, &opts())
}

#[test]
fn upstream_staging_bundle_verifies() {
    let (b, r, artifact) = staging();
    let v = check(&b, &r, &artifact, &william()).unwrap();
    assert_eq!(v.subject.as_deref(), Some("william@yossarian.net"));
    assert_eq!(v.issuer.as_deref(), Some("https://github.com/login/oauth"));
    assert_eq!(
        v.observer_times,
        vec![OffsetDateTime::from_unix_timestamp(1712085549).unwrap()]
    );
    // By digest alone, as `verify-blob sha256:<hex>` does.
    let digest = Sha256::digest(&artifact);
    verify_bundle(
        &b,
        &r,
        Artifact::Digest(HashAlgorithm::Sha256, &digest),
        &william(),
        &opts(),
    )
    .unwrap();
}

#[test]
fn upstream_production_bundle_verifies_by_digest() {
    // The artifact (a wheel) is not shipped; its digest is in the bundle and
    // is what a `sha256:` reference would give.
    let b = bundle("bundle_v3_github.whl.sigstore");
    let r = root("trusted_root.sigstore.json");
    let BundleContent::MessageSignature(m) = &b.content else {
        panic!()
    };
    let digest = m.message_digest.clone().unwrap().digest;
    let policy = SignerPolicy::Identity(IdentityPolicy {
        subject: Matcher::regex("^https://github.com/trailofbits/rfc8785.py/").unwrap(),
        issuer: exact("https://token.actions.githubusercontent.com"),
        extensions: vec![(
            der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.5"),
            "trailofbits/rfc8785.py".into(),
        )],
    });
    let v = verify_bundle(
        &b,
        &r,
        Artifact::Digest(HashAlgorithm::Sha256, &digest),
        &policy,
        &opts(),
    )
    .unwrap();
    assert!(v.subject.unwrap().ends_with("release.yml@refs/tags/v0.1.2"));
    // The wrong repository in a GitHub workflow extension fails.
    let SignerPolicy::Identity(mut p) = policy else {
        panic!()
    };
    p.extensions[0].1 = "trailofbits/other".into();
    let err = verify_bundle(
        &b,
        &r,
        Artifact::Digest(HashAlgorithm::Sha256, &digest),
        &SignerPolicy::Identity(p),
        &opts(),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Identity(_)), "{err}");
}

#[test]
fn identity_policy() {
    let (b, r, artifact) = staging();
    let issuer = || exact("https://github.com/login/oauth");
    // Regular expressions are unanchored, as Go's MatchString.
    check(
        &b,
        &r,
        &artifact,
        &who(Matcher::regex("yossarian").unwrap(), issuer()),
    )
    .unwrap();
    for subject in [
        Matcher::regex("^yossarian").unwrap(),
        exact("william@yossarian.ne"),
        exact("mallory@yossarian.net"),
    ] {
        let err = check(&b, &r, &artifact, &who(subject, issuer())).unwrap_err();
        assert!(matches!(err, VerifyError::Identity(_)), "{err}");
    }
    let err = check(
        &b,
        &r,
        &artifact,
        &who(
            exact("william@yossarian.net"),
            exact("https://accounts.google.com"),
        ),
    )
    .unwrap_err();
    assert!(err.to_string().contains("issuer"), "{err}");
    assert!(Matcher::regex("(").is_err());
}

#[test]
fn wrong_artifact_fails() {
    let (b, r, mut artifact) = staging();
    artifact.push(b'!');
    let err = check(&b, &r, &artifact, &william()).unwrap_err();
    assert!(matches!(err, VerifyError::Artifact(_)), "{err}");
}

#[test]
fn trust_root_gaps_fail() {
    let (b, r, artifact) = staging();
    let mut no_ca = r.clone();
    no_ca.certificate_authorities.clear();
    assert!(matches!(
        check(&b, &no_ca, &artifact, &william()).unwrap_err(),
        VerifyError::Chain(_)
    ));
    // A CA from another root (production) is not the issuer.
    let mut other_ca = r.clone();
    other_ca.certificate_authorities = root("trusted_root.sigstore.json").certificate_authorities;
    assert!(matches!(
        check(&b, &other_ca, &artifact, &william()).unwrap_err(),
        VerifyError::Chain(_)
    ));
    let mut no_ct = r.clone();
    no_ct.ctlogs.clear();
    assert!(matches!(
        check(&b, &no_ct, &artifact, &william()).unwrap_err(),
        VerifyError::Sct(_)
    ));
    // ... unless the SCT check is skipped (a private Fulcio without CT).
    verify_bundle(
        &b,
        &no_ct,
        Artifact::Bytes(&artifact),
        &william(),
        &Options {
            ignore_sct: true,
            ..opts()
        },
    )
    .unwrap();
    let mut no_log = r.clone();
    no_log.tlogs.clear();
    let err = check(&b, &no_log, &artifact, &william()).unwrap_err();
    assert!(err.to_string().contains("not a transparency log"), "{err}");
}

#[test]
fn without_log_entries_the_certificate_is_checked_now() {
    let (mut b, r, artifact) = staging();
    b.verification_material.tlog_entries.clear();
    assert!(matches!(
        check(&b, &r, &artifact, &william()).unwrap_err(),
        VerifyError::NoTlogEntry
    ));
    // Skipping the log leaves no signing time: the 10-minute certificate of
    // 2024 has expired by now.
    let err = verify_bundle(
        &b,
        &r,
        Artifact::Bytes(&artifact),
        &william(),
        &Options {
            ignore_tlog: true,
            ..opts()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("not valid at"), "{err}");
    verify_bundle(
        &b,
        &r,
        Artifact::Bytes(&artifact),
        &william(),
        &Options {
            ignore_tlog: true,
            now: datetime!(2024-04-02 19:20 UTC),
            ..opts()
        },
    )
    .unwrap();
}

/// Each field of the bundle, tampered with, makes verification fail.
#[test]
fn tampered_fields_fail() {
    let (good, r, artifact) = staging();
    type Tamper = fn(&mut Bundle);
    let cases: Vec<(&str, Tamper)> = vec![
        ("signature", |b| {
            let BundleContent::MessageSignature(m) = &mut b.content else {
                panic!()
            };
            m.signature[10] ^= 1;
        }),
        ("message digest", |b| {
            let BundleContent::MessageSignature(m) = &mut b.content else {
                panic!()
            };
            m.message_digest.as_mut().unwrap().digest[0] ^= 1;
        }),
        ("certificate", |b| {
            let other = bundle("bundle.txt.sigstore");
            let VerificationMaterialContent::X509CertificateChain(c) =
                other.verification_material.content
            else {
                panic!()
            };
            b.verification_material.content =
                VerificationMaterialContent::Certificate(c.certificates[0].clone());
        }),
        ("body", |b| {
            let e = &mut b.verification_material.tlog_entries[0];
            let n = e.canonicalized_body.len();
            e.canonicalized_body[n - 3] ^= 1;
        }),
        ("SET", |b| {
            let e = &mut b.verification_material.tlog_entries[0];
            e.inclusion_promise.as_mut().unwrap().signed_entry_timestamp[12] ^= 1;
        }),
        ("integrated time", |b| {
            b.verification_material.tlog_entries[0].integrated_time += 1;
        }),
        ("log index", |b| {
            b.verification_material.tlog_entries[0].log_index += 1;
        }),
        ("log ID", |b| {
            b.verification_material.tlog_entries[0].log_id.key_id[0] ^= 1;
        }),
        ("kind", |b| {
            b.verification_material.tlog_entries[0].kind_version.kind = "dsse".into();
        }),
        ("proof hash", |b| {
            let e = &mut b.verification_material.tlog_entries[0];
            e.inclusion_promise = None;
            e.inclusion_proof.as_mut().unwrap().hashes[0][0] ^= 1;
        }),
        ("proof index", |b| {
            let e = &mut b.verification_material.tlog_entries[0];
            e.inclusion_promise = None;
            e.inclusion_proof.as_mut().unwrap().log_index += 1;
        }),
        ("checkpoint signature", |b| {
            let e = &mut b.verification_material.tlog_entries[0];
            e.inclusion_promise = None;
            let cp = e
                .inclusion_proof
                .as_mut()
                .unwrap()
                .checkpoint
                .as_mut()
                .unwrap();
            let note = SignedNote::parse(&cp.envelope).unwrap();
            let mut sig = note.signatures[0].clone();
            sig.signature[8] ^= 1;
            cp.envelope = SignedNote {
                body: note.body,
                signatures: vec![sig],
            }
            .to_text();
        }),
        ("checkpoint without the log's signature", |b| {
            let e = &mut b.verification_material.tlog_entries[0];
            let cp = e
                .inclusion_proof
                .as_mut()
                .unwrap()
                .checkpoint
                .as_mut()
                .unwrap();
            let mut note = SignedNote::parse(&cp.envelope).unwrap();
            note.signatures[0].key_hint[0] ^= 1;
            cp.envelope = note.to_text();
        }),
    ];
    for (what, tamper) in cases {
        let mut b = good.clone();
        tamper(&mut b);
        let err = check(&b, &r, &artifact, &william());
        assert!(err.is_err(), "tampered {what} still verifies");
    }
    check(&good, &r, &artifact, &william()).unwrap();
}

#[test]
fn policy_must_fit_the_bundle() {
    let (b, r, artifact) = staging();
    let err = check(
        &b,
        &r,
        &artifact,
        &SignerPolicy::Key(SigningKey::generate_p256().public_key()),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Policy(_)), "{err}");
}

/// A key-signed bundle built here the way our log and client build one:
/// a one-leaf log whose checkpoint and SET are signed by a fresh log key
/// (`root` trusts it).
struct KeyCase {
    signer: SigningKey,
    artifact: Vec<u8>,
    bundle: Bundle,
    root: TrustedRoot,
}

fn log_entry(log_key: &SigningKey, body: Vec<u8>, kind: &str) -> TransparencyLogEntry {
    let spki = log_key.public_key().to_spki_der();
    let log_id = crate::keys::sha256_key_id(&spki).to_vec();
    let integrated_time = 1_790_000_000;
    let set = log_key.sign(
        &jcs::canonicalize(&json!({
            "body": STANDARD.encode(&body),
            "integratedTime": integrated_time,
            "logID": hex::encode(&log_id),
            "logIndex": 0,
        }))
        .unwrap(),
    );
    let leaf = merkle::hash_leaf(&body);
    let cp = crate::note::Checkpoint {
        origin: "rekor.local - 1".into(),
        size: 1,
        root_hash: leaf,
        extensions: vec![],
    };
    let note = SignedNote::sign(
        cp.to_body(),
        "rekor.local",
        note::rekor_v1_key_hint(&spki),
        |m| log_key.sign(m),
    );
    TransparencyLogEntry {
        log_index: 0,
        log_id: LogId { key_id: log_id },
        kind_version: KindVersion {
            kind: kind.into(),
            version: "0.0.1".into(),
        },
        integrated_time,
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: set,
        }),
        inclusion_proof: Some(InclusionProof {
            log_index: 0,
            root_hash: leaf.to_vec(),
            tree_size: 1,
            hashes: vec![],
            checkpoint: Some(Checkpoint {
                envelope: note.to_text(),
            }),
        }),
        canonicalized_body: body,
    }
}

fn root_with_log(log_key: &SigningKey) -> TrustedRoot {
    let spki = log_key.public_key().to_spki_der();
    TrustedRoot {
        media_type: crate::trust::TRUSTED_ROOT_MEDIA_TYPE_V0_1.into(),
        tlogs: vec![TransparencyLogInstance {
            base_url: "http://rekor.local".into(),
            hash_algorithm: crate::trust::HashAlgorithm::Sha2_256,
            public_key: crate::trust::PublicKey {
                raw_bytes: Some(spki.clone()),
                key_details: PublicKeyDetails::PKIX_ECDSA_P256_SHA_256,
                valid_for: Some(TimeRange {
                    start: datetime!(2026-01-01 0:00 UTC),
                    end: None,
                }),
            },
            log_id: LogId {
                key_id: crate::keys::sha256_key_id(&spki).to_vec(),
            },
            checkpoint_key_id: None,
            operator: String::new(),
        }],
        ..Default::default()
    }
}

fn key_case() -> KeyCase {
    let signer = SigningKey::generate_p256();
    let log_key = SigningKey::generate_p256();
    let artifact = b"hello, log".to_vec();
    let digest = Sha256::digest(&artifact).to_vec();
    let sig = signer.sign(&artifact);
    let body = jcs::canonicalize(&json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(&digest)}},
            "signature": {"content": STANDARD.encode(&sig),
                "publicKey": {"content": STANDARD.encode(signer.public_key().to_pem())}}
        }
    }))
    .unwrap();
    let bundle = Bundle {
        media_type: BUNDLE_MEDIA_TYPE_V0_3.into(),
        verification_material: VerificationMaterial {
            content: VerificationMaterialContent::PublicKey(PublicKeyIdentifier {
                hint: STANDARD.encode(crate::keys::sha256_key_id(
                    &signer.public_key().to_spki_der(),
                )),
            }),
            tlog_entries: vec![log_entry(&log_key, body, "hashedrekord")],
            timestamp_verification_data: None,
        },
        content: BundleContent::MessageSignature(MessageSignature {
            message_digest: Some(crate::trust::HashOutput {
                algorithm: crate::trust::HashAlgorithm::Sha2_256,
                digest,
            }),
            signature: sig,
        }),
    };
    let root = root_with_log(&log_key);
    KeyCase {
        signer,
        artifact,
        bundle,
        root,
    }
}

#[test]
fn key_bundle_verifies_and_binds_the_key() {
    let c = key_case();
    let key = SignerPolicy::Key(c.signer.public_key());
    let v = check(&c.bundle, &c.root, &c.artifact, &key).unwrap();
    assert_eq!(v.log_indices, vec![0]);
    // A message signature is about an artifact; none given is an error.
    let err = verify_bundle(&c.bundle, &c.root, Artifact::Unchecked, &key, &opts()).unwrap_err();
    assert!(matches!(err, VerifyError::Artifact(_)), "{err}");
    assert!(v.subject.is_none());
    // Another key: the logged key differs, and so does the signature.
    let other = SignerPolicy::Key(SigningKey::generate_p256().public_key());
    assert!(check(&c.bundle, &c.root, &c.artifact, &other).is_err());
    // A key bundle cannot satisfy an identity policy.
    assert!(matches!(
        check(&c.bundle, &c.root, &c.artifact, &william()).unwrap_err(),
        VerifyError::Policy(_)
    ));
    // A root whose log key is another key: the entry's log is unknown.
    let stranger = root_with_log(&SigningKey::generate_p256());
    assert!(check(&c.bundle, &stranger, &c.artifact, &key).is_err());
    // The log key was not yet valid at the integrated time.
    let mut late = c.root.clone();
    late.tlogs[0].public_key.valid_for.as_mut().unwrap().start = datetime!(2027-01-01 0:00 UTC);
    assert!(check(&c.bundle, &late, &c.artifact, &key).is_err());
}

#[test]
fn dsse_bundle_checks_the_statement_subject() {
    let signer = SigningKey::generate_p256();
    let log_key = SigningKey::generate_p256();
    let artifact = b"built thing";
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "thing", "digest": {"sha256": hex::encode(Sha256::digest(artifact))}}],
        "predicateType": "https://example.com/p", "predicate": {}
    });
    let payload = serde_json::to_vec(&statement).unwrap();
    let ptype = "application/vnd.in-toto+json";
    let sig = signer.sign(&pae(ptype, &payload));
    let verifier = STANDARD.encode(signer.public_key().to_pem());
    let body = jcs::canonicalize(&json!({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": "00"},
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))},
            "signatures": [{"signature": STANDARD.encode(&sig), "verifier": verifier}]
        }
    }))
    .unwrap();
    let b = Bundle {
        media_type: BUNDLE_MEDIA_TYPE_V0_3.into(),
        verification_material: VerificationMaterial {
            content: VerificationMaterialContent::PublicKey(PublicKeyIdentifier::default()),
            tlog_entries: vec![log_entry(&log_key, body, "dsse")],
            timestamp_verification_data: None,
        },
        content: BundleContent::DsseEnvelope(crate::trust::Envelope {
            payload,
            payload_type: ptype.into(),
            signatures: vec![crate::trust::EnvelopeSignature {
                sig,
                keyid: String::new(),
            }],
        }),
    };
    let r = root_with_log(&log_key);
    let key = SignerPolicy::Key(signer.public_key());
    check(&b, &r, artifact, &key).unwrap();
    let err = check(&b, &r, b"another thing", &key).unwrap_err();
    assert!(matches!(err, VerifyError::Artifact(_)), "{err}");
    // --check-claims=false: the signature still counts, the subject not.
    verify_bundle(&b, &r, Artifact::Unchecked, &key, &opts()).unwrap();
    let mut bad = b.clone();
    let BundleContent::DsseEnvelope(env) = &mut bad.content else {
        panic!()
    };
    env.payload_type = "text/plain".into();
    let err = check(&bad, &r, artifact, &key).unwrap_err();
    assert!(matches!(err, VerifyError::Signature(_)), "{err}");
}

/// sigstore-python's staging bundles with RFC 3161 timestamps from
/// timestamp.sigstage.dev (P-384 TSA, leaf + root chain in the staging root).
/// Their log entries are Rekor v2, checked elsewhere; here the timestamp
/// alone dates the certificate (`ignore_tlog`).
#[test]
fn rfc3161_timestamps_from_the_staging_tsa_verify() {
    let r = root("trusted_root.sigstage.json");
    let strict = Options {
        ignore_tlog: true,
        require_timestamp: true,
        ..opts()
    };
    let any = who(
        Matcher::regex(".").unwrap(),
        exact("https://github.com/login/oauth"),
    );
    let b = bundle("staging-rekor-v2.txt.sigstore.json");
    let BundleContent::MessageSignature(m) = &b.content else {
        panic!("message signature bundle")
    };
    let digest = m.message_digest.as_ref().unwrap().digest.clone();
    let artifact = Artifact::Digest(HashAlgorithm::Sha256, &digest);
    let v = verify_bundle(&b, &r, artifact, &any, &strict).unwrap();
    assert_eq!(v.observer_times, vec![datetime!(2025-06-09 11:57:38 UTC)]);
    assert_eq!(v.subject.as_deref(), Some("jku@goto.fi"));
    // The DSSE bundle: the stamp covers the envelope's signature.
    let dsse = bundle("a.dsse.staging-rekor-v2.txt.sigstore.json");
    let conformance = who(
        Matcher::regex("sigstore-conformance").unwrap(),
        Matcher::regex(".").unwrap(),
    );
    let v = verify_bundle(&dsse, &r, Artifact::Unchecked, &conformance, &strict).unwrap();
    assert_eq!(v.observer_times, vec![datetime!(2026-05-13 19:23:33 UTC)]);

    // With the log entry: the Rekor v2 entry's proof, C2SP checkpoint and
    // rebuilt body verify too; it gives no time, the timestamp does.
    for (bundle_name, artifact, policy) in [
        ("staging-rekor-v2.txt.sigstore.json", artifact, &any),
        (
            "a.dsse.staging-rekor-v2.txt.sigstore.json",
            Artifact::Unchecked,
            &conformance,
        ),
    ] {
        let bv2 = bundle(bundle_name);
        let v = verify_bundle(&bv2, &r, artifact, policy, &opts()).unwrap();
        assert_eq!(v.observer_times.len(), 1, "{bundle_name}");
        assert_eq!(v.log_indices.len(), 1);
        // The body must be this bundle's: another signature is refused.
        let mut other = bv2.clone();
        match &mut other.content {
            BundleContent::MessageSignature(m) => m.signature[5] ^= 1,
            BundleContent::DsseEnvelope(e) => e.signatures[0].sig[5] ^= 1,
        }
        let err = verify_bundle(
            &other,
            &r,
            artifact,
            policy,
            &Options {
                ignore_sct: true,
                ..opts()
            },
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("the logged signature is not the bundle's"),
            "{err}"
        );
        // A tampered checkpoint signature.
        let mut cp = bv2.clone();
        let proof = cp.verification_material.tlog_entries[0]
            .inclusion_proof
            .as_mut()
            .unwrap();
        let env = &mut proof.checkpoint.as_mut().unwrap().envelope;
        *env = env.replace(
            &format!("\n{}\n", proof.tree_size),
            &format!("\n{}\n", proof.tree_size + 1),
        );
        let err = verify_bundle(&cp, &r, artifact, policy, &opts()).unwrap_err();
        assert!(matches!(err, VerifyError::Tlog { .. }), "{err}");
        // Without the timestamp, a v2-only bundle has no time: refused.
        let mut no_ts = bv2.clone();
        no_ts.verification_material.timestamp_verification_data = None;
        let err = verify_bundle(&no_ts, &r, artifact, policy, &opts()).unwrap_err();
        assert!(matches!(err, VerifyError::NoTimestamp), "{err}");
    }

    // A trusted root without the TSA.
    let mut no_tsa = r.clone();
    no_tsa.timestamp_authorities.clear();
    let err = verify_bundle(&b, &no_tsa, artifact, &any, &strict).unwrap_err();
    assert!(
        matches!(err, VerifyError::Timestamp { index: 0, .. }),
        "{err}"
    );
    // A TSA window that ended before the stamp.
    let mut closed = r.clone();
    for tsa in &mut closed.timestamp_authorities {
        tsa.valid_for.end = Some(datetime!(2025-06-01 0:00 UTC));
    }
    let err = verify_bundle(&b, &closed, artifact, &any, &strict).unwrap_err();
    assert!(err.to_string().contains("not valid at"), "{err}");
    // A timestamp over another signature.
    let mut other = b.clone();
    let BundleContent::MessageSignature(m) = &mut other.content else {
        panic!()
    };
    m.signature[0] ^= 1;
    let err = verify_bundle(&other, &r, artifact, &any, &strict).unwrap_err();
    assert!(err.to_string().contains("message imprint"), "{err}");
    // Flipped bytes of the timestamp: refused, or nothing signed changed
    // (then the bundle still verifies with the genuine time).
    let ts = b
        .verification_material
        .timestamp_verification_data
        .as_ref()
        .unwrap()
        .rfc3161_timestamps[0]
        .signed_timestamp
        .clone();
    let mut refused = 0;
    for i in 0..ts.len() {
        let mut bad = b.clone();
        bad.verification_material
            .timestamp_verification_data
            .as_mut()
            .unwrap()
            .rfc3161_timestamps[0]
            .signed_timestamp[i] ^= 0x20;
        match verify_bundle(&bad, &r, artifact, &any, &strict) {
            Err(_) => refused += 1,
            Ok(v) => assert_eq!(v.observer_times, vec![datetime!(2025-06-09 11:57:38 UTC)]),
        }
    }
    assert!(refused > ts.len() / 2, "{refused} of {}", ts.len());

    // The 2024 bundle was stamped by an earlier staging TSA: outside the
    // current TSA's window, so refused, not ignored.
    let old = bundle("tsa_bundle.txt.sigstore");
    let BundleContent::MessageSignature(m) = &old.content else {
        panic!()
    };
    let digest = m.message_digest.as_ref().unwrap().digest.clone();
    let err = verify_bundle(
        &old,
        &r,
        Artifact::Digest(HashAlgorithm::Sha256, &digest),
        &william(),
        &opts(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not valid at 2024-10-31"), "{err}");
    // --use-signed-timestamps with a bundle that has none.
    let plain = bundle("bundle_v3.txt.sigstore");
    let err = check_with(
        &plain,
        &r,
        &Options {
            require_timestamp: true,
            ..opts()
        },
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::NoTimestamp), "{err}");
}

fn check_with(b: &Bundle, r: &TrustedRoot, o: &Options) -> Result<Verified, VerifyError> {
    let artifact = upstream("bundle_v3.txt");
    verify_bundle(b, r, Artifact::Bytes(&artifact), &william(), o)
}

/// sigstore-js's own fixtures (packages/client, `bundles/valid.ts`, signed
/// against the public-good instance in 2022 and 2024): v0.1, v0.2 and v0.3
/// message signatures over `hello, world!`, a v0.3 DSSE bundle, and a v0.1
/// DSSE bundle logged as a legacy `intoto` 0.0.2 entry.
#[test]
fn sigstore_js_fixtures_verify() {
    let js = |name: &str| {
        std::fs::read(format!(
            "{}/tests/data/upstream/sigstore-js/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let r = root("trusted_root.sigstore.json");
    let artifact = js("artifact.txt");
    let brian = || {
        who(
            exact("brian@dehamer.com"),
            exact("https://github.com/login/oauth"),
        )
    };
    for name in ["v1-message", "v2-message", "v3-message"] {
        let b: Bundle = serde_json::from_slice(&js(&format!("{name}.sigstore.json"))).unwrap();
        check(&b, &r, &artifact, &brian()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let err = check(&b, &r, b"hello, world?", &brian()).unwrap_err();
        assert!(matches!(err, VerifyError::Artifact(_)), "{name}: {err}");
    }
    // The DSSE payloads are plain text, not statements: the envelope's
    // signature and log entry are what is checked (`--check-claims=false`).
    for name in ["v3-dsse", "v1-dsse-intoto"] {
        let b: Bundle = serde_json::from_slice(&js(&format!("{name}.sigstore.json"))).unwrap();
        verify_bundle(&b, &r, Artifact::Unchecked, &brian(), &opts())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut bad = b.clone();
        let BundleContent::DsseEnvelope(env) = &mut bad.content else {
            panic!()
        };
        env.payload = b"hello, world?".to_vec();
        let err = verify_bundle(&bad, &r, Artifact::Unchecked, &brian(), &opts()).unwrap_err();
        assert!(err.to_string().contains("payload hash"), "{name}: {err}");
    }
}

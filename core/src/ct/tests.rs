use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::*;
use crate::keys::{parse_certificate_der, verify_certificate_signature, SigningKey};

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn json(rel: &str) -> Value {
    serde_json::from_slice(&data(rel)).unwrap()
}

/// A real public-good or staging vector: the Fulcio leaf from a bundle, its
/// issuing intermediate and the ctlog keys from the matching trusted root.
struct Vector {
    leaf: Vec<u8>,
    issuer: Vec<u8>,
    root: Vec<u8>,
    ct_keys: Vec<PublicKey>,
}

fn vector(bundle: &str, trusted_root: &str) -> Vector {
    let b = json(&format!("upstream/sigstore-python/{bundle}"));
    let vm = &b["verificationMaterial"];
    let leaf_b64 = vm["certificate"]["rawBytes"]
        .as_str()
        .or_else(|| vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())
        .unwrap();
    let leaf = STANDARD.decode(leaf_b64).unwrap();
    let leaf_cert = parse_certificate_der(&leaf).unwrap();
    let tr = json(&format!("upstream/sigstore-python/{trusted_root}"));
    // The issuer is whichever CA certificate's key verifies the leaf.
    let mut found = None;
    for ca in tr["certificateAuthorities"].as_array().unwrap() {
        let certs: Vec<Vec<u8>> = ca["certChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| STANDARD.decode(c["rawBytes"].as_str().unwrap()).unwrap())
            .collect();
        let first = parse_certificate_der(&certs[0]).unwrap();
        let key = crate::keys::certificate_public_key(&first).unwrap();
        if verify_certificate_signature(&leaf_cert, &key).is_ok() {
            found = Some((certs[0].clone(), certs.last().unwrap().clone()));
        }
    }
    let (issuer, root) = found.expect("issuer of the leaf in the trusted root");
    let ct_keys = tr["ctlogs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| {
            let der = STANDARD
                .decode(l["publicKey"]["rawBytes"].as_str().unwrap())
                .unwrap();
            // Staging also lists an RSA log whose rawBytes are PKCS#1, not SPKI; skip it.
            let key = PublicKey::from_spki_der(&der).ok()?;
            // The trusted root's logId is the RFC 6962 log ID of the key.
            let id = STANDARD
                .decode(l["logId"]["keyId"].as_str().unwrap())
                .unwrap();
            assert_eq!(id, log_id(&der));
            Some(key)
        })
        .collect();
    Vector {
        leaf,
        issuer,
        root,
        ct_keys,
    }
}

fn key_for<'a>(v: &'a Vector, sct: &Sct) -> &'a PublicKey {
    v.ct_keys
        .iter()
        .find(|k| log_id(&k.to_spki_der()) == sct.log_id)
        .expect("ctlog key for the SCT's log ID")
}

const VECTORS: &[(&str, &str)] = &[
    // Public good: ctfe.sigstore.dev/2022.
    (
        "bundle_v3_github.whl.sigstore",
        "trusted_root.sigstore.json",
    ),
    // Staging: ctfe.sigstage.dev/2022-2.
    ("bundle.txt.sigstore", "trusted_root.sigstage.json"),
    // Staging, 2026 log.
    (
        "a.dsse.staging-rekor-v2.txt.sigstore.json",
        "trusted_root.sigstage.json",
    ),
];

#[test]
fn real_embedded_scts_verify() {
    for (bundle, root) in VECTORS {
        let v = vector(bundle, root);
        let scts = embedded_scts(&v.leaf).unwrap();
        assert_eq!(scts.len(), 1, "{bundle}");
        let sct = &scts[0];
        assert_eq!(sct.hash_algorithm, HASH_SHA256);
        assert_eq!(sct.signature_algorithm, SIG_ECDSA);
        let key = key_for(&v, sct);
        verify_embedded_sct(&v.leaf, &v.issuer, sct, key)
            .unwrap_or_else(|e| panic!("{bundle}: {e}"));
    }
}

#[test]
fn real_sct_list_round_trips_byte_for_byte() {
    for (bundle, root) in VECTORS {
        let v = vector(bundle, root);
        let cert = parse_certificate_der(&v.leaf).unwrap();
        let ext = find_extension(&cert.tbs_certificate, &OID_CT_SCT_LIST).unwrap();
        let inner = OctetString::from_der(ext.extn_value.as_bytes()).unwrap();
        let scts = parse_sct_list(inner.as_bytes()).unwrap();
        assert_eq!(encode_sct_list(&scts), inner.as_bytes());
        for s in &scts {
            assert_eq!(Sct::from_tls(&s.to_tls()).unwrap(), *s);
            let resp = serde_json::to_vec(&s.to_add_chain_response()).unwrap();
            assert_eq!(Sct::from_add_chain_response(&resp).unwrap(), *s);
        }
    }
}

#[test]
fn real_sct_negative() {
    let v = vector(VECTORS[0].0, VECTORS[0].1);
    let sct = embedded_scts(&v.leaf).unwrap().remove(0);
    let key = key_for(&v, &sct).clone();

    // A flipped byte in the TBS (last byte of the subject public key).
    let cert = parse_certificate_der(&v.leaf).unwrap();
    let point = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec();
    let at = v
        .leaf
        .windows(point.len())
        .position(|w| w == point)
        .unwrap()
        + point.len()
        - 1;
    let mut tampered = v.leaf.clone();
    tampered[at] ^= 1;
    assert!(matches!(
        verify_embedded_sct(&tampered, &v.issuer, &sct, &key),
        Err(CtError::BadSignature)
    ));

    // Wrong issuer (the root instead of the intermediate): issuer key hash differs.
    assert!(matches!(
        verify_embedded_sct(&v.leaf, &v.root, &sct, &key),
        Err(CtError::BadSignature)
    ));

    // Wrong key: the log ID no longer matches.
    let other = v
        .ct_keys
        .iter()
        .find(|k| log_id(&k.to_spki_der()) != sct.log_id)
        .unwrap();
    assert!(matches!(
        verify_embedded_sct(&v.leaf, &v.issuer, &sct, other),
        Err(CtError::LogIdMismatch { .. })
    ));
    // Wrong key with the log ID forced to it: the signature fails.
    let mut forged = sct.clone();
    forged.log_id = log_id(&other.to_spki_der());
    assert!(matches!(
        verify_embedded_sct(&v.leaf, &v.issuer, &forged, other),
        Err(CtError::BadSignature)
    ));

    // Changed timestamp or extensions: the signature fails.
    let mut t = sct.clone();
    t.timestamp_ms += 1;
    assert!(verify_embedded_sct(&v.leaf, &v.issuer, &t, &key).is_err());
    let mut t = sct.clone();
    t.extensions = vec![0];
    assert!(verify_embedded_sct(&v.leaf, &v.issuer, &t, &key).is_err());
    // Hash other than SHA-256 is refused before any signature check.
    let mut t = sct.clone();
    t.hash_algorithm = 5;
    assert!(matches!(
        verify_embedded_sct(&v.leaf, &v.issuer, &t, &key),
        Err(CtError::UnsupportedHash(5))
    ));
    let mut t = sct.clone();
    t.signature_algorithm = SIG_RSA;
    assert!(matches!(
        verify_embedded_sct(&v.leaf, &v.issuer, &t, &key),
        Err(CtError::SignatureAlgorithm { .. })
    ));

    // A certificate without an SCT list (the intermediate).
    assert!(matches!(
        embedded_scts(&v.issuer),
        Err(CtError::MissingExtension(_))
    ));
    assert!(matches!(
        verify_embedded_sct(&v.issuer, &v.root, &sct, &key),
        Err(CtError::MissingExtension(_))
    ));
    assert!(embedded_scts(&v.leaf[..v.leaf.len() - 1]).is_err());
}

#[test]
fn tls_parsers_are_strict() {
    let v = vector(VECTORS[1].0, VECTORS[1].1);
    let scts = embedded_scts(&v.leaf).unwrap();
    let tls = scts[0].to_tls();
    for n in 0..tls.len() {
        assert!(Sct::from_tls(&tls[..n]).is_err(), "truncated at {n}");
    }
    let mut trailing = tls.clone();
    trailing.push(0);
    assert!(matches!(
        Sct::from_tls(&trailing),
        Err(CtError::Malformed(_))
    ));
    let mut v1 = tls.clone();
    v1[0] = 1;
    assert!(matches!(Sct::from_tls(&v1), Err(CtError::Version(1))));

    let list = encode_sct_list(&scts);
    for n in 0..list.len() {
        assert!(parse_sct_list(&list[..n]).is_err(), "truncated at {n}");
    }
    let mut trailing = list.clone();
    trailing.push(0);
    assert!(parse_sct_list(&trailing).is_err());
    assert!(parse_sct_list(&[0, 0]).is_err(), "empty list");
    assert!(parse_sct_list(&[0, 2, 0, 0]).is_err(), "empty SCT");
    // Two SCTs round-trip.
    let two = encode_sct_list(&[scts[0].clone(), scts[0].clone()]);
    assert_eq!(parse_sct_list(&two).unwrap().len(), 2);

    let ds = digitally_signed(4, 3, &[1, 2, 3]);
    assert_eq!(ds, [4, 3, 0, 3, 1, 2, 3]);
    assert_eq!(parse_digitally_signed(&ds).unwrap(), (4, 3, vec![1, 2, 3]));
    assert!(parse_digitally_signed(&ds[..6]).is_err());
    assert!(parse_digitally_signed(&[4, 3, 0, 0, 9]).is_err());
}

#[test]
fn add_chain_response_parsing() {
    let ok = br#"{"sct_version":0,"id":"3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4=","timestamp":1700000000000,"extensions":"","signature":"BAMAAwECAw=="}"#;
    let s = Sct::from_add_chain_response(ok).unwrap();
    assert_eq!(s.timestamp_ms, 1_700_000_000_000);
    assert_eq!(s.signature, [1, 2, 3]);
    assert!(s.extensions.is_empty());
    for bad in [
        r#"{"sct_version":1,"id":"3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4=","timestamp":1,"extensions":"","signature":"BAMAAwECAw=="}"#,
        r#"{"sct_version":0,"id":"AAAA","timestamp":1,"extensions":"","signature":"BAMAAwECAw=="}"#,
        r#"{"sct_version":0,"id":"3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4=","timestamp":-1,"extensions":"","signature":"BAMAAwECAw=="}"#,
        r#"{"sct_version":0,"id":"3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4=","timestamp":1,"extensions":"!","signature":"BAMAAwECAw=="}"#,
        r#"{"sct_version":0,"id":"3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4=","timestamp":1,"extensions":"","signature":"BAMAAwECAwQ="}"#,
        r#"{"sct_version":0,"id":"3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4=","timestamp":1,"extensions":""}"#,
        "not json",
    ] {
        assert!(
            Sct::from_add_chain_response(bad.as_bytes()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn generated_sct_sign_and_verify() {
    let log = SigningKey::generate_p256();
    let pk = log.public_key();
    let id = log_id(&pk.to_spki_der());
    let tbs = b"not really a TBS, the signature does not care".to_vec();
    let entry = SignedEntry::Precert {
        issuer_key_hash: [7; 32],
        tbs: &tbs,
    };
    let ts = 1_712_000_000_123;
    let sig = log.sign(&sct_signed_data(ts, &entry, &[]));
    let sct = Sct {
        log_id: id,
        timestamp_ms: ts,
        extensions: Vec::new(),
        hash_algorithm: HASH_SHA256,
        signature_algorithm: SIG_ECDSA,
        signature: sig,
    };
    sct.verify(&entry, &pk).unwrap();
    let other_issuer = SignedEntry::Precert {
        issuer_key_hash: [8; 32],
        tbs: &tbs,
    };
    assert!(sct.verify(&other_issuer, &pk).is_err());
    assert!(matches!(
        sct.verify(&other_issuer, &pk),
        Err(CtError::BadSignature)
    ));
    // The same bytes as an X.509 entry are a different statement.
    assert!(sct.verify(&SignedEntry::X509(&tbs), &pk).is_err());
    assert!(matches!(
        sct.verify(&SignedEntry::X509(&tbs), &pk),
        Err(CtError::BadSignature)
    ));
    // An empty certificate is outside ASN.1Cert<1..2^24-1>: refused by the
    // length check, before any signature work.
    assert!(sct.verify(&SignedEntry::X509(&[]), &pk).is_err());
    assert!(matches!(
        sct.verify(&SignedEntry::X509(&[]), &pk),
        Err(CtError::TooLarge {
            what: "certificate",
            len: 0
        })
    ));

    // Byte layout (RFC 6962 §3.2 / §3.4).
    let signed = sct_signed_data(ts, &entry, &[]);
    assert_eq!(&signed[..2], &[0, 0]);
    assert_eq!(&signed[2..10], &ts.to_be_bytes());
    assert_eq!(&signed[10..12], &[0, 1]);
    assert_eq!(&signed[12..44], &[7; 32]);
    assert_eq!(&signed[44..47], &(tbs.len() as u32).to_be_bytes()[1..]);
    assert_eq!(&signed[signed.len() - 2..], &[0, 0]);
    let leaf = merkle_tree_leaf(ts, &entry, &[]);
    // For v1 both start with version 0 and a zero type byte
    // (certificate_timestamp / timestamped_entry): the CT log relies on the
    // two encodings being identical to encode once per submission.
    assert_eq!(leaf, signed);
    let parsed = parse_merkle_tree_leaf(&leaf).unwrap();
    assert_eq!(parsed.timestamp_ms, ts);
    assert_eq!(parsed.entry.as_entry(), entry);
    assert!(parse_merkle_tree_leaf(&leaf[..leaf.len() - 1]).is_err());
    let x = merkle_tree_leaf(ts, &SignedEntry::X509(b"cert"), &[1, 2]);
    assert_eq!(
        &x[10..],
        &[0, 0, 0, 0, 4, b'c', b'e', b'r', b't', 0, 2, 1, 2]
    );
    assert_eq!(
        parse_merkle_tree_leaf(&x).unwrap().entry,
        OwnedSignedEntry::X509(b"cert".to_vec())
    );

    let sth = sth_signed_data(5, 6, &[9; 32]);
    assert_eq!(sth.len(), 50);
    assert_eq!(&sth[..2], &[0, 1]);
    assert_eq!(&sth[2..10], &5u64.to_be_bytes());
    assert_eq!(&sth[10..18], &6u64.to_be_bytes());
}

#[test]
fn tbs_without_extension_drops_only_that_extension() {
    // Final cert without the SCT list must be a well-formed TBS that still
    // parses, and removing a missing extension is an error.
    let v = vector(VECTORS[0].0, VECTORS[0].1);
    let tbs = tbs_without_extension(&v.leaf, OID_CT_SCT_LIST).unwrap();
    let parsed = TbsCertificate::from_der(&tbs).unwrap();
    assert!(find_extension(&parsed, &OID_CT_SCT_LIST).is_err());
    let cert = parse_certificate_der(&v.leaf).unwrap();
    assert_eq!(
        parsed.extensions.as_ref().unwrap().len() + 1,
        cert.tbs_certificate.extensions.as_ref().unwrap().len()
    );
    assert!(matches!(
        tbs_without_extension(&v.leaf, OID_CT_POISON),
        Err(CtError::MissingExtension(_))
    ));
    // Re-encoding a parsed certificate is lossless (what the TBS rebuild relies on).
    assert_eq!(cert.to_der().unwrap(), v.leaf);
    assert_eq!(issuer_key_hash(&v.issuer).unwrap().len(), 32);
    assert!(issuer_key_hash(b"junk").is_err());
}

/// The issuer's SubjectPublicKeyInfo DER, obtained independently of
/// [`issuer_key_hash`]: decoded with x509-cert, re-encoded, and checked to be
/// the exact bytes inside the certificate.
fn spki_der_of(cert_der: &[u8]) -> Vec<u8> {
    let cert = x509_cert::Certificate::from_der(cert_der).unwrap();
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    assert!(
        cert_der.windows(spki.len()).any(|w| w == spki),
        "the SPKI DER appears verbatim in the certificate"
    );
    spki
}

#[test]
fn issuer_key_hash_is_sha256_of_the_issuer_spki() {
    for (bundle, root) in VECTORS {
        let v = vector(bundle, root);
        let spki = spki_der_of(&v.issuer);
        let want = crate::keys::sha256_key_id(&spki);
        assert_eq!(issuer_key_hash(&v.issuer).unwrap(), want, "{bundle}");
        // The parsed-certificate variant agrees.
        let issuer = parse_certificate_der(&v.issuer).unwrap();
        assert_eq!(issuer_key_hash_of(&issuer).unwrap(), want, "{bundle}");
        // The SPKI is the issuer's key (the one that verifies the leaf), not
        // some other structure of the certificate.
        let key = crate::keys::certificate_public_key(&issuer).unwrap();
        let leaf = parse_certificate_der(&v.leaf).unwrap();
        verify_certificate_signature(&leaf, &key).unwrap();
        assert_eq!(
            PublicKey::from_spki_der(&spki).unwrap().to_spki_der(),
            key.to_spki_der(),
            "{bundle}"
        );
        // Key-specific: the root's and the leaf's hashes differ, and each is
        // the hash of its own SPKI.
        for other in [&v.root, &v.leaf] {
            let h = issuer_key_hash(other).unwrap();
            assert_ne!(h, want, "{bundle}");
            assert_eq!(h, crate::keys::sha256_key_id(&spki_der_of(other)));
        }
    }
}

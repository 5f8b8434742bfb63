use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use time::macros::datetime;

use super::*;

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn upstream(name: &str) -> Vec<u8> {
    data(&format!("upstream/sigstore-python/{name}"))
}

fn value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// Rewrites snake_case keys to lowerCamelCase, recursively, so a document in
/// proto-name form can be compared with our camelCase output.
fn camel_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let mut out = String::new();
                    let mut upper = false;
                    for c in k.chars() {
                        if c == '_' {
                            upper = true;
                        } else if upper {
                            out.extend(c.to_uppercase());
                            upper = false;
                        } else {
                            out.push(c);
                        }
                    }
                    (out, camel_keys(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(camel_keys).collect()),
        other => other,
    }
}

/// Reduces a proto3 JSON value to what it means: unset-equivalent members
/// (`null`, `""`, `"0"`, `[]`) dropped and timestamps in one spelling, so
/// that e.g. `"certificates": []` vs. no key, or `"…:29.000Z"` vs. `"…:29Z"`,
/// compare equal. Objects are kept even when empty: a present message differs
/// from an absent one.
fn normalize(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() || s == "0" => None,
        Value::String(s) => Some(Value::String(
            proto::parse_timestamp(&s)
                .map(|t| proto::format_timestamp(&t))
                .unwrap_or(s),
        )),
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) => Some(Value::Array(
            a.into_iter()
                .map(|x| normalize(x).unwrap_or(Value::Null))
                .collect(),
        )),
        Value::Object(m) => Some(Value::Object(
            m.into_iter()
                .filter_map(|(k, v)| normalize(v).map(|v| (k, v)))
                .collect(),
        )),
        other => Some(other),
    }
}

/// Parses with `T`, writes it back, and checks the result means the same as
/// the input (see [`normalize`]; key order and whitespace aside), and that
/// reading our own output gives the same value again.
fn round_trips<T>(bytes: &[u8]) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let parsed: T = serde_json::from_slice(bytes).unwrap();
    let written = serde_json::to_vec(&parsed).unwrap();
    assert_eq!(
        normalize(value(&written)),
        normalize(camel_keys(value(bytes)))
    );
    let reparsed: T = serde_json::from_slice(&written).unwrap();
    assert_eq!(reparsed, parsed);
    parsed
}

#[test]
fn compat_examples() {
    let root = TrustedRoot::from_json(&data("compat/trusted_root.json")).unwrap();
    round_trips::<TrustedRoot>(&data("compat/trusted_root.json"));
    assert_eq!(root.media_type, TRUSTED_ROOT_MEDIA_TYPE_V0_1);
    assert_eq!(root.tlogs.len(), 2);
    assert_eq!(
        root.tlogs[1].public_key.key_details,
        PublicKeyDetails::PKIX_ED25519
    );
    assert_eq!(root.tlogs[0].hash_algorithm, HashAlgorithm::Sha2_256);
    assert_eq!(
        root.tlogs[0].public_key.valid_for.as_ref().unwrap().start,
        datetime!(2026-01-01 00:00:00 UTC)
    );
    assert_eq!(root.tlogs[0].log_id.key_id.len(), 32);
    assert_eq!(
        root.certificate_authorities[0]
            .cert_chain
            .certificates
            .len(),
        2
    );
    assert_eq!(
        root.timestamp_authorities[0].subject.common_name,
        "example-tsa"
    );

    let sc = SigningConfig::from_json(&data("compat/signing_config.v0.2.json")).unwrap();
    round_trips::<SigningConfig>(&data("compat/signing_config.v0.2.json"));
    assert_eq!(sc.rekor_tlog_urls[0].major_api_version, 1);
    assert_eq!(
        sc.rekor_tlog_config.as_ref().unwrap().selector,
        ServiceSelector::Any
    );

    let ctc = ClientTrustConfig::from_json(&data("compat/client_trust_config.json")).unwrap();
    round_trips::<ClientTrustConfig>(&data("compat/client_trust_config.json"));
    assert_eq!(ctc.trusted_root, root);
    assert_eq!(ctc.signing_config, sc);
}

/// The log IDs in the example root follow the rules in tuf.md §1.3.
#[test]
fn compat_example_log_ids() {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let root = TrustedRoot::from_json(&data("compat/trusted_root.json")).unwrap();
    let v1 = &root.tlogs[0];
    let spki = v1.public_key.raw_bytes.as_deref().unwrap();
    assert_eq!(
        crate::note::c2sp_ecdsa_key_id(spki).to_vec(),
        v1.log_id.key_id
    );
    let v2 = &root.tlogs[1];
    let key = ed25519_dalek::VerifyingKey::from_public_key_der(
        v2.public_key.raw_bytes.as_deref().unwrap(),
    )
    .unwrap();
    assert_eq!(
        crate::note::c2sp_ed25519_key_id("log2026-1.rekor.example.internal", key.as_bytes())
            .to_vec(),
        v2.log_id.key_id
    );
}

#[test]
fn upstream_trust_documents() {
    for name in [
        "trusted_root.sigstore.json",
        "trusted_root.sigstage.json",
        "trusted_root_trustedroot.v1.local_tlog_ed25519_rekor-tiles.json",
    ] {
        TrustedRoot::from_json(&upstream(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        round_trips::<TrustedRoot>(&upstream(name));
    }
    for name in [
        "signing_config.sigstore.json",
        "signing_config.sigstage.json",
        "signing_config_signingconfig.v2.json",
    ] {
        SigningConfig::from_json(&upstream(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        round_trips::<SigningConfig>(&upstream(name));
    }
    // sigstore-python's own trust config mixes camelCase and proto names.
    let raw = upstream("trust_config_config.v1.json");
    assert!(value(&raw).get("signing_config").is_some());
    ClientTrustConfig::from_json(&raw).unwrap();
    round_trips::<ClientTrustConfig>(&raw);

    let stage = TrustedRoot::from_json(&upstream("trusted_root.sigstage.json")).unwrap();
    let alpha1 = stage
        .tlogs
        .iter()
        .find(|t| t.base_url == "https://log2025-alpha1.rekor.sigstage.dev")
        .unwrap();
    let range = alpha1.public_key.valid_for.as_ref().unwrap();
    assert_eq!(range.end, Some(datetime!(2025-09-04 00:00:00 UTC)));
    assert!(range.contains(datetime!(2025-05-01 00:00:00 UTC)));
    assert!(!range.contains(datetime!(2025-09-04 00:00:01 UTC)));
}

const ALL_BUNDLES: &[&str] = &[
    "bundle.txt.sigstore",
    "bundle_v3.txt.sigstore",
    "bundle_v3_alt.txt.sigstore",
    "bundle_v3_github.whl.sigstore",
    "bundle_v3_no_signed_time.txt.sigstore.json",
    "a.dsse.staging-rekor-v2.txt.sigstore.json",
    "staging-rekor-v2.txt.sigstore.json",
    "tsa_bundle.txt.sigstore",
    "bundle_cve_2022_36056.txt.sigstore",
    "bundle_no_checkpoint.txt.sigstore",
    "bundle_no_cert_v1.txt.sigstore",
    "bundle_invalid_version.txt.sigstore",
];

#[test]
fn upstream_bundles_parse_and_round_trip() {
    for name in ALL_BUNDLES {
        let bytes = upstream(name);
        let b: Bundle = round_trips(&bytes);
        let expected = match *name {
            // Old v0.1 bundles carried proofs without checkpoints; sigstore-go
            // rejects those as well.
            "bundle_no_checkpoint.txt.sigstore" | "bundle_no_cert_v1.txt.sigstore" => {
                Err("checkpoint")
            }
            "bundle_invalid_version.txt.sigstore" => Err("media type"),
            _ => Ok(()),
        };
        match (Bundle::from_json(&bytes), expected) {
            (Ok(parsed), Ok(())) => assert_eq!(parsed, b),
            (Err(e), Err(what)) => assert!(e.to_string().contains(what), "{name}: {e}"),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn bundle_v3_with_dsse_timestamp_and_witnessed_checkpoint() {
    let b = Bundle::from_json(&upstream("a.dsse.staging-rekor-v2.txt.sigstore.json")).unwrap();
    assert_eq!(b.validate().unwrap(), BundleVersion::V0_3);
    let VerificationMaterialContent::Certificate(cert) = &b.verification_material.content else {
        panic!("expected a certificate");
    };
    assert_eq!(cert.raw_bytes[0], 0x30);
    let tvd = b
        .verification_material
        .timestamp_verification_data
        .as_ref()
        .unwrap();
    assert_eq!(tvd.rfc3161_timestamps.len(), 1);
    let BundleContent::DsseEnvelope(env) = &b.content else {
        panic!("expected DSSE");
    };
    assert_eq!(env.payload_type, "application/vnd.in-toto+json");
    assert!(env
        .payload
        .starts_with(b"{\"_type\":\"https://in-toto.io/Statement/v1\""));
    assert_eq!(env.signatures.len(), 1);
    assert!(env.signatures[0].keyid.is_empty());
    let e = &b.verification_material.tlog_entries[0];
    assert_eq!(e.kind_version.version, "0.0.2");
    assert_eq!(e.integrated_time, 0);
    assert!(e.inclusion_promise.is_none());
}

/// Cross-checks the models against the Merkle, note and JCS modules on real
/// data: every upstream proof verifies, the checkpoint matches the proof, and
/// every body is canonical JCS.
#[test]
fn upstream_entries_verify() {
    use crate::merkle::{hash_leaf, verify_inclusion, Hash};
    let mut checked = 0;
    for name in ALL_BUNDLES {
        let b: Bundle = serde_json::from_slice(&upstream(name)).unwrap();
        for e in &b.verification_material.tlog_entries {
            assert_eq!(
                crate::jcs::canonicalize_bytes(&e.canonicalized_body).unwrap(),
                e.canonicalized_body,
                "{name}: body not canonical"
            );
            let Some(p) = &e.inclusion_proof else {
                continue;
            };
            let hashes: Vec<Hash> = p
                .hashes
                .iter()
                .map(|h| h.as_slice().try_into().unwrap())
                .collect();
            let root: Hash = p.root_hash.as_slice().try_into().unwrap();
            verify_inclusion(
                p.log_index as u64,
                p.tree_size as u64,
                &hash_leaf(&e.canonicalized_body),
                &hashes,
                &root,
            )
            .unwrap_or_else(|err| panic!("{name}: {err}"));
            if let Some(cp) = &p.checkpoint {
                let note = crate::note::SignedNote::parse(&cp.envelope).unwrap();
                let cp = note.checkpoint().unwrap();
                assert_eq!(cp.root_hash, root, "{name}");
                assert_eq!(cp.size, p.tree_size as u64, "{name}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 9, "only {checked} proofs checked");
}

#[test]
fn output_encoding() {
    let entry = TransparencyLogEntry {
        log_index: 0,
        log_id: LogId {
            key_id: vec![0xfb; 32],
        },
        kind_version: KindVersion {
            kind: "hashedrekord".into(),
            version: "0.0.2".into(),
        },
        integrated_time: 0,
        inclusion_promise: None,
        inclusion_proof: Some(InclusionProof {
            log_index: 0,
            root_hash: vec![0xff; 32],
            tree_size: 1,
            hashes: vec![],
            checkpoint: Some(Checkpoint {
                envelope: "o\n1\nroot\n\n— o sig\n".into(),
            }),
        }),
        canonicalized_body: b"{}".to_vec(),
    };
    assert_eq!(
        serde_json::to_value(&entry).unwrap(),
        json!({
            "logIndex": "0",
            "logId": {"keyId": "+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s="},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "inclusionProof": {
                "logIndex": "0",
                "rootHash": "//////////////////////////////////////////8=",
                "treeSize": "1",
                // Written although empty: sigstore-python requires the key.
                "hashes": [],
                "checkpoint": {"envelope": "o\n1\nroot\n\n— o sig\n"}
            },
            "canonicalizedBody": "e30="
        })
    );
    let with_time = TransparencyLogEntry {
        integrated_time: 1_710_869_186,
        log_index: i64::MAX,
        ..entry
    };
    let v = serde_json::to_value(&with_time).unwrap();
    assert_eq!(v["integratedTime"], "1710869186");
    assert_eq!(v["logIndex"], "9223372036854775807");

    // An empty trusted root still lists every collection.
    let empty = TrustedRoot {
        media_type: TRUSTED_ROOT_MEDIA_TYPE_V0_1.into(),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&empty).unwrap(),
        json!({
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE_V0_1,
            "tlogs": [], "certificateAuthorities": [], "ctlogs": [], "timestampAuthorities": []
        })
    );
    let sc = SigningConfig {
        media_type: SIGNING_CONFIG_MEDIA_TYPE_V0_2.into(),
        rekor_tlog_urls: vec![Service {
            url: "https://log2026-1.rekor.example.internal".into(),
            major_api_version: 2,
            valid_for: Some(TimeRange {
                start: datetime!(2026-01-01 00:00:00.5 UTC),
                end: Some(datetime!(2026-06-30 23:59:59.000001 UTC)),
            }),
            operator: "example.internal".into(),
        }],
        rekor_tlog_config: Some(ServiceConfiguration {
            selector: ServiceSelector::Exact,
            count: 1,
        }),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&sc).unwrap(),
        json!({
            "mediaType": SIGNING_CONFIG_MEDIA_TYPE_V0_2,
            "caUrls": [], "oidcUrls": [],
            "rekorTlogUrls": [{
                "url": "https://log2026-1.rekor.example.internal",
                "majorApiVersion": 2,
                "validFor": {"start": "2026-01-01T00:00:00.500Z", "end": "2026-06-30T23:59:59.000001Z"},
                "operator": "example.internal"
            }],
            "rekorTlogConfig": {"selector": "EXACT", "count": 1},
            "tsaUrls": []
        })
    );
}

#[test]
fn lenient_scalar_input() {
    // int64 as a number or string; bytes URL-safe or unpadded; null as unset;
    // uint32 as a string; timestamps with offsets and fractions.
    let entry: TransparencyLogEntry = serde_json::from_value(json!({
        "logIndex": 645,
        "logId": {"keyId": "-_-_"},
        "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
        "integratedTime": null,
        "inclusionPromise": null,
        "inclusionProof": {"logIndex": "645", "rootHash": "AQI", "treeSize": "646",
                           "hashes": ["AQ", "Ag=="], "checkpoint": {"envelope": "x"}},
        "canonicalizedBody": "e30"
    }))
    .unwrap();
    assert_eq!(entry.log_index, 645);
    assert_eq!(entry.log_id.key_id, vec![0xfb, 0xff, 0xbf]);
    assert_eq!(entry.integrated_time, 0);
    let proof = entry.inclusion_proof.unwrap();
    assert_eq!(proof.root_hash, vec![1, 2]);
    assert_eq!(proof.hashes, vec![vec![1], vec![2]]);
    assert_eq!(entry.canonicalized_body, b"{}");

    let s: Service = serde_json::from_value(json!({
        "url": "u", "majorApiVersion": "2", "operator": "o",
        "validFor": {"start": "2026-01-01T01:00:00.123456789+01:00", "end": null}
    }))
    .unwrap();
    assert_eq!(s.major_api_version, 2);
    let vf = s.valid_for.unwrap();
    assert_eq!(vf.start, datetime!(2026-01-01 00:00:00.123456789 UTC));
    assert_eq!(vf.end, None);
    assert_eq!(
        serde_json::to_value(&vf).unwrap(),
        json!({"start": "2026-01-01T00:00:00.123456789Z"})
    );
}

fn bundle_json() -> Value {
    value(&upstream("bundle_v3.txt.sigstore"))
}

fn parse_bundle(v: &Value) -> Result<Bundle, TrustError> {
    Bundle::from_json(&serde_json::to_vec(v).unwrap())
}

#[test]
fn strict_shape() {
    parse_bundle(&bundle_json()).unwrap();

    let reject = |v: Value, why: &str| {
        let err = parse_bundle(&v).expect_err(why);
        assert!(matches!(err, TrustError::Json(_)), "{why}: {err}");
    };
    let mut v = bundle_json();
    v["extra"] = json!(1);
    reject(v, "unknown top-level field");
    let mut v = bundle_json();
    v["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["extra"] =
        json!("");
    reject(v, "unknown nested field");
    let mut v = bundle_json();
    v["verificationMaterial"]["publicKey"] = json!({"hint": "k"});
    reject(v, "two verification materials");
    let mut v = bundle_json();
    v["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("certificate");
    reject(v, "no verification material content");
    let mut v = bundle_json();
    v["dsseEnvelope"] = json!({"payload": "", "payloadType": "t", "signatures": []});
    reject(v, "both contents");
    let mut v = bundle_json();
    v.as_object_mut().unwrap().remove("messageSignature");
    reject(v, "no content");
    let mut v = bundle_json();
    v.as_object_mut().unwrap().remove("verificationMaterial");
    reject(v, "no verification material");
    let mut v = bundle_json();
    v["messageSignature"]["messageDigest"]["algorithm"] = json!(1);
    reject(v, "numeric enum");
    let mut v = bundle_json();
    v["messageSignature"]["messageDigest"]["algorithm"] = json!("SHA2_999");
    reject(v, "unknown enum name");
    let mut v = bundle_json();
    v["messageSignature"]["signature"] = json!("not base64!");
    reject(v, "bad base64");
    let mut v = bundle_json();
    v["verificationMaterial"]["tlogEntries"][0]["logIndex"] = json!("+5");
    reject(v, "signed int64 string");
    let mut v = bundle_json();
    v["verificationMaterial"]["tlogEntries"][0]["logIndex"] = json!(1.5);
    reject(v, "fractional int64");
    let mut v = bundle_json();
    v["verificationMaterial"]["tlogEntries"][0]["logIndex"] = json!("9223372036854775808");
    reject(v, "int64 overflow");
    let mut v = bundle_json();
    v["verificationMaterial"]["tlogEntries"][0]
        .as_object_mut()
        .unwrap()
        .remove("logId");
    reject(v, "missing logId");
    let mut v = bundle_json();
    v["verificationMaterial"]["tlogEntries"][0]["kindVersion"] = Value::Null;
    reject(v, "null kindVersion");

    let mut root = value(&data("compat/trusted_root.json"));
    root["tlogs"][0]["publicKey"]["validFor"]["start"] = json!("2026-01-01");
    assert!(TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).is_err());
    let mut root = value(&data("compat/trusted_root.json"));
    root["tlogs"][0]["publicKey"]["validFor"]["start"] = json!("0000-01-01T00:00:00Z");
    assert!(TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).is_err());
    let mut root = value(&data("compat/trusted_root.json"));
    root["$schema"] = json!("x");
    assert!(TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).is_err());
    let mut root = value(&data("compat/trusted_root.json"));
    root["tlogs"][0]
        .as_object_mut()
        .unwrap()
        .remove("publicKey");
    assert!(TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).is_err());
    let mut root = value(&data("compat/trusted_root.json"));
    root["certificateAuthorities"][0]
        .as_object_mut()
        .unwrap()
        .remove("validFor");
    assert!(TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).is_err());
    let mut sc = value(&data("compat/signing_config.v0.2.json"));
    sc["caUrls"][0]["majorApiVersion"] = json!(4294967296u64);
    assert!(SigningConfig::from_json(&serde_json::to_vec(&sc).unwrap()).is_err());
}

#[test]
fn media_types() {
    let mut root = value(&data("compat/trusted_root.json"));
    root["mediaType"] = json!(TRUSTED_ROOT_MEDIA_TYPE_V0_2);
    TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap();
    root["mediaType"] = json!("application/vnd.dev.sigstore.trustedroot.v0.1+json");
    assert!(matches!(
        TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()),
        Err(TrustError::UnsupportedMediaType(_))
    ));
    let mut sc = value(&data("compat/signing_config.v0.2.json"));
    sc["mediaType"] = json!("application/vnd.dev.sigstore.signingconfig.v0.1+json");
    assert!(matches!(
        SigningConfig::from_json(&serde_json::to_vec(&sc).unwrap()),
        Err(TrustError::UnsupportedMediaType(_))
    ));
    let mut ctc = value(&data("compat/client_trust_config.json"));
    ctc["signingConfig"]["mediaType"] = json!("x");
    assert!(ClientTrustConfig::from_json(&serde_json::to_vec(&ctc).unwrap()).is_err());

    for (mt, version) in [
        (BUNDLE_MEDIA_TYPE_V0_1, BundleVersion::V0_1),
        (BUNDLE_MEDIA_TYPE_V0_2, BundleVersion::V0_2),
        (BUNDLE_MEDIA_TYPE_V0_3, BundleVersion::V0_3),
        (BUNDLE_MEDIA_TYPE_V0_3_ALT, BundleVersion::V0_3),
    ] {
        assert_eq!(BundleVersion::from_media_type(mt), Some(version));
    }
    assert_eq!(BundleVersion::V0_3.media_type(), BUNDLE_MEDIA_TYPE_V0_3);
    for mt in [
        "application/vnd.dev.sigstore.bundle.v0.4+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.0",
        "application/vnd.dev.sigstore.bundle+json",
        "",
    ] {
        assert_eq!(BundleVersion::from_media_type(mt), None, "{mt}");
    }
}

#[test]
fn bundle_version_rules() {
    let invalid = |v: &Value| match parse_bundle(v) {
        Err(TrustError::InvalidBundle(msg)) => msg,
        other => panic!("expected InvalidBundle, got {other:?}"),
    };
    fn entry(v: &mut Value) -> &mut serde_json::Map<String, Value> {
        v["verificationMaterial"]["tlogEntries"][0]
            .as_object_mut()
            .unwrap()
    }

    let mut v = bundle_json();
    entry(&mut v).insert("logIndex".into(), json!("-1"));
    assert!(invalid(&v).contains("negative"));

    let mut v = bundle_json();
    entry(&mut v).remove("inclusionProof");
    assert!(invalid(&v).contains("inclusion proof"));

    let mut v = bundle_json();
    entry(&mut v).remove("canonicalizedBody");
    assert!(invalid(&v).contains("body"));

    let mut v = bundle_json();
    entry(&mut v).insert("logId".into(), json!({}));
    assert!(invalid(&v).contains("log ID"));

    let mut v = bundle_json();
    v["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"] =
        json!("");
    assert!(invalid(&v).contains("checkpoint"));

    // v0.1 needs a promise; it does not need a proof.
    let mut v = value(&upstream("bundle.txt.sigstore"));
    entry(&mut v).remove("inclusionProof");
    parse_bundle(&v).unwrap();
    entry(&mut v).remove("inclusionPromise");
    assert!(invalid(&v).contains("promise"));

    // v0.3 forbids a chain; v0.2 allows it.
    let mut v = value(&upstream("bundle_v3_github.whl.sigstore"));
    parse_bundle(&v).unwrap();
    v["mediaType"] = json!(BUNDLE_MEDIA_TYPE_V0_3);
    assert!(invalid(&v).contains("chain"));

    // Entry and timestamp limits.
    let mut v = bundle_json();
    let e = v["verificationMaterial"]["tlogEntries"][0].clone();
    v["verificationMaterial"]["tlogEntries"] = Value::Array(vec![e; MAX_TLOG_ENTRIES]);
    parse_bundle(&v).unwrap();
    let e = v["verificationMaterial"]["tlogEntries"][0].clone();
    v["verificationMaterial"]["tlogEntries"]
        .as_array_mut()
        .unwrap()
        .push(e);
    assert!(invalid(&v).contains("at most"));
    let mut v = bundle_json();
    v["verificationMaterial"]["timestampVerificationData"] = json!({
        "rfc3161Timestamps": vec![json!({"signedTimestamp": "AA=="}); MAX_RFC3161_TIMESTAMPS + 1]
    });
    assert!(invalid(&v).contains("at most"));

    // A bundle with no log entries at all is structurally fine (a TSA-only
    // bundle); whether it verifies is the verifier's policy.
    let mut v = bundle_json();
    v["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("tlogEntries");
    parse_bundle(&v).unwrap();
}

#[test]
fn built_bundle_round_trips() {
    let b = Bundle {
        media_type: BUNDLE_MEDIA_TYPE_V0_3.into(),
        verification_material: VerificationMaterial {
            content: VerificationMaterialContent::PublicKey(PublicKeyIdentifier {
                hint: "key-1".into(),
            }),
            tlog_entries: vec![],
            timestamp_verification_data: None,
        },
        content: BundleContent::MessageSignature(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: HashAlgorithm::Sha2_384,
                digest: vec![7; 48],
            }),
            signature: vec![1, 2, 3],
        }),
    };
    let text = serde_json::to_string(&b).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"mediaType":"{BUNDLE_MEDIA_TYPE_V0_3}","verificationMaterial":{{"publicKey":{{"hint":"key-1"}}}},"messageSignature":{{"messageDigest":{{"algorithm":"SHA2_384","digest":"{}"}},"signature":"AQID"}}}}"#,
            STANDARD.encode([7u8; 48])
        )
    );
    assert_eq!(Bundle::from_json(text.as_bytes()).unwrap(), b);
}

#[test]
fn select_service_prefers_the_newest_supported_version_valid_now() {
    let svc = |url: &str,
               v: u32,
               start: time::OffsetDateTime,
               end: Option<time::OffsetDateTime>| Service {
        url: url.into(),
        major_api_version: v,
        valid_for: Some(TimeRange { start, end }),
        operator: "o".into(),
    };
    let now = datetime!(2026-06-01 0:00 UTC);
    let list = vec![
        svc("old-v1", 1, datetime!(2024-01-01 0:00 UTC), None),
        svc("new-v1", 1, datetime!(2025-01-01 0:00 UTC), None),
        svc(
            "ended-v1",
            1,
            datetime!(2025-06-01 0:00 UTC),
            Some(datetime!(2026-01-01 0:00 UTC)),
        ),
        svc("future-v1", 1, datetime!(2027-01-01 0:00 UTC), None),
        svc("v2", 2, datetime!(2024-01-01 0:00 UTC), None),
    ];
    assert_eq!(select_service(&list, &[1], now).unwrap().url, "new-v1");
    assert_eq!(select_service(&list, &[1, 2], now).unwrap().url, "v2");
    assert!(select_service(&list, &[3], now).is_none());
    // The staging signing config names a Fulcio this client can use.
    let sc = SigningConfig::from_json(&upstream("signing_config.sigstage.json")).unwrap();
    assert!(select_service(&sc.ca_urls, &[1], datetime!(2026-11-22 0:00 UTC)).is_some());
}

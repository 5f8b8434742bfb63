//! Go cosign's legacy bundle file (`sign-blob --new-bundle-format=false
//! --bundle f.json`, the default before v3):
//! `{"base64Signature", "cert", "rekorBundle": {"SignedEntryTimestamp",
//! "Payload": {"body", "integratedTime", "logIndex", "logID"}}}`.
//!
//! `verify-blob` reads it as upstream does when the file is not a protobuf
//! bundle: it becomes a v0.1 bundle (the entry carries only its SET), and the
//! same verifier runs. Only message signatures (hashedrekord entries) are
//! converted; the message digest is taken from the logged body, so the
//! verifier binds the artifact to what the log recorded.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use sigstack_core::keys::{sha256_key_id, PublicKey};
use sigstack_core::trust::{
    Bundle, BundleContent, HashAlgorithm, HashOutput, InclusionPromise, KindVersion, LogId,
    MessageSignature, PublicKeyIdentifier, TransparencyLogEntry, VerificationMaterial,
    VerificationMaterialContent, X509Certificate, X509CertificateChain, BUNDLE_MEDIA_TYPE_V0_1,
};

#[derive(Debug, thiserror::Error)]
#[error("legacy bundle: {0}")]
pub struct LegacyError(String);

fn bad(m: impl Into<String>) -> LegacyError {
    LegacyError(m.into())
}

/// Whether `v` looks like a legacy bundle (so that a protobuf parse error is
/// reported for anything else).
pub fn is_legacy(v: &Value) -> bool {
    v.get("base64Signature").is_some() && v.get("mediaType").is_none()
}

fn b64(field: &Value, what: &str) -> Result<Vec<u8>, LegacyError> {
    let s = field
        .as_str()
        .ok_or_else(|| bad(format!("{what} is missing or not a string")))?;
    STANDARD
        .decode(s)
        .map_err(|_| bad(format!("{what} is not base64")))
}

/// The signature and the verification material of a legacy record.
fn signature_and_material(
    v: &Value,
) -> Result<(Vec<u8>, VerificationMaterialContent), LegacyError> {
    let signature = b64(&v["base64Signature"], "base64Signature")?;
    // `cert`: base64 of a PEM certificate (sign-blob), of a DER certificate
    // (image bundles), or of a PEM public key (key-signed).
    let cert = b64(&v["cert"], "cert")?;
    let content = match sigstack_core::pem::parse_all(&cert) {
        Ok(blocks) if !blocks.is_empty() => match blocks[0].label.as_str() {
            "CERTIFICATE" => {
                VerificationMaterialContent::X509CertificateChain(X509CertificateChain {
                    certificates: blocks
                        .iter()
                        .map(|b| X509Certificate {
                            raw_bytes: b.contents.clone(),
                        })
                        .collect(),
                })
            }
            "PUBLIC KEY" => {
                PublicKey::from_spki_der(&blocks[0].contents)
                    .map_err(|e| bad(format!("cert holds an invalid public key: {e}")))?;
                VerificationMaterialContent::PublicKey(PublicKeyIdentifier {
                    hint: STANDARD.encode(sha256_key_id(&blocks[0].contents)),
                })
            }
            other => return Err(bad(format!("cert holds a PEM {other:?} block"))),
        },
        _ => VerificationMaterialContent::X509CertificateChain(X509CertificateChain {
            certificates: vec![X509Certificate { raw_bytes: cert }],
        }),
    };

    Ok((signature, content))
}

/// A legacy signature that was never logged (`--tlog-upload=false`, or
/// skopeo's sigstore signatures): a v0.1 bundle with no log entry, over
/// `digest` of the signed payload. Only verifiable with the tlog check off.
pub fn to_unlogged_bundle(
    v: &Value,
    algorithm: HashAlgorithm,
    digest: Vec<u8>,
) -> Result<Bundle, LegacyError> {
    let (signature, content) = signature_and_material(v)?;
    Ok(Bundle {
        media_type: BUNDLE_MEDIA_TYPE_V0_1.into(),
        verification_material: VerificationMaterial {
            content,
            tlog_entries: Vec::new(),
            timestamp_verification_data: None,
        },
        content: BundleContent::MessageSignature(MessageSignature {
            message_digest: Some(HashOutput { algorithm, digest }),
            signature,
        }),
    })
}

/// Go's `RekorBundle` (`{SignedEntryTimestamp, Payload: {body,
/// integratedTime, logIndex, logID}}`) as the bundle's log entry (with its
/// SET, no proof), and the parsed logged body.
pub fn entry_from_rekor_bundle(rb: &Value) -> Result<(TransparencyLogEntry, Value), LegacyError> {
    let set = b64(
        &rb["SignedEntryTimestamp"],
        "rekorBundle.SignedEntryTimestamp",
    )?;
    let p = &rb["Payload"];
    let body = b64(&p["body"], "rekorBundle.Payload.body")?;
    let int = |k: &str| {
        p[k].as_i64()
            .ok_or_else(|| bad(format!("rekorBundle.Payload.{k} is missing")))
    };
    let log_id = hex::decode(p["logID"].as_str().unwrap_or_default())
        .map_err(|_| bad("rekorBundle.Payload.logID is not hex"))?;
    let parsed: Value =
        serde_json::from_slice(&body).map_err(|_| bad("the logged body is not JSON"))?;
    let entry = TransparencyLogEntry {
        log_index: int("logIndex")?,
        log_id: LogId { key_id: log_id },
        kind_version: KindVersion {
            kind: parsed["kind"].as_str().unwrap_or_default().into(),
            version: parsed["apiVersion"].as_str().unwrap_or_default().into(),
        },
        integrated_time: int("integratedTime")?,
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: set,
        }),
        inclusion_proof: None,
        canonicalized_body: body,
    };
    Ok((entry, parsed))
}

/// Converts a legacy bundle into the equivalent v0.1 bundle.
pub fn to_bundle(v: &Value) -> Result<Bundle, LegacyError> {
    let (signature, content) = signature_and_material(v)?;
    let rb = v
        .get("rekorBundle")
        .ok_or_else(|| bad("no rekorBundle (a signature without a log entry)"))?;
    let (entry, parsed) = entry_from_rekor_bundle(rb)?;
    let kind = entry.kind_version.kind.as_str();
    if kind != "hashedrekord" {
        return Err(bad(format!(
            "a {kind} entry: only hashedrekord (sign-blob) legacy bundles are read"
        )));
    }
    let logged_alg = parsed
        .pointer("/spec/data/hash/algorithm")
        .and_then(Value::as_str);
    let algorithm: HashAlgorithm = logged_alg
        .and_then(sigstack_core::keys::HashAlgorithm::from_rekor_name)
        .ok_or_else(|| bad(format!("logged hash algorithm {logged_alg:?}")))?
        .into();
    let digest = parsed
        .pointer("/spec/data/hash/value")
        .and_then(Value::as_str)
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| bad("the logged body has no hex digest"))?;
    Ok(Bundle {
        media_type: BUNDLE_MEDIA_TYPE_V0_1.into(),
        verification_material: VerificationMaterial {
            content,
            tlog_entries: vec![entry],
            timestamp_verification_data: None,
        },
        content: BundleContent::MessageSignature(MessageSignature {
            message_digest: Some(HashOutput { algorithm, digest }),
            signature,
        }),
    })
}

/// A legacy attestation layer (`.att`): the DSSE envelope JSON, its
/// verifier (`cert`: base64 PEM certificate or public key, as in
/// [`to_bundle`]) and, when logged, its Rekor bundle: a v0.1 DSSE bundle.
pub fn dsse_to_bundle(
    envelope_json: &[u8],
    cert: &str,
    rekor_bundle: Option<&Value>,
) -> Result<Bundle, LegacyError> {
    let envelope: sigstack_core::trust::Envelope = serde_json::from_slice(envelope_json)
        .map_err(|e| bad(format!("the attestation is not a DSSE envelope: {e}")))?;
    // The material only: the envelope carries the signature.
    let (_, content) = signature_and_material(&serde_json::json!({
        "base64Signature": "",
        "cert": cert,
    }))?;
    let tlog_entries = match rekor_bundle {
        Some(rb) => vec![entry_from_rekor_bundle(rb)?.0],
        None => Vec::new(),
    };
    Ok(Bundle {
        media_type: BUNDLE_MEDIA_TYPE_V0_1.into(),
        verification_material: VerificationMaterial {
            content,
            tlog_entries,
            timestamp_verification_data: None,
        },
        content: BundleContent::DsseEnvelope(envelope),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{identity, strict_now, upstream};
    use serde_json::json;
    use sigstack_core::trust::TrustedRoot;
    use sigstack_core::verify::{verify_bundle, Artifact, Matcher};

    /// sigstore-python's v0.1 staging bundle written out in the legacy
    /// layout (what Go cosign 2.x wrote for the same signature).
    fn legacy_of_upstream() -> (Value, Vec<u8>) {
        let b: Value = serde_json::from_slice(&upstream("bundle.txt.sigstore")).unwrap();
        let vm = &b["verificationMaterial"];
        let cert = STANDARD
            .decode(
                vm["x509CertificateChain"]["certificates"][0]["rawBytes"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let e = &vm["tlogEntries"][0];
        let key_id = STANDARD
            .decode(e["logId"]["keyId"].as_str().unwrap())
            .unwrap();
        let digest = STANDARD
            .decode(
                b["messageSignature"]["messageDigest"]["digest"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let legacy = json!({
            "base64Signature": b["messageSignature"]["signature"],
            "cert": STANDARD.encode(sigstack_core::pem::encode("CERTIFICATE", &cert)),
            "rekorBundle": {
                "SignedEntryTimestamp": e["inclusionPromise"]["signedEntryTimestamp"],
                "Payload": {
                    "body": e["canonicalizedBody"],
                    "integratedTime": e["integratedTime"].as_str().unwrap().parse::<i64>().unwrap(),
                    "logIndex": e["logIndex"].as_str().unwrap().parse::<i64>().unwrap(),
                    "logID": hex::encode(key_id),
                }
            }
        });
        (legacy, digest)
    }

    fn verify(b: &Bundle, digest: &[u8]) -> Result<(), sigstack_core::verify::VerifyError> {
        let root = TrustedRoot::from_json(&upstream("trusted_root.sigstage.json")).unwrap();
        let policy = identity(
            Matcher::Exact("a@tny.town".into()),
            Matcher::regex(".").unwrap(),
        );
        let opts = strict_now();
        verify_bundle(
            b,
            &root,
            Artifact::Digest(sigstack_core::keys::HashAlgorithm::Sha256, digest),
            &policy,
            &opts,
        )
        .map(|_| ())
    }

    #[test]
    fn legacy_bundle_verifies_through_its_set() {
        let (legacy, digest) = legacy_of_upstream();
        assert!(is_legacy(&legacy));
        let b = to_bundle(&legacy).unwrap();
        b.validate().unwrap();
        verify(&b, &digest).unwrap();
        // The same with the certificate as base64 DER (image bundles).
        let mut der = legacy.clone();
        let pem = STANDARD.decode(legacy["cert"].as_str().unwrap()).unwrap();
        let cert = sigstack_core::pem::parse_labeled(&pem, "CERTIFICATE").unwrap();
        der["cert"] = json!(STANDARD.encode(cert));
        verify(&to_bundle(&der).unwrap(), &digest).unwrap();
        // Another artifact, a flipped SET byte, a changed log index: refused.
        let mut other = digest.clone();
        other[0] ^= 1;
        assert!(verify(&b, &other).is_err());
        let mut set = STANDARD
            .decode(
                legacy["rekorBundle"]["SignedEntryTimestamp"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        set[20] ^= 1;
        let mut bad_set = legacy.clone();
        bad_set["rekorBundle"]["SignedEntryTimestamp"] = json!(STANDARD.encode(set));
        assert!(verify(&to_bundle(&bad_set).unwrap(), &digest).is_err());
        let mut moved = legacy.clone();
        moved["rekorBundle"]["Payload"]["logIndex"] = json!(1);
        assert!(verify(&to_bundle(&moved).unwrap(), &digest).is_err());
    }

    #[test]
    fn malformed_legacy_bundles_are_refused() {
        let (legacy, _) = legacy_of_upstream();
        for (path, value) in [
            ("/base64Signature", json!("not base64!")),
            ("/cert", json!(42)),
            ("/rekorBundle/Payload/logID", json!("zz")),
            ("/rekorBundle/Payload/body", json!(STANDARD.encode(b"{}"))),
            ("/rekorBundle/Payload/integratedTime", json!("soon")),
        ] {
            let mut v = legacy.clone();
            *v.pointer_mut(path).unwrap() = value;
            assert!(to_bundle(&v).is_err(), "{path}");
        }
        let mut v = legacy.clone();
        v.as_object_mut().unwrap().remove("rekorBundle");
        assert!(to_bundle(&v).is_err());
        assert!(!is_legacy(
            &json!({"mediaType": "x", "base64Signature": ""})
        ));
    }
}

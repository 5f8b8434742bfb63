//! Rekor v1 entry kinds: validation, canonical bodies and index keys.
//!
//! The canonical body is the log leaf, so it must be byte-identical to what
//! upstream Rekor (Go) produces for the same request: clients recompute or
//! compare it. The rules, per kind, follow upstream `pkg/types/*`:
//! * keys and certificates are re-encoded as Go-style PEM;
//! * byte fields (`strfmt.Base64`) are re-encoded as standard padded base64;
//! * the result is serialized with RFC 8785 (JCS).

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sigstack_core::jcs;
use sigstack_core::keys::{HashAlgorithm, KeyMaterial, PublicKey};
pub use x509_names::subject_alt_names;

/// A validated, canonicalized entry ready to append.
#[derive(Debug, Clone)]
pub struct CanonicalEntry {
    pub kind: &'static str,
    pub api_version: &'static str,
    /// JCS bytes: the Merkle leaf.
    pub body: Vec<u8>,
    /// Search index keys (as upstream `IndexKeys()`).
    pub index_keys: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// Maps to 400 "error processing entry: ...".
    #[error("{0}")]
    Invalid(String),
    /// Signing algorithm outside the allow-list (400, fixed upstream message).
    #[error("entry algorithms are not allowed")]
    AlgorithmNotAllowed,
    /// Kind/version this log does not implement.
    #[error("{0}")]
    Unsupported(String),
}

fn invalid(msg: impl Into<String>) -> EntryError {
    EntryError::Invalid(msg.into())
}

/// Whether a search request may carry the server-computed (canonical) fields
/// instead of the proposed content, as `dsse` allows for lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Insert,
    Lookup,
}

/// Validates a `ProposedEntry` and produces its canonical body.
pub fn canonicalize(entry: &Value, purpose: Purpose) -> Result<CanonicalEntry, EntryError> {
    let obj = entry
        .as_object()
        .ok_or_else(|| invalid("entry must be a JSON object"))?;
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("missing kind"))?;
    let version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("missing apiVersion"))?;
    let spec = obj
        .get("spec")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("missing spec"))?;
    match (kind, version) {
        ("hashedrekord", "0.0.1") => hashedrekord_v001(spec),
        ("dsse", "0.0.1") => dsse_v001(spec, purpose),
        ("intoto", "0.0.2") => intoto_v002(spec),
        ("hashedrekord" | "dsse" | "intoto", v) => Err(EntryError::Unsupported(format!(
            "{kind} entry version {v} is not supported by this log"
        ))),
        (k, _) => Err(EntryError::Unsupported(format!(
            "entry kind {k:?} is not supported by this log"
        ))),
    }
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<&'a Map<String, Value>, EntryError> {
    field(obj, name)
        .ok_or_else(|| invalid(format!("missing {what}")))?
        .as_object()
        .ok_or_else(|| invalid(format!("{what} must be an object")))
}

fn string<'a>(obj: &'a Map<String, Value>, name: &str, what: &str) -> Result<&'a str, EntryError> {
    field(obj, name)
        .ok_or_else(|| invalid(format!("missing {what}")))?
        .as_str()
        .ok_or_else(|| invalid(format!("{what} must be a string")))
}

/// `strfmt.Base64`: standard base64 with padding.
fn b64(obj: &Map<String, Value>, name: &str, what: &str) -> Result<Vec<u8>, EntryError> {
    let s = string(obj, name, what)?;
    STANDARD
        .decode(s)
        .map_err(|_| invalid(format!("{what} is not valid base64")))
}

/// DSSE libraries accept standard base64 and fall back to URL-safe.
fn dsse_b64(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok()
}

fn jcs_bytes(v: &Value) -> Result<Vec<u8>, EntryError> {
    jcs::canonicalize(v).map_err(|e| invalid(format!("canonicalization failed: {e}")))
}

fn parse_key(pem: &[u8], what: &str) -> Result<KeyMaterial, EntryError> {
    KeyMaterial::from_pem(pem).map_err(|e| invalid(format!("invalid {what}: {e}")))
}

fn key_pem(km: &KeyMaterial) -> Result<String, EntryError> {
    km.to_pem().map_err(|e| invalid(e.to_string()))
}

fn subjects(km: &KeyMaterial) -> Vec<String> {
    match km {
        KeyMaterial::Certificates(certs) => subject_alt_names(&certs[0]),
        KeyMaterial::Key(_) => Vec::new(),
    }
}

/// Upstream's `AllowedClientSigningAlgorithms` for hashedrekord.
fn algorithm_allowed(key: &PublicKey, alg: HashAlgorithm) -> bool {
    use rsa::traits::PublicKeyParts;
    match key {
        PublicKey::P256(_) => alg == HashAlgorithm::Sha256,
        PublicKey::P384(_) => alg == HashAlgorithm::Sha384,
        PublicKey::P521(_) => alg == HashAlgorithm::Sha512,
        PublicKey::Rsa(k) => {
            matches!(k.size() * 8, 2048 | 3072 | 4096) && alg == HashAlgorithm::Sha256
        }
        PublicKey::Ed25519(_) => alg == HashAlgorithm::Sha512,
    }
}

fn hashedrekord_v001(spec: &Map<String, Value>) -> Result<CanonicalEntry, EntryError> {
    let sig_obj = object(spec, "signature", "signature")?;
    let sig = b64(sig_obj, "content", "signature content")?;
    if sig.is_empty() {
        return Err(invalid("missing signature content"));
    }
    let key_obj = object(sig_obj, "publicKey", "public key")?;
    let key_pem_in = b64(key_obj, "content", "public key content")?;
    if key_pem_in.is_empty() {
        return Err(invalid("missing publicKey content"));
    }
    let km = parse_key(&key_pem_in, "public key")?;
    let data = object(spec, "data", "data")?;
    let hash = object(data, "hash", "hash")?;
    let alg_name = string(hash, "algorithm", "hash algorithm")?;
    let value = string(hash, "value", "hash value")?;
    let alg = HashAlgorithm::from_rekor_name(alg_name)
        .ok_or_else(|| invalid(format!("unsupported hash algorithm {alg_name:?}")))?;
    if value.len() != alg.digest_len() * 2 {
        return Err(invalid("invalid value for hash"));
    }
    let digest = hex::decode(value).map_err(|_| invalid("invalid value for hash"))?;
    let key = km.public_key().map_err(|e| invalid(e.to_string()))?;
    key.verify_prehash(alg, &digest, &sig)
        .map_err(|e| invalid(format!("verifying signature: {e}")))?;
    if !algorithm_allowed(&key, alg) {
        return Err(EntryError::AlgorithmNotAllowed);
    }
    let pem = key_pem(&km)?;
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": alg_name, "value": value}},
            "signature": {
                "content": STANDARD.encode(&sig),
                "publicKey": {"content": STANDARD.encode(pem.as_bytes())},
            },
        },
    });
    let mut index_keys = vec![hex::encode(Sha256::digest(pem.as_bytes()))];
    index_keys.extend(subjects(&km));
    index_keys.push(format!("{alg_name}:{value}").to_lowercase());
    Ok(CanonicalEntry {
        kind: "hashedrekord",
        api_version: "0.0.1",
        body: jcs_bytes(&body)?,
        index_keys,
    })
}

pub use sigstack_core::verify::pae;

/// in-toto subject (and SLSA material) digests, as `alg:hex` index keys.
fn intoto_digest_keys(payload: &[u8]) -> Vec<String> {
    let Ok(stmt) = serde_json::from_slice::<Value>(payload) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let mut add = |list: Option<&Value>| {
        for item in list.and_then(Value::as_array).into_iter().flatten() {
            if let Some(d) = item.get("digest").and_then(Value::as_object) {
                for (alg, v) in d {
                    if let Some(v) = v.as_str() {
                        keys.push(format!("{alg}:{v}"));
                    }
                }
            }
        }
    };
    add(stmt.get("subject"));
    add(stmt.get("predicate").and_then(|p| p.get("materials")));
    keys
}

const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

struct DsseSig {
    sig: String,
}

/// Verifies every envelope signature under one of `keys`, as upstream: each
/// key must verify at least one signature, and every signature must be
/// verified by some key. Returns, per signature string, the key index.
fn verify_envelope(
    payload_type: &str,
    payload: &[u8],
    sigs: &[DsseSig],
    keys: &[KeyMaterial],
) -> Result<Vec<(String, usize)>, EntryError> {
    let message = pae(payload_type, payload);
    let mut verified: Vec<Option<usize>> = vec![None; sigs.len()];
    for (ki, km) in keys.iter().enumerate() {
        if verified.iter().all(Option::is_some) {
            break;
        }
        let key = km.public_key().map_err(|e| invalid(e.to_string()))?;
        let mut any = false;
        for (si, s) in sigs.iter().enumerate() {
            let Some(raw) = dsse_b64(&s.sig) else {
                continue;
            };
            if key
                .verify_message_with(HashAlgorithm::Sha256, &message, &raw)
                .is_ok()
            {
                any = true;
                verified[si] = Some(ki);
            }
        }
        if !any {
            return Err(invalid(
                "could not verify envelope: no signature verified with the provided key",
            ));
        }
    }
    let mut out = Vec::with_capacity(sigs.len());
    for (s, v) in sigs.iter().zip(verified) {
        let ki = v.ok_or_else(|| invalid("all signatures must have a key that verifies it"))?;
        out.push((s.sig.clone(), ki));
    }
    Ok(out)
}

fn dsse_v001(spec: &Map<String, Value>, purpose: Purpose) -> Result<CanonicalEntry, EntryError> {
    let canonical_fields = ["envelopeHash", "payloadHash", "signatures"];
    let Some(proposed) = field(spec, "proposedContent") else {
        if purpose == Purpose::Lookup && canonical_fields.iter().all(|f| field(spec, f).is_some()) {
            return dsse_from_canonical_fields(spec);
        }
        return Err(invalid(
            "either proposedContent or envelopeHash, payloadHash, and signatures must be present",
        ));
    };
    if canonical_fields.iter().any(|f| field(spec, f).is_some()) {
        return Err(invalid(
            "either proposedContent or envelopeHash, payloadHash, and signatures must be present but not both",
        ));
    }
    let proposed = proposed
        .as_object()
        .ok_or_else(|| invalid("proposedContent must be an object"))?;
    let envelope_str = string(proposed, "envelope", "proposed DSSE envelope")?;
    if envelope_str.is_empty() {
        return Err(invalid("missing proposed DSSE envelope"));
    }
    let verifiers = field(proposed, "verifiers")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("missing proposed verifiers"))?;
    if verifiers.is_empty() {
        return Err(invalid("missing proposed verifiers"));
    }
    let mut keys = Vec::with_capacity(verifiers.len());
    for v in verifiers {
        let s = v
            .as_str()
            .ok_or_else(|| invalid("an invalid null verifier was provided in ProposedContent"))?;
        let pem = STANDARD
            .decode(s)
            .map_err(|_| invalid("verifier is not valid base64"))?;
        keys.push(parse_key(&pem, "verifier")?);
    }
    let env: Value = serde_json::from_str(envelope_str)
        .map_err(|e| invalid(format!("invalid DSSE envelope: {e}")))?;
    let payload_type = env
        .get("payloadType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let payload = env
        .get("payload")
        .and_then(Value::as_str)
        .and_then(dsse_b64)
        .ok_or_else(|| invalid("DSSE envelope payload is missing or not base64"))?;
    let sigs: Vec<DsseSig> = env
        .get("signatures")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| DsseSig {
                    sig: s
                        .get("sig")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    if sigs.is_empty() {
        return Err(invalid("DSSE envelope must contain 1 or more signatures"));
    }
    let by_sig = verify_envelope(payload_type, &payload, &sigs, &keys)?;
    // Upstream keys the result by signature string, so a repeated signature
    // collapses to one, and sorts by it.
    let mut entries: Vec<(String, usize)> = by_sig;
    entries.sort();
    entries.dedup_by(|a, b| a.0 == b.0);
    let mut signatures = Vec::with_capacity(entries.len());
    let mut index_keys = Vec::new();
    for (sig, ki) in &entries {
        let pem = key_pem(&keys[*ki])?;
        signatures.push(json!({"signature": sig, "verifier": STANDARD.encode(pem.as_bytes())}));
    }
    for km in keys.iter() {
        let pem = key_pem(km)?;
        index_keys.push(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(pem.as_bytes()))
        ));
        index_keys.extend(subjects(km));
    }
    let payload_hash = hex::encode(Sha256::digest(&payload));
    let envelope_hash = hex::encode(Sha256::digest(envelope_str.as_bytes()));
    index_keys.push(format!("sha256:{payload_hash}"));
    index_keys.push(format!("sha256:{envelope_hash}"));
    if payload_type == INTOTO_PAYLOAD_TYPE {
        index_keys.extend(intoto_digest_keys(&payload));
    }
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": envelope_hash},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash},
            "signatures": signatures,
        },
    });
    Ok(CanonicalEntry {
        kind: "dsse",
        api_version: "0.0.1",
        body: jcs_bytes(&body)?,
        index_keys,
    })
}

/// A lookup by the canonical fields: rebuild the body without verification
/// (nothing is stored, the result only matches an existing leaf or not).
fn dsse_from_canonical_fields(spec: &Map<String, Value>) -> Result<CanonicalEntry, EntryError> {
    let hash = |name: &str| -> Result<Value, EntryError> {
        let h = object(spec, name, name)?;
        Ok(json!({
            "algorithm": string(h, "algorithm", "hash algorithm")?,
            "value": string(h, "value", "hash value")?,
        }))
    };
    let mut sigs: Vec<(String, String)> = Vec::new();
    for s in field(spec, "signatures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = s.as_object().ok_or_else(|| invalid("bad signature"))?;
        let verifier = b64(s, "verifier", "verifier")?;
        let km = parse_key(&verifier, "verifier")?;
        sigs.push((
            string(s, "signature", "signature")?.to_string(),
            STANDARD.encode(key_pem(&km)?.as_bytes()),
        ));
    }
    sigs.sort();
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": hash("envelopeHash")?,
            "payloadHash": hash("payloadHash")?,
            "signatures": sigs.iter().map(|(s, v)| json!({"signature": s, "verifier": v})).collect::<Vec<_>>(),
        },
    });
    Ok(CanonicalEntry {
        kind: "dsse",
        api_version: "0.0.1",
        body: jcs_bytes(&body)?,
        index_keys: Vec::new(),
    })
}

fn intoto_v002(spec: &Map<String, Value>) -> Result<CanonicalEntry, EntryError> {
    let content = object(spec, "content", "content property")?;
    let envelope = object(content, "envelope", "envelope property")?;
    // `payload` and each `sig` are strfmt.Base64 of the DSSE (base64) strings.
    let payload_b64 = String::from_utf8(b64(envelope, "payload", "envelope content")?)
        .map_err(|_| invalid("envelope payload is not base64 text"))?;
    if payload_b64.is_empty() {
        return Err(invalid("missing envelope content"));
    }
    let payload = STANDARD
        .decode(&payload_b64)
        .map_err(|_| invalid("could not decode envelope payload"))?;
    let payload_type = string(envelope, "payloadType", "payloadType content")?;
    if payload_type.is_empty() {
        return Err(invalid("missing payloadType content"));
    }
    let sig_list = field(envelope, "signatures")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| invalid("missing signatures content"))?;
    let hash = object(content, "hash", "envelope digest")?;
    let hash_alg = string(hash, "algorithm", "envelope digest algorithm")?;
    let hash_value = string(hash, "value", "envelope digest value")?;
    if hash_alg != "sha256" || hash_value.len() != 64 || hex::decode(hash_value).is_err() {
        return Err(invalid("error validating envelope digest"));
    }
    let mut sigs = Vec::new();
    let mut keys = Vec::new();
    let mut canonical_sigs = Vec::new();
    for s in sig_list {
        let s = s
            .as_object()
            .ok_or_else(|| invalid("missing signature entry"))?;
        let sig_raw = b64(s, "sig", "signature content")?;
        if sig_raw.is_empty() {
            return Err(invalid("missing signature content"));
        }
        let pk = b64(s, "publicKey", "publicKey content")?;
        if pk.is_empty() {
            return Err(invalid("missing publicKey content"));
        }
        keys.push(parse_key(&pk, "public key")?);
        let sig_str = String::from_utf8(sig_raw.clone())
            .map_err(|_| invalid("signature is not base64 text"))?;
        let keyid = field(s, "keyid")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut c = Map::new();
        if let Some(k) = keyid.as_deref().filter(|k| !k.is_empty()) {
            c.insert("keyid".into(), Value::String(k.to_string()));
        }
        c.insert("publicKey".into(), Value::String(STANDARD.encode(&pk)));
        c.insert("sig".into(), Value::String(STANDARD.encode(&sig_raw)));
        canonical_sigs.push(Value::Object(c));
        sigs.push(DsseSig { sig: sig_str });
    }
    verify_envelope(payload_type, &payload, &sigs, &keys)?;
    let payload_hash = hex::encode(Sha256::digest(&payload));
    let body = json!({
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {"content": {
            "envelope": {"payloadType": payload_type, "signatures": canonical_sigs},
            "hash": {"algorithm": hash_alg, "value": hash_value},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash},
        }},
    });
    let mut index_keys = Vec::new();
    for km in &keys {
        let pem = key_pem(km)?;
        index_keys.push(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(pem.as_bytes()))
        ));
        index_keys.extend(subjects(km));
    }
    index_keys.push(format!("sha256:{payload_hash}"));
    if payload_type == INTOTO_PAYLOAD_TYPE {
        index_keys.extend(intoto_digest_keys(&payload));
    }
    Ok(CanonicalEntry {
        kind: "intoto",
        api_version: "0.0.2",
        body: jcs_bytes(&body)?,
        index_keys,
    })
}

/// Subject alternative names of a certificate, as Go's
/// `cryptoutils.GetSubjectAlternateNames` lists them (email, URI, DNS, IP, and
/// Fulcio's otherName username).
mod x509_names {
    use der::Decode;
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::Certificate;

    const SAN_OID: der::asn1::ObjectIdentifier =
        der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17");
    const FULCIO_USERNAME_OID: der::asn1::ObjectIdentifier =
        der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");

    pub fn subject_alt_names(cert: &Certificate) -> Vec<String> {
        let mut out = Vec::new();
        let Some(exts) = &cert.tbs_certificate.extensions else {
            return out;
        };
        for ext in exts {
            if ext.extn_id != SAN_OID {
                continue;
            }
            let Ok(san) = SubjectAltName::from_der(ext.extn_value.as_bytes()) else {
                continue;
            };
            for name in san.0 {
                match name {
                    GeneralName::Rfc822Name(s) => out.push(s.to_string()),
                    GeneralName::DnsName(s) => out.push(s.to_string()),
                    GeneralName::UniformResourceIdentifier(s) => out.push(s.to_string()),
                    GeneralName::IpAddress(ip) => {
                        let b = ip.as_bytes();
                        if let Ok(v4) = <[u8; 4]>::try_from(b) {
                            out.push(std::net::Ipv4Addr::from(v4).to_string());
                        } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                            out.push(std::net::Ipv6Addr::from(v6).to_string());
                        }
                    }
                    // Fulcio's username SAN: 1.3.6.1.4.1.57264.1.7, UTF8String.
                    GeneralName::OtherName(other) if other.type_id == FULCIO_USERNAME_OID => {
                        if let Ok(s) = other.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                            out.push(s.as_str().to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;

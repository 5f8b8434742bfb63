//! Rekor v2 (rekor-tiles) entries: the create request as protojson, its
//! validation, and the canonical body (the leaf) byte for byte as rekor-tiles
//! writes it.
//!
//! The body must match upstream exactly because verifiers do not trust it:
//! sigstore-go rebuilds the expected entry from the bundle (leaf certificate
//! or key, default key details, digest, signature), encodes it the same way
//! and compares leaf hashes; sigstore-python compares field by field. So the
//! verifier bytes are stored as submitted, and [`hashedrekord_body`] is the
//! one encoder both the log and our verifier use.
//!
//! Encoding (protojson then RFC 8785): lowerCamel names, bytes as standard
//! padded base64, enums by name, zero values omitted, keys sorted.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::keys::{HashAlgorithm, PublicKey};
use crate::trust::PublicKeyDetails;

/// Why a create request was refused (each maps to HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("invalid request: {0}")]
    Malformed(String),
    #[error("invalid hashedrekord request: {0}")]
    HashedRekord(String),
    #[error("invalid dsse request: {0}")]
    Dsse(String),
}

/// Who verifies a signature: a DER certificate or a DER SPKI, as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verifier {
    PublicKey(Vec<u8>),
    Certificate(Vec<u8>),
}

impl Verifier {
    /// The key inside.
    pub fn public_key(&self) -> Result<PublicKey, String> {
        match self {
            Verifier::PublicKey(spki) => {
                PublicKey::from_spki_der(spki).map_err(|e| format!("public key: {e}"))
            }
            Verifier::Certificate(der) => crate::keys::parse_certificate_der(der)
                .and_then(|c| crate::keys::certificate_public_key(&c))
                .map_err(|e| format!("certificate: {e}")),
        }
    }

    fn to_json(&self, details: PublicKeyDetails) -> Value {
        let (name, bytes) = match self {
            Verifier::PublicKey(b) => ("publicKey", b),
            Verifier::Certificate(b) => ("x509Certificate", b),
        };
        let mut m = Map::new();
        m.insert("keyDetails".into(), json!(details_name(details)));
        m.insert(name.into(), json!({ "rawBytes": STANDARD.encode(bytes) }));
        Value::Object(m)
    }
}

/// A signature with its verifier (`dev.sigstore.rekor.v2.Signature`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub content: Vec<u8>,
    pub verifier: Verifier,
    pub key_details: PublicKeyDetails,
}

/// A validated `hashedRekordRequestV002`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedRekordRequest {
    pub digest: Vec<u8>,
    pub signature: Signature,
}

/// A validated `dsseRequestV002` (deprecated upstream and dropped from
/// rekor-tiles 2.3, but still what Go cosign 3.0 and sigstore-js 5 send for
/// DSSE): the envelope's payload, and each signature with the verifier that
/// verified it, sorted by the raw signature bytes as rekor-tiles sorted them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsseRequest {
    pub payload: Vec<u8>,
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

/// What a create request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRequest {
    HashedRekord(HashedRekordRequest),
    Dsse(DsseRequest),
}

/// rekor-tiles' DSSE limits.
const MAX_DSSE_VERIFIERS: usize = 10;
const MAX_DSSE_SIGNATURES: usize = 10;

fn details_name(d: PublicKeyDetails) -> String {
    serde_json::to_value(d)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The (key, hash) pairs the log accepts, rekor-tiles' default algorithm
/// registry: RSA PKCS#1 v1.5 2048/3072/4096 with SHA-256, ECDSA P-256/384/521
/// with their hashes, and Ed25519 only as Ed25519ph (a prehash is needed to
/// verify over a digest).
pub fn hash_for(key: &PublicKey, details: PublicKeyDetails) -> Result<HashAlgorithm, String> {
    use PublicKeyDetails as D;
    let ok = |h| Ok(h);
    match (key, details) {
        (PublicKey::P256(_), D::PKIX_ECDSA_P256_SHA_256) => ok(HashAlgorithm::Sha256),
        (PublicKey::P384(_), D::PKIX_ECDSA_P384_SHA_384) => ok(HashAlgorithm::Sha384),
        (PublicKey::P384(_), D::PKIX_ECDSA_P384_SHA_256) => ok(HashAlgorithm::Sha256),
        (PublicKey::P521(_), D::PKIX_ECDSA_P521_SHA_512) => ok(HashAlgorithm::Sha512),
        (PublicKey::P521(_), D::PKIX_ECDSA_P521_SHA_256) => ok(HashAlgorithm::Sha256),
        (PublicKey::Ed25519(_), D::PKIX_ED25519_PH) => ok(HashAlgorithm::Sha512),
        (PublicKey::Rsa(k), d) => {
            use rsa::traits::PublicKeyParts;
            let bits = k.size() * 8;
            match (bits, d) {
                (2048, D::PKIX_RSA_PKCS1V15_2048_SHA256)
                | (3072, D::PKIX_RSA_PKCS1V15_3072_SHA256)
                | (4096, D::PKIX_RSA_PKCS1V15_4096_SHA256) => ok(HashAlgorithm::Sha256),
                _ => Err(format!(
                    "RSA-{bits} with {} is not an accepted algorithm",
                    details_name(d)
                )),
            }
        }
        (PublicKey::Ed25519(_), D::PKIX_ED25519) => {
            Err("pure Ed25519 cannot sign a digest: use PKIX_ED25519_PH".into())
        }
        (k, d) => Err(format!(
            "key details {} do not fit a {} key",
            details_name(d),
            k.algorithm_name()
        )),
    }
}

/// sigstore-go's `GetDefaultAlgorithmDetails(key, WithED25519ph)`: what a
/// verifier assumes the signer sent.
pub fn default_details(key: &PublicKey) -> Result<PublicKeyDetails, String> {
    match key {
        PublicKey::Ed25519(_) => Ok(PublicKeyDetails::PKIX_ED25519_PH),
        k => crate::trust::build::key_details(k).map_err(|e| e.to_string()),
    }
}

// ---------------------------------------------------------------- parsing

/// protojson bytes: standard or URL-safe base64, padded or not.
fn pj_bytes(v: &Value, what: &str) -> Result<Vec<u8>, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("{what} must be a base64 string"))?;
    STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
        .map_err(|_| format!("{what} is not base64"))
}

/// The one field of `obj` named `camel` or `snake` (protojson accepts both);
/// every key must be one of `allowed` (pairs of spellings).
fn fields<'v>(
    obj: &'v Value,
    what: &str,
    allowed: &[(&str, &str)],
) -> Result<Vec<Option<&'v Value>>, String> {
    let m = obj
        .as_object()
        .ok_or_else(|| format!("{what} must be an object"))?;
    for k in m.keys() {
        if !allowed.iter().any(|(c, s)| k == c || k == s) {
            return Err(format!("unknown field {k:?} in {what}"));
        }
    }
    allowed
        .iter()
        .map(|(c, s)| match (m.get(*c), m.get(*s).filter(|_| c != s)) {
            (Some(_), Some(_)) => Err(format!("{what}: field {c} given twice")),
            (a, b) => Ok(a.or(b).filter(|v| !v.is_null())),
        })
        .collect()
}

fn pj_details(v: Option<&Value>) -> Result<PublicKeyDetails, String> {
    let Some(v) = v else {
        return Ok(PublicKeyDetails::Unspecified);
    };
    let name = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            // Enum numbers as protobuf-specs numbers them.
            let n = n.as_u64().ok_or("bad keyDetails number")?;
            // protobuf-specs `PublicKeyDetails` numbers (sigstore_common.proto).
            let by_number = [
                (0, "PUBLIC_KEY_DETAILS_UNSPECIFIED"),
                (1, "PKCS1_RSA_PKCS1V5"),
                (2, "PKCS1_RSA_PSS"),
                (3, "PKIX_RSA_PKCS1V5"),
                (4, "PKIX_RSA_PSS"),
                (5, "PKIX_ECDSA_P256_SHA_256"),
                (6, "PKIX_ECDSA_P256_HMAC_SHA_256"),
                (7, "PKIX_ED25519"),
                (8, "PKIX_ED25519_PH"),
                (9, "PKIX_RSA_PKCS1V15_2048_SHA256"),
                (10, "PKIX_RSA_PKCS1V15_3072_SHA256"),
                (11, "PKIX_RSA_PKCS1V15_4096_SHA256"),
                (12, "PKIX_ECDSA_P384_SHA_384"),
                (13, "PKIX_ECDSA_P521_SHA_512"),
                (14, "LMS_SHA256"),
                (15, "LMOTS_SHA256"),
                (16, "PKIX_RSA_PSS_2048_SHA256"),
                (17, "PKIX_RSA_PSS_3072_SHA256"),
                (18, "PKIX_RSA_PSS_4096_SHA256"),
                (19, "PKIX_ECDSA_P384_SHA_256"),
                (20, "PKIX_ECDSA_P521_SHA_256"),
                (21, "ML_DSA_65"),
                (22, "ML_DSA_87"),
                (23, "ML_DSA_44"),
            ];
            by_number
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, s)| s.to_string())
                .ok_or_else(|| format!("unknown keyDetails {n}"))?
        }
        _ => return Err("keyDetails must be a name".into()),
    };
    serde_json::from_value(Value::String(name.clone()))
        .map_err(|_| format!("unknown keyDetails {name:?}"))
}

fn parse_signature(v: &Value) -> Result<Signature, String> {
    let f = fields(
        v,
        "signature",
        &[("content", "content"), ("verifier", "verifier")],
    )?;
    let content = f[0]
        .map(|c| pj_bytes(c, "signature.content"))
        .transpose()?
        .unwrap_or_default();
    let (verifier, key_details) = match f[1] {
        Some(v) => parse_verifier(v)?,
        None => return Err("signature.verifier is required".into()),
    };
    Ok(Signature {
        content,
        verifier,
        key_details,
    })
}

/// Parses a `CreateEntryRequest` (protojson; camelCase or proto names;
/// unknown fields refused, as rekor-tiles' gateway does) and validates it:
/// non-empty fields, a parsable key or certificate, an accepted (key, hash)
/// pair, a digest of that hash's length, and a signature that verifies.
pub fn parse_create_request(body: &[u8]) -> Result<CreateRequest, EntryError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| EntryError::Malformed(format!("body is not JSON: {e}")))?;
    let top = fields(
        &v,
        "request",
        &[
            ("hashedRekordRequestV002", "hashed_rekord_request_v002"),
            ("dsseRequestV002", "dsse_request_v002"),
        ],
    )
    .map_err(EntryError::Malformed)?;
    match (top[0], top[1]) {
        (Some(h), None) => parse_hashedrekord(h).map(CreateRequest::HashedRekord),
        (None, Some(d)) => parse_dsse(d).map(CreateRequest::Dsse),
        _ => Err(EntryError::Malformed(
            "exactly one of hashedRekordRequestV002 or dsseRequestV002 is required".into(),
        )),
    }
}

fn parse_verifier(v: &Value) -> Result<(Verifier, PublicKeyDetails), String> {
    let vf = fields(
        v,
        "verifier",
        &[
            ("publicKey", "public_key"),
            ("x509Certificate", "x509_certificate"),
            ("keyDetails", "key_details"),
        ],
    )?;
    let raw = |v: &Value, what: &str| -> Result<Vec<u8>, String> {
        let f = fields(v, what, &[("rawBytes", "raw_bytes")])?;
        f[0].map(|b| pj_bytes(b, what))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let verifier = match (vf[0], vf[1]) {
        (Some(k), None) => Verifier::PublicKey(raw(k, "publicKey.rawBytes")?),
        (None, Some(c)) => Verifier::Certificate(raw(c, "x509Certificate.rawBytes")?),
        _ => return Err("the verifier needs exactly one of publicKey or x509Certificate".into()),
    };
    match &verifier {
        Verifier::PublicKey(b) | Verifier::Certificate(b) if b.is_empty() => {
            return Err("missing verifier".into())
        }
        _ => {}
    }
    Ok((verifier, pj_details(vf[2])?))
}

fn parse_dsse(v: &Value) -> Result<DsseRequest, EntryError> {
    let bad = EntryError::Dsse;
    let f = fields(
        v,
        "dsseRequestV002",
        &[("envelope", "envelope"), ("verifiers", "verifiers")],
    )
    .map_err(EntryError::Malformed)?;
    let env = f[0].ok_or_else(|| bad("missing envelope".into()))?;
    let ef = fields(
        env,
        "envelope",
        &[
            ("payload", "payload"),
            ("payloadType", "payload_type"),
            ("signatures", "signatures"),
        ],
    )
    .map_err(EntryError::Malformed)?;
    let payload = ef[0]
        .map(|p| pj_bytes(p, "envelope.payload"))
        .transpose()
        .map_err(EntryError::Malformed)?
        .unwrap_or_default();
    let payload_type = match ef[1] {
        Some(Value::String(s)) => s.clone(),
        None => String::new(),
        Some(_) => return Err(EntryError::Malformed("payloadType must be a string".into())),
    };
    let mut sigs = Vec::new();
    for s in ef[2].and_then(Value::as_array).into_iter().flatten() {
        let sf = fields(
            s,
            "envelope signature",
            &[("sig", "sig"), ("keyid", "keyid")],
        )
        .map_err(EntryError::Malformed)?;
        let sig = sf[0]
            .map(|b| pj_bytes(b, "signature.sig"))
            .transpose()
            .map_err(EntryError::Malformed)?
            .unwrap_or_default();
        if sig.is_empty() {
            return Err(bad("envelope signature empty".into()));
        }
        sigs.push(sig);
    }
    let verifiers = f[1]
        .and_then(Value::as_array)
        .map(|a| a.iter().map(parse_verifier).collect::<Result<Vec<_>, _>>())
        .transpose()
        .map_err(EntryError::Malformed)?
        .unwrap_or_default();
    if verifiers.is_empty() {
        return Err(bad("missing verifiers".into()));
    }
    if verifiers.len() > MAX_DSSE_VERIFIERS {
        return Err(bad(format!(
            "too many verifiers: {}, max allowed: {MAX_DSSE_VERIFIERS}",
            verifiers.len()
        )));
    }
    for (i, (a, _)) in verifiers.iter().enumerate() {
        if verifiers[..i].iter().any(|(b, _)| b == a) {
            return Err(bad("duplicate verifier".into()));
        }
    }
    if sigs.is_empty() {
        return Err(bad("envelope missing signatures".into()));
    }
    if sigs.len() > MAX_DSSE_SIGNATURES {
        return Err(bad(format!(
            "too many signatures: {}, max allowed: {MAX_DSSE_SIGNATURES}",
            sigs.len()
        )));
    }
    // Every verifier's algorithm is checked before any signature, then each
    // signature must verify over the PAE with some verifier.
    let keys = verifiers
        .iter()
        .map(|(v, d)| {
            let k = v.public_key()?;
            let h = hash_for(&k, *d)?;
            Ok((k, h))
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(bad)?;
    let pae = crate::verify::pae(&payload_type, &payload);
    let mut signatures = Vec::new();
    for sig in &sigs {
        let found = keys
            .iter()
            .position(|(k, h)| k.verify_prehash(*h, &h.digest(&pae), sig).is_ok())
            .ok_or_else(|| bad("all signatures must have a key that verifies it".into()))?;
        let (verifier, details) = &verifiers[found];
        signatures.push(Signature {
            content: sig.clone(),
            verifier: verifier.clone(),
            key_details: *details,
        });
    }
    signatures.sort_by(|a, b| a.content.cmp(&b.content));
    signatures.dedup_by(|a, b| a.content == b.content);
    Ok(DsseRequest {
        payload,
        payload_type,
        signatures,
    })
}

fn parse_hashedrekord(v: &Value) -> Result<HashedRekordRequest, EntryError> {
    let bad = EntryError::HashedRekord;
    let f = fields(
        v,
        "hashedRekordRequestV002",
        &[("digest", "digest"), ("signature", "signature")],
    )
    .map_err(EntryError::Malformed)?;
    let digest = f[0]
        .map(|d| pj_bytes(d, "digest"))
        .transpose()
        .map_err(EntryError::Malformed)?
        .unwrap_or_default();
    let signature = parse_signature(f[1].ok_or_else(|| bad("missing signature".into()))?)
        .map_err(EntryError::Malformed)?;
    let req = HashedRekordRequest { digest, signature };
    validate_hashedrekord(&req).map_err(bad)?;
    Ok(req)
}

fn validate_hashedrekord(req: &HashedRekordRequest) -> Result<(), String> {
    let s = &req.signature;
    if s.content.is_empty() {
        return Err("missing signature".into());
    }
    if req.digest.is_empty() {
        return Err("missing digest".into());
    }
    let key = s.verifier.public_key()?;
    let hash = hash_for(&key, s.key_details)?;
    if req.digest.len() != hash.digest_len() {
        return Err(format!(
            "the digest is {} bytes, {} needs {}",
            req.digest.len(),
            hash.rekor_name(),
            hash.digest_len()
        ));
    }
    key.verify_prehash(hash, &req.digest, &s.content)
        .map_err(|_| "the signature does not verify over the digest".to_string())
}

// ---------------------------------------------------------------- bodies

/// The canonical body of a hashedrekord 0.0.2 entry.
pub fn hashedrekord_body(req: &HashedRekordRequest) -> Result<Vec<u8>, String> {
    let key = req.signature.verifier.public_key()?;
    let hash = hash_for(&key, req.signature.key_details)?;
    let algorithm =
        serde_json::to_value(crate::trust::HashAlgorithm::from(hash)).map_err(|e| e.to_string())?;
    let v = json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": algorithm, "digest": STANDARD.encode(&req.digest)},
            "signature": {
                "content": STANDARD.encode(&req.signature.content),
                "verifier": req.signature.verifier.to_json(req.signature.key_details),
            },
        }},
    });
    crate::jcs::canonicalize(&v).map_err(|e| e.to_string())
}

/// The canonical body of a dsse 0.0.2 entry: the payload's SHA-256 and the
/// signatures with their verifiers.
pub fn dsse_body(req: &DsseRequest) -> Result<Vec<u8>, String> {
    let sigs: Vec<Value> = req
        .signatures
        .iter()
        .map(|s| {
            json!({
                "content": STANDARD.encode(&s.content),
                "verifier": s.verifier.to_json(s.key_details),
            })
        })
        .collect();
    let v = json!({
        "apiVersion": "0.0.2",
        "kind": "dsse",
        "spec": {"dsseV002": {
            "payloadHash": {
                "algorithm": "SHA2_256",
                "digest": STANDARD.encode(HashAlgorithm::Sha256.digest(&req.payload)),
            },
            "signatures": sigs,
        }},
    });
    crate::jcs::canonicalize(&v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;

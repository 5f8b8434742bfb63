//! Bundle verification: the checks cosign v3 (through sigstore-go) runs for
//! `verify-blob --bundle`, against a trusted root and nothing else.
//!
//! [`verify_bundle`] is a pure function of the bundle, the trusted root, the
//! artifact, the policy and the clock: it makes no network call, so a client
//! that has a bundle and a trusted root verifies offline by construction.
//!
//! Order and rules (sigstore-go `pkg/verify/signed_entity.go`):
//! 1. the bundle's structure ([`Bundle::validate`]);
//! 2. every transparency-log entry: its log is in `tlogs` (found by log ID),
//!    its SET and/or inclusion proof + signed checkpoint verify with that
//!    log's key, and its body records exactly this bundle's signature, key or
//!    certificate, and digest. Each verified v1 entry yields an observer time
//!    (its integrated time);
//!    2b. every RFC 3161 timestamp verifies over the signature bytes against
//!    `timestampAuthorities` ([`crate::tsp`]) and yields an observer time;
//! 3. keyless: the leaf chains to a `certificateAuthorities` entry at every
//!    observer time (the current time if there is none), carries the
//!    codeSigning EKU, has an SCT from a `ctlogs` log, and matches the
//!    identity policy;
//! 4. the signature over the artifact (message signature) or over the DSSE
//!    PAE, with the artifact digest matching the bundle's.
//!
//! Every failure is a [`VerifyError`] whose message names what failed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use der::asn1::Utf8StringRef;
use der::{Decode, Encode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};
use x509_cert::Certificate;

use crate::keys::{self, HashAlgorithm, PublicKey};
use crate::note::{self, SignedNote};
use crate::trust::{
    Bundle, BundleContent, TransparencyLogEntry, TransparencyLogInstance, TrustedRoot,
    VerificationMaterialContent,
};
use crate::{ct, jcs, merkle, tsp};

const OID_EKU_CODE_SIGNING: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const OID_SAN: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.17");
const OID_EKU: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_BASIC_CONSTRAINTS: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.5.29.19");
/// Fulcio's OIDC issuer, DER UTF8String (current form).
pub const OID_ISSUER_V2: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio's OIDC issuer, raw bytes (deprecated form, still read).
pub const OID_ISSUER_V1: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// The otherName SAN type Fulcio uses for username identities.
const OID_OTHERNAME_USERNAME: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");

/// Why a bundle did not verify. Each message names the failed check.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("invalid bundle: {0}")]
    Bundle(String),
    #[error("transparency log entry {index}: {reason}")]
    Tlog { index: usize, reason: String },
    #[error("no transparency log entry in the bundle (a log entry is required unless the tlog check is skipped)")]
    NoTlogEntry,
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("certificate chain: {0}")]
    Chain(String),
    #[error("SCT: {0}")]
    Sct(String),
    #[error("identity: {0}")]
    Identity(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error("artifact: {0}")]
    Artifact(String),
    #[error("RFC 3161 timestamp {index}: {reason}")]
    Timestamp { index: usize, reason: String },
    #[error("no verified RFC 3161 timestamp in the bundle (signed timestamps are required)")]
    NoTimestamp,
    #[error("{0}")]
    Unsupported(String),
    #[error("policy: {0}")]
    Policy(String),
}

/// A string test: exact, or an RE2-semantics regular expression matched
/// **unanchored**, as Go's `regexp.MatchString` (cosign's `-regexp` flags).
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    /// Compiles `pattern` as cosign does (Go RE2 syntax, unanchored).
    pub fn regex(pattern: &str) -> Result<Self, VerifyError> {
        regex::Regex::new(pattern).map(Matcher::Regex).map_err(|e| {
            VerifyError::Policy(format!("invalid regular expression {pattern:?}: {e}"))
        })
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(e) => e == s,
            Matcher::Regex(r) => r.is_match(s),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(e) => write!(f, "{e:?}"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// Who must have signed, for keyless bundles.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    /// Compared with the certificate's SAN: the first URI, else the first
    /// email, else the Fulcio username otherName (sigstore-go's choice).
    pub subject: Matcher,
    /// Compared with the OIDC issuer extension.
    pub issuer: Matcher,
    /// Further Fulcio extensions that must equal a value exactly (the
    /// `--certificate-github-workflow-*` flags use the raw `1.3.6.1.4.1.57264.1.2`
    /// to `.6` extensions).
    pub extensions: Vec<(der::oid::ObjectIdentifier, String)>,
}

/// What the signature must come from.
#[derive(Debug, Clone)]
pub enum SignerPolicy {
    /// A key the verifier holds (`--key`): the bundle's hint is ignored; a
    /// certificate in the bundle must carry this key.
    Key(PublicKey),
    /// A Fulcio certificate with this identity.
    Identity(IdentityPolicy),
}

/// The artifact the signature is about.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    Bytes(&'a [u8]),
    /// Only a digest is known (`sha256:<hex>` on the command line).
    Digest(HashAlgorithm, &'a [u8]),
    /// No artifact: only for DSSE bundles whose statement subject is not to
    /// be checked (cosign's `--check-claims=false`); a message signature
    /// always needs the artifact.
    Unchecked,
}

/// Checks that may be relaxed, as cosign's `--insecure-ignore-*` flags do.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub ignore_tlog: bool,
    pub ignore_sct: bool,
    /// Require at least one RFC 3161 timestamp (cosign's
    /// `--use-signed-timestamps`).
    pub require_timestamp: bool,
    /// The clock, for certificates when no log entry gives a time.
    pub now: OffsetDateTime,
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The verified times the certificate was checked at (log integrated times).
    pub observer_times: Vec<OffsetDateTime>,
    /// The identity (SAN) and issuer, for keyless bundles.
    pub subject: Option<String>,
    pub issuer: Option<String>,
    /// Global log indices of the verified entries.
    pub log_indices: Vec<i64>,
}

/// Verifies `bundle` about `artifact` against `root` and `policy`.
pub fn verify_bundle(
    bundle: &Bundle,
    root: &TrustedRoot,
    artifact: Artifact<'_>,
    policy: &SignerPolicy,
    opts: &Options,
) -> Result<Verified, VerifyError> {
    bundle
        .validate()
        .map_err(|e| VerifyError::Bundle(e.to_string()))?;
    let signer = Signer::from_bundle(bundle, policy)?;
    let content = SignedContent::from_bundle(bundle)?;

    // 2. The log entries. Their times are what the certificate is checked at.
    let entries = &bundle.verification_material.tlog_entries;
    let mut observer_times = Vec::new();
    let mut log_indices = Vec::new();
    if !opts.ignore_tlog {
        if entries.is_empty() {
            return Err(VerifyError::NoTlogEntry);
        }
        for (index, entry) in entries.iter().enumerate() {
            let t = verify_entry(entry, root, &signer, &content)
                .map_err(|reason| VerifyError::Tlog { index, reason })?;
            observer_times.extend(t);
            log_indices.push(entry.log_index);
        }
    }

    // 2b. RFC 3161 timestamps over the signature: each must verify, and each
    // is a time the certificate must be valid at (sigstore-go's observer
    // timestamps).
    let stamps = bundle
        .verification_material
        .timestamp_verification_data
        .as_ref()
        .map(|t| t.rfc3161_timestamps.as_slice())
        .unwrap_or_default();
    for (index, ts) in stamps.iter().enumerate() {
        let v = tsp::verify_timestamp(
            &ts.signed_timestamp,
            content.signature(),
            &root.timestamp_authorities,
            None,
        )
        .map_err(|e| VerifyError::Timestamp { index, reason: e.0 })?;
        observer_times.push(v.time);
    }
    // Rekor v2 entries carry no integrated time: a bundle whose entries are
    // all v2 needs a signed timestamp (cosign sets --use-signed-timestamps).
    let only_v2 = !opts.ignore_tlog && !entries.is_empty() && entries.iter().all(is_v2);
    if (opts.require_timestamp || only_v2) && stamps.is_empty() {
        return Err(VerifyError::NoTimestamp);
    }

    // 3. The certificate.
    let (subject, issuer) = match (&signer, policy) {
        (Signer::Certificate { cert, der, .. }, SignerPolicy::Identity(identity)) => {
            let times = if observer_times.is_empty() {
                vec![opts.now]
            } else {
                observer_times.clone()
            };
            let issuer_der = verify_chain(cert, root, &times)?;
            if !opts.ignore_sct {
                verify_sct(der, &issuer_der, root)?;
            }
            let (subject, issuer) = check_identity(cert, identity)?;
            (Some(subject), Some(issuer))
        }
        _ => (None, None),
    };

    // 4. The signature.
    content.verify(signer.key(), artifact)?;

    Ok(Verified {
        observer_times,
        subject,
        issuer,
        log_indices,
    })
}

/// The key the signature is checked with, and where it came from.
enum Signer {
    Key(PublicKey),
    Certificate {
        cert: Box<Certificate>,
        der: Vec<u8>,
        key: PublicKey,
    },
}

impl Signer {
    fn from_bundle(bundle: &Bundle, policy: &SignerPolicy) -> Result<Self, VerifyError> {
        let leaf = match &bundle.verification_material.content {
            VerificationMaterialContent::Certificate(c) => Some(&c.raw_bytes),
            VerificationMaterialContent::X509CertificateChain(chain) => Some(
                &chain
                    .certificates
                    .first()
                    .ok_or_else(|| VerifyError::Bundle("empty certificate chain".into()))?
                    .raw_bytes,
            ),
            VerificationMaterialContent::PublicKey(_) => None,
        };
        match (leaf, policy) {
            (None, SignerPolicy::Key(k)) => Ok(Signer::Key(k.clone())),
            (None, SignerPolicy::Identity(_)) => Err(VerifyError::Policy(
                "the bundle was signed with a key, not a certificate: verify it with --key".into(),
            )),
            (Some(der), policy) => {
                let cert = keys::parse_certificate_der(der)
                    .map_err(|e| VerifyError::Certificate(e.to_string()))?;
                let key = keys::certificate_public_key(&cert)
                    .map_err(|e| VerifyError::Certificate(e.to_string()))?;
                if let SignerPolicy::Key(k) = policy {
                    if *k != key {
                        return Err(VerifyError::Policy(
                            "the bundle's certificate does not hold the given key".into(),
                        ));
                    }
                    return Ok(Signer::Key(key));
                }
                Ok(Signer::Certificate {
                    cert: Box::new(cert),
                    der: der.clone(),
                    key,
                })
            }
        }
    }

    fn key(&self) -> &PublicKey {
        match self {
            Signer::Key(k) | Signer::Certificate { key: k, .. } => k,
        }
    }

    /// Whether `pem` (a log body's key or certificate PEM, read as Rekor
    /// reads it: [`keys::KeyMaterial`]) names this signer.
    fn matches_pem(&self, pem: &[u8]) -> bool {
        let Ok(material) = keys::KeyMaterial::from_pem(pem) else {
            return false;
        };
        match (self, &material) {
            (Signer::Certificate { der, .. }, keys::KeyMaterial::Certificates(chain)) => {
                keys::certificate_der(&chain[0]).is_ok_and(|d| d == *der)
            }
            // A key-verified bundle may still carry (and log) a certificate.
            (Signer::Key(k), m) => m.public_key().is_ok_and(|p| p == *k),
            _ => false,
        }
    }
}

/// What was signed: a digest (message signature) or a DSSE envelope.
enum SignedContent<'b> {
    Message {
        digest: Option<(HashAlgorithm, &'b [u8])>,
        signature: &'b [u8],
    },
    Dsse {
        payload_type: &'b str,
        payload: &'b [u8],
        signature: &'b [u8],
    },
}

impl<'b> SignedContent<'b> {
    fn from_bundle(bundle: &'b Bundle) -> Result<Self, VerifyError> {
        match &bundle.content {
            BundleContent::MessageSignature(m) => {
                let digest = match &m.message_digest {
                    Some(d) => Some((
                        d.algorithm.to_keys().ok_or_else(|| {
                            VerifyError::Unsupported(format!(
                                "message digest algorithm {:?}",
                                d.algorithm
                            ))
                        })?,
                        d.digest.as_slice(),
                    )),
                    None => None,
                };
                Ok(SignedContent::Message {
                    digest,
                    signature: &m.signature,
                })
            }
            BundleContent::DsseEnvelope(env) => {
                // sigstore-go accepts exactly one signature.
                let [sig] = env.signatures.as_slice() else {
                    return Err(VerifyError::Bundle(format!(
                        "a DSSE envelope must carry exactly one signature, not {}",
                        env.signatures.len()
                    )));
                };
                Ok(SignedContent::Dsse {
                    payload_type: &env.payload_type,
                    payload: &env.payload,
                    signature: &sig.sig,
                })
            }
        }
    }

    fn signature(&self) -> &'b [u8] {
        match self {
            SignedContent::Message { signature, .. } | SignedContent::Dsse { signature, .. } => {
                signature
            }
        }
    }

    /// Step 4: the signature, and the artifact against the signed digest.
    fn verify(&self, key: &PublicKey, artifact: Artifact<'_>) -> Result<(), VerifyError> {
        match *self {
            SignedContent::Message { digest, signature } => {
                let (alg, bundle_digest) = match digest {
                    Some((alg, d)) => (alg, Some(d)),
                    None => (key.default_hash(), None),
                };
                let (alg, artifact_digest) = match artifact {
                    Artifact::Bytes(b) => (alg, alg.digest(b)),
                    Artifact::Digest(a, d) => (a, d.to_vec()),
                    Artifact::Unchecked => {
                        return Err(VerifyError::Artifact(
                            "a message signature needs the artifact or its digest".into(),
                        ))
                    }
                };
                if let Some(d) = bundle_digest {
                    if d != artifact_digest.as_slice() {
                        return Err(VerifyError::Artifact(
                            "the artifact's digest does not match the bundle's message digest"
                                .into(),
                        ));
                    }
                }
                let ok = match (key, artifact) {
                    // Pure Ed25519 signs the message itself.
                    (PublicKey::Ed25519(_), Artifact::Bytes(b)) => key.verify_message(b, signature),
                    _ => key.verify_prehash(alg, &artifact_digest, signature),
                };
                ok.map_err(|e| VerifyError::Signature(format!("over the artifact: {e}")))
            }
            SignedContent::Dsse {
                payload_type,
                payload,
                signature,
            } => {
                key.verify_message(&pae(payload_type, payload), signature)
                    .map_err(|e| VerifyError::Signature(format!("over the DSSE envelope: {e}")))?;
                if matches!(artifact, Artifact::Unchecked) {
                    return Ok(());
                }
                check_statement_subject(payload, artifact)
            }
        }
    }
}

/// DSSE pre-authentication encoding (`DSSEv1 <len> <type> <len> <payload>`).
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// An in-toto statement must name the artifact among its subjects.
fn check_statement_subject(payload: &[u8], artifact: Artifact<'_>) -> Result<(), VerifyError> {
    let stmt: Value = serde_json::from_slice(payload)
        .map_err(|e| VerifyError::Artifact(format!("the DSSE payload is not JSON: {e}")))?;
    let subjects = stmt
        .get("subject")
        .and_then(Value::as_array)
        .ok_or_else(|| VerifyError::Artifact("the in-toto statement has no subject".into()))?;
    let wanted: Vec<(&str, String)> = match artifact {
        Artifact::Bytes(b) => [
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ]
        .into_iter()
        .map(|a| (a.rekor_name(), hex::encode(a.digest(b))))
        .collect(),
        Artifact::Digest(a, d) => vec![(a.rekor_name(), hex::encode(d))],
        Artifact::Unchecked => return Ok(()),
    };
    let found = subjects.iter().any(|s| {
        let Some(digests) = s.get("digest").and_then(Value::as_object) else {
            return false;
        };
        wanted.iter().any(|(alg, hex)| {
            digests
                .get(*alg)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(hex))
        })
    });
    if found {
        Ok(())
    } else {
        Err(VerifyError::Artifact(
            "no subject of the in-toto statement has the artifact's digest".into(),
        ))
    }
}

fn unix(secs: i64) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| format!("time {secs} is out of range"))
}

/// Finds the log of `key_id` in `logs`.
fn find_log<'r>(
    logs: &'r [TransparencyLogInstance],
    key_id: &[u8],
) -> Option<&'r TransparencyLogInstance> {
    logs.iter().find(|l| l.log_id.key_id == key_id)
}

fn log_key(log: &TransparencyLogInstance) -> Result<PublicKey, String> {
    let raw = log
        .public_key
        .raw_bytes
        .as_deref()
        .ok_or("the trusted root's log entry has no key")?;
    PublicKey::from_spki_der(raw).map_err(|e| format!("the trusted root's log key: {e}"))
}

/// Step 2 for one entry. Returns the entry's integrated time when it is a
/// verified observer time (Rekor v1 entries; tiles-log entries have none).
fn verify_entry(
    entry: &TransparencyLogEntry,
    root: &TrustedRoot,
    signer: &Signer,
    content: &SignedContent<'_>,
) -> Result<Option<OffsetDateTime>, String> {
    let log = find_log(&root.tlogs, &entry.log_id.key_id).ok_or_else(|| {
        format!(
            "log ID {} is not a transparency log of the trusted root",
            hex::encode(&entry.log_id.key_id)
        )
    })?;
    let key = log_key(log)?;
    let integrated = if entry.integrated_time > 0 {
        Some(unix(entry.integrated_time)?)
    } else {
        None
    };
    if let (Some(t), Some(range)) = (integrated, &log.public_key.valid_for) {
        if !range.contains(t) {
            return Err("the log's key was not valid at the entry's integrated time".into());
        }
    }
    if entry.inclusion_promise.is_none() && entry.inclusion_proof.is_none() {
        return Err("neither an inclusion promise nor an inclusion proof".into());
    }
    if let Some(promise) = &entry.inclusion_promise {
        let set_payload = jcs::canonicalize(&serde_json::json!({
            "body": STANDARD.encode(&entry.canonicalized_body),
            "integratedTime": entry.integrated_time,
            "logID": hex::encode(&entry.log_id.key_id),
            "logIndex": entry.log_index,
        }))
        .map_err(|e| format!("SET payload: {e}"))?;
        key.verify_message(&set_payload, &promise.signed_entry_timestamp)
            .map_err(|_| "the signed entry timestamp (SET) does not verify with the log's key")?;
    }
    if let Some(proof) = &entry.inclusion_proof {
        verify_inclusion_proof(entry, proof, &key, log)?;
    } else if is_v2(entry) {
        return Err("a Rekor v2 entry needs an inclusion proof".into());
    }
    check_body(entry, signer, content)?;
    Ok(integrated)
}

/// Whether an entry is from a Rekor v2 (tiles) log, whose checkpoints are
/// C2SP notes under the log's host name. (`intoto` 0.0.2 is a v1 kind.)
fn is_v2(entry: &TransparencyLogEntry) -> bool {
    matches!(
        (
            entry.kind_version.kind.as_str(),
            entry.kind_version.version.as_str()
        ),
        ("hashedrekord", "0.0.2") | ("dsse", "0.0.2")
    )
}

/// The host of a URL, without port (brackets kept off IPv6): a v2 log's
/// checkpoint origin and key name (sigstore-go derives it from `baseUrl` the
/// same way), and a v1 log's default checkpoint signer name.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

fn verify_inclusion_proof(
    entry: &TransparencyLogEntry,
    proof: &crate::trust::InclusionProof,
    key: &PublicKey,
    log: &TransparencyLogInstance,
) -> Result<(), String> {
    let to_hash = |b: &[u8]| -> Result<merkle::Hash, String> {
        b.try_into()
            .map_err(|_| format!("a proof hash is {} bytes, not 32", b.len()))
    };
    let (Ok(index), Ok(size)) = (
        u64::try_from(proof.log_index),
        u64::try_from(proof.tree_size),
    ) else {
        return Err("negative index or size in the inclusion proof".into());
    };
    let root_hash = to_hash(&proof.root_hash)?;
    let path = proof
        .hashes
        .iter()
        .map(|h| to_hash(h))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = merkle::hash_leaf(&entry.canonicalized_body);
    merkle::verify_inclusion(index, size, &leaf, &path, &root_hash)
        .map_err(|e| format!("inclusion proof: {e}"))?;

    let text = proof
        .checkpoint
        .as_ref()
        .map(|c| c.envelope.as_str())
        .unwrap_or_default();
    let note = SignedNote::parse(text).map_err(|e| format!("checkpoint: {e}"))?;
    // A v1 checkpoint is signed under the log's name with the hint
    // SHA-256(SPKI)[..4]; the name is not bound to the trusted root (only its
    // key is), so any line with the key's hint must verify and one must exist.
    // A v2 checkpoint's origin and key name are the log URL's host, and an
    // Ed25519 key's hint is its C2SP key ID under that name (ECDSA: the same
    // SHA-256(SPKI) hint). Other lines (witness cosignatures) are skipped.
    let spki = key.to_spki_der();
    let v2 = is_v2(entry);
    let origin = url_host(&log.base_url).unwrap_or_default();
    let hint = match key {
        PublicKey::Ed25519(k) if v2 => {
            note::key_hint(&note::c2sp_ed25519_key_id(origin, k.as_bytes()))
        }
        _ => note::rekor_v1_key_hint(&spki),
    };
    let mut verified = false;
    for sig in note.signatures.iter().filter(|s| s.key_hint == hint) {
        if v2 && sig.name != origin {
            continue;
        }
        key.verify_message(note.body.as_bytes(), &sig.signature)
            .map_err(|_| format!("the checkpoint signature by {:?} does not verify", sig.name))?;
        verified = true;
    }
    if !verified {
        return Err("the checkpoint carries no signature by the log's key".into());
    }
    let cp = note.checkpoint().map_err(|e| format!("checkpoint: {e}"))?;
    if cp.size != size || cp.root_hash != root_hash {
        return Err("the checkpoint's size and root do not match the inclusion proof's".into());
    }
    if v2 && cp.origin != origin {
        return Err(format!(
            "the checkpoint origin {:?} is not the log's host {origin:?}",
            cp.origin
        ));
    }
    Ok(())
}

/// The entry's body must record this bundle's signature, signer and digest
/// (sigstore-go compares them field by field for Rekor v1 kinds).
fn check_body(
    entry: &TransparencyLogEntry,
    signer: &Signer,
    content: &SignedContent<'_>,
) -> Result<(), String> {
    let body: Value = serde_json::from_slice(&entry.canonicalized_body)
        .map_err(|e| format!("the canonicalized body is not JSON: {e}"))?;
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
    let version = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind != entry.kind_version.kind || version != entry.kind_version.version {
        return Err(format!(
            "kindVersion {}/{} does not match the body's {kind}/{version}",
            entry.kind_version.kind, entry.kind_version.version
        ));
    }
    let spec = body.get("spec").ok_or("the body has no spec")?;
    let b64 = |v: Option<&Value>, what: &str| -> Result<Vec<u8>, String> {
        let s = v
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the body has no {what}"))?;
        STANDARD
            .decode(s)
            .map_err(|_| format!("the body's {what} is not base64"))
    };
    match (kind, version, content) {
        // Rekor v2: rebuild the entry from the bundle and compare bytes, as
        // sigstore-go does (it never trusts the logged body).
        ("hashedrekord", "0.0.2", _) => {
            let key = signer.key();
            let details = crate::rekor_v2::default_details(key)?;
            let hash = crate::rekor_v2::hash_for(key, details)?;
            let digest = match content {
                SignedContent::Message {
                    digest: Some((_, d)),
                    ..
                } => d.to_vec(),
                SignedContent::Message { digest: None, .. } => {
                    return Err("a Rekor v2 entry needs the bundle's message digest".into())
                }
                SignedContent::Dsse {
                    payload_type,
                    payload,
                    ..
                } => hash.digest(&pae(payload_type, payload)),
            };
            let verifier = match signer {
                Signer::Certificate { der, .. } => {
                    crate::rekor_v2::Verifier::Certificate(der.clone())
                }
                Signer::Key(k) => crate::rekor_v2::Verifier::PublicKey(k.to_spki_der()),
            };
            let want = crate::rekor_v2::hashedrekord_body(&crate::rekor_v2::HashedRekordRequest {
                digest,
                signature: crate::rekor_v2::Signature {
                    content: content.signature().to_vec(),
                    verifier,
                    key_details: details,
                },
            })?;
            if want != entry.canonicalized_body {
                // Name the part that differs, as for v1 entries.
                let logged = spec.get("hashedRekordV002");
                let field = |p: &str| logged.and_then(|l| l.pointer(p)).and_then(Value::as_str);
                let rebuilt: Value = serde_json::from_slice(&want).unwrap_or_default();
                let ours = |p: &str| {
                    rebuilt
                        .pointer(&format!("/spec/hashedRekordV002{p}"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let differs = |p: &str| field(p).map(str::to_owned) != ours(p);
                return Err(if differs("/signature/content") {
                    "the logged signature is not the bundle's".into()
                } else if differs("/signature/verifier/x509Certificate/rawBytes")
                    || differs("/signature/verifier/publicKey/rawBytes")
                {
                    "the logged key or certificate is not the bundle's".into()
                } else if differs("/data/digest") {
                    "the logged digest is not the bundle's message digest".into()
                } else {
                    "the logged entry is not this bundle's signature, signer and digest".into()
                });
            }
            Ok(())
        }
        // Rekor v2 DSSE (deprecated, still written by Go cosign 3.0): the
        // payload hash, and the envelope's signature by this signer.
        ("dsse", "0.0.2", SignedContent::Dsse { payload, .. }) => {
            let want = STANDARD.encode(Sha256::digest(payload));
            let logged = spec
                .pointer("/dsseV002/payloadHash/digest")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if spec
                .pointer("/dsseV002/payloadHash/algorithm")
                .and_then(Value::as_str)
                != Some("SHA2_256")
                || logged != want
            {
                return Err("the logged payload hash is not the envelope payload's".into());
            }
            let sig = content.signature();
            let sigs = spec
                .pointer("/dsseV002/signatures")
                .and_then(Value::as_array)
                .ok_or("the body has no signatures")?;
            let raw = |v: Option<&Value>| {
                v.and_then(Value::as_str)
                    .and_then(|s| STANDARD.decode(s).ok())
            };
            let found = sigs.iter().any(|s| {
                if raw(s.get("content")).as_deref() != Some(sig) {
                    return false;
                }
                let v = s.get("verifier");
                match (
                    raw(v.and_then(|v| v.pointer("/x509Certificate/rawBytes"))),
                    raw(v.and_then(|v| v.pointer("/publicKey/rawBytes"))),
                ) {
                    (Some(cert), None) => {
                        matches!(signer, Signer::Certificate { der, .. } if *der == cert)
                            || matches!(signer, Signer::Key(k) if keys::parse_certificate_der(&cert)
                            .and_then(|c| keys::certificate_public_key(&c))
                            .is_ok_and(|p| p == *k))
                    }
                    (None, Some(spki)) => {
                        PublicKey::from_spki_der(&spki).is_ok_and(|p| p == *signer.key())
                    }
                    _ => false,
                }
            });
            if !found {
                return Err("the logged signatures do not include the envelope's".into());
            }
            Ok(())
        }
        ("hashedrekord", "0.0.1", SignedContent::Message { digest, signature }) => {
            let sig = b64(spec.pointer("/signature/content"), "signature")?;
            if sig != *signature {
                return Err("the logged signature is not the bundle's".into());
            }
            let pem = b64(spec.pointer("/signature/publicKey/content"), "public key")?;
            if !signer.matches_pem(&pem) {
                return Err("the logged key or certificate is not the bundle's".into());
            }
            let alg = spec
                .pointer("/data/hash/algorithm")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let value = spec
                .pointer("/data/hash/value")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if let Some((a, d)) = digest {
                if alg != a.rekor_name() || !value.eq_ignore_ascii_case(&hex::encode(d)) {
                    return Err("the logged digest is not the bundle's message digest".into());
                }
            }
            Ok(())
        }
        ("dsse", "0.0.1", SignedContent::Dsse { payload, .. }) => {
            let want = hex::encode(Sha256::digest(payload));
            let logged = spec
                .pointer("/payloadHash/value")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !logged.eq_ignore_ascii_case(&want) {
                return Err("the logged payload hash is not the envelope payload's".into());
            }
            let sigs = spec
                .get("signatures")
                .and_then(Value::as_array)
                .ok_or("the body has no signatures")?;
            let sig = content.signature();
            let found = sigs.iter().any(|s| {
                let (Ok(logged_sig), Ok(verifier)) = (
                    b64(s.get("signature"), "signature"),
                    b64(s.get("verifier"), "verifier"),
                ) else {
                    return false;
                };
                logged_sig == sig && signer.matches_pem(&verifier)
            });
            if !found {
                return Err("the logged signatures do not include the envelope's".into());
            }
            Ok(())
        }
        // Legacy attestation entries (cosign before v2.2.3): the envelope's
        // signatures are stored base64-encoded a second time.
        ("intoto", "0.0.2", SignedContent::Dsse { payload, .. }) => {
            let want = hex::encode(Sha256::digest(payload));
            let logged = spec
                .pointer("/content/payloadHash/value")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !logged.eq_ignore_ascii_case(&want) {
                return Err("the logged payload hash is not the envelope payload's".into());
            }
            let sigs = spec
                .pointer("/content/envelope/signatures")
                .and_then(Value::as_array)
                .ok_or("the body has no envelope signatures")?;
            let sig = content.signature();
            let found = sigs.iter().any(|s| {
                let (Ok(twice), Ok(verifier)) = (
                    b64(s.get("sig"), "signature"),
                    b64(s.get("publicKey"), "public key"),
                ) else {
                    return false;
                };
                let once = STANDARD.decode(&twice).unwrap_or_default();
                once == sig && signer.matches_pem(&verifier)
            });
            if !found {
                return Err("the logged signatures do not include the envelope's".into());
            }
            Ok(())
        }
        (k @ ("hashedrekord" | "dsse" | "intoto"), v, _) => Err(format!(
            "a {k} {v} entry does not match the bundle's content type"
        )),
        (k, v, _) => Err(format!("entry kind {k} {v} is not supported")),
    }
}

pub(crate) fn not_before_after(cert: &Certificate) -> (OffsetDateTime, OffsetDateTime) {
    let v = &cert.tbs_certificate.validity;
    (
        crate::trust::build::x509_time(&v.not_before),
        crate::trust::build::x509_time(&v.not_after),
    )
}

pub(crate) fn extension(cert: &Certificate, oid: der::oid::ObjectIdentifier) -> Option<&[u8]> {
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)
        .map(|e| e.extn_value.as_bytes())
}

pub(crate) fn is_ca(cert: &Certificate) -> bool {
    extension(cert, OID_BASIC_CONSTRAINTS)
        .and_then(|b| BasicConstraints::from_der(b).ok())
        .is_some_and(|bc| bc.ca)
}

/// Step 3a: the leaf chains to a trusted CA, valid at every observer time.
/// Returns the DER of the leaf's issuer (needed for the SCT).
fn verify_chain(
    leaf: &Certificate,
    root: &TrustedRoot,
    times: &[OffsetDateTime],
) -> Result<Vec<u8>, VerifyError> {
    let eku = extension(leaf, OID_EKU)
        .and_then(|b| ExtendedKeyUsage::from_der(b).ok())
        .ok_or_else(|| VerifyError::Certificate("no extended key usage extension".into()))?;
    if !eku.0.contains(&OID_EKU_CODE_SIGNING) {
        return Err(VerifyError::Certificate(
            "the extended key usage does not include code signing".into(),
        ));
    }
    let (nb, na) = not_before_after(leaf);
    for t in times {
        if *t < nb || *t > na {
            return Err(VerifyError::Certificate(format!(
                "not valid at {t} (valid {nb} to {na})"
            )));
        }
    }
    if root.certificate_authorities.is_empty() {
        return Err(VerifyError::Chain(
            "the trusted root has no certificate authority".into(),
        ));
    }
    let mut last_err = String::new();
    for ca in &root.certificate_authorities {
        if !times.iter().all(|t| ca.valid_for.contains(*t)) {
            last_err = format!(
                "CA {:?} is not valid at the signing time",
                ca.subject.common_name
            );
            continue;
        }
        match chain_to(leaf, &ca.cert_chain.certificates, times) {
            Ok(issuer) => return Ok(issuer),
            Err(e) => last_err = e,
        }
    }
    Err(VerifyError::Chain(format!(
        "the certificate does not chain to a trusted CA ({last_err})"
    )))
}

/// Verifies leaf → chain[0] → … → chain[n-1] (the anchor).
fn chain_to(
    leaf: &Certificate,
    chain: &[crate::trust::X509Certificate],
    times: &[OffsetDateTime],
) -> Result<Vec<u8>, String> {
    let first = chain.first().ok_or("empty CA chain")?;
    // The certificate just checked, whose issuer comes next (the leaf first).
    let mut checked: Option<Certificate> = None;
    for (i, c) in chain.iter().enumerate() {
        let parent = keys::parse_certificate_der(&c.raw_bytes).map_err(|e| e.to_string())?;
        let child = checked.as_ref().unwrap_or(leaf);
        if parent.tbs_certificate.subject != child.tbs_certificate.issuer {
            return Err(format!("chain certificate {i} is not the issuer"));
        }
        if !is_ca(&parent) {
            return Err(format!("chain certificate {i} is not a CA"));
        }
        let pk = keys::certificate_public_key(&parent).map_err(|e| e.to_string())?;
        keys::verify_certificate_signature(child, &pk)
            .map_err(|_| format!("bad signature by chain certificate {i}"))?;
        let (nb, na) = not_before_after(&parent);
        if times.iter().any(|t| *t < nb || *t > na) {
            return Err(format!(
                "chain certificate {i} is not valid at the signing time"
            ));
        }
        checked = Some(parent);
    }
    Ok(first.raw_bytes.clone())
}

/// Step 3b: at least one embedded SCT from a trusted CT log verifies.
fn verify_sct(leaf_der: &[u8], issuer_der: &[u8], root: &TrustedRoot) -> Result<(), VerifyError> {
    let scts = ct::embedded_scts(leaf_der).map_err(|e| VerifyError::Sct(e.to_string()))?;
    let mut last_err = "the certificate has no embedded SCT".to_string();
    for sct in &scts {
        let Some(log) = find_log(&root.ctlogs, &sct.log_id) else {
            last_err = format!("SCT from unknown CT log {}", hex::encode(sct.log_id));
            continue;
        };
        let key = match log_key(log) {
            Ok(k) => k,
            Err(e) => {
                last_err = e;
                continue;
            }
        };
        let ts = i64::try_from(sct.timestamp_ms / 1000)
            .map_err(|_| VerifyError::Sct("timestamp out of range".into()))?;
        if let (Ok(t), Some(range)) = (unix(ts), &log.public_key.valid_for) {
            if !range.contains(t) {
                last_err = "the CT log's key was not valid at the SCT's time".into();
                continue;
            }
        }
        match ct::verify_embedded_sct(leaf_der, issuer_der, sct, &key) {
            Ok(()) => return Ok(()),
            Err(e) => last_err = e.to_string(),
        }
    }
    Err(VerifyError::Sct(last_err))
}

/// The certificate's identity as sigstore-go summarizes it: first URI SAN,
/// else first email, else the Fulcio username otherName.
pub fn certificate_subject(cert: &Certificate) -> Option<String> {
    let san = SubjectAltName::from_der(extension(cert, OID_SAN)?).ok()?;
    let names = &san.0;
    let uri = names.iter().find_map(|n| match n {
        GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
        _ => None,
    });
    let email = || {
        names.iter().find_map(|n| match n {
            GeneralName::Rfc822Name(e) => Some(e.to_string()),
            _ => None,
        })
    };
    let other = || {
        names.iter().find_map(|n| match n {
            GeneralName::OtherName(o) if o.type_id == OID_OTHERNAME_USERNAME => o
                .value
                .to_der()
                .ok()
                .and_then(|d| der::Any::from_der(&d).ok())
                .and_then(|a| a.decode_as::<Utf8StringRef>().ok().map(|s| s.to_string())),
            _ => None,
        })
    };
    uri.or_else(email).or_else(other)
}

/// The OIDC issuer extension: `1.3.6.1.4.1.57264.1.8` (DER UTF8String),
/// else the deprecated `…1.1` (raw bytes).
pub fn certificate_issuer(cert: &Certificate) -> Option<String> {
    if let Some(v) = extension(cert, OID_ISSUER_V2) {
        return Utf8StringRef::from_der(v).ok().map(|s| s.to_string());
    }
    extension(cert, OID_ISSUER_V1).and_then(|v| String::from_utf8(v.to_vec()).ok())
}

fn check_identity(
    cert: &Certificate,
    policy: &IdentityPolicy,
) -> Result<(String, String), VerifyError> {
    let subject = certificate_subject(cert)
        .ok_or_else(|| VerifyError::Identity("the certificate has no identity SAN".into()))?;
    let issuer = certificate_issuer(cert)
        .ok_or_else(|| VerifyError::Identity("the certificate has no OIDC issuer".into()))?;
    if !policy.subject.matches(&subject) {
        return Err(VerifyError::Identity(format!(
            "the certificate identity {subject:?} does not match {}",
            policy.subject
        )));
    }
    if !policy.issuer.matches(&issuer) {
        return Err(VerifyError::Identity(format!(
            "the certificate issuer {issuer:?} does not match {}",
            policy.issuer
        )));
    }
    for (oid, want) in &policy.extensions {
        let got = extension(cert, *oid).map(String::from_utf8_lossy);
        if got.as_deref() != Some(want.as_str()) {
            return Err(VerifyError::Identity(format!(
                "extension {oid} is {got:?}, expected {want:?}"
            )));
        }
    }
    Ok((subject, issuer))
}

#[cfg(test)]
mod tests;

//! RFC 6962 Certificate Transparency structures: SCTs, the data they sign,
//! Merkle tree leaves, STH signature input, SCT lists and the X.509 side of
//! precertificates.
//!
//! Shared by the CT log (which produces these bytes), Fulcio (which embeds the
//! SCT) and the client (which verifies it). Every byte layout follows RFC 6962
//! §3.1-3.5 exactly as upstream clients rebuild it (sigstore-python
//! `_internal/sct.py`, sigstore-go `pkg/verify/sct.go`): a difference of one
//! byte means an SCT that no client accepts.
//!
//! Length invariants: TLS vectors carry their length in a fixed-width prefix
//! (`opaque<0..2^16-1>`, `ASN.1Cert<1..2^24-1>`). The parsers here enforce the
//! bounds; the encoders are infallible and write a saturated length for an
//! oversized field, which makes the output unparseable (never a silently
//! truncated, colliding encoding). Producers check [`MAX_CERT_LEN`] and
//! [`MAX_U16_LEN`] before signing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::certificate::TbsCertificate;
use x509_cert::Certificate;

use crate::keys::{HashAlgorithm, PublicKey};

/// Precertificate poison extension (critical, value ASN.1 NULL).
pub const OID_CT_POISON: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.3");
/// Embedded `SignedCertificateTimestampList` extension.
pub const OID_CT_SCT_LIST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// Precertificate signing certificate EKU (RFC 6962 §3.1). We never issue one;
/// the log refuses chains that use one, and clients skip past it.
pub const OID_CT_PRECERT_SIGNING_EKU: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.4");

/// TLS `HashAlgorithm.sha256`.
pub const HASH_SHA256: u8 = 4;
/// TLS `SignatureAlgorithm.rsa`.
pub const SIG_RSA: u8 = 1;
/// TLS `SignatureAlgorithm.ecdsa`.
pub const SIG_ECDSA: u8 = 3;
/// Largest `ASN.1Cert` / TBS (uint24 length prefix).
pub const MAX_CERT_LEN: usize = (1 << 24) - 1;
/// Largest `opaque<..2^16-1>` (extensions, signatures, one serialized SCT).
pub const MAX_U16_LEN: usize = (1 << 16) - 1;

const SCT_VERSION_V1: u8 = 0;
const SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP: u8 = 0;
const SIGNATURE_TYPE_TREE_HASH: u8 = 1;
const LEAF_TYPE_TIMESTAMPED_ENTRY: u8 = 0;
const ENTRY_TYPE_X509: u16 = 0;
const ENTRY_TYPE_PRECERT: u16 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CtError {
    #[error("malformed TLS encoding: {0}")]
    Malformed(String),
    #[error("unsupported SCT version {0} (only v1 = 0)")]
    Version(u8),
    #[error("invalid add-chain response: {0}")]
    Response(String),
    #[error("invalid certificate: {0}")]
    Certificate(String),
    #[error("the certificate has no extension {0}")]
    MissingExtension(ObjectIdentifier),
    #[error("the certificate has extension {0} more than once")]
    DuplicateExtension(ObjectIdentifier),
    #[error("SCT hash algorithm {0} is not SHA-256 (4)")]
    UnsupportedHash(u8),
    #[error("SCT signature algorithm {got} does not match the log key ({want})")]
    SignatureAlgorithm { got: u8, want: String },
    #[error("SCT log ID {sct} does not match the key's log ID {key}")]
    LogIdMismatch { sct: String, key: String },
    #[error("{what} is {len} bytes, more than its TLS length prefix allows")]
    TooLarge { what: &'static str, len: usize },
    #[error("SCT signature verification failed")]
    BadSignature,
}

/// A v1 SignedCertificateTimestamp (RFC 6962 §3.2).
///
/// Invariant (enforced by the parsers, expected of producers): `extensions`
/// and `signature` are at most [`MAX_U16_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    pub log_id: [u8; 32],
    pub timestamp_ms: u64,
    pub extensions: Vec<u8>,
    /// TLS HashAlgorithm: 4 = sha256.
    pub hash_algorithm: u8,
    /// TLS SignatureAlgorithm: 3 = ecdsa, 1 = rsa.
    pub signature_algorithm: u8,
    /// ASN.1 DER ECDSA signature or PKCS#1 v1.5 RSA signature.
    pub signature: Vec<u8>,
}

/// What an SCT or Merkle leaf commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedEntry<'a> {
    /// A final certificate (DER), logged with `add-chain`.
    X509(&'a [u8]),
    /// A precertificate: the issuer's key hash and the TBSCertificate DER
    /// without the poison (equivalently, the final cert's TBS without the SCT list).
    Precert {
        issuer_key_hash: [u8; 32],
        tbs: &'a [u8],
    },
}

impl SignedEntry<'_> {
    fn body_len(&self) -> usize {
        match self {
            SignedEntry::X509(c) => c.len(),
            SignedEntry::Precert { tbs, .. } => tbs.len(),
        }
    }

    /// `entry_type || signed_entry` as in both the SCT input and the leaf.
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            SignedEntry::X509(cert) => {
                out.extend_from_slice(&ENTRY_TYPE_X509.to_be_bytes());
                put_u24_vec(out, cert);
            }
            SignedEntry::Precert {
                issuer_key_hash,
                tbs,
            } => {
                out.extend_from_slice(&ENTRY_TYPE_PRECERT.to_be_bytes());
                out.extend_from_slice(issuer_key_hash);
                put_u24_vec(out, tbs);
            }
        }
    }

    /// Refuses an entry whose body does not fit its uint24 length prefix.
    pub fn check_len(&self) -> Result<(), CtError> {
        let len = self.body_len();
        if len == 0 || len > MAX_CERT_LEN {
            return Err(CtError::TooLarge {
                what: "certificate",
                len,
            });
        }
        Ok(())
    }
}

fn put_u16_vec(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len().min(MAX_U16_LEN) as u16;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
}

fn put_u24_vec(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len().min(MAX_CERT_LEN) as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(data);
}

/// A bounds-checked reader over TLS-encoded bytes.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], CtError> {
        if self.buf.len() < n {
            return Err(CtError::Malformed(format!(
                "truncated {what}: need {n} bytes, have {}",
                self.buf.len()
            )));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, CtError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, CtError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self, what: &str) -> Result<usize, CtError> {
        let b = self.take(3, what)?;
        Ok(((b[0] as usize) << 16) | ((b[1] as usize) << 8) | b[2] as usize)
    }

    fn u64(&mut self, what: &str) -> Result<u64, CtError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn vec16(&mut self, what: &str) -> Result<&'a [u8], CtError> {
        let n = self.u16(what)? as usize;
        self.take(n, what)
    }

    fn vec24(&mut self, what: &str) -> Result<&'a [u8], CtError> {
        let n = self.u24(what)?;
        self.take(n, what)
    }

    fn finish(&self, what: &str) -> Result<(), CtError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(CtError::Malformed(format!(
                "{} trailing bytes after {what}",
                self.buf.len()
            )))
        }
    }
}

impl Sct {
    /// RFC 6962 §3.2 `SignedCertificateTimestamp` (v1).
    pub fn to_tls(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 32 + 8 + 2 + self.extensions.len() + 4 + 80);
        out.push(SCT_VERSION_V1);
        out.extend_from_slice(&self.log_id);
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        put_u16_vec(&mut out, &self.extensions);
        out.extend_from_slice(&digitally_signed(
            self.hash_algorithm,
            self.signature_algorithm,
            &self.signature,
        ));
        out
    }

    /// Parses one serialized SCT; any trailing byte is an error.
    pub fn from_tls(bytes: &[u8]) -> Result<Sct, CtError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("SCT version")?;
        if version != SCT_VERSION_V1 {
            return Err(CtError::Version(version));
        }
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(r.take(32, "log ID")?);
        let timestamp_ms = r.u64("timestamp")?;
        let extensions = r.vec16("extensions")?.to_vec();
        let hash_algorithm = r.u8("hash algorithm")?;
        let signature_algorithm = r.u8("signature algorithm")?;
        let signature = r.vec16("signature")?.to_vec();
        r.finish("SCT")?;
        Ok(Sct {
            log_id,
            timestamp_ms,
            extensions,
            hash_algorithm,
            signature_algorithm,
            signature,
        })
    }

    /// Parses the JSON body of an RFC 6962 §4.1 `add-chain` / `add-pre-chain`
    /// response. Unknown fields are ignored (as Go's CT client does); missing
    /// or null `extensions` means none.
    pub fn from_add_chain_response(json: &[u8]) -> Result<Sct, CtError> {
        #[derive(serde::Deserialize)]
        struct Resp {
            sct_version: u8,
            id: String,
            timestamp: u64,
            #[serde(default)]
            extensions: Option<String>,
            signature: String,
        }
        let bad = |m: String| CtError::Response(m);
        let resp: Resp = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        if resp.sct_version != SCT_VERSION_V1 {
            return Err(CtError::Version(resp.sct_version));
        }
        let id = STANDARD
            .decode(&resp.id)
            .map_err(|e| bad(format!("id: {e}")))?;
        let log_id: [u8; 32] = id
            .try_into()
            .map_err(|v: Vec<u8>| bad(format!("id is {} bytes, want 32", v.len())))?;
        let extensions = match resp.extensions {
            None => Vec::new(),
            Some(s) => STANDARD
                .decode(s)
                .map_err(|e| bad(format!("extensions: {e}")))?,
        };
        if extensions.len() > MAX_U16_LEN {
            return Err(CtError::TooLarge {
                what: "extensions",
                len: extensions.len(),
            });
        }
        let sig = STANDARD
            .decode(&resp.signature)
            .map_err(|e| bad(format!("signature: {e}")))?;
        let (hash_algorithm, signature_algorithm, signature) = parse_digitally_signed(&sig)?;
        Ok(Sct {
            log_id,
            timestamp_ms: resp.timestamp,
            extensions,
            hash_algorithm,
            signature_algorithm,
            signature,
        })
    }

    /// The RFC 6962 §4.1 response body for this SCT.
    pub fn to_add_chain_response(&self) -> serde_json::Value {
        serde_json::json!({
            "sct_version": SCT_VERSION_V1,
            "id": STANDARD.encode(self.log_id),
            "timestamp": self.timestamp_ms,
            "extensions": STANDARD.encode(&self.extensions),
            "signature": STANDARD.encode(digitally_signed(
                self.hash_algorithm,
                self.signature_algorithm,
                &self.signature,
            )),
        })
    }

    /// Verifies this SCT over `entry` with the log's `key`: the log ID must be
    /// the key's, the hash SHA-256 (all Sigstore clients require it), and the
    /// signature algorithm must match the key type.
    pub fn verify(&self, entry: &SignedEntry, key: &PublicKey) -> Result<(), CtError> {
        let want = log_id(&key.to_spki_der());
        if want != self.log_id {
            return Err(CtError::LogIdMismatch {
                sct: hex::encode(self.log_id),
                key: hex::encode(want),
            });
        }
        if self.hash_algorithm != HASH_SHA256 {
            return Err(CtError::UnsupportedHash(self.hash_algorithm));
        }
        let want_sig = match key {
            PublicKey::P256(_) | PublicKey::P384(_) | PublicKey::P521(_) => SIG_ECDSA,
            PublicKey::Rsa(_) => SIG_RSA,
            PublicKey::Ed25519(_) => {
                return Err(CtError::SignatureAlgorithm {
                    got: self.signature_algorithm,
                    want: "Ed25519 is not an RFC 6962 log key".into(),
                })
            }
        };
        if self.signature_algorithm != want_sig {
            return Err(CtError::SignatureAlgorithm {
                got: self.signature_algorithm,
                want: want_sig.to_string(),
            });
        }
        entry.check_len()?;
        if self.extensions.len() > MAX_U16_LEN {
            return Err(CtError::TooLarge {
                what: "extensions",
                len: self.extensions.len(),
            });
        }
        let data = sct_signed_data(self.timestamp_ms, entry, &self.extensions);
        key.verify_message_with(HashAlgorithm::Sha256, &data, &self.signature)
            .map_err(|_| CtError::BadSignature)
    }
}

/// RFC 6962 §3.2: the `digitally-signed` input of an SCT
/// (`signature_type = certificate_timestamp`).
pub fn sct_signed_data(timestamp_ms: u64, entry: &SignedEntry, extensions: &[u8]) -> Vec<u8> {
    timestamped(
        SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP,
        timestamp_ms,
        entry,
        extensions,
    )
}

/// RFC 6962 §3.4 `MerkleTreeLeaf` (v1, `timestamped_entry`): the `leaf_input`
/// of `get-entries`, whose RFC 6962 leaf hash goes into the tree.
pub fn merkle_tree_leaf(timestamp_ms: u64, entry: &SignedEntry, extensions: &[u8]) -> Vec<u8> {
    timestamped(LEAF_TYPE_TIMESTAMPED_ENTRY, timestamp_ms, entry, extensions)
}

// For v1 both type bytes are 0, so the SCT's signed data and the Merkle leaf
// are the same bytes; the CT log builds them once per submission and relies on it.
const _: () = assert!(SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP == LEAF_TYPE_TIMESTAMPED_ENTRY);

/// `version || type || timestamp || entry || extensions`, the layout shared
/// by the SCT signed data and the Merkle tree leaf.
fn timestamped(kind: u8, timestamp_ms: u64, entry: &SignedEntry, extensions: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 8 + 2 + 32 + 3 + entry.body_len() + 2 + extensions.len());
    out.push(SCT_VERSION_V1);
    out.push(kind);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    entry.write(&mut out);
    put_u16_vec(&mut out, extensions);
    out
}

/// A parsed `MerkleTreeLeaf` (what `get-entries` returns as `leaf_input`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTreeLeaf {
    pub timestamp_ms: u64,
    pub entry: OwnedSignedEntry,
    pub extensions: Vec<u8>,
}

/// An owned [`SignedEntry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedSignedEntry {
    X509(Vec<u8>),
    Precert {
        issuer_key_hash: [u8; 32],
        tbs: Vec<u8>,
    },
}

impl OwnedSignedEntry {
    pub fn as_entry(&self) -> SignedEntry<'_> {
        match self {
            OwnedSignedEntry::X509(c) => SignedEntry::X509(c),
            OwnedSignedEntry::Precert {
                issuer_key_hash,
                tbs,
            } => SignedEntry::Precert {
                issuer_key_hash: *issuer_key_hash,
                tbs,
            },
        }
    }
}

/// Parses a `MerkleTreeLeaf` strictly (no trailing bytes).
pub fn parse_merkle_tree_leaf(bytes: &[u8]) -> Result<MerkleTreeLeaf, CtError> {
    let mut r = Reader::new(bytes);
    let version = r.u8("leaf version")?;
    if version != SCT_VERSION_V1 {
        return Err(CtError::Version(version));
    }
    let leaf_type = r.u8("leaf type")?;
    if leaf_type != LEAF_TYPE_TIMESTAMPED_ENTRY {
        return Err(CtError::Malformed(format!("unknown leaf type {leaf_type}")));
    }
    let timestamp_ms = r.u64("timestamp")?;
    let entry = match r.u16("entry type")? {
        ENTRY_TYPE_X509 => OwnedSignedEntry::X509(r.vec24("certificate")?.to_vec()),
        ENTRY_TYPE_PRECERT => {
            let mut issuer_key_hash = [0u8; 32];
            issuer_key_hash.copy_from_slice(r.take(32, "issuer key hash")?);
            OwnedSignedEntry::Precert {
                issuer_key_hash,
                tbs: r.vec24("TBS certificate")?.to_vec(),
            }
        }
        other => return Err(CtError::Malformed(format!("unknown entry type {other}"))),
    };
    let extensions = r.vec16("extensions")?.to_vec();
    r.finish("MerkleTreeLeaf")?;
    Ok(MerkleTreeLeaf {
        timestamp_ms,
        entry,
        extensions,
    })
}

/// RFC 6962 §3.5 `TreeHeadSignature` input (`signature_type = tree_hash`).
pub fn sth_signed_data(timestamp_ms: u64, tree_size: u64, root: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 8 + 8 + 32);
    out.push(SCT_VERSION_V1);
    out.push(SIGNATURE_TYPE_TREE_HASH);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&tree_size.to_be_bytes());
    out.extend_from_slice(root);
    out
}

/// TLS `DigitallySigned`: `hash(1) || signature_alg(1) || opaque signature<0..2^16-1>`.
pub fn digitally_signed(hash_alg: u8, sig_alg: u8, sig: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + sig.len());
    out.push(hash_alg);
    out.push(sig_alg);
    put_u16_vec(&mut out, sig);
    out
}

/// Parses a `DigitallySigned` strictly: (hash algorithm, signature algorithm, signature).
pub fn parse_digitally_signed(bytes: &[u8]) -> Result<(u8, u8, Vec<u8>), CtError> {
    let mut r = Reader::new(bytes);
    let hash = r.u8("hash algorithm")?;
    let sig_alg = r.u8("signature algorithm")?;
    let sig = r.vec16("signature")?.to_vec();
    r.finish("DigitallySigned")?;
    Ok((hash, sig_alg, sig))
}

/// TLS `SignedCertificateTimestampList` (RFC 6962 §3.3): the bytes that the
/// SCT-list extension wraps in a DER OCTET STRING (not wrapped here).
pub fn encode_sct_list(scts: &[Sct]) -> Vec<u8> {
    let mut items = Vec::new();
    for s in scts {
        put_u16_vec(&mut items, &s.to_tls());
    }
    let mut out = Vec::with_capacity(2 + items.len());
    put_u16_vec(&mut out, &items);
    out
}

/// Parses a `SignedCertificateTimestampList` strictly: the list and each
/// serialized SCT must be non-empty (`<1..2^16-1>`), and nothing may trail.
pub fn parse_sct_list(bytes: &[u8]) -> Result<Vec<Sct>, CtError> {
    let mut outer = Reader::new(bytes);
    let list = outer.vec16("SCT list")?;
    outer.finish("SCT list")?;
    if list.is_empty() {
        return Err(CtError::Malformed("empty SCT list".into()));
    }
    let mut r = Reader::new(list);
    let mut out = Vec::new();
    while !r.buf.is_empty() {
        let item = r.vec16("serialized SCT")?;
        if item.is_empty() {
            return Err(CtError::Malformed("empty serialized SCT".into()));
        }
        out.push(Sct::from_tls(item)?);
    }
    Ok(out)
}

fn parse_cert(cert_der: &[u8]) -> Result<Certificate, CtError> {
    Certificate::from_der(cert_der).map_err(|e| CtError::Certificate(e.to_string()))
}

/// The one extension with `oid` (error if absent or repeated).
pub fn find_extension<'c>(
    tbs: &'c TbsCertificate,
    oid: &ObjectIdentifier,
) -> Result<&'c x509_cert::ext::Extension, CtError> {
    let mut found = None;
    for ext in tbs.extensions.iter().flatten() {
        if ext.extn_id == *oid {
            if found.is_some() {
                return Err(CtError::DuplicateExtension(*oid));
            }
            found = Some(ext);
        }
    }
    found.ok_or(CtError::MissingExtension(*oid))
}

/// SCTs embedded in a certificate (extension 1.3.6.1.4.1.11129.2.4.2, whose
/// extnValue is a DER OCTET STRING wrapping the TLS list).
pub fn embedded_scts(cert_der: &[u8]) -> Result<Vec<Sct>, CtError> {
    embedded_scts_of(&parse_cert(cert_der)?.tbs_certificate)
}

/// [`embedded_scts`] for an already parsed certificate.
pub fn embedded_scts_of(tbs: &TbsCertificate) -> Result<Vec<Sct>, CtError> {
    let ext = find_extension(tbs, &OID_CT_SCT_LIST)?;
    let inner = OctetString::from_der(ext.extn_value.as_bytes())
        .map_err(|e| CtError::Certificate(format!("SCT list extension: {e}")))?;
    parse_sct_list(inner.as_bytes())
}

/// The certificate's TBSCertificate re-encoded (DER) without the extension
/// `oid`, which must be present exactly once. This is the precert TBS an SCT
/// signs: the precert without the poison, or the final cert without the SCT
/// list. An extension list left empty is omitted, as Go's CT code does.
pub fn tbs_without_extension(cert_der: &[u8], oid: ObjectIdentifier) -> Result<Vec<u8>, CtError> {
    tbs_der_without_extension(&parse_cert(cert_der)?.tbs_certificate, oid)
}

/// [`tbs_without_extension`] for an already parsed TBSCertificate.
pub fn tbs_der_without_extension(
    tbs: &TbsCertificate,
    oid: ObjectIdentifier,
) -> Result<Vec<u8>, CtError> {
    find_extension(tbs, &oid)?;
    let mut tbs = tbs.clone();
    if let Some(exts) = tbs.extensions.as_mut() {
        exts.retain(|e| e.extn_id != oid);
        if exts.is_empty() {
            tbs.extensions = None;
        }
    }
    tbs.to_der()
        .map_err(|e| CtError::Certificate(format!("re-encoding TBS: {e}")))
}

/// SHA-256 of the issuer certificate's SubjectPublicKeyInfo DER.
pub fn issuer_key_hash(issuer_cert_der: &[u8]) -> Result<[u8; 32], CtError> {
    issuer_key_hash_of(&parse_cert(issuer_cert_der)?)
}

/// [`issuer_key_hash`] for an already parsed certificate.
pub fn issuer_key_hash_of(issuer: &Certificate) -> Result<[u8; 32], CtError> {
    let spki = issuer
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| CtError::Certificate(e.to_string()))?;
    Ok(Sha256::digest(&spki).into())
}

/// Verifies an SCT embedded in `cert_der` (a final certificate) as clients
/// do: rebuild the precert TBS by removing the SCT list, bind it to
/// `issuer_der`'s key, check the signature with the log `key`.
/// `sct` is one of [`embedded_scts`] (the caller picks it, by log ID).
pub fn verify_embedded_sct(
    cert_der: &[u8],
    issuer_der: &[u8],
    sct: &Sct,
    key: &PublicKey,
) -> Result<(), CtError> {
    let tbs = tbs_without_extension(cert_der, OID_CT_SCT_LIST)?;
    let issuer_key_hash = issuer_key_hash(issuer_der)?;
    sct.verify(
        &SignedEntry::Precert {
            issuer_key_hash,
            tbs: &tbs,
        },
        key,
    )
}

/// RFC 6962 log ID: SHA-256 of the log key's SubjectPublicKeyInfo DER (the
/// same derivation as every other Sigstore key ID, [`crate::keys::sha256_key_id`]).
pub fn log_id(spki_der: &[u8]) -> [u8; 32] {
    crate::keys::sha256_key_id(spki_der)
}

#[cfg(test)]
mod tests;

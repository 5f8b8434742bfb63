//! Accepted roots and submitted-chain validation (RFC 6962 §4.1-4.2).
//!
//! A submission `[leaf, chain...]` is accepted when every certificate is
//! signed by the next, and the last is a configured root or is signed by one
//! (the root is then appended, so stored chains always end at a root, as
//! Trillian's CTFE stores them). Everything above the leaf is the same for
//! every Fulcio submission, so a validated issuer chain is cached by the
//! hash of its bytes: per request only the leaf is parsed and verified.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use der::asn1::ObjectIdentifier;
use der::Decode;
use sha2::{Digest, Sha256};
use sigstack_core::ct::{self, OID_CT_POISON, OID_CT_PRECERT_SIGNING_EKU};
use sigstack_core::keys::{certificate_public_key, verify_certificate_signature, PublicKey};
use sigstack_core::pem;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage};
use x509_cert::Certificate;

/// Most certificates in one submitted chain.
pub const MAX_CHAIN_LEN: usize = 10;
/// Validated issuer chains kept; the cache is cleared when it fills.
const CACHE_MAX: usize = 1024;

const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_ANY_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// Extended key usages by the names TesseraCT / CTFE accept in `ext_key_usages`.
pub fn eku_by_name(name: &str) -> Option<ObjectIdentifier> {
    let oid = match name {
        "Any" => "2.5.29.37.0",
        "ServerAuth" => "1.3.6.1.5.5.7.3.1",
        "ClientAuth" => "1.3.6.1.5.5.7.3.2",
        "CodeSigning" => "1.3.6.1.5.5.7.3.3",
        "EmailProtection" => "1.3.6.1.5.5.7.3.4",
        "TimeStamping" => "1.3.6.1.5.5.7.3.8",
        "OCSPSigning" => "1.3.6.1.5.5.7.3.9",
        _ => return None,
    };
    ObjectIdentifier::new(oid).ok()
}

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("invalid roots: {0}")]
    Roots(String),
    #[error("{0}")]
    Invalid(String),
}

fn invalid(m: impl Into<String>) -> ChainError {
    ChainError::Invalid(m.into())
}

struct Root {
    der: Vec<u8>,
    cert: Certificate,
    key: PublicKey,
}

/// The configured root certificates (at least one).
pub struct Roots {
    roots: Vec<Root>,
}

impl std::fmt::Debug for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Roots({} certificates)", self.roots.len())
    }
}

impl Roots {
    /// One or more PEM `CERTIFICATE` blocks, nothing else.
    pub fn from_pem(text: &[u8]) -> Result<Self, ChainError> {
        let ders = pem::parse_certificates(text).map_err(|e| ChainError::Roots(e.to_string()))?;
        Self::from_der(ders)
    }

    pub fn from_der(ders: Vec<Vec<u8>>) -> Result<Self, ChainError> {
        if ders.is_empty() {
            return Err(ChainError::Roots("no root certificate".into()));
        }
        let mut roots = Vec::with_capacity(ders.len());
        for (i, der) in ders.into_iter().enumerate() {
            let cert = Certificate::from_der(&der)
                .map_err(|e| ChainError::Roots(format!("certificate {i}: {e}")))?;
            let key = certificate_public_key(&cert)
                .map_err(|e| ChainError::Roots(format!("certificate {i}: {e}")))?;
            roots.push(Root { der, cert, key });
        }
        Ok(Roots { roots })
    }

    pub fn len(&self) -> usize {
        self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// DER of every root, in configured order (`get-roots`).
    pub fn ders(&self) -> impl Iterator<Item = &[u8]> {
        self.roots.iter().map(|r| r.der.as_slice())
    }

    /// The root `cert` chains to: itself (byte-equal) or its signer.
    fn anchor(&self, cert: &Certificate, der: &[u8]) -> Option<(&Root, bool)> {
        if let Some(r) = self.roots.iter().find(|r| r.der == der) {
            return Some((r, true));
        }
        self.roots.iter().find_map(|r| {
            (r.cert.tbs_certificate.subject == cert.tbs_certificate.issuer
                && verify_certificate_signature(cert, &r.key).is_ok())
            .then_some((r, false))
        })
    }
}

/// A validated chain above the leaf: issuer first, a configured root last.
#[derive(Debug)]
pub struct IssuerChain {
    /// The leaf's issuer key (verifies the leaf's signature).
    pub issuer_key: PublicKey,
    /// SHA-256 of the issuer's SPKI DER (the precert entry's issuer_key_hash).
    pub issuer_key_hash: [u8; 32],
    issuer_subject: x509_cert::name::Name,
    /// `ASN.1Cert certificate_chain<0..2^24-1>` of these certificates: the
    /// tail of both X509ChainEntry and PrecertChainEntry (RFC 6962 §4.6).
    pub encoded: Vec<u8>,
}

/// What a submission must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `add-chain`: a final certificate (no poison).
    X509,
    /// `add-pre-chain`: a precertificate (critical poison).
    Precert,
}

/// A submission that passed every check.
pub struct Validated {
    pub leaf: Certificate,
    pub issuer: Arc<IssuerChain>,
}

/// Validates submissions against the roots; caches issuer chains.
pub struct ChainValidator {
    roots: Roots,
    /// Accepted EKUs (any one suffices); empty = no EKU check.
    ekus: Vec<ObjectIdentifier>,
    cache: RwLock<HashMap<[u8; 32], Arc<IssuerChain>>>,
    /// Chains for leaves submitted without any issuer (signed by a root).
    root_chains: Vec<Arc<IssuerChain>>,
}

fn put_u24(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(data);
}

/// `ASN.1Cert<1..2^24-1>` list with its uint24 total length.
fn encode_cert_list(certs: &[&[u8]]) -> Result<Vec<u8>, ChainError> {
    let mut body = Vec::new();
    for c in certs {
        if c.is_empty() || c.len() > ct::MAX_CERT_LEN {
            return Err(invalid("certificate too large"));
        }
        put_u24(&mut body, c);
    }
    if body.len() > ct::MAX_CERT_LEN {
        return Err(invalid("chain too large"));
    }
    let mut out = Vec::with_capacity(3 + body.len());
    put_u24(&mut out, &body);
    Ok(out)
}

/// PrecertChainEntry (RFC 6962 §4.6): the precert, then the issuer chain.
pub fn precert_chain_entry(precert_der: &[u8], issuer: &IssuerChain) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + precert_der.len() + issuer.encoded.len());
    put_u24(&mut out, precert_der);
    out.extend_from_slice(&issuer.encoded);
    out
}

fn extension<'c>(
    cert: &'c Certificate,
    oid: &ObjectIdentifier,
) -> Result<Option<&'c x509_cert::ext::Extension>, ChainError> {
    match ct::find_extension(&cert.tbs_certificate, oid) {
        Ok(e) => Ok(Some(e)),
        Err(ct::CtError::MissingExtension(_)) => Ok(None),
        Err(e) => Err(invalid(e.to_string())),
    }
}

fn ekus_of(cert: &Certificate) -> Result<Option<Vec<ObjectIdentifier>>, ChainError> {
    extension(cert, &OID_EXT_KEY_USAGE)?
        .map(|e| {
            ExtendedKeyUsage::from_der(e.extn_value.as_bytes())
                .map(|u| u.0)
                .map_err(|e| invalid(format!("malformed extended key usage: {e}")))
        })
        .transpose()
}

impl ChainValidator {
    pub fn new(roots: Roots, ekus: Vec<ObjectIdentifier>) -> Result<Self, ChainError> {
        let mut root_chains = Vec::with_capacity(roots.len());
        for r in &roots.roots {
            root_chains.push(Arc::new(IssuerChain {
                issuer_key: r.key.clone(),
                issuer_key_hash: ct::issuer_key_hash_of(&r.cert)
                    .map_err(|e| ChainError::Roots(e.to_string()))?,
                issuer_subject: r.cert.tbs_certificate.subject.clone(),
                encoded: encode_cert_list(&[&r.der])?,
            }));
        }
        Ok(ChainValidator {
            roots,
            ekus,
            cache: RwLock::new(HashMap::new()),
            root_chains,
        })
    }

    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// Checks a submitted chain (DER, leaf first) for `kind`.
    pub fn validate(&self, chain: &[Vec<u8>], kind: Kind) -> Result<Validated, ChainError> {
        let Some((leaf_der, rest)) = chain.split_first() else {
            return Err(invalid("empty chain"));
        };
        if chain.len() > MAX_CHAIN_LEN {
            return Err(invalid(format!(
                "chain has {} certificates, at most {MAX_CHAIN_LEN} accepted",
                chain.len()
            )));
        }
        let leaf = Certificate::from_der(leaf_der)
            .map_err(|e| invalid(format!("chain[0] is not a DER certificate: {e}")))?;
        if self.roots.roots.iter().any(|r| r.der == *leaf_der) {
            return Err(invalid("a root certificate cannot be logged"));
        }
        self.check_leaf(&leaf, kind)?;
        let issuer = if rest.is_empty() {
            self.root_chains
                .iter()
                .find(|c| {
                    c.issuer_subject == leaf.tbs_certificate.issuer
                        && verify_certificate_signature(&leaf, &c.issuer_key).is_ok()
                })
                .cloned()
                .ok_or_else(|| invalid("chain[0] is not signed by any accepted root"))?
        } else {
            let issuer = self.issuer_chain(rest)?;
            if issuer.issuer_subject != leaf.tbs_certificate.issuer {
                return Err(invalid("chain[0]'s issuer is not chain[1]'s subject"));
            }
            verify_certificate_signature(&leaf, &issuer.issuer_key)
                .map_err(|e| invalid(format!("chain[0] is not signed by chain[1]: {e}")))?;
            issuer
        };
        Ok(Validated { leaf, issuer })
    }

    fn check_leaf(&self, leaf: &Certificate, kind: Kind) -> Result<(), ChainError> {
        let poison = extension(leaf, &OID_CT_POISON)?;
        match (kind, poison) {
            (Kind::X509, Some(_)) => return Err(invalid(
                "precertificate (CT poison extension) submitted to add-chain; use add-pre-chain",
            )),
            (Kind::Precert, None) => {
                return Err(invalid(
                    "add-pre-chain needs a precertificate (critical CT poison extension)",
                ))
            }
            (Kind::Precert, Some(p)) => {
                if !p.critical || p.extn_value.as_bytes() != [0x05, 0x00] {
                    return Err(invalid(
                        "the CT poison extension must be critical with value ASN.1 NULL",
                    ));
                }
            }
            (Kind::X509, None) => {}
        }
        if !self.ekus.is_empty() {
            let ekus = ekus_of(leaf)?.unwrap_or_default();
            if !ekus
                .iter()
                .any(|u| *u == OID_ANY_EKU || self.ekus.contains(u))
            {
                return Err(invalid(
                    "chain[0] lacks an accepted extended key usage (e.g. codeSigning)",
                ));
            }
        }
        Ok(())
    }

    /// The validated chain `rest` (chain[1..]), from the cache or checked now.
    fn issuer_chain(&self, rest: &[Vec<u8>]) -> Result<Arc<IssuerChain>, ChainError> {
        let mut h = Sha256::new();
        for c in rest {
            h.update((c.len() as u64).to_be_bytes());
            h.update(c);
        }
        let id: [u8; 32] = h.finalize().into();
        if let Ok(cache) = self.cache.read() {
            if let Some(c) = cache.get(&id) {
                return Ok(c.clone());
            }
        }
        let chain = Arc::new(self.check_issuer_chain(rest)?);
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(id, chain.clone());
        }
        Ok(chain)
    }

    fn check_issuer_chain(&self, rest: &[Vec<u8>]) -> Result<IssuerChain, ChainError> {
        let mut certs = Vec::with_capacity(rest.len());
        for (i, der) in rest.iter().enumerate() {
            let c = Certificate::from_der(der)
                .map_err(|e| invalid(format!("chain[{}] is not a DER certificate: {e}", i + 1)))?;
            certs.push(c);
        }
        for (i, pair) in certs.windows(2).enumerate() {
            let key = certificate_public_key(&pair[1])
                .map_err(|e| invalid(format!("chain[{}]: {e}", i + 2)))?;
            if pair[0].tbs_certificate.issuer != pair[1].tbs_certificate.subject {
                return Err(invalid(format!(
                    "chain[{}]'s issuer is not chain[{}]'s subject",
                    i + 1,
                    i + 2
                )));
            }
            verify_certificate_signature(&pair[0], &key).map_err(|e| {
                invalid(format!(
                    "chain[{}] is not signed by chain[{}]: {e}",
                    i + 1,
                    i + 2
                ))
            })?;
        }
        let (last, last_der) = (&certs[certs.len() - 1], &rest[rest.len() - 1]);
        let (root, last_is_root) = self
            .roots
            .anchor(last, last_der)
            .ok_or_else(|| invalid("the chain does not end at an accepted root"))?;
        // Issuing certificates that are not themselves configured roots must
        // be CAs, and must allow the accepted usages (Go's EKU nesting).
        let n_checked = if last_is_root {
            certs.len() - 1
        } else {
            certs.len()
        };
        for (i, c) in certs.iter().take(n_checked).enumerate() {
            let is_ca = extension(c, &OID_BASIC_CONSTRAINTS)?
                .map(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).map(|b| b.ca))
                .transpose()
                .map_err(|e| invalid(format!("chain[{}]: basic constraints: {e}", i + 1)))?
                .unwrap_or(false);
            if !is_ca {
                return Err(invalid(format!("chain[{}] is not a CA certificate", i + 1)));
            }
            if let Some(ekus) = ekus_of(c)? {
                if i == 0 && ekus.contains(&OID_CT_PRECERT_SIGNING_EKU) {
                    return Err(invalid(
                        "precertificate signing certificates are not supported; sign the precertificate with the CA key",
                    ));
                }
                if !self.ekus.is_empty()
                    && !ekus
                        .iter()
                        .any(|u| *u == OID_ANY_EKU || self.ekus.contains(u))
                {
                    return Err(invalid(format!(
                        "chain[{}]'s extended key usages exclude the accepted ones",
                        i + 1
                    )));
                }
            }
        }
        let mut ders: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
        if !last_is_root {
            ders.push(&root.der);
        }
        let issuer = &certs[0];
        Ok(IssuerChain {
            issuer_key: certificate_public_key(issuer)
                .map_err(|e| invalid(format!("chain[1]: {e}")))?,
            issuer_key_hash: ct::issuer_key_hash_of(issuer)
                .map_err(|e| invalid(format!("chain[1]: {e}")))?,
            issuer_subject: issuer.tbs_certificate.subject.clone(),
            encoded: encode_cert_list(&ders)?,
        })
    }
}

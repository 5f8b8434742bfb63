//! CA backends: an ephemeral in-memory CA (tests, dev), a file CA (PEM
//! chain + PEM private key, optionally encrypted) and a PKCS#11 CA (PEM chain
//! + a key held in an HSM, [`crate::pkcs11`]). All sign behind [`TbsSigner`].
//!
//! Invariant checked at load, so that a misconfigured CA refuses to start
//! rather than issue certificates nobody can verify: the chain is
//! signing-CA-first, root-last, every link verifies, every certificate is a
//! CA, and the private key matches the first certificate.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use der::Decode;
use sigstack_core::keys::{self, PublicKey, SigningKey};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use crate::cert::{self, CaKind, CertError, Issuer, TbsSigner};

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("CA configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("reading {path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error(transparent)]
    Pkcs11(#[from] crate::pkcs11::Pkcs11Error),
}

/// An in-memory P-256 key as a [`TbsSigner`] (ecdsa-with-SHA256).
pub struct MemorySigner {
    key: SigningKey,
}

impl MemorySigner {
    pub fn new(key: SigningKey) -> Result<Self, CaError> {
        if !matches!(key, SigningKey::P256(_)) {
            return Err(CaError::Config(
                "the CA key must be ECDSA P-256 (Ed25519 CA signatures are refused by pyca/cryptography)".into(),
            ));
        }
        Ok(MemorySigner { key })
    }
}

impl TbsSigner for MemorySigner {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: cert::OID_ECDSA_SHA256,
            parameters: None,
        }
    }
    fn public_key_der(&self) -> Vec<u8> {
        self.key.public_key().to_spki_der()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, CertError> {
        Ok(self.key.sign(tbs))
    }
}

/// The issuing CA: its certificate chain and its signer.
pub struct Ca {
    signer: Arc<dyn TbsSigner>,
    /// Issuing CA first, root last.
    chain_der: Vec<Vec<u8>>,
    /// The issuing CA (`chain_der[0]`) and what every leaf needs from it,
    /// derived once here instead of per certificate.
    issuer_cert: Certificate,
    issuer_key_id: Option<Vec<u8>>,
    issuer_key_hash: [u8; 32],
}

impl Ca {
    /// Validates and assembles a CA from a chain and its key.
    pub fn new(chain_der: Vec<Vec<u8>>, signer: Arc<dyn TbsSigner>) -> Result<Self, CaError> {
        if chain_der.is_empty() {
            return Err(CaError::Config("empty CA certificate chain".into()));
        }
        let chain = chain_der
            .iter()
            .map(|d| {
                Certificate::from_der(d)
                    .map_err(|e| CaError::Config(format!("CA certificate: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (i, c) in chain.iter().enumerate() {
            if !is_ca(c)? {
                return Err(CaError::Config(format!(
                    "certificate {i} of the CA chain is not a CA (BasicConstraints CA:TRUE required)"
                )));
            }
            let parent = chain.get(i + 1).unwrap_or(c);
            let parent_key = keys::certificate_public_key(parent)
                .map_err(|e| CaError::Config(format!("CA chain certificate {}: {e}", i + 1)))?;
            keys::verify_certificate_signature(c, &parent_key).map_err(|e| {
                CaError::Config(format!(
                    "CA chain certificate {i} is not signed by the next one (order must be signing CA first, root last): {e}"
                ))
            })?;
        }
        let first_key = keys::certificate_public_key(&chain[0])
            .map_err(|e| CaError::Config(format!("CA certificate: {e}")))?;
        let signer_key = PublicKey::from_spki_der(&signer.public_key_der())
            .map_err(|e| CaError::Config(format!("CA key: {e}")))?;
        if first_key != signer_key {
            return Err(CaError::Config(
                "the CA private key does not match the first certificate of the chain".into(),
            ));
        }
        let issuer_key_id = cert::subject_key_id(&chain[0])?;
        let issuer_key_hash = sigstack_core::ct::issuer_key_hash_of(&chain[0])
            .map_err(|e| CaError::Config(format!("CA certificate: {e}")))?;
        let issuer_cert = chain
            .into_iter()
            .next()
            .ok_or_else(|| CaError::Config("empty CA certificate chain".into()))?;
        Ok(Ca {
            signer,
            chain_der,
            issuer_cert,
            issuer_key_id,
            issuer_key_hash,
        })
    }

    /// An in-memory root + intermediate (P-256), valid for 10 years.
    pub fn ephemeral() -> Result<Self, CaError> {
        let (chain, key) = create_ca_chain(
            "sigstore",
            "sigstore",
            Duration::from_secs(10 * 365 * 86400),
        )?;
        Self::new(chain, Arc::new(MemorySigner::new(key)?))
    }

    /// Loads `--fileca-cert` (PEM chain) and `--fileca-key` (PEM private key).
    pub fn from_files(cert: &Path, key: &Path, passphrase: Option<&[u8]>) -> Result<Self, CaError> {
        let chain = read_chain_pem(cert)?;
        let key = SigningKey::from_pem(&read(key)?, passphrase)
            .map_err(|e| CaError::Config(format!("{}: {e}", key.display())))?;
        Self::new(chain, Arc::new(MemorySigner::new(key)?))
    }

    /// `--ca pkcs11ca`: the PEM chain from `cert` (signing CA first, root
    /// last) and the signing CA key labelled `key_label` in the HSM.
    pub fn from_pkcs11(
        cert: &Path,
        config: &crate::pkcs11::Pkcs11Config,
        key_label: &str,
    ) -> Result<Self, CaError> {
        let chain = read_chain_pem(cert)?;
        let signer = crate::pkcs11::Pkcs11Signer::open(config, key_label)?;
        Self::new(chain, Arc::new(signer)).map_err(|e| match e {
            CaError::Config(msg) => CaError::Config(format!(
                "{msg} (HSM key label {key_label:?}, chain {})",
                cert.display()
            )),
            other => other,
        })
    }

    pub fn issuer(&self) -> Issuer<'_> {
        Issuer {
            cert: &self.issuer_cert,
            signer: self.signer.as_ref(),
            key_id: self.issuer_key_id.as_deref(),
        }
    }

    /// SHA-256 of the issuing CA's SPKI: the `issuer_key_hash` of precert SCTs.
    pub fn issuer_key_hash(&self) -> &[u8; 32] {
        &self.issuer_key_hash
    }

    /// DER certificates, issuing CA first, root last.
    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain_der
    }

    pub fn root_der(&self) -> &[u8] {
        // `new` refuses an empty chain.
        self.chain_der.last().map(Vec::as_slice).unwrap_or(&[])
    }
}

fn read(p: &Path) -> Result<Vec<u8>, CaError> {
    std::fs::read(p).map_err(|err| CaError::Io {
        path: p.display().to_string(),
        err,
    })
}

/// A PEM file of `CERTIFICATE` blocks, as DER (order kept).
pub fn read_chain_pem(cert: &Path) -> Result<Vec<Vec<u8>>, CaError> {
    sigstack_core::pem::parse_certificates(&read(cert)?)
        .map_err(|e| CaError::Config(format!("{}: {e}", cert.display())))
}

fn is_ca(c: &Certificate) -> Result<bool, CaError> {
    let Some(exts) = &c.tbs_certificate.extensions else {
        return Ok(false);
    };
    for e in exts {
        if e.extn_id == <BasicConstraints as der::oid::AssociatedOid>::OID {
            let bc = BasicConstraints::from_der(e.extn_value.as_bytes())
                .map_err(|e| CaError::Config(format!("BasicConstraints: {e}")))?;
            return Ok(bc.ca);
        }
    }
    Ok(false)
}

/// Creates a root and an intermediate (both P-256) for a private deployment.
/// Returns the chain (intermediate, root) and the intermediate's key; the
/// root key is returned separately by [`create_ca`] for offline storage.
pub fn create_ca_chain(
    org: &str,
    cn: &str,
    validity: Duration,
) -> Result<(Vec<Vec<u8>>, SigningKey), CaError> {
    let created = create_ca(org, cn, validity)?;
    Ok((
        vec![created.intermediate_der, created.root_der],
        created.intermediate_key,
    ))
}

pub struct CreatedCa {
    pub root_der: Vec<u8>,
    pub root_key: SigningKey,
    pub intermediate_der: Vec<u8>,
    pub intermediate_key: SigningKey,
}

pub fn create_ca(org: &str, cn: &str, validity: Duration) -> Result<CreatedCa, CaError> {
    let int_key = SigningKey::generate_p256();
    let int_signer = MemorySigner::new(int_key.clone())?;
    let created = create_ca_for_signer(org, cn, validity, &int_signer)?;
    Ok(CreatedCa {
        root_der: created.root_der,
        root_key: created.root_key,
        intermediate_der: created.intermediate_der,
        intermediate_key: int_key,
    })
}

/// A new root (key in memory, for offline storage) and an intermediate
/// certificate for a key held elsewhere (an HSM).
pub struct CreatedRoot {
    pub root_der: Vec<u8>,
    pub root_key: SigningKey,
    pub intermediate_der: Vec<u8>,
}

/// Creates a P-256 root and signs an intermediate certificate for
/// `int_signer`'s key (which never leaves its signer).
pub fn create_ca_for_signer(
    org: &str,
    cn: &str,
    validity: Duration,
    int_signer: &dyn TbsSigner,
) -> Result<CreatedRoot, CaError> {
    let now = SystemTime::now();
    let root_key = SigningKey::generate_p256();
    let root_signer = MemorySigner::new(root_key.clone())?;
    let root_name = cert::org_cn_name(org, cn)?;
    let root_der =
        cert::ca_certificate(CaKind::Root, &root_name, &root_signer, now, now + validity)?;
    let root = Certificate::from_der(&root_der).map_err(CertError::from)?;
    let root_key_id = cert::subject_key_id(&root)?;
    let int_name = cert::org_cn_name(org, &format!("{cn}-intermediate"))?;
    let int_der = cert::ca_certificate(
        CaKind::Intermediate {
            parent: Issuer {
                cert: &root,
                signer: &root_signer,
                key_id: root_key_id.as_deref(),
            },
        },
        &int_name,
        int_signer,
        now,
        now + validity,
    )?;
    Ok(CreatedRoot {
        root_der,
        root_key,
        intermediate_der: int_der,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_ca_chains() {
        let ca = Ca::ephemeral().unwrap();
        assert_eq!(ca.chain_der().len(), 2);
    }

    #[test]
    fn refuses_mismatched_key_and_bad_order() {
        let created = create_ca("o", "cn", Duration::from_secs(3600)).unwrap();
        let chain = vec![created.intermediate_der.clone(), created.root_der.clone()];
        // Wrong key.
        let other = MemorySigner::new(SigningKey::generate_p256()).unwrap();
        assert!(Ca::new(chain.clone(), Arc::new(other)).is_err());
        // Root first.
        let signer = MemorySigner::new(created.intermediate_key.clone()).unwrap();
        assert!(Ca::new(
            vec![created.root_der.clone(), created.intermediate_der.clone()],
            Arc::new(signer)
        )
        .is_err());
        // Correct.
        let signer = MemorySigner::new(created.intermediate_key).unwrap();
        assert!(Ca::new(chain, Arc::new(signer)).is_ok());
        // Ed25519 CA keys are refused.
        assert!(MemorySigner::new(SigningKey::generate_ed25519()).is_err());
    }
}

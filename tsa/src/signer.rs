//! The TSA signing key: an in-memory P-256 key (from a PEM file, or made at
//! start for development) or a key held in an HSM through PKCS#11. Either
//! way it must be the key of the chain's first certificate, checked when the
//! service is built, so a mismatched pair refuses to start instead of
//! issuing tokens nobody can verify.

use sigstack_core::keys::{PublicKey, SigningKey};
use sigstack_pkcs11::Pkcs11Signer;

pub enum TsaKey {
    Memory(SigningKey),
    Pkcs11(Pkcs11Signer),
}

impl std::fmt::Debug for TsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TsaKey::Memory(k) => write!(f, "TsaKey::Memory({k:?})"),
            TsaKey::Pkcs11(k) => write!(f, "TsaKey::Pkcs11({:?})", k.label()),
        }
    }
}

impl TsaKey {
    pub fn public_key(&self) -> PublicKey {
        match self {
            TsaKey::Memory(k) => k.public_key(),
            TsaKey::Pkcs11(k) => k.public_key().clone(),
        }
    }

    /// ECDSA P-256 with SHA-256 over `msg`, DER signature.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            TsaKey::Memory(k) => Ok(k.sign(msg)),
            TsaKey::Pkcs11(k) => k.sign_der(msg).map_err(|e| e.to_string()),
        }
    }
}

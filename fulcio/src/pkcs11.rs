//! PKCS#11 CA key backend (`--ca pkcs11ca`): the signing CA key stays in an
//! HSM (see `sigstack-pkcs11` for the FFI and its invariants) and
//! certificates are signed through [`TbsSigner`].

pub use sigstack_pkcs11::*;
use spki::AlgorithmIdentifierOwned;

use crate::cert::{self, CertError, TbsSigner};

impl TbsSigner for Pkcs11Signer {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: cert::OID_ECDSA_SHA256,
            parameters: None,
        }
    }
    fn public_key_der(&self) -> Vec<u8> {
        self.spki_der().to_vec()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, CertError> {
        self.sign_der(tbs)
            .map_err(|e| CertError::Sign(e.to_string()))
    }
}

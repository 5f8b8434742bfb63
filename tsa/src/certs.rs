//! The TSA certificate chain: a self-signed root and the timestamping leaf,
//! both P-256, made with rcgen. The leaf is what RFC 3161 2.3 and every
//! upstream verifier require: not a CA, key usage digitalSignature, and an
//! extended key usage that is critical and only id-kp-timeStamping
//! (OpenSSL's `timestampsign` purpose, sigstore-go's leaf checks). The leaf
//! key only contributes its public half, so it can live in an HSM.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256,
};
use sigstack_core::keys::{PublicKey, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("TSA certificates: {0}")]
    Invalid(String),
    #[error("creating a certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// The uncompressed point of a P-256 key, as rcgen wants it.
struct P256Public(Vec<u8>);

impl P256Public {
    fn new(key: &PublicKey) -> Result<Self, CertsError> {
        let PublicKey::P256(k) = key else {
            return Err(CertsError::Invalid(format!(
                "the TSA key must be ECDSA P-256, not {}",
                key.algorithm_name()
            )));
        };
        Ok(P256Public(k.to_encoded_point(false).as_bytes().to_vec()))
    }
}

impl PublicKeyData for P256Public {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

/// The root key as an rcgen signer.
struct RootSigner<'a> {
    key: &'a SigningKey,
    public: P256Public,
}

impl PublicKeyData for RootSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.public.der_bytes()
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for RootSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(self.key.sign(msg))
    }
}

fn name(org: &str, cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, cn);
    dn
}

fn random_serial() -> SerialNumber {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b[0] &= 0x7f;
    SerialNumber::from_slice(&b)
}

/// A new chain.
pub struct CreatedChain {
    /// Leaf first, root last (the `--certificate-chain-path` file and the
    /// trusted root's `certChain`).
    pub chain_der: Vec<Vec<u8>>,
    pub root_key: SigningKey,
}

/// Creates a root (new key, returned for offline storage) and a
/// timestamping certificate for `leaf_key`, both valid from now for
/// `validity`.
pub fn create_chain(
    org: &str,
    cn: &str,
    validity: Duration,
    leaf_key: &PublicKey,
) -> Result<CreatedChain, CertsError> {
    let not_before = time::OffsetDateTime::from(SystemTime::now()) - time::Duration::minutes(5);
    let not_after = not_before + validity;
    let root_key = SigningKey::generate_p256();
    let root_signer = RootSigner {
        key: &root_key,
        public: P256Public::new(&root_key.public_key())?,
    };
    let mut rp = CertificateParams::default();
    rp.distinguished_name = name(org, &format!("{cn}-root"));
    rp.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    rp.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    rp.not_before = not_before;
    rp.not_after = not_after;
    rp.serial_number = Some(random_serial());
    let root = rp.self_signed(&root_signer)?;

    let mut lp = CertificateParams::default();
    lp.distinguished_name = name(org, cn);
    lp.is_ca = IsCa::ExplicitNoCa;
    lp.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // SEQUENCE { OID 1.3.6.1.5.5.7.3.8 }, critical: rcgen's own EKU field
    // cannot be marked critical.
    let mut eku = CustomExtension::from_oid_content(
        &[2, 5, 29, 37],
        vec![
            0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08,
        ],
    );
    eku.set_criticality(true);
    lp.custom_extensions = vec![eku];
    lp.use_authority_key_identifier_extension = true;
    lp.not_before = not_before;
    lp.not_after = not_after;
    lp.serial_number = Some(random_serial());
    let issuer = rcgen::Issuer::from_params(&rp, &root_signer);
    let leaf = lp.signed_by(&P256Public::new(leaf_key)?, &issuer)?;
    let chain_der = vec![leaf.der().to_vec(), root.der().to_vec()];
    // The same checks the server makes at start.
    sigstack_core::tsp::TsaIdentity::new(chain_der.clone())
        .map_err(|e| CertsError::Invalid(e.to_string()))?;
    Ok(CreatedChain {
        chain_der,
        root_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_leaf_has_the_timestamping_profile() {
        let leaf = SigningKey::generate_p256();
        let c = create_chain(
            "example",
            "example-tsa",
            Duration::from_secs(86400),
            &leaf.public_key(),
        )
        .unwrap();
        assert_eq!(c.chain_der.len(), 2);
        let id = sigstack_core::tsp::TsaIdentity::new(c.chain_der.clone()).unwrap();
        assert_eq!(id.public_key(), &leaf.public_key());
        // Ed25519 keys are refused (the clients only verify ECDSA tokens).
        let ed = SigningKey::generate_ed25519();
        assert!(create_chain("o", "c", Duration::from_secs(60), &ed.public_key()).is_err());
    }
}

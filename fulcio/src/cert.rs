//! Certificate construction: the code-signing leaf (as a precertificate and
//! as the final certificate) and the CA certificates of a private deployment.
//!
//! Built field by field with `x509-cert` rather than `rcgen`: the precert and
//! the final certificate must have byte-identical TBS contents apart from the
//! last extension (poison ↔ SCT list), because clients rebuild the precert TBS
//! from the final certificate to check the SCT; and the CA key may live in an
//! HSM, so signing is a callback over the TBS bytes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::asn1::{Any, BitString, Ia5String, ObjectIdentifier, OctetString, UtcTime, Utf8StringRef};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

use crate::identity::{Extensions, San};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate encoding: {0}")]
    Der(#[from] der::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("CA signing failed: {0}")]
    Sign(String),
}

pub const OID_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
pub const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub const OID_SIGSTORE_ARC: &str = "1.3.6.1.4.1.57264.1";
const OID_SIGSTORE_BASE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1");
pub const OID_OTHERNAME_USERNAME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
use sigstack_core::ct::{OID_CT_POISON, OID_CT_SCT_LIST};

/// Signs TBS bytes with the CA key. Implemented by in-memory keys and HSMs.
pub trait TbsSigner: Send + Sync {
    /// The AlgorithmIdentifier written into the certificate (must match `sign`).
    fn algorithm(&self) -> AlgorithmIdentifierOwned;
    /// DER SubjectPublicKeyInfo of the CA key.
    fn public_key_der(&self) -> Vec<u8>;
    /// Signature over `tbs` (DER ECDSA / PKCS#1 v1.5).
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, CertError>;
}

/// `1.3.6.1.4.1.57264.1.<arc>`.
pub fn sigstore_oid(arc: u32) -> Result<ObjectIdentifier, CertError> {
    OID_SIGSTORE_BASE
        .push_arc(arc)
        .map_err(|e| CertError::Invalid(format!("Sigstore OID arc {arc}: {e}")))
}

fn ext<T: AsExtension>(v: &T, subject: &Name, critical: bool) -> Result<Extension, CertError> {
    let mut e = v.to_extension(subject, &[])?;
    e.critical = critical;
    Ok(e)
}

fn raw_ext(oid: ObjectIdentifier, critical: bool, value: Vec<u8>) -> Result<Extension, CertError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value)?,
    })
}

/// Go's `x509` writes UTCTime for dates before 2050, GeneralizedTime after.
pub fn x509_time(t: SystemTime) -> Result<Time, CertError> {
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| CertError::Invalid("time before 1970".into()))?;
    let whole = Duration::from_secs(d.as_secs());
    if whole.as_secs() < 2_524_608_000 {
        Ok(Time::UtcTime(UtcTime::from_unix_duration(whole)?))
    } else {
        Ok(Time::GeneralTime(
            der::asn1::GeneralizedTime::from_unix_duration(whole)?,
        ))
    }
}

/// A random positive serial of at most 20 octets (pyca refuses 0 and >20).
pub fn random_serial() -> Result<SerialNumber, CertError> {
    let mut b = [0u8; 20];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b[0] = (b[0] & 0x7f).max(1);
    Ok(SerialNumber::new(&b)?)
}

/// Subject key identifier: SHA-256 of the subjectPublicKey bits, truncated
/// to 160 bits (RFC 7093 method 1).
pub fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>, CertError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)?;
    let bits = spki.subject_public_key.raw_bytes();
    Ok(Sha256::digest(bits)[..20].to_vec())
}

/// The issuing CA as the leaf builder needs it.
pub struct Issuer<'a> {
    pub cert: &'a Certificate,
    pub signer: &'a dyn TbsSigner,
    /// The issuer's SubjectKeyIdentifier (the leaf's AKI), read once when
    /// the CA is loaded rather than per certificate.
    pub key_id: Option<&'a [u8]>,
}

/// A leaf TBS without its last extension: the bytes the SCT signs are this
/// TBS's DER, and the precert and the final certificate are this TBS plus
/// the poison or the SCT list. Built once per request.
pub struct PreparedLeaf<'a> {
    tbs: TbsCertificate,
    signer: &'a dyn TbsSigner,
}

impl PreparedLeaf<'_> {
    /// The precertificate (critical CT poison, ASN.1 NULL, as last extension,
    /// signed by the CA key itself) and the DER of its TBS without the poison,
    /// which is what an SCT for it signs (RFC 6962 3.2).
    pub fn precertificate(&self) -> Result<(Vec<u8>, Vec<u8>), CertError> {
        let tbs_der = self.tbs.to_der()?;
        let poison = raw_ext(OID_CT_POISON, true, vec![0x05, 0x00])?;
        Ok((sign(self.with_last(poison), self.signer)?, tbs_der))
    }

    /// The final certificate, with the TLS-encoded SCT list as last extension.
    pub fn certificate(&self, sct_list_tls: &[u8]) -> Result<Vec<u8>, CertError> {
        let value = OctetString::new(sct_list_tls.to_vec())?.to_der()?;
        let scts = raw_ext(OID_CT_SCT_LIST, false, value)?;
        sign(self.with_last(scts), self.signer)
    }

    fn with_last(&self, last: Extension) -> TbsCertificate {
        let mut tbs = self.tbs.clone();
        tbs.extensions.get_or_insert_with(Vec::new).push(last);
        tbs
    }
}

/// Everything that makes the leaf; the same value builds the precert and the final cert.
pub struct LeafTemplate {
    pub serial: SerialNumber,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub spki_der: Vec<u8>,
    pub san: San,
    pub extensions: Extensions,
}

impl LeafTemplate {
    pub fn new(
        spki_der: Vec<u8>,
        san: San,
        extensions: Extensions,
        now: SystemTime,
    ) -> Result<Self, CertError> {
        Ok(LeafTemplate {
            serial: random_serial()?,
            not_before: now,
            not_after: now + Duration::from_secs(600),
            spki_der,
            san,
            extensions,
        })
    }

    /// Extensions in upstream's order: KU, EKU, AKI, SAN, Sigstore (.1, .2–.6, .8, .9–.23, .24).
    pub(crate) fn base_extensions(
        &self,
        issuer_key_id: Option<&[u8]>,
    ) -> Result<Vec<Extension>, CertError> {
        let empty = Name::default();
        let mut out = vec![
            ext(&KeyUsage(KeyUsages::DigitalSignature.into()), &empty, true)?,
            ext(&ExtendedKeyUsage(vec![OID_CODE_SIGNING]), &empty, false)?,
        ];
        if let Some(ski) = issuer_key_id {
            let aki = AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(ski)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            };
            out.push(ext(&aki, &empty, false)?);
        }
        let name = match &self.san {
            San::Email(e) => GeneralName::Rfc822Name(Ia5String::new(e)?),
            San::Uri(u) => GeneralName::UniformResourceIdentifier(Ia5String::new(u)?),
            San::OtherName(v) => GeneralName::OtherName(OtherName {
                type_id: OID_OTHERNAME_USERNAME,
                value: Any::encode_from(&Utf8StringRef::new(v)?)?,
            }),
        };
        // Critical because the subject is empty (RFC 5280 4.2.1.6).
        out.push(ext(&SubjectAltName(vec![name]), &empty, true)?);
        let e = &self.extensions;
        if e.issuer.is_empty() {
            return Err(CertError::Invalid("issuer extension value is empty".into()));
        }
        let utf8 = |s: &str| -> Result<Vec<u8>, CertError> { Ok(Utf8StringRef::new(s)?.to_der()?) };
        out.push(raw_ext(
            sigstore_oid(1)?,
            false,
            e.issuer.as_bytes().to_vec(),
        )?);
        for (arc, v) in [
            (2, &e.github_workflow_trigger),
            (3, &e.github_workflow_sha),
            (4, &e.github_workflow_name),
            (5, &e.github_workflow_repository),
            (6, &e.github_workflow_ref),
        ] {
            if !v.is_empty() {
                out.push(raw_ext(sigstore_oid(arc)?, false, v.as_bytes().to_vec())?);
            }
        }
        out.push(raw_ext(sigstore_oid(8)?, false, utf8(&e.issuer)?)?);
        for (arc, v) in &e.v2 {
            if !v.is_empty() {
                out.push(raw_ext(sigstore_oid(*arc)?, false, utf8(v)?)?);
            }
        }
        if !e.subject.is_empty() {
            out.push(raw_ext(sigstore_oid(24)?, false, utf8(&e.subject)?)?);
        }
        Ok(out)
    }

    /// Builds the TBS (everything but the last extension) for `issuer`.
    pub fn prepare<'a>(&self, issuer: &Issuer<'a>) -> Result<PreparedLeaf<'a>, CertError> {
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: self.serial.clone(),
            signature: issuer.signer.algorithm(),
            issuer: issuer.cert.tbs_certificate.subject.clone(),
            validity: Validity {
                not_before: x509_time(self.not_before)?,
                not_after: x509_time(self.not_after)?,
            },
            subject: Name::default(),
            subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(&self.spki_der)?,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(self.base_extensions(issuer.key_id)?),
        };
        Ok(PreparedLeaf {
            tbs,
            signer: issuer.signer,
        })
    }

    /// The precertificate DER (see [`PreparedLeaf::precertificate`]).
    pub fn precertificate(&self, issuer: &Issuer) -> Result<Vec<u8>, CertError> {
        Ok(self.prepare(issuer)?.precertificate()?.0)
    }

    /// The final certificate DER (see [`PreparedLeaf::certificate`]).
    pub fn certificate(&self, issuer: &Issuer, sct_list_tls: &[u8]) -> Result<Vec<u8>, CertError> {
        self.prepare(issuer)?.certificate(sct_list_tls)
    }
}

/// Signs `tbs` and assembles the certificate DER.
pub fn sign(tbs: TbsCertificate, signer: &dyn TbsSigner) -> Result<Vec<u8>, CertError> {
    let tbs_der = tbs.to_der()?;
    let sig = signer.sign(&tbs_der)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: signer.algorithm(),
        signature: BitString::from_bytes(&sig)?,
    };
    Ok(cert.to_der()?)
}

/// The SubjectKeyIdentifier extension of `cert`, if any.
pub fn subject_key_id(cert: &Certificate) -> Result<Option<Vec<u8>>, CertError> {
    let Some(exts) = &cert.tbs_certificate.extensions else {
        return Ok(None);
    };
    for e in exts {
        if e.extn_id == <SubjectKeyIdentifier as der::oid::AssociatedOid>::OID {
            let ski = SubjectKeyIdentifier::from_der(e.extn_value.as_bytes())?;
            return Ok(Some(ski.0.as_bytes().to_vec()));
        }
    }
    Ok(None)
}

/// What a CA certificate is for.
pub enum CaKind<'a> {
    /// Self-signed; `pathlen` 1 so that it can sign one intermediate.
    Root,
    /// Signed by `parent`; pathlen 0, EKU codeSigning (Go verifies EKU nesting).
    Intermediate { parent: Issuer<'a> },
}

/// Builds a CA certificate per Fulcio's certificate specification: critical
/// BasicConstraints, critical KeyUsage certSign|cRLSign, SKI, AKI (intermediate).
pub fn ca_certificate(
    kind: CaKind,
    subject: &Name,
    subject_key: &dyn TbsSigner,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Vec<u8>, CertError> {
    let empty = Name::default();
    let spki = subject_key.public_key_der();
    let ski = key_identifier(&spki)?;
    let (path_len, eku) = match &kind {
        CaKind::Root => (1, false),
        CaKind::Intermediate { .. } => (0, true),
    };
    let mut exts = vec![ext(
        &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        &empty,
        true,
    )?];
    if eku {
        exts.push(ext(
            &ExtendedKeyUsage(vec![OID_CODE_SIGNING]),
            &empty,
            false,
        )?);
    }
    exts.push(ext(
        &BasicConstraints {
            ca: true,
            path_len_constraint: Some(path_len),
        },
        &empty,
        true,
    )?);
    exts.push(ext(
        &SubjectKeyIdentifier(OctetString::new(ski.clone())?),
        &empty,
        false,
    )?);
    let (issuer_name, signer, aki) = match &kind {
        CaKind::Root => (subject.clone(), subject_key, Some(ski)),
        CaKind::Intermediate { parent } => (
            parent.cert.tbs_certificate.subject.clone(),
            parent.signer,
            parent.key_id.map(<[u8]>::to_vec),
        ),
    };
    if let Some(aki) = aki {
        exts.push(ext(
            &AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(aki)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
            &empty,
            false,
        )?);
    }
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: random_serial()?,
        signature: signer.algorithm(),
        issuer: issuer_name,
        validity: Validity {
            not_before: x509_time(not_before)?,
            not_after: x509_time(not_after)?,
        },
        subject: subject.clone(),
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(&spki)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(exts),
    };
    sign(tbs, signer)
}

/// `O=<org>, CN=<cn>` in Go's `pkix.Name` order (O before CN).
pub fn org_cn_name(org: &str, cn: &str) -> Result<Name, CertError> {
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace(',', "\\,")
            .replace('+', "\\+")
            .replace('=', "\\=")
    };
    // RFC 4514 strings list the last RDN first.
    std::str::FromStr::from_str(&format!("CN={},O={}", escape(cn), escape(org)))
        .map_err(|e: der::Error| CertError::Invalid(format!("name: {e}")))
}

/// PEM as Go's `pem.Encode` writes it (64-column base64, trailing newline).
pub fn to_pem(der: &[u8]) -> String {
    sigstack_core::pem::encode("CERTIFICATE", der)
}

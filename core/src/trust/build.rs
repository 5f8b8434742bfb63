//! Trusted-root entries built from a service's public material, with the
//! output rules every client needs (tuf.md §1): `hashAlgorithm`, key details,
//! `validFor.start` and a 32-byte log ID on every log; organization and common
//! name on every authority. Shared by the TUF publisher (`tuf-root`) and
//! `cosign trusted-root create`.

use x509_cert::Certificate;

use super::common::{
    DistinguishedName, HashAlgorithm, LogId, PublicKeyDetails, TimeRange, X509Certificate,
    X509CertificateChain,
};
use super::trustroot::{
    CertificateAuthority, ServiceSelector, SigningConfig, TransparencyLogInstance, TrustedRoot,
    TRUSTED_ROOT_MEDIA_TYPE_V0_1,
};
use super::TrustError;
use crate::keys::{self, PublicKey};

fn material(msg: impl Into<String>) -> TrustError {
    TrustError::Material(msg.into())
}

/// A certificate time as `OffsetDateTime` (out-of-range times clamp).
pub fn x509_time(t: &x509_cert::time::Time) -> time::OffsetDateTime {
    let secs = t.to_unix_duration().as_secs();
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The key details clients expect for a log key. RSA is accepted only in the
/// sizes protobuf-specs names.
pub fn key_details(key: &PublicKey) -> Result<PublicKeyDetails, TrustError> {
    Ok(match key {
        PublicKey::P256(_) => PublicKeyDetails::PKIX_ECDSA_P256_SHA_256,
        PublicKey::P384(_) => PublicKeyDetails::PKIX_ECDSA_P384_SHA_384,
        PublicKey::P521(_) => PublicKeyDetails::PKIX_ECDSA_P521_SHA_512,
        PublicKey::Ed25519(_) => PublicKeyDetails::PKIX_ED25519,
        PublicKey::Rsa(k) => {
            use rsa::traits::PublicKeyParts;
            match k.size() * 8 {
                2048 => PublicKeyDetails::PKIX_RSA_PKCS1V15_2048_SHA256,
                3072 => PublicKeyDetails::PKIX_RSA_PKCS1V15_3072_SHA256,
                4096 => PublicKeyDetails::PKIX_RSA_PKCS1V15_4096_SHA256,
                bits => {
                    return Err(material(format!(
                        "RSA-{bits} log keys are not supported by clients"
                    )))
                }
            }
        }
    })
}

/// A log entry. `origin` is `None` for Rekor v1 and CT logs (log ID =
/// SHA-256 of the SPKI) and the checkpoint origin for a tiles log (log ID =
/// the C2SP key ID of its checkpoint key, as rekor-tiles computes it).
pub fn log_instance(
    url: &str,
    spki_der: &[u8],
    origin: Option<&str>,
    valid_for: TimeRange,
) -> Result<TransparencyLogInstance, TrustError> {
    let key = PublicKey::from_spki_der(spki_der).map_err(|e| material(format!("{url}: {e}")))?;
    let spki = key.to_spki_der();
    let log_id = match (origin, &key) {
        (None, _) => keys::sha256_key_id(&spki).to_vec(),
        (Some(o), PublicKey::Ed25519(k)) => {
            crate::note::c2sp_ed25519_key_id(o, k.as_bytes()).to_vec()
        }
        (Some(_), PublicKey::P256(_) | PublicKey::P384(_) | PublicKey::P521(_)) => {
            crate::note::c2sp_ecdsa_key_id(&spki).to_vec()
        }
        (Some(_), _) => {
            return Err(material(format!(
                "{url}: a tiles log key must be Ed25519 or ECDSA"
            )))
        }
    };
    Ok(TransparencyLogInstance {
        base_url: url.trim_end_matches('/').to_string(),
        hash_algorithm: HashAlgorithm::Sha2_256,
        public_key: super::common::PublicKey {
            raw_bytes: Some(spki),
            key_details: key_details(&key)?,
            valid_for: Some(valid_for),
        },
        log_id: LogId { key_id: log_id },
        checkpoint_key_id: None,
        operator: String::new(),
    })
}

/// Organization and common name of a certificate's subject;
/// `fallback_org` fills a missing organization (sigstore-python requires
/// both), and the organization a missing common name.
pub fn subject_of(cert: &Certificate, fallback_org: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::default();
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            let value = atv
                .value
                .decode_as::<der::asn1::Utf8StringRef<'_>>()
                .map(|s| s.as_str().to_string())
                .or_else(|_| {
                    atv.value
                        .decode_as::<der::asn1::PrintableStringRef<'_>>()
                        .map(|s| s.as_str().to_string())
                });
            let Ok(value) = value else { continue };
            match atv.oid.to_string().as_str() {
                "2.5.4.10" if dn.organization.is_empty() => dn.organization = value,
                "2.5.4.3" if dn.common_name.is_empty() => dn.common_name = value,
                _ => {}
            }
        }
    }
    if dn.organization.is_empty() {
        dn.organization = fallback_org.to_string();
    }
    if dn.common_name.is_empty() {
        dn.common_name = dn.organization.clone();
    }
    dn
}

/// A CA or TSA entry for `chain_der` (nearest-to-leaf first, trust anchor
/// last). Without a `start`, the validity starts at the first certificate's
/// notBefore.
pub fn certificate_authority(
    url: &str,
    chain_der: &[Vec<u8>],
    start: Option<time::OffsetDateTime>,
    end: Option<time::OffsetDateTime>,
    fallback_org: &str,
) -> Result<CertificateAuthority, TrustError> {
    let certs = chain_der
        .iter()
        .map(|der| keys::parse_certificate_der(der).map_err(|e| material(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let (Some(first), Some(anchor)) = (certs.first(), certs.last()) else {
        return Err(material("empty certificate chain"));
    };
    let start = start.unwrap_or_else(|| x509_time(&first.tbs_certificate.validity.not_before));
    Ok(CertificateAuthority {
        subject: subject_of(anchor, fallback_org),
        uri: url.trim_end_matches('/').to_string(),
        cert_chain: X509CertificateChain {
            certificates: chain_der
                .iter()
                .map(|d| X509Certificate {
                    raw_bytes: d.clone(),
                })
                .collect(),
        },
        valid_for: TimeRange { start, end },
        operator: String::new(),
    })
}

/// Refuses a trusted root that some client would reject (strict model plus
/// the rules sigstore-go and sigstore-python add).
pub fn validate_trusted_root(bytes: &[u8]) -> Result<TrustedRoot, TrustError> {
    let tr = TrustedRoot::from_json(bytes)?;
    let bad = |m: String| Err(TrustError::Material(m));
    if tr.media_type != TRUSTED_ROOT_MEDIA_TYPE_V0_1 {
        return bad(format!(
            "media type must be {TRUSTED_ROOT_MEDIA_TYPE_V0_1:?} (cosign and sigstore-python reject others)"
        ));
    }
    // sigstore-python's model requires these keys even when empty.
    let raw: serde_json::Value = serde_json::from_slice(bytes)?;
    for k in ["tlogs", "certificateAuthorities", "ctlogs"] {
        if raw.get(k).is_none() {
            return bad(format!("{k} must be present (sigstore-python requires it)"));
        }
    }
    for (kind, logs) in [("tlog", &tr.tlogs), ("ctlog", &tr.ctlogs)] {
        for l in logs {
            let who = format!("{kind} {}", l.base_url);
            if l.base_url.is_empty() {
                return bad(format!("{kind} without baseUrl"));
            }
            if l.hash_algorithm != HashAlgorithm::Sha2_256 {
                return bad(format!("{who}: hashAlgorithm must be SHA2_256"));
            }
            let Some(raw) = &l.public_key.raw_bytes else {
                return bad(format!("{who}: no publicKey.rawBytes"));
            };
            let key = PublicKey::from_spki_der(raw)
                .map_err(|e| TrustError::Material(format!("{who}: {e}")))?;
            if key_details(&key)? != l.public_key.key_details {
                return bad(format!("{who}: keyDetails do not match the key"));
            }
            match &l.public_key.valid_for {
                Some(v) if v.end.is_none_or(|e| e >= v.start) => {}
                Some(_) => return bad(format!("{who}: validFor ends before it starts")),
                None => return bad(format!("{who}: validFor.start is required (sigstore-go)")),
            }
            if l.log_id.key_id.len() != 32 {
                return bad(format!("{who}: logId.keyId must be 32 bytes"));
            }
            if l.checkpoint_key_id.is_some() || !l.operator.is_empty() {
                return bad(format!(
                    "{who}: checkpointKeyId/operator are v0.2-only fields"
                ));
            }
        }
    }
    for (kind, cas) in [
        ("CA", &tr.certificate_authorities),
        ("TSA", &tr.timestamp_authorities),
    ] {
        for c in cas {
            let who = format!("{kind} {}", c.uri);
            if c.subject.organization.is_empty() || c.subject.common_name.is_empty() {
                return bad(format!(
                    "{who}: subject organization and commonName are required"
                ));
            }
            let chain: Vec<Vec<u8>> = c
                .cert_chain
                .certificates
                .iter()
                .map(|x| x.raw_bytes.clone())
                .collect();
            if chain.is_empty() {
                return bad(format!("{who}: empty certificate chain"));
            }
            for der in &chain {
                keys::parse_certificate_der(der)
                    .map_err(|e| TrustError::Material(format!("{who}: {e}")))?;
            }
            if c.valid_for.end.is_some_and(|e| e < c.valid_for.start) {
                return bad(format!("{who}: validFor ends before it starts"));
            }
            if !c.operator.is_empty() {
                return bad(format!("{who}: operator is a v0.2-only field"));
            }
        }
    }
    Ok(tr)
}

/// Refuses a signing config some client would reject.
pub fn validate_signing_config(bytes: &[u8]) -> Result<SigningConfig, TrustError> {
    let sc = SigningConfig::from_json(bytes)?;
    let bad = |m: String| Err(TrustError::Material(m));
    let lists = [
        ("caUrls", &sc.ca_urls, &[1u32][..]),
        ("oidcUrls", &sc.oidc_urls, &[1][..]),
        ("rekorTlogUrls", &sc.rekor_tlog_urls, &[1, 2][..]),
        ("tsaUrls", &sc.tsa_urls, &[1][..]),
    ];
    for (name, list, versions) in lists {
        for s in list {
            if s.url.is_empty() || s.operator.is_empty() || s.valid_for.is_none() {
                return bad(format!(
                    "{name}: every service needs url, validFor and operator"
                ));
            }
            if !versions.contains(&s.major_api_version) {
                return bad(format!(
                    "{name} {}: majorApiVersion {} is not one clients support",
                    s.url, s.major_api_version
                ));
            }
            url::Url::parse(&s.url)
                .map_err(|e| TrustError::Material(format!("{name} {}: {e}", s.url)))?;
        }
    }
    for (name, c) in [
        ("rekorTlogConfig", &sc.rekor_tlog_config),
        ("tsaConfig", &sc.tsa_config),
    ] {
        match c {
            Some(c) if c.selector != ServiceSelector::Undefined => {}
            _ => {
                return bad(format!(
                    "{name} must set a selector (sigstore-go and cosign require it)"
                ))
            }
        }
    }
    Ok(sc)
}

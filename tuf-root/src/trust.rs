//! Builds `trusted_root.json` and `signing_config.v0.2.json` from the
//! services' public material, and merges them into what was published
//! before so that a rotated key stays trusted for what it signed.
//!
//! Output rules (tuf.md §1, §2, §8): the v0.1 trusted-root media type (the
//! only one cosign and sigstore-python accept), all four lists always
//! present, enums as names, every log with `hashAlgorithm`, key details,
//! `validFor.start` and a 32-byte `logId`, no v0.2-only fields; every
//! service with `url`, `majorApiVersion`, `validFor` and `operator`, both
//! selectors set. Everything we publish is re-parsed with the strict
//! models of `sigstack_core::trust` and checked again before signing.

use sigstack_core::keys::{self, PublicKey};
use sigstack_core::trust::{
    CertificateAuthority, DistinguishedName, HashAlgorithm, LogId, PublicKeyDetails, Service,
    ServiceConfiguration, ServiceSelector, SigningConfig, TimeRange, TransparencyLogInstance,
    TrustedRoot, X509Certificate, X509CertificateChain, SIGNING_CONFIG_MEDIA_TYPE_V0_2,
    TRUSTED_ROOT_MEDIA_TYPE_V0_1,
};
use time::OffsetDateTime;
use x509_cert::Certificate;

use crate::Error;

/// A transparency log's public material.
#[derive(Debug, Clone)]
pub struct LogInput {
    pub url: String,
    pub spki_der: Vec<u8>,
}

/// A CA's (or TSA's) chain, nearest-to-leaf first, trust anchor last.
#[derive(Debug, Clone)]
pub struct ChainInput {
    pub url: String,
    pub chain_der: Vec<Vec<u8>>,
}

/// What one `set-trust`/`rotate-key` call brings.
#[derive(Debug, Clone, Default)]
pub struct TrustInput {
    pub fulcio: Option<ChainInput>,
    pub rekor: Option<LogInput>,
    pub ctlog: Option<LogInput>,
    pub tsa: Option<ChainInput>,
    pub oidc_url: Option<String>,
    pub operator: String,
    /// Start of validity for new entries (default: now; for a CA, its
    /// first certificate's notBefore).
    pub start: Option<OffsetDateTime>,
    /// End of validity for entries that new material replaces (default: now).
    pub old_end: Option<OffsetDateTime>,
}

/// A certificate time as `OffsetDateTime`.
pub fn x509_time(t: &x509_cert::time::Time) -> OffsetDateTime {
    let secs = t.to_unix_duration().as_secs();
    OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn trim_url(u: &str) -> String {
    u.trim_end_matches('/').to_string()
}

fn key_details(key: &PublicKey) -> Result<PublicKeyDetails, Error> {
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
                    return Err(Error::TrustedRoot(format!(
                        "RSA-{bits} log keys are not supported by clients"
                    )))
                }
            }
        }
    })
}

/// A Rekor v1 or CT log entry: log ID = SHA-256 of the DER SPKI.
fn log_instance(input: &LogInput, start: OffsetDateTime) -> Result<TransparencyLogInstance, Error> {
    let key = PublicKey::from_spki_der(&input.spki_der)
        .map_err(|e| Error::TrustedRoot(format!("{}: {e}", input.url)))?;
    Ok(TransparencyLogInstance {
        base_url: trim_url(&input.url),
        hash_algorithm: HashAlgorithm::Sha2_256,
        public_key: sigstack_core::trust::PublicKey {
            raw_bytes: Some(key.to_spki_der()),
            key_details: key_details(&key)?,
            valid_for: Some(TimeRange { start, end: None }),
        },
        log_id: LogId {
            key_id: keys::sha256_key_id(&key.to_spki_der()).to_vec(),
        },
        checkpoint_key_id: None,
        operator: String::new(),
    })
}

fn parse_chain(chain: &[Vec<u8>]) -> Result<Vec<Certificate>, Error> {
    if chain.is_empty() {
        return Err(Error::TrustedRoot("empty certificate chain".into()));
    }
    chain
        .iter()
        .map(|der| keys::parse_certificate_der(der).map_err(|e| Error::TrustedRoot(e.to_string())))
        .collect()
}

/// Organization and common name of a certificate's subject (the trust
/// anchor's; sigstore-python requires both).
fn subject_of(cert: &Certificate, fallback_org: &str) -> DistinguishedName {
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

fn ca_entry(
    input: &ChainInput,
    start: Option<OffsetDateTime>,
    operator: &str,
) -> Result<CertificateAuthority, Error> {
    let certs = parse_chain(&input.chain_der)?;
    let anchor = certs
        .last()
        .ok_or_else(|| Error::TrustedRoot("empty chain".into()))?;
    let start = match start {
        Some(s) => s,
        None => x509_time(&certs[0].tbs_certificate.validity.not_before),
    };
    Ok(CertificateAuthority {
        subject: subject_of(anchor, operator),
        uri: trim_url(&input.url),
        cert_chain: X509CertificateChain {
            certificates: input
                .chain_der
                .iter()
                .map(|d| X509Certificate {
                    raw_bytes: d.clone(),
                })
                .collect(),
        },
        valid_for: TimeRange { start, end: None },
        operator: String::new(),
    })
}

/// Ends the active entries that `new` replaces (same URL, other key) and
/// appends `new`, unless an active entry already has the same material.
fn merge_log(
    list: &mut Vec<TransparencyLogInstance>,
    new: TransparencyLogInstance,
    end: OffsetDateTime,
) -> Result<bool, Error> {
    let active = |l: &TransparencyLogInstance| {
        l.base_url == new.base_url
            && l.public_key
                .valid_for
                .as_ref()
                .is_some_and(|v| v.end.is_none())
    };
    if list
        .iter()
        .any(|l| active(l) && l.public_key.raw_bytes == new.public_key.raw_bytes)
    {
        return Ok(false);
    }
    for l in list.iter_mut().filter(|l| active(l)) {
        if let Some(v) = l.public_key.valid_for.as_mut() {
            if end < v.start {
                return Err(Error::TrustedRoot(format!(
                    "{}: the old key's end would precede its start",
                    l.base_url
                )));
            }
            v.end = Some(end);
        }
    }
    list.push(new);
    list.sort_by_key(|l| l.public_key.valid_for.as_ref().map(|v| v.start));
    Ok(true)
}

fn merge_ca(
    list: &mut Vec<CertificateAuthority>,
    new: CertificateAuthority,
    end: OffsetDateTime,
) -> Result<bool, Error> {
    let active = |c: &CertificateAuthority| c.uri == new.uri && c.valid_for.end.is_none();
    if list
        .iter()
        .any(|c| active(c) && c.cert_chain == new.cert_chain)
    {
        return Ok(false);
    }
    for c in list.iter_mut().filter(|c| active(c)) {
        if end < c.valid_for.start {
            return Err(Error::TrustedRoot(format!(
                "{}: the old chain's end would precede its start",
                c.uri
            )));
        }
        c.valid_for.end = Some(end);
    }
    list.push(new);
    list.sort_by_key(|c| c.valid_for.start);
    Ok(true)
}

/// Merges `input` into `existing` (or a new trusted root). Returns the new
/// root and a line per change.
pub fn merge_trusted_root(
    existing: Option<TrustedRoot>,
    input: &TrustInput,
    now: OffsetDateTime,
) -> Result<(TrustedRoot, Vec<String>), Error> {
    let mut root = existing.unwrap_or_else(|| TrustedRoot {
        media_type: TRUSTED_ROOT_MEDIA_TYPE_V0_1.to_string(),
        ..Default::default()
    });
    root.media_type = TRUSTED_ROOT_MEDIA_TYPE_V0_1.to_string();
    let end = input.old_end.unwrap_or(now);
    let start = input.start.unwrap_or(now);
    let mut changes = Vec::new();
    if let Some(r) = &input.rekor {
        if merge_log(&mut root.tlogs, log_instance(r, start)?, end)? {
            changes.push(format!("tlog {} key set", trim_url(&r.url)));
        }
    }
    if let Some(c) = &input.ctlog {
        if merge_log(&mut root.ctlogs, log_instance(c, start)?, end)? {
            changes.push(format!("ctlog {} key set", trim_url(&c.url)));
        }
    }
    if let Some(f) = &input.fulcio {
        if merge_ca(
            &mut root.certificate_authorities,
            ca_entry(f, input.start, &input.operator)?,
            end,
        )? {
            changes.push(format!(
                "certificate authority {} chain set",
                trim_url(&f.url)
            ));
        }
    }
    if let Some(t) = &input.tsa {
        if merge_ca(
            &mut root.timestamp_authorities,
            ca_entry(t, input.start, &input.operator)?,
            end,
        )? {
            changes.push(format!(
                "timestamp authority {} chain set",
                trim_url(&t.url)
            ));
        }
    }
    Ok((root, changes))
}

fn service(url: &str, version: u32, operator: &str, now: OffsetDateTime) -> Service {
    Service {
        url: trim_url(url),
        major_api_version: version,
        valid_for: Some(TimeRange {
            start: now,
            end: None,
        }),
        operator: operator.to_string(),
    }
}

/// Points the signing config at the given services (kinds not given keep
/// their entries; an unchanged URL keeps its `validFor`).
pub fn merge_signing_config(
    existing: Option<SigningConfig>,
    input: &TrustInput,
    now: OffsetDateTime,
) -> SigningConfig {
    let mut sc = existing.unwrap_or_default();
    sc.media_type = SIGNING_CONFIG_MEDIA_TYPE_V0_2.to_string();
    let set = |list: &mut Vec<Service>, url: &str, version: u32| {
        let url = trim_url(url);
        if list.len() == 1 && list[0].url == url && list[0].operator == input.operator {
            return;
        }
        *list = vec![service(&url, version, &input.operator, now)];
    };
    if let Some(f) = &input.fulcio {
        set(&mut sc.ca_urls, &f.url, 1);
    }
    if let Some(o) = &input.oidc_url {
        set(&mut sc.oidc_urls, o, 1);
    }
    if let Some(r) = &input.rekor {
        set(&mut sc.rekor_tlog_urls, &r.url, 1);
    }
    if let Some(t) = &input.tsa {
        set(&mut sc.tsa_urls, &t.url, 1);
    }
    let any = ServiceConfiguration {
        selector: ServiceSelector::Any,
        count: 0,
    };
    if sc
        .rekor_tlog_config
        .as_ref()
        .is_none_or(|c| c.selector == ServiceSelector::Undefined)
    {
        sc.rekor_tlog_config = Some(any.clone());
    }
    if sc
        .tsa_config
        .as_ref()
        .is_none_or(|c| c.selector == ServiceSelector::Undefined)
    {
        sc.tsa_config = Some(any);
    }
    sc
}

/// The file bytes we publish (two-space JSON, trailing newline).
pub fn to_bytes<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, Error> {
    let mut out = serde_json::to_vec_pretty(v).map_err(|e| Error::Invalid(e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

/// Refuses a trusted root that some client would reject (strict model plus
/// the rules sigstore-go and sigstore-python add).
pub fn validate_trusted_root(bytes: &[u8]) -> Result<TrustedRoot, Error> {
    let tr = TrustedRoot::from_json(bytes).map_err(|e| Error::TrustedRoot(e.to_string()))?;
    let bad = |m: String| Err(Error::TrustedRoot(m));
    if tr.media_type != TRUSTED_ROOT_MEDIA_TYPE_V0_1 {
        return bad(format!(
            "media type must be {TRUSTED_ROOT_MEDIA_TYPE_V0_1:?} (cosign and sigstore-python reject others)"
        ));
    }
    // sigstore-python's model requires these keys even when empty.
    let raw: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::TrustedRoot(e.to_string()))?;
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
                .map_err(|e| Error::TrustedRoot(format!("{who}: {e}")))?;
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
            parse_chain(&chain).map_err(|e| Error::TrustedRoot(format!("{who}: {e}")))?;
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
pub fn validate_signing_config(bytes: &[u8]) -> Result<SigningConfig, Error> {
    let sc = SigningConfig::from_json(bytes).map_err(|e| Error::SigningConfig(e.to_string()))?;
    let bad = |m: String| Err(Error::SigningConfig(m));
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
                .map_err(|e| Error::SigningConfig(format!("{name} {}: {e}", s.url)))?;
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

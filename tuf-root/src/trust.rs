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

use sigstack_core::trust::{
    build, CertificateAuthority, Service, ServiceConfiguration, ServiceSelector, SigningConfig,
    TimeRange, TransparencyLogInstance, TrustedRoot, SIGNING_CONFIG_MEDIA_TYPE_V0_2,
    TRUSTED_ROOT_MEDIA_TYPE_V0_1,
};
use time::OffsetDateTime;

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
    /// A Rekor v2 (tiles) log: its checkpoint origin is its URL's host.
    pub rekor_v2: Option<LogInput>,
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

pub use sigstack_core::trust::build::x509_time;

fn trim_url(u: &str) -> String {
    u.trim_end_matches('/').to_string()
}

/// A Rekor v1 or CT log entry: log ID = SHA-256 of the DER SPKI.
fn log_instance(input: &LogInput, start: OffsetDateTime) -> Result<TransparencyLogInstance, Error> {
    build::log_instance(
        &input.url,
        &input.spki_der,
        None,
        TimeRange { start, end: None },
    )
    .map_err(|e| Error::TrustedRoot(e.to_string()))
}

/// A Rekor v2 log entry: log ID = the C2SP key ID of its checkpoint key
/// under its origin (the URL's host), as rekor-tiles and sigstore-go compute it.
fn v2_log_instance(
    input: &LogInput,
    start: OffsetDateTime,
) -> Result<TransparencyLogInstance, Error> {
    let origin = sigstack_core::verify::url_host(&input.url)
        .ok_or_else(|| Error::TrustedRoot(format!("{}: no host in the URL", input.url)))?;
    build::log_instance(
        &input.url,
        &input.spki_der,
        Some(origin),
        TimeRange { start, end: None },
    )
    .map_err(|e| Error::TrustedRoot(e.to_string()))
}

fn ca_entry(
    input: &ChainInput,
    start: Option<OffsetDateTime>,
    operator: &str,
) -> Result<CertificateAuthority, Error> {
    build::certificate_authority(&input.url, &input.chain_der, start, None, operator)
        .map_err(|e| Error::TrustedRoot(e.to_string()))
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
    if let Some(r) = &input.rekor_v2 {
        if merge_log(&mut root.tlogs, v2_log_instance(r, start)?, end)? {
            changes.push(format!("tlog {} (Rekor v2) key set", trim_url(&r.url)));
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
    // One service per API version: a new URL for a version replaces that
    // version's entry and leaves the others (Rekor v1 and v2 side by side).
    let set = |list: &mut Vec<Service>, url: &str, version: u32| {
        let url = trim_url(url);
        let same = |s: &Service| s.major_api_version == version;
        let existing: Vec<&Service> = list.iter().filter(|s| same(s)).collect();
        if existing.len() == 1 && existing[0].url == url && existing[0].operator == input.operator {
            return;
        }
        list.retain(|s| !same(s));
        list.push(service(&url, version, &input.operator, now));
        // Newest API version first, as the upstream publishers list them.
        list.sort_by_key(|s| std::cmp::Reverse(s.major_api_version));
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
    if let Some(r) = &input.rekor_v2 {
        set(&mut sc.rekor_tlog_urls, &r.url, 2);
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

/// Refuses a trusted root that some client would reject
/// ([`build::validate_trusted_root`]).
pub fn validate_trusted_root(bytes: &[u8]) -> Result<TrustedRoot, Error> {
    build::validate_trusted_root(bytes).map_err(|e| Error::TrustedRoot(material_message(e)))
}

/// Refuses a signing config some client would reject
/// ([`build::validate_signing_config`]).
pub fn validate_signing_config(bytes: &[u8]) -> Result<SigningConfig, Error> {
    build::validate_signing_config(bytes).map_err(|e| Error::SigningConfig(material_message(e)))
}

fn material_message(e: sigstack_core::trust::TrustError) -> String {
    match e {
        sigstack_core::trust::TrustError::Material(m) => m,
        other => other.to_string(),
    }
}

//! `dev.sigstore.trustroot.v1` messages: the trusted root, the signing
//! config and the client trust config (protobuf-specs
//! `sigstore_trustroot.proto`).

use serde::{Deserialize, Serialize};

use super::common::{
    DistinguishedName, HashAlgorithm, LogId, PublicKey, TimeRange, X509CertificateChain,
};
use super::proto::{self, nullable};
use super::TrustError;

/// The only trusted-root media type cosign/sigstore-go and sigstore-python
/// accept; what a private stack must publish.
pub const TRUSTED_ROOT_MEDIA_TYPE_V0_1: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
/// The v0.2 media type (adds `checkpointKeyId`/`operator`); only sigstore-js
/// accepts it today, so it is parsed but should not be emitted.
pub const TRUSTED_ROOT_MEDIA_TYPE_V0_2: &str = "application/vnd.dev.sigstore.trustedroot.v0.2+json";
/// The only signing-config media type the clients accept.
pub const SIGNING_CONFIG_MEDIA_TYPE_V0_2: &str =
    "application/vnd.dev.sigstore.signingconfig.v0.2+json";
/// Media type of the local, no-TUF trust configuration file.
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE_V0_1: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

/// A transparency log (Rekor, or a CT log for Fulcio SCTs).
///
/// `public_key` and `log_id` are required here although the proto makes
/// every message optional: sigstore-go rejects the whole root without them
/// and sigstore-js dereferences them unchecked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransparencyLogInstance {
    /// For a tiles log, `url.Hostname()` of this is the checkpoint origin
    /// sigstore-go expects; for Rekor v1 the checkpoint key name must be a
    /// substring of it (sigstore-js).
    #[serde(
        default,
        alias = "base_url",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub base_url: String,
    /// sigstore-go accepts only `SHA2_256`.
    #[serde(
        default,
        alias = "hash_algorithm",
        deserialize_with = "nullable",
        skip_serializing_if = "proto::is_default"
    )]
    pub hash_algorithm: HashAlgorithm,
    #[serde(alias = "public_key")]
    pub public_key: PublicKey,
    #[serde(alias = "log_id")]
    pub log_id: LogId,
    /// Trusted-root v0.2 only. Leave unset: sigstore-js prefers it over
    /// `log_id` for both checkpoint-hint and SET log-ID matching.
    #[serde(
        default,
        alias = "checkpoint_key_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub checkpoint_key_id: Option<LogId>,
    /// Trusted-root v0.2 only.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub operator: String,
}

/// A certificate authority (Fulcio) or timestamp authority.
///
/// `subject`, `cert_chain` and `valid_for` are required here: the
/// sigstore-python model rejects entries without them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateAuthority {
    pub subject: DistinguishedName,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub uri: String,
    /// Nearest-to-leaf first, trust anchor last. For a TSA the first
    /// certificate may be the (non-CA) timestamping leaf.
    #[serde(alias = "cert_chain")]
    pub cert_chain: X509CertificateChain,
    #[serde(alias = "valid_for")]
    pub valid_for: TimeRange,
    /// Trusted-root v0.2 only.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub operator: String,
}

/// `trusted_root.json`: everything a verifier trusts.
///
/// On output the four lists are always written, even when empty:
/// sigstore-python's model requires the `tlogs`, `certificateAuthorities`
/// and `ctlogs` keys to be present (tuf.md §1.5), so plain proto3 JSON,
/// which omits empty lists, would break it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustedRoot {
    #[serde(default, alias = "media_type", deserialize_with = "nullable")]
    pub media_type: String,
    #[serde(default, deserialize_with = "nullable")]
    pub tlogs: Vec<TransparencyLogInstance>,
    #[serde(
        default,
        alias = "certificate_authorities",
        deserialize_with = "nullable"
    )]
    pub certificate_authorities: Vec<CertificateAuthority>,
    #[serde(default, deserialize_with = "nullable")]
    pub ctlogs: Vec<TransparencyLogInstance>,
    #[serde(
        default,
        alias = "timestamp_authorities",
        deserialize_with = "nullable"
    )]
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

impl TrustedRoot {
    /// Parses a trusted root and checks its media type (v0.1 or v0.2).
    pub fn from_json(json: &[u8]) -> Result<Self, TrustError> {
        let root: TrustedRoot = serde_json::from_slice(json)?;
        match root.media_type.as_str() {
            TRUSTED_ROOT_MEDIA_TYPE_V0_1 | TRUSTED_ROOT_MEDIA_TYPE_V0_2 => Ok(root),
            other => Err(TrustError::UnsupportedMediaType(other.to_owned())),
        }
    }
}

/// A service endpoint in the signing config.
///
/// All four fields are REQUIRED in the proto and by sigstore-python, so
/// `url`, `majorApiVersion` and `operator` are always written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    #[serde(default, deserialize_with = "nullable")]
    pub url: String,
    /// 1 for Fulcio, TSA and OIDC; 1 (Rekor v1) or 2 (tiles log) for Rekor.
    #[serde(default, alias = "major_api_version", with = "proto::uint32")]
    pub major_api_version: u32,
    #[serde(default, alias = "valid_for", skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<TimeRange>,
    #[serde(default, deserialize_with = "nullable")]
    pub operator: String,
}

/// `dev.sigstore.trustroot.v1.ServiceSelector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ServiceSelector {
    /// sigstore-go treats an unset selector as an error; never emit it.
    #[default]
    #[serde(rename = "SERVICE_SELECTOR_UNDEFINED")]
    Undefined,
    #[serde(rename = "ALL")]
    All,
    #[serde(rename = "ANY")]
    Any,
    #[serde(rename = "EXACT")]
    Exact,
}

/// How many of the listed services a client must use.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceConfiguration {
    /// Always written (REQUIRED in the proto).
    #[serde(default, deserialize_with = "nullable")]
    pub selector: ServiceSelector,
    /// Only meaningful with [`ServiceSelector::Exact`].
    #[serde(
        default,
        with = "proto::uint32",
        skip_serializing_if = "proto::is_zero_u32"
    )]
    pub count: u32,
}

/// `signing_config.v0.2.json`: where clients sign.
///
/// The four lists are always written. Both configurations should be set:
/// sigstore-go rejects an unset selector and cosign aborts when `tsaUrls` is
/// non-empty but `tsaConfig` is missing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SigningConfig {
    #[serde(default, alias = "media_type", deserialize_with = "nullable")]
    pub media_type: String,
    #[serde(default, alias = "ca_urls", deserialize_with = "nullable")]
    pub ca_urls: Vec<Service>,
    #[serde(default, alias = "oidc_urls", deserialize_with = "nullable")]
    pub oidc_urls: Vec<Service>,
    #[serde(default, alias = "rekor_tlog_urls", deserialize_with = "nullable")]
    pub rekor_tlog_urls: Vec<Service>,
    #[serde(
        default,
        alias = "rekor_tlog_config",
        skip_serializing_if = "Option::is_none"
    )]
    pub rekor_tlog_config: Option<ServiceConfiguration>,
    #[serde(default, alias = "tsa_urls", deserialize_with = "nullable")]
    pub tsa_urls: Vec<Service>,
    #[serde(default, alias = "tsa_config", skip_serializing_if = "Option::is_none")]
    pub tsa_config: Option<ServiceConfiguration>,
}

impl SigningConfig {
    /// Parses a signing config and checks that it is v0.2, the only version
    /// the clients accept.
    pub fn from_json(json: &[u8]) -> Result<Self, TrustError> {
        let config: SigningConfig = serde_json::from_slice(json)?;
        if config.media_type != SIGNING_CONFIG_MEDIA_TYPE_V0_2 {
            return Err(TrustError::UnsupportedMediaType(config.media_type));
        }
        Ok(config)
    }
}

/// The service a client should use from `services` (sigstore-go
/// `SelectService`): the highest API version the client supports among the
/// services valid at `now`, and of those the one that started most recently.
pub fn select_service<'s>(
    services: &'s [Service],
    supported_versions: &[u32],
    now: time::OffsetDateTime,
) -> Option<&'s Service> {
    services
        .iter()
        .filter(|s| supported_versions.contains(&s.major_api_version))
        .filter(|s| s.valid_for.as_ref().is_none_or(|v| v.contains(now)))
        .max_by_key(|s| (s.major_api_version, s.valid_for.as_ref().map(|v| v.start)))
}

/// The trusted root and signing config in one local file
/// (`sigstore --trust-config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientTrustConfig {
    #[serde(default, alias = "media_type", deserialize_with = "nullable")]
    pub media_type: String,
    #[serde(alias = "trusted_root")]
    pub trusted_root: TrustedRoot,
    #[serde(alias = "signing_config")]
    pub signing_config: SigningConfig,
}

impl ClientTrustConfig {
    /// Parses the file and checks the media types of it and both parts.
    pub fn from_json(json: &[u8]) -> Result<Self, TrustError> {
        let config: ClientTrustConfig = serde_json::from_slice(json)?;
        if config.media_type != CLIENT_TRUST_CONFIG_MEDIA_TYPE_V0_1 {
            return Err(TrustError::UnsupportedMediaType(config.media_type));
        }
        match config.trusted_root.media_type.as_str() {
            TRUSTED_ROOT_MEDIA_TYPE_V0_1 | TRUSTED_ROOT_MEDIA_TYPE_V0_2 => {}
            other => return Err(TrustError::UnsupportedMediaType(other.to_owned())),
        }
        if config.signing_config.media_type != SIGNING_CONFIG_MEDIA_TYPE_V0_2 {
            return Err(TrustError::UnsupportedMediaType(
                config.signing_config.media_type,
            ));
        }
        Ok(config)
    }
}

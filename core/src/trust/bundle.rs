//! `dev.sigstore.bundle.v1` and `dev.sigstore.rekor.v1` messages plus the
//! DSSE envelope (protobuf-specs `sigstore_bundle.proto`,
//! `sigstore_rekor.proto`, `envelope.proto`).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::common::{
    LogId, MessageSignature, PublicKeyIdentifier, Rfc3161SignedTimestamp, X509Certificate,
    X509CertificateChain,
};
use super::proto::{self, nullable};
use super::TrustError;

/// Bundle v0.1 media type.
pub const BUNDLE_MEDIA_TYPE_V0_1: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";
/// Bundle v0.2 media type.
pub const BUNDLE_MEDIA_TYPE_V0_2: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
/// Bundle v0.3 media type, the form the current clients write.
pub const BUNDLE_MEDIA_TYPE_V0_3: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The older spelling of v0.3, still accepted by sigstore-go and
/// sigstore-python.
pub const BUNDLE_MEDIA_TYPE_V0_3_ALT: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";

/// Upper bounds sigstore-go enforces (`internal/limits`); a bundle beyond
/// them is rejected by cosign, so it is rejected here too.
pub const MAX_TLOG_ENTRIES: usize = 32;
/// See [`MAX_TLOG_ENTRIES`].
pub const MAX_RFC3161_TIMESTAMPS: usize = 32;

/// Entry type and version as Rekor names them (e.g. `hashedrekord`/`0.0.1`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindVersion {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub version: String,
}

/// `dev.sigstore.rekor.v1.Checkpoint`: the signed-note text of a checkpoint
/// (parse it with [`crate::note::SignedNote::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub envelope: String,
}

/// An RFC 6962 inclusion proof.
///
/// Invariants the log must keep (rekor.md §5), because each client reads a
/// different subset: `0 <= log_index < tree_size`, `tree_size` and
/// `root_hash` equal the checkpoint's size and root, and `root_hash` is the
/// raw 32 bytes (not hex). `log_index` and `tree_size` are always written,
/// even when zero.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InclusionProof {
    #[serde(default, alias = "log_index", with = "proto::int64")]
    pub log_index: i64,
    #[serde(
        default,
        alias = "root_hash",
        with = "proto::bytes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub root_hash: Vec<u8>,
    #[serde(default, alias = "tree_size", with = "proto::int64")]
    pub tree_size: i64,
    /// Audit path, leaf to root. Always written, even empty (the first
    /// entry of a log has no path): sigstore-python's model requires the key.
    #[serde(default, with = "proto::vec_bytes")]
    pub hashes: Vec<Vec<u8>>,
    /// Required by every client when a proof is present; optional here only so
    /// that old bundles still parse ([`Bundle::validate`] enforces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// Rekor v1's signed entry timestamp (SET).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InclusionPromise {
    #[serde(
        default,
        alias = "signed_entry_timestamp",
        with = "proto::bytes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signed_entry_timestamp: Vec<u8>,
}

/// One transparency-log entry as carried in a bundle and returned by the
/// tiles log's write API.
///
/// `log_id` and `kind_version` are required (sigstore-go and sigstore-js
/// fail without them). `inclusion_proof` is optional because v0.1 bundles may
/// carry only a promise. `integrated_time` is omitted when zero, as for
/// tiles-log entries, which have no integrated time; `log_index` is always
/// written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransparencyLogEntry {
    /// For Rekor v1 the global ("virtual") index across shards.
    #[serde(default, alias = "log_index", with = "proto::int64")]
    pub log_index: i64,
    #[serde(alias = "log_id")]
    pub log_id: LogId,
    #[serde(alias = "kind_version")]
    pub kind_version: KindVersion,
    /// Seconds since the Unix epoch; 0 (omitted) for tiles-log entries.
    #[serde(
        default,
        alias = "integrated_time",
        with = "proto::int64",
        skip_serializing_if = "proto::is_zero_i64"
    )]
    pub integrated_time: i64,
    #[serde(
        default,
        alias = "inclusion_promise",
        skip_serializing_if = "Option::is_none"
    )]
    pub inclusion_promise: Option<InclusionPromise>,
    #[serde(
        default,
        alias = "inclusion_proof",
        skip_serializing_if = "Option::is_none"
    )]
    pub inclusion_proof: Option<InclusionProof>,
    /// The exact leaf bytes (JCS body) the log hashed.
    #[serde(
        default,
        alias = "canonicalized_body",
        with = "proto::bytes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub canonicalized_body: Vec<u8>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    #[serde(default, with = "proto::bytes", skip_serializing_if = "Vec::is_empty")]
    pub sig: Vec<u8>,
    /// Usually empty; older cosign wrote `"keyid": ""`, which parses the same.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub keyid: String,
}

/// `io.intoto.Envelope` (DSSE). The signatures are over
/// `PAE(payloadType, payload)`; the JSON names are the proto's own
/// (`payloadType`, `keyid`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    #[serde(default, with = "proto::bytes", skip_serializing_if = "Vec::is_empty")]
    pub payload: Vec<u8>,
    #[serde(
        default,
        rename = "payloadType",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub payload_type: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signatures: Vec<EnvelopeSignature>,
}

/// RFC 3161 timestamps over the signature.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimestampVerificationData {
    #[serde(
        default,
        alias = "rfc3161_timestamps",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rfc3161_timestamps: Vec<Rfc3161SignedTimestamp>,
}

/// The `content` oneof of `VerificationMaterial`: what the signature is
/// checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationMaterialContent {
    /// A key the verifier already holds, named by hint.
    PublicKey(PublicKeyIdentifier),
    /// Bundles v0.1/v0.2: the leaf first, optionally followed by its chain.
    X509CertificateChain(X509CertificateChain),
    /// Bundle v0.3: the leaf certificate alone.
    Certificate(X509Certificate),
}

/// Everything needed to verify the signature besides the artifact.
///
/// The `content` oneof is required (every client rejects a bundle without
/// it); JSON with two of its members set is rejected, as by `protojson`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationMaterial {
    pub content: VerificationMaterialContent,
    pub tlog_entries: Vec<TransparencyLogEntry>,
    pub timestamp_verification_data: Option<TimestampVerificationData>,
}

/// The bundle's `content` oneof: what was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleContent {
    MessageSignature(MessageSignature),
    DsseEnvelope(Envelope),
}

/// A Sigstore bundle (v0.1, v0.2 or v0.3).
///
/// `verification_material` and `content` are required, as in every client.
/// Serde parsing checks the shape only; [`Bundle::from_json`] also applies
/// the version rules of [`Bundle::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    pub content: BundleContent,
}

/// Bundle format versions this stack reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BundleVersion {
    V0_1,
    V0_2,
    V0_3,
}

impl BundleVersion {
    /// Maps a media type to its version, accepting exactly the spellings
    /// sigstore-go and sigstore-python accept for v0.1 to v0.3.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            BUNDLE_MEDIA_TYPE_V0_1 | "application/vnd.dev.sigstore.bundle.v0.1+json" => {
                Some(Self::V0_1)
            }
            BUNDLE_MEDIA_TYPE_V0_2 | "application/vnd.dev.sigstore.bundle.v0.2+json" => {
                Some(Self::V0_2)
            }
            BUNDLE_MEDIA_TYPE_V0_3 | BUNDLE_MEDIA_TYPE_V0_3_ALT => Some(Self::V0_3),
            _ => None,
        }
    }

    /// The canonical media type to write for this version.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::V0_1 => BUNDLE_MEDIA_TYPE_V0_1,
            Self::V0_2 => BUNDLE_MEDIA_TYPE_V0_2,
            Self::V0_3 => BUNDLE_MEDIA_TYPE_V0_3,
        }
    }
}

impl Bundle {
    /// Parses a bundle and applies [`Bundle::validate`].
    pub fn from_json(json: &[u8]) -> Result<Self, TrustError> {
        let bundle: Bundle = serde_json::from_slice(json)?;
        bundle.validate()?;
        Ok(bundle)
    }

    /// The bundle's format version, from its media type.
    pub fn version(&self) -> Result<BundleVersion, TrustError> {
        BundleVersion::from_media_type(&self.media_type)
            .ok_or_else(|| TrustError::UnsupportedMediaType(self.media_type.clone()))
    }

    /// The structural rules sigstore-go applies when it loads a bundle
    /// (`pkg/bundle/bundle.go`, `pkg/tlog/entry.go`), so that a bundle this
    /// stack accepts or emits is one cosign accepts:
    /// * a known media type (v0.1 to v0.3);
    /// * at most [`MAX_TLOG_ENTRIES`] entries and [`MAX_RFC3161_TIMESTAMPS`]
    ///   timestamps;
    /// * every entry has a non-negative log index, a non-empty log ID and
    ///   canonicalized body, and, if it has an inclusion proof, a non-empty
    ///   checkpoint;
    /// * v0.1 with entries needs an inclusion promise; v0.2+ with entries
    ///   needs an inclusion proof;
    /// * v0.3 must not use `x509CertificateChain`.
    ///
    /// Returns the version on success.
    pub fn validate(&self) -> Result<BundleVersion, TrustError> {
        let version = self.version()?;
        let vm = &self.verification_material;
        let invalid = |msg: String| Err(TrustError::InvalidBundle(msg));
        if vm.tlog_entries.len() > MAX_TLOG_ENTRIES {
            return invalid(format!(
                "{} transparency log entries; at most {MAX_TLOG_ENTRIES} are accepted",
                vm.tlog_entries.len()
            ));
        }
        if let Some(tvd) = &vm.timestamp_verification_data {
            if tvd.rfc3161_timestamps.len() > MAX_RFC3161_TIMESTAMPS {
                return invalid(format!(
                    "{} RFC 3161 timestamps; at most {MAX_RFC3161_TIMESTAMPS} are accepted",
                    tvd.rfc3161_timestamps.len()
                ));
            }
        }
        for (i, e) in vm.tlog_entries.iter().enumerate() {
            if e.log_index < 0 {
                return invalid(format!(
                    "tlog entry {i} has negative log index {}",
                    e.log_index
                ));
            }
            if e.log_id.key_id.is_empty() {
                return invalid(format!("tlog entry {i} has no log ID"));
            }
            if e.canonicalized_body.is_empty() {
                return invalid(format!("tlog entry {i} has no canonicalized body"));
            }
            if let Some(proof) = &e.inclusion_proof {
                if proof
                    .checkpoint
                    .as_ref()
                    .is_none_or(|c| c.envelope.is_empty())
                {
                    return invalid(format!(
                        "tlog entry {i} has an inclusion proof without a checkpoint"
                    ));
                }
            }
        }
        if !vm.tlog_entries.is_empty() {
            if version == BundleVersion::V0_1 {
                if !vm
                    .tlog_entries
                    .iter()
                    .any(|e| e.inclusion_promise.is_some())
                {
                    return invalid("bundle v0.1 requires an inclusion promise".into());
                }
            } else if !vm.tlog_entries.iter().any(|e| e.inclusion_proof.is_some()) {
                return invalid("bundle v0.2 and later require an inclusion proof".into());
            }
        }
        if version >= BundleVersion::V0_3
            && matches!(
                vm.content,
                VerificationMaterialContent::X509CertificateChain(_)
            )
        {
            return invalid("bundle v0.3 must carry a single certificate, not a chain".into());
        }
        Ok(version)
    }
}

/// The wire form of `VerificationMaterial` as read: the oneof flattened into
/// optional fields, as proto3 JSON has it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VerificationMaterialIn {
    #[serde(default, alias = "public_key")]
    public_key: Option<PublicKeyIdentifier>,
    #[serde(default, alias = "x509_certificate_chain")]
    x509_certificate_chain: Option<X509CertificateChain>,
    #[serde(default)]
    certificate: Option<X509Certificate>,
    #[serde(default, alias = "tlog_entries", deserialize_with = "nullable")]
    tlog_entries: Vec<TransparencyLogEntry>,
    #[serde(default, alias = "timestamp_verification_data")]
    timestamp_verification_data: Option<TimestampVerificationData>,
}

/// The wire form of `VerificationMaterial` as written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterialOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<&'a PublicKeyIdentifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x509_certificate_chain: Option<&'a X509CertificateChain>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<&'a X509Certificate>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tlog_entries: &'a [TransparencyLogEntry],
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp_verification_data: Option<&'a TimestampVerificationData>,
}

impl Serialize for VerificationMaterial {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut wire = VerificationMaterialOut {
            public_key: None,
            x509_certificate_chain: None,
            certificate: None,
            tlog_entries: &self.tlog_entries,
            timestamp_verification_data: self.timestamp_verification_data.as_ref(),
        };
        match &self.content {
            VerificationMaterialContent::PublicKey(k) => wire.public_key = Some(k),
            VerificationMaterialContent::X509CertificateChain(c) => {
                wire.x509_certificate_chain = Some(c)
            }
            VerificationMaterialContent::Certificate(c) => wire.certificate = Some(c),
        }
        wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for VerificationMaterial {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = VerificationMaterialIn::deserialize(d)?;
        let content = match (wire.public_key, wire.x509_certificate_chain, wire.certificate) {
            (Some(k), None, None) => VerificationMaterialContent::PublicKey(k),
            (None, Some(c), None) => VerificationMaterialContent::X509CertificateChain(c),
            (None, None, Some(c)) => VerificationMaterialContent::Certificate(c),
            (None, None, None) => {
                return Err(D::Error::custom(
                    "verification material needs one of publicKey, x509CertificateChain or certificate",
                ))
            }
            _ => {
                return Err(D::Error::custom(
                    "verification material sets more than one of publicKey, x509CertificateChain and certificate",
                ))
            }
        };
        Ok(VerificationMaterial {
            content,
            tlog_entries: wire.tlog_entries,
            timestamp_verification_data: wire.timestamp_verification_data,
        })
    }
}

/// The wire form of `Bundle` as read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BundleIn {
    #[serde(default, alias = "media_type", deserialize_with = "nullable")]
    media_type: String,
    #[serde(default, alias = "verification_material")]
    verification_material: Option<VerificationMaterial>,
    #[serde(default, alias = "message_signature")]
    message_signature: Option<MessageSignature>,
    #[serde(default, alias = "dsse_envelope")]
    dsse_envelope: Option<Envelope>,
}

/// The wire form of `Bundle` as written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BundleOut<'a> {
    media_type: &'a str,
    verification_material: &'a VerificationMaterial,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_signature: Option<&'a MessageSignature>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dsse_envelope: Option<&'a Envelope>,
}

impl Serialize for Bundle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (message_signature, dsse_envelope) = match &self.content {
            BundleContent::MessageSignature(m) => (Some(m), None),
            BundleContent::DsseEnvelope(e) => (None, Some(e)),
        };
        BundleOut {
            media_type: &self.media_type,
            verification_material: &self.verification_material,
            message_signature,
            dsse_envelope,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Bundle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = BundleIn::deserialize(d)?;
        let verification_material = wire
            .verification_material
            .ok_or_else(|| D::Error::custom("bundle has no verificationMaterial"))?;
        let content = match (wire.message_signature, wire.dsse_envelope) {
            (Some(m), None) => BundleContent::MessageSignature(m),
            (None, Some(e)) => BundleContent::DsseEnvelope(e),
            (None, None) => {
                return Err(D::Error::custom(
                    "bundle needs a messageSignature or a dsseEnvelope",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(D::Error::custom(
                    "bundle sets both messageSignature and dsseEnvelope",
                ))
            }
        };
        Ok(Bundle {
            media_type: wire.media_type,
            verification_material,
            content,
        })
    }
}

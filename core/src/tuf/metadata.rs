//! The four top-level TUF roles, keys and signatures.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use super::{cjson, TufError};
use crate::keys::PublicKey;

/// The spec version we write. python-tuf and tuf-js accept any `1.x[.y]`;
/// go-tuf does not check it.
pub const SPEC_VERSION: &str = "1.0.31";

/// `expires` must be exactly `YYYY-MM-DDTHH:MM:SSZ`: python-tuf parses it
/// with `strptime("%Y-%m-%dT%H:%M:%SZ")` and refuses fractions or offsets,
/// and go-tuf re-emits RFC 3339 before checking signatures.
const EXPIRES: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Formats an expiry (whole seconds, UTC).
pub fn format_expires(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    // The format has no fraction, so sub-seconds are dropped, never rounded up.
    t.format(EXPIRES).unwrap_or_default()
}

/// Parses an expiry in the one format every client accepts.
pub fn parse_expires(s: &str) -> Result<OffsetDateTime, TufError> {
    time::PrimitiveDateTime::parse(s, EXPIRES)
        .map(|t| t.assume_utc())
        .map_err(|_| TufError::Metadata(format!("expires {s:?} is not YYYY-MM-DDTHH:MM:SSZ")))
}

/// A signature as listed in metadata: hex key ID and hex signature bytes
/// (ASN.1 DER for ECDSA, raw 64 bytes for Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub keyid: String,
    pub sig: String,
}

/// A signed metadata file: the `signed` object as parsed (so its canonical
/// form is what the clients verify) and its signatures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub signed: Value,
    pub signatures: Vec<Signature>,
}

impl Envelope {
    pub fn from_slice(bytes: &[u8]) -> Result<Self, TufError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The bytes every signature covers.
    pub fn canonical_signed(&self) -> Result<Vec<u8>, TufError> {
        cjson::encode(&self.signed)
    }

    /// The typed role, after checking `_type` and the common fields.
    pub fn parse<R: Role>(&self) -> Result<R, TufError> {
        let ty = self.signed.get("_type").and_then(Value::as_str);
        if ty != Some(R::TYPE) {
            return Err(TufError::Metadata(format!(
                "expected _type {:?}, found {ty:?}",
                R::TYPE
            )));
        }
        let role: R = serde_json::from_value(self.signed.clone())?;
        let common = role.common();
        check_spec_version(&common.spec_version)?;
        if common.version == 0 {
            return Err(TufError::Metadata(format!(
                "{} version must be >= 1",
                R::TYPE
            )));
        }
        parse_expires(&common.expires)?;
        role.validate()?;
        Ok(role)
    }

    /// Wraps a typed role (no signatures yet).
    pub fn unsigned<R: Role>(role: &R) -> Result<Self, TufError> {
        Ok(Envelope {
            signed: serde_json::to_value(role)?,
            signatures: Vec::new(),
        })
    }

    /// The file as written to the repository: two-space indented (people
    /// read these in reviews), one trailing newline. Clients never hash the
    /// layout, only the canonical `signed`, and the snapshot/timestamp
    /// hashes cover exactly these bytes.
    pub fn to_file_bytes(&self) -> Result<Vec<u8>, TufError> {
        let mut out = serde_json::to_vec_pretty(self)?;
        out.push(b'\n');
        Ok(out)
    }
}

fn check_spec_version(v: &str) -> Result<(), TufError> {
    let parts: Vec<&str> = v.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !(2..=3).contains(&parts.len()) || !numeric || parts[0] != "1" {
        return Err(TufError::Metadata(format!(
            "unsupported spec_version {v:?} (need 1.x)"
        )));
    }
    Ok(())
}

/// Fields every role has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Common {
    #[serde(rename = "_type")]
    pub type_: String,
    pub spec_version: String,
    pub version: u64,
    pub expires: String,
}

/// The common fields of a new role version.
pub fn metadata_common(type_: &str, version: u64, expires: OffsetDateTime) -> Common {
    Common::new(type_, version, expires)
}

impl Common {
    pub fn new(type_: &str, version: u64, expires: OffsetDateTime) -> Self {
        Common {
            type_: type_.to_string(),
            spec_version: SPEC_VERSION.to_string(),
            version,
            expires: format_expires(expires),
        }
    }
}

/// One of the four top-level roles.
pub trait Role: Serialize + DeserializeOwned {
    /// `_type`, which is also the role name.
    const TYPE: &'static str;
    fn common(&self) -> &Common;
    fn common_mut(&mut self) -> &mut Common;
    fn validate(&self) -> Result<(), TufError> {
        Ok(())
    }
    fn version(&self) -> u64 {
        self.common().version
    }
    fn expires(&self) -> OffsetDateTime {
        // Validated by `Envelope::parse`; a role built in code always has a
        // well-formed value.
        parse_expires(&self.common().expires).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
    fn is_expired(&self, now: OffsetDateTime) -> bool {
        // python-tuf: expired when `now >= expires`.
        now >= self.expires()
    }
}

/// A public key in TUF's JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub keytype: String,
    pub scheme: String,
    pub keyval: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Key {
    /// The encoding all three client libraries accept (tuf.md §5.4):
    /// ECDSA as keytype `ecdsa` with a PEM SPKI public key, Ed25519 as hex.
    pub fn from_public_key(key: &PublicKey) -> Result<Self, TufError> {
        let (keytype, scheme, public) = match key {
            PublicKey::P256(_) => ("ecdsa", "ecdsa-sha2-nistp256", key.to_pem()),
            PublicKey::P384(_) => ("ecdsa", "ecdsa-sha2-nistp384", key.to_pem()),
            PublicKey::Ed25519(k) => ("ed25519", "ed25519", hex::encode(k.as_bytes())),
            other => {
                return Err(TufError::UnsupportedKey(format!(
                    "{} (use ECDSA P-256 or Ed25519)",
                    other.algorithm_name()
                )))
            }
        };
        Ok(Key {
            keytype: keytype.into(),
            scheme: scheme.into(),
            keyval: BTreeMap::from([("public".to_string(), public)]),
            extra: Map::new(),
        })
    }

    /// The key ID: hex SHA-256 of the canonical JSON of the whole key
    /// object, extra fields included (what the public root's IDs are).
    pub fn key_id(&self) -> Result<String, TufError> {
        let v = serde_json::to_value(self)?;
        Ok(hex::encode(Sha256::digest(cjson::encode(&v)?)))
    }

    /// The parsed public key, for the key types and schemes we verify.
    pub fn public_key(&self) -> Result<PublicKey, TufError> {
        let public = self
            .keyval
            .get("public")
            .ok_or_else(|| TufError::UnsupportedKey("keyval has no \"public\"".into()))?;
        let bad = |e: &dyn std::fmt::Display| TufError::UnsupportedKey(e.to_string());
        let key = match (self.keytype.as_str(), self.scheme.as_str()) {
            ("ed25519", "ed25519") => {
                let raw = hex::decode(public).map_err(|e| bad(&e))?;
                let raw: [u8; 32] = raw
                    .try_into()
                    .map_err(|_| bad(&"an Ed25519 key is 32 bytes"))?;
                PublicKey::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|e| bad(&e))?,
                )
            }
            ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
                let k = PublicKey::from_pem(public.as_bytes()).map_err(|e| bad(&e))?;
                if !matches!(k, PublicKey::P256(_)) {
                    return Err(bad(&"scheme ecdsa-sha2-nistp256 with a non-P-256 key"));
                }
                k
            }
            ("ecdsa" | "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384") => {
                let k = PublicKey::from_pem(public.as_bytes()).map_err(|e| bad(&e))?;
                if !matches!(k, PublicKey::P384(_)) {
                    return Err(bad(&"scheme ecdsa-sha2-nistp384 with a non-P-384 key"));
                }
                k
            }
            (t, s) => {
                return Err(TufError::UnsupportedKey(format!(
                    "keytype {t:?} with scheme {s:?}"
                )))
            }
        };
        Ok(key)
    }

    /// Verifies a hex signature over `msg` (the canonical `signed` bytes).
    pub fn verify(&self, msg: &[u8], sig_hex: &str) -> Result<(), TufError> {
        let sig =
            hex::decode(sig_hex).map_err(|_| TufError::Metadata("signature is not hex".into()))?;
        self.public_key()?
            .verify_message(msg, &sig)
            .map_err(|_| TufError::Metadata("bad signature".into()))
    }
}

/// The keys and threshold of one role, as listed in root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleKeys {
    pub keyids: Vec<String>,
    pub threshold: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `root.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Root {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub consistent_snapshot: bool,
    pub keys: BTreeMap<String, Key>,
    pub roles: BTreeMap<String, RoleKeys>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The four role names a root must list (python-tuf refuses any other set).
pub const TOP_LEVEL_ROLES: [&str; 4] = ["root", "snapshot", "targets", "timestamp"];

impl Role for Root {
    const TYPE: &'static str = "root";
    fn common(&self) -> &Common {
        &self.common
    }
    fn common_mut(&mut self) -> &mut Common {
        &mut self.common
    }
    fn validate(&self) -> Result<(), TufError> {
        let names: Vec<&str> = self.roles.keys().map(String::as_str).collect();
        if names != TOP_LEVEL_ROLES {
            return Err(TufError::Metadata(format!(
                "root must list exactly the roles {TOP_LEVEL_ROLES:?}, found {names:?}"
            )));
        }
        for (name, role) in &self.roles {
            if role.threshold == 0 {
                return Err(TufError::Metadata(format!("{name} threshold must be >= 1")));
            }
            let mut seen = std::collections::BTreeSet::new();
            for id in &role.keyids {
                if !seen.insert(id) {
                    return Err(TufError::Metadata(format!("{name} lists key {id} twice")));
                }
                if !self.keys.contains_key(id) {
                    return Err(TufError::Metadata(format!(
                        "{name} lists key {id}, which root does not define"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Root {
    /// The keys and threshold of `role`.
    pub fn role(&self, role: &str) -> Result<&RoleKeys, TufError> {
        self.roles
            .get(role)
            .ok_or_else(|| TufError::Metadata(format!("root has no role {role}")))
    }

    /// Counts the valid signatures of `role`'s keys over `env` and checks
    /// the threshold. Counts distinct key IDs (python-tuf, tuf-js); a key
    /// ID listed twice in `signatures` is refused, as python-tuf does.
    pub fn verify_role(
        &self,
        role: &str,
        env: &Envelope,
        signed_name: &str,
    ) -> Result<usize, TufError> {
        let keys = self.role(role)?;
        let mut seen = std::collections::BTreeSet::new();
        for s in &env.signatures {
            if !seen.insert(&s.keyid) {
                return Err(TufError::Metadata(format!(
                    "{signed_name}: multiple signatures for key {}",
                    s.keyid
                )));
            }
        }
        let msg = env.canonical_signed()?;
        let mut valid = 0usize;
        for id in &keys.keyids {
            let Some(key) = self.keys.get(id) else {
                continue;
            };
            if let Some(sig) = env.signatures.iter().find(|s| &s.keyid == id) {
                if key.verify(&msg, &sig.sig).is_ok() {
                    valid += 1;
                }
            }
        }
        if (valid as u64) < keys.threshold {
            return Err(TufError::Threshold {
                role: signed_name.to_string(),
                signer: format!("root v{} {role}", self.common.version),
                valid,
                threshold: keys.threshold,
            });
        }
        Ok(valid)
    }
}

/// A snapshot or timestamp entry for another metadata file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaFile {
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MetaFile {
    /// An entry with version, length and SHA-256 of `bytes`.
    pub fn of(version: u64, bytes: &[u8]) -> Self {
        MetaFile {
            version,
            length: Some(bytes.len() as u64),
            hashes: Some(BTreeMap::from([(
                "sha256".to_string(),
                hex::encode(Sha256::digest(bytes)),
            )])),
            extra: Map::new(),
        }
    }

    /// Checks the length and every listed hash of `bytes`.
    pub fn check(&self, name: &str, bytes: &[u8]) -> Result<(), TufError> {
        check_length_hashes(name, bytes, self.length, self.hashes.as_ref())
    }
}

fn check_length_hashes(
    name: &str,
    bytes: &[u8],
    length: Option<u64>,
    hashes: Option<&BTreeMap<String, String>>,
) -> Result<(), TufError> {
    let mismatch = |what: &str| TufError::Mismatch {
        name: name.to_string(),
        what: what.to_string(),
    };
    if let Some(len) = length {
        if len != bytes.len() as u64 {
            return Err(mismatch("length"));
        }
    }
    if let Some(hashes) = hashes {
        if hashes.is_empty() {
            return Err(TufError::Metadata(format!("{name}: empty hashes")));
        }
        for (alg, want) in hashes {
            let got = match alg.as_str() {
                "sha256" => hex::encode(Sha256::digest(bytes)),
                "sha512" => hex::encode(sha2::Sha512::digest(bytes)),
                other => {
                    return Err(TufError::Metadata(format!(
                        "{name}: unsupported hash algorithm {other}"
                    )))
                }
            };
            if !got.eq_ignore_ascii_case(want) {
                return Err(mismatch(&format!("{alg} hash")));
            }
        }
    }
    Ok(())
}

/// `timestamp.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    #[serde(flatten)]
    pub common: Common,
    pub meta: BTreeMap<String, MetaFile>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Role for Timestamp {
    const TYPE: &'static str = "timestamp";
    fn common(&self) -> &Common {
        &self.common
    }
    fn common_mut(&mut self) -> &mut Common {
        &mut self.common
    }
    fn validate(&self) -> Result<(), TufError> {
        // python-tuf and tuf-js rebuild `meta` from this single entry.
        if self.meta.len() != 1 || !self.meta.contains_key("snapshot.json") {
            return Err(TufError::Metadata(
                "timestamp meta must hold exactly snapshot.json".into(),
            ));
        }
        Ok(())
    }
}

impl Timestamp {
    pub fn snapshot_meta(&self) -> &MetaFile {
        // `validate` guarantees the entry; a hand-built value without it is a bug.
        &self.meta["snapshot.json"]
    }
}

/// `snapshot.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(flatten)]
    pub common: Common,
    pub meta: BTreeMap<String, MetaFile>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Role for Snapshot {
    const TYPE: &'static str = "snapshot";
    fn common(&self) -> &Common {
        &self.common
    }
    fn common_mut(&mut self) -> &mut Common {
        &mut self.common
    }
}

/// One target file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetFile {
    pub length: u64,
    pub hashes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TargetFile {
    pub fn of(bytes: &[u8], custom: Option<Value>) -> Self {
        TargetFile {
            length: bytes.len() as u64,
            hashes: BTreeMap::from([("sha256".to_string(), hex::encode(Sha256::digest(bytes)))]),
            custom,
            extra: Map::new(),
        }
    }

    /// Checks the length and every listed hash.
    pub fn check(&self, name: &str, bytes: &[u8]) -> Result<(), TufError> {
        check_length_hashes(name, bytes, Some(self.length), Some(&self.hashes))
    }

    /// The SHA-256 the consistent-snapshot file name uses.
    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str)
    }
}

/// `targets.json` (top-level; delegations are kept but not followed:
/// Sigstore's targets live in the top-level role).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    #[serde(flatten)]
    pub common: Common,
    pub targets: BTreeMap<String, TargetFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Role for Targets {
    const TYPE: &'static str = "targets";
    fn common(&self) -> &Common {
        &self.common
    }
    fn common_mut(&mut self) -> &mut Common {
        &mut self.common
    }
}

/// Parses bytes as a role envelope and the typed role in one step.
pub fn parse_role<R: Role>(bytes: &[u8]) -> Result<(Envelope, R), TufError> {
    let env = Envelope::from_slice(bytes)?;
    let role = env.parse::<R>()?;
    Ok((env, role))
}

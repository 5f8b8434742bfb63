//! Configuration: a TOML file, overridden by flags and `TSA_*` environment
//! variables (flag names as upstream's `timestamp-server serve`), with
//! defaults that work on a laptop (an in-memory key and chain).

use std::path::PathBuf;

use der::oid::ObjectIdentifier;
use serde::Deserialize;

use crate::service::{Policy, DEFAULT_POLICY_OID};

#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SignerKind {
    /// A new key and chain at every start (development and tests only).
    Memory,
    /// `file_signer_key_path` (PEM, optionally encrypted) and
    /// `certificate_chain_path`.
    File,
    /// A key in an HSM (`pkcs11_config_path`, `hsm_key_label`) and
    /// `certificate_chain_path`.
    Pkcs11,
}

/// `timestamp-server serve` flags.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file (keys as the flags, with underscores).
    #[arg(long, env = "TSA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen host [default: 127.0.0.1].
    #[arg(long, env = "TSA_HOST")]
    pub host: Option<String>,
    /// Listen port [default: 3004].
    #[arg(long, env = "TSA_PORT")]
    pub port: Option<u16>,
    /// Key backend [default: memory].
    #[arg(long = "timestamp-signer", env = "TSA_TIMESTAMP_SIGNER", value_enum)]
    pub timestamp_signer: Option<SignerKind>,
    /// PEM private key of the TSA certificate (file signer).
    #[arg(long = "file-signer-key-path", env = "TSA_FILE_SIGNER_KEY_PATH")]
    pub file_signer_key_path: Option<PathBuf>,
    /// Passphrase of an encrypted key (prefer the environment variable).
    #[arg(
        long = "file-signer-passwd",
        env = "TSA_FILE_SIGNER_PASSWD",
        hide_env_values = true
    )]
    pub file_signer_passwd: Option<String>,
    /// PEM chain: the TSA certificate first, root last (file and pkcs11 signers).
    #[arg(long = "certificate-chain-path", env = "TSA_CERTIFICATE_CHAIN_PATH")]
    pub certificate_chain_path: Option<PathBuf>,
    /// PKCS#11 configuration (crypto11 JSON, as fulcio's).
    #[arg(long = "pkcs11-config-path", env = "TSA_PKCS11_CONFIG_PATH")]
    pub pkcs11_config_path: Option<PathBuf>,
    /// CKA_LABEL of the TSA key pair in the HSM [default: tsa].
    #[arg(long = "hsm-key-label", env = "TSA_HSM_KEY_LABEL")]
    pub hsm_key_label: Option<String>,
    /// Policy written into tokens when a request names none
    /// [default: 1.3.6.1.4.1.57264.2].
    #[arg(long = "default-policy-oid", env = "TSA_DEFAULT_POLICY_OID")]
    pub default_policy_oid: Option<String>,
    /// Further policies a request may ask for (comma-separated).
    #[arg(
        long = "accepted-policy-oids",
        env = "TSA_ACCEPTED_POLICY_OIDS",
        value_delimiter = ','
    )]
    pub accepted_policy_oids: Option<Vec<String>>,
    /// Largest accepted request body in bytes [default: 1048576].
    #[arg(long = "max-request-body-size", env = "TSA_MAX_REQUEST_BODY_SIZE")]
    pub max_request_body_size: Option<usize>,
    #[command(flatten)]
    pub tls: sigstack_http::tls::TlsArgs,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub timestamp_signer: Option<SignerKind>,
    pub file_signer_key_path: Option<PathBuf>,
    pub certificate_chain_path: Option<PathBuf>,
    pub pkcs11_config_path: Option<PathBuf>,
    pub hsm_key_label: Option<String>,
    pub default_policy_oid: Option<String>,
    pub accepted_policy_oids: Option<Vec<String>>,
    pub max_request_body_size: Option<usize>,
}

pub use sigstack_http::config::ConfigError;

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub signer: SignerKind,
    pub key_path: Option<PathBuf>,
    pub chain_path: Option<PathBuf>,
    pub pkcs11_config_path: Option<PathBuf>,
    pub hsm_key_label: String,
    pub policy: Policy,
    pub max_request_bytes: usize,
}

fn oid(s: &str) -> Result<ObjectIdentifier, ConfigError> {
    ObjectIdentifier::new(s).map_err(|e| ConfigError::Invalid(format!("policy OID {s:?}: {e}")))
}

impl Config {
    pub fn resolve(a: &ServeArgs) -> Result<Self, ConfigError> {
        let f: FileConfig = match &a.config {
            Some(p) => sigstack_http::config::load_toml(p)?,
            None => FileConfig::default(),
        };
        let signer = a
            .timestamp_signer
            .or(f.timestamp_signer)
            .unwrap_or(SignerKind::Memory);
        let key_path = a.file_signer_key_path.clone().or(f.file_signer_key_path);
        let chain_path = a
            .certificate_chain_path
            .clone()
            .or(f.certificate_chain_path);
        let pkcs11_config_path = a.pkcs11_config_path.clone().or(f.pkcs11_config_path);
        match signer {
            SignerKind::Memory => {
                if key_path.is_some() || chain_path.is_some() {
                    return Err(ConfigError::Invalid(
                        "a key or chain path is set but the signer is memory: set timestamp-signer to file (or pkcs11)".into(),
                    ));
                }
            }
            SignerKind::File => {
                if key_path.is_none() || chain_path.is_none() {
                    return Err(ConfigError::Invalid(
                        "the file signer needs file-signer-key-path and certificate-chain-path"
                            .into(),
                    ));
                }
            }
            SignerKind::Pkcs11 => {
                if pkcs11_config_path.is_none() || chain_path.is_none() {
                    return Err(ConfigError::Invalid(
                        "the pkcs11 signer needs pkcs11-config-path and certificate-chain-path"
                            .into(),
                    ));
                }
            }
        }
        let default = oid(a
            .default_policy_oid
            .as_deref()
            .or(f.default_policy_oid.as_deref())
            .unwrap_or(DEFAULT_POLICY_OID))?;
        let accepted = a
            .accepted_policy_oids
            .clone()
            .or(f.accepted_policy_oids)
            .unwrap_or_default()
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| oid(s))
            .collect::<Result<Vec<_>, _>>()?;
        let max_request_bytes = a
            .max_request_body_size
            .or(f.max_request_body_size)
            .unwrap_or(crate::api::DEFAULT_MAX_REQUEST_BYTES);
        if max_request_bytes < 64 {
            return Err(ConfigError::Invalid(format!(
                "max-request-body-size {max_request_bytes} cannot hold a timestamp request"
            )));
        }
        Ok(Config {
            host: a
                .host
                .clone()
                .or(f.host)
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: a.port.or(f.port).unwrap_or(3004),
            signer,
            key_path,
            chain_path,
            pkcs11_config_path,
            hsm_key_label: a
                .hsm_key_label
                .clone()
                .or(f.hsm_key_label)
                .unwrap_or_else(|| "tsa".into()),
            policy: Policy { default, accepted },
            max_request_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_refusals() {
        let c = Config::resolve(&ServeArgs::default()).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 3004));
        assert_eq!(c.signer, SignerKind::Memory);
        let file_without_key = ServeArgs {
            timestamp_signer: Some(SignerKind::File),
            ..Default::default()
        };
        assert!(Config::resolve(&file_without_key).is_err());
        let memory_with_key = ServeArgs {
            file_signer_key_path: Some("k.pem".into()),
            ..Default::default()
        };
        assert!(Config::resolve(&memory_with_key).is_err());
        let bad_oid = ServeArgs {
            default_policy_oid: Some("not.an.oid".into()),
            ..Default::default()
        };
        assert!(Config::resolve(&bad_oid).is_err());
    }

    #[test]
    fn file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tsa.toml");
        std::fs::write(&p, "port = 4000\naccepted_policy_oids = [\"1.2.3\"]\n").unwrap();
        let mut a = ServeArgs {
            config: Some(p.clone()),
            ..Default::default()
        };
        let c = Config::resolve(&a).unwrap();
        assert_eq!(c.port, 4000);
        assert_eq!(c.policy.accepted.len(), 1);
        a.port = Some(5000);
        assert_eq!(Config::resolve(&a).unwrap().port, 5000);
        std::fs::write(&p, "bogus = 1\n").unwrap();
        assert!(matches!(Config::resolve(&a), Err(ConfigError::Parse(..))));
    }
}

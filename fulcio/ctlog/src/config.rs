//! Configuration: a TOML file, overridden by flags and `CTLOG_*` environment
//! variables, with defaults that work on a laptop (roots excepted: a CT log
//! without roots accepts nothing, so they are required).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use der::asn1::ObjectIdentifier;
use serde::Deserialize;

use crate::chain::eku_by_name;

/// Command-line flags (each also settable by environment variable).
#[derive(Debug, Default, clap::Parser)]
#[command(
    name = "ctlog-server",
    version,
    about = "RFC 6962 Certificate Transparency log for the private Fulcio"
)]
pub struct Args {
    /// TOML configuration file.
    #[arg(long, env = "CTLOG_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "CTLOG_LISTEN")]
    pub listen: Option<String>,
    /// Directory of the embedded store (created if missing).
    #[arg(long, env = "CTLOG_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PEM private key (ECDSA P-256, PKCS#8 or SEC1, optionally encrypted; the
    /// passphrase comes from CTLOG_SIGNING_KEY_PASSPHRASE). Default:
    /// <data_dir>/ctlog-key.pem, generated on first start.
    #[arg(long, env = "CTLOG_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// PEM file of the accepted root certificates (required).
    #[arg(long, env = "CTLOG_ROOTS_PEM_FILE")]
    pub roots_pem_file: Option<PathBuf>,
    /// Comma-separated EKUs of which the leaf must carry one (CodeSigning,
    /// ServerAuth, ClientAuth, EmailProtection, TimeStamping, OCSPSigning,
    /// Any); an empty value disables the check. Default: CodeSigning.
    #[arg(long, env = "CTLOG_EXT_KEY_USAGES")]
    pub ext_key_usages: Option<String>,
    /// URL path prefix before /ct/v1 (e.g. "/test" for a Trillian-style log URL).
    #[arg(long, env = "CTLOG_PATH_PREFIX")]
    pub path_prefix: Option<String>,
    /// Most entries per sequencer batch.
    #[arg(long, env = "CTLOG_BATCH_MAX")]
    pub batch_max: Option<usize>,
    /// Longest a batch waits for more entries, in milliseconds (0: group commit).
    #[arg(long, env = "CTLOG_BATCH_LINGER_MS")]
    pub batch_linger_ms: Option<u64>,
    /// Largest accepted request body in bytes.
    #[arg(long, env = "CTLOG_MAX_REQUEST_BYTES")]
    pub max_request_bytes: Option<usize>,
    /// Most entries returned by one get-entries call.
    #[arg(long, env = "CTLOG_MAX_GET_ENTRIES")]
    pub max_get_entries: Option<u64>,
    #[command(flatten)]
    pub tls: sigstack_http::tls::TlsArgs,
}

/// The configuration file; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub signing_key: Option<PathBuf>,
    pub roots_pem_file: Option<PathBuf>,
    pub ext_key_usages: Option<Vec<String>>,
    pub path_prefix: Option<String>,
    pub batch_max: Option<usize>,
    pub batch_linger_ms: Option<u64>,
    pub max_request_bytes: Option<usize>,
    pub max_get_entries: Option<u64>,
    pub block_cache_mb: Option<usize>,
}

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub signing_key: PathBuf,
    /// True when the key path was defaulted (it may be generated).
    pub signing_key_defaulted: bool,
    pub roots_pem_file: PathBuf,
    pub ext_key_usages: Vec<ObjectIdentifier>,
    pub path_prefix: String,
    pub batch_max: usize,
    pub batch_linger: Duration,
    pub max_request_bytes: usize,
    pub max_get_entries: u64,
    pub block_cache_bytes: usize,
}

pub use sigstack_tlog::server::ConfigError;
use sigstack_tlog::server::{load_toml, Defaults, Layer, LogSettings};

fn parse_ekus(names: &[String]) -> Result<Vec<ObjectIdentifier>, ConfigError> {
    names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(|n| {
            eku_by_name(n)
                .ok_or_else(|| ConfigError::Invalid(format!("unknown extended key usage {n:?}")))
        })
        .collect()
}

impl Config {
    pub fn resolve(args: &Args) -> Result<Self, ConfigError> {
        let file: FileConfig = match &args.config {
            Some(p) => load_toml(p)?,
            None => FileConfig::default(),
        };
        let log = LogSettings::resolve(
            Layer {
                listen: args.listen.clone(),
                data_dir: args.data_dir.clone(),
                signing_key: args.signing_key.clone(),
                batch_max: args.batch_max,
                batch_linger_ms: args.batch_linger_ms,
                max_request_bytes: args.max_request_bytes,
                block_cache_mb: None,
            },
            Layer {
                listen: file.listen,
                data_dir: file.data_dir,
                signing_key: file.signing_key,
                batch_max: file.batch_max,
                batch_linger_ms: file.batch_linger_ms,
                max_request_bytes: file.max_request_bytes,
                block_cache_mb: file.block_cache_mb,
            },
            &Defaults {
                listen: "127.0.0.1:6962",
                data_dir: "./ctlog-data",
                key_file: "ctlog-key.pem",
            },
        )?;
        let roots_pem_file = args
            .roots_pem_file
            .clone()
            .or(file.roots_pem_file)
            .ok_or_else(|| {
                ConfigError::Invalid(
                    "roots_pem_file is required (--roots-pem-file / CTLOG_ROOTS_PEM_FILE): the PEM root certificates whose chains this log accepts, e.g. the Fulcio root".into(),
                )
            })?;
        let ext_key_usages = match (&args.ext_key_usages, file.ext_key_usages) {
            (Some(s), _) => parse_ekus(&s.split(',').map(str::to_string).collect::<Vec<_>>())?,
            (None, Some(list)) => parse_ekus(&list)?,
            (None, None) => parse_ekus(&["CodeSigning".to_string()])?,
        };
        let path_prefix = args
            .path_prefix
            .clone()
            .or(file.path_prefix)
            .unwrap_or_default();
        let path_prefix = path_prefix.trim_end_matches('/').to_string();
        if !path_prefix.is_empty()
            && (!path_prefix.starts_with('/')
                || path_prefix
                    .bytes()
                    .any(|b| !(b.is_ascii_alphanumeric() || b"/-_.".contains(&b))))
        {
            return Err(ConfigError::Invalid(format!(
                "path_prefix {path_prefix:?} must start with '/' and contain only [A-Za-z0-9/-_.]"
            )));
        }
        let max_get_entries = args
            .max_get_entries
            .or(file.max_get_entries)
            .unwrap_or(crate::service::DEFAULT_MAX_GET_ENTRIES);
        if max_get_entries == 0 {
            return Err(ConfigError::Invalid(
                "max_get_entries must be at least 1".into(),
            ));
        }
        Ok(Config {
            listen: log.listen,
            data_dir: log.data_dir,
            signing_key: log.signing_key,
            signing_key_defaulted: log.signing_key_defaulted,
            roots_pem_file,
            ext_key_usages,
            path_prefix,
            batch_max: log.batch_max,
            batch_linger: log.batch_linger,
            max_request_bytes: log.max_request_bytes,
            max_get_entries,
            block_cache_bytes: log.block_cache_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_roots() -> Args {
        Args {
            roots_pem_file: Some("roots.pem".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_work_on_a_laptop() {
        let c = Config::resolve(&with_roots()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:6962");
        assert_eq!(c.data_dir, PathBuf::from("./ctlog-data"));
        assert_eq!(c.signing_key, PathBuf::from("./ctlog-data/ctlog-key.pem"));
        assert!(c.signing_key_defaulted);
        assert_eq!(
            c.ext_key_usages,
            eku_by_name("CodeSigning").into_iter().collect::<Vec<_>>()
        );
        assert_eq!(c.path_prefix, "");
    }

    #[test]
    fn roots_are_required() {
        let e = Config::resolve(&Args::default()).unwrap_err();
        assert!(e.to_string().contains("roots_pem_file is required"));
    }

    #[test]
    fn refuses_bad_settings() {
        for a in [
            Args {
                ext_key_usages: Some("CodeSigning,Bogus".into()),
                ..with_roots()
            },
            Args {
                path_prefix: Some("test".into()),
                ..with_roots()
            },
            Args {
                batch_max: Some(0),
                ..with_roots()
            },
            Args {
                listen: Some("nonsense".into()),
                ..with_roots()
            },
        ] {
            assert!(Config::resolve(&a).is_err(), "{a:?}");
        }
        let none = Args {
            ext_key_usages: Some(String::new()),
            path_prefix: Some("/test/".into()),
            ..with_roots()
        };
        let c = Config::resolve(&none).unwrap();
        assert!(c.ext_key_usages.is_empty());
        assert_eq!(c.path_prefix, "/test");
    }

    #[test]
    fn file_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "roots_pem_file = \"/etc/fulcio/root.pem\"\next_key_usages = [\"CodeSigning\", \"Any\"]\nlisten = \"0.0.0.0:6962\"\n",
        )
        .unwrap();
        let c = Config::resolve(&Args {
            config: Some(p.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.ext_key_usages.len(), 2);
        assert_eq!(c.roots_pem_file, PathBuf::from("/etc/fulcio/root.pem"));
        std::fs::write(&p, "bogus = 1\n").unwrap();
        assert!(matches!(
            Config::resolve(&Args {
                config: Some(p),
                ..Default::default()
            }),
            Err(ConfigError::Parse(..))
        ));
    }
}

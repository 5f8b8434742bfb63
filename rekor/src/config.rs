//! Configuration: a TOML file, overridden by flags and `REKOR_*` environment
//! variables, with defaults that work on a laptop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Command-line flags (each also settable by environment variable).
#[derive(Debug, Default, clap::Parser)]
#[command(
    name = "rekor-server",
    version,
    about = "Rekor-compatible transparency log (Rekor v1 REST API)"
)]
pub struct Args {
    /// TOML configuration file.
    #[arg(long, env = "REKOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "REKOR_LISTEN")]
    pub listen: Option<String>,
    /// Directory of the embedded store (created if missing).
    #[arg(long, env = "REKOR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PEM private key (ECDSA P-256, PKCS#8 or SEC1, optionally encrypted; the
    /// passphrase comes from REKOR_SIGNING_KEY_PASSPHRASE). Default:
    /// <data_dir>/log-key.pem, generated on first start.
    #[arg(long, env = "REKOR_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// Public base URL of this log (what clients are given).
    #[arg(long, env = "REKOR_BASE_URL")]
    pub base_url: Option<String>,
    /// Checkpoint origin host and signer name (default: host of base_url).
    #[arg(long, env = "REKOR_HOSTNAME")]
    pub hostname: Option<String>,
    /// Tree ID (positive int64); generated and pinned on first start if unset.
    #[arg(long, env = "REKOR_TREE_ID")]
    pub tree_id: Option<i64>,
    /// Most entries per sequencer batch.
    #[arg(long, env = "REKOR_BATCH_MAX")]
    pub batch_max: Option<usize>,
    /// Longest a batch waits for more entries, in milliseconds (0: group commit).
    #[arg(long, env = "REKOR_BATCH_LINGER_MS")]
    pub batch_linger_ms: Option<u64>,
    /// Largest accepted request body in bytes.
    #[arg(long, env = "REKOR_MAX_REQUEST_BYTES")]
    pub max_request_bytes: Option<usize>,
    /// Also run a Rekor v2 (tlog-tiles) log: `POST /api/v2/log/entries`,
    /// `/checkpoint`, `/tile/...`, in `<data_dir>/v2`.
    #[arg(long = "v2", env = "REKOR_V2", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub v2: bool,
    /// PEM private key of the v2 log's checkpoints (Ed25519, or ECDSA
    /// P-256; passphrase from REKOR_V2_SIGNING_KEY_PASSPHRASE). Default:
    /// <data_dir>/v2/log-key.pem, an Ed25519 key generated on first start.
    #[arg(long = "v2-signing-key", env = "REKOR_V2_SIGNING_KEY")]
    pub v2_signing_key: Option<PathBuf>,
    /// Public URL of the v2 log (default: <base_url>/v2). Its host is the
    /// checkpoint origin and key name (clients derive it from this URL);
    /// its path is where the v2 routes are served.
    #[arg(long = "v2-base-url", env = "REKOR_V2_BASE_URL")]
    pub v2_base_url: Option<String>,
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
    pub base_url: Option<String>,
    pub hostname: Option<String>,
    pub tree_id: Option<i64>,
    pub batch_max: Option<usize>,
    pub batch_linger_ms: Option<u64>,
    pub max_request_bytes: Option<usize>,
    pub block_cache_mb: Option<usize>,
    pub v2: Option<bool>,
    pub v2_signing_key: Option<PathBuf>,
    pub v2_base_url: Option<String>,
}

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub signing_key: PathBuf,
    /// True when the key path was defaulted (it may be generated).
    pub signing_key_defaulted: bool,
    pub base_url: String,
    pub hostname: String,
    pub tree_id: Option<i64>,
    pub batch_max: usize,
    pub batch_linger: Duration,
    pub max_request_bytes: usize,
    pub block_cache_bytes: usize,
    pub v2: Option<V2Config>,
}

/// The v2 log's settings, when it runs.
#[derive(Debug, Clone)]
pub struct V2Config {
    pub data_dir: PathBuf,
    pub signing_key: PathBuf,
    /// True when the key path was defaulted (it may be generated).
    pub signing_key_defaulted: bool,
    pub base_url: String,
    /// The checkpoint origin: the host of `base_url`.
    pub origin: String,
    /// Where the v2 routes are mounted: the path of `base_url` ("" = root).
    pub path_prefix: String,
}

pub use sigstack_tlog::server::ConfigError;
use sigstack_tlog::server::{load_toml, Defaults, Layer, LogSettings};

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
                listen: "127.0.0.1:3000",
                data_dir: "./rekor-data",
                key_file: "log-key.pem",
            },
        )?;
        let listen = log.listen;
        let base_url = args
            .base_url
            .clone()
            .or(file.base_url)
            .unwrap_or_else(|| format!("http://{listen}"));
        let hostname = match args.hostname.clone().or(file.hostname) {
            Some(h) => h,
            None => url_host(&base_url).ok_or_else(|| {
                ConfigError::Invalid(format!("cannot take a host from base_url {base_url:?}"))
            })?,
        };
        if hostname.is_empty() || hostname.contains(char::is_whitespace) || hostname.contains('+') {
            return Err(ConfigError::Invalid(format!(
                "hostname {hostname:?} cannot name a checkpoint signer (no spaces or '+')"
            )));
        }
        if !base_url.contains(&hostname) {
            return Err(ConfigError::Invalid(format!(
                "hostname {hostname:?} must appear in base_url {base_url:?}: clients match the checkpoint signer name against the log URL"
            )));
        }
        let v2 = if args.v2 || file.v2.unwrap_or(false) {
            let data_dir = log.data_dir.join("v2");
            let (signing_key, signing_key_defaulted) =
                match args.v2_signing_key.clone().or(file.v2_signing_key) {
                    Some(p) => (p, false),
                    None => (data_dir.join("log-key.pem"), true),
                };
            let v2_base = args
                .v2_base_url
                .clone()
                .or(file.v2_base_url)
                .unwrap_or_else(|| format!("{}/v2", base_url.trim_end_matches('/')));
            let origin = url_host(&v2_base).ok_or_else(|| {
                ConfigError::Invalid(format!("cannot take a host from v2 base URL {v2_base:?}"))
            })?;
            let path_prefix = v2_base
                .split_once("://")
                .map(|(_, r)| r)
                .unwrap_or(&v2_base)
                .split_once('/')
                .map(|(_, p)| format!("/{}", p.trim_end_matches('/')))
                .unwrap_or_default();
            let path_prefix = if path_prefix == "/" {
                String::new()
            } else {
                path_prefix
            };
            if path_prefix.is_empty()
                && v2_base.trim_end_matches('/') == base_url.trim_end_matches('/')
            {
                return Err(ConfigError::Invalid(
                    "the v2 log needs its own URL (another path or host than base_url): clients and the trust root tell logs apart by URL".into(),
                ));
            }
            Some(V2Config {
                data_dir,
                signing_key,
                signing_key_defaulted,
                base_url: v2_base,
                origin,
                path_prefix,
            })
        } else if args.v2_signing_key.is_some() || args.v2_base_url.is_some() {
            return Err(ConfigError::Invalid(
                "v2 settings are given but the v2 log is not enabled (--v2)".into(),
            ));
        } else {
            None
        };
        Ok(Config {
            v2,
            listen,
            data_dir: log.data_dir,
            signing_key: log.signing_key,
            signing_key_defaulted: log.signing_key_defaulted,
            base_url,
            hostname,
            tree_id: args.tree_id.or(file.tree_id),
            batch_max: log.batch_max,
            batch_linger: log.batch_linger,
            max_request_bytes: log.max_request_bytes,
            block_cache_bytes: log.block_cache_bytes,
        })
    }
}

/// Host part of an http(s) URL, without port (brackets kept off IPv6).
pub fn url_host(url: &str) -> Option<String> {
    sigstack_core::verify::url_host(url).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_on_a_laptop() {
        let c = Config::resolve(&Args::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.hostname, "127.0.0.1");
        assert!(c.signing_key_defaulted);
    }

    #[test]
    fn refuses_bad_settings() {
        let mut a = Args {
            hostname: Some("rekor.example".into()),
            base_url: Some("https://other.example".into()),
            ..Default::default()
        };
        assert!(Config::resolve(&a).is_err());
        a.base_url = Some("https://rekor.example".into());
        assert!(Config::resolve(&a).is_ok());
        a.batch_max = Some(0);
        assert!(Config::resolve(&a).is_err());
        let b = Args {
            listen: Some("nonsense".into()),
            ..Default::default()
        };
        assert!(Config::resolve(&b).is_err());
    }

    #[test]
    fn v2_settings() {
        let c = Config::resolve(&Args {
            v2: true,
            ..Default::default()
        })
        .unwrap();
        let v2 = c.v2.unwrap();
        assert_eq!(v2.origin, "127.0.0.1");
        assert_eq!(v2.base_url, "http://127.0.0.1:3000/v2");
        assert_eq!(v2.path_prefix, "/v2");
        assert!(v2.signing_key_defaulted);
        assert!(v2.data_dir.ends_with("v2"));
        let own_host = Config::resolve(&Args {
            v2: true,
            v2_base_url: Some("https://log2026-1.example.com".into()),
            ..Default::default()
        })
        .unwrap()
        .v2
        .unwrap();
        assert_eq!(own_host.origin, "log2026-1.example.com");
        assert_eq!(own_host.path_prefix, "");
        // The same URL as v1: the two logs could not be told apart.
        assert!(Config::resolve(&Args {
            v2: true,
            v2_base_url: Some("http://127.0.0.1:3000".into()),
            ..Default::default()
        })
        .is_err());
        // v2 settings without --v2: a mistake, refused.
        assert!(Config::resolve(&Args {
            v2_base_url: Some("http://127.0.0.1:3000/v2".into()),
            ..Default::default()
        })
        .is_err());
        assert!(Config::resolve(&Args::default()).unwrap().v2.is_none());
    }

    #[test]
    fn file_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:1\"\nbogus = 1\n").unwrap();
        let a = Args {
            config: Some(p),
            ..Default::default()
        };
        assert!(matches!(Config::resolve(&a), Err(ConfigError::Parse(..))));
    }

    #[test]
    fn hosts() {
        assert_eq!(
            url_host("https://rekor.example.com:8443/x").as_deref(),
            Some("rekor.example.com")
        );
        assert_eq!(url_host("http://[::1]:3000").as_deref(), Some("::1"));
        assert_eq!(
            url_host("http://127.0.0.1:3000").as_deref(),
            Some("127.0.0.1")
        );
    }
}

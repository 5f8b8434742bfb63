//! Where TUF clients get repository files from: a directory (an exported or
//! locally built repository) or an HTTP(S) mirror. Shared by `tuf-root verify`
//! and our `cosign initialize`; the update rules themselves are in
//! `sigstack_core::tuf`.

use std::path::PathBuf;
use std::time::Duration;

use sigstack_core::tuf::{Fetcher, TufError};

fn fetch_error(name: &str, msg: impl Into<String>) -> TufError {
    TufError::Fetch {
        name: name.into(),
        msg: msg.into(),
    }
}

/// Reads repository files from a directory.
pub struct DirFetcher(pub PathBuf);

impl Fetcher for DirFetcher {
    fn fetch(&mut self, path: &str, max_len: u64) -> Result<Option<Vec<u8>>, TufError> {
        let p = self.0.join(path);
        match std::fs::metadata(&p) {
            Ok(m) if m.len() > max_len => {
                return Err(fetch_error(
                    path,
                    format!("{} bytes, more than the {max_len} allowed", m.len()),
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(fetch_error(path, e.to_string())),
        }
        std::fs::read(&p)
            .map(Some)
            .map_err(|e| fetch_error(path, e.to_string()))
    }
}

/// Fetches from a mirror's base URL. 404 and 403 (what S3-style static
/// hosting answers for a missing object) mean "not in the repository"; the
/// body is read in chunks and refused as soon as it passes `max_len`.
pub struct HttpFetcher {
    base: String,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl HttpFetcher {
    pub fn new(base: &str) -> std::io::Result<Self> {
        Ok(HttpFetcher {
            base: base.trim_end_matches('/').to_string(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            client: reqwest::Client::new(),
        })
    }
}

impl Fetcher for HttpFetcher {
    fn fetch(&mut self, path: &str, max_len: u64) -> Result<Option<Vec<u8>>, TufError> {
        let url = format!("{}/{path}", self.base);
        self.rt.block_on(async {
            let mut resp = self
                .client
                .get(&url)
                .timeout(Duration::from_secs(20))
                .send()
                .await
                .map_err(|e| fetch_error(&url, e.to_string()))?;
            if resp.status() == reqwest::StatusCode::NOT_FOUND
                || resp.status() == reqwest::StatusCode::FORBIDDEN
            {
                return Ok(None);
            }
            if !resp.status().is_success() {
                return Err(fetch_error(&url, format!("HTTP {}", resp.status())));
            }
            let mut out = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| fetch_error(&url, e.to_string()))?
            {
                out.extend_from_slice(&chunk);
                if out.len() as u64 > max_len {
                    return Err(fetch_error(&url, format!("more than {max_len} bytes")));
                }
            }
            Ok(Some(out))
        })
    }
}

/// Why a cached refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Tuf(#[from] TufError),
    /// Nothing cached and no bootstrap root given.
    #[error("no trusted root.json: nothing is cached and no initial root was given")]
    NoRoot,
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// One client update with an on-disk cache, as python-tuf and go-tuf keep
/// one: start from the cached `root.json` (else `bootstrap_root`), load the
/// cached timestamp and snapshot as the rollback reference (their own
/// expiry does not matter), refresh from `fetcher`, and on success write
/// root, timestamp, snapshot and targets back. On failure the cache is left
/// as it was, so a bad mirror cannot poison it.
pub fn refresh_cached(
    bootstrap_root: Option<&[u8]>,
    cache: Option<&std::path::Path>,
    fetcher: &mut dyn Fetcher,
    now: time::OffsetDateTime,
) -> Result<sigstack_core::tuf::TrustedSet, CacheError> {
    use sigstack_core::tuf::{refresh, TrustedSet};
    let cached = |name: &str| cache.and_then(|c| std::fs::read(c.join(name)).ok());
    let root = cached("root.json")
        .or_else(|| bootstrap_root.map(<[u8]>::to_vec))
        .ok_or(CacheError::NoRoot)?;
    let mut set = TrustedSet::new(&root, now)?;
    if let Some(ts) = cached("timestamp.json") {
        let _ = set.update_timestamp(&ts);
        if let Some(snap) = cached("snapshot.json") {
            let _ = set.update_snapshot(&snap, true);
        }
    }
    refresh(&mut set, fetcher)?;
    if let Some(dir) = cache {
        let io = |path: &std::path::Path, source| CacheError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let files = [
            ("root.json", Some(set.root_bytes())),
            ("timestamp.json", set.timestamp_bytes()),
            ("snapshot.json", set.snapshot_bytes()),
            ("targets.json", set.targets_bytes()),
        ];
        for (name, bytes) in files {
            if let Some(b) = bytes {
                let path = dir.join(name);
                crate::write_atomic(&path, b, true).map_err(|e| io(&path, e))?;
            }
        }
    }
    Ok(set)
}

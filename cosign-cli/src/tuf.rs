//! `cosign initialize` and the trust material a TUF mirror distributes
//! (`trusted_root.json`, `signing_config.v0.2.json`), used when no
//! `--trusted-root` / `--signing-config` file is given, as Go cosign does.
//!
//! Cache layout under `TUF_ROOT` (default `~/.sigstore/root`):
//! `remote.json` (`{"mirror": URL}`, written by `initialize`) and one
//! directory per mirror (the URL, percent-escaped) holding the trusted
//! `root.json`, `timestamp.json`, `snapshot.json`, `targets.json` and the
//! fetched targets under `targets/`. Every use refreshes the metadata from
//! the mirror (python-tuf rules, `sigstack_core::tuf`) before any target is
//! trusted; a failed refresh leaves the cache untouched.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};
use sigstack_core::tuf::{fetch_target, Fetcher, TufError};
use sigstack_http::tuf_fetch::{refresh_cached, CacheError, DirFetcher, HttpFetcher};
use sigstack_http::write_atomic;
use time::OffsetDateTime;

/// Go cosign's default mirror (the public-good instance).
pub const DEFAULT_MIRROR: &str = "https://tuf-repo-cdn.sigstore.dev";
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
pub const SIGNING_CONFIG_TARGET: &str = "signing_config.v0.2.json";

/// The trust material from a mirror.
#[derive(Debug)]
pub struct Trust {
    pub mirror: String,
    pub trusted_root: Vec<u8>,
    /// `None` when the repository has no signing config target.
    pub signing_config: Option<Vec<u8>>,
}

/// `TUF_ROOT`, else `~/.sigstore/root`.
pub fn tuf_root() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("TUF_ROOT") {
        return Ok(PathBuf::from(d));
    }
    let home =
        std::env::var_os("HOME").ok_or_else(|| anyhow!("neither TUF_ROOT nor HOME is set"))?;
    Ok(Path::new(&home).join(".sigstore").join("root"))
}

/// The cache directory of one mirror: the URL with every byte outside
/// `[A-Za-z0-9._-]` percent-escaped, so two mirrors never share a directory.
pub fn mirror_dir(tuf_root: &Path, mirror: &str) -> PathBuf {
    let mut name = String::new();
    for b in mirror.trim_end_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    tuf_root.join(name)
}

fn fetcher(mirror: &str) -> Result<Box<dyn Fetcher>> {
    if let Some(dir) = mirror.strip_prefix("file://") {
        return Ok(Box::new(DirFetcher(PathBuf::from(dir))));
    }
    if !(mirror.starts_with("https://") || mirror.starts_with("http://")) {
        bail!("mirror {mirror:?} is not an http(s):// or file:// URL");
    }
    Ok(Box::new(HttpFetcher::new(mirror)?))
}

/// `--root-checksum`: `sha256:<hex>`, `sha512:<hex>`, or bare hex (SHA-256).
fn check_checksum(root: &[u8], checksum: &str) -> Result<()> {
    let (alg, want) = checksum.split_once(':').unwrap_or(("sha256", checksum));
    let got = match alg {
        "sha256" => hex::encode(Sha256::digest(root)),
        "sha512" => hex::encode(Sha512::digest(root)),
        other => bail!("unsupported --root-checksum algorithm {other:?} (sha256 or sha512)"),
    };
    if !got.eq_ignore_ascii_case(want) {
        bail!("root.json checksum mismatch: {alg} is {got}, expected {want}");
    }
    Ok(())
}

/// Reads `--root`: a file, or an http(s)/file URL.
fn read_root(root: &str) -> Result<Vec<u8>> {
    if root.starts_with("http://") || root.starts_with("https://") || root.starts_with("file://") {
        let (base, name) = root
            .rsplit_once('/')
            .ok_or_else(|| anyhow!("--root {root:?} has no file name"))?;
        return fetcher(base)?
            .fetch(name, 512_000)?
            .ok_or_else(|| anyhow!("--root {root}: not found"));
    }
    std::fs::read(root).with_context(|| format!("reading --root {root}"))
}

/// Refreshes `mirror`'s metadata (starting from `bootstrap` when nothing is
/// cached) and fetches the two trust targets into the cache.
fn refresh(
    tuf_root: &Path,
    mirror: &str,
    bootstrap: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<Trust> {
    let dir = mirror_dir(tuf_root, mirror);
    let mut f = fetcher(mirror)?;
    let set = match refresh_cached(bootstrap, Some(&dir), f.as_mut(), now) {
        Ok(set) => set,
        Err(CacheError::NoRoot) => bail!(
            "no trusted root.json for mirror {mirror}: run `cosign initialize --mirror {mirror} --root <root.json>` (this client embeds no public-good root)"
        ),
        Err(e) => return Err(anyhow!(e).context(format!("TUF update from {mirror}"))),
    };
    let targets_dir = dir.join("targets");
    std::fs::create_dir_all(&targets_dir)
        .with_context(|| format!("creating {}", targets_dir.display()))?;
    let mut get = |name: &str| -> Result<Option<Vec<u8>>> {
        match fetch_target(&set, f.as_mut(), name) {
            Ok(bytes) => {
                write_atomic(&targets_dir.join(name), &bytes, true)
                    .with_context(|| format!("caching target {name}"))?;
                Ok(Some(bytes))
            }
            Err(TufError::NotFound(_)) => Ok(None),
            Err(e) => Err(anyhow!("TUF target {name} from {mirror}: {e}")),
        }
    };
    let trusted_root = get(TRUSTED_ROOT_TARGET)?.ok_or_else(|| {
        anyhow!("the TUF repository at {mirror} has no {TRUSTED_ROOT_TARGET} target")
    })?;
    let signing_config = get(SIGNING_CONFIG_TARGET)?;
    Ok(Trust {
        mirror: mirror.to_owned(),
        trusted_root,
        signing_config,
    })
}

/// `cosign initialize`: a fresh cache for `mirror`, bootstrapped from
/// `root` (checked against `checksum` when given), made the default.
pub fn initialize(
    tuf_root: &Path,
    mirror: &str,
    root: Option<&str>,
    checksum: Option<&str>,
    now: OffsetDateTime,
) -> Result<Trust> {
    let mirror = mirror.trim_end_matches('/');
    let bootstrap = match root {
        Some(r) => {
            let bytes = read_root(r)?;
            if let Some(c) = checksum {
                check_checksum(&bytes, c)?;
            }
            Some(bytes)
        }
        None if checksum.is_some() => bail!("--root-checksum needs --root"),
        None => None,
    };
    let dir = mirror_dir(tuf_root, mirror);
    // A fresh start, as upstream: cached metadata from an earlier root must
    // not outlive a new bootstrap root. The cache is only replaced once the
    // new metadata verified, in a sibling directory first.
    let staging = tuf_root.join(".initialize.tmp");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let bootstrap = match bootstrap {
        Some(b) => b,
        None => std::fs::read(dir.join("root.json")).map_err(|_| {
            anyhow!("--root is required: nothing is cached for {mirror} (this client embeds no public-good root)")
        })?,
    };
    let trust = refresh(&staging, mirror, Some(&bootstrap), now).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&staging);
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(mirror_dir(&staging, mirror), &dir)
        .with_context(|| format!("installing the TUF cache in {}", dir.display()))?;
    let _ = std::fs::remove_dir_all(&staging);
    let remote = serde_json::to_vec(&json!({ "mirror": mirror }))?;
    write_atomic(&tuf_root.join("remote.json"), &remote, true)
        .with_context(|| format!("writing {}/remote.json", tuf_root.display()))?;
    Ok(trust)
}

/// The trust material for a command without trust files: the mirror from
/// `TUF_MIRROR` or `remote.json` (default: the public-good one), the root
/// from `TUF_ROOT_JSON` or the cache, refreshed now.
pub fn load(tuf_root: &Path, now: OffsetDateTime) -> Result<Trust> {
    let mirror = match std::env::var("TUF_MIRROR") {
        Ok(m) => m,
        Err(_) => match std::fs::read(tuf_root.join("remote.json")) {
            Ok(b) => serde_json::from_slice::<Value>(&b)
                .ok()
                .and_then(|v| v["mirror"].as_str().map(str::to_owned))
                .ok_or_else(|| anyhow!("{}/remote.json has no mirror", tuf_root.display()))?,
            Err(_) => DEFAULT_MIRROR.to_owned(),
        },
    };
    let bootstrap = match std::env::var_os("TUF_ROOT_JSON") {
        Some(p) => Some(std::fs::read(&p).with_context(|| format!("reading TUF_ROOT_JSON {p:?}"))?),
        None => None,
    };
    refresh(
        tuf_root,
        mirror.trim_end_matches('/'),
        bootstrap.as_deref(),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Sigstore's staging TUF repository as of the test data's date.
    fn staging_mirror() -> String {
        format!(
            "file://{}/../core/src/tuf/testdata/staging",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    fn staging_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src/tuf/testdata/staging/root.json")
    }

    /// When the staging metadata was fresh.
    fn then() -> OffsetDateTime {
        let ts: Value = serde_json::from_slice(
            &std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../core/src/tuf/testdata/staging/timestamp.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let expires = ts["signed"]["expires"].as_str().unwrap();
        OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339).unwrap()
            - time::Duration::hours(1)
    }

    #[test]
    fn initialize_then_load_from_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let tr = tmp.path();
        let mirror = staging_mirror();
        let root = staging_root();
        let sum = hex::encode(Sha256::digest(std::fs::read(&root).unwrap()));
        let trust = initialize(
            tr,
            &mirror,
            Some(root.to_str().unwrap()),
            Some(&format!("sha256:{sum}")),
            then(),
        )
        .unwrap();
        sigstack_core::trust::TrustedRoot::from_json(&trust.trusted_root).unwrap();
        sigstack_core::trust::SigningConfig::from_json(&trust.signing_config.unwrap()).unwrap();
        let remote: Value =
            serde_json::from_slice(&std::fs::read(tr.join("remote.json")).unwrap()).unwrap();
        assert_eq!(remote["mirror"], mirror.as_str());
        let dir = mirror_dir(tr, &mirror);
        for f in [
            "root.json",
            "timestamp.json",
            "snapshot.json",
            "targets.json",
        ] {
            assert!(dir.join(f).is_file(), "{f} not cached");
        }
        assert!(dir.join("targets").join(TRUSTED_ROOT_TARGET).is_file());
        // Later commands start from the cache (no bootstrap root needed).
        let again = load(tr, then()).unwrap();
        assert_eq!(again.trusted_root, trust.trusted_root);
        // Expired metadata is refused, not used.
        let err = load(tr, datetime!(2100-01-01 0:00 UTC)).unwrap_err();
        assert!(format!("{err:#}").contains("expired"), "{err:#}");
    }

    #[test]
    fn initialize_refuses_bad_roots_and_keeps_the_old_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let tr = tmp.path();
        let mirror = staging_mirror();
        let root = staging_root();
        let root = root.to_str().unwrap();
        let err = initialize(tr, &mirror, Some(root), Some("sha256:00"), then()).unwrap_err();
        assert!(format!("{err:#}").contains("checksum mismatch"), "{err:#}");
        assert!(!tr.join("remote.json").exists());
        initialize(tr, &mirror, Some(root), None, then()).unwrap();
        // A root that is not the repository's (the public-good one) fails
        // verification; the cache from the good run stays.
        let pg = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../core/src/tuf/testdata/public-good-root.json");
        assert!(initialize(tr, &mirror, Some(pg.to_str().unwrap()), None, then()).is_err());
        assert!(mirror_dir(tr, &mirror)
            .join("targets")
            .join(TRUSTED_ROOT_TARGET)
            .is_file());
        // No root and nothing cached for that mirror.
        let err = initialize(tr, "https://example.invalid", None, None, then()).unwrap_err();
        assert!(format!("{err:#}").contains("--root is required"), "{err:#}");
        assert!(mirror_dir(tr, "https://a/b") != mirror_dir(tr, "https://a-b"));
    }
}

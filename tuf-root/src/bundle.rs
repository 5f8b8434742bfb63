//! The air-gap transfer bundle: one POSIX tar file holding
//!
//! ```text
//! root.json          the root clients bootstrap from (the repository's 1.root.json)
//! repository/...     every file of the published repository
//! SHA256SUMS         `sha256sum` lines for every other file (check with `sha256sum -c`)
//! ```
//!
//! It is written deterministically (sorted, mtime 0, mode 0644) and read
//! strictly: regular files only, safe relative names, every file listed in
//! SHA256SUMS with a matching hash and nothing unlisted, and the repository
//! must pass a full client check from the bundled root before anything is
//! written out. The tar subset is small enough to write here (ustar with
//! the prefix field for long names) rather than pull in a tar crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::repo::write_atomic;
use crate::Error;

const BLOCK: usize = 512;
/// Refuse absurd inputs early (a repository is metadata plus a few targets).
const MAX_BUNDLE_BYTES: usize = 256 << 20;

fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), Error> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue; // temporary files and the lock
        }
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| Error::io(&path, e))?;
        let rel_name = format!("{rel}/{name}");
        if ft.is_dir() {
            walk(&path, &rel_name, out)?;
        } else if ft.is_file() {
            out.insert(
                rel_name,
                std::fs::read(&path).map_err(|e| Error::io(&path, e))?,
            );
        }
    }
    Ok(())
}

/// Writes the bundle for the repository at `repo` to `out`.
pub fn export(repo: &Path, out: &Path) -> Result<usize, Error> {
    let mut files = BTreeMap::new();
    walk(repo, "repository", &mut files)?;
    let root = files
        .get("repository/1.root.json")
        .cloned()
        .ok_or_else(|| Error::Invalid("the repository has no 1.root.json".into()))?;
    files.insert("root.json".into(), root);
    let sums: String = files
        .iter()
        .map(|(name, bytes)| format!("{}  {name}\n", hex::encode(Sha256::digest(bytes))))
        .collect();
    files.insert("SHA256SUMS".into(), sums.into_bytes());
    let mut tar = Vec::new();
    for (name, bytes) in &files {
        tar.extend_from_slice(&header(name, bytes.len())?);
        tar.extend_from_slice(bytes);
        tar.resize(tar.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    tar.resize(tar.len() + 2 * BLOCK, 0);
    write_atomic(out, &tar, true)?;
    Ok(files.len())
}

fn octal(field: &mut [u8], value: u64) {
    let s = format!("{value:0width$o}", width = field.len() - 1);
    field[..s.len()].copy_from_slice(s.as_bytes());
}

fn header(name: &str, size: usize) -> Result<[u8; BLOCK], Error> {
    let mut h = [0u8; BLOCK];
    let (prefix, base) = if name.len() <= 100 {
        ("", name)
    } else {
        // Split at a '/' so that the prefix fits 155 bytes and the name 100.
        let split = name
            .char_indices()
            .rev()
            .find(|&(i, c)| c == '/' && i <= 155 && name.len() - i - 1 <= 100)
            .map(|(i, _)| i)
            .ok_or_else(|| Error::Invalid(format!("file name too long for the bundle: {name}")))?;
        (&name[..split], &name[split + 1..])
    };
    h[..base.len()].copy_from_slice(base.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size as u64);
    octal(&mut h[136..148], 0);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    Ok(h)
}

fn field_str(f: &[u8]) -> Result<&str, Error> {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    std::str::from_utf8(&f[..end]).map_err(|_| Error::Invalid("bundle: non-UTF-8 header".into()))
}

fn parse_octal(f: &[u8]) -> Result<u64, Error> {
    let s = field_str(f)?.trim_matches(|c| c == ' ' || c == '\0');
    u64::from_str_radix(s, 8)
        .map_err(|_| Error::Invalid("bundle: bad number in a tar header".into()))
}

/// Reads a bundle: name -> bytes, after the structural checks.
pub fn read(tar: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    if tar.len() > MAX_BUNDLE_BYTES || !tar.len().is_multiple_of(BLOCK) {
        return Err(Error::Invalid(
            "bundle: not a tar file of a sane size".into(),
        ));
    }
    let mut files = BTreeMap::new();
    let mut off = 0;
    loop {
        let h = tar
            .get(off..off + BLOCK)
            .ok_or_else(|| Error::Invalid("bundle: truncated (no end-of-archive blocks)".into()))?;
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let mut copy = [0u8; BLOCK];
        copy.copy_from_slice(h);
        copy[148..156].copy_from_slice(b"        ");
        let sum: u64 = copy.iter().map(|&b| u64::from(b)).sum();
        if sum != parse_octal(&h[148..156])? {
            return Err(Error::Invalid(
                "bundle: tar header checksum mismatch".into(),
            ));
        }
        if h[156] != b'0' && h[156] != 0 {
            return Err(Error::Invalid(
                "bundle: only regular files are allowed".into(),
            ));
        }
        let (base, prefix) = (field_str(&h[..100])?, field_str(&h[345..500])?);
        let name = if prefix.is_empty() {
            base.to_string()
        } else {
            format!("{prefix}/{base}")
        };
        if !crate::repo::safe_relative_path(&name) {
            return Err(Error::Invalid(format!("bundle: unsafe file name {name:?}")));
        }
        let size = usize::try_from(parse_octal(&h[124..136])?)
            .map_err(|_| Error::Invalid("bundle: file too large".into()))?;
        let start = off + BLOCK;
        let data = tar
            .get(start..start.saturating_add(size))
            .ok_or_else(|| Error::Invalid(format!("bundle: {name} is truncated")))?;
        if files.insert(name.clone(), data.to_vec()).is_some() {
            return Err(Error::Invalid(format!("bundle: {name} appears twice")));
        }
        off = start + size.div_ceil(BLOCK) * BLOCK;
    }
    let sums = files
        .remove("SHA256SUMS")
        .ok_or_else(|| Error::Invalid("bundle: no SHA256SUMS".into()))?;
    let sums = String::from_utf8(sums)
        .map_err(|_| Error::Invalid("bundle: SHA256SUMS is not text".into()))?;
    let mut listed = BTreeMap::new();
    for line in sums.lines() {
        let (hash, name) = line
            .split_once("  ")
            .ok_or_else(|| Error::Invalid(format!("bundle: bad SHA256SUMS line {line:?}")))?;
        listed.insert(name.to_string(), hash.to_string());
    }
    for (name, bytes) in &files {
        let want = listed
            .remove(name)
            .ok_or_else(|| Error::Invalid(format!("bundle: {name} is not in SHA256SUMS")))?;
        if hex::encode(Sha256::digest(bytes)) != want {
            return Err(Error::Invalid(format!(
                "bundle: {name} does not match its SHA-256"
            )));
        }
    }
    if let Some(name) = listed.keys().next() {
        return Err(Error::Invalid(format!(
            "bundle: {name} is listed but missing"
        )));
    }
    if !files.contains_key("root.json") {
        return Err(Error::Invalid("bundle: no root.json".into()));
    }
    Ok(files)
}

/// Checks a bundle and unpacks it into `out` (which must not exist or be
/// empty): `out/root.json` and `out/repository/`. Returns the SHA-256 of
/// root.json, to compare with the value the sending side printed.
pub fn import(tar: &[u8], out: &Path, now: time::OffsetDateTime) -> Result<String, Error> {
    let files = read(tar)?;
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_some()
    {
        return Err(Error::Invalid(format!("{} is not empty", out.display())));
    }
    // Verify before writing: unpack to a temporary sibling and check it as
    // a client would, then move it into place.
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = tempdir_in(parent)?;
    let res = (|| {
        for (name, bytes) in &files {
            let p = tmp.join(name);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            }
            std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
        }
        crate::repo::verify_dir(&tmp.join("repository"), Some(&files["root.json"]), now)?;
        if out.exists() {
            std::fs::remove_dir(out).map_err(|e| Error::io(out, e))?;
        }
        std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))
    })();
    if res.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    res?;
    Ok(hex::encode(Sha256::digest(&files["root.json"])))
}

fn tempdir_in(parent: &Path) -> Result<PathBuf, Error> {
    for i in 0..100u32 {
        let p = parent.join(format!(".tuf-import.{}.{i}", std::process::id()));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&p, e)),
        }
    }
    Err(Error::Invalid(
        "could not create a temporary directory".into(),
    ))
}

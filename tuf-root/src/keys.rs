//! Role keys: PEM files (PKCS#8, optionally encrypted) and PKCS#11 objects.
//!
//! A key reference is either a path or an RFC 7512 `pkcs11:` URI
//! (`pkcs11:token=T;object=LABEL?module-path=/path/lib.so&pin-value=1234`).
//! Passphrases and PINs are read from the environment
//! (`SIGSTACK_TUF_PASSPHRASE`, `SIGSTACK_PKCS11_PIN`) or, for a passphrase,
//! from the terminal; they are never logged, and a PIN is never written to
//! `tuf-root.toml`.

use std::path::{Path, PathBuf};

use sigstack_core::keys::{PublicKey, SigningKey};
use sigstack_core::tuf::Key;
use sigstack_pkcs11::{Pkcs11Config, Pkcs11Signer};

use crate::Error;

pub const PASSPHRASE_ENV: &str = "SIGSTACK_TUF_PASSPHRASE";
pub const PIN_ENV: &str = "SIGSTACK_PKCS11_PIN";

/// Where a key lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    File(PathBuf),
    Pkcs11(Pkcs11Uri),
}

impl KeyRef {
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.starts_with("pkcs11:") {
            Ok(KeyRef::Pkcs11(Pkcs11Uri::parse(s)?))
        } else if s.is_empty() {
            Err(Error::Key("empty key reference".into()))
        } else {
            Ok(KeyRef::File(PathBuf::from(s)))
        }
    }

    /// Resolves a relative file path against `base` (the workspace dir,
    /// for references stored in `tuf-root.toml`).
    pub fn resolve(&self, base: &Path) -> KeyRef {
        match self {
            KeyRef::File(p) if p.is_relative() => KeyRef::File(base.join(p)),
            other => other.clone(),
        }
    }

    /// The reference as stored in the config (never with a PIN). Files are
    /// stored as absolute paths: the config is read from other working
    /// directories (cron, systemd).
    pub fn to_config_string(&self) -> String {
        match self {
            KeyRef::File(p) => std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
            KeyRef::Pkcs11(u) => u.to_string_without_pin(),
        }
    }
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_config_string())
    }
}

/// The parts of a PKCS#11 URI we use.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs11Uri {
    pub token: String,
    pub object: String,
    pub module_path: PathBuf,
    pin: Option<String>,
}

impl std::fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string_without_pin())
    }
}

fn pct_decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::Key(format!("bad percent-encoding in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::Key("PKCS#11 URI is not UTF-8".into()))
}

fn pct_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Pkcs11Uri {
    pub fn parse(uri: &str) -> Result<Self, Error> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| Error::Key("not a pkcs11: URI".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut token, mut object, mut module, mut pin) = (None, None, None, None);
        let attrs = path
            .split(';')
            .map(|a| (a, false))
            .chain(query.split('&').map(|a| (a, true)));
        for (attr, in_query) in attrs.filter(|(a, _)| !a.is_empty()) {
            let (k, v) = attr.split_once('=').ok_or_else(|| {
                Error::Key(format!(
                    "PKCS#11 URI attribute {k:?} has no value",
                    k = attr.split('=').next().unwrap_or("")
                ))
            })?;
            let v = pct_decode(v)?;
            match (k, in_query) {
                ("token", false) => token = Some(v),
                ("object", false) => object = Some(v),
                ("module-path", true) => module = Some(PathBuf::from(v)),
                ("pin-value", true) => pin = Some(v),
                // Other standard attributes (id, type, slot-id, ...) are not
                // needed to find a key by token and label.
                _ => {}
            }
        }
        let missing = |what: &str| Error::Key(format!("PKCS#11 URI needs {what}"));
        Ok(Pkcs11Uri {
            token: token.ok_or_else(|| missing("token="))?,
            object: object.ok_or_else(|| missing("object= (the key label)"))?,
            module_path: module.ok_or_else(|| missing("?module-path="))?,
            pin,
        })
    }

    pub fn to_string_without_pin(&self) -> String {
        format!(
            "pkcs11:token={};object={}?module-path={}",
            pct_encode(&self.token),
            pct_encode(&self.object),
            pct_encode(&self.module_path.display().to_string())
        )
    }

    fn config(&self) -> Result<Pkcs11Config, Error> {
        let pin = match &self.pin {
            Some(p) => p.clone(),
            None => std::env::var(PIN_ENV).map_err(|_| {
                Error::Key(format!(
                    "PKCS#11 key {}: no pin-value in the URI and {PIN_ENV} is not set",
                    self.object
                ))
            })?,
        };
        Ok(Pkcs11Config::new(&self.module_path, &self.token, &pin))
    }
}

/// A key that can sign TUF metadata.
pub trait TufSigner: Send + Sync {
    /// The public key as listed in root.
    fn key(&self) -> &Key;
    fn key_id(&self) -> &str;
    /// Signs the canonical `signed` bytes: DER ECDSA or raw Ed25519.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error>;
}

struct FileSigner {
    key: Key,
    id: String,
    sk: SigningKey,
}

impl TufSigner for FileSigner {
    fn key(&self) -> &Key {
        &self.key
    }
    fn key_id(&self) -> &str {
        &self.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(self.sk.sign(msg))
    }
}

struct HsmSigner {
    key: Key,
    id: String,
    inner: Pkcs11Signer,
}

impl TufSigner for HsmSigner {
    fn key(&self) -> &Key {
        &self.key
    }
    fn key_id(&self) -> &str {
        &self.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        self.inner
            .sign_der(msg)
            .map_err(|e| Error::Key(format!("PKCS#11 signing failed: {e}")))
    }
}

/// A key as found: the private half when it is available.
pub enum LoadedKey {
    Signer(Box<dyn TufSigner>),
    /// A `PUBLIC KEY` PEM: listed in root, cannot sign (another key holder
    /// signs later with `sign-root`).
    Public(Key),
}

impl LoadedKey {
    pub fn key(&self) -> &Key {
        match self {
            LoadedKey::Signer(s) => s.key(),
            LoadedKey::Public(k) => k,
        }
    }
}

fn tuf_key(pk: &PublicKey) -> Result<(Key, String), Error> {
    let key = Key::from_public_key(pk)?;
    let id = key.key_id()?;
    Ok((key, id))
}

/// Loads a key; an encrypted PEM asks for its passphrase (environment, then
/// terminal).
pub fn load(r: &KeyRef) -> Result<LoadedKey, Error> {
    match r {
        KeyRef::File(path) => {
            let text =
                std::fs::read(path).map_err(|e| Error::Key(format!("{}: {e}", path.display())))?;
            let ctx = |e: &dyn std::fmt::Display| Error::Key(format!("{}: {e}", path.display()));
            let block = sigstack_core::pem::parse_one_block(&text).map_err(|e| ctx(&e))?;
            if block.label == "PUBLIC KEY" {
                let pk = PublicKey::from_spki_der(&block.contents).map_err(|e| ctx(&e))?;
                return Ok(LoadedKey::Public(tuf_key(&pk)?.0));
            }
            let pass = if block.label == "ENCRYPTED PRIVATE KEY" {
                Some(passphrase(
                    &format!("passphrase for {}", path.display()),
                    false,
                )?)
            } else {
                None
            };
            let sk = SigningKey::from_pem(&text, pass.as_deref().map(str::as_bytes))
                .map_err(|e| ctx(&e))?;
            let (key, id) = tuf_key(&sk.public_key())?;
            Ok(LoadedKey::Signer(Box::new(FileSigner { key, id, sk })))
        }
        KeyRef::Pkcs11(uri) => {
            let inner = Pkcs11Signer::open(&uri.config()?, &uri.object)
                .map_err(|e| Error::Key(format!("{}: {e}", uri.to_string_without_pin())))?;
            let (key, id) = tuf_key(inner.public_key())?;
            Ok(LoadedKey::Signer(Box::new(HsmSigner { key, id, inner })))
        }
    }
}

/// Loads a key that must be able to sign.
pub fn load_signer(r: &KeyRef) -> Result<Box<dyn TufSigner>, Error> {
    match load(r)? {
        LoadedKey::Signer(s) => Ok(s),
        LoadedKey::Public(_) => Err(Error::Key(format!(
            "{r} is a public key; signing needs the private key"
        ))),
    }
}

/// Creates a key and returns its TUF key and ID. Files are PKCS#8 PEM,
/// written 0600 and never over an existing file; PKCS#11 keys are
/// generated on the token (non-extractable).
pub fn generate(r: &KeyRef, ed25519: bool, encrypt: bool) -> Result<(Key, String), Error> {
    match r {
        KeyRef::File(path) => {
            let sk = if ed25519 {
                SigningKey::generate_ed25519()
            } else {
                SigningKey::generate_p256()
            };
            let pass = if encrypt {
                Some(passphrase(
                    &format!("new passphrase for {}", path.display()),
                    true,
                )?)
            } else {
                None
            };
            let pem = sk
                .to_pkcs8_pem(pass.as_deref().map(str::as_bytes))
                .map_err(|e| Error::Key(e.to_string()))?;
            write_private(path, pem.as_bytes())?;
            tuf_key(&sk.public_key())
        }
        KeyRef::Pkcs11(uri) => {
            if ed25519 {
                return Err(Error::Key("PKCS#11 keys are ECDSA P-256".into()));
            }
            let spki = sigstack_pkcs11::generate_key(&uri.config()?, &uri.object)
                .map_err(|e| Error::Key(e.to_string()))?;
            let pk = PublicKey::from_spki_der(&spki).map_err(|e| Error::Key(e.to_string()))?;
            tuf_key(&pk)
        }
    }
}

/// Writes a new private key file with mode 0600 (refuses to overwrite).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    sigstack_http::write_private_file(path, bytes).map_err(|e| Error::io(path, e))
}

/// The passphrase from `SIGSTACK_TUF_PASSPHRASE`, else typed at the
/// terminal with echo off (asked twice for a new key).
fn passphrase(prompt: &str, confirm: bool) -> Result<String, Error> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(p);
    }
    let first = read_tty(&format!("{prompt}: "))?;
    if confirm && read_tty("again: ")? != first {
        return Err(Error::Key("the passphrases differ".into()));
    }
    if first.is_empty() {
        return Err(Error::Key("empty passphrase".into()));
    }
    Ok(first)
}

fn read_tty(prompt: &str) -> Result<String, Error> {
    sigstack_http::prompt_secret(prompt).map_err(|_| {
        Error::Key(format!(
            "an encrypted key needs a passphrase: set {PASSPHRASE_ENV} or run at a terminal"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs11_uri() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=my%20token;object=tuf-root;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
        )
        .unwrap();
        assert_eq!(u.token, "my token");
        assert_eq!(u.object, "tuf-root");
        assert_eq!(u.pin.as_deref(), Some("1234"));
        let s = u.to_string_without_pin();
        assert!(!s.contains("1234"), "{s}");
        assert_eq!(Pkcs11Uri::parse(&s).unwrap().token, "my token");
        assert!(!format!("{u:?}").contains("1234"));
        for bad in [
            "pkcs11:object=x?module-path=/m",
            "pkcs11:token=t?module-path=/m",
            "pkcs11:token=t;object=o",
            "pkcs11:token=%zz;object=o?module-path=/m",
        ] {
            assert!(Pkcs11Uri::parse(bad).is_err(), "{bad}");
        }
    }
}

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
            Ok(KeyRef::Pkcs11(
                Pkcs11Uri::parse(s).map_err(|e| Error::Key(e.to_string()))?,
            ))
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

pub use sigstack_pkcs11::Pkcs11Uri;

/// The token configuration of `uri`, the PIN from the URI or [`PIN_ENV`].
fn uri_config(uri: &Pkcs11Uri) -> Result<Pkcs11Config, Error> {
    uri.config(PIN_ENV).map_err(|e| Error::Key(e.to_string()))
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
            let inner = Pkcs11Signer::open(&uri_config(uri)?, &uri.object)
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
            let spki = sigstack_pkcs11::generate_key(&uri_config(uri)?, &uri.object)
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

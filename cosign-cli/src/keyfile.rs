//! cosign's encrypted private key file (go-securesystemslib `encrypted`):
//!
//! ```text
//! -----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----
//! base64({"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":b64(32)},
//!         "cipher":{"name":"nacl/secretbox","nonce":b64(24)},
//!         "ciphertext":b64(tag ‖ XSalsa20-Poly1305(PKCS#8 DER))})
//! -----END ENCRYPTED SIGSTORE PRIVATE KEY-----
//! ```
//!
//! The key is scrypt(password, salt, N, r, p) → 32 bytes. We write cosign
//! v3's parameters (N = 65536, r = 8, p = 1); on read we accept the
//! parameters cosign has used (N 32768 or 65536, r 8, p 1) and refuse
//! anything else rather than letting a file choose an expensive KDF. The
//! cosign v1 label `ENCRYPTED COSIGN PRIVATE KEY` is accepted on read.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

pub const LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
pub const LEGACY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const LOG_N: u8 = 16;

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("invalid private key file: {0}")]
    Format(String),
    /// cosign: "decrypt: encrypted: decryption failed".
    #[error("decrypt: encrypted: decryption failed (wrong password?)")]
    Decrypt,
    #[error("unsupported KDF or cipher: {0}")]
    Unsupported(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
struct KdfParams {
    N: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cipher {
    name: String,
    nonce: String,
}

fn derive(password: &[u8], salt: &[u8], log_n: u8) -> Result<[u8; 32], KeyFileError> {
    let params = scrypt::Params::new(log_n, 8, 1, 32)
        .map_err(|e| KeyFileError::Unsupported(e.to_string()))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut key)
        .map_err(|e| KeyFileError::Unsupported(e.to_string()))?;
    Ok(key)
}

/// Encrypts a PKCS#8 DER private key into the PEM file cosign writes.
pub fn encrypt(pkcs8_der: &[u8], password: &[u8]) -> Result<String, KeyFileError> {
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    rand_core::OsRng.fill_bytes(&mut salt);
    rand_core::OsRng.fill_bytes(&mut nonce);
    let key = derive(password, &salt, LOG_N)?;
    let cipher = XSalsa20Poly1305::new(&key.into());
    // crypto_secretbox, like NaCl's secretbox (what Go writes), puts the
    // Poly1305 tag first: tag ‖ ciphertext.
    let nacl = cipher
        .encrypt(Nonce::from_slice(&nonce), pkcs8_der)
        .map_err(|_| KeyFileError::Format("encryption failed".into()))?;
    let env = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: KdfParams {
                N: 1 << LOG_N,
                r: 8,
                p: 1,
            },
            salt: STANDARD.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: STANDARD.encode(nonce),
        },
        ciphertext: STANDARD.encode(nacl),
    };
    let json = serde_json::to_vec(&env).map_err(|e| KeyFileError::Format(e.to_string()))?;
    Ok(sigstack_core::pem::encode(LABEL, &json))
}

/// Decrypts a cosign private key file; returns the PKCS#8 DER.
pub fn decrypt(pem_text: &[u8], password: &[u8]) -> Result<Vec<u8>, KeyFileError> {
    let block = sigstack_core::pem::parse_one_block(pem_text)
        .map_err(|e| KeyFileError::Format(e.to_string()))?;
    if block.label != LABEL && block.label != LEGACY_LABEL {
        return Err(KeyFileError::Format(format!(
            "unsupported pem type: {} (expected {LABEL})",
            block.label
        )));
    }
    let env: Envelope =
        serde_json::from_slice(&block.contents).map_err(|e| KeyFileError::Format(e.to_string()))?;
    if env.kdf.name != "scrypt" || env.cipher.name != "nacl/secretbox" {
        return Err(KeyFileError::Unsupported(format!(
            "{} + {}",
            env.kdf.name, env.cipher.name
        )));
    }
    let log_n = match (env.kdf.params.N, env.kdf.params.r, env.kdf.params.p) {
        (32768, 8, 1) => 15,
        (65536, 8, 1) => 16,
        (n, r, p) => {
            return Err(KeyFileError::Unsupported(format!(
                "scrypt N={n} r={r} p={p}"
            )))
        }
    };
    let b64 = |s: &str, what: &str| {
        STANDARD
            .decode(s)
            .map_err(|_| KeyFileError::Format(format!("{what} is not base64")))
    };
    let salt = b64(&env.kdf.salt, "salt")?;
    let nonce = b64(&env.cipher.nonce, "nonce")?;
    let nacl = b64(&env.ciphertext, "ciphertext")?;
    if nonce.len() != 24 || nacl.len() < 16 {
        return Err(KeyFileError::Format(
            "bad nonce or ciphertext length".into(),
        ));
    }
    let key = derive(password, &salt, log_n)?;
    XSalsa20Poly1305::new(&key.into())
        .decrypt(Nonce::from_slice(&nonce), nacl.as_slice())
        .map_err(|_| KeyFileError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_password() {
        let der = b"not really pkcs8 but any bytes".to_vec();
        let pem = encrypt(&der, b"pw").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        assert_eq!(decrypt(pem.as_bytes(), b"pw").unwrap(), der);
        assert!(matches!(
            decrypt(pem.as_bytes(), b"px"),
            Err(KeyFileError::Decrypt)
        ));
        // The empty password is allowed (cosign allows it).
        let pem = encrypt(&der, b"").unwrap();
        assert_eq!(decrypt(pem.as_bytes(), b"").unwrap(), der);
    }

    #[test]
    fn refuses_other_labels_and_kdfs() {
        let pem = sigstack_core::pem::encode("PRIVATE KEY", b"x");
        assert!(matches!(
            decrypt(pem.as_bytes(), b""),
            Err(KeyFileError::Format(_))
        ));
        let json = br#"{"kdf":{"name":"scrypt","params":{"N":1048576,"r":8,"p":1},"salt":"AA=="},"cipher":{"name":"nacl/secretbox","nonce":"AA=="},"ciphertext":"AA=="}"#;
        let pem = sigstack_core::pem::encode(LABEL, json);
        assert!(matches!(
            decrypt(pem.as_bytes(), b""),
            Err(KeyFileError::Unsupported(_))
        ));
    }
}

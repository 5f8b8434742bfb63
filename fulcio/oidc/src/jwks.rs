//! JWKS parsing and signature verification.
//!
//! jsonwebtoken is used for what it does well: building a `DecodingKey` from JWK
//! components and verifying with its aws-lc-rs provider. Its `decode` + `Validation`
//! path is NOT used because (a) it needs one key chosen up front, while a token without
//! `kid` (oidc-provider-mock) must be tried against every compatible JWKS key, (b) it
//! parses `exp`/`nbf` as integers only (NumericDate may be a float) and has no `iat`
//! check, and (c) its `JwkSet` fails as a whole on one key it cannot parse; we skip such
//! keys (an issuer adding e.g. an encryption or ES512 key must not break Fulcio).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

use crate::OidcError;

/// More keys than this in one JWKS is abuse (kid-less tokens try each key).
const MAX_KEYS: usize = 64;

/// The algorithms we verify. Never `none`, never HS*: a symmetric algorithm against a
/// public key set is the classic key-confusion hole.
pub(crate) fn parse_alg(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// A usable verification key from the JWKS.
pub(crate) struct Key {
    pub kid: Option<String>,
    /// Algorithms this key may verify: by key type and curve, narrowed to the JWK's own
    /// `alg` if it has one.
    algs: Vec<Algorithm>,
    key: DecodingKey,
}

impl Key {
    pub fn supports(&self, alg: Algorithm) -> bool {
        self.algs.contains(&alg)
    }

    /// True iff `signature` is a valid `alg` signature by this key over `signing_input`.
    pub fn verifies(&self, alg: Algorithm, signing_input: &str, signature: &[u8]) -> bool {
        if !self.supports(alg) {
            return false;
        }
        // The aws-lc-rs provider is called directly rather than through
        // `jsonwebtoken::crypto::verify`, which uses the process-wide default provider: that
        // one panics at run time if any crate in the binary also enables jsonwebtoken's
        // `rust_crypto` feature (features are additive), and could be replaced by whoever
        // calls `install_default`. Err = key unusable for this alg (RSA modulus < 2048
        // bits, point not on the curve...): not a match, and no reason to fail the others.
        let verifier = match (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.verifier_factory)(
            &alg, &self.key,
        ) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(kid = ?self.kid, error = %e, "JWKS key cannot verify this algorithm");
                return false;
            }
        };
        verifier
            .verify(signing_input.as_bytes(), &signature.to_vec())
            .is_ok()
    }
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

fn b64(v: &Option<String>, name: &str) -> Result<Vec<u8>, String> {
    let s = v.as_deref().ok_or_else(|| format!("missing {name}"))?;
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| format!("{name} is not base64url"))
}

fn key_from_jwk(j: &RawJwk) -> Result<Key, String> {
    if let Some(u) = &j.use_ {
        if u != "sig" {
            return Err(format!("use {u:?}"));
        }
    }
    // Key type decides the algorithm family; the curve decides the exact algorithm. This
    // is what stops e.g. an ES384 header being checked with a P-256 key.
    let (algs, key): (Vec<Algorithm>, DecodingKey) = match (j.kty.as_str(), j.crv.as_deref()) {
        ("RSA", _) => {
            let n = b64(&j.n, "n")?;
            let e = b64(&j.e, "e")?;
            if n.is_empty() || e.is_empty() {
                return Err("empty RSA component".into());
            }
            (
                vec![
                    Algorithm::RS256,
                    Algorithm::RS384,
                    Algorithm::RS512,
                    Algorithm::PS256,
                    Algorithm::PS384,
                    Algorithm::PS512,
                ],
                DecodingKey::from_rsa_raw_components(&n, &e),
            )
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (alg, len) = if crv == "P-256" {
                (Algorithm::ES256, 32)
            } else {
                (Algorithm::ES384, 48)
            };
            let (x, y) = (b64(&j.x, "x")?, b64(&j.y, "y")?);
            if x.len() != len || y.len() != len {
                return Err(format!("{crv} coordinates must be {len} bytes"));
            }
            let x = j.x.as_deref().unwrap_or_default();
            let y = j.y.as_deref().unwrap_or_default();
            let key = DecodingKey::from_ec_components(x, y).map_err(|e| e.to_string())?;
            (vec![alg], key)
        }
        ("OKP", Some("Ed25519")) => {
            if b64(&j.x, "x")?.len() != 32 {
                return Err("Ed25519 x must be 32 bytes".into());
            }
            let x = j.x.as_deref().unwrap_or_default();
            let key = DecodingKey::from_ed_components(x).map_err(|e| e.to_string())?;
            (vec![Algorithm::EdDSA], key)
        }
        (kty, crv) => return Err(format!("unsupported key type {kty} / curve {crv:?}")),
    };
    let algs = match &j.alg {
        None => algs,
        // The JWK pins its algorithm: the header alg must equal it (and it must fit the
        // key type, or the key is useless).
        Some(a) => match parse_alg(a) {
            Some(a) if algs.contains(&a) => vec![a],
            _ => {
                return Err(format!(
                    "alg {a:?} unsupported or not matching the key type"
                ))
            }
        },
    };
    Ok(Key {
        kid: j.kid.clone(),
        algs,
        key,
    })
}

/// Parse a JWKS document. Keys we cannot use are skipped (logged); a document that is
/// not `{"keys": [...]}` is an error. An empty usable set is not an error here: the
/// verification then reports `UnknownKey`.
pub(crate) fn parse_jwks(doc: &Value) -> Result<Vec<Key>, OidcError> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| OidcError::Jwks("document has no \"keys\" array".into()))?;
    let mut out = Vec::new();
    for (i, raw) in keys.iter().enumerate() {
        if out.len() == MAX_KEYS {
            tracing::warn!(
                total = keys.len(),
                "JWKS has too many keys; ignoring the rest"
            );
            break;
        }
        let parsed = RawJwk::deserialize(raw)
            .map_err(|e| e.to_string())
            .and_then(|j| key_from_jwk(&j));
        match parsed {
            Ok(k) => out.push(k),
            Err(why) => tracing::debug!(index = i, %why, "skipping JWKS key"),
        }
    }
    Ok(out)
}

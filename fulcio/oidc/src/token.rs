//! Compact JWS parsing (RFC 7515 §7.1), done by hand so that every structural
//! problem is a precise [`OidcError::Malformed`] and nothing of the token leaks into it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use crate::error::clip;
use crate::{Claims, OidcError};

/// Tokens larger than this are refused before any decoding (real ID tokens are a few KiB;
/// Fulcio's whole request body is limited to 4 MiB).
pub(crate) const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A structurally valid, NOT yet verified token.
pub(crate) struct Parsed<'a> {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Claims,
    /// `base64(header) "." base64(payload)`: the JWS signing input.
    pub signing_input: &'a str,
    /// The decoded third part.
    pub signature: Vec<u8>,
}

/// Split into exactly three parts; anything else is malformed (JWE has five, and a
/// detached or unsecured form is never an ID token we accept).
fn split(token: &str) -> Result<[&str; 3], OidcError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(OidcError::Malformed(format!(
            "token longer than {MAX_TOKEN_LEN} bytes"
        )));
    }
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s), None) => Ok([h, p, s]),
        _ => Err(OidcError::Malformed(format!(
            "expected 3 dot-separated parts, got {}",
            token.split('.').count()
        ))),
    }
}

/// Strict base64url without padding (what RFC 7515 mandates and Go's RawURLEncoding reads).
fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, OidcError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| OidcError::Malformed(format!("{what} is not unpadded base64url")))
}

fn json_object(bytes: &[u8], what: &'static str) -> Result<Claims, OidcError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(OidcError::Malformed(format!("{what} is not a JSON object"))),
        Err(_) => Err(OidcError::Malformed(format!("{what} is not valid JSON"))),
    }
}

fn payload_claims(payload_b64: &str) -> Result<Claims, OidcError> {
    json_object(&b64(payload_b64, "payload")?, "payload")
}

pub(crate) fn parse(token: &str) -> Result<Parsed<'_>, OidcError> {
    let [h, p, s] = split(token)?;
    let header = json_object(&b64(h, "header")?, "header")?;
    let claims = payload_claims(p)?;
    let sig = b64(s, "signature")?;
    if sig.is_empty() {
        // `alg: none` tokens end with an empty part; refuse before looking at alg.
        return Err(OidcError::Malformed("empty signature".into()));
    }

    let alg = match header.get("alg") {
        Some(Value::String(a)) => a.clone(),
        Some(_) => return Err(OidcError::Malformed("header alg is not a string".into())),
        None => return Err(OidcError::Malformed("header has no alg".into())),
    };
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(OidcError::Malformed("header kid is not a string".into())),
    };
    // We implement no JWS extension; RFC 7515 §4.1.11 says a recipient that does not
    // understand a listed critical parameter must reject the token.
    if header.contains_key("crit") {
        return Err(OidcError::Malformed(
            "header has crit parameters (unsupported)".into(),
        ));
    }

    Ok(Parsed {
        alg: clip(&alg),
        kid,
        claims,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: sig,
    })
}

/// The `iss` claim, read WITHOUT verifying anything, to route the token to its configured
/// issuer (as Fulcio does). The token must still be exactly three dot-separated base64url
/// parts with a JSON-object payload; the header and signature are not decoded here.
pub fn unverified_issuer(token: &str) -> Result<String, OidcError> {
    let [_, p, _] = split(token)?;
    issuer_claim(&payload_claims(p)?).map(str::to_string)
}

/// The `iss` claim as a string.
pub(crate) fn issuer_claim(claims: &Claims) -> Result<&str, OidcError> {
    match claims.get("iss") {
        Some(Value::String(iss)) => Ok(iss),
        Some(_) => Err(OidcError::InvalidClaim {
            claim: "iss",
            reason: "not a string",
        }),
        None => Err(OidcError::MissingClaim("iss")),
    }
}

//! Claim checks on a token whose signature has been verified (or, for `iss`, before
//! any network access: see `Verifier::verify`).

use serde_json::Value;

use crate::error::clip;
use crate::{Claims, OidcError};

pub(crate) fn check_issuer(claims: &Claims, issuer_url: &str) -> Result<(), OidcError> {
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == issuer_url => Ok(()),
        Some(Value::String(iss)) => Err(OidcError::Issuer {
            expected: issuer_url.to_owned(),
            found: clip(iss),
        }),
        Some(_) => Err(OidcError::InvalidClaim {
            claim: "iss",
            reason: "not a string",
        }),
        None => Err(OidcError::MissingClaim("iss")),
    }
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, integer or not.
fn numeric_date(claims: &Claims, claim: &'static str) -> Result<Option<f64>, OidcError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(OidcError::InvalidClaim {
                claim,
                reason: "not a representable number",
            }),
        },
        Some(_) => Err(OidcError::InvalidClaim {
            claim,
            reason: "not a number",
        }),
    }
}

/// `iss`, `aud`, `exp`, `nbf`, `iat` at time `now` (seconds since the epoch) with `skew`
/// seconds of tolerance in the token's favour:
/// * valid while `now < exp + skew` (RFC 7519: "on or after" exp is expired);
/// * `nbf`: valid once `now + skew >= nbf`;
/// * `iat`: refused only if `iat > now + skew`.
pub(crate) fn check(
    claims: &Claims,
    issuer_url: &str,
    audience: &str,
    now: f64,
    skew: f64,
) -> Result<(), OidcError> {
    check_issuer(claims, issuer_url)?;

    let found: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_str().ok_or(OidcError::InvalidClaim {
                    claim: "aud",
                    reason: "list element is not a string",
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(OidcError::InvalidClaim {
                claim: "aud",
                reason: "neither a string nor a list of strings",
            })
        }
        None => return Err(OidcError::MissingClaim("aud")),
    };
    if !found.contains(&audience) {
        return Err(OidcError::Audience {
            expected: audience.to_owned(),
            found: found.iter().take(8).map(|a| clip(a)).collect(),
        });
    }

    let exp = numeric_date(claims, "exp")?.ok_or(OidcError::MissingClaim("exp"))?;
    if now >= exp + skew {
        return Err(OidcError::Expired);
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if nbf > now + skew {
            return Err(OidcError::NotYetValid);
        }
    }
    if let Some(iat) = numeric_date(claims, "iat")? {
        if iat > now + skew {
            return Err(OidcError::IssuedInFuture);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test literal is an object"),
        }
    }

    const ISS: &str = "http://127.0.0.1:9400";

    #[test]
    fn exact_boundaries() {
        let c =
            claims(json!({"iss": ISS, "aud": "sigstore", "exp": 1000.5, "nbf": 2000, "iat": 2000}));
        // exp boundary: now + 0 < 1000.5 + 60.
        assert_eq!(
            check(&c, ISS, "sigstore", 1060.4, 60.0),
            Err(OidcError::NotYetValid)
        );
        let c = claims(json!({"iss": ISS, "aud": "sigstore", "exp": 1000.5}));
        assert_eq!(check(&c, ISS, "sigstore", 1060.4, 60.0), Ok(()));
        assert_eq!(
            check(&c, ISS, "sigstore", 1060.5, 60.0),
            Err(OidcError::Expired)
        );
        let c = claims(
            json!({"iss": ISS, "aud": ["x", "sigstore"], "exp": 5000, "nbf": 1060, "iat": 1060.0}),
        );
        assert_eq!(check(&c, ISS, "sigstore", 1000.0, 60.0), Ok(()));
        assert_eq!(
            check(&c, ISS, "sigstore", 999.9, 60.0),
            Err(OidcError::NotYetValid)
        );
        let c = claims(json!({"iss": ISS, "aud": ["sigstore"], "exp": 5000, "iat": 1060.1}));
        assert_eq!(
            check(&c, ISS, "sigstore", 1000.0, 60.0),
            Err(OidcError::IssuedInFuture)
        );
    }

    #[test]
    fn claim_types() {
        let c = claims(json!({"iss": ISS, "aud": "sigstore", "exp": "5000"}));
        assert!(matches!(
            check(&c, ISS, "sigstore", 1.0, 0.0),
            Err(OidcError::InvalidClaim { claim: "exp", .. })
        ));
        let c = claims(json!({"iss": ISS, "aud": [1], "exp": 5000}));
        assert!(matches!(
            check(&c, ISS, "sigstore", 1.0, 0.0),
            Err(OidcError::InvalidClaim { claim: "aud", .. })
        ));
        let c = claims(json!({"iss": ISS, "exp": 5000}));
        assert_eq!(
            check(&c, ISS, "sigstore", 1.0, 0.0),
            Err(OidcError::MissingClaim("aud"))
        );
        let c = claims(json!({"aud": "sigstore", "exp": 5000}));
        assert_eq!(
            check(&c, ISS, "sigstore", 1.0, 0.0),
            Err(OidcError::MissingClaim("iss"))
        );
    }
}

//! Error type. Invariant: no variant ever carries the token or a token part; the
//! only token-derived data in messages are short claim/header values (issuer,
//! audiences, alg), truncated, which are not secrets.

/// Why a token was refused, or why the issuer could not be consulted.
///
/// Token problems (everything except [`OidcError::Discovery`], [`OidcError::Jwks`],
/// [`OidcError::Http`], [`OidcError::InvalidIssuerUrl`] and [`OidcError::CaBundle`]) are the
/// caller's fault (Fulcio answers 401); see [`OidcError::is_issuer_unavailable`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// Not a compact JWS with a JSON header and JSON-object payload.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// No key of the issuer's JWKS (after a refresh) matches the token's `kid` / algorithm.
    #[error("no key in the issuer's JWKS matches the token (kid and algorithm)")]
    UnknownKey,
    /// Candidate keys exist but none verifies the signature.
    #[error("token signature verification failed")]
    BadSignature,
    #[error("token is expired")]
    Expired,
    /// `nbf` is in the future (beyond the allowed clock skew).
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    /// `iat` is in the future (beyond the allowed clock skew).
    #[error("token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("token audience {found:?} does not contain {expected:?}")]
    Audience {
        expected: String,
        found: Vec<String>,
    },
    #[error("token issuer {found:?} does not match the expected issuer {expected:?}")]
    Issuer { expected: String, found: String },
    /// `none`, HS*, an algorithm we do not implement, or one the issuer does not advertise.
    #[error("token signing algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(String),
    #[error("missing required claim {0:?}")]
    MissingClaim(&'static str),
    #[error("invalid claim {claim:?}: {reason}")]
    InvalidClaim {
        claim: &'static str,
        reason: &'static str,
    },
    /// The discovery document could not be fetched or is not acceptable.
    #[error("OIDC discovery failed: {0}")]
    Discovery(String),
    /// The JWKS could not be fetched or parsed.
    #[error("fetching the issuer's JWKS failed: {0}")]
    Jwks(String),
    /// The issuer URL passed by the caller is not an absolute http(s) URL.
    #[error("invalid issuer URL {0:?}")]
    InvalidIssuerUrl(String),
    /// A per-issuer CA bundle could not be used.
    #[error("invalid CA bundle for issuer: {0}")]
    CaBundle(String),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
}

impl OidcError {
    /// True when the failure is on the issuer's side or in our configuration (network,
    /// discovery, JWKS, TLS), not in the token: the server may want to log these louder or
    /// answer 503 rather than 401.
    pub fn is_issuer_unavailable(&self) -> bool {
        matches!(
            self,
            OidcError::Discovery(_)
                | OidcError::Jwks(_)
                | OidcError::Http(_)
                | OidcError::InvalidIssuerUrl(_)
                | OidcError::CaBundle(_)
        )
    }
}

/// Truncate attacker-supplied text before it goes into an error message or a log line.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 128;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

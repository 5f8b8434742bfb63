//! HTTP side: discovery document and JWKS.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::Value;
use url::Url;

use crate::jwks::{parse_alg, parse_jwks, Key};
use crate::OidcError;

/// Discovery documents and JWKS are a few KiB; refuse to buffer more than this.
const MAX_BODY: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 10;

/// What we keep from the discovery document.
#[derive(Debug, Clone)]
pub(crate) struct Discovery {
    pub jwks_uri: Url,
    /// Discovery `id_token_signing_alg_values_supported` ∩ what we implement; RS256 when
    /// that is empty or absent (go-oidc does the same).
    pub algs: Vec<Algorithm>,
}

/// Same "host" as Go's `req.URL.Host` comparison in Fulcio's redirect check (host and
/// explicit port), and no https → http downgrade (stricter than Fulcio).
fn redirect_allowed(from: &Url, to: &Url) -> bool {
    from.host_str() == to.host_str()
        && from.port() == to.port()
        && !(from.scheme() == "https" && to.scheme() != "https")
}

/// A client for one issuer: timeout on the whole exchange, redirects only within the
/// host, optional extra trust anchors on top of the system store.
pub(crate) fn build_client(
    timeout: Duration,
    extra_roots: Vec<reqwest::Certificate>,
) -> Result<reqwest::Client, OidcError> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let prev = attempt.previous();
        let allowed = match prev.first() {
            Some(first) => redirect_allowed(first, attempt.url()),
            None => false,
        };
        if prev.len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if allowed {
            attempt.follow()
        } else {
            let msg = format!(
                "redirect to another host or scheme ({}) refused",
                attempt.url().origin().ascii_serialization()
            );
            attempt.error(msg)
        }
    });
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(policy)
        .user_agent(concat!("sigstack-fulcio/", env!("CARGO_PKG_VERSION")));
    for c in extra_roots {
        b = b.add_root_certificate(c);
    }
    b.build().map_err(|e| OidcError::Http(describe(&e)))
}

/// Error text with its causes (reqwest's top-level Display alone says "error sending
/// request for url (...)"). URLs are the issuer's, never the token.
fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() {
        format!("timed out: {e}")
    } else {
        e.to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

/// GET a JSON document: status must be 200, body at most MAX_BODY.
async fn get_json(client: &reqwest::Client, url: &Url) -> Result<Value, String> {
    let mut resp = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = resp.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(format!("GET {url}: body larger than {MAX_BODY} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("GET {url}: body larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: invalid JSON: {e}"))
}

/// `<issuer>/.well-known/openid-configuration`, with one trailing "/" of the issuer
/// removed first (go-oidc).
pub(crate) fn discovery_url(issuer_url: &str) -> Result<Url, OidcError> {
    let base = issuer_url.strip_suffix('/').unwrap_or(issuer_url);
    let url = Url::parse(&format!("{base}/.well-known/openid-configuration"))
        .map_err(|_| OidcError::InvalidIssuerUrl(issuer_url.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(OidcError::InvalidIssuerUrl(issuer_url.to_owned()));
    }
    Ok(url)
}

pub(crate) async fn discover(
    client: &reqwest::Client,
    issuer_url: &str,
) -> Result<Discovery, OidcError> {
    let url = discovery_url(issuer_url)?;
    let doc = get_json(client, &url).await.map_err(OidcError::Discovery)?;
    // Exact string equality with the configured issuer (go-oidc): this is what binds the
    // JWKS to the issuer that Fulcio puts in the certificate.
    match doc.get("issuer").and_then(Value::as_str) {
        Some(iss) if iss == issuer_url => {}
        Some(iss) => {
            return Err(OidcError::Discovery(format!(
                "issuer in the discovery document {:?} does not match {issuer_url:?}",
                crate::error::clip(iss)
            )))
        }
        None => {
            return Err(OidcError::Discovery(
                "discovery document has no issuer".into(),
            ))
        }
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| OidcError::Discovery("discovery document has no jwks_uri".into()))?;
    let jwks_uri = Url::parse(jwks_uri)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| OidcError::Discovery("jwks_uri is not an http(s) URL".into()))?;
    let mut algs: Vec<Algorithm> = doc
        .get("id_token_signing_alg_values_supported")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(parse_alg)
                .collect()
        })
        .unwrap_or_default();
    if algs.is_empty() {
        algs.push(Algorithm::RS256);
    }
    Ok(Discovery { jwks_uri, algs })
}

pub(crate) async fn fetch_jwks(client: &reqwest::Client, url: &Url) -> Result<Vec<Key>, OidcError> {
    let doc = get_json(client, url).await.map_err(OidcError::Jwks)?;
    parse_jwks(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_trailing_slash() {
        assert_eq!(
            discovery_url("http://h:1/auth/").map(|u| u.to_string()),
            Ok("http://h:1/auth/.well-known/openid-configuration".to_owned())
        );
        assert_eq!(
            discovery_url("http://h:1").map(|u| u.to_string()),
            Ok("http://h:1/.well-known/openid-configuration".to_owned())
        );
        assert!(discovery_url("ftp://h").is_err());
        assert!(discovery_url("not a url").is_err());
    }

    #[test]
    fn redirects() {
        let u = |s: &str| Url::parse(s).unwrap_or_else(|_| unreachable!("literal URL"));
        assert!(redirect_allowed(&u("https://a/x"), &u("https://a/y")));
        assert!(!redirect_allowed(&u("https://a/x"), &u("https://b/x")));
        assert!(!redirect_allowed(&u("https://a/x"), &u("https://a:8443/x")));
        assert!(!redirect_allowed(&u("https://a/x"), &u("http://a/x")));
        assert!(redirect_allowed(&u("http://a/x"), &u("https://a/x")));
    }
}

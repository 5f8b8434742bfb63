//! Ambient identity tokens: what Go cosign finds without asking anyone
//! (`sigstore/pkg/oauthflow` providers, tried in upstream's registration
//! order, first one that is enabled wins):
//!
//! * `envvar`: `SIGSTORE_ID_TOKEN` (the token itself);
//! * `filesystem`: `/var/run/sigstore/cosign/oidc-token` (a projected
//!   Kubernetes service-account token, typically);
//! * `github-actions`: with `ACTIONS_ID_TOKEN_REQUEST_URL` and
//!   `ACTIONS_ID_TOKEN_REQUEST_TOKEN` set, `GET <url>&audience=sigstore`
//!   with that bearer token, answered by `{"value": "<jwt>"}`.
//!
//! Not provided: buildkite-agent, google (workload identity) and spiffe.
//! A provider that is enabled but fails is an error, not a silent move to
//! the next one, as upstream.

use anyhow::{anyhow, bail, Result};
use serde_json::Value;

use crate::client::Http;

/// Where the `filesystem` provider reads its token.
pub const FILESYSTEM_TOKEN: &str = "/var/run/sigstore/cosign/oidc-token";
const PROVIDERS: [&str; 3] = ["envvar", "filesystem", "github-actions"];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether `provider` has what it needs in this environment.
fn enabled(provider: &str, token_file: &str) -> bool {
    match provider {
        "envvar" => env("SIGSTORE_ID_TOKEN").is_some(),
        "filesystem" => std::path::Path::new(token_file).is_file(),
        "github-actions" => {
            env("ACTIONS_ID_TOKEN_REQUEST_URL").is_some()
                && env("ACTIONS_ID_TOKEN_REQUEST_TOKEN").is_some()
        }
        _ => false,
    }
}

fn fetch(http: &Http, provider: &str, token_file: &str) -> Result<String> {
    match provider {
        // The token itself; a path to one is accepted too, as --identity-token.
        "envvar" => Ok(crate::client::resolve_token(
            &env("SIGSTORE_ID_TOKEN").ok_or_else(|| anyhow!("SIGSTORE_ID_TOKEN is not set"))?,
        )?),
        "filesystem" => Ok(std::fs::read_to_string(token_file)
            .map_err(|e| anyhow!("reading {token_file}: {e}"))?
            .trim()
            .to_owned()),
        "github-actions" => {
            let (Some(url), Some(bearer)) = (
                env("ACTIONS_ID_TOKEN_REQUEST_URL"),
                env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
            ) else {
                bail!(
                    "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN must be set"
                );
            };
            // The request URL already has a query (`?api-version=...`).
            let sep = if url.contains('?') { '&' } else { '?' };
            let v: Value = http.get_json_bearer(
                "GitHub Actions OIDC",
                &format!("{url}{sep}audience=sigstore"),
                &bearer,
            )?;
            v.get("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("the GitHub Actions token response has no value"))
        }
        other => bail!("unknown --oidc-provider {other:?} (envvar, filesystem, github-actions)"),
    }
}

/// The ambient token, if a provider is enabled (`Ok(None)`: none is, so
/// the interactive flow comes next).
pub fn token(http: &Http, only: Option<&str>, disabled: bool) -> Result<Option<String>> {
    token_with(http, only, disabled, FILESYSTEM_TOKEN)
}

pub(crate) fn token_with(
    http: &Http,
    only: Option<&str>,
    disabled: bool,
    token_file: &str,
) -> Result<Option<String>> {
    if let Some(p) = only {
        if !PROVIDERS.contains(&p) {
            bail!("unknown --oidc-provider {p:?} (envvar, filesystem, github-actions)");
        }
        if !enabled(p, token_file) {
            bail!("--oidc-provider {p} is not available in this environment");
        }
        return fetch(http, p, token_file).map(Some);
    }
    if disabled {
        return Ok(None);
    }
    for p in PROVIDERS {
        if enabled(p, token_file) {
            let t = fetch(http, p, token_file)?;
            if t.is_empty() {
                bail!("the {p} provider returned an empty token");
            }
            return Ok(Some(t));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The only test in this crate that sets these variables.
    #[test]
    fn providers_in_order_and_github_actions_protocol() {
        let _env = crate::testdata::ENV_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/token",
            axum::routing::get(
                |q: axum::extract::Query<std::collections::HashMap<String, String>>,
                 h: axum::http::HeaderMap| async move {
                    let auth = h.get("authorization").and_then(|v| v.to_str().ok());
                    if auth != Some("Bearer req-token")
                        || q.get("audience").map(String::as_str) != Some("sigstore")
                    {
                        return (axum::http::StatusCode::UNAUTHORIZED, "no".to_owned());
                    }
                    (
                        axum::http::StatusCode::OK,
                        r#"{"value":"gh.jwt.token"}"#.to_owned(),
                    )
                },
            ),
        );
        rt.spawn(async move { axum::serve(listener, app).await });
        let http = Http::new(Duration::from_secs(10)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("oidc-token");
        let file = file.to_str().unwrap();

        std::env::remove_var("SIGSTORE_ID_TOKEN");
        std::env::remove_var("ACTIONS_ID_TOKEN_REQUEST_URL");
        std::env::remove_var("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
        assert_eq!(token_with(&http, None, false, file).unwrap(), None);

        std::env::set_var(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{base}/token?api-version=2.0"),
        );
        std::env::set_var("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "req-token");
        assert_eq!(
            token_with(&http, None, false, file).unwrap().as_deref(),
            Some("gh.jwt.token")
        );
        assert_eq!(
            token_with(&http, None, true, file).unwrap(),
            None,
            "disabled"
        );
        // The token file comes before GitHub Actions.
        std::fs::write(file, "file.jwt.token\n").unwrap();
        assert_eq!(
            token_with(&http, None, false, file).unwrap().as_deref(),
            Some("file.jwt.token")
        );
        assert_eq!(
            token_with(&http, Some("github-actions"), false, file)
                .unwrap()
                .as_deref(),
            Some("gh.jwt.token")
        );
        // A provider that is on but fails is an error, not a skip.
        std::env::set_var("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong");
        let err = token_with(&http, Some("github-actions"), false, file).unwrap_err();
        assert!(err.to_string().contains("401"), "{err}");
        assert!(token_with(&http, Some("spiffe"), false, file).is_err());
        std::fs::remove_file(file).unwrap();
        assert!(token_with(&http, Some("filesystem"), false, file).is_err());
        std::env::remove_var("ACTIONS_ID_TOKEN_REQUEST_URL");
        std::env::remove_var("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    }
}

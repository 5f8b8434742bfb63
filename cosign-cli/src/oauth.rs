//! The browser sign-in: OAuth 2.0 authorization code flow with PKCE (S256)
//! and a loopback redirect (RFC 8252), as sigstore's `oauthflow` "normal"
//! flow runs it for Go cosign: discovery; `state`, `nonce` and a code
//! verifier, all random; the person's browser goes to the authorization
//! endpoint and comes back to `http://localhost:<port>/auth/callback`, where
//! a one-shot listener takes the code; the code is exchanged with the
//! verifier, and the ID token's `nonce` must be ours.
//!
//! Invariants: the listener binds loopback only (127.0.0.1, and ::1 on the
//! same port when it can) unless `--oidc-redirect-url` names another
//! address; a callback whose `state` differs is refused and ends the flow
//! (it is not the browser we sent); nothing but the callback path is served.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::Digest;

use crate::client::{Http, ServiceError};

const S: &str = "OIDC issuer";
/// How long the person has to sign in.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);
const CALLBACK_PATH: &str = "/auth/callback";

/// What the flow needs besides the HTTP client.
pub struct CodeFlow<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: Option<&'a str>,
    /// `--oidc-redirect-url`; default `http://localhost:<random port>/auth/callback`.
    pub redirect_url: Option<&'a str>,
}

fn token_error(m: impl Into<String>) -> ServiceError {
    ServiceError::Token(m.into())
}

fn random_b64url() -> String {
    let mut b = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The loopback listeners and the redirect URI they answer.
struct Callback {
    listeners: Vec<TcpListener>,
    redirect_uri: String,
    path: String,
}

impl Callback {
    fn bind(redirect_url: Option<&str>) -> Result<Self, ServiceError> {
        let io =
            |e: std::io::Error| token_error(format!("cannot listen for the sign-in redirect: {e}"));
        let (listeners, redirect_uri, path) = match redirect_url {
            None => {
                let v4 = TcpListener::bind("127.0.0.1:0").map_err(io)?;
                let port = v4.local_addr().map_err(io)?.port();
                let mut l = vec![v4];
                // "localhost" may resolve to ::1 first in the browser.
                if let Ok(v6) = TcpListener::bind(("::1", port)) {
                    l.push(v6);
                }
                (
                    l,
                    format!("http://localhost:{port}{CALLBACK_PATH}"),
                    CALLBACK_PATH.to_string(),
                )
            }
            Some(u) => {
                let url = url::Url::parse(u)
                    .map_err(|e| token_error(format!("--oidc-redirect-url {u:?}: {e}")))?;
                let host = url
                    .host_str()
                    .ok_or_else(|| token_error(format!("--oidc-redirect-url {u:?} has no host")))?
                    .trim_matches(|c| c == '[' || c == ']')
                    .to_string();
                let port = url.port_or_known_default().unwrap_or(80);
                let l = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                    .map_err(io)?
                    .filter_map(|a| TcpListener::bind(a).ok())
                    .collect::<Vec<_>>();
                if l.is_empty() {
                    return Err(token_error(format!(
                        "cannot listen on {host}:{port} for {u}"
                    )));
                }
                (l, u.to_string(), url.path().to_string())
            }
        };
        for l in &listeners {
            l.set_nonblocking(true).map_err(io)?;
        }
        Ok(Callback {
            listeners,
            redirect_uri,
            path,
        })
    }

    /// Serves requests until the callback arrives; returns its code.
    fn wait_for_code(&self, state: &str, deadline: Instant) -> Result<String, ServiceError> {
        loop {
            for l in &self.listeners {
                match l.accept() {
                    Ok((stream, _)) => {
                        if let Some(result) = self.handle(stream, state) {
                            return result;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(token_error(format!("sign-in listener: {e}"))),
                }
            }
            if Instant::now() > deadline {
                return Err(token_error(
                    "timed out waiting for the browser sign-in to come back",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One request: `None` if it was not the callback (answered 404).
    fn handle(&self, mut stream: TcpStream, state: &str) -> Option<Result<String, ServiceError>> {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&head);
        let target = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("GET "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or("");
        let url = url::Url::parse(&format!("http://callback{target}")).ok();
        let Some(url) = url.filter(|u| u.path() == self.path) else {
            reply(&mut stream, "404 Not Found", "Not found.");
            return None;
        };
        let param = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(err) = param("error") {
            let desc = param("error_description").unwrap_or_default();
            reply(
                &mut stream,
                "400 Bad Request",
                "Sign-in failed. You may close this page.",
            );
            return Some(Err(token_error(format!("sign-in refused: {err} {desc}"))));
        }
        if param("state").as_deref() != Some(state) {
            reply(
                &mut stream,
                "400 Bad Request",
                "Invalid state. You may close this page.",
            );
            return Some(Err(token_error(
                "the sign-in redirect carried another state (not the request this client made)",
            )));
        }
        match param("code") {
            Some(code) => {
                reply(
                    &mut stream,
                    "200 OK",
                    "Sigstore Auth Successful. You may now close this page.",
                );
                Some(Ok(code))
            }
            None => {
                reply(
                    &mut stream,
                    "400 Bad Request",
                    "No code. You may close this page.",
                );
                Some(Err(token_error("the sign-in redirect carried no code")))
            }
        }
    }
}

fn reply(stream: &mut TcpStream, status: &str, message: &str) {
    let body = format!("<!doctype html><title>Sigstore sign-in</title><p>{message}</p>\n");
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Tries the platform's URL opener; says whether one started.
pub fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// Runs the flow; `show(url)` tells the person where to sign in (and may
/// open a browser). Returns the ID token.
pub fn browser_flow(
    http: &Http,
    f: &CodeFlow<'_>,
    show: &dyn Fn(&str),
) -> Result<String, ServiceError> {
    let disc = http.discovery(f.issuer)?;
    let endpoint = |k: &str| {
        disc.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ServiceError::Response {
                service: S,
                message: format!("discovery has no {k}"),
            })
    };
    let auth_ep = endpoint("authorization_endpoint")?;
    let token_ep = endpoint("token_endpoint")?;
    let callback = Callback::bind(f.redirect_url)?;
    let (state, nonce, verifier) = (random_b64url(), random_b64url(), random_b64url());
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let url = url::Url::parse_with_params(
        &auth_ep,
        &[
            ("response_type", "code"),
            ("client_id", f.client_id),
            ("redirect_uri", &callback.redirect_uri),
            ("scope", "openid email"),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .map_err(|e| ServiceError::Response {
        service: S,
        message: format!("authorization_endpoint {auth_ep:?}: {e}"),
    })?;
    show(url.as_str());
    let code = callback.wait_for_code(&state, Instant::now() + SIGN_IN_TIMEOUT)?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", callback.redirect_uri.as_str()),
        ("client_id", f.client_id),
        ("code_verifier", verifier.as_str()),
    ];
    if let Some(secret) = f.client_secret {
        form.push(("client_secret", secret));
    }
    let (status, v) = http.post_form(S, &token_ep, &form)?;
    if status != 200 {
        return Err(ServiceError::Status {
            service: S,
            status,
            message: v.to_string(),
        });
    }
    let token = v
        .get("id_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ServiceError::Response {
            service: S,
            message: "the token response has no id_token".into(),
        })?;
    let claims = crate::client::token_claims(&token)?;
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce.as_str()) {
        return Err(token_error(
            "the ID token's nonce is not the one this sign-in sent",
        ));
    }
    Ok(token)
}

//! A minimal HTTP/1.1 keep-alive client on top of `hyper::client::conn::http1`:
//! one TCP connection per `Conn`, reconnecting after any error. No pooling, no TLS.

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where the requests go: `http://host:port[/prefix]`.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port` to connect to.
    pub addr: String,
    /// `Host` header value.
    pub host: HeaderValue,
    /// Path prefix without a trailing slash (usually empty).
    pub prefix: String,
}

impl Target {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("only http:// URLs are supported, got {url:?}");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() {
            bail!("missing host in {url:?}");
        }
        let has_port = authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        let addr = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            addr,
            host: HeaderValue::from_str(authority).context("invalid host")?,
            prefix: path.trim_end_matches('/').to_string(),
        })
    }

    /// An origin-form request URI for `path` (which starts with `/`).
    pub fn uri(&self, path: &str) -> Uri {
        if self.prefix.is_empty() {
            path.parse().expect("valid request path")
        } else {
            format!("{}{}", self.prefix, path)
                .parse()
                .expect("valid request path")
        }
    }
}

/// One request, built cheaply from pre-serialized parts (`Uri` and `Bytes` clones are
/// reference-count bumps).
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub uri: Uri,
    pub body: Bytes,
    /// Workload-specific value carried to the response check (e.g. the requested log index).
    pub tag: u64,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a request did not produce a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TransportError {
    Connect,
    Io,
    Timeout,
}

impl TransportError {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportError::Connect => "connect",
            TransportError::Io => "io",
            TransportError::Timeout => "timeout",
        }
    }
}

static JSON: HeaderValue = HeaderValue::from_static("application/json");

pub struct Conn {
    target: std::sync::Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
    pub connects: u64,
}

impl Conn {
    pub fn new(target: std::sync::Arc<Target>) -> Self {
        Conn {
            target,
            sender: None,
            connects: 0,
        }
    }

    /// Drops the connection (after a timeout the connection state is unknown).
    pub fn reset(&mut self) {
        self.sender = None;
    }

    async fn connect(&mut self) -> Result<(), TransportError> {
        let stream = TcpStream::connect(&self.target.addr)
            .await
            .map_err(|_| TransportError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| TransportError::Connect)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
        self.connects += 1;
        Ok(())
    }

    pub async fn send(&mut self, req: &Req) -> Result<Resp, TransportError> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected");
        if sender.ready().await.is_err() {
            // The server closed the idle connection: reconnect once.
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected");
        let mut r = Request::new(Full::new(req.body.clone()));
        *r.method_mut() = req.method.clone();
        *r.uri_mut() = req.uri.clone();
        let h = r.headers_mut();
        h.insert(HOST, self.target.host.clone());
        if !req.body.is_empty() {
            h.insert(CONTENT_TYPE, JSON.clone());
        }
        let result = async {
            let resp = sender.send_request(r).await?;
            let (parts, body) = resp.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>(Resp {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        }
        .await;
        result.map_err(|_| {
            self.sender = None;
            TransportError::Io
        })
    }
}

/// One-off GET returning the JSON body (for `/api/v1/log` and similar set-up calls).
pub async fn get_json(
    target: &std::sync::Arc<Target>,
    path: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut conn = Conn::new(target.clone());
    let req = Req {
        method: Method::GET,
        uri: target.uri(path),
        body: Bytes::new(),
        tag: 0,
    };
    let resp = conn
        .send(&req)
        .await
        .map_err(|e| anyhow::anyhow!("GET {path} on {}: {} error", target.addr, e.as_str()))?;
    if resp.status != StatusCode::OK {
        bail!(
            "GET {path}: HTTP {} {}",
            resp.status.as_u16(),
            String::from_utf8_lossy(&resp.body)
        );
    }
    serde_json::from_slice(&resp.body).with_context(|| format!("GET {path}: invalid JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_urls() {
        let t = Target::parse("http://127.0.0.1:3000").unwrap();
        assert_eq!(t.addr, "127.0.0.1:3000");
        assert_eq!(t.host, "127.0.0.1:3000");
        assert_eq!(t.uri("/api/v1/log"), "/api/v1/log");
        let t = Target::parse("http://localhost/rekor/").unwrap();
        assert_eq!(t.addr, "localhost:80");
        assert_eq!(t.uri("/api/v1/log"), "/rekor/api/v1/log");
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(t.addr, "[::1]:8080");
        assert!(Target::parse("https://x").is_err());
    }
}

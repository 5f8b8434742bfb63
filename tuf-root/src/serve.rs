//! Serves a repository directory over HTTP exactly as the clients fetch it.
//!
//! Files are read at request time, so a `refresh` or `add-target` by
//! another process is visible at once (each file is replaced atomically).
//! Missing files are 404, never 403: go-tuf stops walking root versions
//! only on 404. `timestamp.json` and `root.json` may change, so caches
//! must revalidate them; versioned metadata and hash-named targets never
//! change and are cacheable forever.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use prometheus_client::registry::Registry;
use sigstack_http::HttpMetrics;

struct Inner {
    repo: PathBuf,
    registry: Registry,
}

#[derive(Clone)]
pub struct Server(Arc<Inner>);

/// The router for `repo` (a repository directory).
pub fn router(repo: PathBuf) -> Router {
    let mut registry = Registry::default();
    let http = HttpMetrics::register(&mut registry);
    let state = Server(Arc::new(Inner { repo, registry }));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(file)
        .layer(middleware::from_fn_with_state(http, sigstack_http::observe))
        .with_state(state)
}

async fn healthz(State(s): State<Server>) -> Response {
    // Healthy = there is a timestamp to serve.
    if s.0.repo.join("timestamp.json").is_file() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "no timestamp.json published\n",
        )
            .into_response()
    }
}

async fn metrics(State(s): State<Server>) -> Response {
    sigstack_http::metrics_response(sigstack_http::render(&s.0.registry))
}

/// Maps a URL path to a file under the repository, or `None` for anything
/// that is not a plain relative path of safe segments.
fn resolve(repo: &std::path::Path, path: &str) -> Option<PathBuf> {
    let rel = path.strip_prefix('/')?;
    // Dot-files (the workspace lock, temporary files) are never served.
    if rel.len() > 512
        || !crate::repo::safe_relative_path(rel)
        || rel.split('/').any(|s| s.starts_with('.'))
    {
        return None;
    }
    let out = repo.join(rel);
    Some(out)
}

fn cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or("");
    if path.starts_with("/targets/")
        || name
            .split('.')
            .next()
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

async fn file(State(s): State<Server>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
    }
    let Some(path) = resolve(&s.0.repo, uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let ctype = if uri.path().ends_with(".json") {
                "application/json"
            } else {
                "application/octet-stream"
            };
            let body = if method == Method::HEAD {
                Body::empty()
            } else {
                Body::from(bytes.clone())
            };
            let mut resp = Response::new(body);
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(ctype),
            );
            h.insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static(cache_control(uri.path())),
            );
            h.insert(
                header::CONTENT_LENGTH,
                header::HeaderValue::from(bytes.len()),
            );
            resp
        }
        Err(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let r = std::path::Path::new("/srv/repo");
        assert_eq!(resolve(r, "/1.root.json").unwrap(), r.join("1.root.json"));
        assert_eq!(
            resolve(r, "/targets/ab.trusted_root.json").unwrap(),
            r.join("targets/ab.trusted_root.json")
        );
        for bad in [
            "/",
            "/../etc/passwd",
            "/targets/../x",
            "/.lock",
            "//x",
            "/a%2F..",
            "/x?y",
        ] {
            assert!(resolve(r, bad).is_none(), "{bad}");
        }
        assert_eq!(cache_control("/timestamp.json"), "no-cache");
        assert_eq!(cache_control("/root.json"), "no-cache");
        assert!(cache_control("/3.snapshot.json").contains("immutable"));
        assert!(cache_control("/targets/abc.trusted_root.json").contains("immutable"));
    }
}

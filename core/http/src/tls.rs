//! HTTPS for every service (rustls), and the rule that plain HTTP is only
//! for loopback unless an operator says otherwise (`--insecure-http`, for a
//! TLS-terminating proxy in front).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
pub use rustls::ServerConfig;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {msg}")]
    File { path: String, msg: String },
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error("refusing plain HTTP on {0}, which is not a loopback address: give --tls-cert and --tls-key, or --insecure-http when a TLS-terminating proxy sits in front")]
    PlainHttp(SocketAddr),
    #[error("--tls-cert and --tls-key go together")]
    Half,
}

/// The TLS flags every service binary takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// PEM certificate chain (leaf first) to serve HTTPS with.
    #[arg(long, env = "SIGSTACK_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate (PKCS#8, SEC1 or PKCS#1).
    #[arg(long, env = "SIGSTACK_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address.
    #[arg(long, env = "SIGSTACK_INSECURE_HTTP")]
    pub insecure_http: bool,
}

impl TlsArgs {
    /// The server config, or `None` for plain HTTP.
    pub fn load(&self) -> Result<Option<Arc<ServerConfig>>, TlsError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => server_config(c, k).map(Some),
            (None, None) => Ok(None),
            _ => Err(TlsError::Half),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::File {
        path: path.display().to_string(),
        msg: e.to_string(),
    })
}

/// Loads a PEM chain and key into a rustls server config (TLS 1.2 and 1.3,
/// ALPN http/1.1).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let file_err = |path: &Path, msg: String| TlsError::File {
        path: path.display().to_string(),
        msg,
    };
    let blocks =
        sigstack_core::pem::parse_all(&read(cert)?).map_err(|e| file_err(cert, e.to_string()))?;
    let chain: Vec<CertificateDer<'static>> = blocks
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.contents))
        .collect();
    if chain.is_empty() {
        return Err(file_err(cert, "no CERTIFICATE block".into()));
    }
    let block = sigstack_core::pem::parse_one_block(&read(key)?)
        .map_err(|e| file_err(key, e.to_string()))?;
    let key_der: PrivateKeyDer<'static> = match block.label.as_str() {
        "PRIVATE KEY" => PrivatePkcs8KeyDer::from(block.contents).into(),
        "EC PRIVATE KEY" => PrivateSec1KeyDer::from(block.contents).into(),
        "RSA PRIVATE KEY" => PrivatePkcs1KeyDer::from(block.contents).into(),
        other => {
            return Err(file_err(
                key,
                format!("unsupported PEM label {other:?} (an unencrypted private key is needed)"),
            ))
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Refuses plain HTTP on a non-loopback address unless allowed.
pub fn check_plain_http(addr: SocketAddr, tls: bool, insecure_http: bool) -> Result<(), TlsError> {
    if tls || insecure_http || addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(TlsError::PlainHttp(addr))
    }
}

/// Serves `app` on `listener`, over TLS when `tls` is given, until
/// `shutdown` completes (connections in flight then finish on their own).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Some(config) = tls else {
        return axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            // A client that never finishes the handshake must not hold a task forever.
            let stream =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let svc = TowerToHyperService::new(app);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

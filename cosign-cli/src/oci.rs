//! A small OCI distribution client: what `cosign sign`/`verify` need from
//! a registry, written against the distribution spec (v1.1) and tested
//! against a real registry (Debian's `docker-registry`, distribution 2.8).
//!
//! * References: `[registry/]repository[:tag][@sha256:hex]`, with Docker
//!   Hub's defaults (`index.docker.io`, `library/`), as go-containerregistry
//!   parses them.
//! * Transport: HTTPS, except for loopback registries and
//!   `--allow-insecure-registry`, which use plain HTTP (ggcr's rule).
//! * Auth: anonymous first; on a 401 the `WWW-Authenticate` challenge is
//!   answered: Bearer (token endpoint, with the Docker `config.json`
//!   credentials for that registry if there are any) or Basic.
//! * Content: every blob and manifest read by digest is checked against it,
//!   so a registry cannot substitute content.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// What a manifest GET accepts.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
/// Manifests and signature blobs are small; refuse anything bigger.
const MAX_MANIFEST: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("invalid image reference {0:?}: {1}")]
    Reference(String, String),
    #[error("registry {registry}: {message}")]
    Transport { registry: String, message: String },
    #[error("{what}: registry returned HTTP {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{0}")]
    Content(String),
}

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

impl Reference {
    pub fn parse(s: &str) -> Result<Self, OciError> {
        let bad = |m: &str| OciError::Reference(s.to_owned(), m.to_owned());
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !is_sha256_digest(d) {
                    return Err(bad("the digest must be sha256:<64 lowercase hex>"));
                }
                (r, Some(d.to_owned()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_owned())),
            None => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                && !t.starts_with(['.', '-']);
            if !ok {
                return Err(bad("invalid tag"));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), path.to_owned())
            }
            _ => ("index.docker.io".to_owned(), name.to_owned()),
        };
        let repository = if registry == "index.docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if repository.is_empty() || !repository.split('/').all(component_ok) {
            return Err(bad(
                "invalid repository name (lowercase letters, digits, . _ -)",
            ));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_owned())
        } else {
            tag
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`: the `docker-reference` of simple signing and
    /// the in-toto subject name.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository, another tag or digest.
    pub fn with_reference(&self, tag_or_digest: &str) -> Reference {
        let mut r = self.clone();
        if tag_or_digest.starts_with("sha256:") {
            r.tag = None;
            r.digest = Some(tag_or_digest.to_owned());
        } else {
            r.tag = Some(tag_or_digest.to_owned());
            r.digest = None;
        }
        r
    }

    /// What goes in the URL: the digest if there is one, else the tag.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The legacy tag for an attachment: `sha256-<hex>[.<suffix>]`.
pub fn attachment_tag(digest: &str, suffix: &str) -> String {
    let base = digest.replacen(':', "-", 1);
    if suffix.is_empty() {
        base
    } else {
        format!("{base}.{suffix}")
    }
}

/// A manifest as fetched: its bytes, media type and digest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

impl Manifest {
    pub fn json(&self) -> Result<Value, OciError> {
        serde_json::from_slice(&self.bytes)
            .map_err(|e| OciError::Content(format!("manifest {} is not JSON: {e}", self.digest)))
    }

    /// The descriptor that points at this manifest.
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// Credentials for one registry from Docker's `config.json`
/// (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): the
/// `auths.<registry>.auth` base64 `user:password` (Docker Hub also under
/// its legacy `https://index.docker.io/v1/` key). Credential helpers are
/// not run.
fn docker_credentials(registry: &str) -> Option<(String, String)> {
    let cfg: Value = serde_json::from_slice(&std::fs::read(docker_config_path()?).ok()?).ok()?;
    let auths = cfg.get("auths")?.as_object()?;
    let mut keys = vec![registry.to_owned(), format!("https://{registry}")];
    if registry == "index.docker.io" {
        keys.push("https://index.docker.io/v1/".into());
        keys.push("docker.io".into());
    }
    let entry = keys.iter().find_map(|k| auths.get(k))?;
    let (user, pass) = match entry.get("auth").and_then(Value::as_str) {
        Some(a) => {
            let raw = String::from_utf8(STANDARD.decode(a).ok()?).ok()?;
            let (u, p) = raw.split_once(':')?;
            (u.to_owned(), p.to_owned())
        }
        None => (
            entry.get("username")?.as_str()?.to_owned(),
            entry.get("password")?.as_str()?.to_owned(),
        ),
    };
    Some((user, pass))
}

/// Docker's `config.json` path: `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`.
pub fn docker_config_path() -> Option<std::path::PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker")))
        .map(|d| d.join("config.json"))
}

/// `config.json` with `auths.<registry>.auth` set to `user:password`
/// (base64), everything else in `existing` kept.
pub fn with_credentials(
    existing: Option<&[u8]>,
    registry: &str,
    user: &str,
    password: &str,
) -> Result<Vec<u8>, OciError> {
    let mut cfg: Value = match existing {
        Some(b) if !b.iter().all(u8::is_ascii_whitespace) => serde_json::from_slice(b)
            .map_err(|e| OciError::Content(format!("the Docker config is not JSON: {e}")))?,
        _ => json!({}),
    };
    let obj = cfg
        .as_object_mut()
        .ok_or_else(|| OciError::Content("the Docker config is not a JSON object".into()))?;
    let auths = obj
        .entry("auths")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| OciError::Content("auths in the Docker config is not an object".into()))?;
    auths.insert(
        registry.to_owned(),
        json!({"auth": STANDARD.encode(format!("{user}:{password}"))}),
    );
    serde_json::to_vec_pretty(&cfg).map_err(|e| OciError::Content(e.to_string()))
}

/// Parses `Bearer realm="...",service="...",scope="..."` (or `Basic ...`).
fn parse_challenge(h: &str) -> (String, HashMap<String, String>) {
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let (v, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v, n),
                None => (quoted, ""),
            }
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        params.insert(k.trim().to_ascii_lowercase(), v.to_owned());
        rest = next.trim_start_matches([',', ' ']);
    }
    (scheme.to_ascii_lowercase(), params)
}

fn is_loopback(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .filter(|(h, p)| !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(registry, |(h, _)| h);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

/// One registry session (blocking; its own small runtime).
pub struct Registry {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    insecure: bool,
    /// Authorization header values by registry.
    auth: Mutex<HashMap<String, String>>,
}

impl Registry {
    pub fn new(allow_insecure: bool) -> Result<Self, OciError> {
        let err = |e: &dyn std::fmt::Display| OciError::Transport {
            registry: String::new(),
            message: e.to_string(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(&e))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("sigstack-cosign/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(allow_insecure)
            .build()
            .map_err(|e| err(&e))?;
        Ok(Registry {
            rt,
            client,
            insecure: allow_insecure,
            auth: Mutex::new(HashMap::new()),
        })
    }

    fn base(&self, r: &Reference) -> String {
        let scheme = if self.insecure || is_loopback(&r.registry) {
            "http"
        } else {
            "https"
        };
        let host = if r.registry == "index.docker.io" {
            "registry-1.docker.io"
        } else {
            &r.registry
        };
        format!("{scheme}://{host}/v2/{}", r.repository)
    }

    /// Sends a request built by `build`, answering one auth challenge.
    fn send(
        &self,
        r: &Reference,
        what: &str,
        build: &dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), OciError> {
        let transport = |e: reqwest::Error| OciError::Transport {
            registry: r.registry.clone(),
            message: format!("{what}: {e:#}"),
        };
        self.rt.block_on(async {
            for attempt in 0..2 {
                let mut req = build(&self.client);
                let cached = self
                    .auth
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&r.registry)
                    .cloned();
                if let Some(a) = cached {
                    req = req.header(reqwest::header::AUTHORIZATION, a);
                }
                let resp = req.send().await.map_err(transport)?;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                if status == 401 && attempt == 0 {
                    let challenge = headers
                        .get(reqwest::header::WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let value = self.authorize(r, &challenge).await?;
                    self.auth
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(r.registry.clone(), value);
                    continue;
                }
                let body = resp.bytes().await.map_err(transport)?.to_vec();
                return Ok((status, headers, body));
            }
            Err(OciError::Status {
                what: what.to_owned(),
                status: 401,
                message: "unauthorized after authenticating (cosign login / docker login?)".into(),
            })
        })
    }

    /// The `Authorization` value that answers `challenge`.
    async fn authorize(&self, r: &Reference, challenge: &str) -> Result<String, OciError> {
        let creds = docker_credentials(&r.registry);
        let (scheme, params) = parse_challenge(challenge);
        let unauthorized = |m: &str| OciError::Status {
            what: format!("authenticating to {}", r.registry),
            status: 401,
            message: m.to_owned(),
        };
        match scheme.as_str() {
            "basic" => {
                let (u, p) = creds.ok_or_else(|| {
                    unauthorized("no credentials for this registry (cosign login)")
                })?;
                Ok(format!("Basic {}", STANDARD.encode(format!("{u}:{p}"))))
            }
            "bearer" => {
                let realm = params
                    .get("realm")
                    .ok_or_else(|| unauthorized("Bearer challenge without a realm"))?;
                let scope = params
                    .get("scope")
                    .cloned()
                    .unwrap_or_else(|| format!("repository:{}:pull,push", r.repository));
                let mut url = url::Url::parse(realm)
                    .map_err(|e| unauthorized(&format!("token realm {realm:?}: {e}")))?;
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = params.get("service") {
                        q.append_pair("service", s);
                    }
                    q.append_pair("scope", &scope);
                }
                let mut req = self.client.get(url);
                if let Some((u, p)) = &creds {
                    req = req.basic_auth(u, Some(p));
                }
                let resp = req.send().await.map_err(|e| OciError::Transport {
                    registry: r.registry.clone(),
                    message: format!("token endpoint: {e:#}"),
                })?;
                let status = resp.status().as_u16();
                let v: Value = resp.json().await.unwrap_or(Value::Null);
                if status != 200 {
                    return Err(unauthorized(&format!(
                        "token endpoint returned HTTP {status}"
                    )));
                }
                let token = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| unauthorized("the token endpoint returned no token"))?;
                Ok(format!("Bearer {token}"))
            }
            _ => Err(unauthorized(&format!(
                "unsupported challenge {challenge:?}"
            ))),
        }
    }

    fn status_error(what: &str, status: u16, body: &[u8]) -> OciError {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)])
            .trim()
            .to_owned();
        OciError::Status {
            what: what.to_owned(),
            status,
            message: if text.is_empty() {
                "(no body)".into()
            } else {
                text
            },
        }
    }

    /// GETs a manifest by tag or digest. `Ok(None)`: it does not exist.
    pub fn get_manifest(&self, r: &Reference) -> Result<Option<Manifest>, OciError> {
        let url = format!("{}/manifests/{}", self.base(r), r.reference());
        let what = format!("GET manifest {r}");
        let (status, headers, body) = self.send(r, &what, &|c| {
            c.get(&url).header(reqwest::header::ACCEPT, MANIFEST_ACCEPT)
        })?;
        match status {
            200 => {}
            404 => return Ok(None),
            _ => return Err(Self::status_error(&what, status, &body)),
        }
        if body.len() > MAX_MANIFEST {
            return Err(OciError::Content(format!(
                "{what}: manifest over {MAX_MANIFEST} bytes"
            )));
        }
        let digest = digest_of(&body);
        if let Some(want) = &r.digest {
            if &digest != want {
                return Err(OciError::Content(format!(
                    "{what}: the registry returned content with digest {digest}"
                )));
            }
        }
        let parsed: Value = serde_json::from_slice(&body)
            .map_err(|e| OciError::Content(format!("{what}: not JSON: {e}")))?;
        let media_type = parsed
            .get("mediaType")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            })
            .unwrap_or_else(|| OCI_MANIFEST.to_owned());
        Ok(Some(Manifest {
            bytes: body,
            media_type,
            digest,
        }))
    }

    /// The manifest `r` names, which must exist.
    pub fn resolve(&self, r: &Reference) -> Result<Manifest, OciError> {
        self.get_manifest(r)?.ok_or_else(|| OciError::Status {
            what: format!("GET manifest {r}"),
            status: 404,
            message: "no such image".into(),
        })
    }

    /// PUTs a manifest under a tag or its digest; returns its digest.
    pub fn put_manifest(
        &self,
        r: &Reference,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<String, OciError> {
        let url = format!("{}/manifests/{reference}", self.base(r));
        let what = format!("PUT manifest {}:{reference}", r.name());
        let (status, _, body) = self.send(r, &what, &|c| {
            c.put(&url)
                .header(reqwest::header::CONTENT_TYPE, media_type)
                .body(bytes.to_vec())
        })?;
        if status != 201 && status != 200 {
            return Err(Self::status_error(&what, status, &body));
        }
        Ok(digest_of(bytes))
    }

    fn blob_exists(&self, r: &Reference, digest: &str) -> Result<bool, OciError> {
        let url = format!("{}/blobs/{digest}", self.base(r));
        let what = format!("HEAD blob {digest}");
        let (status, _, body) = self.send(r, &what, &|c| c.head(&url))?;
        match status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(Self::status_error(&what, status, &body)),
        }
    }

    /// Uploads a blob (skipped if the registry has it); returns its digest.
    /// One POST then one PUT with the whole blob: signature blobs are small.
    pub fn push_blob(&self, r: &Reference, bytes: &[u8]) -> Result<String, OciError> {
        let digest = digest_of(bytes);
        if self.blob_exists(r, &digest)? {
            return Ok(digest);
        }
        let url = format!("{}/blobs/uploads/", self.base(r));
        let what = format!("POST blob upload to {}", r.name());
        let (status, headers, body) = self.send(r, &what, &|c| c.post(&url))?;
        if status != 202 {
            return Err(Self::status_error(&what, status, &body));
        }
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| OciError::Content(format!("{what}: no Location")))?;
        let mut upload = if location.starts_with("http") {
            url::Url::parse(location)
        } else {
            url::Url::parse(&self.base(r)).and_then(|b| b.join(location))
        }
        .map_err(|e| OciError::Content(format!("{what}: Location {location:?}: {e}")))?;
        upload.query_pairs_mut().append_pair("digest", &digest);
        let what = format!("PUT blob {digest}");
        let (status, _, body) = self.send(r, &what, &|c| {
            c.put(upload.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes.to_vec())
        })?;
        if status != 201 {
            return Err(Self::status_error(&what, status, &body));
        }
        Ok(digest)
    }

    /// GETs a blob and checks it against its digest.
    pub fn get_blob(&self, r: &Reference, digest: &str, max: usize) -> Result<Vec<u8>, OciError> {
        let url = format!("{}/blobs/{digest}", self.base(r));
        let what = format!("GET blob {digest}");
        let (status, _, body) = self.send(r, &what, &|c| c.get(&url))?;
        if status != 200 {
            return Err(Self::status_error(&what, status, &body));
        }
        if body.len() > max {
            return Err(OciError::Content(format!("{what}: over {max} bytes")));
        }
        if digest_of(&body) != digest {
            return Err(OciError::Content(format!(
                "{what}: content does not match its digest"
            )));
        }
        Ok(body)
    }

    /// The referrers of `digest`: the API's index, or `None` when the
    /// registry has no referrers API (404/400), for the tag-schema fallback.
    pub fn referrers_api(&self, r: &Reference, digest: &str) -> Result<Option<Value>, OciError> {
        let url = format!("{}/referrers/{digest}", self.base(r));
        let what = format!("GET referrers of {digest}");
        let (status, _, body) = self.send(r, &what, &|c| {
            c.get(&url).header(reqwest::header::ACCEPT, OCI_INDEX)
        })?;
        match status {
            200 => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| OciError::Content(format!("{what}: not JSON: {e}"))),
            404 | 400 => Ok(None),
            _ => Err(Self::status_error(&what, status, &body)),
        }
    }

    /// Descriptors of the manifests that refer to `digest`: the referrers
    /// API, else the fallback index tagged `sha256-<hex>`.
    pub fn referrers(&self, r: &Reference, digest: &str) -> Result<Vec<Value>, OciError> {
        let index = match self.referrers_api(r, digest)? {
            Some(i) => Some(i),
            None => self
                .get_manifest(&r.with_reference(&attachment_tag(digest, "")))?
                .map(|m| m.json())
                .transpose()?,
        };
        Ok(index
            .and_then(|i| i.get("manifests").and_then(Value::as_array).cloned())
            .unwrap_or_default())
    }

    /// Deletes a manifest by digest (registries delete by digest, which also
    /// drops every tag on it). `Ok(false)`: it was not there.
    pub fn delete_manifest(&self, r: &Reference, digest: &str) -> Result<bool, OciError> {
        let url = format!("{}/manifests/{digest}", self.base(r));
        let what = format!("DELETE manifest {}@{digest}", r.name());
        let (status, _, body) = self.send(r, &what, &|c| c.delete(&url))?;
        match status {
            200 | 202 => Ok(true),
            404 => Ok(false),
            _ => Err(Self::status_error(&what, status, &body)),
        }
    }

    /// The referrer manifests of `digest` that still exist: (digest, JSON).
    pub fn referrer_manifests(
        &self,
        r: &Reference,
        digest: &str,
    ) -> Result<Vec<(String, Value)>, OciError> {
        let mut out = Vec::new();
        for d in self.referrers(r, digest)? {
            let Some(md) = d.get("digest").and_then(Value::as_str) else {
                continue;
            };
            if let Some(m) = self.get_manifest(&r.with_reference(md))? {
                out.push((md.to_owned(), m.json()?));
            }
        }
        Ok(out)
    }

    /// Records `descriptor` as a referrer of `subject` where the registry
    /// has no referrers API: in the fallback index at tag `sha256-<hex>`
    /// (created if missing, kept sorted by digest, no duplicates).
    pub fn add_fallback_referrer(
        &self,
        r: &Reference,
        subject: &str,
        descriptor: Value,
    ) -> Result<(), OciError> {
        if self.referrers_api(r, subject)?.is_some() {
            return Ok(());
        }
        let tag = attachment_tag(subject, "");
        let mut index = match self.get_manifest(&r.with_reference(&tag))? {
            Some(m) => m.json()?,
            None => json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
        };
        let list = index
            .get_mut("manifests")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| {
                OciError::Content(format!("the fallback index {tag} has no manifests list"))
            })?;
        let d = descriptor["digest"].clone();
        if !list.iter().any(|m| m["digest"] == d) {
            list.push(descriptor);
        }
        list.sort_by(|a, b| {
            a["digest"]
                .as_str()
                .unwrap_or("")
                .cmp(b["digest"].as_str().unwrap_or(""))
        });
        let bytes = serde_json::to_vec(&index).map_err(|e| OciError::Content(e.to_string()))?;
        self.put_manifest(r, &tag, &bytes, OCI_INDEX)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_as_ggcr_does() {
        let r = Reference::parse("ubuntu").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("index.docker.io", "library/ubuntu", Some("latest"))
        );
        assert_eq!(r.name(), "index.docker.io/library/ubuntu");
        let r = Reference::parse("localhost:5000/team/app:v1.2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "team/app", Some("v1.2"))
        );
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = Reference::parse(&format!("127.0.0.1:5000/app@{d}")).unwrap();
        assert_eq!(
            (r.tag.as_deref(), r.digest.as_deref()),
            (None, Some(d.as_str()))
        );
        assert_eq!(r.reference(), d);
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/app@{d}"));
        let r = Reference::parse("ghcr.io/o/r:t@sha256:".to_owned().as_str());
        assert!(r.is_err());
        for bad in [
            "",
            "UPPER/case",
            "host:5000/app:bad tag",
            "app@sha256:12",
            "app:",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn attachment_tags_and_loopback() {
        let d = format!("sha256:{}", "0f".repeat(32));
        assert_eq!(
            attachment_tag(&d, "sig"),
            format!("sha256-{}.sig", "0f".repeat(32))
        );
        assert_eq!(
            attachment_tag(&d, ""),
            format!("sha256-{}", "0f".repeat(32))
        );
        for l in [
            "localhost:5000",
            "127.0.0.1:5000",
            "localhost",
            "[::1]:5000",
        ] {
            assert!(is_loopback(l), "{l}");
        }
        for r in ["ghcr.io", "10.0.0.1:5000", "localhost.example.com:5000"] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn bearer_challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull");
        assert_eq!(parse_challenge(r#"Basic realm="x""#).0, "basic");
    }

    #[test]
    fn docker_config_credentials() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            json!({"auths": {"reg.example:5000": {"auth": STANDARD.encode("alice:s3cret")}}})
                .to_string(),
        )
        .unwrap();
        // Only this test sets DOCKER_CONFIG in this process.
        let _env = crate::testdata::ENV_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        std::env::set_var("DOCKER_CONFIG", dir.path());
        assert_eq!(
            docker_credentials("reg.example:5000"),
            Some(("alice".into(), "s3cret".into()))
        );
        assert_eq!(docker_credentials("other.example"), None);
        // `login` adds a registry and keeps the rest.
        let path = docker_config_path().unwrap();
        let updated = with_credentials(
            Some(&std::fs::read(&path).unwrap()),
            "other.example",
            "bob",
            "pw:with:colons",
        )
        .unwrap();
        std::fs::write(&path, updated).unwrap();
        assert_eq!(
            docker_credentials("other.example"),
            Some(("bob".into(), "pw:with:colons".into()))
        );
        assert_eq!(
            docker_credentials("reg.example:5000"),
            Some(("alice".into(), "s3cret".into()))
        );
        assert!(with_credentials(Some(b"[1]"), "r", "u", "p").is_err());
        std::env::remove_var("DOCKER_CONFIG");
    }
}

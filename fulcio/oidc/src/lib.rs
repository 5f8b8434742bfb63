//! OIDC ID-token verification for our Fulcio CA, behaving like go-oidc as Fulcio uses it.
//!
//! * Discovery: `GET <issuer minus one trailing "/">/.well-known/openid-configuration`; the
//!   document's `issuer` must equal the configured issuer URL exactly; redirects only within
//!   the same host (and never https → http).
//! * Keys: the JWKS at `jwks_uri`, cached per issuer. One fetch at a time per issuer
//!   (concurrent callers wait for it instead of stampeding). The cache is refreshed when
//!   older than `jwks_max_age`, and when a token matches no key (unknown `kid`, or a
//!   kid-less token that no key verifies: the provider probably rotated). Those on-demand
//!   refreshes happen at most once per `jwks_min_refresh`; a caller that needs one inside
//!   that window waits for the window to end (bounded by `jwks_min_refresh`) so a rotation
//!   is always picked up, while a flood of bogus tokens costs the issuer one request per
//!   window. If the issuer is down, stale keys keep being used.
//! * Algorithms: RS/PS 256/384/512, ES256, ES384, EdDSA (Ed25519), restricted to the
//!   discovery `id_token_signing_alg_values_supported` (RS256 if it names none of these).
//!   `none` and HS* are always refused.
//! * Claims: `iss` == issuer URL, `aud` ∋ audience, `exp` required, `nbf`/`iat` checked,
//!   all with `clock_skew`.
//!
//! Errors never contain the token (see [`OidcError`]).

mod claims;
mod error;
mod fetch;
mod jwks;
mod token;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;

pub use error::OidcError;
pub use token::unverified_issuer;

/// A token split and decoded, nothing verified yet.
pub struct Token<'a>(token::Parsed<'a>);

impl<'a> Token<'a> {
    /// Splits and decodes a compact JWS (header, claims, signature); the
    /// same structural checks as [`Verifier::verify`] makes.
    pub fn parse(token: &'a str) -> Result<Self, OidcError> {
        token::parse(token).map(Token)
    }

    /// The claims, NOT verified: for a client that needs its own token's
    /// subject (Fulcio's proof of possession) before Fulcio verifies it.
    pub fn unverified_claims(&self) -> &Claims {
        &self.0.claims
    }

    /// The `iss` claim, NOT verified: only for routing the token to the
    /// issuer that will verify it.
    pub fn unverified_issuer(&self) -> Result<&str, OidcError> {
        token::issuer_claim(&self.0.claims)
    }
}

use fetch::Discovery;
use jwks::Key;

/// All claims of a verified token, in token order.
pub type Claims = serde_json::Map<String, serde_json::Value>;

/// Issuers kept in the cache. Fulcio's meta-issuers (wildcards) can name many issuers;
/// Fulcio keeps an LRU of 100 for those. Past this, the least recently used is dropped.
const MAX_ISSUERS: usize = 256;

/// Tunables. `Default` gives the values Fulcio/go-oidc use where they have one.
#[derive(Debug, Clone)]
pub struct VerifierOptions {
    /// Per HTTP exchange (connect + response), discovery and JWKS each. Fulcio: 10 s.
    pub http_timeout: Duration,
    /// Tolerance for `exp`, `nbf` and `iat`.
    pub clock_skew: Duration,
    /// Minimum interval between JWKS fetches triggered by tokens that match no cached key,
    /// and between retries after a failed fetch.
    pub jwks_min_refresh: Duration,
    /// Discovery and JWKS are re-fetched when older than this.
    pub jwks_max_age: Duration,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        Self {
            http_timeout: Duration::from_secs(10),
            clock_skew: Duration::from_secs(60),
            jwks_min_refresh: Duration::from_secs(5),
            jwks_max_age: Duration::from_secs(3600),
        }
    }
}

/// Verifies ID tokens for any number of issuers. Cheap to clone (shared cache).
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

struct Inner {
    opts: VerifierOptions,
    default_client: reqwest::Client,
    /// Clients for issuers with their own CA bundle.
    issuer_clients: RwLock<HashMap<String, reqwest::Client>>,
    issuers: Mutex<HashMap<String, Arc<IssuerEntry>>>,
    /// Logical clock for the issuer LRU.
    tick: AtomicU64,
}

/// Per-issuer cache. `fetch_lock` serialises network fetches (and is held while waiting
/// out the refresh rate limit); `state` is only ever held briefly and never across an
/// await, so verifications with cached keys never wait for a fetch.
#[derive(Default)]
struct IssuerEntry {
    fetch_lock: tokio::sync::Mutex<()>,
    state: Mutex<State>,
    last_used: AtomicU64,
}

#[derive(Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    /// Fetch attempts so far; lets a waiter tell that an attempt finished while it waited.
    attempts: u64,
    last_attempt: Option<Instant>,
    /// Error of the last attempt if it failed (cleared on success).
    last_error: Option<OidcError>,
}

struct KeySet {
    discovery: Arc<Discovery>,
    discovered_at: Instant,
    keys: Vec<Key>,
    fetched_at: Instant,
    /// Strictly increases with every successful fetch.
    generation: u64,
}

impl KeySet {
    /// Try the keys the token can be meant for: those with its `kid`, or every key when
    /// it has none (oidc-provider-mock sends no kid); only keys whose type/curve/alg fit.
    fn verify(&self, alg: Algorithm, t: &token::Parsed<'_>) -> Result<(), OidcError> {
        let mut candidates = self
            .keys
            .iter()
            .filter(|k| k.supports(alg))
            .filter(|k| t.kid.is_none() || k.kid == t.kid)
            .peekable();
        if candidates.peek().is_none() {
            return Err(OidcError::UnknownKey);
        }
        if candidates.any(|k| k.verifies(alg, t.signing_input, &t.signature)) {
            Ok(())
        } else {
            Err(OidcError::BadSignature)
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code panics while holding these locks; if it ever did, the data (a cache) is
    // still consistent enough to use.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Verifier {
    pub fn new(opts: VerifierOptions) -> Result<Self, OidcError> {
        let default_client = fetch::build_client(opts.http_timeout, Vec::new())?;
        Ok(Self {
            inner: Arc::new(Inner {
                opts,
                default_client,
                issuer_clients: RwLock::new(HashMap::new()),
                issuers: Mutex::new(HashMap::new()),
                tick: AtomicU64::new(0),
            }),
        })
    }

    /// Trust the CA certificates in `pem` (one or more `CERTIFICATE` blocks), in addition
    /// to the system trust store, for discovery and JWKS requests of `issuer_url`: Fulcio's
    /// per-issuer `CACert`, e.g. an internal CA in an air-gapped deployment. Replaces a
    /// bundle set earlier for the same issuer. TLS is rustls (ring provider, TLS 1.2+);
    /// for `http://` issuers the bundle is simply unused. Call it at configuration time:
    /// an unusable bundle is reported here, not at the first token.
    pub fn set_issuer_ca_bundle(&self, issuer_url: &str, pem: &[u8]) -> Result<(), OidcError> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| OidcError::CaBundle(e.to_string()))?;
        if certs.is_empty() {
            return Err(OidcError::CaBundle("no PEM CERTIFICATE block".into()));
        }
        let client = fetch::build_client(self.inner.opts.http_timeout, certs)
            .map_err(|e| OidcError::CaBundle(e.to_string()))?;
        self.inner
            .issuer_clients
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(issuer_url.to_owned(), client);
        Ok(())
    }

    /// Fetch discovery and JWKS for `issuer_url` now (Fulcio discovers its static issuers
    /// at startup and only logs failures). Optional: `verify` fetches on demand.
    pub async fn prefetch(&self, issuer_url: &str) -> Result<(), OidcError> {
        let entry = self.inner.entry(issuer_url);
        self.inner.keys(&entry, issuer_url, None).await.map(|_| ())
    }

    /// Verify `token` as issued by `issuer_url` for `audience`; returns all claims.
    pub async fn verify(
        &self,
        token: &str,
        issuer_url: &str,
        audience: &str,
    ) -> Result<Claims, OidcError> {
        self.verify_parsed(Token::parse(token)?, issuer_url, audience)
            .await
    }

    /// As [`Verifier::verify`], for a token already parsed (to route it by
    /// its issuer first without decoding it twice).
    pub async fn verify_parsed(
        &self,
        token: Token<'_>,
        issuer_url: &str,
        audience: &str,
    ) -> Result<Claims, OidcError> {
        let t = token.0;
        // Offline checks first: a token for another issuer or with a refused algorithm
        // never causes traffic to the issuer. (Unverified data, used only to refuse.)
        claims::check_issuer(&t.claims, issuer_url)?;
        let alg =
            jwks::parse_alg(&t.alg).ok_or_else(|| OidcError::AlgorithmNotAllowed(t.alg.clone()))?;

        let inner = &self.inner;
        let entry = inner.entry(issuer_url);
        let ks = inner.keys(&entry, issuer_url, None).await?;
        if !ks.discovery.algs.contains(&alg) {
            return Err(OidcError::AlgorithmNotAllowed(t.alg.clone()));
        }
        match ks.verify(alg, &t) {
            Ok(()) => {}
            // No key for it (unknown kid), or a kid-less token no key verifies: the
            // provider may have rotated its keys. A token whose kid names a key that then
            // fails is just forged; no refresh for that.
            Err(e @ OidcError::UnknownKey) | Err(e @ OidcError::BadSignature)
                if e == OidcError::UnknownKey || t.kid.is_none() =>
            {
                match inner.keys(&entry, issuer_url, Some(ks.generation)).await {
                    Ok(fresh) => {
                        if !fresh.discovery.algs.contains(&alg) {
                            return Err(OidcError::AlgorithmNotAllowed(t.alg.clone()));
                        }
                        fresh.verify(alg, &t)?;
                    }
                    Err(refresh_err) => {
                        tracing::warn!(issuer = issuer_url, error = %refresh_err,
                            "JWKS refresh for a token matching no cached key failed");
                        return Err(e);
                    }
                }
            }
            Err(e) => return Err(e),
        }

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        claims::check(
            &t.claims,
            issuer_url,
            audience,
            now,
            inner.opts.clock_skew.as_secs_f64(),
        )?;
        Ok(t.claims)
    }
}

impl Inner {
    fn entry(&self, issuer_url: &str) -> Arc<IssuerEntry> {
        let now = self.tick.fetch_add(1, Ordering::Relaxed);
        let mut map = lock(&self.issuers);
        if let Some(e) = map.get(issuer_url) {
            e.last_used.store(now, Ordering::Relaxed);
            return e.clone();
        }
        if map.len() >= MAX_ISSUERS {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        let e = Arc::new(IssuerEntry::default());
        e.last_used.store(now, Ordering::Relaxed);
        map.insert(issuer_url.to_owned(), e.clone());
        e
    }

    fn client_for(&self, issuer_url: &str) -> reqwest::Client {
        self.issuer_clients
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(issuer_url)
            .cloned()
            .unwrap_or_else(|| self.default_client.clone())
    }

    /// What the cache can answer without a fetch. `newer_than = None`: any key set that is
    /// not older than `jwks_max_age` (or a stale one while the issuer is failing);
    /// `Some(g)`: only a key set fetched after generation `g`.
    fn cached(
        &self,
        st: &State,
        newer_than: Option<u64>,
    ) -> Option<Result<Arc<KeySet>, OidcError>> {
        let recent_failure = match (&st.last_error, st.last_attempt) {
            (Some(e), Some(t)) if t.elapsed() < self.opts.jwks_min_refresh => Some(e),
            _ => None,
        };
        match (newer_than, &st.keys, recent_failure) {
            (None, Some(ks), _) if ks.fetched_at.elapsed() < self.opts.jwks_max_age => {
                Some(Ok(ks.clone()))
            }
            // The issuer is failing: keep verifying with what we had.
            (None, Some(ks), Some(_)) => Some(Ok(ks.clone())),
            // Never had keys and the last try failed just now: don't hammer the issuer.
            (None, None, Some(e)) => Some(Err(e.clone())),
            (Some(g), Some(ks), _) if ks.generation > g => Some(Ok(ks.clone())),
            _ => None,
        }
    }

    async fn keys(
        &self,
        entry: &IssuerEntry,
        issuer_url: &str,
        newer_than: Option<u64>,
    ) -> Result<Arc<KeySet>, OidcError> {
        let attempts_seen = {
            let st = lock(&entry.state);
            if let Some(r) = self.cached(&st, newer_than) {
                return r;
            }
            st.attempts
        };

        let _fetching = entry.fetch_lock.lock().await;
        let (prev, wait) = {
            let st = lock(&entry.state);
            if let Some(r) = self.cached(&st, newer_than) {
                return r;
            }
            // An attempt finished while we queued and it failed: share its result rather
            // than queueing another request to a failing issuer.
            if st.attempts != attempts_seen {
                if let Some(e) = &st.last_error {
                    return match (&st.keys, newer_than) {
                        (Some(ks), None) => Ok(ks.clone()),
                        _ => Err(e.clone()),
                    };
                }
            }
            let wait = match (newer_than, st.last_attempt) {
                (Some(_), Some(t)) => self.opts.jwks_min_refresh.saturating_sub(t.elapsed()),
                _ => Duration::ZERO,
            };
            (st.keys.clone(), wait)
        };
        if !wait.is_zero() {
            // Rate limit for key-miss refreshes. Holding fetch_lock here makes every other
            // key-miss caller queue behind this one and reuse its result.
            tracing::debug!(
                issuer = issuer_url,
                ?wait,
                "JWKS refresh rate-limited; waiting"
            );
            tokio::time::sleep(wait).await;
        }

        let result = self.fetch(issuer_url, prev.as_deref()).await;
        let mut st = lock(&entry.state);
        st.attempts += 1;
        st.last_attempt = Some(Instant::now());
        match result {
            Ok(ks) => {
                tracing::info!(
                    issuer = issuer_url,
                    keys = ks.keys.len(),
                    generation = ks.generation,
                    "fetched OIDC issuer keys"
                );
                let ks = Arc::new(ks);
                st.keys = Some(ks.clone());
                st.last_error = None;
                Ok(ks)
            }
            Err(e) => {
                tracing::warn!(issuer = issuer_url, error = %e, "OIDC issuer fetch failed");
                st.last_error = Some(e.clone());
                match (prev, newer_than) {
                    (Some(old), None) => Ok(old),
                    _ => Err(e),
                }
            }
        }
    }

    /// Discovery (unless the previous one is younger than `jwks_max_age`) then JWKS.
    async fn fetch(&self, issuer_url: &str, prev: Option<&KeySet>) -> Result<KeySet, OidcError> {
        let client = self.client_for(issuer_url);
        let (discovery, discovered_at) = match prev {
            Some(p) if p.discovered_at.elapsed() < self.opts.jwks_max_age => {
                (p.discovery.clone(), p.discovered_at)
            }
            _ => (
                Arc::new(fetch::discover(&client, issuer_url).await?),
                Instant::now(),
            ),
        };
        let keys = fetch::fetch_jwks(&client, &discovery.jwks_uri).await?;
        Ok(KeySet {
            discovery,
            discovered_at,
            keys,
            fetched_at: Instant::now(),
            generation: prev.map_or(1, |p| p.generation + 1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn verifier_is_send_sync_clone() {
        assert_send_sync::<Verifier>();
    }
}

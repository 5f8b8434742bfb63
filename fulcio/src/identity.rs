//! From verified token claims to a principal: the value the client proves
//! possession over, the certificate SAN, and the Sigstore extensions, per
//! issuer type, as upstream Fulcio's `pkg/identity/*/principal.go` do.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::config::{FulcioConfig, Issuer, IssuerType};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Any claim problem. Upstream answers every one with the same generic
    /// message; the detail goes to the server log only.
    #[error("{0}")]
    Claims(String),
    /// A `ci-provider` template failed (upstream returns the raw text, 400).
    #[error("{0}")]
    Template(String),
}

/// Subject alternative name of the leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Email(String),
    Uri(String),
    /// otherName with type-id 1.3.6.1.4.1.57264.1.7 (username issuers).
    OtherName(String),
}

/// Values of the `1.3.6.1.4.1.57264.1.*` extensions; empty strings are not emitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `.1` (raw) and `.8` (UTF8String).
    pub issuer: String,
    /// `.2`–`.6`, raw (GitHub legacy).
    pub github_workflow_trigger: String,
    pub github_workflow_sha: String,
    pub github_workflow_name: String,
    pub github_workflow_repository: String,
    pub github_workflow_ref: String,
    /// `.9`–`.23`, UTF8String, keyed by arc number.
    pub v2: BTreeMap<u32, String>,
    /// `.24`, UTF8String: the token's raw `sub`.
    pub subject: String,
}

/// Arc numbers of the DER-encoded extensions, by upstream YAML tag.
pub fn v2_arc(tag: &str) -> Option<u32> {
    Some(match tag {
        "build-signer-uri" => 9,
        "build-signer-digest" => 10,
        "runner-environment" => 11,
        "source-repository-uri" => 12,
        "source-repository-digest" => 13,
        "source-repository-ref" => 14,
        "source-repository-identifier" => 15,
        "source-repository-owner-uri" => 16,
        "source-repository-owner-identifier" => 17,
        "build-config-uri" => 18,
        "build-config-digest" => 19,
        "build-trigger" => 20,
        "run-invocation-uri" => 21,
        "source-repository-visibility-at-signing" => 22,
        "deployment-environment" => 23,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// What the proof of possession signs (upstream `Principal.Name`).
    pub name: String,
    pub san: San,
    pub extensions: Extensions,
}

fn claims_err<T>(m: impl Into<String>) -> Result<T, IdentityError> {
    Err(IdentityError::Claims(m.into()))
}

fn str_claim<'a>(c: &'a Map<String, Value>, name: &str) -> Result<&'a str, IdentityError> {
    match c.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            claims_err(format!("missing {name} claim in ID token"))
        }
        Some(_) => claims_err(format!("claim {name} must be a string")),
    }
}

fn opt_str_claim<'a>(c: &'a Map<String, Value>, name: &str) -> Result<&'a str, IdentityError> {
    match c.get(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Ok(""),
        Some(_) => claims_err(format!("claim {name} must be a string")),
    }
}

/// `email_verified` as go-oidc/sigstore accept it: a bool or "true"/"True".
fn email_verified(c: &Map<String, Value>) -> Result<bool, IdentityError> {
    match c.get("email_verified") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.as_str() {
            "true" | "True" => Ok(true),
            "false" | "False" => Ok(false),
            _ => claims_err("email_verified claim is not a boolean"),
        },
        Some(_) => claims_err("email_verified claim is not a boolean"),
    }
}

/// A conservative e-mail check: one `@`, a non-empty local part without
/// spaces, and a dotted domain of DNS-ish labels.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return false;
    }
    if local
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A SPIFFE trust domain (`example.org`, or `spiffe://example.org`).
pub fn parse_spiffe_trust_domain(s: &str) -> Option<String> {
    let td = s.strip_prefix("spiffe://").unwrap_or(s);
    if td.is_empty()
        || !td
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
    {
        return None;
    }
    Some(td.to_string())
}

/// Validates a SPIFFE ID and returns its trust domain.
fn spiffe_id_trust_domain(id: &str) -> Option<String> {
    let rest = id.strip_prefix("spiffe://")?;
    let (td, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let td = parse_spiffe_trust_domain(td)?;
    // Path segments: non-empty, not "." or "..", [A-Za-z0-9._-].
    if !path.is_empty() {
        for seg in path[1..].split('/') {
            if seg.is_empty()
                || seg == "."
                || seg == ".."
                || !seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                return None;
            }
        }
    }
    Some(td)
}

/// JSONPath subset used by `IssuerClaim` (`$.a.b`).
fn json_path<'a>(c: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    let mut parts = path.strip_prefix("$.")?.split('.');
    let mut cur = c.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    cur.as_str()
}

/// Joins path segments onto a base URL the way Go's `url.JoinPath` does for
/// the values Fulcio passes (no dot segments, single slashes).
fn join_url(base: &str, parts: &[&str]) -> String {
    let mut out = base.trim_end_matches('/').to_string();
    for p in parts {
        let p = p.trim_matches('/');
        if p.is_empty() {
            continue;
        }
        out.push('/');
        out.push_str(p);
    }
    out
}

/// Go's `%v`-ish string form of a claim, as `ci-provider` templates see it.
fn claim_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Builds the principal for verified `claims` from `issuer`.
pub fn principal(
    cfg: &FulcioConfig,
    issuer: &Issuer,
    claims: &Map<String, Value>,
) -> Result<Principal, IdentityError> {
    let sub = opt_str_claim(claims, "sub")?.to_string();
    let iss = issuer.url.clone();
    let mut ext = Extensions {
        issuer: iss.clone(),
        subject: sub.clone(),
        ..Default::default()
    };
    let spec = &issuer.spec;
    match issuer.kind {
        IssuerType::Email => {
            let email = str_claim(claims, "email")?.to_string();
            if !spec.skip_email_verification && !email_verified(claims)? {
                return claims_err("email_verified claim was false");
            }
            if !is_email(&email) {
                return claims_err("email address is not valid");
            }
            if !spec.issuer_claim.is_empty() {
                ext.issuer = json_path(claims, &spec.issuer_claim)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        IdentityError::Claims(format!(
                            "issuer claim {} not found in ID token",
                            spec.issuer_claim
                        ))
                    })?
                    .to_string();
            }
            Ok(Principal {
                name: email.clone(),
                san: San::Email(email),
                extensions: ext,
            })
        }
        IssuerType::Uri => {
            if sub.is_empty() {
                return claims_err("missing sub claim in ID token");
            }
            if is_email(&sub) {
                return claims_err("uri subject should not be an email address");
            }
            let s = url::Url::parse(&sub)
                .map_err(|e| IdentityError::Claims(format!("subject is not a URI: {e}")))?;
            let d = url::Url::parse(&spec.subject_domain)
                .map_err(|e| IdentityError::Claims(format!("subject domain: {e}")))?;
            if s.scheme() != d.scheme() {
                return claims_err(format!(
                    "subject URI scheme ({}) must match expected domain URI scheme ({})",
                    s.scheme(),
                    d.scheme()
                ));
            }
            if s.host_str() != d.host_str() {
                return claims_err("subject hostname must match expected domain");
            }
            Ok(Principal {
                name: sub.clone(),
                san: San::Uri(sub),
                extensions: ext,
            })
        }
        IssuerType::Username => {
            if sub.is_empty() {
                return claims_err("missing sub claim in ID token");
            }
            if sub.contains('!') {
                return claims_err("username cannot contain ! character");
            }
            if is_email(&sub) {
                return claims_err("uri subject should not be an email address");
            }
            Ok(Principal {
                name: sub.clone(),
                san: San::OtherName(format!("{sub}!{}", spec.subject_domain)),
                extensions: ext,
            })
        }
        IssuerType::Spiffe => {
            let want = parse_spiffe_trust_domain(&spec.spiffe_trust_domain)
                .ok_or_else(|| IdentityError::Claims("bad configured trust domain".into()))?;
            match spiffe_id_trust_domain(&sub) {
                Some(td) if td == want => {}
                Some(td) => {
                    return claims_err(format!(
                        "spiffe ID trust domain {td} doesn't match configured trust domain {want}"
                    ))
                }
                None => return claims_err("invalid spiffe ID provided"),
            }
            Ok(Principal {
                name: sub.clone(),
                san: San::Uri(sub),
                extensions: ext,
            })
        }
        IssuerType::Kubernetes => {
            let k = claims.get("kubernetes.io").and_then(Value::as_object);
            let ns = k
                .and_then(|k| k.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let sa = k
                .and_then(|k| k.get("serviceaccount"))
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            Ok(Principal {
                name: sub,
                san: San::Uri(format!(
                    "https://kubernetes.io/namespaces/{ns}/serviceaccounts/{sa}"
                )),
                extensions: ext,
            })
        }
        IssuerType::BuildkiteJob => {
            let org = str_claim(claims, "organization_slug")?;
            let pipeline = str_claim(claims, "pipeline_slug")?;
            Ok(Principal {
                name: sub,
                san: San::Uri(format!("https://buildkite.com/{org}/{pipeline}")),
                extensions: ext,
            })
        }
        IssuerType::ChainguardIdentity => {
            let name = match claims.get("email").and_then(Value::as_str) {
                Some(e) if email_verified(claims)? => e.to_string(),
                _ => sub.clone(),
            };
            Ok(Principal {
                name,
                san: San::Uri(join_url(&iss, &[&sub])),
                extensions: ext,
            })
        }
        IssuerType::GithubWorkflow => github(claims, sub, ext),
        IssuerType::GitlabPipeline => gitlab(claims, sub, ext),
        IssuerType::CiProvider => ci_provider(cfg, issuer, claims, sub, ext),
        IssuerType::CodefreshWorkflow => {
            claims_err("codefresh-workflow issuers are not supported by this server")
        }
    }
}

fn github(
    c: &Map<String, Value>,
    sub: String,
    mut ext: Extensions,
) -> Result<Principal, IdentityError> {
    let g = |n: &str| str_claim(c, n).map(str::to_string);
    let job_workflow_ref = g("job_workflow_ref")?;
    let sha = g("sha")?;
    let event_name = g("event_name")?;
    let repository = g("repository")?;
    let workflow = g("workflow")?;
    let git_ref = g("ref")?;
    let job_workflow_sha = g("job_workflow_sha")?;
    let runner_environment = g("runner_environment")?;
    let repository_id = g("repository_id")?;
    let repository_owner = g("repository_owner")?;
    let repository_owner_id = g("repository_owner_id")?;
    let repository_visibility = g("repository_visibility")?;
    let workflow_ref = g("workflow_ref")?;
    let workflow_sha = g("workflow_sha")?;
    let run_id = g("run_id")?;
    let run_attempt = g("run_attempt")?;
    let base = "https://github.com";
    let signer = join_url(base, &[&job_workflow_ref]);
    ext.github_workflow_trigger = event_name.clone();
    ext.github_workflow_sha = sha.clone();
    ext.github_workflow_name = workflow;
    ext.github_workflow_repository = repository.clone();
    ext.github_workflow_ref = git_ref.clone();
    for (arc, v) in [
        (9, signer.clone()),
        (10, job_workflow_sha),
        (11, runner_environment),
        (12, join_url(base, &[&repository])),
        (13, sha),
        (14, git_ref),
        (15, repository_id),
        (16, join_url(base, &[&repository_owner])),
        (17, repository_owner_id),
        (18, join_url(base, &[&workflow_ref])),
        (19, workflow_sha),
        (20, event_name),
        (
            21,
            join_url(
                base,
                &[
                    &repository,
                    "actions/runs",
                    &run_id,
                    "attempts",
                    &run_attempt,
                ],
            ),
        ),
        (22, repository_visibility),
    ] {
        ext.v2.insert(arc, v);
    }
    Ok(Principal {
        name: sub,
        san: San::Uri(signer),
        extensions: ext,
    })
}

fn gitlab(
    c: &Map<String, Value>,
    sub: String,
    mut ext: Extensions,
) -> Result<Principal, IdentityError> {
    let g = |n: &str| str_claim(c, n).map(str::to_string);
    let project_path = g("project_path")?;
    let pipeline_source = g("pipeline_source")?;
    g("pipeline_id")?;
    let ci_config_ref_uri = g("ci_config_ref_uri")?;
    let job_id = g("job_id")?;
    let git_ref = g("ref")?;
    let ref_type = g("ref_type")?;
    let namespace_path = g("namespace_path")?;
    let namespace_id = g("namespace_id")?;
    let project_id = g("project_id")?;
    let sha = g("sha")?;
    let runner_environment = g("runner_environment")?;
    match c.get("runner_id") {
        Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v != 0) => {}
        Some(Value::Number(_)) | None => return claims_err("missing runner_id claim in ID token"),
        Some(_) => return claims_err("claim runner_id must be a number"),
    }
    let ci_config_sha = opt_str_claim(c, "ci_config_sha")?.to_string();
    let visibility = opt_str_claim(c, "project_visibility")?.to_string();
    let full_ref = match ref_type.as_str() {
        "branch" => format!("refs/heads/{git_ref}"),
        "tag" => format!("refs/tags/{git_ref}"),
        other => return claims_err(format!("unexpected ref_type: {other}")),
    };
    let base = "https://gitlab.com";
    // ci_config_ref_uri has no scheme ("gitlab.com/group/proj//.gitlab-ci.yml@refs/heads/main").
    let config_uri = format!("https://{ci_config_ref_uri}");
    for (arc, v) in [
        (9, config_uri.clone()),
        (10, ci_config_sha.clone()),
        (11, runner_environment),
        (12, join_url(base, &[&project_path])),
        (13, sha),
        (14, full_ref),
        (15, project_id),
        (16, join_url(base, &[&namespace_path])),
        (17, namespace_id),
        (18, config_uri.clone()),
        (19, ci_config_sha),
        (20, pipeline_source),
        (21, join_url(base, &[&project_path, "/-/jobs/", &job_id])),
        (22, visibility),
    ] {
        ext.v2.insert(arc, v);
    }
    Ok(Principal {
        name: sub,
        san: San::Uri(config_uri),
        extensions: ext,
    })
}

fn ci_provider(
    cfg: &FulcioConfig,
    issuer: &Issuer,
    claims: &Map<String, Value>,
    sub: String,
    mut ext: Extensions,
) -> Result<Principal, IdentityError> {
    let provider = cfg.ci.get(&issuer.spec.ci_provider).ok_or_else(|| {
        IdentityError::Claims(format!(
            "metadata not found for ci provider {}",
            issuer.spec.ci_provider
        ))
    })?;
    // Claims win over the defaults.
    let mut data = provider.defaults.clone();
    for (k, v) in claims {
        data.insert(k.clone(), claim_string(v));
    }
    let render = |what: &str, t: &crate::template::Template| {
        t.render(&data)
            .map_err(|e| IdentityError::Template(format!("{what} for issuer {}: {e}", issuer.url)))
    };
    let san = render("SubjectAlternativeName", &provider.san)?;
    url::Url::parse(&san)
        .map_err(|e| IdentityError::Template(format!("SAN {san:?} is not a URI: {e}")))?;
    for (tag, t) in &provider.extensions {
        let v = render(tag, t)?;
        match *tag {
            "github-workflow-trigger" => ext.github_workflow_trigger = v,
            "github-workflow-sha" => ext.github_workflow_sha = v,
            "github-workflow-name" => ext.github_workflow_name = v,
            "github-workflow-repository" => ext.github_workflow_repository = v,
            "github-workflow-ref" => ext.github_workflow_ref = v,
            other => {
                if let Some(arc) = v2_arc(other) {
                    ext.v2.insert(arc, v);
                }
            }
        }
    }
    Ok(Principal {
        name: sub,
        san: San::Uri(san),
        extensions: ext,
    })
}

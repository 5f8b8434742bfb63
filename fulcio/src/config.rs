//! Issuer configuration in upstream Fulcio's format (`pkg/config/config.go`):
//! JSON (`OIDCIssuers`, `MetaIssuers`, `CIIssuerMetadata`) or YAML
//! (`oidc-issuers`, `meta-issuers`, `ci-issuer-metadata`). The file is tried as
//! JSON first, then YAML, as upstream does, and validated at load so that a bad
//! issuer fails the start, not the first request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::template::Template;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("issuer config is neither valid JSON ({json}) nor valid YAML ({yaml})")]
    Parse { json: String, yaml: String },
    #[error("issuer config: {0}")]
    Invalid(String),
}

/// The issuer types upstream Fulcio knows. Unknown types are refused at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerType {
    Email,
    Uri,
    Username,
    Kubernetes,
    Spiffe,
    GithubWorkflow,
    GitlabPipeline,
    BuildkiteJob,
    CodefreshWorkflow,
    ChainguardIdentity,
    CiProvider,
}

impl IssuerType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "email" => IssuerType::Email,
            "uri" => IssuerType::Uri,
            "username" => IssuerType::Username,
            "kubernetes" => IssuerType::Kubernetes,
            "spiffe" => IssuerType::Spiffe,
            "github-workflow" => IssuerType::GithubWorkflow,
            "gitlab-pipeline" => IssuerType::GitlabPipeline,
            "buildkite-job" => IssuerType::BuildkiteJob,
            "codefresh-workflow" => IssuerType::CodefreshWorkflow,
            "chainguard-identity" => IssuerType::ChainguardIdentity,
            "ci-provider" => IssuerType::CiProvider,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IssuerType::Email => "email",
            IssuerType::Uri => "uri",
            IssuerType::Username => "username",
            IssuerType::Kubernetes => "kubernetes",
            IssuerType::Spiffe => "spiffe",
            IssuerType::GithubWorkflow => "github-workflow",
            IssuerType::GitlabPipeline => "gitlab-pipeline",
            IssuerType::BuildkiteJob => "buildkite-job",
            IssuerType::CodefreshWorkflow => "codefresh-workflow",
            IssuerType::ChainguardIdentity => "chainguard-identity",
            IssuerType::CiProvider => "ci-provider",
        }
    }

    /// The claim reported as `challengeClaim` (upstream `issuerToChallengeClaim`).
    pub fn default_challenge_claim(self) -> &'static str {
        match self {
            IssuerType::Email => "email",
            _ => "sub",
        }
    }
}

/// One issuer, as written in the file. Field names follow upstream's JSON tags;
/// the YAML spelling is handled by [`RawConfig`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OidcIssuer {
    #[serde(rename = "IssuerURL", alias = "issuer-url", default)]
    pub issuer_url: String,
    #[serde(rename = "ClientID", alias = "client-id", default)]
    pub client_id: String,
    #[serde(rename = "Type", alias = "type", default)]
    pub issuer_type: String,
    #[serde(rename = "CIProvider", alias = "ci-provider", default)]
    pub ci_provider: String,
    #[serde(rename = "IssuerClaim", alias = "issuer-claim", default)]
    pub issuer_claim: String,
    #[serde(rename = "SubjectDomain", alias = "subject-domain", default)]
    pub subject_domain: String,
    #[serde(rename = "SPIFFETrustDomain", alias = "spiffe-trust-domain", default)]
    pub spiffe_trust_domain: String,
    #[serde(rename = "ChallengeClaim", alias = "challenge-claim", default)]
    pub challenge_claim: String,
    #[serde(rename = "Description", alias = "description", default)]
    pub description: String,
    #[serde(rename = "Contact", alias = "contact", default)]
    pub contact: String,
    #[serde(rename = "Environment", alias = "environment", default)]
    pub environment: String,
    #[serde(rename = "CACert", alias = "ca-cert", default)]
    pub ca_cert: String,
    #[serde(
        rename = "SkipEmailVerification",
        alias = "skip-email-verification",
        default
    )]
    pub skip_email_verification: bool,
}

/// Templates of a `ci-provider` issuer (upstream `IssuerMetadata`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CiIssuerMetadata {
    #[serde(
        rename = "DefaultTemplateValues",
        alias = "default-template-values",
        default
    )]
    pub default_template_values: BTreeMap<String, String>,
    /// Keys are upstream's `certificate.Extensions` field names (JSON) or
    /// their YAML tags; both are normalised to the YAML tag.
    #[serde(rename = "ExtensionTemplates", alias = "extension-templates", default)]
    pub extension_templates: BTreeMap<String, String>,
    #[serde(
        rename = "SubjectAlternativeNameTemplate",
        alias = "subject-alternative-name-template",
        default
    )]
    pub subject_alternative_name_template: String,
}

#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    #[serde(rename = "OIDCIssuers", alias = "oidc-issuers", default)]
    oidc_issuers: BTreeMap<String, OidcIssuer>,
    #[serde(rename = "MetaIssuers", alias = "meta-issuers", default)]
    meta_issuers: BTreeMap<String, OidcIssuer>,
    #[serde(rename = "CIIssuerMetadata", alias = "ci-issuer-metadata", default)]
    ci_issuer_metadata: BTreeMap<String, CiIssuerMetadata>,
}

/// A validated issuer, resolved for one token.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub url: String,
    pub kind: IssuerType,
    pub spec: OidcIssuer,
}

/// A compiled `ci-provider` metadata entry.
#[derive(Debug, Clone)]
pub struct CiProvider {
    pub defaults: BTreeMap<String, String>,
    pub san: Template,
    /// (extension name as YAML tag, template), in the order of upstream's
    /// `certificate.Extensions` struct fields.
    pub extensions: Vec<(&'static str, Template)>,
}

/// The loaded configuration.
#[derive(Debug, Clone, Default)]
pub struct FulcioConfig {
    pub issuers: BTreeMap<String, OidcIssuer>,
    pub meta: Vec<(String, regex::Regex, OidcIssuer)>,
    pub ci: BTreeMap<String, CiProvider>,
}

/// Upstream `certificate.Extensions` fields that templates may set: (JSON
/// field name, YAML tag). `Issuer` and `Subject` are always taken from the token.
pub const EXTENSION_FIELDS: &[(&str, &str)] = &[
    ("GithubWorkflowTrigger", "github-workflow-trigger"),
    ("GithubWorkflowSHA", "github-workflow-sha"),
    ("GithubWorkflowName", "github-workflow-name"),
    ("GithubWorkflowRepository", "github-workflow-repository"),
    ("GithubWorkflowRef", "github-workflow-ref"),
    ("BuildSignerURI", "build-signer-uri"),
    ("BuildSignerDigest", "build-signer-digest"),
    ("RunnerEnvironment", "runner-environment"),
    ("SourceRepositoryURI", "source-repository-uri"),
    ("SourceRepositoryDigest", "source-repository-digest"),
    ("SourceRepositoryRef", "source-repository-ref"),
    ("SourceRepositoryIdentifier", "source-repository-identifier"),
    ("SourceRepositoryOwnerURI", "source-repository-owner-uri"),
    (
        "SourceRepositoryOwnerIdentifier",
        "source-repository-owner-identifier",
    ),
    ("BuildConfigURI", "build-config-uri"),
    ("BuildConfigDigest", "build-config-digest"),
    ("BuildTrigger", "build-trigger"),
    ("RunInvocationURI", "run-invocation-uri"),
    (
        "SourceRepositoryVisibilityAtSigning",
        "source-repository-visibility-at-signing",
    ),
    ("DeploymentEnvironment", "deployment-environment"),
];

/// Upstream's `MetaRegex`: the URL quoted, `*` matching one DNS-label-ish run.
pub fn meta_regex(pattern: &str) -> Result<regex::Regex, ConfigError> {
    let quoted = regex::escape(pattern).replace(r"\*", "[-_a-zA-Z0-9]+");
    regex::Regex::new(&format!("^{quoted}$"))
        .map_err(|e| ConfigError::Invalid(format!("meta issuer {pattern:?}: {e}")))
}

impl FulcioConfig {
    /// Parses (JSON, then YAML) and validates.
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        let raw: RawConfig = match serde_json::from_slice(bytes) {
            Ok(r) => r,
            Err(json) => serde_yaml::from_slice(bytes).map_err(|yaml| ConfigError::Parse {
                json: json.to_string(),
                yaml: yaml.to_string(),
            })?,
        };
        Self::from_raw(raw)
    }

    /// Upstream's built-in default (no file): sigstore's Dex, Google, GitHub Actions.
    pub fn upstream_default() -> Self {
        let json = br#"{"OIDCIssuers":{
          "https://oauth2.sigstore.dev/auth":{"IssuerURL":"https://oauth2.sigstore.dev/auth","ClientID":"sigstore","Type":"email","IssuerClaim":"$.federated_claims.connector_id"},
          "https://accounts.google.com":{"IssuerURL":"https://accounts.google.com","ClientID":"sigstore","Type":"email"},
          "https://token.actions.githubusercontent.com":{"IssuerURL":"https://token.actions.githubusercontent.com","ClientID":"sigstore","Type":"github-workflow"}}}"#;
        // The literal above is valid by construction; fall back to empty if not.
        Self::parse(json).unwrap_or_default()
    }

    fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        for (key, iss) in &raw.oidc_issuers {
            if key != &iss.issuer_url {
                return invalid(format!(
                    "OIDCIssuers key {key:?} must equal its IssuerURL {:?}",
                    iss.issuer_url
                ));
            }
            validate_issuer(iss, false)?;
        }
        let mut meta = Vec::new();
        for (pattern, iss) in &raw.meta_issuers {
            validate_issuer(iss, true)?;
            meta.push((pattern.clone(), meta_regex(pattern)?, iss.clone()));
        }
        let mut ci = BTreeMap::new();
        for (name, m) in &raw.ci_issuer_metadata {
            ci.insert(name.clone(), compile_ci(name, m)?);
        }
        for iss in raw.oidc_issuers.values().chain(raw.meta_issuers.values()) {
            if iss.issuer_type == "ci-provider" && !ci.contains_key(&iss.ci_provider) {
                return invalid(format!(
                    "issuer {:?}: no CIIssuerMetadata for ci-provider {:?}",
                    iss.issuer_url, iss.ci_provider
                ));
            }
        }
        Ok(FulcioConfig {
            issuers: raw.oidc_issuers,
            meta,
            ci,
        })
    }

    /// The issuer configured for `url`: exact match first, then meta issuers
    /// (in a stable order, unlike upstream's random map order).
    pub fn issuer(&self, url: &str) -> Option<Issuer> {
        let spec = match self.issuers.get(url) {
            Some(s) => s.clone(),
            None => {
                let (_, _, m) = self.meta.iter().find(|(_, re, _)| re.is_match(url))?;
                let mut s = m.clone();
                s.issuer_url = url.to_string();
                s
            }
        };
        let kind = IssuerType::parse(&spec.issuer_type)?;
        Some(Issuer {
            url: url.to_string(),
            kind,
            spec,
        })
    }

    /// `GET /api/v2/configuration`.
    pub fn configuration_json(&self) -> serde_json::Value {
        let entry = |iss: &OidcIssuer, url_key: &str, url: &str| {
            let challenge = if iss.challenge_claim.is_empty() {
                IssuerType::parse(&iss.issuer_type)
                    .map(|t| t.default_challenge_claim())
                    .unwrap_or("")
                    .to_string()
            } else {
                iss.challenge_claim.clone()
            };
            serde_json::json!({
                url_key: url,
                "audience": iss.client_id,
                "challengeClaim": challenge,
                "spiffeTrustDomain": iss.spiffe_trust_domain,
                "issuerType": iss.issuer_type,
                "subjectDomain": iss.subject_domain,
                "skipEmailVerification": iss.skip_email_verification,
            })
        };
        let mut out: Vec<serde_json::Value> = self
            .issuers
            .values()
            .map(|i| entry(i, "issuerUrl", &i.issuer_url))
            .collect();
        out.extend(
            self.meta
                .iter()
                .map(|(p, _, i)| entry(i, "wildcardIssuerUrl", p)),
        );
        serde_json::json!({ "issuers": out })
    }
}

fn validate_issuer(iss: &OidcIssuer, is_meta: bool) -> Result<(), ConfigError> {
    let name = &iss.issuer_url;
    let bad = |m: String| Err(ConfigError::Invalid(format!("issuer {name:?}: {m}")));
    let Some(kind) = IssuerType::parse(&iss.issuer_type) else {
        return bad(format!("unknown Type {:?}", iss.issuer_type));
    };
    if !iss.ca_cert.is_empty() && sigstack_core::pem::parse_all(iss.ca_cert.as_bytes()).is_err() {
        return bad("CACert is not valid PEM".into());
    }
    if !iss.issuer_claim.is_empty() && kind != IssuerType::Email {
        return bad("only email issuers can use issuer claim mapping".into());
    }
    match kind {
        IssuerType::Spiffe if is_meta => return bad("SPIFFE meta issuers not supported".into()),
        IssuerType::Spiffe
            if crate::identity::parse_spiffe_trust_domain(&iss.spiffe_trust_domain).is_none() =>
        {
            return bad("spiffe issuer must have a valid SPIFFETrustDomain".into());
        }
        IssuerType::Uri if !is_meta => {
            let Ok(domain) = url::Url::parse(&iss.subject_domain) else {
                return bad("uri issuer must have SubjectDomain set, with a scheme".into());
            };
            let Ok(issuer) = url::Url::parse(&iss.issuer_url) else {
                return bad("issuer for uri must contain scheme".into());
            };
            if domain.scheme() != issuer.scheme() {
                return bad(format!(
                    "SubjectDomain scheme {} must match the issuer's {}",
                    domain.scheme(),
                    issuer.scheme()
                ));
            }
            allowed_domain(
                domain.host_str().unwrap_or(""),
                issuer.host_str().unwrap_or(""),
            )
            .or_else(bad)?;
        }
        IssuerType::Username if !is_meta => {
            if iss.subject_domain.is_empty() || iss.subject_domain.contains("://") {
                return bad("username issuer needs SubjectDomain without a scheme".into());
            }
            let Ok(issuer) = url::Url::parse(&iss.issuer_url) else {
                return bad("issuer for username must contain scheme".into());
            };
            allowed_domain(&iss.subject_domain, issuer.host_str().unwrap_or("")).or_else(bad)?;
        }
        _ => {}
    }
    Ok(())
}

/// Upstream `validateAllowedDomain`: the subject domain and the issuer host
/// must share their last two labels (the registrable domain, roughly).
fn allowed_domain(subject: &str, issuer: &str) -> Result<(), String> {
    let last2 = |h: &str| -> Option<String> {
        let labels: Vec<&str> = h.split('.').collect();
        if labels.len() < 2 {
            return None;
        }
        Some(labels[labels.len() - 2..].join("."))
    };
    match (last2(subject), last2(issuer)) {
        (Some(a), Some(b)) if a == b => Ok(()),
        _ => Err(format!(
            "hostname of SubjectDomain {subject:?} and issuer {issuer:?} must share the top two labels"
        )),
    }
}

fn compile_ci(name: &str, m: &CiIssuerMetadata) -> Result<CiProvider, ConfigError> {
    let bad =
        |field: &str, e: String| ConfigError::Invalid(format!("ci-provider {name:?} {field}: {e}"));
    if m.subject_alternative_name_template.trim().is_empty() {
        return Err(bad(
            "SubjectAlternativeNameTemplate",
            "must not be empty".into(),
        ));
    }
    let san = Template::parse(&m.subject_alternative_name_template)
        .map_err(|e| bad("SubjectAlternativeNameTemplate", e))?;
    let mut extensions = Vec::new();
    for (key, value) in &m.extension_templates {
        if matches!(key.as_str(), "Issuer" | "Subject" | "issuer" | "subject") {
            continue;
        }
        let Some((_, tag)) = EXTENSION_FIELDS
            .iter()
            .find(|(json, yaml)| json == key || yaml == key)
        else {
            return Err(bad(
                "ExtensionTemplates",
                format!("unknown extension {key:?}"),
            ));
        };
        if value.trim().is_empty() {
            continue;
        }
        extensions.push((*tag, Template::parse(value).map_err(|e| bad(key, e))?));
    }
    // Render in upstream's struct-field order, whatever the file order was.
    extensions.sort_by_key(|(tag, _)| EXTENSION_FIELDS.iter().position(|(_, y)| y == tag));
    Ok(CiProvider {
        defaults: m.default_template_values.clone(),
        san,
        extensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml_forms() {
        let json = br#"{"OIDCIssuers":{"http://127.0.0.1:9400":{"IssuerURL":"http://127.0.0.1:9400","ClientID":"sigstore","Type":"email"}},
            "MetaIssuers":{"https://oidc.eks.*.amazonaws.com/id/*":{"ClientID":"sigstore","Type":"kubernetes"}}}"#;
        let c = FulcioConfig::parse(json).unwrap();
        assert_eq!(
            c.issuer("http://127.0.0.1:9400").unwrap().kind,
            IssuerType::Email
        );
        let m = c
            .issuer("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123")
            .unwrap();
        assert_eq!(m.kind, IssuerType::Kubernetes);
        assert_eq!(
            m.spec.issuer_url,
            "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123"
        );
        assert!(c
            .issuer("https://oidc.eks.a.b.amazonaws.com/id/x")
            .is_none());
        assert!(c.issuer("http://localhost:9400").is_none());

        let yaml = b"oidc-issuers:\n  https://example.com:\n    issuer-url: https://example.com\n    client-id: sigstore\n    type: uri\n    subject-domain: https://example.com\n";
        let c = FulcioConfig::parse(yaml).unwrap();
        let i = c.issuer("https://example.com").unwrap();
        assert_eq!(i.kind, IssuerType::Uri);
        assert_eq!(i.spec.subject_domain, "https://example.com");
        let conf = c.configuration_json();
        assert_eq!(conf["issuers"][0]["challengeClaim"], "sub");
        assert_eq!(conf["issuers"][0]["issuerUrl"], "https://example.com");
    }

    #[test]
    fn refuses_bad_configs() {
        for bad in [
            // key differs from IssuerURL
            r#"{"OIDCIssuers":{"https://a":{"IssuerURL":"https://b","ClientID":"x","Type":"email"}}}"#,
            // unknown type
            r#"{"OIDCIssuers":{"https://a":{"IssuerURL":"https://a","ClientID":"x","Type":"bogus"}}}"#,
            // issuer claim on a non-email issuer
            r#"{"OIDCIssuers":{"https://a":{"IssuerURL":"https://a","ClientID":"x","Type":"uri","SubjectDomain":"https://a","IssuerClaim":"$.x"}}}"#,
            // spiffe without trust domain
            r#"{"OIDCIssuers":{"https://a":{"IssuerURL":"https://a","ClientID":"x","Type":"spiffe"}}}"#,
            // spiffe meta issuer
            r#"{"MetaIssuers":{"https://*.a":{"ClientID":"x","Type":"spiffe","SPIFFETrustDomain":"a.b"}}}"#,
            // uri with a different domain
            r#"{"OIDCIssuers":{"https://a.example.com":{"IssuerURL":"https://a.example.com","ClientID":"x","Type":"uri","SubjectDomain":"https://evil.org"}}}"#,
            // username with a scheme
            r#"{"OIDCIssuers":{"https://a.example.com":{"IssuerURL":"https://a.example.com","ClientID":"x","Type":"username","SubjectDomain":"https://example.com"}}}"#,
            // ci-provider without metadata
            r#"{"OIDCIssuers":{"https://a":{"IssuerURL":"https://a","ClientID":"x","Type":"ci-provider","CIProvider":"nope"}}}"#,
            "not: [valid",
        ] {
            assert!(FulcioConfig::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn upstream_default_loads() {
        let c = FulcioConfig::upstream_default();
        assert_eq!(c.issuers.len(), 3);
        assert_eq!(
            c.issuer("https://token.actions.githubusercontent.com")
                .unwrap()
                .kind,
            IssuerType::GithubWorkflow
        );
    }
}

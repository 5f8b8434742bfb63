//! `cosign trusted-root create` and `cosign signing-config create`: the two
//! trust documents from a private stack's public material, with Go cosign's
//! `key=value,...` flag values. Everything written is re-read with the strict
//! checks the TUF publisher applies (`core::trust::build`), so a document this
//! command prints is one cosign, sigstore-python and sigstore-js accept.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use sigstack_core::trust::{
    build, Service, ServiceConfiguration, ServiceSelector, SigningConfig, TimeRange, TrustedRoot,
    SIGNING_CONFIG_MEDIA_TYPE_V0_2, TRUSTED_ROOT_MEDIA_TYPE_V0_1,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `url=https://x,public-key=k.pem,...` as a map; every key must be in
/// `allowed` and appear once.
fn parse_spec(spec: &str, flag: &str, allowed: &[&str]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for part in spec.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| anyhow!("--{flag} {spec:?}: {part:?} is not key=value"))?;
        if !allowed.contains(&k) {
            bail!(
                "--{flag}: unknown key {k:?} (expected {})",
                allowed.join(", ")
            );
        }
        if out.insert(k.to_owned(), v.to_owned()).is_some() {
            bail!("--{flag}: {k} given twice");
        }
    }
    Ok(out)
}

fn required<'m>(m: &'m BTreeMap<String, String>, k: &str, flag: &str) -> Result<&'m str> {
    m.get(k)
        .map(String::as_str)
        .ok_or_else(|| anyhow!("--{flag}: {k}= is required"))
}

fn time_of(m: &BTreeMap<String, String>, k: &str, flag: &str) -> Result<Option<OffsetDateTime>> {
    m.get(k)
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339)
                .map_err(|e| anyhow!("--{flag}: {k}={v:?} is not an RFC 3339 time: {e}"))
        })
        .transpose()
}

fn read(path: &str, flag: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("--{flag}: reading {path}"))
}

fn pem_chain(path: &str, flag: &str) -> Result<Vec<Vec<u8>>> {
    sigstack_core::pem::parse_certificates(&read(path, flag)?)
        .map_err(|e| anyhow!("--{flag}: {path}: {e}"))
}

fn spki(path: &str, flag: &str) -> Result<Vec<u8>> {
    let key = sigstack_core::keys::PublicKey::from_pem(&read(path, flag)?)
        .map_err(|e| anyhow!("--{flag}: {path}: {e}"))?;
    Ok(key.to_spki_der())
}

/// The flags of `trusted-root create`.
pub struct TrustedRootSpec {
    pub fulcio: Vec<String>,
    pub rekor: Vec<String>,
    pub ctfe: Vec<String>,
    pub tsa: Vec<String>,
}

/// Builds and checks a trusted root.
pub fn trusted_root(spec: &TrustedRootSpec) -> Result<Vec<u8>> {
    let mut root = TrustedRoot {
        media_type: TRUSTED_ROOT_MEDIA_TYPE_V0_1.into(),
        ..Default::default()
    };
    let ca_keys = ["url", "certificate-chain", "start-time", "end-time"];
    for (flag, specs, list) in [
        ("fulcio", &spec.fulcio, &mut root.certificate_authorities),
        ("tsa", &spec.tsa, &mut root.timestamp_authorities),
    ] {
        for s in specs {
            let m = parse_spec(s, flag, &ca_keys)?;
            let chain = pem_chain(required(&m, "certificate-chain", flag)?, flag)?;
            list.push(
                build::certificate_authority(
                    required(&m, "url", flag)?,
                    &chain,
                    time_of(&m, "start-time", flag)?,
                    time_of(&m, "end-time", flag)?,
                    "sigstack",
                )
                .map_err(|e| anyhow!("--{flag}: {e}"))?,
            );
        }
    }
    for (flag, specs, list, keys) in [
        (
            "rekor",
            &spec.rekor,
            &mut root.tlogs,
            &["url", "public-key", "start-time", "end-time", "origin"][..],
        ),
        (
            "ctfe",
            &spec.ctfe,
            &mut root.ctlogs,
            &["url", "public-key", "start-time", "end-time"][..],
        ),
    ] {
        for s in specs {
            let m = parse_spec(s, flag, keys)?;
            let start = time_of(&m, "start-time", flag)?
                .ok_or_else(|| anyhow!("--{flag}: start-time= is required"))?;
            let valid_for = TimeRange {
                start,
                end: time_of(&m, "end-time", flag)?,
            };
            list.push(
                build::log_instance(
                    required(&m, "url", flag)?,
                    &spki(required(&m, "public-key", flag)?, flag)?,
                    m.get("origin").map(String::as_str),
                    valid_for,
                )
                .map_err(|e| anyhow!("--{flag}: {e}"))?,
            );
        }
    }
    let mut out = serde_json::to_vec_pretty(&root)?;
    out.push(b'\n');
    build::validate_trusted_root(&out).map_err(|e| anyhow!("the trusted root: {e}"))?;
    Ok(out)
}

/// The flags of `signing-config create`.
pub struct SigningConfigSpec {
    pub fulcio: Vec<String>,
    pub rekor: Vec<String>,
    pub oidc_provider: Vec<String>,
    pub tsa: Vec<String>,
    pub rekor_config: String,
    pub tsa_config: String,
}

/// `ANY`, `ALL` or `EXACT:<n>`.
fn selector(v: &str, flag: &str) -> Result<ServiceConfiguration> {
    let (selector, count) = match v.split_once(':') {
        None if v == "ANY" => (ServiceSelector::Any, 0),
        None if v == "ALL" => (ServiceSelector::All, 0),
        Some(("EXACT", n)) => (
            ServiceSelector::Exact,
            n.parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| anyhow!("--{flag}: EXACT needs a positive count"))?,
        ),
        _ => bail!("--{flag} {v:?}: expected ANY, ALL or EXACT:<n>"),
    };
    Ok(ServiceConfiguration { selector, count })
}

/// Builds and checks a signing config.
pub fn signing_config(spec: &SigningConfigSpec) -> Result<Vec<u8>> {
    let keys = ["url", "api-version", "start-time", "end-time", "operator"];
    let services = |flag: &str, specs: &[String]| -> Result<Vec<Service>> {
        specs
            .iter()
            .map(|s| {
                let m = parse_spec(s, flag, &keys)?;
                let version = required(&m, "api-version", flag)?
                    .parse::<u32>()
                    .map_err(|_| anyhow!("--{flag}: api-version must be a number"))?;
                let start = time_of(&m, "start-time", flag)?
                    .ok_or_else(|| anyhow!("--{flag}: start-time= is required"))?;
                Ok(Service {
                    url: required(&m, "url", flag)?.trim_end_matches('/').to_owned(),
                    major_api_version: version,
                    valid_for: Some(TimeRange {
                        start,
                        end: time_of(&m, "end-time", flag)?,
                    }),
                    operator: required(&m, "operator", flag)?.to_owned(),
                })
            })
            .collect()
    };
    let sc = SigningConfig {
        media_type: SIGNING_CONFIG_MEDIA_TYPE_V0_2.into(),
        ca_urls: services("fulcio", &spec.fulcio)?,
        oidc_urls: services("oidc-provider", &spec.oidc_provider)?,
        rekor_tlog_urls: services("rekor", &spec.rekor)?,
        rekor_tlog_config: Some(selector(&spec.rekor_config, "rekor-config")?),
        tsa_urls: services("tsa", &spec.tsa)?,
        tsa_config: Some(selector(&spec.tsa_config, "tsa-config")?),
    };
    let mut out = serde_json::to_vec_pretty(&sc)?;
    out.push(b'\n');
    build::validate_signing_config(&out).map_err(|e| anyhow!("the signing config: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{identity, strict_now, upstream};
    use sigstack_core::trust::Bundle;
    use sigstack_core::verify::{verify_bundle, Artifact, Matcher};

    /// Rebuilds the staging trusted root's v1 material from PEM files with
    /// `trusted-root create`, then verifies the staging bundle with it.
    #[test]
    fn a_created_root_verifies_what_the_original_does() {
        let staging = TrustedRoot::from_json(&upstream("trusted_root.sigstage.json")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p.to_str().unwrap().to_owned()
        };
        let fmt = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
        let mut spec = TrustedRootSpec {
            fulcio: vec![],
            rekor: vec![],
            ctfe: vec![],
            tsa: vec![],
        };
        for (i, ca) in staging.certificate_authorities.iter().enumerate() {
            let pem: String = ca
                .cert_chain
                .certificates
                .iter()
                .map(|c| sigstack_core::pem::encode("CERTIFICATE", &c.raw_bytes))
                .collect();
            let mut s = format!(
                "url={},certificate-chain={},start-time={}",
                ca.uri,
                write(&format!("ca{i}.pem"), pem),
                fmt(ca.valid_for.start)
            );
            if let Some(end) = ca.valid_for.end {
                s.push_str(&format!(",end-time={}", fmt(end)));
            }
            spec.fulcio.push(s);
        }
        for (flag, logs) in [("rekor", &staging.tlogs), ("ctfe", &staging.ctlogs)] {
            for (i, l) in logs.iter().enumerate() {
                // PKCS#1 RSA keys are not PEM public keys.
                if format!("{:?}", l.public_key.key_details).starts_with("PKCS1") {
                    continue;
                }
                let pem = sigstack_core::pem::encode(
                    "PUBLIC KEY",
                    l.public_key.raw_bytes.as_ref().unwrap(),
                );
                let v = l.public_key.valid_for.as_ref().unwrap();
                let mut s = format!(
                    "url={},public-key={},start-time={}",
                    l.base_url,
                    write(&format!("{flag}{i}.pem"), pem),
                    fmt(v.start)
                );
                if let Some(end) = v.end {
                    s.push_str(&format!(",end-time={}", fmt(end)));
                }
                // Rekor v2 (tiles) logs: the checkpoint origin is the host.
                if l.base_url.contains("log2025") {
                    s.push_str(&format!(
                        ",origin={}",
                        l.base_url.trim_start_matches("https://")
                    ));
                }
                if flag == "rekor" {
                    spec.rekor.push(s);
                } else {
                    spec.ctfe.push(s);
                }
            }
        }
        let created = TrustedRoot::from_json(&trusted_root(&spec).unwrap()).unwrap();
        // Same log IDs as the original: SHA-256 of the key for v1 and CT
        // logs, the C2SP key ID over the origin for the v2 logs.
        assert_eq!(created.tlogs.len(), 4);
        for l in created.tlogs.iter().chain(&created.ctlogs) {
            assert!(
                staging
                    .tlogs
                    .iter()
                    .chain(&staging.ctlogs)
                    .any(|o| o.log_id == l.log_id && o.base_url == l.base_url),
                "{}",
                l.base_url
            );
        }
        let bundle = Bundle::from_json(&upstream("bundle_v3.txt.sigstore")).unwrap();
        let policy = identity(
            Matcher::Exact("william@yossarian.net".into()),
            Matcher::Exact("https://github.com/login/oauth".into()),
        );
        let opts = strict_now();
        verify_bundle(
            &bundle,
            &created,
            Artifact::Bytes(&upstream("bundle_v3.txt")),
            &policy,
            &opts,
        )
        .unwrap();
    }

    #[test]
    fn bad_specs_are_refused() {
        let spec = |rekor: &str| TrustedRootSpec {
            fulcio: vec![],
            rekor: vec![rekor.into()],
            ctfe: vec![],
            tsa: vec![],
        };
        for bad in [
            "url=https://r",
            "url=https://r,public-key=/nonexistent,start-time=2025-01-01T00:00:00Z",
            "url=https://r,bogus=1",
            "url",
            "url=a,url=b",
        ] {
            assert!(trusted_root(&spec(bad)).is_err(), "{bad}");
        }
        let sc = |rekor: &str, cfg: &str| SigningConfigSpec {
            fulcio: vec![],
            rekor: vec![rekor.into()],
            oidc_provider: vec![],
            tsa: vec![],
            rekor_config: cfg.into(),
            tsa_config: "ANY".into(),
        };
        let ok = "url=https://r,api-version=1,start-time=2025-01-01T00:00:00Z,operator=o";
        let v: serde_json::Value =
            serde_json::from_slice(&signing_config(&sc(ok, "EXACT:1")).unwrap()).unwrap();
        assert_eq!(v["rekorTlogConfig"]["selector"], "EXACT");
        assert_eq!(v["rekorTlogUrls"][0]["majorApiVersion"], 1);
        for (rekor, cfg) in [
            (ok, "SOME"),
            (ok, "EXACT:0"),
            (
                "url=https://r,api-version=7,start-time=2025-01-01T00:00:00Z,operator=o",
                "ANY",
            ),
            ("url=https://r,api-version=1,operator=o", "ANY"),
            (
                "url=https://r,api-version=1,start-time=2025-01-01T00:00:00Z",
                "ANY",
            ),
            (
                "url=not a url,api-version=1,start-time=2025-01-01T00:00:00Z,operator=o",
                "ANY",
            ),
        ] {
            assert!(signing_config(&sc(rekor, cfg)).is_err(), "{rekor} {cfg}");
        }
    }
}

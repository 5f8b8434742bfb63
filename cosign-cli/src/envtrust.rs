//! Go cosign's legacy trust inputs, which override the trusted root piece by
//! piece (`pkg/cosign/env`, `internal/pkg/cosign/fulcio/fulcioroots`,
//! `pkg/cosign/tlog.go GetRekorPubs`, `ctlog.go GetCTLogPubs`):
//!
//! * `SIGSTORE_ROOT_FILE`: PEM certificates; the self-signed ones are roots,
//!   the others intermediates. Replaces the certificate authorities;
//!   `--certificate-chain` (intermediates then root), or `--ca-roots` with
//!   `--ca-intermediates`, do the same per invocation and win over it.
//! * `SIGSTORE_REKOR_PUBLIC_KEY`: the Rekor v1 key (log ID = SHA-256 of its
//!   SPKI); replaces the transparency logs.
//! * `SIGSTORE_CT_LOG_PUBLIC_KEY_FILE`: the CT log key; replaces the CT logs.
//! * `SIGSTORE_TSA_CERTIFICATE_FILE`: the TSA chain; replaces the TSAs.
//!
//! Whatever is not overridden comes from the TUF-distributed trusted root
//! when one is cached, and is empty otherwise, so that each variable alone
//! works as it does upstream. Everything is turned into a [`TrustedRoot`],
//! and the one verifier runs on it.

use anyhow::{anyhow, Context, Result};
use sigstack_core::keys;
use sigstack_core::trust::{build, CertificateAuthority, TimeRange, TrustedRoot};
use time::OffsetDateTime;

pub const ROOT_FILE: &str = "SIGSTORE_ROOT_FILE";
pub const REKOR_PUBLIC_KEY: &str = "SIGSTORE_REKOR_PUBLIC_KEY";
pub const CT_LOG_PUBLIC_KEY_FILE: &str = "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE";
pub const TSA_CERTIFICATE_FILE: &str = "SIGSTORE_TSA_CERTIFICATE_FILE";

/// The legacy inputs of one invocation: environment first, flags on top.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Candidate CA certificates (DER), roots and intermediates mixed.
    pub ca_certificates: Option<(String, Vec<Vec<u8>>)>,
    pub rekor_key: Option<(String, Vec<u8>)>,
    pub ctlog_key: Option<(String, Vec<u8>)>,
    pub tsa_chain: Option<(String, Vec<Vec<u8>>)>,
}

fn read(path: &str, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{what}: reading {path}"))
}

fn certificates(path: &str, what: &str) -> Result<Vec<Vec<u8>>> {
    let certs = sigstack_core::pem::parse_certificates(&read(path, what)?)
        .map_err(|e| anyhow!("{what}: {path}: {e}"))?;
    if certs.is_empty() {
        return Err(anyhow!("{what}: {path} holds no certificate"));
    }
    Ok(certs)
}

fn spki(path: &str, what: &str) -> Result<Vec<u8>> {
    let key = keys::PublicKey::from_pem(&read(path, what)?)
        .map_err(|e| anyhow!("{what}: {path}: {e}"))?;
    Ok(key.to_spki_der())
}

impl Overrides {
    /// Reads the variables through `var` (the process environment in the
    /// binary) and the flag files.
    pub fn load(
        var: impl Fn(&str) -> Option<String>,
        certificate_chain: Option<&str>,
        ca_roots: Option<&str>,
        ca_intermediates: Option<&str>,
    ) -> Result<Self> {
        let var = |k: &str| var(k).filter(|v| !v.is_empty());
        let mut o = Overrides::default();
        if let Some(p) = var(ROOT_FILE) {
            o.ca_certificates = Some((p.clone(), certificates(&p, ROOT_FILE)?));
        }
        if let Some(p) = certificate_chain {
            o.ca_certificates = Some((p.into(), certificates(p, "--certificate-chain")?));
        } else if let Some(p) = ca_roots {
            let mut all = certificates(p, "--ca-roots")?;
            if let Some(i) = ca_intermediates {
                all.extend(certificates(i, "--ca-intermediates")?);
            }
            o.ca_certificates = Some((p.into(), all));
        } else if ca_intermediates.is_some() {
            return Err(anyhow!("--ca-intermediates needs --ca-roots"));
        }
        if let Some(p) = var(REKOR_PUBLIC_KEY) {
            o.rekor_key = Some((p.clone(), spki(&p, REKOR_PUBLIC_KEY)?));
        }
        if let Some(p) = var(CT_LOG_PUBLIC_KEY_FILE) {
            o.ctlog_key = Some((p.clone(), spki(&p, CT_LOG_PUBLIC_KEY_FILE)?));
        }
        if let Some(p) = var(TSA_CERTIFICATE_FILE) {
            o.tsa_chain = Some((p.clone(), certificates(&p, TSA_CERTIFICATE_FILE)?));
        }
        Ok(o)
    }

    pub fn is_empty(&self) -> bool {
        self.ca_certificates.is_none()
            && self.rekor_key.is_none()
            && self.ctlog_key.is_none()
            && self.tsa_chain.is_none()
    }

    /// `base` with the overridden parts replaced. `rekor_url` names the log
    /// the Rekor key belongs to (v1 entries are matched by log ID, so the
    /// URL is informational).
    pub fn apply(&self, mut base: TrustedRoot, rekor_url: &str) -> Result<TrustedRoot> {
        // Keys given this way carry no validity window: valid since the epoch.
        let always = TimeRange {
            start: OffsetDateTime::UNIX_EPOCH,
            end: None,
        };
        if let Some((path, certs)) = &self.ca_certificates {
            base.certificate_authorities =
                authorities(certs).map_err(|e| anyhow!("{path}: {e}"))?;
        }
        if let Some((path, spki)) = &self.rekor_key {
            base.tlogs = vec![build::log_instance(rekor_url, spki, None, always.clone())
                .map_err(|e| anyhow!("{path}: {e}"))?];
        }
        if let Some((path, spki)) = &self.ctlog_key {
            base.ctlogs =
                vec![build::log_instance("", spki, None, always)
                    .map_err(|e| anyhow!("{path}: {e}"))?];
        }
        if let Some((path, chain)) = &self.tsa_chain {
            base.timestamp_authorities =
                vec![build::certificate_authority("", chain, None, None, "tsa")
                    .map_err(|e| anyhow!("{path}: {e}"))?];
        }
        Ok(base)
    }
}

/// One certificate authority per path from a root down to each of the
/// lowest intermediates (those that issued no other given certificate), and
/// one per root alone, for leaves the root issued directly. Intermediates
/// that lead to no given root are dropped, as a chain through them could
/// not verify.
pub fn authorities(ders: &[Vec<u8>]) -> Result<Vec<CertificateAuthority>> {
    let certs = ders
        .iter()
        .map(|d| keys::parse_certificate_der(d).map_err(|e| anyhow!("{e}")))
        .collect::<Result<Vec<_>>>()?;
    let is_self_signed =
        |i: usize| certs[i].tbs_certificate.subject == certs[i].tbs_certificate.issuer;
    let roots: Vec<usize> = (0..certs.len()).filter(|&i| is_self_signed(i)).collect();
    if roots.is_empty() {
        return Err(anyhow!(
            "no self-signed root certificate among {} certificates",
            certs.len()
        ));
    }
    let issuer_of = |i: usize| {
        (0..certs.len()).find(|&j| {
            j != i && certs[j].tbs_certificate.subject == certs[i].tbs_certificate.issuer
        })
    };
    let issued_something = |i: usize| {
        (0..certs.len()).any(|j| {
            j != i
                && !is_self_signed(j)
                && certs[j].tbs_certificate.issuer == certs[i].tbs_certificate.subject
        })
    };
    let mut out = Vec::new();
    let mut push = |path: Vec<usize>| -> Result<()> {
        let chain: Vec<Vec<u8>> = path.iter().map(|&i| ders[i].clone()).collect();
        out.push(
            build::certificate_authority("", &chain, None, None, "sigstore")
                .map_err(|e| anyhow!("{e}"))?,
        );
        Ok(())
    };
    for &r in &roots {
        push(vec![r])?;
    }
    for low in (0..certs.len()).filter(|&i| !is_self_signed(i) && !issued_something(i)) {
        let mut path = vec![low];
        let mut at = low;
        // Bounded by the number of certificates: no issuer loop can hang it.
        while !is_self_signed(at) && path.len() <= certs.len() {
            match issuer_of(at) {
                Some(up) if !path.contains(&up) => {
                    path.push(up);
                    at = up;
                }
                _ => break,
            }
        }
        if is_self_signed(at) {
            push(path)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{identity, strict_now, upstream};
    use sigstack_core::trust::{Bundle, VerificationMaterialContent};
    use sigstack_core::verify::{verify_bundle, Artifact, Matcher};

    fn staging() -> TrustedRoot {
        TrustedRoot::from_json(&upstream("trusted_root.sigstage.json")).unwrap()
    }

    fn bundle_v3() -> Bundle {
        Bundle::from_json(&upstream("bundle_v3.txt.sigstore")).unwrap()
    }

    /// The Fulcio certificates, Rekor key and CT key that `SIGSTORE_*`
    /// files would hold for the staging instance.
    fn staging_overrides(bundle: &Bundle) -> Overrides {
        let st = staging();
        let ca = st
            .certificate_authorities
            .iter()
            .flat_map(|a| {
                a.cert_chain
                    .certificates
                    .iter()
                    .map(|c| c.raw_bytes.clone())
            })
            .collect();
        let entry_log = &bundle.verification_material.tlog_entries[0].log_id.key_id;
        let tlog = st
            .tlogs
            .iter()
            .find(|l| &l.log_id.key_id == entry_log)
            .unwrap();
        let leaf = match &bundle.verification_material.content {
            VerificationMaterialContent::Certificate(c) => c.raw_bytes.clone(),
            other => panic!("not a certificate bundle: {other:?}"),
        };
        let sct_log = sigstack_core::ct::embedded_scts(&leaf).unwrap()[0].log_id;
        let ctlog = st
            .ctlogs
            .iter()
            .find(|l| l.log_id.key_id == sct_log)
            .unwrap();
        Overrides {
            ca_certificates: Some(("root.pem".into(), ca)),
            rekor_key: Some((
                "rekor.pub".into(),
                tlog.public_key.raw_bytes.clone().unwrap(),
            )),
            ctlog_key: Some((
                "ctfe.pub".into(),
                ctlog.public_key.raw_bytes.clone().unwrap(),
            )),
            tsa_chain: None,
        }
    }

    fn check(root: &TrustedRoot, bundle: &Bundle) -> Result<(), String> {
        let policy = identity(
            Matcher::Exact("william@yossarian.net".into()),
            Matcher::Exact("https://github.com/login/oauth".into()),
        );
        verify_bundle(
            bundle,
            root,
            Artifact::Bytes(&upstream("bundle_v3.txt")),
            &policy,
            &strict_now(),
        )
        .map(drop)
        .map_err(|e| e.to_string())
    }

    /// sigstore-python's staging bundle verifies against a root made only
    /// of what the legacy variables carry, and each part is really used:
    /// without it, its check fails.
    #[test]
    fn legacy_material_verifies_an_upstream_bundle_and_each_part_counts() {
        let bundle = bundle_v3();
        let o = staging_overrides(&bundle);
        let root = o
            .apply(TrustedRoot::default(), "https://rekor.sigstage.dev")
            .unwrap();
        check(&root, &bundle).unwrap();

        let without = |f: fn(&mut Overrides)| {
            let mut o = o.clone();
            f(&mut o);
            check(&o.apply(TrustedRoot::default(), "u").unwrap(), &bundle).unwrap_err()
        };
        assert!(without(|o| o.ca_certificates = None).contains("no certificate authority"));
        assert!(without(|o| o.rekor_key = None)
            .contains("is not a transparency log of the trusted root"));
        assert!(without(|o| o.ctlog_key = None).contains("SCT"));
        // A wrong key in place of the right one.
        let mut wrong = o.clone();
        wrong.rekor_key = wrong.ctlog_key.clone();
        let err = check(&wrong.apply(TrustedRoot::default(), "u").unwrap(), &bundle).unwrap_err();
        assert!(err.contains("is not a transparency log"), "{err}");
    }

    /// Overrides replace only their part of a base root.
    #[test]
    fn overrides_replace_only_their_part() {
        let bundle = bundle_v3();
        let mut o = staging_overrides(&bundle);
        o.ca_certificates = None;
        o.ctlog_key = None;
        let root = o.apply(staging(), "https://rekor.example").unwrap();
        assert_eq!(root.tlogs.len(), 1);
        assert_eq!(root.tlogs[0].base_url, "https://rekor.example");
        assert_eq!(root.ctlogs.len(), staging().ctlogs.len());
        check(&root, &bundle).unwrap();
    }

    #[test]
    fn certificate_sets_become_chains_to_their_roots() {
        let st = staging();
        let ca = &st.certificate_authorities[0].cert_chain.certificates;
        assert!(ca.len() >= 2, "staging CA has an intermediate");
        let (inter, root) = (ca[0].raw_bytes.clone(), ca[ca.len() - 1].raw_bytes.clone());
        // Root first or last, the chain comes out leaf-most first.
        for set in [
            vec![root.clone(), inter.clone()],
            vec![inter.clone(), root.clone()],
        ] {
            let cas = authorities(&set).unwrap();
            let chains: Vec<Vec<Vec<u8>>> = cas
                .iter()
                .map(|c| {
                    c.cert_chain
                        .certificates
                        .iter()
                        .map(|x| x.raw_bytes.clone())
                        .collect()
                })
                .collect();
            assert!(chains.contains(&vec![root.clone()]));
            assert!(chains.contains(&vec![inter.clone(), root.clone()]));
        }
        let err = authorities(&[inter]).unwrap_err().to_string();
        assert!(err.contains("no self-signed root"), "{err}");
    }

    #[test]
    fn variables_name_the_file_that_failed() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "not a pem").unwrap();
        let bad = bad.to_str().unwrap().to_owned();
        for var in [ROOT_FILE, REKOR_PUBLIC_KEY, CT_LOG_PUBLIC_KEY_FILE] {
            let err = Overrides::load(|k| (k == var).then(|| bad.clone()), None, None, None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(var) && err.contains("bad.pem"), "{err}");
        }
        let none = Overrides::load(|_| Some(String::new()), None, None, None).unwrap();
        assert!(none.is_empty(), "empty variables count as unset");
        assert!(Overrides::load(|_| None, None, None, Some("i.pem")).is_err());
    }
}

//! Any bytes as a bundle: parse, validate, and (when it parses) run the
//! whole verifier against the staging trusted root. Nothing may panic; every
//! outcome must be `Ok` or a `VerifyError`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigstack_core::trust::{Bundle, TrustedRoot};
use sigstack_core::verify::{verify_bundle, Artifact, IdentityPolicy, Matcher, Options, SignerPolicy};

fn root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(|| {
        TrustedRoot::from_json(include_bytes!(
            "../../tests/data/upstream/sigstore-python/trusted_root.sigstage.json"
        ))
        .expect("the staging trusted root parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = Bundle::from_json(data) else {
        return;
    };
    let policy = SignerPolicy::Identity(IdentityPolicy {
        subject: Matcher::Exact("william@yossarian.net".into()),
        issuer: Matcher::Exact("https://github.com/login/oauth".into()),
        extensions: vec![],
    });
    let opts = Options {
        ignore_tlog: false,
        ignore_sct: false,
        now: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
    };
    let artifact = include_bytes!("../../tests/data/upstream/sigstore-python/bundle_v3.txt");
    let _ = verify_bundle(&bundle, root(), Artifact::Bytes(artifact), &policy, &opts);
    let _ = serde_json_roundtrip(&bundle);
});

/// What parses must serialize, and re-parse to the same bundle.
fn serde_json_roundtrip(b: &Bundle) -> Option<()> {
    let text = serde_json::to_vec(b).ok()?;
    let again = Bundle::from_json(&text).ok()?;
    assert_eq!(&again, b, "a bundle changed across a write and a re-read");
    Some(())
}

//! Test vectors shared by the unit tests: the upstream files under
//! core/tests/data, and the verifier settings they are checked with.

use sigstack_core::verify::{IdentityPolicy, Matcher, Options, SignerPolicy};

/// A file of sigstore-python's test data (core/tests/data/upstream/sigstore-python).
pub fn upstream(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../core/tests/data/upstream/sigstore-python/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A keyless policy with no extension requirements.
pub fn identity(subject: Matcher, issuer: Matcher) -> SignerPolicy {
    SignerPolicy::Identity(IdentityPolicy {
        subject,
        issuer,
        extensions: vec![],
    })
}

/// Every check on, at the current time.
pub fn strict_now() -> Options {
    Options {
        ignore_tlog: false,
        ignore_sct: false,
        require_timestamp: false,
        now: time::OffsetDateTime::now_utc(),
    }
}

/// Held by the unit tests that set process environment variables, so that
/// no two of them change the environment at once.
pub static ENV_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

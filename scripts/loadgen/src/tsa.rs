//! `tsa-stamp`: RFC 3161 timestamps from a timestamp-authority API
//! (`POST <url>/api/v1/timestamp`), in the JSON request form that both
//! sigstore/timestamp-authority and our `timestamp-server` accept (and
//! sigstore-js sends), so the same run measures either server.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use hyper::{Method, StatusCode, Uri};
use sha2::{Digest, Sha256};
use sigstack_core::tsp::TimeStampResponse;

use crate::http::{Req, Resp, Target};
use crate::util::SplitMix64;
use crate::workload::{Check, Workload};

pub const TIMESTAMP_PATH: &str = "/api/v1/timestamp";

pub struct TsaStamp {
    uri: Uri,
    seed: [u8; 16],
}

impl TsaStamp {
    pub fn new(target: &Target) -> Self {
        let mut seed = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
        TsaStamp {
            uri: target.uri(TIMESTAMP_PATH),
            seed,
        }
    }

    /// The digest stamped by request `i` (what a client hashes: a signature).
    fn digest(&self, i: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(i.to_be_bytes());
        h.finalize().into()
    }
}

/// The base64 digest inside a request body written by [`TsaStamp::generate`].
fn requested_digest(body: &[u8]) -> Option<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    B64.decode(v["artifactHash"].as_str()?).ok()
}

impl Workload for TsaStamp {
    fn name(&self) -> &'static str {
        "tsa-stamp"
    }

    fn generate(&self, i: u64, out: &mut BytesMut) {
        out.put_slice(br#"{"artifactHash":""#);
        out.put_slice(B64.encode(self.digest(i)).as_bytes());
        out.put_slice(br#"","hashAlgorithm":"sha256","certificates":true}"#);
    }

    fn request(&self, payload: &Bytes, _: &mut SplitMix64) -> Req {
        Req {
            method: Method::POST,
            uri: self.uri.clone(),
            body: payload.clone(),
            tag: 0,
        }
    }

    fn check(&self, req: &Req, resp: &Resp, verify: bool) -> Check {
        if resp.status != StatusCode::OK && resp.status != StatusCode::CREATED {
            return Check::Status;
        }
        if !verify {
            return Check::Ok { verified: false };
        }
        match TimeStampResponse::from_der(&resp.body) {
            Ok(r) if Some(r.tst_info.hashed_message.clone()) == requested_digest(&req.body) => {
                Check::Ok { verified: true }
            }
            Ok(_) => Check::Invalid("the timestamp is over another digest".into()),
            Err(e) => Check::Invalid(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_distinct_digests() {
        let t = TsaStamp::new(&Target::parse("http://127.0.0.1:3004").unwrap());
        let body = |i| {
            let mut out = BytesMut::new();
            t.generate(i, &mut out);
            out.freeze()
        };
        let (a, b) = (body(1), body(2));
        assert_eq!(requested_digest(&a).unwrap(), t.digest(1));
        assert_ne!(requested_digest(&a), requested_digest(&b));
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["hashAlgorithm"], "sha256");
        // A garbage reply is refused when verifying.
        let req = t.request(&a, &mut SplitMix64::new(1));
        let resp = Resp {
            status: StatusCode::OK,
            headers: Default::default(),
            body: Bytes::from_static(b"not der"),
        };
        assert!(matches!(t.check(&req, &resp, true), Check::Invalid(_)));
    }
}

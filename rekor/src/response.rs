//! The Rekor v1 `LogEntry` JSON, serialized from typed fields.
//!
//! Entry reads are the log's hottest path; building a `serde_json::Value`
//! tree (one allocation per key and string) and hex-encoding through char
//! iterators was a fifth of a read's CPU. Fields are declared in upstream's
//! (Go struct) order, so the bytes match what the `Value` version wrote.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use sigstack_core::merkle::Hash;

/// A hash as 64 lowercase hex characters, encoded on the stack.
pub struct HexHash(pub Hash);

impl Serialize for HexHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the input length.
        hex::encode_to_slice(self.0, &mut buf).map_err(serde::ser::Error::custom)?;
        s.serialize_str(std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?)
    }
}

/// Checkpoint text as a JSON string (signed notes are UTF-8; anything else
/// is replaced rather than refused, as `String::from_utf8_lossy` did).
struct Text(Arc<[u8]>);

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(&self.0))
    }
}

fn shared_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    body: String,
    integrated_time: i64,
    #[serde(rename = "logID", serialize_with = "shared_str")]
    log_id: Arc<str>,
    log_index: u64,
    verification: Verification,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Verification {
    inclusion_proof: InclusionProof,
    signed_entry_timestamp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InclusionProof {
    checkpoint: Text,
    hashes: Vec<HexHash>,
    log_index: u64,
    root_hash: HexHash,
    tree_size: u64,
}

/// What a `LogEntry` is made of; `checkpoint`, `root` and `tree_size` are
/// the head the proof was computed against.
pub struct EntryParts<'a> {
    pub body: &'a [u8],
    pub integrated_time: i64,
    pub log_id: Arc<str>,
    pub log_index: u64,
    pub proof: Vec<Hash>,
    pub checkpoint: Arc<[u8]>,
    pub root: Hash,
    pub tree_size: u64,
    pub set: &'a [u8],
}

impl LogEntry {
    pub fn new(p: EntryParts<'_>) -> Self {
        LogEntry {
            body: STANDARD.encode(p.body),
            integrated_time: p.integrated_time,
            log_id: p.log_id,
            log_index: p.log_index,
            verification: Verification {
                inclusion_proof: InclusionProof {
                    checkpoint: Text(p.checkpoint),
                    hashes: p.proof.into_iter().map(HexHash).collect(),
                    log_index: p.log_index,
                    root_hash: HexHash(p.root),
                    tree_size: p.tree_size,
                },
                signed_entry_timestamp: STANDARD.encode(p.set),
            },
        }
    }
}

/// `{"<entry ID>": LogEntry}`, the shape of every v1 entry response.
pub struct IdentifiedEntry {
    pub id: String,
    pub entry: LogEntry,
}

impl Serialize for IdentifiedEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(&self.id, &self.entry)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed entry writes exactly the bytes the former `json!` tree
    /// (serde_json with `preserve_order`) wrote.
    #[test]
    fn typed_entry_matches_the_value_it_replaced() {
        let proof = vec![[1u8; 32], [0xab; 32]];
        let checkpoint: Arc<[u8]> = Arc::from(&b"host - 1\n2\nAAAA\n\n\xe2\x80\x94 host sig\n"[..]);
        let entry = IdentifiedEntry {
            id: "00aa".into(),
            entry: LogEntry::new(EntryParts {
                body: b"{\"kind\":\"hashedrekord\"}",
                integrated_time: 1_700_000_000,
                log_id: Arc::from("c0ffee"),
                log_index: 7,
                proof: proof.clone(),
                checkpoint: checkpoint.clone(),
                root: [2u8; 32],
                tree_size: 9,
                set: b"sig",
            }),
        };
        let expected = serde_json::json!({ "00aa": {
            "body": STANDARD.encode(b"{\"kind\":\"hashedrekord\"}"),
            "integratedTime": 1_700_000_000i64,
            "logID": "c0ffee",
            "logIndex": 7,
            "verification": {
                "inclusionProof": {
                    "checkpoint": String::from_utf8_lossy(&checkpoint),
                    "hashes": proof.iter().map(hex::encode).collect::<Vec<_>>(),
                    "logIndex": 7,
                    "rootHash": hex::encode([2u8; 32]),
                    "treeSize": 9,
                },
                "signedEntryTimestamp": STANDARD.encode(b"sig"),
            },
        }});
        assert_eq!(
            serde_json::to_string(&entry).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
    }
}

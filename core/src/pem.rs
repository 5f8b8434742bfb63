//! Strict PEM (RFC 7468) parsing and Go-compatible PEM encoding.
//!
//! Encoding matters for compatibility: Rekor stores keys and certificates inside
//! canonical entry bodies as PEM re-encoded by Go's `pem.EncodeToMemory`
//! (64-column base64 lines, LF line ends, trailing LF), and clients rebuild the
//! expected body byte for byte. [`encode`] produces exactly that form.
//!
//! Parsing is strict: only whitespace may surround blocks, labels must match,
//! headers (RFC 1421 `Proc-Type:` style) are refused, and the base64 must be
//! canonical standard base64 once line breaks are removed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    pub label: String,
    pub contents: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PemError {
    #[error("no PEM block found")]
    Empty,
    #[error("malformed PEM: {0}")]
    Malformed(&'static str),
    #[error("PEM END label {end:?} does not match BEGIN label {begin:?}")]
    LabelMismatch { begin: String, end: String },
    #[error("PEM headers are not supported")]
    Headers,
    #[error("invalid base64 in PEM block")]
    Base64,
    #[error("unexpected PEM label {found:?} (expected {expected})")]
    UnexpectedLabel {
        found: String,
        expected: &'static str,
    },
}

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";

/// Parses every PEM block in `text`. Anything but whitespace outside blocks is
/// an error, so a truncated or concatenated-with-garbage input is refused.
pub fn parse_all(text: &[u8]) -> Result<Vec<PemBlock>, PemError> {
    let text = std::str::from_utf8(text).map_err(|_| PemError::Malformed("not UTF-8"))?;
    let mut rest = text.trim_start();
    let mut blocks = Vec::new();
    while !rest.is_empty() {
        let (block, after) = parse_one(rest)?;
        blocks.push(block);
        rest = after.trim_start();
    }
    if blocks.is_empty() {
        return Err(PemError::Empty);
    }
    Ok(blocks)
}

/// Parses a file of `CERTIFICATE` blocks (a chain or a set of roots) into
/// their DER, in order. Like [`parse_all`] it refuses a file without blocks;
/// any block that is not a certificate is an error.
pub fn parse_certificates(text: &[u8]) -> Result<Vec<Vec<u8>>, PemError> {
    parse_all(text)?
        .into_iter()
        .map(|b| {
            if b.label == "CERTIFICATE" {
                Ok(b.contents)
            } else {
                Err(PemError::UnexpectedLabel {
                    found: b.label,
                    expected: "CERTIFICATE",
                })
            }
        })
        .collect()
}

/// Parses exactly one PEM block (surrounding whitespace allowed).
pub fn parse_one_block(text: &[u8]) -> Result<PemBlock, PemError> {
    let mut blocks = parse_all(text)?;
    if blocks.len() != 1 {
        return Err(PemError::Malformed("expected exactly one PEM block"));
    }
    Ok(blocks.remove(0))
}

/// Parses exactly one block and checks its label.
pub fn parse_labeled(text: &[u8], expected: &'static str) -> Result<Vec<u8>, PemError> {
    let block = parse_one_block(text)?;
    if block.label != expected {
        return Err(PemError::UnexpectedLabel {
            found: block.label,
            expected,
        });
    }
    Ok(block.contents)
}

fn parse_one(text: &str) -> Result<(PemBlock, &str), PemError> {
    let after_begin = text
        .strip_prefix(BEGIN)
        .ok_or(PemError::Malformed("expected -----BEGIN"))?;
    let label_end = after_begin
        .find(DASHES)
        .ok_or(PemError::Malformed("unterminated BEGIN line"))?;
    let label = &after_begin[..label_end];
    if label.contains(['\n', '\r']) || label.starts_with(' ') || label.ends_with(' ') {
        return Err(PemError::Malformed("bad label"));
    }
    let after_label = &after_begin[label_end + DASHES.len()..];
    let body_start = after_label
        .strip_prefix("\r\n")
        .or_else(|| after_label.strip_prefix('\n'))
        .ok_or(PemError::Malformed("BEGIN line must end with a newline"))?;
    let end_pos = body_start
        .find(END)
        .ok_or(PemError::Malformed("missing END line"))?;
    let body = &body_start[..end_pos];
    if body.contains(':') {
        return Err(PemError::Headers);
    }
    let after_end = &body_start[end_pos + END.len()..];
    let end_label_len = after_end
        .find(DASHES)
        .ok_or(PemError::Malformed("unterminated END line"))?;
    let end_label = &after_end[..end_label_len];
    if end_label != label {
        return Err(PemError::LabelMismatch {
            begin: label.to_string(),
            end: end_label.to_string(),
        });
    }
    let rest = &after_end[end_label_len + DASHES.len()..];
    if !(rest.is_empty() || rest.starts_with(['\n', '\r', ' ', '\t'])) {
        return Err(PemError::Malformed("garbage after END line"));
    }
    let compact: String = body
        .chars()
        .filter(|c| !matches!(c, '\n' | '\r' | ' ' | '\t'))
        .collect();
    if compact.is_empty() {
        return Err(PemError::Malformed("empty PEM body"));
    }
    let contents = STANDARD.decode(compact).map_err(|_| PemError::Base64)?;
    Ok((
        PemBlock {
            label: label.to_string(),
            contents,
        },
        rest,
    ))
}

/// Encodes one block exactly as Go's `pem.EncodeToMemory` does (no headers).
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str(BEGIN);
    out.push_str(label);
    out.push_str("-----\n");
    // base64 output is ASCII, so slicing at byte offsets is safe.
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(END);
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_encoding() {
        let der: Vec<u8> = (0u8..=99).collect();
        let pem = encode("PUBLIC KEY", &der);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last().copied(), Some("-----END PUBLIC KEY-----"));
        assert!(pem.ends_with("-----\n"));
        assert_eq!(parse_labeled(pem.as_bytes(), "PUBLIC KEY").unwrap(), der);
    }

    #[test]
    fn multiple_blocks_and_crlf() {
        let a = encode("CERTIFICATE", b"first");
        let b = encode("CERTIFICATE", b"second").replace('\n', "\r\n");
        let all = parse_all(format!("\n{a}\n{b}  \n").as_bytes()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].contents, b"second");
    }

    #[test]
    fn certificate_files() {
        let a = encode("CERTIFICATE", b"leaf");
        let b = encode("CERTIFICATE", b"root");
        let k = encode("PUBLIC KEY", b"key");
        assert_eq!(
            parse_certificates(format!("{a}{b}").as_bytes()).unwrap(),
            vec![b"leaf".to_vec(), b"root".to_vec()]
        );
        assert!(matches!(
            parse_certificates(format!("{a}{k}").as_bytes()),
            Err(PemError::UnexpectedLabel { .. })
        ));
        assert_eq!(parse_certificates(b"\n"), Err(PemError::Empty));
    }

    #[test]
    fn rejects_malformed() {
        let good = encode("PUBLIC KEY", b"0123456789");
        assert_eq!(parse_all(b"  \n"), Err(PemError::Empty));
        assert!(parse_all(format!("junk{good}").as_bytes()).is_err());
        assert!(parse_all(format!("{good}junk").as_bytes()).is_err());
        assert!(matches!(
            parse_all(good.replace("END PUBLIC", "END PRIVATE").as_bytes()),
            Err(PemError::LabelMismatch { .. })
        ));
        assert_eq!(
            parse_all(good.replace("MDEy", "M!Ey").as_bytes()),
            Err(PemError::Base64)
        );
        let truncated = &good[..good.len() - 10];
        assert!(parse_all(truncated.as_bytes()).is_err());
        let headers = good.replace("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n");
        assert!(parse_all(headers.as_bytes()).is_err());
        assert!(matches!(
            parse_labeled(good.as_bytes(), "CERTIFICATE"),
            Err(PemError::UnexpectedLabel { .. })
        ));
        assert!(parse_all(b"-----BEGIN X-----\n-----END X-----\n").is_err());
    }
}

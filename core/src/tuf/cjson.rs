//! Canonical JSON as TUF signs it (OLPC / securesystemslib style).
//!
//! This is **not** RFC 8785 (see `jcs`): python-tuf, go-tuf, tuf-js and
//! tough all re-serialize the parsed `signed` object with this encoder
//! before checking a signature, so its bytes are the contract:
//!
//! * no whitespace, object members sorted by name (UTF-8 byte order, which
//!   equals code-point order, which is what Python's `sorted` gives);
//! * strings escape only `\` and `"`; every other character, control
//!   characters and newlines included, is written as raw UTF-8 (a PEM key's
//!   newlines become 0x0A bytes, which an RFC 8785 encoder would write as
//!   `\n` and so break every ECDSA-key root);
//! * integers only: a float anywhere is an error, as in securesystemslib.

use serde_json::Value;

use super::TufError;

/// Encodes `value` canonically.
pub fn encode(value: &Value) -> Result<Vec<u8>, TufError> {
    let mut out = Vec::with_capacity(1024);
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), TufError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                return Err(TufError::Metadata(format!(
                    "canonical JSON has no floats (found {n})"
                )));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write(v, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_and_escapes_only_quote_and_backslash() {
        let v = json!({"b": [1, -2, true, null], "a": "x\"y\\z\nw\u{e9}", "A": {}});
        assert_eq!(
            encode(&v).unwrap(),
            "{\"A\":{},\"a\":\"x\\\"y\\\\z\nw\u{e9}\",\"b\":[1,-2,true,null]}".as_bytes()
        );
    }

    #[test]
    fn refuses_floats() {
        assert!(encode(&json!({"x": 1.5})).is_err());
        assert_eq!(encode(&json!(u64::MAX)).unwrap(), b"18446744073709551615");
    }
}

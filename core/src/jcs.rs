//! RFC 8785 JSON Canonicalization Scheme (JCS).
//!
//! Rekor hashes and signs JCS bytes (entry bodies, the SET payload), and the
//! clients rebuild those bytes to compare them, so the output here must be
//! identical to Go's `webpki.org/jsoncanonicalizer`, Python's `rfc8785` and
//! the JavaScript `canonicalize` package:
//!
//! * no whitespace;
//! * object members sorted by the UTF-16 code units of their names (not by
//!   UTF-8 bytes or code points: the two orders differ for characters above
//!   U+FFFF versus U+E000..U+FFFF);
//! * strings escaped as ECMAScript `JSON.stringify` does: only `"`, `\` and
//!   the C0 controls; `\b \t \n \f \r` in short form and the other controls as
//!   `\u00xx` with lowercase hex; everything else, including U+007F, U+2028
//!   and non-ASCII, as raw UTF-8;
//! * numbers as ECMAScript `Number.prototype.toString` prints the IEEE-754
//!   double (shortest round-trip digits, exponent form below 1e-6 and from
//!   1e21 on).
//!
//! One deliberate extension: integers that `serde_json` holds as `u64`/`i64`
//! are printed exactly even beyond 2^53, where ECMAScript would round them to
//! a double. Rekor's bodies only contain such integers (log indexes, times)
//! and Go's encoder prints them exactly, so rounding them would break
//! compatibility; any value within ±2^53 prints the same either way.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize};
use serde_json::{Map, Number, Value};

/// Why a value could not be canonicalized.
#[derive(Debug, thiserror::Error)]
pub enum JcsError {
    /// The input bytes are not one valid JSON text (syntax error, trailing
    /// data, invalid UTF-8, a number out of the double range, or a duplicate
    /// member name, which RFC 8785 §3.1 / I-JSON forbid).
    #[error("invalid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// NaN and ±Infinity have no JSON representation.
    #[error("JSON cannot represent the non-finite number {0}")]
    NonFiniteNumber(String),
    /// A number held in a form this module cannot print (only reachable if
    /// another crate enables serde_json's `arbitrary_precision`).
    #[error("number {0} cannot be canonicalized")]
    UnsupportedNumber(String),
    /// The value could not be turned into JSON (e.g. a map with non-string
    /// keys).
    #[error("value cannot be serialized as JSON: {0}")]
    Serialize(#[source] serde_json::Error),
}

/// Canonical bytes of an already-parsed JSON value.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JcsError> {
    let mut out = Vec::new();
    write_value(value, &mut out)?;
    Ok(out)
}

/// Canonical bytes of any serializable value.
///
/// Non-finite floats are rejected here; `serde_json` on its own would silently
/// turn them into `null`, which would sign a different value than the caller
/// holds.
pub fn to_canonical_vec<T: Serialize>(v: &T) -> Result<Vec<u8>, JcsError> {
    v.serialize(FiniteCheck)?;
    let value = serde_json::to_value(v).map_err(JcsError::Serialize)?;
    canonicalize(&value)
}

/// Parses one JSON text strictly and returns its canonical bytes.
///
/// Rejected: syntax errors, anything after the value other than whitespace,
/// duplicate member names (the last one would otherwise win silently, so two
/// parties could read different values from the same signed bytes), numbers
/// outside the double range, and lone surrogate escapes.
pub fn canonicalize_bytes(json: &[u8]) -> Result<Vec<u8>, JcsError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = StrictValue
        .deserialize(&mut de)
        .map_err(JcsError::InvalidJson)?;
    de.end().map_err(JcsError::InvalidJson)?;
    canonicalize(&value)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), JcsError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_value(v, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_number(n: &Number, out: &mut Vec<u8>) -> Result<(), JcsError> {
    // Integer forms first: serde_json keeps integer literals that fit in
    // u64/i64 exactly, and they must stay exact (see the module docs).
    let text = if let Some(u) = n.as_u64() {
        u.to_string()
    } else if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(f) = n.as_f64() {
        format_es_number(f)?
    } else {
        return Err(JcsError::UnsupportedNumber(n.to_string()));
    };
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// ECMAScript `Number::toString(x)` (ECMA-262 §6.1.6.1.20) for finite `x`.
///
/// ECMAScript picks the fewest significant digits `k` that still read back as
/// `x`, then, among the `k`-digit candidates that read back as `x`, the one
/// closest to `x`, and on an exact tie the one with an even last digit.
/// Rust's shortest formatting (`{:e}`) gives the right `k` but breaks exact
/// ties upwards (0x43143ff3c1cb0959 is exactly 1424953923781206.25: Rust
/// prints ...206.3, ECMAScript ...206.2). Rust's fixed-precision formatting
/// rounds the exact binary value half-to-even, so it yields the closest
/// `k`-digit decimal; that one is used whenever it reads back as `x`, and the
/// shortest form only when it does not (next to a power of two, where the
/// rounding interval is lopsided).
pub(crate) fn format_es_number(x: f64) -> Result<String, JcsError> {
    if !x.is_finite() {
        return Err(JcsError::NonFiniteNumber(x.to_string()));
    }
    if x == 0.0 {
        // Both +0 and -0 print as "0".
        return Ok("0".to_owned());
    }
    let shortest = format!("{:e}", x.abs());
    let k = shortest
        .split_once('e')
        .map_or(0, |(m, _)| m.replace('.', "").len());
    let nearest = format!("{:.*e}", k.saturating_sub(1), x.abs());
    let sci = if nearest.parse::<f64>() == Ok(x.abs()) {
        nearest
    } else {
        shortest
    };
    let (mantissa, exponent) = sci
        .split_once('e')
        .ok_or_else(|| JcsError::UnsupportedNumber(sci.clone()))?;
    let exponent: i32 = exponent
        .parse()
        .map_err(|_| JcsError::UnsupportedNumber(sci.clone()))?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // ECMAScript's n: the value is 0.d1d2...dk × 10^n.
    let k = digits.len() as i32;
    let n = exponent + 1;

    let mut s = String::with_capacity(k as usize + 8);
    if x < 0.0 {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        s.push_str(int);
        s.push('.');
        s.push_str(frac);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-n) as usize));
        s.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        s.push_str(first);
        if !rest.is_empty() {
            s.push('.');
            s.push_str(rest);
        }
        let e = n - 1;
        s.push('e');
        s.push(if e < 0 { '-' } else { '+' });
        s.push_str(&e.unsigned_abs().to_string());
    }
    Ok(s)
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // Every byte that needs escaping is ASCII, so scanning bytes never
        // splits a multi-byte UTF-8 sequence.
        let short: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            b'\t' => Some(b"\\t"),
            b'\n' => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            b'\r' => Some(b"\\r"),
            _ => None,
        };
        if short.is_none() && b >= 0x20 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match short {
            Some(esc) => out.extend_from_slice(esc),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Builds a `serde_json::Value` like `Value`'s own `Deserialize`, except that
/// duplicate member names are an error instead of "last one wins".
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictValue)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("non-finite number {v}")))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate object member name {key:?}"
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

/// Walks a `Serialize` value only to find non-finite floats. Everything else
/// is left to `serde_json::to_value`, which reports its own errors.
struct FiniteCheck;

fn check_float(v: f64) -> Result<(), JcsError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(JcsError::NonFiniteNumber(v.to_string()))
    }
}

impl ser::Error for JcsError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        JcsError::Serialize(<serde_json::Error as ser::Error>::custom(msg))
    }
}

impl ser::Serializer for FiniteCheck {
    type Ok = ();
    type Error = JcsError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, _: bool) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_i8(self, _: i8) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_i16(self, _: i16) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_i32(self, _: i32) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_i64(self, _: i64) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_u8(self, _: u8) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_u16(self, _: u16) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_u32(self, _: u32) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_u64(self, _: u64) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), JcsError> {
        check_float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), JcsError> {
        check_float(v)
    }
    fn serialize_char(self, _: char) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_str(self, _: &str) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_none(self) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), JcsError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), JcsError> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), JcsError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        v: &T,
    ) -> Result<(), JcsError> {
        v.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, JcsError> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, JcsError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, JcsError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, JcsError> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, JcsError> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, JcsError> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, JcsError> {
        Ok(self)
    }
}

impl ser::SerializeSeq for FiniteCheck {
    type Ok = ();
    type Error = JcsError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JcsError> {
        v.serialize(FiniteCheck)
    }
    fn end(self) -> Result<(), JcsError> {
        Ok(())
    }
}

impl ser::SerializeTuple for FiniteCheck {
    type Ok = ();
    type Error = JcsError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JcsError> {
        v.serialize(FiniteCheck)
    }
    fn end(self) -> Result<(), JcsError> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for FiniteCheck {
    type Ok = ();
    type Error = JcsError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JcsError> {
        v.serialize(FiniteCheck)
    }
    fn end(self) -> Result<(), JcsError> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for FiniteCheck {
    type Ok = ();
    type Error = JcsError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JcsError> {
        v.serialize(FiniteCheck)
    }
    fn end(self) -> Result<(), JcsError> {
        Ok(())
    }
}

impl ser::SerializeMap for FiniteCheck {
    type Ok = ();
    type Error = JcsError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), JcsError> {
        k.serialize(FiniteCheck)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JcsError> {
        v.serialize(FiniteCheck)
    }
    fn end(self) -> Result<(), JcsError> {
        Ok(())
    }
}

impl ser::SerializeStruct for FiniteCheck {
    type Ok = ();
    type Error = JcsError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _: &'static str,
        v: &T,
    ) -> Result<(), JcsError> {
        v.serialize(FiniteCheck)
    }
    fn end(self) -> Result<(), JcsError> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for FiniteCheck {
    type Ok = ();
    type Error = JcsError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _: &'static str,
        v: &T,
    ) -> Result<(), JcsError> {
        v.serialize(FiniteCheck)
    }
    fn end(self) -> Result<(), JcsError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon_str(json: &str) -> String {
        String::from_utf8(canonicalize_bytes(json.as_bytes()).unwrap()).unwrap()
    }

    /// The input/output pairs of RFC 8785 and its reference test suite
    /// (cyberphone/json-canonicalization testdata), kept verbatim as files.
    #[test]
    fn reference_suite() {
        for name in [
            "arrays",
            "french",
            "structures",
            "unicode",
            "values",
            "weird",
        ] {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jcs");
            let input = std::fs::read(format!("{dir}/input/{name}.json")).unwrap();
            let expected = std::fs::read(format!("{dir}/output/{name}.json")).unwrap();
            let got = canonicalize_bytes(&input).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected),
                "{name}"
            );
            // Canonical output is a fixed point.
            assert_eq!(canonicalize_bytes(&got).unwrap(), got, "{name} fixed point");
        }
    }

    /// RFC 8785 Appendix B: IEEE-754 bit patterns and their ES6 text.
    #[test]
    fn rfc8785_appendix_b_numbers() {
        let cases: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
            // From the es6testfile samples.
            (0x4340000000000001, "9007199254740994"),
            (0x4340000000000002, "9007199254740996"),
        ];
        for &(bits, text) in cases {
            let f = f64::from_bits(bits);
            assert_eq!(format_es_number(f).unwrap(), text, "{bits:016x}");
            // The value also survives a trip through the parser.
            if f != 0.0 {
                assert_eq!(canon_str(text), text, "{bits:016x} reparsed");
            }
        }
        for bits in [
            0x7fffffffffffffffu64,
            0x7ff0000000000000,
            0xfff0000000000000,
        ] {
            assert!(matches!(
                format_es_number(f64::from_bits(bits)),
                Err(JcsError::NonFiniteNumber(_))
            ));
        }
    }

    /// Printing then parsing must give back the same double for a spread of
    /// bit patterns (a cheap stand-in for the 100M-line es6testfile): this
    /// guards both the layout code and the parser's rounding.
    #[test]
    fn numbers_round_trip() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
            let f = f64::from_bits(bits);
            if !f.is_finite() {
                continue;
            }
            let text = format_es_number(f).unwrap();
            let back: f64 = text.parse().unwrap();
            assert_eq!(back.to_bits(), if f == 0.0 { 0 } else { bits }, "{text}");
            let reparsed = canonicalize_bytes(text.as_bytes()).unwrap();
            assert_eq!(reparsed, text.as_bytes(), "{bits:016x}");
        }
    }

    #[test]
    fn number_layouts() {
        for (f, s) in [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (123e-9, "1.23e-7"),
            (0.00001, "0.00001"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.25e21, "1.25e+21"),
            (123456.789, "123456.789"),
            (2e-3, "0.002"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        ] {
            assert_eq!(format_es_number(f).unwrap(), s, "{f:e}");
        }
    }

    #[test]
    fn integers_stay_exact() {
        assert_eq!(canon_str("18446744073709551615"), "18446744073709551615");
        assert_eq!(canon_str("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(canon_str("9007199254740993"), "9007199254740993");
        // Integers written with a fraction or exponent are doubles.
        assert_eq!(canon_str("1.0"), "1");
        assert_eq!(canon_str("1E2"), "100");
        assert_eq!(canon_str("-0"), "0");
        assert_eq!(canon_str("-0.0"), "0");
        // Beyond u64 a literal integer can only be a double, as in ES.
        assert_eq!(canon_str("18446744073709551616"), "18446744073709552000");
    }

    #[test]
    fn string_escapes() {
        let all_controls: String = (0u8..0x20).map(char::from).collect();
        let got = canonicalize(&Value::String(all_controls)).unwrap();
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\
             \\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\""
        );
        let got = canonicalize(&json!("\u{7f}\u{2028}\u{2029}/<>é😀\"\\")).unwrap();
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "\"\u{7f}\u{2028}\u{2029}/<>é😀\\\"\\\\\""
        );
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+FFFF sorts after U+1F600 in UTF-16 (0xD83D < 0xFFFF) though not
        // in UTF-8 or by code point.
        assert_eq!(
            canon_str(r#"{"\uffff":1,"\ud83d\ude00":2}"#),
            "{\"\u{1f600}\":2,\"\u{ffff}\":1}"
        );
        assert_eq!(
            canon_str(r#"{"b":1,"a":2,"":3,"aa":4,"B":5}"#),
            r#"{"":3,"B":5,"a":2,"aa":4,"b":1}"#
        );
    }

    #[test]
    fn nesting_and_whitespace() {
        assert_eq!(
            canon_str(" { \"z\" : [ 1 , { \"b\" : null , \"a\" : true } ] , \"a\" : { } } \n"),
            r#"{"a":{},"z":[1,{"a":true,"b":null}]}"#
        );
        assert_eq!(canon_str("[]"), "[]");
        assert_eq!(canon_str("\"x\""), "\"x\"");
    }

    #[test]
    fn rejects_invalid_json() {
        for bad in [
            "",
            "{",
            "{\"a\":1,}",
            "[1,]",
            "{\"a\":1}x",
            "{\"a\":1} {}",
            "{\"a\":1,\"a\":2}",
            "{\"a\":{\"b\":1,\"b\":1}}",
            "NaN",
            "Infinity",
            "1e400",
            "\"\\ud800\"",
            "'a'",
            "01",
            "{a:1}",
            "\"\u{1}\"",
        ] {
            assert!(
                matches!(
                    canonicalize_bytes(bad.as_bytes()),
                    Err(JcsError::InvalidJson(_))
                ),
                "accepted {bad:?}"
            );
        }
        assert!(canonicalize_bytes(b"\"\xff\"").is_err());
    }

    #[test]
    fn serialize_path() {
        #[derive(serde::Serialize)]
        struct S {
            b: u64,
            a: &'static str,
            f: f64,
        }
        let got = to_canonical_vec(&S {
            b: u64::MAX,
            a: "x",
            f: 0.5,
        })
        .unwrap();
        assert_eq!(got, br#"{"a":"x","b":18446744073709551615,"f":0.5}"#);
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let r = to_canonical_vec(&S { b: 0, a: "", f });
            assert!(matches!(r, Err(JcsError::NonFiniteNumber(_))));
        }
        let r = to_canonical_vec(&vec![Some(1.0f32), Some(f32::NAN)]);
        assert!(matches!(r, Err(JcsError::NonFiniteNumber(_))));
        let mut bad_keys = std::collections::BTreeMap::new();
        bad_keys.insert(vec![1u8], 1);
        assert!(matches!(
            to_canonical_vec(&bad_keys),
            Err(JcsError::Serialize(_))
        ));
    }

    /// A real hashedrekord 0.0.1 body as stored by the public staging Rekor
    /// (`canonicalizedBody` of sigstore-python's test/assets/bundle.txt.sigstore):
    /// Go produced it, so it must already be canonical here.
    #[test]
    fn real_rekor_body_is_a_fixed_point() {
        use base64::Engine;
        let b64 = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/jcs/rekor_hashedrekord_body.b64"
        ))
        .unwrap();
        let body = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap();
        assert!(body.starts_with(br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"802d"#));
        assert_eq!(canonicalize_bytes(&body).unwrap(), body);
        let reordered: Value = serde_json::from_slice(&body).unwrap();
        let pretty = serde_json::to_vec_pretty(&reordered).unwrap();
        assert_eq!(canonicalize_bytes(&pretty).unwrap(), body);
    }

    /// Rekor's SET payload layout (rekor.md §3).
    #[test]
    fn rekor_set_payload_order() {
        let v = json!({
            "logIndex": 79571823u64,
            "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
            "integratedTime": 1710869186u64,
            "body": "eyJ9",
        });
        assert_eq!(
            String::from_utf8(canonicalize(&v).unwrap()).unwrap(),
            r#"{"body":"eyJ9","integratedTime":1710869186,"logID":"c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d","logIndex":79571823}"#
        );
    }
}

//! Proto3 JSON mapping rules shared by the trust models, as serde helpers.
//!
//! What the upstream clients parse with (Go `protojson`, sigstore-python's
//! pydantic models, sigstore-js' generated `fromJSON`) fixes these rules:
//!
//! * `bytes` are written as standard base64 with padding and read in either
//!   the standard or the URL-safe alphabet, padded or not (`protojson`
//!   accepts all four);
//! * `int64` values are written as JSON strings (JavaScript numbers cannot
//!   hold them) and read from a string or a JSON integer;
//! * `uint32` values are written as numbers and read from a number or string;
//! * `google.protobuf.Timestamp` is RFC 3339, written in UTC with a `Z` and
//!   0, 3, 6 or 9 fractional digits;
//! * `null` means "not set" for every field, so it is read as the default.

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const LENIENT_STD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const LENIENT_URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes base64 the way `protojson` does: the URL-safe alphabet if the text
/// contains `-` or `_`, the standard one otherwise; padding optional.
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if s.contains(['-', '_']) {
        LENIENT_URL.decode(s)
    } else {
        LENIENT_STD.decode(s)
    }
}

/// `null` or a missing field reads as the type's default.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `bytes` fields (empty = unset).
pub(crate) mod bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(Vec::new()),
            Some(s) => decode_base64(&s)
                .map_err(|e| de::Error::custom(format!("invalid base64 in bytes field: {e}"))),
        }
    }
}

/// `optional bytes` fields, where presence is distinct from emptiness.
pub(crate) mod opt_bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => decode_base64(&s)
                .map(Some)
                .map_err(|e| de::Error::custom(format!("invalid base64 in bytes field: {e}"))),
        }
    }
}

/// `repeated bytes` fields.
pub(crate) mod vec_bytes {
    use super::*;
    use serde::ser::SerializeSeq;

    pub(crate) fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(&STANDARD.encode(b))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Option::<Vec<String>>::deserialize(d)?
            .unwrap_or_default()
            .iter()
            .map(|s| {
                decode_base64(s)
                    .map_err(|e| de::Error::custom(format!("invalid base64 in bytes list: {e}")))
            })
            .collect()
    }
}

/// `int64` fields: a decimal string on output; a string or integer on input.
pub(crate) mod int64 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(Int64Visitor)
    }

    struct Int64Visitor;

    impl<'de> Visitor<'de> for Int64Visitor {
        type Value = i64;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a 64-bit integer as a JSON number or decimal string")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("{v} does not fit in int64")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            parse_decimal(v)
        }
        fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
            Ok(0)
        }
        fn visit_none<E: de::Error>(self) -> Result<i64, E> {
            Ok(0)
        }
    }

    /// Plain decimal only: `str::parse` alone would also take a leading `+`.
    fn parse_decimal<E: de::Error>(v: &str) -> Result<i64, E> {
        let digits = v.strip_prefix('-').unwrap_or(v);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::custom(format!("{v:?} is not a decimal int64")));
        }
        v.parse()
            .map_err(|_| E::custom(format!("{v:?} does not fit in int64")))
    }
}

/// `uint32` fields: a number on output; a number or decimal string on input.
pub(crate) mod uint32 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(*v)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        d.deserialize_any(Uint32Visitor)
    }

    struct Uint32Visitor;

    impl<'de> Visitor<'de> for Uint32Visitor {
        type Value = u32;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a 32-bit unsigned integer as a JSON number or decimal string")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
            u32::try_from(v).map_err(|_| E::custom(format!("{v} does not fit in uint32")))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
            u32::try_from(v).map_err(|_| E::custom(format!("{v} does not fit in uint32")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u32, E> {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(E::custom(format!("{v:?} is not a decimal uint32")));
            }
            v.parse()
                .map_err(|_| E::custom(format!("{v:?} does not fit in uint32")))
        }
        fn visit_unit<E: de::Error>(self) -> Result<u32, E> {
            Ok(0)
        }
        fn visit_none<E: de::Error>(self) -> Result<u32, E> {
            Ok(0)
        }
    }
}

/// Formats a timestamp the way `protojson` does: UTC, `Z`, and the shortest
/// of 0, 3, 6 or 9 fractional digits that is exact.
pub(crate) fn format_timestamp(t: &OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos != 0 {
        if nanos.is_multiple_of(1_000_000) {
            s.push_str(&format!(".{:03}", nanos / 1_000_000));
        } else if nanos.is_multiple_of(1_000) {
            s.push_str(&format!(".{:06}", nanos / 1_000));
        } else {
            s.push_str(&format!(".{nanos:09}"));
        }
    }
    s.push('Z');
    s
}

/// Parses an RFC 3339 timestamp (any offset; normalized to UTC). Years must
/// lie in 0001..=9999, the range `google.protobuf.Timestamp` allows.
pub(crate) fn parse_timestamp(s: &str) -> Result<OffsetDateTime, String> {
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("{s:?} is not an RFC 3339 timestamp: {e}"))?
        .to_offset(UtcOffset::UTC);
    if !(1..=9999).contains(&t.year()) {
        return Err(format!("{s:?} is outside the protobuf Timestamp range"));
    }
    Ok(t)
}

/// Required `google.protobuf.Timestamp` fields.
pub(crate) mod timestamp {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        parse_timestamp(&s).map_err(de::Error::custom)
    }
}

/// Optional `google.protobuf.Timestamp` fields.
pub(crate) mod opt_timestamp {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&format_timestamp(t)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => parse_timestamp(&s).map(Some).map_err(de::Error::custom),
        }
    }
}

pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

pub(crate) fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

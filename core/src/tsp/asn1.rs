//! A strict DER reader and a small DER writer for the RFC 3161 / CMS
//! structures.
//!
//! Why not typed `der` structs: a CMS signature covers the *received* bytes of
//! the signed attributes (re-tagged as a SET) and the message digest covers the
//! received bytes of the encapsulated TSTInfo. Decoding into structs and
//! re-encoding would verify our re-encoding, not what the TSA signed. The
//! reader therefore hands out borrowed slices of the input, and typed parsing
//! happens on top of them. Only low tag numbers (< 31) occur in these
//! structures; anything else is rejected.
//!
//! Strictness: definite, minimally encoded lengths only (no BER indefinite
//! form), every element consumed, INTEGERs minimally encoded.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asn1Error(pub String);

impl fmt::Display for Asn1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Asn1Error {}

fn err<T>(msg: impl Into<String>) -> Result<T, Asn1Error> {
    Err(Asn1Error(msg.into()))
}

pub const BOOLEAN: u8 = 0x01;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OID: u8 = 0x06;
pub const UTF8_STRING: u8 = 0x0c;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;

/// `[n]` constructed context tag (EXPLICIT, or IMPLICIT over a constructed type).
pub const fn ctx(n: u8) -> u8 {
    0xa0 | n
}

/// `[n]` primitive context tag (IMPLICIT over a primitive type).
pub const fn ctx_prim(n: u8) -> u8 {
    0x80 | n
}

/// One element: its tag, its contents, and its whole encoding.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Parses exactly one element that spans all of `data`.
    pub fn parse(data: &'a [u8]) -> Result<Self, Asn1Error> {
        let mut r = Reader::new(data);
        let t = r.read()?;
        r.finish()?;
        Ok(t)
    }

    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }

    pub fn expect_tag(self, tag: u8, what: &str) -> Result<Self, Asn1Error> {
        if self.tag != tag {
            return err(format!(
                "{what}: expected tag 0x{tag:02x}, found 0x{:02x}",
                self.tag
            ));
        }
        Ok(self)
    }
}

/// Reads consecutive elements from a slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    pub fn read(&mut self) -> Result<Tlv<'a>, Asn1Error> {
        let data = self.data;
        let (&tag, rest) = data
            .split_first()
            .ok_or(Asn1Error("truncated DER".into()))?;
        if tag & 0x1f == 0x1f {
            return err("high-numbered ASN.1 tags are not supported");
        }
        let (&first, rest) = rest
            .split_first()
            .ok_or(Asn1Error("truncated DER length".into()))?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else if first == 0x80 {
            return err("indefinite-length (BER) encoding is not DER");
        } else {
            let n = usize::from(first & 0x7f);
            if n > 4 || rest.len() < n {
                return err("bad DER length");
            }
            let mut len = 0usize;
            for &b in &rest[..n] {
                len = (len << 8) | usize::from(b);
            }
            if rest[0] == 0 || len < 0x80 {
                return err("non-minimal DER length");
            }
            (len, &rest[n..])
        };
        if rest.len() < len {
            return err("truncated DER element");
        }
        let header = data.len() - rest.len();
        let raw = &data[..header + len];
        self.data = &data[header + len..];
        Ok(Tlv {
            tag,
            value: &rest[..len],
            raw,
        })
    }

    pub fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, Asn1Error> {
        self.read()
            .map_err(|e| Asn1Error(format!("{what}: {e}")))?
            .expect_tag(tag, what)
    }

    /// The next element if it carries `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, Asn1Error> {
        if self.peek_tag() == Some(tag) {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Every remaining element.
    pub fn all(&mut self) -> Result<Vec<Tlv<'a>>, Asn1Error> {
        let mut out = Vec::new();
        while !self.is_empty() {
            out.push(self.read()?);
        }
        Ok(out)
    }

    pub fn finish(&self) -> Result<(), Asn1Error> {
        if self.data.is_empty() {
            Ok(())
        } else {
            err("unexpected trailing data in DER")
        }
    }
}

/// The contents of a DER INTEGER, checked minimal. Returns the two's
/// complement big-endian bytes as encoded.
pub fn integer_bytes<'a>(t: &Tlv<'a>) -> Result<&'a [u8], Asn1Error> {
    let v = t.value;
    if t.tag != INTEGER || v.is_empty() {
        return err("expected an INTEGER");
    }
    if v.len() > 1 && ((v[0] == 0 && v[1] & 0x80 == 0) || (v[0] == 0xff && v[1] & 0x80 != 0)) {
        return err("non-minimal INTEGER");
    }
    Ok(v)
}

/// A non-negative INTEGER that fits in a u64.
pub fn integer_u64(t: &Tlv<'_>) -> Result<u64, Asn1Error> {
    let v = integer_bytes(t)?;
    if v[0] & 0x80 != 0 {
        return err("negative INTEGER");
    }
    let v = if v[0] == 0 { &v[1..] } else { v };
    if v.len() > 8 {
        return err("INTEGER too large");
    }
    Ok(v.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

pub fn boolean(t: &Tlv<'_>) -> Result<bool, Asn1Error> {
    match (t.tag, t.value) {
        (BOOLEAN, [0x00]) => Ok(false),
        (BOOLEAN, [0xff]) => Ok(true),
        _ => err("bad DER BOOLEAN"),
    }
}

/// Parses a GeneralizedTime `YYYYMMDDHHMMSS[.f+]Z` (RFC 3161 allows
/// fractional seconds, without trailing zeros) to Unix nanoseconds.
pub fn generalized_time_nanos(t: &Tlv<'_>) -> Result<i128, Asn1Error> {
    if t.tag != GENERALIZED_TIME {
        return err("expected a GeneralizedTime");
    }
    let s = std::str::from_utf8(t.value).map_err(|_| Asn1Error("bad GeneralizedTime".into()))?;
    let body = s
        .strip_suffix('Z')
        .ok_or(Asn1Error("GeneralizedTime must end in Z".into()))?;
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) => {
            if f.is_empty() || f.ends_with('0') || !f.bytes().all(|b| b.is_ascii_digit()) {
                return err("bad GeneralizedTime fraction");
            }
            (w, f)
        }
        None => (body, ""),
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return err(format!("bad GeneralizedTime {s:?}"));
    }
    let num = |r: std::ops::Range<usize>| whole[r].parse::<u32>().unwrap_or(u32::MAX);
    let year = i32::try_from(num(0..4)).map_err(|_| Asn1Error("bad year".into()))?;
    let month = u8::try_from(num(4..6))
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or(Asn1Error(format!("bad GeneralizedTime month in {s:?}")))?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(num(6..8)).unwrap_or(0))
        .map_err(|_| Asn1Error(format!("bad GeneralizedTime date in {s:?}")))?;
    let tod = time::Time::from_hms(
        u8::try_from(num(8..10)).unwrap_or(99),
        u8::try_from(num(10..12)).unwrap_or(99),
        u8::try_from(num(12..14)).unwrap_or(99),
    )
    .map_err(|_| Asn1Error(format!("bad GeneralizedTime time in {s:?}")))?;
    let secs = date.with_time(tod).assume_utc().unix_timestamp();
    let mut nanos: i128 = 0;
    if !frac.is_empty() {
        let padded = format!("{frac:0<9}");
        nanos = padded.parse::<i128>().unwrap_or(0);
    }
    Ok(i128::from(secs) * 1_000_000_000 + nanos)
}

/// The content bytes of an OBJECT IDENTIFIER (compare with `ObjectIdentifier::as_bytes`).
pub fn oid_bytes<'a>(t: &Tlv<'a>) -> Result<&'a [u8], Asn1Error> {
    if t.tag != OID || t.value.is_empty() {
        return err("expected an OBJECT IDENTIFIER");
    }
    Ok(t.value)
}

// ---- writing ----

/// One DER element.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A constructed element from already-encoded parts.
pub fn cons(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    cons(SEQUENCE, parts)
}

/// A DER SET OF: the elements sorted by their encodings (X.690 11.6).
pub fn set_of(mut parts: Vec<Vec<u8>>) -> Vec<u8> {
    parts.sort();
    tlv(SET, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub fn uint(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude.iter().take_while(|&&b| b == 0).count();
    let m = &magnitude[start..];
    let mut content = Vec::with_capacity(m.len() + 1);
    if m.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(m);
    tlv(INTEGER, &content)
}

pub fn uint_u64(v: u64) -> Vec<u8> {
    uint(&v.to_be_bytes())
}

pub fn octets(v: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, v)
}

pub fn oid(der_content: &[u8]) -> Vec<u8> {
    tlv(OID, der_content)
}

pub fn boolean_der(v: bool) -> Vec<u8> {
    tlv(BOOLEAN, &[if v { 0xff } else { 0 }])
}

/// GeneralizedTime `YYYYMMDDHHMMSSZ`, truncated to whole seconds.
pub fn generalized_time(t: time::OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let s = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    tlv(GENERALIZED_TIME, s.as_bytes())
}

/// UTCTime `YYMMDDHHMMSSZ` (CMS signingTime for years 1950–2049).
pub fn utc_time(t: time::OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let s = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year().rem_euclid(100),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    tlv(UTC_TIME, s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_and_reject_non_der() {
        for len in [0usize, 1, 127, 128, 255, 256, 70000] {
            let enc = tlv(OCTET_STRING, &vec![7u8; len]);
            let t = Tlv::parse(&enc).unwrap();
            assert_eq!(t.value.len(), len);
            assert_eq!(t.raw, &enc[..]);
        }
        // Indefinite length, non-minimal long form, truncation, trailing data.
        assert!(Tlv::parse(&[0x30, 0x80, 0, 0]).is_err());
        assert!(Tlv::parse(&[0x04, 0x81, 0x01, 0xaa]).is_err());
        assert!(Tlv::parse(&[0x04, 0x82, 0x00, 0x81]).is_err());
        assert!(Tlv::parse(&[0x04, 0x03, 1, 2]).is_err());
        assert!(Tlv::parse(&[0x04, 0x01, 1, 2]).is_err());
        assert!(Tlv::parse(&[0x1f, 0x01, 0x00]).is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(uint(&[0x00, 0x00, 0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(uint(&[]), vec![0x02, 0x01, 0x00]);
        assert_eq!(uint_u64(0x7f), vec![0x02, 0x01, 0x7f]);
        let max = uint_u64(u64::MAX);
        let t = Tlv::parse(&max).unwrap();
        assert_eq!(integer_u64(&t).unwrap(), u64::MAX);
        assert!(integer_bytes(&Tlv::parse(&[0x02, 0x02, 0x00, 0x01]).unwrap()).is_err());
        assert!(integer_bytes(&Tlv::parse(&[0x02, 0x02, 0xff, 0x80]).unwrap()).is_err());
        assert!(integer_u64(&Tlv::parse(&[0x02, 0x01, 0x80]).unwrap()).is_err());
    }

    #[test]
    fn generalized_times() {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_120_000_000).unwrap();
        let frac = tlv(GENERALIZED_TIME, b"20231114221320.12Z");
        let parsed = generalized_time_nanos(&Tlv::parse(&frac).unwrap()).unwrap();
        assert_eq!(parsed, 1_700_000_000_120_000_000);
        let whole = generalized_time(t);
        assert_eq!(&whole[2..], b"20231114221320Z");
        for bad in [
            &b"20231114221320.120Z"[..],
            b"20231114221320.Z",
            b"20231114221320",
            b"20231314221320Z",
            b"20231114221360Z",
            b"2023111422132Z",
            b"20231114221320+0100",
        ] {
            let enc = tlv(GENERALIZED_TIME, bad);
            assert!(
                generalized_time_nanos(&Tlv::parse(&enc).unwrap()).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn sets_are_sorted() {
        let s = set_of(vec![vec![0x04, 0x01, 0x02], vec![0x02, 0x01, 0x05]]);
        assert_eq!(s, vec![0x31, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0x02]);
    }
}

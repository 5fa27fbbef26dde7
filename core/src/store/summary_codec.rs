//! The compact encoding of a case summary in store records and index snapshots
//! (format 4; see `docs/storage-format.md`, "Summaries").
//!
//! Opening a store decodes every case's summary from the index snapshot. As a CBOR map
//! a summary is about 30 CBOR items (13 keys, their values, the codes in its lists),
//! and decoding 10,000 of them with ciborium took most of the time of opening a store.
//! Format 4 stores each summary as one CBOR byte string holding this encoding instead,
//! read by hand in one pass:
//!
//! ```text
//! version          1 byte, 1
//! id               16 bytes
//! created_at       zigzag LEB128 (i64, ms)
//! updated_at       zigzag LEB128 (i64, ms)
//! case_status      optional code  \
//! trafficking      optional code   | optional code: LEB128 (length + 1), then the
//! gender           optional code   | UTF-8 bytes; 0 for none
//! age_band         optional code  /
//! citizenship      list of codes  \  list: LEB128 count, then each code as
//! route_countries  list of codes   | LEB128 length and UTF-8 bytes
//! exploitation     list of codes  /
//! referrals        LEB128 (u32)
//! notes            LEB128 (u32)
//! conflicts        LEB128 (u32)
//! ```
//!
//! Nothing may follow. Summaries written by format 3 (CBOR maps) are still read.

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::Serializer;

use super::leb128;

use crate::model::{CaseId, CaseSummary, Timestamp};
use crate::vocab::{
    AgeBand, CaseStatus, Country, ExploitationType, Gender, TraffickingStatus, Vocabulary,
};

/// The encoding's version byte.
const VERSION: u8 = 1;

/// Encodes `s` (see the module doc).
pub(crate) fn encode(s: &CaseSummary) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    out.extend_from_slice(&s.id.0);
    put_i64(&mut out, s.created_at.0);
    put_i64(&mut out, s.updated_at.0);
    put_opt(&mut out, s.case_status.as_ref().map(Vocabulary::code));
    put_opt(
        &mut out,
        s.trafficking_status.as_ref().map(Vocabulary::code),
    );
    put_opt(&mut out, s.gender.as_ref().map(Vocabulary::code));
    put_opt(&mut out, s.age_band.as_ref().map(Vocabulary::code));
    put_list(&mut out, s.citizenship.iter().map(Country::code));
    put_list(&mut out, s.route_countries.iter().map(Country::code));
    put_list(&mut out, s.exploitation.iter().map(Vocabulary::code));
    leb128::write(&mut out, u64::from(s.referrals));
    leb128::write(&mut out, u64::from(s.notes));
    leb128::write(&mut out, u64::from(s.conflicts));
    out
}

/// Decodes a summary written by [`encode`]; `Err` names what is wrong.
pub(crate) fn decode(bytes: &[u8]) -> Result<CaseSummary, &'static str> {
    let mut r = Reader(bytes);
    if r.byte()? != VERSION {
        return Err("unknown summary encoding");
    }
    let id = CaseId(r.take(16)?.try_into().map_err(|_| "truncated summary")?);
    let created_at = Timestamp(r.i64()?);
    let updated_at = Timestamp(r.i64()?);
    let case_status = r.opt()?.map(CaseStatus::from_code);
    let trafficking_status = r.opt()?.map(TraffickingStatus::from_code);
    let gender = r.opt()?.map(Gender::from_code);
    let age_band = r.opt()?.map(AgeBand::from_code);
    let citizenship = r.list(Country::from_code)?;
    let route_countries = r.list(Country::from_code)?;
    let exploitation = r.list(ExploitationType::from_code)?;
    let referrals = r.u32()?;
    let notes = r.u32()?;
    let conflicts = r.u32()?;
    if !r.0.is_empty() {
        return Err("bytes after the summary");
    }
    Ok(CaseSummary {
        id,
        created_at,
        updated_at,
        case_status,
        trafficking_status,
        gender,
        age_band,
        citizenship,
        route_countries,
        exploitation,
        referrals,
        notes,
        conflicts,
    })
}

/// `#[serde(with = "summary_codec")]`: writes [`encode`] as a byte string; reads that,
/// or a CBOR map as format 3 wrote.
pub(crate) fn serialize<S: Serializer>(s: &CaseSummary, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_bytes(&encode(s))
}

/// See [`serialize`].
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CaseSummary, D::Error> {
    d.deserialize_any(SummaryVisitor)
}

struct SummaryVisitor;

impl<'de> Visitor<'de> for SummaryVisitor {
    type Value = CaseSummary;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a case summary (compact bytes, or a map)")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<CaseSummary, E> {
        decode(v).map_err(E::custom)
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<CaseSummary, E> {
        self.visit_bytes(&v)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CaseSummary, A::Error> {
        CaseSummary::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    leb128::write(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    leb128::write(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            leb128::write(out, s.len() as u64 + 1);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn put_list<'a>(out: &mut Vec<u8>, items: impl ExactSizeIterator<Item = &'a str>) {
    leb128::write(out, items.len() as u64);
    for s in items {
        put_str(out, s);
    }
}

/// Reads the encoding front to back; every read checks the bytes left.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, &'static str> {
        let (&b, rest) = self.0.split_first().ok_or("truncated summary")?;
        self.0 = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if n > self.0.len() {
            return Err("truncated summary");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        let (v, used) = leb128::read(self.0).ok_or("truncated or oversized number in summary")?;
        self.0 = &self.0[used..];
        Ok(v)
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        u32::try_from(self.u64()?).map_err(|_| "count too large in summary")
    }

    fn i64(&mut self) -> Result<i64, &'static str> {
        let z = self.u64()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn len(&mut self) -> Result<usize, &'static str> {
        let n = self.u64()?;
        // A length can never exceed what is left; checked before anything is allocated.
        if n > self.0.len() as u64 {
            return Err("truncated summary");
        }
        Ok(n as usize)
    }

    fn str(&mut self, n: usize) -> Result<&'a str, &'static str> {
        std::str::from_utf8(self.take(n)?).map_err(|_| "summary code is not UTF-8")
    }

    fn opt(&mut self) -> Result<Option<&'a str>, &'static str> {
        let n = self.u64()?;
        if n == 0 {
            return Ok(None);
        }
        let n = usize::try_from(n - 1).map_err(|_| "truncated summary")?;
        self.str(n).map(Some)
    }

    fn list<T>(&mut self, parse: impl Fn(&str) -> T) -> Result<Vec<T>, &'static str> {
        let count = self.len()?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let n = self.len()?;
            out.push(parse(self.str(n)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sample() -> CaseSummary {
        CaseSummary {
            id: CaseId([7; 16]),
            created_at: Timestamp(1_767_225_600_000),
            updated_at: Timestamp(-5),
            case_status: Some(CaseStatus::from_code("Active")),
            trafficking_status: None,
            gender: Some(Gender::from_code("Feminine")),
            age_band: Some(AgeBand::from_code("a code from a newer version")),
            citizenship: vec![Country::from_code("KZ")],
            route_countries: vec![Country::from_code("KZ"), Country::from_code("RU")],
            exploitation: vec![ExploitationType::from_code("ForcedLabour")],
            referrals: 2,
            notes: u32::MAX,
            conflicts: 0,
        }
    }

    #[test]
    fn summaries_round_trip_and_format_3_maps_are_still_read() {
        let s = sample();
        assert_eq!(decode(&encode(&s)), Ok(s.clone()));
        // Through serde, as the store writes and reads it.
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Holder {
            #[serde(with = "super")]
            s: CaseSummary,
        }
        let bytes = crate::codec::cbor(&Holder { s: s.clone() }).expect("cbor");
        let back: Holder = ciborium::from_reader(bytes.as_slice()).expect("read");
        assert_eq!(back.s, s);
        // Format 3 wrote the summary as a CBOR map (`CaseSummary`'s own serde).
        #[derive(serde::Serialize)]
        struct Old {
            s: CaseSummary,
        }
        let old = crate::codec::cbor(&Old { s: s.clone() }).expect("cbor");
        let back: Holder = ciborium::from_reader(old.as_slice()).expect("read old");
        assert_eq!(back.s, s);
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        let bytes = encode(&sample());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut} accepted");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err("bytes after the summary"));
        let mut other = bytes;
        other[0] = 2;
        assert_eq!(decode(&other), Err("unknown summary encoding"));
        // A list count far beyond the bytes left is refused before allocating.
        let bare = CaseSummary {
            id: CaseId([0; 16]),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            case_status: None,
            trafficking_status: None,
            gender: None,
            age_band: None,
            citizenship: Vec::new(),
            route_countries: Vec::new(),
            exploitation: Vec::new(),
            referrals: 0,
            notes: 0,
            conflicts: 0,
        };
        let mut huge = encode(&bare);
        // version, id, two one-byte times, four empty options: then the citizenship count
        let at = 1 + 16 + 2 + 4;
        assert_eq!(huge.len(), at + 6);
        huge.splice(at..=at, [0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(decode(&huge), Err("truncated summary"));
    }

    proptest! {
        #[test]
        fn any_summary_round_trips(
            id in any::<[u8; 16]>(),
            times in any::<(i64, i64)>(),
            codes in proptest::collection::vec("[A-Za-z0-9 -]{0,12}", 0..8),
            opts in any::<[bool; 4]>(),
            counts in any::<(u32, u32, u32)>(),
        ) {
            let code = |i: usize| codes.get(i).cloned().unwrap_or_default();
            let s = CaseSummary {
                id: CaseId(id),
                created_at: Timestamp(times.0),
                updated_at: Timestamp(times.1),
                case_status: opts[0].then(|| CaseStatus::from_code(&code(0))),
                trafficking_status: opts[1].then(|| TraffickingStatus::from_code(&code(1))),
                gender: opts[2].then(|| Gender::from_code(&code(2))),
                age_band: opts[3].then(|| AgeBand::from_code(&code(3))),
                citizenship: codes.iter().map(|c| Country::from_code(c)).collect(),
                route_countries: codes.iter().rev().map(|c| Country::from_code(c)).collect(),
                exploitation: codes.iter().map(|c| ExploitationType::from_code(c)).collect(),
                referrals: counts.0,
                notes: counts.1,
                conflicts: counts.2,
            };
            prop_assert_eq!(decode(&encode(&s)), Ok(s));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}

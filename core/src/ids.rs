//! Identifiers and coarse time values shared by every layer: case ids, change hashes,
//! timestamps and year-months. Below the model, the sync protocol and the store.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::codec::{hex_decode, hex_encode};
use crate::error::{Error, Result};

/// A case identifier: 16 random bytes, shown as 32 lowercase hex digits.
///
/// It carries no information about the case or the person. Serialized as a byte
/// string in CBOR and as hex in human-readable formats such as JSON.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseId(pub [u8; 16]);

impl Serialize for CaseId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for CaseId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            CaseId::parse(&s).map_err(D::Error::custom)
        } else {
            let b = serde_bytes::ByteBuf::deserialize(d)?;
            let arr: [u8; 16] = b
                .as_slice()
                .try_into()
                .map_err(|_| D::Error::custom("a case id is 16 bytes"))?;
            Ok(CaseId(arr))
        }
    }
}

impl CaseId {
    /// A fresh random identifier.
    pub fn random() -> Result<CaseId> {
        Ok(CaseId(crate::crypto::random_array()?))
    }

    /// Parses the full 32-digit hex form.
    pub fn parse(s: &str) -> Result<CaseId> {
        let bytes = hex_decode(s.trim())
            .filter(|b| b.len() == 16)
            .ok_or_else(|| Error::invalid("case id", "expected 32 hexadecimal digits"))?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes);
        Ok(CaseId(id))
    }

    /// The 32-digit lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// The first 8 hex digits, enough to tell cases apart on a screen.
    pub fn short(&self) -> String {
        hex_encode(&self.0[..4])
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaseId({})", self.to_hex())
    }
}

/// A change hash (SHA-256 of an Automerge change) as stored and sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct Hash(#[serde(with = "serde_bytes")] pub(crate) [u8; 32]);

#[cfg(test)]
thread_local! {
    /// Test-only: this thread's clock stands still at this time (ms), for
    /// byte-reproducible vectors of whole sessions (`sync::vectors_live`).
    pub(crate) static FIXED_NOW: std::cell::Cell<Option<i64>> = const { std::cell::Cell::new(None) };
}

/// A point in time: milliseconds since the Unix epoch (UTC).
///
/// Used for record-keeping times (case registered, note written, referral status
/// changed), never for facts about the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        #[cfg(test)]
        if let Some(ms) = FIXED_NOW.with(std::cell::Cell::get) {
            return Timestamp(ms);
        }
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }

    /// Midnight UTC at the start of the given calendar day.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Result<Timestamp> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(Error::invalid(
                "date",
                format!("{year:04}-{month:02}-{day:02} is not a date"),
            ));
        }
        Ok(Timestamp(days_from_civil(year, month, day) * 86_400_000))
    }

    /// Parses `YYYY-MM-DD` or `YYYY-MM` (the first day of that month).
    pub fn parse_date(s: &str) -> Result<Timestamp> {
        let bad = || Error::invalid("date", format!("{s:?} is not YYYY-MM-DD or YYYY-MM"));
        let parts: Vec<&str> = s.trim().split('-').collect();
        let num = |p: &str| p.parse::<i32>().map_err(|_| bad());
        match parts.as_slice() {
            [y, m] => Timestamp::from_ymd(num(y)?, num(m)? as u32, 1),
            [y, m, d] => Timestamp::from_ymd(num(y)?, num(m)? as u32, num(d)? as u32),
            _ => Err(bad()),
        }
    }

    /// The UTC calendar date as `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0.div_euclid(86_400_000))
    }

    /// `YYYY-MM-DD` in UTC.
    pub fn date_string(self) -> String {
        let (y, m, d) = self.ymd();
        format!("{y:04}-{m:02}-{d:02}")
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil calendar algorithms (public domain).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// A month of a year, or a year alone: the finest time precision a route event may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct YearMonth {
    /// Calendar year (1900..=2200).
    pub year: u16,
    /// Month 1..=12, if known.
    pub month: Option<u8>,
}

impl YearMonth {
    /// Checks the ranges.
    pub fn new(year: u16, month: Option<u8>) -> Result<YearMonth> {
        if !(1900..=2200).contains(&year) {
            return Err(Error::invalid(
                "year",
                format!("{year} is out of range 1900..2200"),
            ));
        }
        if let Some(m) = month {
            if !(1..=12).contains(&m) {
                return Err(Error::invalid("month", format!("{m} is not a month")));
            }
        }
        Ok(YearMonth { year, month })
    }

    /// Parses `YYYY` or `YYYY-MM`; a day is refused (month precision at most).
    pub fn parse(s: &str) -> Result<YearMonth> {
        let bad = || Error::invalid("year-month", format!("{s:?} is not YYYY or YYYY-MM"));
        let mut parts = s.trim().split('-');
        let year = parts.next().and_then(|y| y.parse().ok()).ok_or_else(bad)?;
        let month = match parts.next() {
            Some(m) => Some(m.parse().map_err(|_| bad())?),
            None => None,
        };
        if parts.next().is_some() {
            return Err(Error::invalid(
                "year-month",
                "route dates have month precision at most",
            ));
        }
        YearMonth::new(year, month)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.month {
            Some(m) => write!(f, "{:04}-{:02}", self.year, m),
            None => write!(f, "{:04}", self.year),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_round_trip_through_hex() {
        let id = CaseId::random().expect("rng");
        assert_eq!(CaseId::parse(&id.to_hex()).expect("parse"), id);
        assert!(CaseId::parse("xyz").is_err());
        assert!(CaseId::parse(&"a".repeat(30)).is_err());
        let json = serde_json::to_string(&id).expect("json");
        assert_eq!(json, format!("\"{}\"", id.to_hex()));
        let mut cbor = Vec::new();
        ciborium::into_writer(&id, &mut cbor).expect("cbor");
        assert_eq!(cbor.len(), 17, "a 16-byte CBOR byte string");
        let back: CaseId = ciborium::from_reader(&cbor[..]).expect("decode");
        assert_eq!(back, id);
    }

    #[test]
    fn civil_dates_round_trip() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (1969, 7, 20)] {
            let t = Timestamp::from_ymd(y, m, d).expect("date");
            assert_eq!(t.ymd(), (y, m, d));
        }
        assert!(Timestamp::from_ymd(2023, 2, 29).is_err());
        assert_eq!(
            Timestamp::parse_date("2024-03").expect("ym").date_string(),
            "2024-03-01"
        );
    }

    #[test]
    fn year_month_refuses_days() {
        assert_eq!(
            YearMonth::parse("2023-07").expect("ym").to_string(),
            "2023-07"
        );
        assert_eq!(YearMonth::parse("2023").expect("y").month, None);
        assert!(YearMonth::parse("2023-07-14").is_err());
        assert!(YearMonth::parse("2023-13").is_err());
    }
}

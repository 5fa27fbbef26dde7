//! Cross-agency duplicate detection by keyed blind index.
//!
//! Two agencies that registered the same person should be able to notice it without
//! either of them learning who the person is, and without names or dates of birth ever
//! being stored or sent. A coordinator types the person's identifying details into the
//! device only to compute a [`BlindIndex`]: a handful of keyed, one-way tokens. The
//! details are dropped (and zeroized) right after; only the index is kept with the case
//! and shared with partners under the data-sharing agreement. When two indices share a
//! token, the devices flag "possible same person" with a [`MatchStrength`] and the
//! reason, for a human to follow up through the agreement's own channels.
//!
//! - **Key.** Tokens are keyed with a [`DedupKey`] held by the agencies of one
//!   data-sharing agreement (32 random bytes, generated once, exchanged in person like
//!   a group invitation, kept in each device's encrypted store). Without the key a
//!   token reveals nothing and cannot be tested against a guess.
//! - **Normalization.** Names and places are reduced to a phonetic skeleton that is the
//!   same for the Cyrillic spelling and its Latin transliterations (passport ICAO,
//!   BGN/PCGN, Uzbek, Kazakh 2021 and Turkmen Latin, informal typing): `Айгерим` =
//!   `Aigerim` = `Aygerim`, `Жанар` = `Zhanar` = `Janar`, `Юлия` = `Yuliya` = `Iuliia`,
//!   `Хуршед` = `Khurshed` = `Hurshed`, `Шохрух` = `Shokhrukh` = `Shohruh`. Given and
//!   family name may be entered in either field.
//! - **Tokens.** One token per combination of fields ([`TokenKind`]): the whole name
//!   with the full date of birth (a strong match), a coarser name key with the full date
//!   of birth and name + patronymic or place + birth year (probable), and the name with
//!   the birth year alone (weak). Each token is
//!   `Argon2id(HMAC-SHA256(k, "caravan/blind-index/v1" ‖ kind ‖ len ‖ field ‖ …))`,
//!   16 bytes: the HMAC makes it useless without the key, and the Argon2id step makes a
//!   dictionary attack by someone who *has* the key cost real time per guess.
//!
//! Why several tokens, and what it costs, is in `docs/decisions/0007-blind-index.md`;
//! the residual risk in one line: whoever holds the agreement key can test a guessed
//! name and date of birth against an index, so the key must be guarded like the case
//! store itself.
//!
//! ```
//! use caravan_core::dedup::{BirthDate, BlindIndex, DedupKey, Identity, MatchStrength};
//! # fn main() -> caravan_core::Result<()> {
//! // Generated once per data-sharing agreement and handed over in person.
//! let key = DedupKey::generate()?;
//!
//! // Agency A (Almaty) types the details from a Kazakh passport …
//! let a = Identity::new("Aigerim", "KAIRATKYZY", BirthDate::full(1999, 3, 14)?)?
//!     .with_place_of_birth("Shymkent");
//! let index_a = BlindIndex::compute(&key, &a)?;
//! drop(a); // the details are zeroized; only the index is kept
//!
//! // … agency B (Bishkek) types them in Cyrillic, family name first.
//! let b = Identity::new("Кайраткызы", "Айгерим", BirthDate::parse("14.03.1999")?)?;
//! let index_b = BlindIndex::compute(&key, &b)?;
//!
//! let found = index_a.compare(&index_b).expect("possible same person");
//! assert_eq!(found.strength, MatchStrength::Strong);
//!
//! // Only the tokens travel (CBOR, about 130 bytes).
//! let wire = index_a.to_cbor()?;
//! assert_eq!(BlindIndex::from_cbor(&wire)?, index_a);
//! # Ok(()) }
//! ```

mod exchange;
mod normalize;

pub use exchange::{
    find_duplicates, find_duplicates_within, IndexEntry, IndexList, PossibleDuplicate,
    INDEX_LIST_VERSION, KEY_CODE_PREFIX, MAX_INDEX_LIST_BYTES, MAX_INDEX_LIST_ENTRIES,
};

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::argon2id::Argon2id;
use crate::crypto::hkdf::Prk;
use crate::crypto::mac::HmacKey;
use crate::error::{Error, Result};

/// The version of the blind-index scheme (normalization, token kinds, encoding). A
/// change to any of them changes every token, so it gets a new version.
pub const BLIND_INDEX_VERSION: u32 = 1;

/// Bytes kept of each token.
pub const TOKEN_LEN: usize = 16;

/// Longest accepted identity field, in characters.
const MAX_FIELD_CHARS: usize = 200;
/// Most tokens a decoded index may carry.
const MAX_TOKENS: usize = 16;
/// Longest accepted encoded index.
const MAX_ENCODED_LEN: usize = 1024;

const DOMAIN: &[u8] = b"caravan/blind-index/v1";

/// The cost of the Argon2id step applied to every token (see the module docs).
///
/// It is part of the agreement: indices computed with different costs never match, and
/// [`BlindIndex::same_agreement`] tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StretchCost {
    /// Argon2id memory in KiB (at least 8).
    pub memory_kib: u32,
    /// Argon2id passes (at least 1).
    pub iterations: u32,
}

impl StretchCost {
    /// The default for agreements: Argon2id with 16 MiB and 2 passes per token, a few
    /// hundred milliseconds per person on a cheap phone, and the same per guessed name
    /// and date for an attacker who has the key.
    pub const AGREEMENT: StretchCost = StretchCost {
        memory_kib: 16 * 1024,
        iterations: 2,
    };

    /// The cheapest accepted cost (8 KiB, 1 pass). For tests and benchmarks that index
    /// thousands of generated people; it gives no protection against a dictionary.
    pub const MINIMAL: StretchCost = StretchCost {
        memory_kib: 8,
        iterations: 1,
    };

    fn stretcher(self) -> Result<Argon2id> {
        Argon2id::new(
            self.memory_kib,
            self.iterations,
            1,
            TOKEN_LEN,
            "dedup stretch cost",
        )
    }
}

/// The key of one data-sharing agreement for blind indices: 32 bytes, zeroized when
/// dropped, never printed, plus the agreement's [`StretchCost`].
#[derive(Clone)]
pub struct DedupKey {
    bytes: Zeroizing<[u8; 32]>,
    cost: StretchCost,
    /// The fingerprint of key and cost ([`DedupKey::key_id`]), derived when the key is
    /// made so that a failed derivation is an error there.
    key_id: [u8; 8],
}

impl DedupKey {
    /// A fresh random key from the operating system's secure generator, with
    /// [`StretchCost::AGREEMENT`].
    pub fn generate() -> Result<DedupKey> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        crate::crypto::fill_random(bytes.as_mut())?;
        DedupKey::with_id(bytes, StretchCost::AGREEMENT)
    }

    /// The key with its fingerprint.
    fn with_id(bytes: Zeroizing<[u8; 32]>, cost: StretchCost) -> Result<DedupKey> {
        let mut key = DedupKey {
            bytes,
            cost,
            key_id: [0; 8],
        };
        key.key_id = *key.derive::<8>(b"key-id")?;
        Ok(key)
    }

    /// Wraps exactly 32 key bytes (from the agreement, or a device's encrypted store),
    /// with [`StretchCost::AGREEMENT`].
    pub fn from_bytes(bytes: &[u8]) -> Result<DedupKey> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::invalid("dedup key", "a dedup key is exactly 32 bytes"))?;
        DedupKey::with_id(Zeroizing::new(arr), StretchCost::AGREEMENT)
    }

    /// The same key with another stretch cost (all agencies of the agreement must use
    /// the same). Refused if Argon2id does not accept it.
    pub fn with_cost(self, cost: StretchCost) -> Result<DedupKey> {
        cost.stretcher()?;
        DedupKey::with_id(self.bytes, cost)
    }

    /// The stretch cost this key is used with.
    pub fn cost(&self) -> StretchCost {
        self.cost
    }

    /// The key bytes, for storing in an encrypted store or handing to a partner in person.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    fn prk(&self) -> Prk {
        Prk::extract(DOMAIN, self.bytes.as_ref())
    }

    fn derive<const N: usize>(&self, label: &[u8]) -> Result<Zeroizing<[u8; N]>> {
        let cost = [
            self.cost.memory_kib.to_be_bytes(),
            self.cost.iterations.to_be_bytes(),
        ]
        .concat();
        self.prk().expand::<N>(&[label, cost.as_slice()])
    }

    /// An 8-byte fingerprint of the key and cost, stored in the clear in every index so
    /// that indices from different agreements are recognised as incomparable.
    fn key_id(&self) -> [u8; 8] {
        self.key_id
    }
}

impl fmt::Debug for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DedupKey(<redacted>)")
    }
}

/// A date of birth: a full date, or the year alone when that is all that is known.
/// Its `Debug` output is redacted.
#[derive(Clone, Copy, PartialEq, Eq, Zeroize)]
pub struct BirthDate {
    year: u16,
    /// 0 when only the year is known.
    month: u8,
    /// 0 when only the year is known.
    day: u8,
}

impl BirthDate {
    const MIN_YEAR: u16 = 1900;
    const MAX_YEAR: u16 = 2100;

    /// A full date; refused unless it exists in the Gregorian calendar (1900–2100).
    pub fn full(year: u16, month: u8, day: u8) -> Result<BirthDate> {
        Self::check_year(year)?;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (year.is_multiple_of(4) && !year.is_multiple_of(100))
                || year.is_multiple_of(400) =>
            {
                29
            }
            2 => 28,
            _ => return Err(Error::invalid("date of birth", "the month is not 1–12")),
        };
        if day == 0 || day > days {
            return Err(Error::invalid(
                "date of birth",
                "the day does not exist in that month",
            ));
        }
        Ok(BirthDate { year, month, day })
    }

    /// The year of birth alone.
    pub fn year(year: u16) -> Result<BirthDate> {
        Self::check_year(year)?;
        Ok(BirthDate {
            year,
            month: 0,
            day: 0,
        })
    }

    /// Parses `YYYY-MM-DD`, `DD.MM.YYYY`, `DD/MM/YYYY` or `YYYY`.
    pub fn parse(text: &str) -> Result<BirthDate> {
        let bad = || {
            Error::invalid(
                "date of birth",
                "use YYYY-MM-DD, DD.MM.YYYY, DD/MM/YYYY or YYYY",
            )
        };
        let text = text.trim();
        let num = |s: &str| -> Result<u16> {
            if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        let small = |s: &str| -> Result<u8> {
            let n = num(s)?;
            if s.len() > 2 {
                return Err(bad());
            }
            u8::try_from(n).map_err(|_| bad())
        };
        let parts: Vec<&str> = text.split(['-', '.', '/']).collect();
        match parts.as_slice() {
            [y] if y.len() == 4 => BirthDate::year(num(y)?),
            [y, m, d] if y.len() == 4 && text.contains('-') => {
                BirthDate::full(num(y)?, small(m)?, small(d)?)
            }
            [d, m, y] if y.len() == 4 && !text.contains('-') => {
                BirthDate::full(num(y)?, small(m)?, small(d)?)
            }
            _ => Err(bad()),
        }
    }

    /// Whether day and month are known.
    pub fn is_full(&self) -> bool {
        self.month != 0
    }

    fn check_year(year: u16) -> Result<()> {
        if (Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year) {
            Ok(())
        } else {
            Err(Error::invalid(
                "date of birth",
                "the year is outside 1900–2100",
            ))
        }
    }

    fn year_text(&self) -> String {
        format!("{:04}", self.year)
    }

    fn full_text(&self) -> Option<String> {
        self.is_full()
            .then(|| format!("{:04}-{:02}-{:02}", self.year, self.month, self.day))
    }
}

impl fmt::Debug for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BirthDate(<redacted>)")
    }
}

/// The identifying details of a person, typed on the device only to compute a
/// [`BlindIndex`]. Never stored, serialized or printed: its `Debug` output is
/// redacted, it has no `Serialize`, and its text is zeroized when it is dropped (copies
/// the app made of the input, e.g. in text fields, are the app's to clear).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Identity {
    given_names: String,
    family_name: String,
    patronymic: Option<String>,
    birth_date: BirthDate,
    place_of_birth: Option<String>,
}

impl Identity {
    /// Given name(s), family name and date of birth. Either name field may hold the
    /// other (the order does not matter); the family name may be empty for a person
    /// with a single name, but not both. Each field is at most 200 characters.
    pub fn new(given_names: &str, family_name: &str, birth_date: BirthDate) -> Result<Identity> {
        check_len("given names", given_names)?;
        check_len("family name", family_name)?;
        if normalize::field_skeleton(given_names).len()
            + normalize::field_skeleton(family_name).len()
            < 2
        {
            return Err(Error::invalid(
                "name",
                "enter the given and family name in Cyrillic or Latin letters",
            ));
        }
        Ok(Identity {
            given_names: given_names.to_owned(),
            family_name: family_name.to_owned(),
            patronymic: None,
            birth_date,
            place_of_birth: None,
        })
    }

    /// Adds the patronymic (`Kairatovich`, `Kairatuly`, `Rustam o‘g‘li`, `Nurlan kyzy`:
    /// the Russian and the national forms are treated alike). Ignored if it has no
    /// letters or is longer than 200 characters.
    pub fn with_patronymic(mut self, patronymic: &str) -> Identity {
        if check_len("patronymic", patronymic).is_ok() {
            self.patronymic = Some(patronymic.to_owned());
        }
        self
    }

    /// Adds the place of birth: the settlement only (`Osh`, `г. Ош`, `Shymkent`);
    /// anything after a comma (region, country) and words like `г.`, `село`, `аул`,
    /// `qishloq` are ignored. Ignored if longer than 200 characters.
    pub fn with_place_of_birth(mut self, place: &str) -> Identity {
        if check_len("place of birth", place).is_ok() {
            self.place_of_birth = Some(place.to_owned());
        }
        self
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Identity(<redacted>)")
    }
}

fn check_len(field: &str, value: &str) -> Result<()> {
    if value.chars().count() > MAX_FIELD_CHARS {
        Err(Error::invalid(field, "longer than 200 characters"))
    } else {
        Ok(())
    }
}

/// How strongly two indices suggest the same person. Ordered: `Weak < Probable < Strong`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MatchStrength {
    /// Same name and birth year, but nothing else agrees (or the full dates differ):
    /// worth a look, often a namesake.
    Weak,
    /// A spelling variant of the name with the same full date of birth, or the same name
    /// and birth year with the same patronymic or place of birth while a full date is
    /// missing on one side.
    Probable,
    /// The same name (up to transliteration and order) and the same full date of birth.
    Strong,
}

/// One combination of fields that a token covers.
///
/// Encoded as a small integer; codes this build does not know (from a newer version)
/// are kept as [`TokenKind::Unknown`] and never match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "u8", into = "u8")]
pub enum TokenKind {
    /// Name skeleton (given and family, any order) + full date of birth. Strong.
    NameDob,
    /// Coarse name key (surname root; `o`/`a` and `e`/`i` alike, first vowel any) +
    /// full date of birth. Probable.
    CoarseNameDob,
    /// Name skeleton + patronymic root + birth year. Probable (weak if both full dates
    /// are known and differ).
    NamePatronymicYear,
    /// Name skeleton + place of birth + birth year. Probable (weak if both full dates
    /// are known and differ).
    NamePlaceYear,
    /// Name skeleton + birth year. Weak.
    NameYear,
    /// A kind from a newer version.
    Unknown(u8),
}

impl TokenKind {
    /// The strength of a match on this token alone.
    pub fn strength(self) -> Option<MatchStrength> {
        match self {
            TokenKind::NameDob => Some(MatchStrength::Strong),
            TokenKind::CoarseNameDob | TokenKind::NamePatronymicYear | TokenKind::NamePlaceYear => {
                Some(MatchStrength::Probable)
            }
            TokenKind::NameYear => Some(MatchStrength::Weak),
            TokenKind::Unknown(_) => None,
        }
    }

    /// A short English description, for showing why two records were flagged.
    pub fn describe(self) -> &'static str {
        match self {
            TokenKind::NameDob => "same name and date of birth",
            TokenKind::CoarseNameDob => "similar name and same date of birth",
            TokenKind::NamePatronymicYear => "same name, patronymic and year of birth",
            TokenKind::NamePlaceYear => "same name, place and year of birth",
            TokenKind::NameYear => "same name and year of birth",
            TokenKind::Unknown(_) => "a criterion of a newer version",
        }
    }

    /// Whether this kind covers the full date of birth.
    fn uses_full_date(self) -> bool {
        matches!(self, TokenKind::NameDob | TokenKind::CoarseNameDob)
    }
}

impl From<u8> for TokenKind {
    fn from(code: u8) -> Self {
        match code {
            1 => TokenKind::NameDob,
            2 => TokenKind::CoarseNameDob,
            3 => TokenKind::NamePatronymicYear,
            4 => TokenKind::NamePlaceYear,
            5 => TokenKind::NameYear,
            other => TokenKind::Unknown(other),
        }
    }
}

impl From<TokenKind> for u8 {
    fn from(kind: TokenKind) -> u8 {
        match kind {
            TokenKind::NameDob => 1,
            TokenKind::CoarseNameDob => 2,
            TokenKind::NamePatronymicYear => 3,
            TokenKind::NamePlaceYear => 4,
            TokenKind::NameYear => 5,
            TokenKind::Unknown(code) => code,
        }
    }
}

/// One keyed token of a [`BlindIndex`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlindToken {
    /// Which fields it covers.
    #[serde(rename = "k")]
    pub kind: TokenKind,
    /// `Argon2id(HMAC-SHA256(…))`, 16 bytes.
    #[serde(rename = "t", with = "serde_bytes")]
    pub tag: [u8; TOKEN_LEN],
}

/// The blind index of a person: what is stored with a case and shared with partner
/// agencies in place of identifying details. It holds the scheme version, an 8-byte
/// fingerprint of the agreement key, and the tokens; nothing else.
///
/// Serializes with serde (CBOR map with short keys: `v`, `k`, `t`); use
/// [`BlindIndex::to_cbor`] / [`BlindIndex::from_cbor`] for the checked wire form. Its
/// `Debug` output lists the token kinds but not the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlindIndex {
    /// Scheme version ([`BLIND_INDEX_VERSION`]).
    #[serde(rename = "v")]
    pub version: u32,
    /// Fingerprint of the agreement key and stretch cost.
    #[serde(rename = "k", with = "serde_bytes")]
    pub key_id: [u8; 8],
    /// The tokens, sorted by kind.
    #[serde(rename = "t")]
    pub tokens: Vec<BlindToken>,
}

/// A "possible same person" flag: how strong, and which tokens matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupMatch {
    /// How strongly the indices suggest the same person.
    pub strength: MatchStrength,
    /// The kinds of the tokens that matched (describe them with [`TokenKind::describe`]).
    pub matched: Vec<TokenKind>,
}

impl DedupMatch {
    /// The reason in words, strongest criterion first.
    pub fn reason(&self) -> String {
        let mut kinds = self.matched.clone();
        kinds.sort_by_key(|k| std::cmp::Reverse(k.strength()));
        kinds
            .iter()
            .map(|k| k.describe())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The normalized fields of an identity, dropped (and zeroized) after tokenizing.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Normalized {
    /// Name skeletons of the given-name and family-name fields, sorted.
    names: Vec<String>,
    /// Coarse keys of the same, sorted.
    coarse: Vec<String>,
    patronymic: Option<String>,
    place: Option<String>,
    year: String,
    date: Option<String>,
}

/// Settlement-type words left out of places of birth (as skeletons of these spellings).
const PLACE_STOP_WORDS: &[&str] = &[
    "г",
    "гор",
    "город",
    "с",
    "село",
    "п",
    "пос",
    "посёлок",
    "пгт",
    "аул",
    "ауыл",
    "кишлак",
    "қишлоқ",
    "qishloq",
    "shahri",
    "shahar",
    "город",
    "деревня",
    "д",
    "ст",
    "станция",
    "city",
    "town",
    "village",
    "kent",
];

fn place_skeleton(place: &str) -> Option<String> {
    let settlement = place.split([',', ';', '(']).next().unwrap_or_default();
    let stop: Vec<String> = PLACE_STOP_WORDS
        .iter()
        .map(|w| normalize::word_skeleton(w))
        .collect();
    let mut out = String::new();
    for word in settlement
        .split(|c: char| c.is_whitespace() || matches!(c, '-' | '.' | '/'))
        .filter(|w| !w.is_empty())
    {
        let sk = normalize::word_skeleton(word);
        if !stop.contains(&sk) {
            out.push_str(&sk);
        }
    }
    (out.len() >= 2).then_some(out)
}

impl Normalized {
    fn of(identity: &Identity) -> Normalized {
        let mut names: Vec<String> = [&identity.given_names, &identity.family_name]
            .iter()
            .map(|f| normalize::field_skeleton(f))
            .filter(|s| !s.is_empty())
            .collect();
        names.sort();
        let mut coarse: Vec<String> = names
            .iter()
            .map(|s| normalize::coarse(normalize::root(s)))
            .collect();
        coarse.sort();
        let patronymic = identity
            .patronymic
            .as_deref()
            .map(normalize::field_skeleton)
            .map(|s| normalize::root(&s).to_owned())
            .filter(|s| s.len() >= 2);
        let place = identity.place_of_birth.as_deref().and_then(place_skeleton);
        Normalized {
            names,
            coarse,
            patronymic,
            place,
            year: identity.birth_date.year_text(),
            date: identity.birth_date.full_text(),
        }
    }

    /// The fields of each token, in order.
    fn token_inputs(&self) -> Vec<(TokenKind, Vec<&str>)> {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let coarse: Vec<&str> = self.coarse.iter().map(String::as_str).collect();
        fn with<'a>(list: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
            // The number of name parts goes first, so fields cannot shift into each other.
            let mut v = vec![if list.len() == 1 { "1" } else { "2" }];
            v.extend_from_slice(list);
            v.extend_from_slice(extra);
            v
        }
        let mut out = Vec::new();
        if let Some(date) = &self.date {
            out.push((TokenKind::NameDob, with(&names, &[date.as_str()])));
            out.push((TokenKind::CoarseNameDob, with(&coarse, &[date.as_str()])));
        }
        if let Some(p) = &self.patronymic {
            out.push((
                TokenKind::NamePatronymicYear,
                with(&names, &[p.as_str(), self.year.as_str()]),
            ));
        }
        if let Some(place) = &self.place {
            out.push((
                TokenKind::NamePlaceYear,
                with(&names, &[place.as_str(), self.year.as_str()]),
            ));
        }
        out.push((TokenKind::NameYear, with(&names, &[self.year.as_str()])));
        out
    }
}

/// The HMAC input of one token: domain label, kind, then each field length-prefixed.
fn token_message(kind: TokenKind, fields: &[&str]) -> Zeroizing<Vec<u8>> {
    let mut msg = Zeroizing::new(Vec::with_capacity(64));
    msg.extend_from_slice(&(DOMAIN.len() as u32).to_be_bytes());
    msg.extend_from_slice(DOMAIN);
    msg.push(u8::from(kind));
    msg.extend_from_slice(&(fields.len() as u32).to_be_bytes());
    for f in fields {
        msg.extend_from_slice(&(f.len() as u32).to_be_bytes());
        msg.extend_from_slice(f.as_bytes());
    }
    msg
}

impl BlindIndex {
    /// Computes the blind index of `identity` under the agreement `key`.
    ///
    /// Costs one HMAC-SHA256 and one Argon2id (at the key's [`StretchCost`]) per token;
    /// 3–5 tokens per person.
    pub fn compute(key: &DedupKey, identity: &Identity) -> Result<BlindIndex> {
        let normalized = Normalized::of(identity);
        let hmac_key = HmacKey::new(key.derive::<32>(b"token")?.as_ref());
        let salt = key.derive::<16>(b"stretch-salt")?;
        let argon = key.cost.stretcher()?;
        let mut tokens = Vec::new();
        for (kind, fields) in normalized.token_inputs() {
            let mac = Zeroizing::new(hmac_key.sign(&token_message(kind, &fields)));
            let mut tag = [0u8; TOKEN_LEN];
            argon.hash_into(mac.as_ref(), salt.as_ref(), &mut tag)?;
            tokens.push(BlindToken { kind, tag });
        }
        tokens.sort_by_key(|t| t.kind);
        Ok(BlindIndex {
            version: BLIND_INDEX_VERSION,
            key_id: key.key_id(),
            tokens,
        })
    }

    /// The key that links this person's cases when agencies combine their statistics
    /// (`caravan export … --input`): the agreement key's fingerprint and the strong
    /// token (whole name with the full date of birth), in hex. `None` without a full
    /// date of birth: weaker tokens are for a human to follow up, not for counting.
    pub fn link_key(&self) -> Option<String> {
        let token = self.tokens.iter().find(|t| t.kind == TokenKind::NameDob)?;
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        Some(format!("{}:{}", hex(&self.key_id), hex(&token.tag)))
    }

    /// Whether both indices were computed under the same agreement key, stretch cost
    /// and scheme version (otherwise they can never match).
    pub fn same_agreement(&self, other: &BlindIndex) -> bool {
        self.version == other.version && self.key_id == other.key_id
    }

    /// Whether this index covers a full date of birth.
    pub fn has_full_date(&self) -> bool {
        self.tokens.iter().any(|t| t.kind.uses_full_date())
    }

    /// Compares two indices: `Some` with the strength and the matching criteria if
    /// they suggest the same person, `None` otherwise (including indices of different
    /// agreements or versions). Tags are compared in constant time.
    ///
    /// When both indices cover a full date of birth and the dates differ (no full-date
    /// token matched), a match on the name and year of birth is at most
    /// [`MatchStrength::Weak`], whatever else agrees.
    pub fn compare(&self, other: &BlindIndex) -> Option<DedupMatch> {
        compare(self, other)
    }

    /// The checked CBOR encoding.
    pub fn to_cbor(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(160);
        ciborium::into_writer(self, &mut out)
            .map_err(|e| Error::Internal(format!("encoding a blind index: {e}")))?;
        Ok(out)
    }

    /// Decodes and checks [`BlindIndex::to_cbor`]'s output: refuses more than 1 KiB,
    /// another version, more than 16 tokens, or a kind twice.
    pub fn from_cbor(bytes: &[u8]) -> Result<BlindIndex> {
        if bytes.len() > MAX_ENCODED_LEN {
            return Err(Error::invalid("blind index", "longer than 1 KiB"));
        }
        let index: BlindIndex = ciborium::from_reader(bytes)
            .map_err(|_| Error::invalid("blind index", "not a valid encoding"))?;
        index.check()?;
        Ok(index)
    }

    /// The checks of [`BlindIndex::from_cbor`] on a decoded index.
    pub(crate) fn check(&self) -> Result<()> {
        let bad = |reason: &str| Error::invalid("blind index", reason);
        let index = self;
        if index.version != BLIND_INDEX_VERSION {
            return Err(bad("made by another version of the scheme"));
        }
        if index.tokens.is_empty() || index.tokens.len() > MAX_TOKENS {
            return Err(bad("wrong number of tokens"));
        }
        let mut kinds: Vec<TokenKind> = index.tokens.iter().map(|t| t.kind).collect();
        kinds.sort();
        kinds.dedup();
        if kinds.len() != index.tokens.len() {
            return Err(bad("a token kind appears twice"));
        }
        Ok(())
    }
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<TokenKind> = self.tokens.iter().map(|t| t.kind).collect();
        f.debug_struct("BlindIndex")
            .field("version", &self.version)
            .field("kinds", &kinds)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for BlindToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindToken")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn constant_time_eq(a: &[u8; TOKEN_LEN], b: &[u8; TOKEN_LEN]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Compares two indices; see [`BlindIndex::compare`].
pub fn compare(a: &BlindIndex, b: &BlindIndex) -> Option<DedupMatch> {
    if !a.same_agreement(b) {
        return None;
    }
    let mut matched = Vec::new();
    for ta in &a.tokens {
        if ta.kind.strength().is_none() {
            continue;
        }
        if b.tokens
            .iter()
            .any(|tb| tb.kind == ta.kind && constant_time_eq(&ta.tag, &tb.tag))
            && !matched.contains(&ta.kind)
        {
            matched.push(ta.kind);
        }
    }
    let mut strength = matched.iter().filter_map(|k| k.strength()).max()?;
    let dates_differ =
        a.has_full_date() && b.has_full_date() && !matched.iter().any(|k| k.uses_full_date());
    if dates_differ {
        strength = MatchStrength::Weak;
    }
    Some(DedupMatch { strength, matched })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DedupKey {
        DedupKey::from_bytes(&[7u8; 32])
            .and_then(|k| k.with_cost(StretchCost::MINIMAL))
            .expect("key")
    }

    fn index(key: &DedupKey, given: &str, family: &str, dob: &str) -> BlindIndex {
        let id = Identity::new(given, family, BirthDate::parse(dob).expect("dob")).expect("id");
        BlindIndex::compute(key, &id).expect("index")
    }

    fn strength(a: &BlindIndex, b: &BlindIndex) -> Option<MatchStrength> {
        a.compare(b).map(|m| m.strength)
    }

    #[test]
    fn transliterations_and_order_match_strongly() {
        let k = key();
        let a = index(&k, "Nurlan", "KAIRATULY", "1990-05-01");
        let b = index(&k, "Қайратұлы", "Нұрлан", "01.05.1990");
        let c = index(&k, "Nurlan", "Qaıratuly", "01/05/1990");
        assert_eq!(strength(&a, &b), Some(MatchStrength::Strong));
        assert_eq!(strength(&a, &c), Some(MatchStrength::Strong));
        for (x, y) in [
            ("Aigerim", "Айгерим"),
            ("Zhanar", "Жанар"),
            ("Janar", "Zhanar"),
            ("Iuliia", "Юлия"),
            ("Yuliya", "Iuliia"),
            ("Khurshed", "Хуршед"),
            ("Hurshed", "Khurshed"),
            ("Shohruh", "Шохрух"),
            ("Shokhrukh", "Shohruh"),
        ] {
            let a = index(&k, x, "Tursunova", "2001-12-31");
            let b = index(&k, y, "Турсунова", "2001-12-31");
            assert_eq!(strength(&a, &b), Some(MatchStrength::Strong), "{x} vs {y}");
        }
    }

    #[test]
    fn spelling_variants_match_probably() {
        let k = key();
        let a = index(&k, "Shakhrukh", "Rakhmonov", "1995-07-20");
        let b = index(&k, "Shohruh", "Rahmonzoda", "1995-07-20");
        let m = a.compare(&b).expect("match");
        assert_eq!(m.strength, MatchStrength::Probable);
        assert_eq!(m.matched, vec![TokenKind::CoarseNameDob]);
        assert_eq!(m.reason(), "similar name and same date of birth");
    }

    #[test]
    fn different_people_and_dates() {
        let k = key();
        let a = index(&k, "Aigerim", "Kairatkyzy", "1999-03-14");
        // Similar name, different date of birth: nothing.
        assert_eq!(
            strength(&a, &index(&k, "Aigerim", "Kairatkyzy", "1998-03-14")),
            None
        );
        assert_eq!(
            strength(&a, &index(&k, "Aigul", "Kairatkyzy", "1999-03-14")),
            None
        );
        // Same name, same year, other day: at most weak.
        assert_eq!(
            strength(&a, &index(&k, "Aigerim", "Kairatkyzy", "1999-03-15")),
            Some(MatchStrength::Weak)
        );
        // Year only on one side: weak.
        assert_eq!(
            strength(&a, &index(&k, "Aigerim", "Kairatkyzy", "1999")),
            Some(MatchStrength::Weak)
        );
        // Another agreement key: never.
        let other = DedupKey::from_bytes(&[8u8; 32])
            .and_then(|k| k.with_cost(StretchCost::MINIMAL))
            .expect("key");
        let b = index(&other, "Aigerim", "Kairatkyzy", "1999-03-14");
        assert!(!a.same_agreement(&b));
        assert_eq!(strength(&a, &b), None);
        // Same key, other cost: never.
        let slow = DedupKey::from_bytes(&[7u8; 32])
            .and_then(|k| {
                k.with_cost(StretchCost {
                    memory_kib: 16,
                    iterations: 1,
                })
            })
            .expect("key");
        assert_eq!(
            strength(&a, &index(&slow, "Aigerim", "Kairatkyzy", "1999-03-14")),
            None
        );
    }

    #[test]
    fn twins_with_similar_names_are_not_flagged() {
        let k = key();
        for (x, y) in [("Hasan", "Husan"), ("Marat", "Murat"), ("Aziz", "Aziza")] {
            let a = index(&k, x, "Karimov", "2004-06-01");
            let b = index(&k, y, "Karimov", "2004-06-01");
            assert_eq!(strength(&a, &b), None, "{x} vs {y}");
        }
    }

    #[test]
    fn patronymic_and_place_lift_year_only_matches() {
        let k = key();
        let full = Identity::new("Bakyt", "Asanov", BirthDate::full(1980, 1, 2).expect("d"))
            .expect("id")
            .with_patronymic("Kubanychbekovich")
            .with_place_of_birth("г. Ош, Кыргызстан");
        let year = Identity::new("Бакыт", "Асанов", BirthDate::year(1980).expect("d"))
            .expect("id")
            .with_patronymic("Кубанычбек уулу")
            .with_place_of_birth("Osh");
        let a = BlindIndex::compute(&k, &full).expect("a");
        let b = BlindIndex::compute(&k, &year).expect("b");
        let m = a.compare(&b).expect("match");
        assert_eq!(m.strength, MatchStrength::Probable);
        assert_eq!(
            m.matched,
            vec![
                TokenKind::NamePatronymicYear,
                TokenKind::NamePlaceYear,
                TokenKind::NameYear
            ]
        );
        // Both full and different: capped at weak although patronymic and place agree.
        let other_day = Identity::new("Бакыт", "Асанов", BirthDate::full(1980, 2, 1).expect("d"))
            .expect("id")
            .with_patronymic("Кубанычбекович")
            .with_place_of_birth("Ош");
        let c = BlindIndex::compute(&k, &other_day).expect("c");
        assert_eq!(strength(&a, &c), Some(MatchStrength::Weak));
    }

    #[test]
    fn cbor_round_trip_and_strict_decoding() {
        let k = key();
        let a = index(&k, "Dilnoza", "Karimova", "2003-02-28");
        let bytes = a.to_cbor().expect("cbor");
        assert!(bytes.len() < 200, "{} bytes", bytes.len());
        assert_eq!(BlindIndex::from_cbor(&bytes).expect("decode"), a);
        for cut in 0..bytes.len() {
            assert!(
                BlindIndex::from_cbor(&bytes[..cut]).is_err(),
                "truncated at {cut}"
            );
        }
        let mut newer = a.clone();
        newer.version = 2;
        assert!(BlindIndex::from_cbor(&newer.to_cbor().expect("cbor")).is_err());
        let mut twice = a.clone();
        twice.tokens.push(twice.tokens[0].clone());
        assert!(BlindIndex::from_cbor(&twice.to_cbor().expect("cbor")).is_err());
        // An unknown token kind from a newer build is kept and ignored.
        let mut unknown = a.clone();
        unknown.tokens.push(BlindToken {
            kind: TokenKind::Unknown(42),
            tag: [0; TOKEN_LEN],
        });
        let decoded = BlindIndex::from_cbor(&unknown.to_cbor().expect("cbor")).expect("decode");
        assert_eq!(
            decoded.tokens.last().map(|t| t.kind),
            Some(TokenKind::Unknown(42))
        );
        assert_eq!(strength(&decoded, &a), Some(MatchStrength::Strong));
        assert!(BlindIndex::from_cbor(&vec![0u8; 2000]).is_err());
    }

    #[test]
    fn nothing_identifying_is_printed_or_stored() {
        let k = key();
        assert_eq!(format!("{k:?}"), "DedupKey(<redacted>)");
        let id = Identity::new(
            "Aigerim",
            "Kairatkyzy",
            BirthDate::full(1999, 3, 14).expect("d"),
        )
        .expect("id")
        .with_place_of_birth("Shymkent");
        let dbg = format!("{id:?} {:?}", BirthDate::full(1999, 3, 14).expect("d"));
        assert!(!dbg.contains("Aigerim") && !dbg.contains("1999"), "{dbg}");
        let index = BlindIndex::compute(&k, &id).expect("index");
        let bytes = index.to_cbor().expect("cbor");
        for needle in ["aigerim", "kairat", "1999", "shymkent", "aigrm"] {
            assert!(
                !bytes
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle.as_bytes())),
                "{needle}"
            );
        }
        assert!(!format!("{index:?}").contains("tag"));
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(BirthDate::full(1999, 2, 29).is_err());
        assert!(BirthDate::full(2000, 2, 29).is_ok());
        assert!(BirthDate::full(1999, 13, 1).is_err());
        assert!(BirthDate::full(1899, 1, 1).is_err());
        for bad in [
            "",
            "99",
            "1999-3",
            "14.03.99",
            "1999-03-14x",
            "31.02.2000",
            "+1999",
        ] {
            assert!(BirthDate::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            BirthDate::parse(" 14.03.1999 ").expect("d"),
            BirthDate::full(1999, 3, 14).expect("d")
        );
        let d = BirthDate::year(1999).expect("d");
        assert!(Identity::new("", "", d).is_err());
        assert!(Identity::new("123", "—", d).is_err());
        assert!(Identity::new(&"a".repeat(201), "Asanov", d).is_err());
        assert!(DedupKey::from_bytes(&[0; 31]).is_err());
        assert!(key()
            .with_cost(StretchCost {
                memory_kib: 1,
                iterations: 1
            })
            .is_err());
        // A single name is accepted.
        assert!(Identity::new("Aigerim", "", d).is_ok());
    }

    #[test]
    fn agreement_cost_is_affordable() {
        let k = DedupKey::generate().expect("key");
        assert_eq!(k.cost(), StretchCost::AGREEMENT);
        let id = Identity::new(
            "Aigerim",
            "Kairatkyzy",
            BirthDate::full(1999, 3, 14).expect("d"),
        )
        .expect("id")
        .with_patronymic("Kairatovna")
        .with_place_of_birth("Shymkent");
        let start = std::time::Instant::now();
        let a = BlindIndex::compute(&k, &id).expect("index");
        let elapsed = start.elapsed();
        eprintln!("agreement cost: {} tokens in {elapsed:?}", a.tokens.len());
        assert_eq!(a.tokens.len(), 5);
        assert_eq!(
            a.compare(&a).map(|m| m.strength),
            Some(MatchStrength::Strong)
        );
    }
}

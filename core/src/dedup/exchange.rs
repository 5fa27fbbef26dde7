//! What travels between agencies: the agreement key as a hand-over code, and lists of
//! blind indices with the case they belong to.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::{BlindIndex, DedupKey, DedupMatch, StretchCost, TokenKind, TOKEN_LEN};
use crate::error::{Error, Result};
use crate::ids::CaseId;

/// Prefix of a key hand-over code (see [`DedupKey::to_handover_code`]).
pub const KEY_CODE_PREFIX: &str = "caravan-dedup-key:";
/// Version byte of the hand-over code.
const KEY_CODE_VERSION: u8 = 1;
/// Version byte of the sealed key kept in a store.
const KEY_STORED_VERSION: u8 = 1;
/// Payload of the hand-over code and of the stored key: version, cost, key.
const KEY_PAYLOAD_LEN: usize = 1 + 4 + 4 + 32;
/// Bytes of checksum at the end of a hand-over code.
const KEY_CHECK_LEN: usize = 4;

/// Version of [`IndexList`].
pub const INDEX_LIST_VERSION: u32 = 1;
/// Longest accepted encoded [`IndexList`] (64 MiB).
pub const MAX_INDEX_LIST_BYTES: usize = 64 << 20;
/// Most entries an [`IndexList`] may hold.
pub const MAX_INDEX_LIST_ENTRIES: usize = 200_000;

const B32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32(data: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(data.len() * 8 / 5 + 1));
    let (mut buf, mut bits) = (0u64, 0u32);
    for &b in data {
        buf = ((buf << 8) | u64::from(b)) & 0xffff;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(B32_ALPHABET[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(
            B32_ALPHABET[((buf << (5 - bits)) & 31) as usize],
        ));
    }
    buf.zeroize();
    out
}

fn unbase32(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(s.len() * 5 / 8));
    let (mut buf, mut bits) = (0u64, 0u32);
    for c in s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\n' | '\r' | '\t'))
    {
        let v = B32_ALPHABET
            .iter()
            .position(|a| char::from(*a) == c.to_ascii_uppercase())? as u64;
        buf = ((buf << 5) | v) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    buf.zeroize();
    Some(out)
}

fn checksum(payload: &[u8]) -> [u8; KEY_CHECK_LEN] {
    let d = crate::crypto::sha256(&[KEY_CODE_PREFIX.as_bytes(), payload].concat());
    let mut out = [0u8; KEY_CHECK_LEN];
    out.copy_from_slice(&d.as_ref()[..KEY_CHECK_LEN]);
    out
}

impl DedupKey {
    fn payload(&self, version: u8) -> Zeroizing<Vec<u8>> {
        let mut p = Zeroizing::new(Vec::with_capacity(KEY_PAYLOAD_LEN + KEY_CHECK_LEN));
        p.push(version);
        p.extend_from_slice(&self.cost.memory_kib.to_be_bytes());
        p.extend_from_slice(&self.cost.iterations.to_be_bytes());
        p.extend_from_slice(self.bytes.as_ref());
        p
    }

    fn from_payload(p: &[u8], version: u8, what: &str) -> Result<DedupKey> {
        let bad = |reason: &str| Error::invalid(what, reason);
        if p.len() != KEY_PAYLOAD_LEN {
            return Err(bad("wrong length"));
        }
        if p[0] != version {
            return Err(bad("made by another version of Caravan"));
        }
        let word = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&p[at..at + 4]);
            u32::from_be_bytes(b)
        };
        let cost = StretchCost {
            memory_kib: word(1),
            iterations: word(5),
        };
        DedupKey::from_bytes(&p[9..])?.with_cost(cost)
    }

    /// The key and its stretch cost as a hand-over code, `caravan-dedup-key:` followed
    /// by 72 base32 letters (with a checksum, so a mistyped code is refused rather than
    /// silently giving a key that never matches). Whoever holds it can compute and test
    /// indices: show it in person (as a QR code), never send it through a messenger.
    pub fn to_handover_code(&self) -> Zeroizing<String> {
        let mut p = self.payload(KEY_CODE_VERSION);
        let check = checksum(&p);
        p.extend_from_slice(&check);
        let body = base32(&p);
        let mut out = Zeroizing::new(String::with_capacity(KEY_CODE_PREFIX.len() + body.len()));
        out.push_str(KEY_CODE_PREFIX);
        out.push_str(&body);
        out
    }

    /// Reads [`DedupKey::to_handover_code`]'s output (case, spaces and dashes in the
    /// letters do not matter). A typo, a truncated code or another kind of code is
    /// refused with [`Error::InvalidInput`], which never repeats the code.
    pub fn from_handover_code(text: &str) -> Result<DedupKey> {
        let bad = |reason: &str| Error::invalid("dedup key code", reason);
        let text = text.trim();
        let body = text
            .get(..KEY_CODE_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(KEY_CODE_PREFIX))
            .and_then(|_| text.get(KEY_CODE_PREFIX.len()..))
            .ok_or_else(|| bad("it does not start with caravan-dedup-key:"))?;
        let raw = unbase32(body).ok_or_else(|| bad("it contains letters that are not base32"))?;
        if raw.len() != KEY_PAYLOAD_LEN + KEY_CHECK_LEN {
            return Err(bad(
                "it is too short or too long; check it was copied whole",
            ));
        }
        let (payload, check) = raw.split_at(KEY_PAYLOAD_LEN);
        if checksum(payload).as_slice() != check {
            return Err(bad("its checksum does not match; check for a typo"));
        }
        DedupKey::from_payload(payload, KEY_CODE_VERSION, "dedup key code")
    }

    /// A short public fingerprint of the key and cost (`a1b2-c3d4-e5f6-0718`), the
    /// same one every index made with it carries. Agencies compare it, read aloud, to
    /// check they hold the same key; it does not help to recover the key.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.key_id())
    }

    /// The form kept (sealed) in a device's store.
    pub(crate) fn to_stored(&self) -> Zeroizing<Vec<u8>> {
        self.payload(KEY_STORED_VERSION)
    }

    /// Reads [`DedupKey::to_stored`]'s output.
    pub(crate) fn from_stored(bytes: &[u8]) -> Result<DedupKey> {
        DedupKey::from_payload(bytes, KEY_STORED_VERSION, "stored dedup key")
    }
}

fn fingerprint_of(key_id: &[u8; 8]) -> String {
    key_id
        .chunks(2)
        .map(|c| format!("{:02x}{:02x}", c[0], c[1]))
        .collect::<Vec<_>>()
        .join("-")
}

impl BlindIndex {
    /// The fingerprint of the agreement key the index was made with (see
    /// [`DedupKey::fingerprint`]).
    pub fn key_fingerprint(&self) -> String {
        fingerprint_of(&self.key_id)
    }
}

/// One case in an [`IndexList`]: the sending agency's case id and its blind index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The case at the sending agency (a random id: it says nothing about the person,
    /// and lets the agencies follow up a flagged match through their agreement).
    #[serde(rename = "c")]
    pub case: CaseId,
    /// Its blind index.
    #[serde(rename = "i")]
    pub index: BlindIndex,
}

/// The blind indices one agency hands to a partner for duplicate detection: case ids
/// and indices only, no identifying details and no other case content.
///
/// Encoded as CBOR with [`IndexList::to_cbor`]; [`IndexList::from_cbor`] checks
/// everything a hostile file could get wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexList {
    /// Format version ([`INDEX_LIST_VERSION`]).
    #[serde(rename = "v")]
    pub version: u32,
    /// The entries.
    #[serde(rename = "e")]
    pub entries: Vec<IndexEntry>,
}

impl IndexList {
    /// A list of the current version.
    pub fn new(entries: Vec<IndexEntry>) -> IndexList {
        IndexList {
            version: INDEX_LIST_VERSION,
            entries,
        }
    }

    /// The CBOR encoding.
    pub fn to_cbor(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out)
            .map_err(|e| Error::Internal(format!("encoding an index list: {e}")))?;
        Ok(out)
    }

    /// Decodes and checks [`IndexList::to_cbor`]'s output: at most 64 MiB and 200,000
    /// entries, this version, every index valid (as [`BlindIndex::from_cbor`] checks),
    /// no case twice. Every refusal is an [`Error::InvalidInput`].
    pub fn from_cbor(bytes: &[u8]) -> Result<IndexList> {
        let bad = |reason: String| Error::invalid("index list", reason);
        if bytes.len() > MAX_INDEX_LIST_BYTES {
            return Err(bad("larger than 64 MiB".into()));
        }
        let list: IndexList =
            ciborium::from_reader(bytes).map_err(|_| bad("not a valid encoding".into()))?;
        if list.version != INDEX_LIST_VERSION {
            return Err(bad("made by another version of Caravan".into()));
        }
        if list.entries.len() > MAX_INDEX_LIST_ENTRIES {
            return Err(bad("too many entries".into()));
        }
        let mut seen = std::collections::HashSet::with_capacity(list.entries.len());
        for (n, entry) in list.entries.iter().enumerate() {
            entry
                .index
                .check()
                .map_err(|_| bad(format!("entry {} holds an invalid index", n + 1)))?;
            if !seen.insert(entry.case) {
                return Err(bad(format!("entry {} repeats a case", n + 1)));
            }
        }
        Ok(list)
    }
}

/// A "possible same person" flag between one of our cases and another case (a
/// partner's, or another of ours).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PossibleDuplicate {
    /// Our case.
    pub ours: CaseId,
    /// The other case.
    pub other: CaseId,
    /// How strong, and why.
    pub found: DedupMatch,
}

/// Finds every pair `(ours, theirs)` whose indices suggest the same person, strongest
/// first (then by case ids). Indices of other agreements never match, and a case is
/// never paired with itself.
///
/// Pairs are found by their shared tokens (a hash join, so it is fast for tens of
/// thousands of cases), then scored with [`BlindIndex::compare`].
pub fn find_duplicates(
    ours: &[(CaseId, BlindIndex)],
    theirs: &[(CaseId, BlindIndex)],
) -> Vec<PossibleDuplicate> {
    join(ours, theirs, false)
}

/// Like [`find_duplicates`] within one list: each pair of cases appears once.
pub fn find_duplicates_within(cases: &[(CaseId, BlindIndex)]) -> Vec<PossibleDuplicate> {
    join(cases, cases, true)
}

fn join(
    ours: &[(CaseId, BlindIndex)],
    theirs: &[(CaseId, BlindIndex)],
    same_list: bool,
) -> Vec<PossibleDuplicate> {
    let mut by_token: HashMap<(TokenKind, [u8; TOKEN_LEN]), Vec<usize>> = HashMap::new();
    for (n, (_, index)) in theirs.iter().enumerate() {
        for token in &index.tokens {
            by_token.entry((token.kind, token.tag)).or_default().push(n);
        }
    }
    let mut out = Vec::new();
    for (m, (our_id, our_index)) in ours.iter().enumerate() {
        let mut candidates: Vec<usize> = our_index
            .tokens
            .iter()
            .filter_map(|t| by_token.get(&(t.kind, t.tag)))
            .flatten()
            .copied()
            .filter(|&n| {
                if same_list {
                    n > m
                } else {
                    theirs[n].0 != *our_id
                }
            })
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        for n in candidates {
            let (their_id, their_index) = &theirs[n];
            if let Some(found) = our_index.compare(their_index) {
                out.push(PossibleDuplicate {
                    ours: *our_id,
                    other: *their_id,
                    found,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        b.found
            .strength
            .cmp(&a.found.strength)
            .then(a.ours.cmp(&b.ours))
            .then(a.other.cmp(&b.other))
    });
    out
}

impl fmt::Display for PossibleDuplicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "possible same person ({:?}): {} and {}: {}",
            self.found.strength,
            self.ours.short(),
            self.other.short(),
            self.found.reason()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::{BirthDate, Identity, MatchStrength};

    fn key() -> DedupKey {
        DedupKey::from_bytes(&[9u8; 32])
            .and_then(|k| k.with_cost(StretchCost::MINIMAL))
            .expect("key")
    }

    #[test]
    fn handover_code_round_trips_and_refuses_typos() {
        let k = key();
        let code = k.to_handover_code();
        assert!(code.starts_with(KEY_CODE_PREFIX));
        assert_eq!(code.len(), KEY_CODE_PREFIX.len() + 72, "{}", code.len());
        let back = DedupKey::from_handover_code(&code).expect("decode");
        assert_eq!(back.expose_bytes(), k.expose_bytes());
        assert_eq!(back.cost(), k.cost());
        assert_eq!(back.fingerprint(), k.fingerprint());
        // Lowercase, grouped with spaces and dashes: the same key.
        let body = code[KEY_CODE_PREFIX.len()..].to_ascii_lowercase();
        let grouped: Vec<String> = body
            .as_bytes()
            .chunks(6)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let typed = format!("{KEY_CODE_PREFIX}{}", grouped.join("-"));
        assert_eq!(
            DedupKey::from_handover_code(&typed)
                .expect("grouped")
                .expose_bytes(),
            k.expose_bytes()
        );
        // Every single-letter typo is caught.
        let letters: Vec<char> = code[KEY_CODE_PREFIX.len()..].chars().collect();
        for at in 0..letters.len() {
            let mut typo = letters.clone();
            typo[at] = if typo[at] == 'A' { 'B' } else { 'A' };
            let text = format!("{KEY_CODE_PREFIX}{}", typo.iter().collect::<String>());
            let err = DedupKey::from_handover_code(&text).expect_err("refused");
            assert!(!err.to_string().contains(&text[20..40]), "{err}");
        }
        for bad in [
            "",
            "caravan-invite:AAAA",
            KEY_CODE_PREFIX,
            "caravan-dedup-key:0189",
        ] {
            assert!(DedupKey::from_handover_code(bad).is_err(), "{bad}");
        }
        assert_eq!(k.fingerprint().len(), 19);
        assert!(!format!("{k:?}").contains(&code[20..]));
    }

    #[test]
    fn stored_form_round_trips() {
        let k = key();
        let back = DedupKey::from_stored(&k.to_stored()).expect("stored");
        assert_eq!(back.expose_bytes(), k.expose_bytes());
        assert_eq!(back.cost(), StretchCost::MINIMAL);
        assert!(DedupKey::from_stored(&k.to_stored()[1..]).is_err());
    }

    fn person(given: &str, family: &str, dob: &str) -> BlindIndex {
        let id = Identity::new(given, family, BirthDate::parse(dob).expect("dob")).expect("id");
        BlindIndex::compute(&key(), &id).expect("index")
    }

    #[test]
    fn duplicates_are_found_by_shared_tokens() {
        let ours = vec![
            (
                CaseId([1; 16]),
                person("Aigerim", "Kairatkyzy", "1999-03-14"),
            ),
            (CaseId([2; 16]), person("Hasan", "Karimov", "2004-06-01")),
        ];
        let theirs = vec![
            (
                CaseId([11; 16]),
                person("Кайраткызы", "Айгерим", "14.03.1999"),
            ),
            (CaseId([12; 16]), person("Husan", "Karimov", "2004-06-01")),
            (CaseId([13; 16]), person("Aigerim", "Kairatkyzy", "1999")),
        ];
        let found = find_duplicates(&ours, &theirs);
        let pairs: Vec<(u8, u8, MatchStrength)> = found
            .iter()
            .map(|d| (d.ours.0[0], d.other.0[0], d.found.strength))
            .collect();
        assert_eq!(
            pairs,
            vec![(1, 11, MatchStrength::Strong), (1, 13, MatchStrength::Weak)]
        );
        // Within one list: each pair once, never a case with itself.
        let mut all = ours.clone();
        all.extend(theirs.iter().cloned());
        let within = find_duplicates_within(&all);
        assert_eq!(within.len(), 3, "{within:?}");
        assert!(within.iter().all(|d| d.ours != d.other));
    }

    #[test]
    fn index_list_round_trips_and_refuses_hostile_input() {
        let list = IndexList::new(vec![IndexEntry {
            case: CaseId([1; 16]),
            index: person("Dilnoza", "Karimova", "2003-02-28"),
        }]);
        let bytes = list.to_cbor().expect("cbor");
        assert_eq!(IndexList::from_cbor(&bytes).expect("decode"), list);
        for cut in 0..bytes.len() {
            assert!(matches!(
                IndexList::from_cbor(&bytes[..cut]),
                Err(Error::InvalidInput { .. })
            ));
        }
        let mut twice = list.clone();
        twice.entries.push(twice.entries[0].clone());
        assert!(IndexList::from_cbor(&twice.to_cbor().expect("cbor")).is_err());
        let mut empty_index = list.clone();
        empty_index.entries[0].index.tokens.clear();
        assert!(IndexList::from_cbor(&empty_index.to_cbor().expect("cbor")).is_err());
        let mut newer = list;
        newer.version = 2;
        assert!(IndexList::from_cbor(&newer.to_cbor().expect("cbor")).is_err());
    }
}

//! Shared helpers for Caravan's cross-crate tests.
//!
//! The crash-consistency test (`tests/crash.rs`) runs the `crash_writer` binary
//! (`src/bin/crash_writer.rs`), kills it with `SIGKILL` at a random moment and checks
//! the store it leaves behind. The two talk through the writer's stdout, one line per
//! event, in the format defined here:
//!
//! ```text
//! READY                                     printed once, just before the store is opened
//! BEGIN <n> <op> <case-hex or -> <detail>   printed (and flushed) before the call
//! ACK <n> <op> <case-hex> <detail>          printed (and flushed) after it returned Ok
//! ```
//!
//! Only an `ACK` line acknowledges an operation. Because the writer is sequential, at
//! most one operation (the last `BEGIN` without its `ACK`) can be in flight when the
//! process dies; the checker accepts the store with or without that operation.
//!
//! The operations and their details:
//!
//! | op      | call                                          | detail            |
//! |---------|-----------------------------------------------|-------------------|
//! | `add`   | `add_case([note "op <n>", set gender])`       | `gender=<code>`   |
//! | `note`  | `update_case([note "op <n>"])`                | `op <n>`          |
//! | `set`   | `update_case([set <scalar field>])`           | `<field>=<code>`  |
//! | `code`  | `update_case([add <set field> code])`         | `<field>=<code>`  |
//! | `erase` | `erase_case(PersonRequested)`                 | `PersonRequested` |

use std::fmt;

use caravan_core::{ScalarField, SetField, StoreOptions};

/// A small deterministic pseudo-random generator (SplitMix64), so a run can be
/// replayed from its seed without the `rand` crate.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` if `n` is `0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// An index into a slice of length `len` (`0` if it is empty).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

/// Lowercase hexadecimal of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses hexadecimal (either case); `None` if malformed.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// The store options used by the crash test: a small journal limit and few chunks per
/// case, so that kills also land during compactions and whole-document saves.
pub fn crash_options(journal_limit: u64) -> StoreOptions {
    StoreOptions {
        journal_limit,
        max_chunks: 3,
        cache_size: 4,
    }
}

/// Journal limit of the main crash test (8 KiB).
pub const JOURNAL_LIMIT: u64 = 8 << 10;

/// The first line the writer prints, once it is initialised and about to open the
/// store; the test's kill delay counts from it.
pub const READY: &str = "READY";

/// The text of the note written by operation `n`.
pub fn note_text(n: u64) -> String {
    format!("op {n}")
}

/// Scalar fields the writer sets, with the codes it picks from.
pub const SCALARS: &[(ScalarField, &[&str])] = &[
    (
        ScalarField::Gender,
        &[
            "Feminine",
            "Masculine",
            "TransgenderFeminine",
            "TransgenderMasculine",
            "NonConforming",
        ],
    ),
    (
        ScalarField::AgeBand,
        &["0-8", "9-17", "18-20", "21-23", "24-26", "27-29", "30-38"],
    ),
];

/// Set-valued fields the writer adds codes to, with the codes it picks from.
pub const SETS: &[(SetField, &[&str])] = &[
    (
        SetField::MeansOfControl,
        &[
            "PhysicalThreats",
            "DebtBondage",
            "FalsePromises",
            "PhysicalAbuse",
            "TakesEarnings",
        ],
    ),
    (SetField::Citizenship, &["KZ", "KG", "TJ", "UZ", "TM", "RU"]),
];

/// The codes the writer uses for a new case's gender.
pub const GENDERS: &[&str] = &["Feminine", "Masculine", "NonConforming"];

/// The kind of a writer operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// `add_case` with a note and a gender.
    Add,
    /// `update_case` adding a note.
    Note,
    /// `update_case` setting a scalar field.
    Set,
    /// `update_case` adding a code to a set-valued field.
    Code,
    /// `erase_case`.
    Erase,
}

impl OpKind {
    /// The word used on the wire.
    pub fn word(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Note => "note",
            OpKind::Set => "set",
            OpKind::Code => "code",
            OpKind::Erase => "erase",
        }
    }

    /// Parses the word used on the wire.
    pub fn from_word(word: &str) -> Option<OpKind> {
        [
            OpKind::Add,
            OpKind::Note,
            OpKind::Set,
            OpKind::Code,
            OpKind::Erase,
        ]
        .into_iter()
        .find(|k| k.word() == word)
    }
}

/// One line of the writer's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// `true` for `ACK` (the call returned Ok), `false` for `BEGIN` (about to call).
    pub ack: bool,
    /// Operation number, unique over a whole test run.
    pub n: u64,
    /// What the operation does.
    pub kind: OpKind,
    /// The case (hex id); `None` for a `BEGIN add`, whose id is not known yet.
    pub case: Option<String>,
    /// Operation detail, see the module documentation.
    pub detail: String,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {}",
            if self.ack { "ACK" } else { "BEGIN" },
            self.n,
            self.kind.word(),
            self.case.as_deref().unwrap_or("-"),
            self.detail
        )
    }
}

impl Line {
    /// Parses one line (without its newline); `None` if it is not a protocol line.
    pub fn parse(s: &str) -> Option<Line> {
        let mut parts = s.splitn(5, ' ');
        let ack = match parts.next()? {
            "ACK" => true,
            "BEGIN" => false,
            _ => return None,
        };
        let n = parts.next()?.parse().ok()?;
        let kind = OpKind::from_word(parts.next()?)?;
        let case = match parts.next()? {
            "-" => None,
            hex => Some(hex.to_string()),
        };
        let detail = parts.next()?.to_string();
        Some(Line {
            ack,
            n,
            kind,
            case,
            detail,
        })
    }

    /// Splits a `<field>=<code>` detail.
    pub fn field_code(&self) -> Option<(&str, &str)> {
        self.detail.split_once('=')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(to_hex(&bytes), "0001abff");
        assert_eq!(from_hex("0001ABff"), Some(bytes.to_vec()));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn lines_round_trip() {
        let line = Line {
            ack: true,
            n: 7,
            kind: OpKind::Note,
            case: Some("00ff".into()),
            detail: note_text(7),
        };
        assert_eq!(line.to_string(), "ACK 7 note 00ff op 7");
        assert_eq!(Line::parse(&line.to_string()), Some(line));
        let begin = Line::parse("BEGIN 3 add - gender=Feminine").expect("a valid line");
        assert_eq!(begin.case, None);
        assert_eq!(begin.field_code(), Some(("gender", "Feminine")));
        assert_eq!(Line::parse("ACK 3 add"), None);
    }

    #[test]
    fn splitmix_is_deterministic() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        assert_eq!(a.next_u64(), b.next_u64());
        assert!(a.below(10) < 10);
    }
}

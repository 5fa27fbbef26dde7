//! The privacy ledger of one data set: the differential privacy budget spent, with a
//! limit enforced by default, and the k-anonymous release pinned for exact outputs.
//!
//! A store keeps its ledger sealed inside it ([`crate::Store::privacy_ledger`]); the
//! party that combines agencies' extracts keeps one in a file. Both are this JSON
//! document.
//!
//! - **Budget** (OpenDP odometers and filters, Tumult Analytics sessions): every DP
//!   output adds its (ε, δ) by basic sequential composition. An output that would take
//!   the total past the limit ([`DEFAULT_EPSILON_LIMIT`], [`DEFAULT_DELTA_LIMIT`]
//!   unless the ledger sets others) is refused before anything is computed; an
//!   explicit override lets it through and is written into the ledger with it.
//! - **Release** (decision 0018): every exact output is recorded with its k-anonymous
//!   release and date window. An exact output whose release or k differs from the
//!   latest one recorded for an overlapping window is refused (two releases of the
//!   same cases can be differenced), unless explicitly overridden, which is recorded.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::tables::ReleaseSpec;
use crate::error::{Error, Result};
use crate::model::Timestamp;

/// Default limit on the total ε spent on one data set.
pub const DEFAULT_EPSILON_LIMIT: f64 = 5.0;
/// Default limit on the total δ spent on one data set (ten outputs at the default δ).
pub const DEFAULT_DELTA_LIMIT: f64 = 1e-5;

/// One differentially private output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// When (YYYY-MM-DD).
    pub date: String,
    /// What was released (e.g. `"table citizenship x country-of-exploitation"`).
    pub output: String,
    /// ε spent.
    pub epsilon: f64,
    /// δ spent.
    pub delta: f64,
    /// Whether it was released past the limit by an explicit override.
    #[serde(default)]
    pub over_limit: bool,
}

/// One exact output and the release it was counted from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseEntry {
    /// When (YYYY-MM-DD).
    pub date: String,
    /// What was published.
    pub output: String,
    /// The release.
    pub release: ReleaseSpec,
    /// Its k.
    pub k: u32,
    /// Registration dates from (inclusive, ms since the epoch), if limited.
    pub from: Option<i64>,
    /// Registration dates to (exclusive), if limited.
    pub to: Option<i64>,
    /// Records released.
    pub released: usize,
    /// Whether it replaced an earlier release of an overlapping window by an explicit
    /// override.
    #[serde(default)]
    pub new_release: bool,
}

impl ReleaseEntry {
    fn overlaps(&self, from: Option<i64>, to: Option<i64>) -> bool {
        let before = |end: Option<i64>, start: Option<i64>| match (end, start) {
            (Some(e), Some(s)) => e <= s,
            _ => false,
        };
        !(before(self.to, from) || before(to, self.from))
    }
}

fn default_epsilon_limit() -> f64 {
    DEFAULT_EPSILON_LIMIT
}

fn default_delta_limit() -> f64 {
    DEFAULT_DELTA_LIMIT
}

/// The privacy ledger of one data set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// The limit on the total ε.
    #[serde(default = "default_epsilon_limit")]
    pub epsilon_limit: f64,
    /// The limit on the total δ.
    #[serde(default = "default_delta_limit")]
    pub delta_limit: f64,
    /// The DP outputs, oldest first.
    #[serde(default)]
    pub entries: Vec<LedgerEntry>,
    /// The exact outputs, oldest first.
    #[serde(default)]
    pub releases: Vec<ReleaseEntry>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            epsilon_limit: DEFAULT_EPSILON_LIMIT,
            delta_limit: DEFAULT_DELTA_LIMIT,
            entries: Vec::new(),
            releases: Vec::new(),
        }
    }
}

impl Ledger {
    /// Parses a ledger (an empty input is an empty ledger).
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Ledger> {
        if bytes.is_empty() {
            return Ok(Ledger::default());
        }
        serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid("ledger", format!("{name} is not a ledger: {e}")))
    }

    /// The ledger as JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(format!("ledger: {e}")))
    }

    /// Reads a ledger file; a missing file is an empty ledger.
    pub fn load(path: &Path) -> Result<Ledger> {
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => Ledger::from_bytes(&bytes, &name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger::default()),
            Err(e) => Err(Error::Io {
                file: name,
                source: e,
            }),
        }
    }

    /// Writes the ledger file (to a temporary file, then renamed over the old one).
    pub fn save(&self, path: &Path) -> Result<()> {
        let name = path.display().to_string();
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, self.to_bytes()?).map_err(|e| Error::Io {
            file: name.clone(),
            source: e,
        })?;
        std::fs::rename(&tmp, path).map_err(|e| Error::Io {
            file: name,
            source: e,
        })
    }

    /// Total (ε, δ) spent so far.
    pub fn spent(&self) -> (f64, f64) {
        self.entries
            .iter()
            .fold((0.0, 0.0), |(e, d), x| (e + x.epsilon, d + x.delta))
    }

    /// Checks a DP output of (ε, δ) against the limit and records it. Past the limit
    /// it is refused, unless `override_limit`, in which case it is recorded as such.
    /// Record before publishing: a budget is spent when the output is computed.
    pub fn spend(
        &mut self,
        output: &str,
        epsilon: f64,
        delta: f64,
        override_limit: bool,
    ) -> Result<()> {
        let (e, d) = self.spent();
        // A little slack for floating-point sums (0.1 + 0.2).
        let over = e + epsilon > self.epsilon_limit * (1.0 + 1e-9)
            || d + delta > self.delta_limit * (1.0 + 1e-9);
        if over && !override_limit {
            return Err(Error::invalid(
                "privacy budget",
                format!(
                    "refused: this data set has already spent ε = {e} and δ = {d:e} of its \
                     limit ε = {}, δ = {:e}, and this output needs ε = {epsilon}, δ = \
                     {delta:e}. Every further release lets the noise be averaged away. To \
                     publish anyway, repeat with --over-budget (recorded in the ledger)",
                    self.epsilon_limit, self.delta_limit
                ),
            ));
        }
        self.entries.push(LedgerEntry {
            date: Timestamp::now().date_string(),
            output: output.to_string(),
            epsilon,
            delta,
            over_limit: over,
        });
        Ok(())
    }

    /// The release pinned for a window: the latest exact output recorded for an
    /// overlapping window.
    pub fn pinned(&self, from: Option<i64>, to: Option<i64>) -> Option<&ReleaseEntry> {
        self.releases.iter().rev().find(|r| r.overlaps(from, to))
    }

    /// Checks an exact output against the pinned release of its window and records
    /// it. A different release (or k) is refused unless `new_release`, which is
    /// recorded.
    pub fn record_release(&mut self, entry: ReleaseEntry) -> Result<()> {
        // Every earlier exact output over any of these cases, back to the last
        // override among them, must have used the same release.
        let overlapping: Vec<&ReleaseEntry> = self
            .releases
            .iter()
            .filter(|r| r.overlaps(entry.from, entry.to))
            .collect();
        let since = overlapping.iter().rposition(|r| r.new_release).unwrap_or(0);
        let conflict = overlapping[since..]
            .iter()
            .find(|pin| pin.release != entry.release || pin.k != entry.k)
            .copied();
        if let Some(pin) = conflict {
            if !entry.new_release {
                return Err(Error::invalid(
                    "release",
                    format!(
                        "refused: exact outputs of these cases were published from another \
                         k-anonymous release ({}; k = {}, {} on {}), and two releases of the \
                         same cases can be subtracted to reveal small counts. Use that \
                         release (leave out --attributes/--generalize/--keep/--k), or repeat \
                         with --new-release (recorded in the ledger)",
                        pin.release.describe(),
                        pin.k,
                        pin.output,
                        pin.date
                    ),
                ));
            }
        }
        let new_release = entry.new_release && conflict.is_some();
        self.releases.push(ReleaseEntry {
            new_release,
            ..entry
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Attribute;

    #[test]
    fn the_query_past_the_limit_is_refused_and_the_override_recorded() {
        let mut ledger = Ledger::default();
        for _ in 0..5 {
            ledger.spend("table", 1.0, 1e-6, false).unwrap();
        }
        assert_eq!(ledger.spent().0, 5.0);
        let e = ledger.spend("table", 0.1, 1e-6, false).unwrap_err();
        assert!(e.to_string().contains("refused"), "{e}");
        assert!(e.to_string().contains("--over-budget"), "{e}");
        assert_eq!(
            ledger.entries.len(),
            5,
            "nothing recorded for the refused query"
        );
        ledger.spend("table", 0.1, 1e-6, true).unwrap();
        assert!(ledger.entries[5].over_limit);
        assert!(!ledger.entries[4].over_limit);
        // δ has its own limit.
        let mut ledger = Ledger::default();
        assert!(ledger.spend("t", 0.1, 2e-5, false).is_err());
        // Round trip, and an old file (entries only) reads with the default limits.
        let back = Ledger::from_bytes(&ledger.to_bytes().unwrap(), "x").unwrap();
        assert_eq!(back, ledger);
        let old = br#"{"entries":[{"date":"2025-01-01","output":"t","epsilon":0.5,"delta":1e-6}]}"#;
        let old = Ledger::from_bytes(old, "old").unwrap();
        assert_eq!(old.spent(), (0.5, 1e-6));
        assert_eq!(old.epsilon_limit, DEFAULT_EPSILON_LIMIT);
        assert!(Ledger::from_bytes(b"nonsense", "n").is_err());
    }

    #[test]
    fn one_release_per_window() {
        let a = ReleaseSpec::new(&[Attribute::Citizenship], false, &[]);
        let b = ReleaseSpec::new(&[Attribute::Gender], false, &[]);
        let entry = |release: &ReleaseSpec, from, to, new_release| ReleaseEntry {
            date: "2026-01-01".into(),
            output: "table".into(),
            release: release.clone(),
            k: 11,
            from,
            to,
            released: 100,
            new_release,
        };
        let mut ledger = Ledger::default();
        ledger.record_release(entry(&a, None, None, false)).unwrap();
        ledger.record_release(entry(&a, None, None, false)).unwrap();
        let e = ledger
            .record_release(entry(&b, None, None, false))
            .unwrap_err();
        assert!(e.to_string().contains("--new-release"), "{e}");
        // An overlapping window is the same cases; a disjoint one is not.
        assert!(ledger
            .record_release(entry(&b, Some(0), Some(10), false))
            .is_err());
        let mut windows = Ledger::default();
        windows
            .record_release(entry(&a, Some(0), Some(10), false))
            .unwrap();
        windows
            .record_release(entry(&b, Some(10), Some(20), false))
            .unwrap();
        assert!(windows
            .record_release(entry(&b, Some(5), Some(15), false))
            .is_err());
        // The override is recorded, and the new release is the pin from then on.
        ledger.record_release(entry(&b, None, None, true)).unwrap();
        assert!(ledger.releases.last().unwrap().new_release);
        assert!(ledger.record_release(entry(&a, None, None, false)).is_err());
        ledger.record_release(entry(&b, None, None, false)).unwrap();
        assert_eq!(ledger.pinned(None, None).unwrap().release, b);
    }
}

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

use super::dp::{NoiseSource, SystemNoise};
use super::tables::ReleaseSpec;
use crate::error::{Error, Result};
use crate::model::StatRecord;
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
    /// The version of the data counted ([`data_version`] of its records); `None` in
    /// ledgers written before versions were recorded.
    #[serde(default)]
    pub data: Option<String>,
}

/// One confidential extract made of the data set (`caravan export extract`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtractEntry {
    /// When (YYYY-MM-DD).
    pub date: String,
    /// The data set id written into the extract.
    pub dataset: String,
    /// Records in the extract.
    pub records: usize,
    /// The agency named in it.
    #[serde(default)]
    pub agency: Option<String>,
}

/// The version of a set of records: a SHA-256 digest over the digests of the records'
/// canonical JSON, sorted (so the order they were read in does not matter). Any added,
/// removed or edited record gives another version.
pub fn data_version(records: &[StatRecord]) -> Result<String> {
    let mut digests = Vec::with_capacity(records.len());
    for r in records {
        let json =
            serde_json::to_vec(r).map_err(|e| Error::Internal(format!("data version: {e}")))?;
        digests.push(crate::crypto::sha256(&json));
    }
    digests.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
    let mut ctx = crate::crypto::Sha256::new();
    ctx.update(b"caravan/statistics/data-version");
    for d in &digests {
        ctx.update(d.as_ref());
    }
    Ok(hex(&ctx.finish().as_ref()[..16]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why an exact output conflicts with the release pinned for its cases.
enum Conflict {
    /// Another release or k.
    Release,
    /// Another date window.
    Window,
    /// The data changed.
    Data,
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
    /// The data set's id (random, made on first use), written into its extracts.
    #[serde(default)]
    pub dataset: Option<String>,
    /// The confidential extracts made of the data set, oldest first.
    #[serde(default)]
    pub extracts: Vec<ExtractEntry>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            epsilon_limit: DEFAULT_EPSILON_LIMIT,
            delta_limit: DEFAULT_DELTA_LIMIT,
            entries: Vec::new(),
            releases: Vec::new(),
            dataset: None,
            extracts: Vec::new(),
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

    /// A ledger started again after the store found the old one deleted or rolled back
    /// (after `writes` writes). What was spent is unknown, so the whole default budget
    /// is counted as spent: a further DP output needs the over-budget override. The
    /// loss is the first entry.
    pub fn after_loss(writes: u64) -> Ledger {
        let mut ledger = Ledger::default();
        ledger.entries.push(LedgerEntry {
            date: Timestamp::now().date_string(),
            output: format!(
                "LEDGER LOST: the previous ledger (written {writes} time(s)) was deleted, \
                 damaged or rolled back; its budget is unknown and counted as spent; its \
                 pinned release is unknown"
            ),
            epsilon: ledger.epsilon_limit,
            delta: ledger.delta_limit,
            over_limit: false,
        });
        ledger
    }

    /// The data set's id, made (random, 128 bits) if it has none yet.
    pub fn dataset_id(&mut self) -> Result<String> {
        if let Some(id) = &self.dataset {
            return Ok(id.clone());
        }
        let mut rng = SystemNoise::new();
        let mut bytes = Vec::with_capacity(16);
        for _ in 0..2 {
            bytes.extend_from_slice(&rng.next_u64()?.to_le_bytes());
        }
        let id = hex(&bytes);
        self.dataset = Some(id.clone());
        Ok(id)
    }

    /// Records a confidential extract of the data set; returns the data set id to
    /// write into it.
    pub fn record_extract(&mut self, records: usize, agency: Option<String>) -> Result<String> {
        let dataset = self.dataset_id()?;
        self.extracts.push(ExtractEntry {
            date: Timestamp::now().date_string(),
            dataset: dataset.clone(),
            records,
            agency,
        });
        Ok(dataset)
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
        let conflict = overlapping[since..].iter().find_map(|pin| {
            if pin.release != entry.release || pin.k != entry.k {
                Some((*pin, Conflict::Release))
            } else if (pin.from, pin.to) != (entry.from, entry.to) {
                Some((*pin, Conflict::Window))
            } else if pin.data.is_some() && entry.data.is_some() && pin.data != entry.data {
                Some((*pin, Conflict::Data))
            } else {
                None
            }
        });
        if let (Some((pin, why)), false) = (&conflict, entry.new_release) {
            let reason = match why {
                Conflict::Release => format!(
                    "refused: exact outputs of these cases were published from another \
                     k-anonymous release ({}; k = {}, {} on {}), and two releases of the \
                     same cases can be subtracted to reveal small counts. Use that release \
                     (leave out --attributes/--generalize/--keep/--k), or repeat with \
                     --new-release (recorded in the ledger)",
                    pin.release.describe(),
                    pin.k,
                    pin.output,
                    pin.date
                ),
                Conflict::Window => format!(
                    "refused: exact outputs of overlapping dates were published for another \
                     date window ({}, {} on {}), and tables of two overlapping windows can be \
                     subtracted to reveal the small counts of their difference. Use the same \
                     --from/--to, dates that do not overlap it, or repeat with --new-release \
                     (recorded in the ledger)",
                    window_text(pin.from, pin.to),
                    pin.output,
                    pin.date
                ),
                Conflict::Data => format!(
                    "refused: the cases changed since exact outputs of these dates were \
                     published ({} on {}): cases added, edited or withdrawn, and the old and \
                     new tables can be subtracted to reveal the changed cases. Repeat with \
                     --new-release to publish from the new data (recorded in the ledger; the \
                     difference between the releases is then public)",
                    pin.output, pin.date
                ),
            };
            return Err(Error::invalid("release", reason));
        }
        let new_release = entry.new_release && conflict.is_some();
        self.releases.push(ReleaseEntry {
            new_release,
            ..entry
        });
        Ok(())
    }
}

/// A date window in words (dates as YYYY-MM-DD).
fn window_text(from: Option<i64>, to: Option<i64>) -> String {
    let day = |t: i64| Timestamp(t).date_string();
    match (from, to) {
        (None, None) => "all dates".into(),
        (Some(f), None) => format!("from {}", day(f)),
        (None, Some(t)) => format!("before {}", day(t)),
        (Some(f), Some(t)) => format!("from {} to before {}", day(f), day(t)),
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
            data: None,
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

    fn pinned_entry(from: Option<i64>, to: Option<i64>, data: &str) -> ReleaseEntry {
        ReleaseEntry {
            date: "2026-01-01".into(),
            output: "table citizenship".into(),
            release: ReleaseSpec::new(&[Attribute::Citizenship], false, &[]),
            k: 11,
            from,
            to,
            released: 100,
            new_release: false,
            data: Some(data.into()),
        }
    }

    /// Red-team finding F5: on one pinned release, tables of all dates, of dates
    /// before 2025 and from 2025 were all accepted, and 12 − 11 revealed one person.
    /// The pin fixes the window: an overlapping window is refused unless
    /// `new_release`, which is recorded; disjoint windows and the same window pass.
    #[test]
    fn the_pinned_release_fixes_the_date_window() {
        let jan_2025 = 1_735_689_600_000;
        let mut ledger = Ledger::default();
        ledger
            .record_release(pinned_entry(None, None, "v1"))
            .unwrap();
        ledger
            .record_release(pinned_entry(None, None, "v1"))
            .unwrap();
        let e = ledger
            .record_release(pinned_entry(None, Some(jan_2025), "v0"))
            .unwrap_err();
        assert!(e.to_string().contains("date window"), "{e}");
        assert!(ledger
            .record_release(pinned_entry(Some(jan_2025), None, "v2"))
            .is_err());
        assert_eq!(ledger.releases.len(), 2, "nothing recorded when refused");
        // Disjoint windows of their own, then the union of them, refused.
        let mut split = Ledger::default();
        split
            .record_release(pinned_entry(None, Some(jan_2025), "a"))
            .unwrap();
        split
            .record_release(pinned_entry(Some(jan_2025), None, "b"))
            .unwrap();
        assert!(split
            .record_release(pinned_entry(None, None, "ab"))
            .is_err());
        // The override is recorded.
        let mut new = pinned_entry(None, Some(jan_2025), "v0");
        new.new_release = true;
        ledger.record_release(new).unwrap();
        assert!(ledger.releases.last().unwrap().new_release);
    }

    /// Red-team finding F6: a table, then ten more cases, then the same table again
    /// revealed the one case of a small cell (T2 − T1). A pinned release is of one
    /// version of the data: other data is refused unless `new_release`, recorded.
    #[test]
    fn changed_data_is_a_new_release() {
        let records = crate::export::testdata::skewed(40, 6);
        let v1 = data_version(&records).unwrap();
        let mut reversed = records.clone();
        reversed.reverse();
        assert_eq!(
            data_version(&reversed).unwrap(),
            v1,
            "order does not matter"
        );
        let mut more = records.clone();
        more.extend(crate::export::testdata::skewed(10, 7));
        let v2 = data_version(&more).unwrap();
        assert_ne!(v2, v1);
        assert_ne!(data_version(&records[1..]).unwrap(), v1);
        let mut ledger = Ledger::default();
        ledger
            .record_release(pinned_entry(None, None, &v1))
            .unwrap();
        ledger
            .record_release(pinned_entry(None, None, &v1))
            .unwrap();
        let e = ledger
            .record_release(pinned_entry(None, None, &v2))
            .unwrap_err();
        assert!(e.to_string().contains("cases changed"), "{e}");
        let mut new = pinned_entry(None, None, &v2);
        new.new_release = true;
        ledger.record_release(new).unwrap();
        assert!(ledger.releases.last().unwrap().new_release);
        ledger
            .record_release(pinned_entry(None, None, &v2))
            .unwrap();
        assert!(ledger
            .record_release(pinned_entry(None, None, &v1))
            .is_err());
    }

    #[test]
    fn extracts_are_recorded_with_the_data_set_id() {
        let mut ledger = Ledger::default();
        let id = ledger.record_extract(24, Some("NGO".into())).unwrap();
        assert_eq!(id.len(), 32);
        assert_eq!(
            ledger.record_extract(3, None).unwrap(),
            id,
            "one id per data set"
        );
        assert_eq!(ledger.extracts.len(), 2);
        let back = Ledger::from_bytes(&ledger.to_bytes().unwrap(), "x").unwrap();
        assert_eq!(back.dataset.as_deref(), Some(id.as_str()));
        assert_ne!(Ledger::default().dataset_id().unwrap(), id);
    }
}

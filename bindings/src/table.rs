//! A whole case list in one compact buffer ([`CaravanStore::list_case_table`]): for a
//! list screen that wants every row at once, cheaper to cross the FFI and to read in
//! Kotlin/Swift than thousands of `CaseSummary` records (one object per row, per
//! vocabulary value and per list).
//!
//! `CaseTable.rows` holds one fixed-size record of [`ROW_BYTES`] bytes per case,
//! little-endian, in the order of `list_cases`:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 16 | case id (its 32 hex digits are these bytes) |
//! | 16 | 8 | `created_at_ms` (i64) |
//! | 24 | 8 | `updated_at_ms` (i64) |
//! | 32 | 2 ×4 | `case_status`, `trafficking_status`, `gender`, `age_band` (u16) |
//! | 40 | 4 ×3 | `referrals`, `notes`, `conflicts` (u32) |
//! | 52 | 4 | offset of the row's lists in `lists` (u32) |
//!
//! A vocabulary value is its index in the vocabulary's entries (as
//! `VocabularyCode.Known`), [`NONE`] for no value, [`NEWER`] for a code from a newer
//! version (read that row with `case_summary` to get it). `lists` holds, per row, the
//! `citizenship`, `route_countries` and `exploitation` lists, each as a u16 count
//! followed by that many u16 values. The Android module's `CaseTableReader` reads it.

use caravan_core::CaseSummary as CoreSummary;

use crate::error::Result;
use crate::model::CaseListFilter;
use crate::store::CaravanStore;
use crate::vocab::{ToVocabularyCode, VocabularyCode};

/// Bytes per row in [`CaseTable::rows`].
pub(crate) const ROW_BYTES: usize = 56;
/// A vocabulary field with no value.
pub(crate) const NONE: u16 = 0xFFFF;
/// A vocabulary value this version does not know (written by a newer version).
pub(crate) const NEWER: u16 = 0xFFFE;

/// A case list in two buffers (layout in the module's documentation).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CaseTable {
    /// How many rows.
    pub count: u32,
    /// One record of 56 bytes per case.
    pub rows: Vec<u8>,
    /// The rows' lists.
    pub lists: Vec<u8>,
}

fn code<V: ToVocabularyCode>(v: Option<&V>) -> u16 {
    match v.map(ToVocabularyCode::to_vocabulary_code) {
        None => NONE,
        Some(VocabularyCode::Known { index }) if index < NEWER => index,
        Some(_) => NEWER,
    }
}

fn list<V: ToVocabularyCode>(out: &mut Vec<u8>, values: &[V]) {
    let n = values.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(n as u16).to_le_bytes());
    for v in &values[..n] {
        out.extend_from_slice(&code(Some(v)).to_le_bytes());
    }
}

/// Encodes summaries as a [`CaseTable`].
pub(crate) fn encode(summaries: &[CoreSummary]) -> CaseTable {
    let mut rows = Vec::with_capacity(summaries.len() * ROW_BYTES);
    let mut lists = Vec::with_capacity(summaries.len() * 8);
    for s in summaries {
        rows.extend_from_slice(&s.id.0);
        rows.extend_from_slice(&s.created_at.0.to_le_bytes());
        rows.extend_from_slice(&s.updated_at.0.to_le_bytes());
        for c in [
            code(s.case_status.as_ref()),
            code(s.trafficking_status.as_ref()),
            code(s.gender.as_ref()),
            code(s.age_band.as_ref()),
        ] {
            rows.extend_from_slice(&c.to_le_bytes());
        }
        for n in [s.referrals, s.notes, s.conflicts] {
            rows.extend_from_slice(&n.to_le_bytes());
        }
        let at = u32::try_from(lists.len()).unwrap_or(u32::MAX);
        rows.extend_from_slice(&at.to_le_bytes());
        list(&mut lists, &s.citizenship);
        list(&mut lists, &s.route_countries);
        list(&mut lists, &s.exploitation);
    }
    CaseTable {
        count: u32::try_from(summaries.len()).unwrap_or(u32::MAX),
        rows,
        lists,
    }
}

#[uniffi::export]
impl CaravanStore {
    /// The cases matching `filter`, as `list_cases` lists them, in one compact
    /// [`CaseTable`] (two byte buffers; read it with the Android module's
    /// `CaseTableReader` or the layout in the documentation): a whole list in one
    /// crossing, with no object per row.
    pub fn list_case_table(&self, filter: CaseListFilter) -> Result<CaseTable> {
        self.with(|s| {
            let filter = filter.to_core()?;
            Ok(encode(&s.list(&filter)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CaseSummary;

    /// Decodes row `i` the way the apps' readers do, into the record `list_cases` gives.
    fn row(t: &CaseTable, i: usize) -> CaseSummary {
        let r = &t.rows[i * ROW_BYTES..(i + 1) * ROW_BYTES];
        let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
        let i64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&r[o..o + 8]);
            i64::from_le_bytes(a)
        };
        let one = |c: u16| (c != NONE).then_some(VocabularyCode::Known { index: c });
        let mut at = u32_at(52) as usize;
        let mut many = || {
            let n = usize::from(u16_at(&t.lists, at));
            let v = (0..n)
                .map(|k| VocabularyCode::Known {
                    index: u16_at(&t.lists, at + 2 + 2 * k),
                })
                .collect::<Vec<_>>();
            at += 2 + 2 * n;
            v
        };
        CaseSummary {
            id: {
                let mut id = [0u8; 16];
                id.copy_from_slice(&r[..16]);
                caravan_core::CaseId(id).to_hex()
            },
            created_at_ms: i64_at(16),
            updated_at_ms: i64_at(24),
            case_status: one(u16_at(r, 32)),
            trafficking_status: one(u16_at(r, 34)),
            gender: one(u16_at(r, 36)),
            age_band: one(u16_at(r, 38)),
            referrals: u32_at(40),
            notes: u32_at(44),
            conflicts: u32_at(48),
            citizenship: many(),
            route_countries: many(),
            exploitation: many(),
        }
    }

    #[test]
    fn the_table_holds_what_list_cases_gives() {
        use caravan_core::model::{Edit, ScalarField, SetField};
        let dir = tempfile::tempdir().expect("tmp");
        let key = caravan_core::StoreKey::generate().expect("key");
        let mut store = caravan_core::Store::create(dir.path().join("s"), &key).expect("store");
        store
            .add_case(&[
                Edit::set(ScalarField::Gender, "Feminine"),
                Edit::set(ScalarField::AgeBand, "18-20"),
                Edit::add(SetField::Citizenship, "KZ"),
                Edit::add(SetField::Citizenship, "KG"),
                Edit::add(SetField::Exploitation, "ForcedLabour"),
            ])
            .expect("case");
        store.add_case(&[]).expect("empty case");
        let summaries = store.list(&caravan_core::CaseFilter::default());
        let table = encode(&summaries);
        assert_eq!(table.count, 2);
        assert_eq!(table.rows.len(), 2 * ROW_BYTES);
        for (i, s) in summaries.into_iter().enumerate() {
            assert_eq!(row(&table, i), CaseSummary::from(s));
        }
    }
}

//! Combining agencies: confidential per-case extracts merged into one data set before
//! anonymization, without counting a case shared between agencies twice.
//!
//! Each agency writes an [`Extract`] of its consenting cases (not anonymized: it is
//! confidential and goes only to the party that combines, under a data-sharing
//! agreement). [`combine`] merges extracts: copies of the same case (the same case id,
//! which synced copies share, or the same blind index of the person once the membership
//! work provides one) count once, and a case that any agency holds without statistics
//! consent is left out everywhere. The result goes through the same exports as a single
//! agency's cases.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::source::{Collected, DateWindow, InputReport};
use crate::error::{Error, Result};
use crate::model::{CaseId, Timestamp};
use crate::model::{Holders, StatRecord};

/// The `format` field of an extract file.
pub const EXTRACT_FORMAT: &str = "caravan-statistics-extract";

/// The most sources (extracts, and the store with `--with-store`) one combination
/// takes: the sources holding a record are kept as the bits of a `u64`.
pub const MAX_SOURCES: usize = 64;

/// The version of the extract format this build writes and reads.
const EXTRACT_VERSION: u32 = 1;

/// The warning every extract carries.
const CLASSIFICATION: &str = "CONFIDENTIAL: per-case data, not anonymized. Share only with \
    the party that combines agencies' statistics, under a data-sharing agreement. Never publish.";

/// One agency's confidential extract: consenting cases' statistical content, and the ids
/// of cases it holds without statistics consent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extract {
    /// Always [`EXTRACT_FORMAT`].
    pub format: String,
    /// Format version.
    pub version: u32,
    /// The confidentiality warning.
    pub classification: String,
    /// The agency's name, if given.
    #[serde(default)]
    pub agency: Option<String>,
    /// The day the extract was made (YYYY-MM-DD).
    pub created: String,
    /// Ids of cases without statistics consent: other agencies' copies are left out too.
    #[serde(default)]
    pub withheld: Vec<CaseId>,
    /// Cases the agency could not read (damaged files); counted, not included.
    #[serde(default)]
    pub unreadable: usize,
    /// The consenting cases.
    pub records: Vec<StatRecord>,
    /// The id of the data set it was made from (its privacy ledger's), so that the
    /// combining party can keep one ledger per combination of data sets; `None` in
    /// extracts made before ids were written.
    #[serde(default)]
    pub dataset: Option<String>,
}

impl Extract {
    /// An extract of `collected` (made with no date window, so that the combining
    /// party can choose the dates).
    pub fn new(agency: Option<String>, collected: Collected) -> Extract {
        Extract {
            format: EXTRACT_FORMAT.into(),
            version: EXTRACT_VERSION,
            classification: CLASSIFICATION.into(),
            agency,
            created: Timestamp::now().date_string(),
            withheld: collected.withheld,
            unreadable: collected.input.unreadable,
            records: collected.records,
            dataset: None,
        }
    }

    /// The extract as JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Internal(format!("json: {e}")))
    }

    /// Reads an extract; refuses other files and newer format versions.
    pub fn from_json(text: &str) -> Result<Extract> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u32>,
        }
        let head: Head = serde_json::from_str(text)
            .map_err(|e| Error::invalid("extract", format!("not an extract: {e}")))?;
        if head.format.as_deref() != Some(EXTRACT_FORMAT) {
            return Err(Error::invalid(
                "extract",
                "not a Caravan statistics extract",
            ));
        }
        match head.version {
            Some(v) if v <= EXTRACT_VERSION => {}
            Some(v) => {
                return Err(Error::invalid(
                    "extract",
                    format!("extract format version {v} is newer than this build reads; update"),
                ))
            }
            None => return Err(Error::invalid("extract", "no format version")),
        }
        serde_json::from_str(text)
            .map_err(|e| Error::invalid("extract", format!("malformed extract: {e}")))
    }
}

/// What one source contributed to a combination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReport {
    /// The agency, if named.
    pub agency: Option<String>,
    /// Consenting cases in its extract.
    pub records: usize,
    /// Cases it withheld for lack of consent.
    pub withheld: usize,
    /// Its cases that another agency also had (left out here as duplicates, or kept
    /// here while the other copies were left out).
    pub shared: usize,
}

/// Several agencies' cases merged, each case once.
#[derive(Clone, Debug, Default)]
pub struct Combined {
    /// The merged cases.
    pub records: Vec<StatRecord>,
    /// The accounting over all sources (copies counted per source).
    pub input: InputReport,
    /// Per source.
    pub sources: Vec<SourceReport>,
}

/// Union-find over record positions.
struct Sets(Vec<usize>);

impl Sets {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// Merges extracts: consent first (a case withheld by any agency is left out
/// everywhere), then copies of one case (same case id or same blind index) become one
/// (the copy with the most fields filled in, the earliest source on ties), then the
/// date window.
///
/// With two or more sources, each merged record remembers which sources held a copy,
/// so that exact outputs release a group only where every source holds 0 or at least
/// k of it (and 0 or at least k are held by the others): otherwise a source's own
/// published count subtracted from the combination's gives the others' small count
/// (red team round 3, F11; docs/export.md, "Combining agencies").
pub fn combine(extracts: Vec<Extract>, window: &DateWindow) -> Result<Combined> {
    window.validate()?;
    if extracts.len() > MAX_SOURCES {
        return Err(Error::invalid(
            "input",
            format!("combine at most {MAX_SOURCES} sources at once"),
        ));
    }
    let several = extracts.len() > 1;
    let withheld: HashSet<CaseId> = extracts
        .iter()
        .flat_map(|e| e.withheld.iter().copied())
        .collect();
    let mut input = InputReport::default();
    let mut all: Vec<(usize, StatRecord)> = Vec::new();
    let mut sources = Vec::new();
    for (s, extract) in extracts.into_iter().enumerate() {
        input.cases += extract.records.len() + extract.withheld.len() + extract.unreadable;
        input.no_statistics_consent += extract.withheld.len();
        input.unreadable += extract.unreadable;
        sources.push(SourceReport {
            agency: extract.agency.clone(),
            records: extract.records.len(),
            withheld: extract.withheld.len(),
            shared: 0,
        });
        for r in extract.records {
            if withheld.contains(&r.id) {
                input.withheld_by_another_agency += 1;
            } else {
                all.push((s, r));
            }
        }
    }
    // Copies of one case: linked by case id, and by blind index where there is one.
    let mut sets = Sets((0..all.len()).collect());
    let mut by_id: HashMap<CaseId, usize> = HashMap::new();
    let mut by_blind: HashMap<&str, usize> = HashMap::new();
    for (i, (_, r)) in all.iter().enumerate() {
        if let Some(&j) = by_id.get(&r.id) {
            sets.union(i, j);
        } else {
            by_id.insert(r.id, i);
        }
        if let Some(b) = r.blind_index.as_deref() {
            if let Some(&j) = by_blind.get(b) {
                sets.union(i, j);
            } else {
                by_blind.insert(b, i);
            }
        }
    }
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..all.len() {
        let root = sets.find(i);
        members.entry(root).or_default().push(i);
    }
    let mut keep = vec![false; all.len()];
    for group in members.values() {
        let best = group
            .iter()
            .copied()
            .max_by(|&a, &b| all[a].1.filled().cmp(&all[b].1.filled()).then(b.cmp(&a)));
        if let Some(best) = best {
            keep[best] = true;
            if several {
                let held = group.iter().fold(0u64, |m, &i| m | (1u64 << all[i].0));
                all[best].1.holders = Holders(held);
            }
        }
        if group.len() > 1 {
            let mut agencies: Vec<usize> = group.iter().map(|&i| all[i].0).collect();
            agencies.sort_unstable();
            agencies.dedup();
            for s in agencies {
                sources[s].shared += 1;
            }
        }
        input.duplicates += group.len() - 1;
    }
    let mut records = Vec::new();
    for ((_, r), kept) in all.into_iter().zip(keep) {
        if !kept {
            continue;
        }
        if window.contains(r.registered) {
            records.push(r);
        } else {
            input.outside_dates += 1;
        }
    }
    records.sort_by_key(|r| r.id);
    input.eligible = records.len();
    Ok(Combined {
        records,
        input,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::testdata;
    use crate::export::{export_records, table, Dimension, RecordOptions, TableSpec};

    fn extract(name: &str, cases: &[crate::model::CaseRecord]) -> Extract {
        let c = Collected::from_cases(cases, &DateWindow::default());
        let e = Extract::new(Some(name.into()), c);
        Extract::from_json(&e.to_json().unwrap()).unwrap()
    }

    #[test]
    fn shared_cases_count_once_and_withheld_consent_wins() {
        // Three agencies; KG and TJ share 300 cases (synced copies: same ids).
        let kz = testdata::cases(1_000, 1, 90);
        let kg_own = testdata::cases(800, 2, 90);
        let tj_own = testdata::cases(700, 3, 90);
        let shared = testdata::cases(300, 4, 100);
        let mut kg = kg_own.clone();
        kg.extend(shared.iter().cloned());
        let mut tj = tj_own.clone();
        tj.extend(shared.iter().cloned());
        // One shared case: the TJ agency's copy says the person withdrew consent.
        tj.last_mut().unwrap().consent.include_in_statistics = Some(false);
        // One shared copy has an extra field filled in: that copy is kept.
        kg[800].gender = None;

        let consenting = |cs: &[crate::model::CaseRecord]| {
            cs.iter().filter(|c| c.consent.allows_statistics()).count()
        };
        let extracts = vec![extract("KZ", &kz), extract("KG", &kg), extract("TJ", &tj)];
        let combined = combine(extracts, &DateWindow::default()).unwrap();
        let expected = consenting(&kz) + consenting(&kg_own) + consenting(&tj_own) + 299;
        assert_eq!(combined.records.len(), expected);
        let input = &combined.input;
        assert!(input.adds_up(), "{input:?}");
        assert_eq!(input.duplicates, 299);
        assert_eq!(input.withheld_by_another_agency, 1);
        assert_eq!(input.eligible, expected);
        let ids: HashSet<CaseId> = combined.records.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), combined.records.len());
        assert!(!ids.contains(&shared[299].id));
        let kept = combined
            .records
            .iter()
            .find(|r| r.id == shared[0].id)
            .unwrap();
        assert!(kept.gender.is_some(), "the fuller copy is kept");
        assert_eq!(combined.sources[1].shared, 299);
        assert_eq!(combined.sources[0].shared, 0);

        // The combined data exports like any other.
        let export = export_records(
            &combined.records,
            &RecordOptions {
                generalize: true,
                ..RecordOptions::default()
            },
        )
        .unwrap();
        assert_eq!(export.report.eligible, expected);
        let t = table(
            &combined.records,
            &TableSpec::new(vec![Dimension::Citizenship]),
        )
        .unwrap();
        assert!(t.cells.iter().all(|c| c.count >= 11));
    }

    #[test]
    fn blind_index_links_separately_registered_cases() {
        let mut a = testdata::skewed(5, 1);
        let mut b = testdata::skewed(5, 2);
        a[0].blind_index = Some("ab12".into());
        b[3].blind_index = Some("ab12".into());
        let mk = |records: Vec<StatRecord>| {
            Extract::new(
                None,
                Collected {
                    records,
                    ..Default::default()
                },
            )
        };
        let combined = combine(vec![mk(a), mk(b)], &DateWindow::default()).unwrap();
        assert_eq!(combined.records.len(), 9);
        assert_eq!(combined.input.duplicates, 1);
    }

    #[test]
    fn dates_and_bad_files() {
        let cases = testdata::cases(400, 5, 100);
        let from = Timestamp::from_ymd(2020, 1, 1).unwrap();
        let window = DateWindow {
            from: Some(from),
            to: None,
        };
        let combined = combine(vec![extract("X", &cases)], &window).unwrap();
        let inside = cases.iter().filter(|c| c.created_at >= from).count();
        assert_eq!(combined.records.len(), inside);
        assert_eq!(combined.input.outside_dates, 400 - inside);
        assert!(combined.input.adds_up());
        assert!(Extract::from_json("{\"format\":\"other\"}").is_err());
        assert!(Extract::from_json("not json").is_err());
        let newer = format!("{{\"format\":\"{EXTRACT_FORMAT}\",\"version\":99}}");
        assert!(Extract::from_json(&newer)
            .unwrap_err()
            .to_string()
            .contains("newer"));
        let text = extract("X", &cases).to_json().unwrap();
        assert!(text.contains("CONFIDENTIAL"));
        assert!(!text.contains("\"partner\""), "partner names never leave");
    }

    /// A consenting record of one route (citizenship → country of exploitation), with
    /// a unique id.
    fn route_record(id: u32, citizenship: &str, exploited: &str) -> StatRecord {
        use crate::model::StatRouteEvent;
        use crate::vocab::{Country, RouteEventKind};
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&id.to_le_bytes());
        let mut r = StatRecord::blank(CaseId(bytes), Timestamp::from_ymd(2024, 3, 1).unwrap());
        r.citizenship = vec![Country::from_code(citizenship)];
        r.route = vec![StatRouteEvent {
            kind: RouteEventKind::Exploitation,
            country: Country::from_code(exploited),
            year: Some(2024),
        }];
        r
    }

    fn source(records: Vec<StatRecord>) -> Extract {
        Extract::new(
            None,
            Collected {
                records,
                ..Default::default()
            },
        )
    }

    fn routes_table(records: &[StatRecord]) -> crate::export::Table {
        table(
            records,
            &TableSpec::new(vec![
                Dimension::Citizenship,
                Dimension::CountryOfExploitation,
            ]),
        )
        .unwrap()
    }

    fn cell(t: &crate::export::Table, values: &[&str]) -> Option<u64> {
        t.cells
            .iter()
            .find(|c| {
                c.values
                    .iter()
                    .map(String::as_str)
                    .eq(values.iter().copied())
            })
            .map(|c| c.count)
    }

    /// Red team round 3, F11: agency A has 3 TJ→RU cases, B 11. B publishes its own
    /// exact table (`TJK,RUS,11`, legal under B's ledger); the combination must not
    /// publish `TJK,RUS,14`, or 14 − 11 = 3 gives A's suppressed count away. Neither
    /// may the combination's remainder hold it (R − 11).
    #[test]
    fn the_combination_minus_one_agencys_own_table_is_never_small() {
        let mut id = 0;
        let mut make = |n: usize, cit: &str, exploited: &str| -> Vec<StatRecord> {
            (0..n)
                .map(|_| {
                    id += 1;
                    route_record(id, cit, exploited)
                })
                .collect()
        };
        let mut a = make(3, "TJ", "RU");
        a.extend(make(22, "KG", "RU"));
        let mut b = make(11, "TJ", "RU");
        b.extend(make(11, "KZ", "RU"));
        let b_own = routes_table(
            &combine(vec![source(b.clone())], &DateWindow::default())
                .unwrap()
                .records,
        );
        assert_eq!(cell(&b_own, &["TJK", "RUS"]), Some(11), "B's own table");
        let combined = combine(vec![source(a), source(b)], &DateWindow::default()).unwrap();
        let t = routes_table(&combined.records);
        assert_eq!(cell(&t, &["TJK", "RUS"]), None, "{:?}", t.cells);
        assert_eq!(cell(&t, &["KGZ", "RUS"]), Some(22));
        assert_eq!(cell(&t, &["KAZ", "RUS"]), Some(11));
        for c in &t.cells {
            let own = cell(
                &b_own,
                &c.values.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            let d = c.count - own.unwrap_or(0);
            assert!(d == 0 || d >= 11, "{:?}: {} − {own:?}", c.values, c.count);
        }
        assert_eq!(t.total, Some(33));
        assert_eq!(t.suppressed_total, None, "A holds 3 of the 14 left out");
        // The record export of the combination: the same release.
        let export = export_records(
            &combined.records,
            &RecordOptions {
                attributes: vec![
                    crate::export::Attribute::Citizenship,
                    crate::export::Attribute::CountryOfExploitation,
                ],
                ..RecordOptions::default()
            },
        )
        .unwrap();
        assert_eq!(export.report.released, 33);
        let published = export.report.published();
        assert_eq!(published.redacted_small_groups, None);
        assert_eq!(published.eligible, None);
        assert!(export.rows().all(|r| r[0].as_deref() != Some("TJK")));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 96, ..proptest::prelude::ProptestConfig::default()
        })]
        /// Random per-source cell counts (two or three agencies, four routes, some
        /// cases shared by the first two): every published cell of the combination,
        /// and its remainder, holds 0 or at least k of each source's cases and 0 or at
        /// least k of the others', so the combination minus any source's own
        /// published cell is never 1..k − 1.
        #[test]
        fn every_source_holds_0_or_at_least_k_of_every_published_cell(
            counts in proptest::collection::vec(proptest::collection::vec(0usize..26, 4), 2..=3),
            shared in proptest::collection::vec(0usize..14, 4),
        ) {
            const ROUTES: [(&str, &str, &str, &str); 4] = [
                ("TJ", "RU", "TJK", "RUS"),
                ("KG", "RU", "KGZ", "RUS"),
                ("KZ", "RU", "KAZ", "RUS"),
                ("UZ", "KZ", "UZB", "KAZ"),
            ];
            let k = 11u64;
            let mut id = 0u32;
            let mut sources: Vec<Vec<StatRecord>> = vec![Vec::new(); counts.len()];
            // held[s][route]: the distinct cases of the route that source s holds;
            // all[route]: the distinct cases of the route.
            let mut held = vec![[0u64; 4]; counts.len()];
            let mut all = [0u64; 4];
            for (r, &(cit, ex, _, _)) in ROUTES.iter().enumerate() {
                for (s, per_route) in counts.iter().enumerate() {
                    for _ in 0..per_route[r] {
                        id += 1;
                        sources[s].push(route_record(id, cit, ex));
                    }
                    held[s][r] += per_route[r] as u64;
                    all[r] += per_route[r] as u64;
                }
                for _ in 0..shared[r] {
                    id += 1;
                    let rec = route_record(id, cit, ex);
                    sources[0].push(rec.clone());
                    sources[1].push(rec);
                }
                held[0][r] += shared[r] as u64;
                held[1][r] += shared[r] as u64;
                all[r] += shared[r] as u64;
            }
            let own: Vec<crate::export::Table> = sources
                .iter()
                .map(|recs| {
                    routes_table(&combine(vec![source(recs.clone())], &DateWindow::default())
                        .unwrap()
                        .records)
                })
                .collect();
            let combined = combine(
                sources.into_iter().map(source).collect(),
                &DateWindow::default(),
            )
            .unwrap();
            let t = routes_table(&combined.records);
            let safe = |n: u64| n == 0 || n >= k;
            let mut left_out = vec![0u64; held.len()];
            let mut left_out_all = 0;
            for (r, &(_, _, cit, ex)) in ROUTES.iter().enumerate() {
                let published = cell(&t, &[cit, ex]);
                match published {
                    Some(n) => {
                        proptest::prop_assert_eq!(n, all[r]);
                        for (s, h) in held.iter().enumerate() {
                            proptest::prop_assert!(safe(h[r]) && safe(all[r] - h[r]),
                                "route {} source {} holds {} of {}", r, s, h[r], all[r]);
                            let own_n = cell(&own[s], &[cit, ex]).unwrap_or(0);
                            proptest::prop_assert!(safe(n - own_n),
                                "route {}: {} − source {}'s {}", r, n, s, own_n);
                        }
                    }
                    None => {
                        left_out_all += all[r];
                        for (s, h) in held.iter().enumerate() {
                            left_out[s] += h[r];
                        }
                    }
                }
            }
            if let Some(rest) = t.suppressed_total {
                proptest::prop_assert_eq!(rest, left_out_all);
                for h in &left_out {
                    proptest::prop_assert!(safe(*h) && safe(left_out_all - h));
                }
            }
        }
    }
}

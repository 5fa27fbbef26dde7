//! The differencing attack on every exact output of one data set (decision 0018).
//!
//! An analyst holds everything the tool publishes without differential privacy from
//! one data set: the k-anonymous record export (CSV and its published report), every
//! exact table it can make (each single dimension, each pair, a few triples), and the
//! charts drawn from them. Each published number is a count of the records that
//! satisfy some constraints (`citizenship = KGZ`, `gender = Woman`, none for a total).
//! The attacker subtracts:
//!
//! - two numbers with the same constraints from different outputs (a table's total
//!   and the records report's `eligible`; a table cell and the count of the same
//!   values in the record export);
//! - a number and a finer one (`citizenship = KGZ` minus `citizenship = KGZ, gender =
//!   Woman`: the KGZ records that are not women);
//! - a margin and the sum of a finer table's cells under it (the margin's records that
//!   fall in no released cell), over single-valued dimensions, where that sum counts
//!   each record once.
//!
//! Each difference is the size of a set of people; none may be between 1 and k − 1.

use std::collections::{BTreeMap, HashMap};

use super::chart::{bar_chart, route_diagram};
use super::testdata;
use super::*;

type Constraints = Vec<(Dimension, String)>;

/// Every published number, by the constraints it counts under, with where it came from.
#[derive(Default)]
struct Facts {
    by_constraints: HashMap<Constraints, Vec<(u64, String)>>,
    /// Differences of numbers about other sets, already formed.
    extra: Vec<(u64, String)>,
}

impl Facts {
    fn add(&mut self, mut c: Constraints, count: u64, source: &str) {
        c.sort();
        self.by_constraints
            .entry(c)
            .or_default()
            .push((count, source.to_string()));
    }
}

/// Dimensions exact tables can count, with the record-export column(s) they read.
const SINGLE: [(Dimension, &str); 6] = [
    (Dimension::Citizenship, "citizenship"),
    (Dimension::CountryOfExploitation, "CountryOfExploitation"),
    (Dimension::Gender, "gender"),
    (Dimension::AgeBand, "ageBroad"),
    (Dimension::Year, "yearOfRegistration"),
    (Dimension::Majority, "majorityStatus"),
];
const MULTI: [Dimension; 2] = [Dimension::Exploitation, Dimension::MeansOfControl];

fn single_valued(d: Dimension) -> bool {
    SINGLE.iter().any(|(x, _)| *x == d) || d == Dimension::Route
}

/// The differences an attacker can form, each the size of a set of records; returns
/// the first one between 1 and k − 1.
fn find_small_difference(facts: &Facts, tables: &[Table], k: u64) -> Option<String> {
    let small = |d: u64| (1..k).contains(&d);
    if let Some((d, what)) = facts.extra.iter().find(|(d, _)| small(*d)) {
        return Some(format!("{what} = {d}"));
    }
    // A small number published as such.
    for (c, counts) in &facts.by_constraints {
        if let Some((a, sa)) = counts.iter().find(|(a, _)| small(*a)) {
            return Some(format!("{c:?}: {sa} {a}"));
        }
    }
    // Same constraints, two outputs.
    for (c, counts) in &facts.by_constraints {
        for (a, sa) in counts {
            for (b, sb) in counts {
                if a > b && small(a - b) {
                    return Some(format!("{c:?}: {sa} {a} − {sb} {b}"));
                }
            }
        }
    }
    // A count and a finer one.
    for (fine, fine_counts) in &facts.by_constraints {
        let n = fine.len();
        for mask in 0..(1u32 << n) - 1 {
            let coarse: Constraints = (0..n)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| fine[i].clone())
                .collect();
            let Some(coarse_counts) = facts.by_constraints.get(&coarse) else {
                continue;
            };
            for (a, sa) in coarse_counts {
                for (b, sb) in fine_counts {
                    if a >= b && small(a - b) {
                        return Some(format!(
                            "{coarse:?} ({sa}) {a} − {fine:?} ({sb}) {b} = {}",
                            a - b
                        ));
                    }
                }
            }
        }
    }
    // A margin minus the released cells under it.
    for t in tables {
        let n = t.dimensions.len();
        for mask in 0..(1u32 << n) - 1 {
            let kept: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
            if (0..n)
                .filter(|i| !kept.contains(i))
                .any(|i| !single_valued(t.dimensions[i]))
            {
                continue;
            }
            let mut sums: BTreeMap<Constraints, u64> = BTreeMap::new();
            for cell in &t.cells {
                let mut c: Constraints = kept
                    .iter()
                    .map(|&i| (t.dimensions[i], cell.values[i].clone()))
                    .collect();
                c.sort();
                *sums.entry(c).or_insert(0) += cell.count;
            }
            let dims: Vec<Dimension> = kept.iter().map(|&i| t.dimensions[i]).collect();
            for (c, counts) in &facts.by_constraints {
                let mut cd: Vec<Dimension> = c.iter().map(|(d, _)| *d).collect();
                let mut want = dims.clone();
                cd.sort();
                want.sort();
                if cd != want {
                    continue;
                }
                let s = sums.get(c).copied().unwrap_or(0);
                for (a, sa) in counts {
                    if *a >= s && small(a - s) {
                        return Some(format!(
                            "{c:?} ({sa}) {a} − cells of {:?} = {}",
                            t.dimensions,
                            a - s
                        ));
                    }
                }
            }
        }
    }
    None
}

/// Every exact output of one data set under one release, as facts.
fn publish_everything(
    records: &[StatRecord],
    release: &ReleaseSpec,
    k: u32,
) -> (Facts, Vec<Table>) {
    let mut facts = Facts::default();
    // The record export and its published report.
    let export = export_records(records, &release.options(k, CountryCodes::Alpha3)).unwrap();
    let report = export.report.published();
    facts.add(vec![], report.released as u64, "records: released");
    if let Some(e) = report.eligible {
        facts.add(vec![], e as u64, "records: eligible");
        if let Some(r) = report.redacted_small_groups {
            // eligible − redacted is released: nothing new, but the attacker has it.
            facts.add(vec![], (e - r) as u64, "records: eligible − redacted");
        }
    }
    if let Some(p) = report.plain_suppression_released {
        // Plain suppression releases a subset of the released records (about which
        // nothing else is published): the difference is the records generalization
        // brought in, a set of people of its own.
        facts
            .extra
            .push((report.released as u64 - p as u64, "released − plain".into()));
    }
    // Counts the analyst computes from the CSV itself, over single-valued columns.
    let columns = export.columns().to_vec();
    let rows: Vec<Vec<String>> = export
        .rows()
        .map(|r| {
            r.iter()
                .map(|v| v.clone().unwrap_or_else(|| UNKNOWN.to_string()))
                .collect()
        })
        .collect();
    let present: Vec<(Dimension, usize)> = SINGLE
        .iter()
        .filter_map(|(d, col)| columns.iter().position(|c| c == col).map(|i| (*d, i)))
        .collect();
    for a in 0..present.len() {
        for b in a..present.len() {
            let mut counts: BTreeMap<Constraints, u64> = BTreeMap::new();
            for row in &rows {
                let mut c = vec![(present[a].0, row[present[a].1].clone())];
                if b != a {
                    c.push((present[b].0, row[present[b].1].clone()));
                }
                *counts.entry(c).or_insert(0) += 1;
            }
            for (c, n) in counts {
                facts.add(c, n, "records CSV");
            }
        }
    }
    // Every exact table of the release's dimensions: singles, pairs, and triples.
    let mut dims: Vec<Dimension> = SINGLE.iter().map(|(d, _)| *d).collect();
    dims.extend(MULTI);
    dims.push(Dimension::Route);
    let mut specs: Vec<Vec<Dimension>> = Vec::new();
    for (i, &a) in dims.iter().enumerate() {
        specs.push(vec![a]);
        for &b in &dims[i + 1..] {
            specs.push(vec![a, b]);
        }
    }
    specs.push(vec![
        Dimension::Citizenship,
        Dimension::CountryOfExploitation,
        Dimension::Gender,
    ]);
    specs.push(vec![
        Dimension::Exploitation,
        Dimension::Gender,
        Dimension::AgeBand,
    ]);
    let mut tables = Vec::new();
    for dims in specs {
        let spec = TableSpec {
            k,
            release: Some(release.clone()),
            ..TableSpec::new(dims.clone())
        };
        // A dimension the release does not hold is refused, as it must be.
        let Ok(t) = table(records, &spec) else {
            continue;
        };
        let name = format!("table {dims:?}");
        for cell in &t.cells {
            let c: Constraints = dims.iter().copied().zip(cell.values.clone()).collect();
            facts.add(c, cell.count, &name);
        }
        if dims.iter().all(|&d| single_valued(d)) {
            if let Some(total) = t.total {
                facts.add(vec![], total, &format!("{name}: total"));
            }
            if let (Some(total), Some(sup)) = (t.total, t.suppressed_total) {
                facts.add(vec![], total + sup, &format!("{name}: total + withheld"));
            }
        }
        // Charts draw these tables: bars and flows are cells, nodes are margins.
        let chart = match dims.as_slice() {
            [Dimension::Citizenship, Dimension::CountryOfExploitation] => {
                Some(route_diagram(&t, "routes").unwrap())
            }
            [d] if !single_valued(*d) => Some(bar_chart(&t, "bars").unwrap()),
            _ => None,
        };
        for datum in chart.iter().flat_map(|c| &c.data) {
            let c: Option<Constraints> = match datum.kind.as_str() {
                "bar" => Some(vec![(dims[0], datum.values[0].clone())]),
                "flow" => Some(vec![
                    (dims[0], datum.values[0].clone()),
                    (dims[1], datum.values[1].clone()),
                ]),
                _ => None,
            };
            if let Some(c) = c {
                facts.add(c, datum.count, "chart");
            }
        }
        tables.push(t);
    }
    (facts, tables)
}

/// Skewed stores of several sizes (a few dozen cases leave small remainders; a few
/// thousand, long tails of rare countries).
fn stores() -> Vec<(usize, u64)> {
    vec![(25, 1), (60, 2), (150, 3), (400, 4), (1_500, 5)]
}

fn releases() -> Vec<ReleaseSpec> {
    use Attribute as A;
    vec![
        ReleaseSpec::new(&[A::Citizenship, A::CountryOfExploitation], false, &[]),
        ReleaseSpec::new(&[A::Gender, A::Age, A::Year], false, &[]),
        ReleaseSpec::new(
            &[A::Citizenship, A::Gender, A::Exploitation, A::Majority],
            false,
            &[],
        ),
        ReleaseSpec::new(&A::ALL, true, &[]),
        ReleaseSpec::new(
            &[
                A::Citizenship,
                A::CountryOfExploitation,
                A::Gender,
                A::Age,
                A::Means,
            ],
            true,
            &[A::Citizenship],
        ),
    ]
}

#[test]
fn no_combination_of_exact_outputs_reveals_a_count_below_k() {
    let mut outputs = 0;
    let mut small_remainders = 0;
    for (n, seed) in stores() {
        let records = testdata::skewed(n, seed);
        for k in [5u32, 11] {
            for release in releases() {
                let (facts, tables) = publish_everything(&records, &release, k);
                outputs += tables.len();
                let export =
                    export_records(&records, &release.options(k, CountryCodes::Alpha3)).unwrap();
                if (1..u64::from(k)).contains(&(export.report.redacted_small_groups as u64)) {
                    small_remainders += 1;
                }
                if let Some(leak) = find_small_difference(&facts, &tables, u64::from(k)) {
                    panic!("n = {n}, seed {seed}, k = {k}, release {release:?}: {leak}");
                }
            }
        }
    }
    assert!(outputs > 300, "{outputs} tables");
    // The attack had something to find: releases that left fewer than k records out.
    assert!(small_remainders > 0);
}

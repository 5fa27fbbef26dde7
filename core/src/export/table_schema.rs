//! A table in the CTDC layout (`--schema ctdc`): CTDC column names and codes in the
//! dimension columns, so that a table lines up with counts computed from a CTDC
//! download.
//!
//! The rendering is post-processing of a table that is already safe to publish: cells
//! are renamed, and with differential privacy cells whose Caravan codes map to one
//! CTDC code (the three transgender/non-conforming genders) are summed. It never adds a
//! cell, never changes the total, the released total or the suppressed remainder, so
//! the guarantees of the table (decision 0018, issue 15) carry over unchanged.
//!
//! - Exact tables count the record release, whose values are already CTDC codes; flag
//!   dimensions (exploitation, means, labour, sex, recruiter) get the CTDC column name
//!   as their value (`isForcedLabour`, `meansThreats`, `sectorOfLabourAgriculture`,
//!   ...; a Caravan column CTDC does not have, e.g. `typeOfLabourBegging`, keeps its
//!   name). A generalized attribute goes into its own column (`citizenshipRegion`,
//!   `ageGroup`, ...), as in the record export: a CTDC-named column only holds CTDC
//!   codes.
//! - DP tables count Caravan codes. Single-valued dimensions are mapped (`Feminine` →
//!   `Woman`, `0-8` → `0--8`); multi-valued flag dimensions are refused, since several
//!   Caravan codes map to one CTDC column and a case would be counted twice in it.
//! - Dimensions CTDC does not have (country of recruitment, trafficking status,
//!   referrals) are refused: use `--schema caravan`.

use std::collections::BTreeMap;

use super::schema::{Schema, CTDC_COLUMNS};
use super::tables::{Cell, Dimension, Table, UNKNOWN};
use crate::error::{Error, Result};

/// The CTDC column of a country or year dimension, or its generalized stand-in.
fn country_column(attr: &str, generalized: &[String]) -> String {
    let g = generalized.iter().any(|a| a == attr);
    match (attr, g) {
        ("citizenship", false) => "citizenship",
        ("citizenship", true) => "citizenshipRegion",
        (_, false) => "CountryOfExploitation",
        (_, true) => "CountryOfExploitationRegion",
    }
    .to_string()
}

/// The CTDC code of a DP table's gender value (Caravan's HTCDS code).
fn ctdc_gender(code: &str) -> String {
    match code {
        "Feminine" => "Woman",
        "Masculine" => "Man",
        "TransgenderFeminine" | "TransgenderMasculine" | "NonConforming" => {
            "Trans/Transgender/NonConforming"
        }
        _ => UNKNOWN,
    }
    .to_string()
}

/// The CTDC column standing for an exact table's flag value (see
/// `ReleaseColumns::find`), or Caravan's release column when CTDC has none.
fn ctdc_flag(d: Dimension, value: &str) -> String {
    if value == UNKNOWN || value == "None" {
        return value.to_string();
    }
    let candidates: Vec<String> = match d {
        Dimension::Exploitation => vec![match value {
            "ForcedLabour" => "isForcedLabour".into(),
            "SexualExploitation" => "isSexualExploit".into(),
            _ => "isOtherExploit".into(),
        }],
        Dimension::MeansOfControl => vec![format!("means{value}")],
        Dimension::Labour => vec![
            format!("sectorOfLabour{value}"),
            format!("typeOfLabour{value}"),
        ],
        Dimension::SexualExploitation => {
            vec![format!("sectorOfSex{value}"), format!("typeOfSex{value}")]
        }
        _ => vec![format!("recruiterRelation{value}")],
    };
    candidates
        .iter()
        .find(|c| CTDC_COLUMNS.contains(&c.as_str()))
        .unwrap_or(&candidates[candidates.len() - 1])
        .clone()
}

/// Checks that a table by `dims` (differentially private or not) can be written in
/// `schema`, before anything is computed or charged to a ledger.
pub fn check_table_schema(dims: &[Dimension], dp: bool, schema: Schema) -> Result<()> {
    if schema == Schema::Ctdc {
        ctdc_columns(dims, dp, &[])?;
    }
    Ok(())
}

/// The CTDC value columns of a table by `dims`.
fn ctdc_columns(dims: &[Dimension], dp: bool, generalized: &[String]) -> Result<Vec<String>> {
    let refuse = |d: Dimension, why: &str| {
        Error::invalid(
            "schema",
            format!(
                "{} cannot be written with --schema ctdc: {why}; use --schema caravan",
                d.name()
            ),
        )
    };
    let mut columns = Vec::new();
    for &d in dims {
        let gen = |attr: &str| generalized.iter().any(|a| a == attr);
        match d {
            Dimension::Citizenship => columns.push(country_column("citizenship", generalized)),
            Dimension::CountryOfExploitation => {
                columns.push(country_column("country-of-exploitation", generalized))
            }
            Dimension::Route => {
                columns.push(country_column("citizenship", generalized));
                columns.push(country_column("country-of-exploitation", generalized));
            }
            Dimension::Year => columns.push(if gen("year") {
                "yearOfRegistrationPeriod".into()
            } else {
                "yearOfRegistration".into()
            }),
            Dimension::Gender => columns.push("gender".into()),
            Dimension::AgeBand => columns.push(if gen("age") {
                "ageGroup".into()
            } else {
                "ageBroad".into()
            }),
            Dimension::Majority => columns.push("majorityStatus".into()),
            Dimension::Exploitation
            | Dimension::MeansOfControl
            | Dimension::Labour
            | Dimension::SexualExploitation
            | Dimension::RecruiterRelation => {
                if dp {
                    return Err(refuse(
                        d,
                        "with differential privacy it counts Caravan's codes, several of \
                         which map to one CTDC column (a case would count twice in it)",
                    ));
                }
                columns.push(
                    match d {
                        Dimension::Exploitation => "typeOfExploitation",
                        Dimension::MeansOfControl => "meansOfControl",
                        Dimension::Labour => "sectorOfLabour",
                        Dimension::SexualExploitation => "sectorOfSex",
                        _ => "recruiterRelation",
                    }
                    .into(),
                );
            }
            Dimension::CountryOfRecruitment
            | Dimension::TraffickingStatus
            | Dimension::Service
            | Dimension::ReferralOutcome => {
                return Err(refuse(d, "the CTDC global dataset has no such column"))
            }
        }
    }
    Ok(columns)
}

impl Table {
    /// The names of the value columns of the written files (see [`Table::columns`]).
    pub fn column_names(&self) -> Vec<String> {
        if self.columns.is_empty() {
            self.dimensions
                .iter()
                .map(|d| d.name().to_string())
                .collect()
        } else {
            self.columns.clone()
        }
    }

    /// The table in `schema`'s layout: itself for [`Schema::Caravan`]; CTDC column
    /// names and codes for [`Schema::Ctdc`] (see the module documentation). Totals and
    /// the suppressed remainder are unchanged.
    pub fn in_schema(&self, schema: Schema) -> Result<Table> {
        if schema == Schema::Caravan {
            return Ok(self.clone());
        }
        let dp = self.privacy.differentially_private;
        let columns = ctdc_columns(&self.dimensions, dp, &self.generalized)?;
        let mut merged: BTreeMap<Vec<String>, (u64, Option<u64>)> = BTreeMap::new();
        for cell in &self.cells {
            let mut values = Vec::new();
            for (&d, v) in self.dimensions.iter().zip(&cell.values) {
                match d {
                    Dimension::Route => {
                        let (a, b) = v.split_once('-').unwrap_or((v.as_str(), UNKNOWN));
                        values.push(a.to_string());
                        values.push(b.to_string());
                    }
                    Dimension::Gender if dp => values.push(ctdc_gender(v)),
                    Dimension::AgeBand if dp => values.push(v.replacen('-', "--", 1)),
                    Dimension::Exploitation
                    | Dimension::MeansOfControl
                    | Dimension::Labour
                    | Dimension::SexualExploitation
                    | Dimension::RecruiterRelation => values.push(ctdc_flag(d, v)),
                    _ => values.push(v.clone()),
                }
            }
            let e = merged.entry(values).or_insert((0, None));
            e.0 += cell.count;
            // Merged DP cells: the sum of the half-widths bounds the sum's interval
            // (wider than 95%, never narrower).
            e.1 = match (e.1, cell.noise_95) {
                (None, w) => w,
                (Some(a), Some(b)) => Some(a + b),
                (a, None) => a,
            };
        }
        let mut cells: Vec<Cell> = merged
            .into_iter()
            .map(|(values, (count, noise_95))| Cell {
                values,
                count,
                noise_95,
            })
            .collect();
        cells.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.values.cmp(&b.values)));
        Ok(Table {
            cells,
            columns,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::ctdc::Attribute;
    use crate::export::dp::{DpSpec, Mechanism, SeededNoise, DEFAULT_DELTA};
    use crate::export::tables::{table, table_with_noise, ReleaseSpec, TableSpec};
    use crate::export::testdata::{self, Rng};

    const GENDERS: [&str; 4] = ["Woman", "Man", "Trans/Transgender/NonConforming", UNKNOWN];

    fn spec(dims: &[Dimension]) -> TableSpec {
        TableSpec {
            years: Some((2015, 2026)),
            ..TableSpec::new(dims.to_vec())
        }
    }

    /// What the CTDC rendering must keep: the totals, the remainder, and the sum of
    /// the cells.
    fn same_figures(a: &Table, b: &Table) {
        assert_eq!(a.total, b.total);
        assert_eq!(a.released_total, b.released_total);
        assert_eq!(a.suppressed_total, b.suppressed_total);
        assert_eq!(
            b.cells.iter().map(|c| c.count).sum::<u64>(),
            b.released_total
        );
        assert!(b.cells.iter().all(|c| c.count >= u64::from(b.privacy.k)));
    }

    #[test]
    fn exact_tables_use_ctdc_names_and_codes() {
        let records = testdata::skewed(3_000, 21);
        let dims = [
            Dimension::Gender,
            Dimension::AgeBand,
            Dimension::Exploitation,
        ];
        let mut s = spec(&dims);
        s.release = Some(ReleaseSpec::new(
            &[Attribute::Gender, Attribute::Age, Attribute::Exploitation],
            false,
            &[],
        ));
        let t = table(&records, &s).unwrap();
        let c = t.in_schema(Schema::Ctdc).unwrap();
        same_figures(&t, &c);
        assert_eq!(
            c.column_names(),
            ["gender", "ageBroad", "typeOfExploitation"]
        );
        let csv = c.to_csv();
        assert!(csv.starts_with("gender,ageBroad,typeOfExploitation,count\n"));
        assert!(csv.contains("\n(total),,,"), "{csv}");
        for cell in &c.cells {
            assert!(GENDERS.contains(&cell.values[0].as_str()), "{cell:?}");
            assert!(
                cell.values[1] == UNKNOWN
                    || cell.values[1].contains("--")
                    || cell.values[1] == "48+",
                "{cell:?}"
            );
            let e = cell.values[2].as_str();
            assert!(
                [UNKNOWN, "None"].contains(&e) || CTDC_COLUMNS.contains(&e),
                "{cell:?}"
            );
        }
        assert!(c.cells.iter().any(|x| x.values[2] == "isForcedLabour"));
        // Caravan's layout is unchanged.
        assert_eq!(t.in_schema(Schema::Caravan).unwrap(), t);
        assert!(t
            .to_csv()
            .starts_with("gender,age-band,exploitation,count\n"));
    }

    #[test]
    fn routes_split_and_generalized_values_get_their_own_column() {
        let records = testdata::skewed(3_000, 22);
        let mut s = spec(&[Dimension::Route]);
        s.release = Some(ReleaseSpec::new(
            &[Attribute::Citizenship, Attribute::CountryOfExploitation],
            false,
            &[],
        ));
        let t = table(&records, &s).unwrap();
        let c = t.in_schema(Schema::Ctdc).unwrap();
        same_figures(&t, &c);
        assert_eq!(c.column_names(), ["citizenship", "CountryOfExploitation"]);
        assert!(c.cells.iter().any(|x| x.values == ["KGZ", "RUS"]));
        // A release generalized to regions: never in the CTDC country column.
        let mut t = t.clone();
        t.generalized = vec!["citizenship".into()];
        let c = t.in_schema(Schema::Ctdc).unwrap();
        assert_eq!(
            c.column_names(),
            ["citizenshipRegion", "CountryOfExploitation"]
        );
        let mut s = spec(&[Dimension::Citizenship, Dimension::AgeBand]);
        s.release = Some(ReleaseSpec::new(&Attribute::ALL, true, &[]));
        let t = table(&records, &s).unwrap();
        assert!(
            !t.generalized.is_empty(),
            "the search generalized something"
        );
        let c = t.in_schema(Schema::Ctdc).unwrap();
        same_figures(&t, &c);
        for (attr, plain, general) in [
            ("citizenship", "citizenship", "citizenshipRegion"),
            ("age", "ageBroad", "ageGroup"),
        ] {
            let names = c.column_names();
            let expected = if t.generalized.iter().any(|a| a == attr) {
                general
            } else {
                plain
            };
            assert!(names.contains(&expected.to_string()), "{names:?} {attr}");
        }
    }

    #[test]
    fn dp_tables_map_single_valued_codes_and_refuse_flags() {
        let records = testdata::skewed(5_000, 23);
        let mut s = spec(&[Dimension::Gender, Dimension::AgeBand]);
        s.dp = Some(DpSpec {
            epsilon: 2.0,
            mechanism: Mechanism::Laplace,
            max_contributions: None,
            delta: DEFAULT_DELTA,
        });
        let t = table_with_noise(&records, &s, &mut SeededNoise(Rng::new(3))).unwrap();
        let c = t.in_schema(Schema::Ctdc).unwrap();
        same_figures(&t, &c);
        assert!(!c.cells.is_empty());
        for cell in &c.cells {
            assert!(GENDERS.contains(&cell.values[0].as_str()), "{cell:?}");
            assert!(!cell.values[1].contains('-') || cell.values[1].contains("--"));
            assert!(cell.noise_95.is_some());
        }
        assert!(c
            .to_csv()
            .starts_with("gender,ageBroad,count,low95,high95\n"));
        for d in [Dimension::Exploitation, Dimension::MeansOfControl] {
            assert!(check_table_schema(&[d], true, Schema::Ctdc).is_err());
            assert!(check_table_schema(&[d], false, Schema::Ctdc).is_ok());
            assert!(check_table_schema(&[d], true, Schema::Caravan).is_ok());
        }
        for d in [Dimension::Service, Dimension::TraffickingStatus] {
            assert!(check_table_schema(&[d], true, Schema::Ctdc).is_err());
        }
    }

    #[test]
    fn merged_dp_gender_cells_add_up() {
        let cell = |g: &str, n: u64| Cell {
            values: vec![g.to_string()],
            count: n,
            noise_95: Some(4),
        };
        let records = testdata::skewed(500, 24);
        let mut s = spec(&[Dimension::Gender]);
        s.dp = Some(DpSpec {
            epsilon: 2.0,
            mechanism: Mechanism::Laplace,
            max_contributions: None,
            delta: DEFAULT_DELTA,
        });
        let mut t = table_with_noise(&records, &s, &mut SeededNoise(Rng::new(3))).unwrap();
        t.cells = vec![
            cell("Feminine", 40),
            cell("TransgenderFeminine", 12),
            cell("NonConforming", 13),
        ];
        t.released_total = 65;
        let c = t.in_schema(Schema::Ctdc).unwrap();
        assert_eq!(c.cells.len(), 2);
        assert_eq!(c.cells[0].values, ["Woman"]);
        assert_eq!(c.cells[1].values, ["Trans/Transgender/NonConforming"]);
        assert_eq!(c.cells[1].count, 25);
        assert_eq!(c.cells[1].noise_95, Some(8));
    }
}

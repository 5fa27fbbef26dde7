//! Output layouts of a record export: Caravan's wide layout and the current CTDC
//! global dataset's columns, with each column's type for typed JSON, codebooks and
//! the binary formats.
//!
//! The CTDC layout is a function of the released (k-anonymous) rows: each CTDC row is
//! computed from one released row, so rows that were identical stay identical and
//! every group of the CTDC file is a union of released groups, of at least k rows
//! (checked by a test). Generalized values never go into a CTDC column: they go into
//! separate columns (`citizenshipRegion`, ...) that appear only when that
//! generalization was used, and the CTDC column is left empty.

use std::collections::BTreeMap;

use serde_json::Value;

use super::kanon::{csv_field, RecordExport};
use crate::error::{Error, Result};

/// The version of the CTDC column table below: the current global dataset (the 2024
/// differentially private synthetic release), as read by public analysis code.
pub const CTDC_SCHEMA_VERSION: &str = "ctdc-global-synthetic-2024";

/// The current CTDC global dataset's columns, in order (`CTDC_SCHEMA_VERSION`).
pub const CTDC_COLUMNS: [&str; 27] = [
    "yearOfRegistration",
    "gender",
    "ageBroad",
    "citizenship",
    "CountryOfExploitation",
    "traffickMonths",
    "meansDebtBondageEarnings",
    "meansThreats",
    "meansAbusePsyPhySex",
    "meansFalsePromises",
    "meansDrugsAlcohol",
    "meansDenyBasicNeeds",
    "meansExcessiveWorkHours",
    "meansWithholdDocs",
    "isForcedLabour",
    "isSexualExploit",
    "isOtherExploit",
    "sectorOfLabourAgriculture",
    "sectorOfLabourConstruction",
    "sectorOfLabourDomesticWork",
    "sectorOfLabourHospitality",
    "sectorOfSexProstitution",
    "sectorOfSexPornography",
    "recruiterRelationIntimatePartner",
    "recruiterRelationFriend",
    "recruiterRelationFamily",
    "recruiterRelationOther",
];

/// Columns added after the CTDC ones when a generalization was used: (attribute,
/// added column, the CTDC column it stands in for).
const GENERALIZED_COLUMNS: [(&str, &str, &str); 4] = [
    ("year", "yearOfRegistrationPeriod", "yearOfRegistration"),
    ("age", "ageGroup", "ageBroad"),
    ("citizenship", "citizenshipRegion", "citizenship"),
    (
        "country-of-exploitation",
        "CountryOfExploitationRegion",
        "CountryOfExploitation",
    ),
];

/// The layout of a record export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schema {
    /// Caravan's wide layout (39 columns at full detail: the CTDC columns plus the
    /// 2017–2020 release's `majority*`, `typeOfLabour*`, `typeOfSex*`; generalized
    /// values written in place). The default, for compatibility with earlier exports.
    #[default]
    Caravan,
    /// Exactly the current CTDC global dataset's columns ([`CTDC_COLUMNS`]), then one
    /// column per generalization used.
    Ctdc,
}

impl Schema {
    /// Parses `caravan` or `ctdc`.
    pub fn parse(s: &str) -> Result<Schema> {
        match s.trim().to_ascii_lowercase().as_str() {
            "caravan" => Ok(Schema::Caravan),
            "ctdc" => Ok(Schema::Ctdc),
            _ => Err(Error::invalid(
                "schema",
                format!("{s:?} is not caravan or ctdc"),
            )),
        }
    }

    /// `"caravan"` or `"ctdc"`.
    pub fn name(self) -> &'static str {
        match self {
            Schema::Caravan => "caravan",
            Schema::Ctdc => "ctdc",
        }
    }

    /// The version of the column table (`"caravan-1"` or [`CTDC_SCHEMA_VERSION`]).
    pub fn version(self) -> &'static str {
        match self {
            Schema::Caravan => "caravan-1",
            Schema::Ctdc => CTDC_SCHEMA_VERSION,
        }
    }
}

/// The type of a column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// A whole number (`yearOfRegistration`).
    Integer,
    /// A flag: `1` / `0` in CSV, `true` / `false` in JSON.
    Boolean,
    /// A code or label.
    String,
}

impl ColumnType {
    /// The type of the column called `name` (in either layout).
    pub fn of(name: &str) -> ColumnType {
        let flag_prefixes = ["means", "is", "typeOf", "sectorOf", "recruiterRelation"];
        if name == "yearOfRegistration" {
            ColumnType::Integer
        } else if flag_prefixes.iter().any(|p| name.starts_with(p)) {
            ColumnType::Boolean
        } else {
            ColumnType::String
        }
    }

    /// The Frictionless type name.
    pub fn frictionless(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Boolean => "boolean",
            ColumnType::String => "string",
        }
    }
}

/// A record export laid out in one [`Schema`]: the columns and the released rows,
/// each distinct row once with its number of records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordSheet {
    /// The layout.
    pub schema: Schema,
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Distinct rows (`None`: missing value) and how many records each stands for, in
    /// a stable order that says nothing about registration order.
    pub groups: Vec<(Vec<Option<String>>, u32)>,
}

impl RecordExport {
    /// The export in `schema`'s layout.
    pub fn sheet(&self, schema: Schema) -> RecordSheet {
        let columns: Vec<String> = self.columns().iter().map(|c| c.to_string()).collect();
        match schema {
            Schema::Caravan => RecordSheet {
                schema,
                columns,
                groups: self.groups().to_vec(),
            },
            Schema::Ctdc => {
                let level = |attr: &str| {
                    self.report
                        .generalization
                        .iter()
                        .find(|g| g.attribute == attr)
                        .map(|g| (g.level, g.level_name == "dropped"))
                };
                // (output column, source column, when the attribute is at full detail
                // only / generalized only / always).
                let mut plan: Vec<(String, Option<String>)> = Vec::new();
                for c in CTDC_COLUMNS {
                    let generalized = GENERALIZED_COLUMNS
                        .iter()
                        .find(|(_, _, ctdc)| *ctdc == c)
                        .and_then(|(attr, _, _)| level(attr))
                        .is_some_and(|(l, _)| l > 0);
                    let source = if generalized || c == "traffickMonths" {
                        None
                    } else if let Some(rest) = c.strip_prefix("sectorOfLabour") {
                        Some(format!("typeOfLabour{rest}"))
                    } else if let Some(rest) = c.strip_prefix("sectorOfSex") {
                        Some(format!("typeOfSex{rest}"))
                    } else {
                        Some(c.to_string())
                    };
                    plan.push((c.to_string(), source));
                }
                for (attr, added, ctdc) in GENERALIZED_COLUMNS {
                    if let Some((l, dropped)) = level(attr) {
                        if l > 0 && !dropped {
                            plan.push((added.to_string(), Some(ctdc.to_string())));
                        }
                    }
                }
                let index: Vec<Option<usize>> = plan
                    .iter()
                    .map(|(_, src)| {
                        src.as_ref()
                            .and_then(|s| columns.iter().position(|c| c == s))
                    })
                    .collect();
                let mut merged: BTreeMap<Vec<Option<String>>, u32> = BTreeMap::new();
                for (row, n) in self.groups() {
                    let out: Vec<Option<String>> = index
                        .iter()
                        .map(|i| i.and_then(|i| row.get(i).cloned().flatten()))
                        .collect();
                    *merged.entry(out).or_insert(0) += n;
                }
                RecordSheet {
                    schema,
                    columns: plan.into_iter().map(|(c, _)| c).collect(),
                    groups: merged.into_iter().collect(),
                }
            }
        }
    }
}

impl RecordSheet {
    /// Records in the sheet.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|(_, n)| *n as usize).sum()
    }

    /// Whether no record was released.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record's row, in order.
    pub fn rows(&self) -> impl Iterator<Item = &[Option<String>]> + '_ {
        self.groups
            .iter()
            .flat_map(|(row, n)| std::iter::repeat_n(row.as_slice(), *n as usize))
    }

    /// Each column's type.
    pub fn types(&self) -> Vec<ColumnType> {
        self.columns.iter().map(|c| ColumnType::of(c)).collect()
    }

    /// CSV with a header line (also when empty), missing values empty, flags `1`/`0`.
    pub fn to_csv(&self) -> String {
        let mut out = self.columns.join(",");
        out.push('\n');
        for (row, n) in &self.groups {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                csv_field(&mut line, cell.as_deref().unwrap_or(""));
            }
            line.push('\n');
            for _ in 0..*n {
                out.push_str(&line);
            }
        }
        out
    }

    /// One cell as a typed JSON value: numbers, booleans, strings,
    /// `null` for a missing value.
    pub fn typed_value(ty: ColumnType, cell: Option<&str>) -> Value {
        match (cell, ty) {
            (None, _) => Value::Null,
            (Some(v), ColumnType::Integer) => v
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(v)),
            (Some("1"), ColumnType::Boolean) => Value::Bool(true),
            (Some("0"), ColumnType::Boolean) => Value::Bool(false),
            (Some(v), _) => Value::from(v),
        }
    }

    /// The records as JSON objects keyed by column, values typed (numbers, booleans,
    /// strings, `null` for a missing value).
    pub fn json_records(&self) -> Vec<Value> {
        let types = self.types();
        self.rows()
            .map(|row| {
                let obj: serde_json::Map<String, Value> = self
                    .columns
                    .iter()
                    .zip(&types)
                    .zip(row)
                    .map(|((c, ty), cell)| {
                        (c.clone(), RecordSheet::typed_value(*ty, cell.as_deref()))
                    })
                    .collect();
                Value::Object(obj)
            })
            .collect()
    }
}

impl RecordExport {
    /// A JSON document in `schema`'s layout: the schema and its version, k, the
    /// publishable report, and the records with typed values.
    pub fn to_json_in(&self, schema: Schema) -> Result<String> {
        let sheet = self.sheet(schema);
        let doc = serde_json::json!({
            "schema": schema.name(),
            "schema_version": schema.version(),
            "country_codes": self.country_codes().name(),
            "k": self.report.k,
            "columns": sheet.columns,
            "report": self.report.published(),
            "records": sheet.json_records(),
        });
        serde_json::to_string(&doc).map_err(|e| Error::Internal(format!("json: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::kanon::{check_k_anonymity, export_records, RecordOptions};
    use crate::export::testdata;
    use crate::export::{Collected, DateWindow};

    /// The column list of ../shared/design/case-model.md ("CTDC columns"), copied as
    /// written there (wrapped lines, commas and spaces).
    const CASE_MODEL_TABLE: &str = "
yearOfRegistration, gender, ageBroad, citizenship, CountryOfExploitation, traffickMonths,
meansDebtBondageEarnings, meansThreats, meansAbusePsyPhySex, meansFalsePromises,
meansDrugsAlcohol, meansDenyBasicNeeds, meansExcessiveWorkHours, meansWithholdDocs,
isForcedLabour, isSexualExploit, isOtherExploit,
sectorOfLabourAgriculture, sectorOfLabourConstruction, sectorOfLabourDomesticWork,
sectorOfLabourHospitality, sectorOfSexProstitution, sectorOfSexPornography,
recruiterRelationIntimatePartner, recruiterRelationFriend, recruiterRelationFamily,
recruiterRelationOther
";

    fn design_columns() -> Vec<String> {
        CASE_MODEL_TABLE
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn records(n: usize, seed: u64) -> Vec<crate::export::StatRecord> {
        let cases = testdata::cases(n, seed, 100);
        Collected::from_cases(&cases, &DateWindow::default()).records
    }

    #[test]
    fn the_ctdc_header_is_the_design_table_exactly() {
        assert_eq!(CTDC_COLUMNS.to_vec(), design_columns());
        let e = export_records(&records(3_000, 5), &RecordOptions::default()).unwrap();
        let sheet = e.sheet(Schema::Ctdc);
        assert_eq!(sheet.columns, design_columns());
        let csv = sheet.to_csv();
        let header = csv.lines().next().unwrap();
        assert_eq!(header, design_columns().join(","));
        // No column of the older generation.
        for old in ["majorityStatus", "typeOfLabour", "typeOfSex"] {
            assert!(!csv.contains(old), "{old} in the CTDC layout");
        }
        // An empty export keeps the header.
        let none = export_records(&[], &RecordOptions::default()).unwrap();
        let empty = none.sheet(Schema::Ctdc).to_csv();
        assert_eq!(empty, format!("{}\n", design_columns().join(",")));
    }

    #[test]
    fn ctdc_layout_values_and_k_anonymity() {
        let recs = records(3_000, 9);
        for generalize in [false, true] {
            let opts = RecordOptions {
                generalize,
                ..RecordOptions::default()
            };
            let e = export_records(&recs, &opts).unwrap();
            let wide = e.sheet(Schema::Caravan);
            let sheet = e.sheet(Schema::Ctdc);
            assert_eq!(sheet.len(), e.report.released);
            assert_eq!(wide.len(), e.report.released);
            // Every group of the CTDC file has at least k rows.
            let rows: Vec<Vec<String>> = sheet
                .rows()
                .map(|r| r.iter().map(|c| c.clone().unwrap_or_default()).collect())
                .collect();
            let check = check_k_anonymity(&rows, 11);
            assert!(check.holds(), "{check:?}");
            // The sector columns are the wide layout's type columns.
            let col = |s: &RecordSheet, c: &str| s.columns.iter().position(|x| x == c);
            let a = col(&sheet, "sectorOfLabourConstruction").unwrap();
            let ctdc_yes = sheet
                .rows()
                .filter(|r| r[a].as_deref() == Some("1"))
                .count();
            if let Some(b) = col(&wide, "typeOfLabourConstruction") {
                let wide_yes = wide.rows().filter(|r| r[b].as_deref() == Some("1")).count();
                assert_eq!(ctdc_yes, wide_yes);
            }
            // traffickMonths: Caravan does not record it, so it is always missing.
            let t = col(&sheet, "traffickMonths").unwrap();
            assert!(sheet.rows().all(|r| r[t].is_none()));
            // A generalized attribute leaves its CTDC column empty and fills its own.
            for (attr, added, ctdc) in GENERALIZED_COLUMNS {
                let g = e
                    .report
                    .generalization
                    .iter()
                    .find(|g| g.attribute == attr)
                    .unwrap();
                let c = col(&sheet, ctdc).unwrap();
                if g.level > 0 && g.level_name != "dropped" && !sheet.is_empty() {
                    let a = col(&sheet, added).unwrap();
                    assert!(sheet.rows().all(|r| r[c].is_none()), "{ctdc}");
                    assert!(sheet.rows().any(|r| r[a].is_some()), "{added}");
                } else {
                    assert!(col(&sheet, added).is_none(), "{added}");
                }
            }
        }
    }

    #[test]
    fn generalized_values_go_to_their_own_columns() {
        // Small data: with k = 11 the search must generalize something.
        let recs = records(300, 3);
        let opts = RecordOptions {
            generalize: true,
            ..RecordOptions::default()
        };
        let e = export_records(&recs, &opts).unwrap();
        let sheet = e.sheet(Schema::Ctdc);
        assert_eq!(&sheet.columns[..27], &CTDC_COLUMNS.map(String::from)[..]);
        let used: Vec<_> = e
            .report
            .generalization
            .iter()
            .filter(|g| g.level > 0 && g.level_name != "dropped")
            .map(|g| g.attribute.clone())
            .collect();
        let added = sheet.columns.len() - 27;
        let expected = GENERALIZED_COLUMNS
            .iter()
            .filter(|(a, _, _)| used.iter().any(|u| u == a))
            .count();
        assert_eq!(added, expected, "{:?} {:?}", sheet.columns, used);
        // CTDC columns never hold a region name or a period.
        let cit = sheet
            .columns
            .iter()
            .position(|c| c == "citizenship")
            .unwrap();
        let year = 0;
        for r in sheet.rows() {
            if let Some(v) = &r[cit] {
                assert_eq!(v.len(), 3, "{v}");
            }
            if let Some(v) = &r[year] {
                assert!(v.parse::<i32>().is_ok(), "{v}");
            }
        }
    }

    #[test]
    fn json_records_are_typed() {
        use crate::export::Attribute;
        let opts = RecordOptions {
            attributes: vec![Attribute::Year, Attribute::Gender, Attribute::Exploitation],
            ..RecordOptions::default()
        };
        let e = export_records(&records(3_000, 5), &opts).unwrap();
        assert!(e.report.released > 0);
        let sheet = e.sheet(Schema::Ctdc);
        let recs = sheet.json_records();
        assert_eq!(recs.len(), sheet.len());
        let first = &recs[0];
        assert!(first["yearOfRegistration"].is_i64());
        assert!(first["isForcedLabour"].is_boolean());
        assert!(first["traffickMonths"].is_null());
        assert!(first["citizenship"].is_null(), "not released");
        let doc: Value = serde_json::from_str(&e.to_json_in(Schema::Ctdc).unwrap()).unwrap();
        assert_eq!(doc["schema_version"], CTDC_SCHEMA_VERSION);
        assert_eq!(doc["records"].as_array().unwrap().len(), e.report.released);
        assert!(first["gender"].is_string() || first["gender"].is_null());
        assert_eq!(Schema::parse("CTDC").unwrap(), Schema::Ctdc);
        assert!(Schema::parse("ctdc2017").is_err());
    }
}

//! The codebook written beside every export file: a Frictionless Data Package
//! descriptor (`datapackage.json`) with the columns, their types, the codes and their
//! labels, and what protected the data (k, generalization levels, suppressed counts,
//! the date window, ε and δ where used, the Caravan version).
//!
//! Only publishable figures go in: the record report is the [`PublishedReport`]
//! (decision 0018), the table report the table's own released figures.

use serde_json::{json, Map, Value};

use super::kanon::{PublishedReport, RecordExport};
use super::regions::all_regions;
use super::schema::{ColumnType, RecordSheet};
use super::tables::Table;

/// The Caravan version written into codebooks.
pub const CARAVAN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where and how the exported file was written, and which cases it read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileInfo {
    /// The data file's name, relative to the descriptor (e.g. `cases.csv`).
    pub path: String,
    /// `csv`, `json`, `xlsx` or `parquet`.
    pub format: String,
    /// Registration dates from (inclusive), as given.
    pub date_from: Option<String>,
    /// Registration dates to (exclusive), as given.
    pub date_to: Option<String>,
}

/// `(code, label)` pairs of a CTDC column, where the codes are a closed list.
fn codes(column: &str) -> Option<Vec<(String, String)>> {
    let pairs = |v: &[(&str, &str)]| {
        Some(
            v.iter()
                .map(|(c, l)| (c.to_string(), l.to_string()))
                .collect(),
        )
    };
    match column {
        "gender" => pairs(&[
            ("Woman", "woman or girl"),
            ("Man", "man or boy"),
            (
                "Trans/Transgender/NonConforming",
                "transgender or gender non-conforming",
            ),
        ]),
        "ageBroad" => pairs(&[
            ("0--8", "0 to 8 years"),
            ("9--17", "9 to 17 years"),
            ("18--20", "18 to 20 years"),
            ("21--23", "21 to 23 years"),
            ("24--26", "24 to 26 years"),
            ("27--29", "27 to 29 years"),
            ("30--38", "30 to 38 years"),
            ("39--47", "39 to 47 years"),
            ("48+", "48 years or older"),
        ]),
        "ageGroup" => pairs(&[
            ("0--17", "minor (0 to 17 years)"),
            ("18--29", "18 to 29 years"),
            ("30--47", "30 to 47 years"),
            ("48+", "48 years or older"),
            ("18+", "adult (18 years or older)"),
        ]),
        "traffickMonths" => pairs(&[
            ("0--12 (0-1 yr)", "up to a year"),
            ("13--24 (1-2 yrs)", "one to two years"),
            ("25+ (2+ yrs)", "more than two years"),
        ]),
        "majorityStatus" | "majorityStatusAtExploit" | "majorityEntry" => {
            pairs(&[("Adult", "adult"), ("Minor", "minor")])
        }
        "citizenshipRegion" | "CountryOfExploitationRegion" => Some(
            all_regions()
                .into_iter()
                .map(|r| (r.to_string(), format!("region {r}")))
                .collect(),
        ),
        _ => None,
    }
}

fn description(column: &str) -> String {
    match column {
        "yearOfRegistration" => "year the case was registered".into(),
        "yearOfRegistrationPeriod" => {
            "5-year period of registration (generalized yearOfRegistration)".into()
        }
        "ageGroup" => "coarse age group (generalized ageBroad)".into(),
        "citizenship" | "CountryOfExploitation" => "country, ISO 3166-1 code".into(),
        "citizenshipRegion" | "CountryOfExploitationRegion" => {
            "region (generalized country column)".into()
        }
        "traffickMonths" => "months in trafficking (not recorded by Caravan: empty)".into(),
        c if ColumnType::of(c) == ColumnType::Boolean => "1 yes, 0 no, empty unknown".into(),
        c => format!("CTDC column {c}"),
    }
}

fn field(name: &str, ty: ColumnType, format: &str) -> Value {
    let mut f = Map::new();
    f.insert("name".into(), json!(name));
    f.insert("type".into(), json!(ty.frictionless()));
    f.insert("description".into(), json!(description(name)));
    if ty == ColumnType::Boolean && format != "json" {
        f.insert("trueValues".into(), json!(["1"]));
        f.insert("falseValues".into(), json!(["0"]));
    }
    if let Some(codes) = codes(name) {
        f.insert(
            "constraints".into(),
            json!({ "enum": codes.iter().map(|(c, _)| c).collect::<Vec<_>>() }),
        );
        f.insert(
            "categories".into(),
            Value::Array(
                codes
                    .iter()
                    .map(|(c, l)| json!({ "value": c, "label": l }))
                    .collect(),
            ),
        );
    }
    Value::Object(f)
}

fn media_type(format: &str) -> &'static str {
    match format {
        "json" => "application/json",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "parquet" => "application/vnd.apache.parquet",
        _ => "text/csv",
    }
}

fn package(name: &str, resource: Value, protection: Value, file: &FileInfo) -> Value {
    json!({
        "name": name,
        "profile": "data-package",
        "created_by": format!("Caravan {CARAVAN_VERSION}"),
        "resources": [resource],
        "caravan": {
            "version": CARAVAN_VERSION,
            "date_window": { "from": file.date_from, "to": file.date_to },
            "protection": protection,
        },
    })
}

/// The descriptor of a record export written as `file` in `sheet`'s layout.
pub fn record_package(export: &RecordExport, sheet: &RecordSheet, file: &FileInfo) -> Value {
    let fields: Vec<Value> = sheet
        .columns
        .iter()
        .zip(sheet.types())
        .map(|(c, ty)| field(c, ty, &file.format))
        .collect();
    let r: PublishedReport = export.report.published();
    let resource = json!({
        "name": "records",
        "path": file.path,
        "format": file.format,
        "mediatype": media_type(&file.format),
        "encoding": "utf-8",
        "profile": "tabular-data-resource",
        "schema": { "fields": fields, "missingValues": [""] },
        "caravan": {
            "schema": sheet.schema.name(),
            "schema_version": sheet.schema.version(),
            "country_codes": export.country_codes().name(),
            "rows": sheet.len(),
        },
    });
    let protection = json!({
        "method": "k-anonymity (records in groups below k redacted whole)",
        "k": r.k,
        "released": r.released,
        "released_groups": r.released_groups,
        "redacted_small_groups": r.redacted_small_groups,
        "eligible": r.eligible,
        "generalization": r.generalization,
        "precision": r.precision,
        "epsilon": null,
        "delta": null,
    });
    package("caravan-records", resource, protection, file)
}

/// The descriptor of a table written as `file`. `headers` are the file's column
/// names, as written.
pub fn table_package(table: &Table, headers: &[String], file: &FileInfo) -> Value {
    let fields: Vec<Value> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let is_dim = i < table.column_names().len();
            let ty = if is_dim { "string" } else { "any" };
            json!({
                "name": h,
                "type": ty,
                "description": if is_dim {
                    "dimension value; the last rows hold (total), the suppressed remainder, \
                     (epsilon) and (delta)".to_string()
                } else {
                    format!("{h}: a count (a figure such as <k or none in the last rows)")
                },
            })
        })
        .collect();
    let p = &table.privacy;
    let resource = json!({
        "name": "table",
        "path": file.path,
        "format": file.format,
        "mediatype": media_type(&file.format),
        "encoding": "utf-8",
        "profile": "tabular-data-resource",
        "schema": { "fields": fields, "missingValues": [""] },
        "caravan": {
            "dimensions": table.dimensions.iter().map(|d| d.name()).collect::<Vec<_>>(),
            "schema": if table.columns.is_empty() { "caravan" } else { "ctdc" },
            "unit": table.unit,
            "country_codes": table.country_codes.name(),
            "cells": table.cells.len(),
        },
    });
    let protection = json!({
        "method": if p.differentially_private {
            "differential privacy, cells below the threshold suppressed"
        } else {
            "small cells suppressed (counts of the k-anonymous release)"
        },
        "k": p.k,
        "released_total": table.released_total,
        "suppressed_cells": table.suppressed_cells,
        "suppressed_total": table.suppressed_total,
        "total": table.total,
        "epsilon": p.epsilon,
        "delta": p.delta,
        "mechanism": p.mechanism,
    });
    package("caravan-table", resource, protection, file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::kanon::{export_records, RecordOptions};
    use crate::export::schema::Schema;
    use crate::export::{testdata, Collected, DateWindow};

    #[test]
    fn the_record_codebook_matches_the_file() {
        let cases = testdata::cases(2_000, 4, 100);
        let recs = Collected::from_cases(&cases, &DateWindow::default()).records;
        let opts = RecordOptions {
            generalize: true,
            ..RecordOptions::default()
        };
        let e = export_records(&recs, &opts).unwrap();
        for schema in [Schema::Ctdc, Schema::Caravan] {
            let sheet = e.sheet(schema);
            let file = FileInfo {
                path: "cases.csv".into(),
                format: "csv".into(),
                date_from: Some("2020-01".into()),
                date_to: None,
            };
            let pkg = record_package(&e, &sheet, &file);
            let names: Vec<&str> = pkg["resources"][0]["schema"]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap())
                .collect();
            let header = sheet.to_csv();
            assert_eq!(names.join(","), header.lines().next().unwrap());
            assert_eq!(pkg["caravan"]["protection"]["k"], 11);
            assert_eq!(pkg["caravan"]["date_window"]["from"], "2020-01");
            assert_eq!(pkg["caravan"]["version"], CARAVAN_VERSION);
            let gender = pkg["resources"][0]["schema"]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == "gender");
            if let Some(g) = gender {
                assert_eq!(g["categories"][0]["value"], "Woman");
            }
            // Only the publishable report: a remainder below k is not in it.
            let red = &pkg["caravan"]["protection"]["redacted_small_groups"];
            if let Some(n) = red.as_u64() {
                assert!(n == 0 || n >= 11, "{n}");
            }
            assert_eq!(
                red.as_u64().map(|n| n as usize),
                e.report.published().redacted_small_groups
            );
        }
    }
}

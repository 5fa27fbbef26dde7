//! Binary export files: XLSX (`rust_xlsxwriter`) and Parquet (the `parquet` crate's
//! column writer, uncompressed, no Arrow), for record exports and tables. Both always
//! carry the header (column names and types), also when no row was released.
//!
//! Only what is already in the CSV/JSON export goes in: the rows of a [`RecordSheet`],
//! a table's released cells and its publishable totals.

use std::sync::Arc;

use parquet::basic::{ConvertedType, Repetition, Type as PhysicalType};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use rust_xlsxwriter::Workbook;

use super::schema::{ColumnType, RecordSheet};
use super::tables::Table;
use crate::error::{Error, Result};

/// Rows with named, typed columns: what both writers take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Column names.
    pub columns: Vec<String>,
    /// Column types.
    pub types: Vec<ColumnType>,
    /// Rows (`None`: missing value).
    pub rows: Vec<Vec<Option<String>>>,
    /// Figures about the whole file (totals, k, ε): Parquet key-value metadata, and
    /// rows after a blank one in XLSX.
    pub notes: Vec<(String, String)>,
}

impl Grid {
    /// A record sheet's rows.
    pub fn from_records(sheet: &RecordSheet, notes: Vec<(String, String)>) -> Grid {
        Grid {
            columns: sheet.columns.clone(),
            types: sheet.types(),
            rows: sheet.rows().map(|r| r.to_vec()).collect(),
            notes,
        }
    }

    /// A table's released cells (dimension values, count, and the 95% interval with
    /// DP); the total, the suppressed remainder, k, ε and δ go into the notes.
    pub fn from_table(t: &Table) -> Grid {
        let dp = t.privacy.differentially_private;
        let mut columns: Vec<String> = t.column_names();
        let mut types = vec![ColumnType::String; columns.len()];
        columns.push("count".into());
        types.push(ColumnType::Integer);
        if dp {
            columns.extend(["low95".to_string(), "high95".to_string()]);
            types.extend([ColumnType::Integer, ColumnType::Integer]);
        }
        let rows = t
            .cells
            .iter()
            .map(|c| {
                let mut row: Vec<Option<String>> = c.values.iter().cloned().map(Some).collect();
                row.push(Some(c.count.to_string()));
                if dp {
                    let w = c.noise_95.unwrap_or(0);
                    row.push(Some(c.count.saturating_sub(w).to_string()));
                    row.push(Some((c.count + w).to_string()));
                }
                row
            })
            .collect();
        let k = t.privacy.k;
        let opt = |v: Option<String>, none: &str| v.unwrap_or_else(|| none.to_string());
        let notes = vec![
            ("total".into(), opt(t.total.map(|n| n.to_string()), "")),
            ("released_total".into(), t.released_total.to_string()),
            (
                "suppressed_total".into(),
                opt(t.suppressed_total.map(|n| n.to_string()), &format!("<{k}")),
            ),
            ("k".into(), k.to_string()),
            (
                "epsilon".into(),
                opt(t.privacy.epsilon.map(|e| e.to_string()), "none"),
            ),
            (
                "delta".into(),
                opt(t.privacy.delta.map(|d| format!("{d:e}")), "none"),
            ),
        ];
        Grid {
            columns,
            types,
            rows,
            notes,
        }
    }

    /// An XLSX workbook: one sheet, the header on the first row, numbers and booleans
    /// typed, missing values as empty cells; the notes below the rows after a blank
    /// row.
    pub fn to_xlsx(&self) -> Result<Vec<u8>> {
        let err = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("xlsx: {e}"));
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (c, name) in self.columns.iter().enumerate() {
            ws.write_string(0, c as u16, name).map_err(err)?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, (cell, ty)) in row.iter().zip(&self.types).enumerate() {
                let c = c as u16;
                let Some(v) = cell else { continue };
                match (ty, v.as_str()) {
                    (ColumnType::Boolean, "1") => ws.write_boolean(r, c, true),
                    (ColumnType::Boolean, "0") => ws.write_boolean(r, c, false),
                    (ColumnType::Integer, v) if v.parse::<i64>().is_ok() => {
                        ws.write_number(r, c, v.parse::<i64>().unwrap_or(0) as f64)
                    }
                    (_, v) => ws.write_string(r, c, v),
                }
                .map_err(err)?;
            }
        }
        if !self.notes.is_empty() {
            let start = self.rows.len() as u32 + 2;
            for (i, (k, v)) in self.notes.iter().enumerate() {
                ws.write_string(start + i as u32, 0, format!("({k})"))
                    .map_err(err)?;
                ws.write_string(start + i as u32, 1, v).map_err(err)?;
            }
        }
        wb.save_to_buffer().map_err(err)
    }

    /// A Parquet file: one optional column per column (UTF-8 strings, INT64,
    /// BOOLEAN), missing values null, one row group (none when empty: the schema is
    /// still in the footer); the notes as key-value metadata.
    pub fn to_parquet(&self) -> Result<Vec<u8>> {
        let err = |e: parquet::errors::ParquetError| Error::Internal(format!("parquet: {e}"));
        let mut fields = Vec::new();
        for (name, ty) in self.columns.iter().zip(&self.types) {
            let builder = match ty {
                ColumnType::Integer => Type::primitive_type_builder(name, PhysicalType::INT64),
                ColumnType::Boolean => Type::primitive_type_builder(name, PhysicalType::BOOLEAN),
                ColumnType::String => Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY)
                    .with_converted_type(ConvertedType::UTF8),
            };
            fields.push(Arc::new(
                builder
                    .with_repetition(Repetition::OPTIONAL)
                    .build()
                    .map_err(err)?,
            ));
        }
        let schema = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .map_err(err)?;
        let notes: Vec<KeyValue> = self
            .notes
            .iter()
            .map(|(k, v)| KeyValue::new(format!("caravan.{k}"), v.clone()))
            .collect();
        let props = WriterProperties::builder()
            .set_key_value_metadata(Some(notes))
            .set_created_by(format!("Caravan {}", super::codebook::CARAVAN_VERSION))
            .build();
        let mut writer = SerializedFileWriter::new(Vec::new(), Arc::new(schema), Arc::new(props))
            .map_err(err)?;
        if !self.rows.is_empty() {
            let mut group = writer.next_row_group().map_err(err)?;
            let mut i = 0;
            while let Some(mut col) = group.next_column().map_err(err)? {
                let cells = self.rows.iter().map(|r| r.get(i).cloned().flatten());
                let defs: Vec<i16> = cells.clone().map(|c| i16::from(c.is_some())).collect();
                let present = cells.flatten();
                match self.types.get(i) {
                    Some(ColumnType::Integer) => {
                        let v: Vec<i64> = present.map(|s| s.parse().unwrap_or(0)).collect();
                        col.typed::<Int64Type>()
                            .write_batch(&v, Some(&defs), None)
                            .map_err(err)?;
                    }
                    Some(ColumnType::Boolean) => {
                        let v: Vec<bool> = present.map(|s| s == "1").collect();
                        col.typed::<BoolType>()
                            .write_batch(&v, Some(&defs), None)
                            .map_err(err)?;
                    }
                    _ => {
                        let v: Vec<ByteArray> =
                            present.map(|s| ByteArray::from(s.as_str())).collect();
                        col.typed::<ByteArrayType>()
                            .write_batch(&v, Some(&defs), None)
                            .map_err(err)?;
                    }
                }
                col.close().map_err(err)?;
                i += 1;
            }
            group.close().map_err(err)?;
        }
        writer.into_inner().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::kanon::{export_records, RecordOptions};
    use crate::export::schema::Schema;
    use crate::export::{testdata, Attribute, Collected, DateWindow};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn sheet(n: usize) -> RecordSheet {
        let cases = testdata::cases(n, 5, 100);
        let recs = Collected::from_cases(&cases, &DateWindow::default()).records;
        let opts = RecordOptions {
            attributes: vec![Attribute::Year, Attribute::Gender, Attribute::Exploitation],
            ..RecordOptions::default()
        };
        export_records(&recs, &opts).unwrap().sheet(Schema::Ctdc)
    }

    #[test]
    fn parquet_reads_back_with_header_and_rows() {
        for n in [0, 2_000] {
            let s = sheet(n);
            let grid = Grid::from_records(&s, vec![("k".into(), "11".into())]);
            let bytes = grid.to_parquet().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("r.parquet");
            std::fs::write(&path, bytes).unwrap();
            let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
            let meta = reader.metadata().file_metadata();
            assert_eq!(meta.num_rows() as usize, s.len());
            let names: Vec<&str> = meta
                .schema_descr()
                .columns()
                .iter()
                .map(|c| c.name())
                .collect();
            assert_eq!(
                names,
                s.columns.iter().map(String::as_str).collect::<Vec<_>>()
            );
            let kv = meta.key_value_metadata().unwrap();
            assert!(kv.iter().any(|k| k.key == "caravan.k"));
        }
    }

    #[test]
    fn xlsx_is_a_zip_with_a_sheet() {
        for n in [0, 2_000] {
            let bytes = Grid::from_records(&sheet(n), Vec::new()).to_xlsx().unwrap();
            assert_eq!(&bytes[..2], b"PK");
        }
    }
}

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
use super::table_text::footer_label;
use super::tables::Table;
use crate::error::{Error, Result};
use crate::vocab::Lang;

/// Rows with named, typed columns: what both writers take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Column names.
    pub columns: Vec<String>,
    /// Column types.
    pub types: Vec<ColumnType>,
    /// Rows (`None`: missing value).
    pub rows: Vec<Vec<Option<String>>>,
    /// Figures about the whole file (totals, k, ε): Parquet key-value metadata, and,
    /// when [`Grid::note_column`] is set, rows after a blank one in XLSX.
    pub notes: Vec<(String, String)>,
    /// XLSX: the column the notes' figures go into (a table's `count`, as in its
    /// CSV), the label `(name)` in the first column. `None`: the XLSX is the header
    /// row and the rows only (record exports: their figures are in the codebook).
    pub note_column: Option<usize>,
    /// XLSX: the notes' labels, in the notes' order (a table's, in its language);
    /// empty: `(name)`.
    pub note_labels: Vec<String>,
}

impl Grid {
    /// A record sheet's rows; `notes` go into Parquet metadata only (an XLSX of
    /// records is the header row, then the rows: nothing below them).
    pub fn from_records(sheet: &RecordSheet, notes: Vec<(String, String)>) -> Grid {
        Grid {
            columns: sheet.columns.clone(),
            types: sheet.types(),
            rows: sheet.rows().map(|r| r.to_vec()).collect(),
            notes,
            note_column: None,
            note_labels: Vec::new(),
        }
    }

    /// A table's released cells (dimension values, count, and the 95% interval with
    /// DP); the total, the suppressed remainder, k, ε and δ go into the notes.
    pub fn from_table(t: &Table) -> Grid {
        Grid::from_table_in(t, Lang::En)
    }

    /// As [`Grid::from_table`], laid out for readers in `lang` ([`Table::layout`]:
    /// Russian headers, label columns and note labels; the codes and the Parquet
    /// metadata keys stay as they are).
    pub fn from_table_in(t: &Table, lang: Lang) -> Grid {
        let layout = t.layout(lang);
        let mut types = vec![ColumnType::String; layout.value_columns];
        types.resize(layout.headers.len(), ColumnType::Integer);
        let rows = layout
            .rows
            .into_iter()
            .map(|r| r.into_iter().map(Some).collect())
            .collect();
        let k = t.privacy.k;
        let opt = |v: Option<String>, none: &str| v.unwrap_or_else(|| none.to_string());
        let notes: Vec<(String, String)> = vec![
            ("total".into(), opt(t.total.map(|n| n.to_string()), "")),
            ("released_total".into(), t.released_total.to_string()),
            ("suppressed_total".into(), t.remainder_figure()),
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
        let note_labels = notes
            .iter()
            .map(|(key, _)| footer_label(key, lang))
            .collect();
        Grid {
            columns: layout.headers,
            types,
            rows,
            notes,
            note_column: Some(layout.value_columns),
            note_labels,
        }
    }

    /// An XLSX workbook: one sheet, the header on the first row, numbers and booleans
    /// typed, missing values as empty cells; with a [`Grid::note_column`], the notes
    /// below the rows after a blank row (label in the first column, figure in that
    /// column).
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
        if let Some(column) = self.note_column.filter(|_| !self.notes.is_empty()) {
            let start = self.rows.len() as u32 + 2;
            let column = column.max(1) as u16;
            for (i, (k, v)) in self.notes.iter().enumerate() {
                let r = start + i as u32;
                let label = self
                    .note_labels
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("({k})"));
                ws.write_string(r, 0, label).map_err(err)?;
                match v.parse::<i64>() {
                    Ok(n) => ws.write_number(r, column, n as f64),
                    Err(_) => ws.write_string(r, column, v),
                }
                .map_err(err)?;
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

    /// The first sheet's cells as text ("" for empty), read back with calamine.
    fn read_xlsx(bytes: Vec<u8>) -> Vec<Vec<String>> {
        use calamine::{Data, Reader, Xlsx};
        let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = wb.worksheet_range_at(0).unwrap().unwrap();
        assert_eq!(range.start(), Some((0, 0)));
        range
            .rows()
            .map(|r| {
                r.iter()
                    .map(|c| match c {
                        Data::Empty => String::new(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect()
    }

    /// Red team round 3, F10: a records XLSX is the header row, then one row per
    /// released record, nothing below (no blank row, no `(schema)`, `(k)` rows): the
    /// figures are in the codebook and the Parquet metadata.
    #[test]
    fn records_xlsx_is_the_header_then_the_rows_only() {
        for n in [0, 2_000] {
            let s = sheet(n);
            let notes = vec![("k".to_string(), "11".to_string())];
            let rows = read_xlsx(Grid::from_records(&s, notes).to_xlsx().unwrap());
            assert_eq!(rows.len(), 1 + s.len(), "header + {} records", s.len());
            assert_eq!(rows[0], s.columns);
            assert!(rows.iter().flatten().all(|c| !c.starts_with('(')));
        }
    }

    /// Red team round 3, F10: a table's XLSX writes its footer figures in `count`,
    /// as its CSV does, not in the second dimension column.
    #[test]
    fn table_xlsx_puts_the_footer_figures_in_count() {
        use crate::export::{table, Dimension, TableSpec};
        let cases = testdata::cases(2_000, 5, 100);
        let recs = Collected::from_cases(&cases, &DateWindow::default()).records;
        let t = table(
            &recs,
            &TableSpec::new(vec![
                Dimension::Citizenship,
                Dimension::CountryOfExploitation,
            ]),
        )
        .unwrap();
        assert!(!t.cells.is_empty());
        let rows = read_xlsx(Grid::from_table(&t).to_xlsx().unwrap());
        assert_eq!(rows[0][2], "count");
        let total = rows
            .iter()
            .find(|r| r[0] == "(total)")
            .expect("a (total) row");
        assert_eq!(total[1], "", "nothing in the second dimension column");
        assert_eq!(total[2], t.total.unwrap().to_string());
        // The same figures, in the same columns, as the CSV's footer.
        let csv = t.to_csv();
        let line = csv.lines().find(|l| l.starts_with("(total)")).unwrap();
        assert_eq!(line.split(',').collect::<Vec<_>>()[..3], total[..3]);
    }

    #[test]
    fn xlsx_is_a_zip_with_a_sheet() {
        for n in [0, 2_000] {
            let bytes = Grid::from_records(&sheet(n), Vec::new()).to_xlsx().unwrap();
            assert_eq!(&bytes[..2], b"PK");
        }
    }
}

//! A published table laid out for readers in a language (`--lang`): the CSV and XLSX
//! headers, the footer labels and the privacy statement. Codes stay codes: in Russian
//! the dimension columns keep their CTDC codes (`KGZ`, `Woman`) under Russian headers,
//! and a label column per dimension beside them holds the vocabulary's Russian labels
//! (as the charts draw them). In English the layout is the one Caravan always wrote.
//! Only figures already in the table are used.

use super::tables::{Dimension, Table};
use crate::vocab::Lang;

impl Dimension {
    /// The dimension's name for a header or an axis: [`Dimension::name`] in English,
    /// a Russian name in Russian.
    pub fn title(self, lang: Lang) -> &'static str {
        if lang == Lang::En {
            return self.name();
        }
        match self {
            Dimension::Citizenship => "гражданство",
            Dimension::CountryOfExploitation => "страна эксплуатации",
            Dimension::CountryOfRecruitment => "страна вербовки",
            Dimension::Route => "маршрут",
            Dimension::Year => "год",
            Dimension::Gender => "пол",
            Dimension::AgeBand => "возрастная группа",
            Dimension::Majority => "совершеннолетие",
            Dimension::Exploitation => "вид эксплуатации",
            Dimension::Labour => "отрасль",
            Dimension::SexualExploitation => "вид сексуальной эксплуатации",
            Dimension::MeansOfControl => "средства контроля",
            Dimension::RecruiterRelation => "отношение к вербовщику",
            Dimension::TraffickingStatus => "статус",
            Dimension::Service => "услуга",
            Dimension::ReferralOutcome => "результат направления",
        }
    }
}

/// A table as its CSV and XLSX show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLayout {
    /// Column headers.
    pub headers: Vec<String>,
    /// How many columns hold dimension values (codes, then labels) before `count`.
    pub value_columns: usize,
    /// One row per released cell: the values, then the count (with DP the 95%
    /// interval).
    pub rows: Vec<Vec<String>>,
    /// The summary rows below the cells: the label (first column) and the figure
    /// (`count` column).
    pub footer: Vec<(String, String)>,
}

/// A footer label (`total`, `outside`, `not shown`, `epsilon`, `delta`,
/// `released_total`, `suppressed_total`, `k`) in `lang`, in parentheses.
pub(crate) fn footer_label(key: &str, lang: Lang) -> String {
    let ru = lang == Lang::Ru;
    let name = match key {
        "total" if ru => "всего",
        "outside" if ru => "вне выпуска",
        "outside" => "outside the release",
        "not shown" if ru => "не показано",
        "suppressed_total" if ru => "не учтено",
        "released_total" if ru => "учтено",
        "epsilon" if ru => "эпсилон",
        "delta" if ru => "дельта",
        other => other,
    };
    format!("({name})")
}

impl Table {
    /// Whether this table gets label columns in `lang`: Russian, Caravan layout (a
    /// CTDC-layout table keeps exactly CTDC's column names).
    fn labelled(&self, lang: Lang) -> bool {
        lang == Lang::Ru && self.columns.is_empty()
    }

    /// The table laid out for readers in `lang` (see the module documentation).
    pub fn layout(&self, lang: Lang) -> TableLayout {
        let dp = self.privacy.differentially_private;
        let ru = lang == Lang::Ru;
        let labelled = self.labelled(lang);
        let mut headers: Vec<String> = if labelled {
            self.dimensions
                .iter()
                .map(|d| d.title(lang).to_string())
                .collect()
        } else {
            self.column_names()
        };
        if labelled {
            headers.extend(
                self.dimensions
                    .iter()
                    .map(|d| format!("{} (название)", d.title(lang))),
            );
        }
        let value_columns = headers.len();
        headers.push(if ru { "число" } else { "count" }.into());
        if dp {
            if ru {
                headers.extend(["нижняя 95%".to_string(), "верхняя 95%".to_string()]);
            } else {
                headers.extend(["low95".to_string(), "high95".to_string()]);
            }
        }
        let rows = self
            .cells
            .iter()
            .map(|cell| {
                let mut row = cell.values.clone();
                if labelled {
                    row.extend(
                        self.dimensions
                            .iter()
                            .zip(&cell.values)
                            .map(|(d, v)| d.label(v, lang)),
                    );
                }
                row.push(cell.count.to_string());
                if dp {
                    let w = cell.noise_95.unwrap_or(0);
                    row.push(cell.count.saturating_sub(w).to_string());
                    row.push((cell.count + w).to_string());
                }
                row
            })
            .collect();
        let none = if ru { "нет" } else { "none" };
        let mut footer = vec![
            (
                footer_label("total", lang),
                self.total.map_or_else(String::new, |t| t.to_string()),
            ),
            (
                footer_label(if dp { "not shown" } else { "outside" }, lang),
                self.remainder_figure(),
            ),
        ];
        match (self.privacy.epsilon, self.privacy.delta) {
            (Some(e), Some(d)) => {
                footer.push((footer_label("epsilon", lang), e.to_string()));
                footer.push((footer_label("delta", lang), format!("{d:e}")));
            }
            _ => {
                footer.push((footer_label("epsilon", lang), none.into()));
                footer.push((footer_label("delta", lang), none.into()));
            }
        }
        TableLayout {
            headers,
            value_columns,
            rows,
            footer,
        }
    }

    /// The suppressed remainder as published: the number, or `<k` when fewer than k.
    pub fn remainder_figure(&self) -> String {
        match self.suppressed_total {
            Some(n) => n.to_string(),
            None => format!("<{}", self.privacy.k),
        }
    }

    /// CSV in `lang`: the [`Table::layout`], the footer's label in the first column
    /// and its figure in the count column.
    pub fn to_csv_in(&self, lang: Lang) -> String {
        let layout = self.layout(lang);
        let mut out = String::new();
        let line = |out: &mut String, fields: &[String]| {
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                super::kanon::csv_field(out, f);
            }
            out.push('\n');
        };
        line(&mut out, &layout.headers);
        for row in &layout.rows {
            line(&mut out, row);
        }
        for (label, figure) in &layout.footer {
            let mut row = vec![String::new(); layout.headers.len()];
            row[0] = label.clone();
            row[layout.value_columns] = figure.clone();
            line(&mut out, &row);
        }
        out
    }

    /// The privacy statement in `lang`: [`super::dp::PrivacyReport::statement`] in
    /// English; in Russian a statement made from the report's figures.
    pub fn statement_in(&self, lang: Lang) -> String {
        let p = &self.privacy;
        if lang == Lang::En {
            return p.statement.clone();
        }
        if p.differentially_private {
            format!(
                "дифференциальная приватность: ε = {}, δ = {}, механизм {}; ячейки с шумом \
                 ниже {} не показаны",
                p.epsilon.map_or_else(|| "?".into(), |e| e.to_string()),
                p.delta.map_or_else(|| "?".into(), |d| format!("{d:e}")),
                p.mechanism,
                p.threshold
            )
        } else {
            format!(
                "без дифференциальной приватности: точные числа записей k-анонимного \
                 выпуска (k = {}), каждое число — сумма групп не менее чем из k записей; \
                 бюджет приватности не расходуется",
                p.k
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::{table, testdata, Collected, DateWindow, TableSpec};

    fn routes() -> Table {
        let cases = testdata::cases(2_000, 5, 100);
        let recs = Collected::from_cases(&cases, &DateWindow::default()).records;
        table(
            &recs,
            &TableSpec::new(vec![
                Dimension::Citizenship,
                Dimension::CountryOfExploitation,
            ]),
        )
        .unwrap()
    }

    /// Red team round 3, F10: `--lang ru` tables were entirely English. Russian
    /// headers, label columns and footer; the codes stay codes.
    #[test]
    fn a_russian_table_has_russian_headers_labels_and_footer_and_keeps_the_codes() {
        let t = routes();
        assert!(!t.cells.is_empty());
        let csv = t.to_csv_in(Lang::Ru);
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "гражданство,страна эксплуатации,гражданство (название),\
             страна эксплуатации (название),число"
        );
        let first: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(
            first[..2],
            t.cells[0]
                .values
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()[..]
        );
        assert_eq!(
            first[2],
            Dimension::Citizenship.label(&t.cells[0].values[0], Lang::Ru)
        );
        assert!(
            first[2].chars().any(|c| ('а'..='я').contains(&c)),
            "{first:?}"
        );
        assert_eq!(first[4], t.cells[0].count.to_string());
        assert!(
            csv.contains(&format!("(всего),,,,{}\n", t.total.unwrap())),
            "{csv}"
        );
        assert!(csv.contains("(вне выпуска),,,,"), "{csv}");
        assert!(!csv.contains("(total)") && !csv.contains("count"), "{csv}");
        assert!(t.statement_in(Lang::Ru).contains("k-анонимного"));
    }

    /// English is the layout Caravan always wrote.
    #[test]
    fn english_is_unchanged() {
        let t = routes();
        let csv = t.to_csv_in(Lang::En);
        assert!(csv.starts_with("citizenship,country-of-exploitation,count\n"));
        assert!(csv.contains(&format!("(total),,{}\n", t.total.unwrap())));
        assert_eq!(csv, t.to_csv());
    }
}

//! Turning one cell into edits: vocabulary codes or their English / Russian labels
//! (any case), the mapping's own `[values]`, yes / no, and month-precision dates.

use std::collections::HashMap;

use super::mapping::{Mapping, Target};
use crate::error::{Error, Result};
use crate::model::{Edit, YearMonth};
use crate::vocab::{vocabulary, Answer, Country, Vocabulary};

/// Resolves the cells of one column.
pub(super) struct Resolver {
    target: Target,
    /// Normalized spreadsheet value → code (codes, labels, then the mapping's values,
    /// which win).
    lookup: HashMap<String, String>,
    /// What the values are, for error messages.
    what: String,
}

/// Common names of countries whose ISO 3166 name differs, as spreadsheets write them.
const COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("Russia", "RU"),
    ("Россия", "RU"),
    ("Turkey", "TR"),
    ("Türkiye", "TR"),
    ("Турция", "TR"),
    ("Moldova", "MD"),
    ("Молдова", "MD"),
    ("Iran", "IR"),
    ("Syria", "SY"),
    ("Vietnam", "VN"),
    ("South Korea", "KR"),
    ("Korea", "KR"),
    ("Южная Корея", "KR"),
    ("UK", "GB"),
    ("United Kingdom", "GB"),
    ("Великобритания", "GB"),
    ("USA", "US"),
    ("United States", "US"),
    ("США", "US"),
    ("UAE", "AE"),
    ("ОАЭ", "AE"),
];

/// Lower case, inner whitespace collapsed.
fn norm(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl Resolver {
    pub(super) fn new(target: &Target, mapping: &Mapping) -> Result<Resolver> {
        let vocab_id = match target {
            Target::Scalar(f) => Some(f.vocabulary()),
            Target::Set(f) => Some(f.vocabulary()),
            Target::Route(_) => Some("country"),
            Target::Indicator(_) => Some(Answer::ID),
            _ => None,
        };
        let mut lookup = HashMap::new();
        let mut what = target.values_key();
        if let Some(id) = vocab_id {
            let table = vocabulary(id).ok_or_else(|| {
                Error::Internal(format!("vocabulary {id} is missing from the tables"))
            })?;
            for e in table.entries {
                for key in [e.code, e.en, e.ru] {
                    lookup
                        .entry(norm(key))
                        .or_insert_with(|| e.code.to_string());
                }
            }
            let article = if id.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            what = format!("{article} {id} code or label");
        }
        if vocab_id == Some("country") {
            // Everyday short names next to the ISO names of the table.
            for (k, v) in COUNTRY_ALIASES {
                lookup.entry(norm(k)).or_insert_with(|| (*v).to_string());
            }
        }
        if matches!(target, Target::ConsentShare | Target::ConsentStatistics) {
            for (k, v) in [
                ("yes", "true"),
                ("y", "true"),
                ("true", "true"),
                ("1", "true"),
                ("да", "true"),
                ("no", "false"),
                ("n", "false"),
                ("false", "false"),
                ("0", "false"),
                ("нет", "false"),
            ] {
                lookup.insert(k.into(), v.into());
            }
            what = "yes or no".into();
        }
        if let Some(custom) = mapping.values.get(&target.values_key()) {
            for (k, v) in custom {
                lookup.insert(norm(k), v.trim().to_string());
            }
        }
        Ok(Resolver {
            target: target.clone(),
            lookup,
            what,
        })
    }

    /// Whether the column goes to a note.
    pub(super) fn is_note(&self) -> bool {
        self.target == Target::Note
    }

    /// The code for one value, or why there is none.
    fn code(&self, value: &str) -> std::result::Result<String, String> {
        if let Some(code) = self.lookup.get(&norm(value)) {
            return Ok(code.clone());
        }
        // Country codes: alpha-3 as well as alpha-2.
        let country = matches!(&self.target, Target::Route(_))
            || matches!(&self.target, Target::Set(f) if f.vocabulary() == "country");
        if country {
            if let Ok(c) = Country::parse(value) {
                return Ok(c.code().to_string());
            }
        }
        // Never the value itself: a name or a phone number typed into the wrong
        // column would be copied into logs and error screens (F1 of round 3).
        Err(format!("not {}", self.what))
    }

    /// Appends the edits of one non-empty cell.
    pub(super) fn edits(
        &self,
        cell: &str,
        separator: &str,
        out: &mut Vec<Edit>,
    ) -> std::result::Result<(), String> {
        match &self.target {
            Target::Scalar(field) => out.push(Edit::Set {
                field: *field,
                code: Some(self.code(cell)?),
            }),
            // A whole cell that is one value (a label may hold the separator).
            Target::Set(field) if self.code(cell).is_ok() => {
                out.push(Edit::add(*field, self.code(cell)?));
            }
            Target::Set(field) => {
                for v in cell
                    .split(separator)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                {
                    out.push(Edit::add(*field, self.code(v)?));
                }
            }
            Target::Route(kind) => {
                for v in cell
                    .split(separator)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                {
                    out.push(Edit::AddRouteEvent {
                        kind: kind.clone(),
                        country: self.code(v)?,
                        when: None,
                    });
                }
            }
            Target::Indicator(indicator) => out.push(Edit::Answer {
                indicator: indicator.clone(),
                answer: self.code(cell)?,
            }),
            Target::ConsentShare | Target::ConsentStatistics => {
                let yes = self.code(cell)? == "true";
                let (share, stats) = if self.target == Target::ConsentShare {
                    (Some(yes), None)
                } else {
                    (None, Some(yes))
                };
                out.push(Edit::Consent {
                    share_with_partners: share,
                    include_in_statistics: stats,
                });
            }
            Target::Registered => out.push(Edit::SetRegistration {
                when: Some(month_of(cell)?),
            }),
            Target::Note => out.push(Edit::note(cell)),
        }
        Ok(())
    }
}

/// A date cell at month precision: `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (ISO, also with a
/// time), `MM/YYYY`, `DD.MM.YYYY` or `DD/MM/YYYY`. A day is read and dropped: Caravan
/// keeps the month only.
pub(super) fn month_of(cell: &str) -> std::result::Result<YearMonth, String> {
    // The reason never quotes the cell (F1 of the round-3 red team).
    let bad = || "not a date (YYYY-MM, YYYY-MM-DD, MM/YYYY or DD.MM.YYYY)".to_string();
    let s = cell.trim();
    let s = s.split(['T', ' ']).next().unwrap_or(s);
    let nums: Vec<&str> = s.split(['-', '/', '.']).collect();
    let num = |t: &str| -> std::result::Result<u32, String> {
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    let (year, month, day) = match nums.as_slice() {
        [y] if y.len() == 4 => (num(y)?, None, None),
        [y, m] if y.len() == 4 => (num(y)?, Some(num(m)?), None),
        [m, y] if y.len() == 4 => (num(y)?, Some(num(m)?), None),
        [y, m, d] if y.len() == 4 => (num(y)?, Some(num(m)?), Some(num(d)?)),
        [d, m, y] if y.len() == 4 => (num(y)?, Some(num(m)?), Some(num(d)?)),
        _ => return Err(bad()),
    };
    if let (Some(m), Some(d)) = (month, day) {
        if crate::model::Timestamp::from_ymd(year as i32, m, d).is_err() {
            return Err(bad());
        }
    }
    YearMonth::new(
        u16::try_from(year).map_err(|_| bad())?,
        month.map(|m| u8::try_from(m).unwrap_or(0)),
    )
    .map_err(|_| {
        "not a date between 1900 and 2199 (YYYY-MM, YYYY-MM-DD, MM/YYYY or DD.MM.YYYY)".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_keep_the_month_only() {
        for (cell, want) in [
            ("2021", "2021"),
            ("2021-03", "2021-03"),
            ("2021-03-14", "2021-03"),
            ("2021-03-14T10:00:00", "2021-03"),
            ("03/2021", "2021-03"),
            ("14.03.2021", "2021-03"),
            ("14/03/2021", "2021-03"),
        ] {
            assert_eq!(
                month_of(cell).map(|m| m.to_string()),
                Ok(want.into()),
                "{cell}"
            );
        }
        for bad in [
            "",
            "March 2021",
            "2021-13",
            "31.02.2021",
            "21-03-14",
            "1800-01",
            "2021-3x",
        ] {
            assert!(month_of(bad).is_err(), "{bad}");
        }
    }
}

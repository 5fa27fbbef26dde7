//! The mapping file: which spreadsheet column goes to which field of the case model.
//!
//! ```toml
//! version = 1
//! separator = ";"                       # between several values in one cell
//! ignore = ["Client name", "Worker"]    # columns never read
//!
//! [columns]
//! "Date of registration" = "registered"
//! "Sex" = "gender"
//! "Nationality" = "citizenship"
//! "Country of exploitation" = "route.Exploitation"
//! "Consent to statistics" = "consent.statistics"
//! "Comment" = "note"
//!
//! [values.gender]                       # spreadsheet words that are no code or label
//! "F" = "Feminine"
//! ```
//!
//! Every column of the file must be mapped or ignored, so nothing is dropped silently;
//! a column whose header names an identifier (name, phone, passport, birth date, …)
//! can only be ignored (see [`identifying_header`]).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{ScalarField, SetField};
use crate::vocab::{Indicator, RouteEventKind, Vocabulary};

/// The mapping format this build reads.
pub const MAPPING_VERSION: u32 = 1;

/// Where one column's values go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A single-valued field (`gender`, `age_band`, …).
    Scalar(ScalarField),
    /// A set-valued field (`citizenship`, `means_of_control`, …); a cell may hold
    /// several values split by the separator.
    Set(SetField),
    /// The month (or year) of registration (`registered`).
    Registered,
    /// A route event of this kind in the country of the cell (`route.Exploitation`).
    Route(String),
    /// Consent to share with partners (`consent.share`).
    ConsentShare,
    /// Consent to statistics (`consent.statistics`).
    ConsentStatistics,
    /// The answer to a screening indicator (`indicator.DebtBondage`).
    Indicator(String),
    /// A note, screened for identifiers (`note`).
    Note,
}

impl Target {
    /// Parses a target name of the mapping file.
    pub fn parse(name: &str) -> Result<Target> {
        let name = name.trim();
        if let Ok(f) = ScalarField::from_key(name) {
            return Ok(Target::Scalar(f));
        }
        if let Ok(f) = SetField::from_key(name) {
            return Ok(Target::Set(f));
        }
        Ok(match name {
            "registered" => Target::Registered,
            "consent.share" => Target::ConsentShare,
            "consent.statistics" => Target::ConsentStatistics,
            "note" => Target::Note,
            other => {
                if let Some(kind) = other.strip_prefix("route.") {
                    Target::Route(RouteEventKind::parse_known(kind)?.code().to_string())
                } else if let Some(ind) = other.strip_prefix("indicator.") {
                    Target::Indicator(Indicator::parse_known(ind)?.code().to_string())
                } else {
                    return Err(Error::invalid(
                        "mapping",
                        format!(
                            "{other:?} is not a field of the case model (see docs/import.md \
                             for the targets)"
                        ),
                    ));
                }
            }
        })
    }

    /// The key of `[values.KEY]` tables for this target.
    pub(crate) fn values_key(&self) -> String {
        match self {
            Target::Scalar(f) => f.key().to_string(),
            Target::Set(f) => f.key().to_string(),
            Target::Registered => "registered".into(),
            Target::Route(kind) => format!("route.{kind}"),
            Target::ConsentShare => "consent.share".into(),
            Target::ConsentStatistics => "consent.statistics".into(),
            Target::Indicator(code) => format!("indicator.{code}"),
            Target::Note => "note".into(),
        }
    }
}

/// A parsed, checked mapping file.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// Column header (trimmed) → target.
    pub columns: BTreeMap<String, Target>,
    /// Column headers never read.
    pub ignore: Vec<String>,
    /// Separator between several values of a set in one cell.
    pub separator: String,
    /// Worksheet to read in an XLSX file (default: the first).
    pub sheet: Option<String>,
    /// Per target key: spreadsheet value (compared without case) → code.
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    version: u32,
    #[serde(default)]
    separator: Option<String>,
    #[serde(default)]
    sheet: Option<String>,
    #[serde(default)]
    ignore: Vec<String>,
    columns: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

/// Longest mapping file read.
pub const MAX_MAPPING_BYTES: u64 = 256 << 10;

impl Mapping {
    /// Parses and checks a mapping file (TOML). Refused: an unknown version, key or
    /// target, a column mapped twice or both mapped and ignored, an identifying column
    /// mapped, and `[values]` for a target no column has.
    pub fn parse(text: &str) -> Result<Mapping> {
        let raw: RawMapping = toml::from_str(text)
            .map_err(|e| Error::invalid("mapping", format!("not a valid mapping file: {e}")))?;
        if raw.version != MAPPING_VERSION {
            return Err(Error::invalid(
                "mapping",
                format!(
                    "mapping version {} is not supported (this build reads {MAPPING_VERSION})",
                    raw.version
                ),
            ));
        }
        let mut columns = BTreeMap::new();
        for (header, target) in raw.columns {
            let header = header.trim().to_string();
            if let Some(why) = identifying_header(&header) {
                return Err(Error::invalid(
                    "mapping",
                    format!(
                        "column {header:?} looks like {why}: Caravan stores no identifying \
                         details, so it can only be listed in `ignore`"
                    ),
                ));
            }
            let target = Target::parse(&target)
                .map_err(|e| Error::invalid("mapping", format!("column {header:?}: {e}")))?;
            if columns.insert(header.clone(), target).is_some() {
                return Err(Error::invalid(
                    "mapping",
                    format!("column {header:?} is mapped twice"),
                ));
            }
        }
        if columns.is_empty() {
            return Err(Error::invalid("mapping", "no column is mapped"));
        }
        let ignore: Vec<String> = raw.ignore.iter().map(|h| h.trim().to_string()).collect();
        if let Some(h) = ignore.iter().find(|h| columns.contains_key(*h)) {
            return Err(Error::invalid(
                "mapping",
                format!("column {h:?} is both mapped and ignored"),
            ));
        }
        let keys: Vec<String> = columns.values().map(Target::values_key).collect();
        for key in raw.values.keys() {
            if !keys.contains(key) {
                return Err(Error::invalid(
                    "mapping",
                    format!("[values.{key}] is for a field no column is mapped to"),
                ));
            }
        }
        let separator = raw.separator.unwrap_or_else(|| ";".into());
        if separator.is_empty() {
            return Err(Error::invalid("mapping", "the separator is empty"));
        }
        Ok(Mapping {
            columns,
            ignore,
            separator,
            sheet: raw.sheet,
            values: raw.values,
        })
    }
}

/// Why a column header looks like it holds an identifier (`None`: it does not).
/// English and Russian; whole words for English so "Nationality" is no "name".
pub fn identifying_header(header: &str) -> Option<&'static str> {
    static RULES: LazyLock<Vec<(regex::Regex, &'static str)>> = LazyLock::new(|| {
        [
            (
                r"(?i)\b(names?|surname|first\s*name|last\s*name|full\s*name|given\s*name|family\s*name|patronymic|initials)\b|фамили|\bимя\b|имени|отчеств|\bфио\b",
                "a name",
            ),
            (
                r"(?i)\b(phone|telephone|mobile|cell|tel|whatsapp|telegram|viber|signal)\b|телефон|\bтел\b|мобильн",
                "a phone number or messenger account",
            ),
            (
                r"(?i)\b(passport|id\s*(no|number|card)|national\s*id|document\s*(no|number)|iin|inn|snils|ssn)\b|паспорт|номер\s*документа|\bиин\b|\bинн\b|снилс|удостоверени",
                "a document number",
            ),
            (
                r"(?i)\b(birth|birthday|dob|born|date\s*of\s*birth)\b|рожд",
                "a birth date",
            ),
            (
                r"(?i)\b(address|street|e-?mail|email)\b|адрес|улиц|почт",
                "an address",
            ),
        ]
        .into_iter()
        .filter_map(|(re, why)| regex::Regex::new(re).ok().map(|r| (r, why)))
        .collect()
    });
    RULES
        .iter()
        .find(|(re, _)| re.is_match(header))
        .map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifying_headers_are_recognised_and_others_are_not() {
        for h in [
            "Name",
            "Client name",
            "First name",
            "Фамилия",
            "Имя",
            "ФИО",
            "Phone",
            "Телефон",
            "Passport no",
            "Номер паспорта",
            "Date of birth",
            "Дата рождения",
            "DOB",
            "Address",
            "E-mail",
            "WhatsApp",
            "ИИН",
        ] {
            assert!(identifying_header(h).is_some(), "{h}");
        }
        for h in [
            "Nationality",
            "Sex",
            "Age group",
            "Registration date",
            "Country of exploitation",
            "Гражданство",
            "Пол",
            "Comment",
            "Consent to statistics",
        ] {
            assert_eq!(identifying_header(h), None, "{h}");
        }
    }

    #[test]
    fn a_mapping_is_checked() {
        let ok = "version = 1\nignore = [\"Name\"]\n[columns]\nSex = \"gender\"\n";
        assert!(Mapping::parse(ok).is_ok());
        for bad in [
            "version = 2\n[columns]\nSex = \"gender\"\n",
            "version = 1\n[columns]\nName = \"note\"\n",
            "version = 1\n[columns]\nSex = \"sex\"\n",
            "version = 1\nignore = [\"Sex\"]\n[columns]\nSex = \"gender\"\n",
            "version = 1\n[columns]\nSex = \"gender\"\n[values.age_band]\nx = \"18-20\"\n",
            "version = 1\nextra = 1\n[columns]\nSex = \"gender\"\n",
            "version = 1\n[columns]\n",
        ] {
            assert!(
                matches!(Mapping::parse(bad), Err(Error::InvalidInput { .. })),
                "{bad}"
            );
        }
    }
}

//! Vocabularies and labels, so that the apps can build forms and show codes in the
//! worker's language (English and Russian are complete; Kazakh, Kyrgyz, Tajik, Uzbek
//! and Turkmen are filled in code by code and fall back to English).
//!
//! Case summaries carry their vocabulary values as [`VocabularyCode`]s: the index of a
//! known code in its vocabulary's entries (the table the app reads once with
//! [`vocabularies`]), or the code itself for a code from a newer version.

use std::sync::OnceLock;

use caravan_core::vocab::{
    self, AgeBand, CaseStatus, Country, ExploitationType, Gender, Lang, TraffickingStatus,
    Vocabulary,
};

use crate::error::{CaravanError, Result};
use crate::model::{ScalarField, SetField};

/// A vocabulary value as a case summary carries it: for a code this version knows, its
/// position in the vocabulary's entries, so a list of thousands of summaries moves small
/// integers instead of strings and the app labels a value by indexing the table it read
/// once with `vocabularies()` / `vocabulary(id)`; for a code from a newer version of
/// Caravan (kept by the core, never dropped), the code itself.
///
/// Which vocabulary a value belongs to is given by the field that holds it (each
/// `CaseSummary` field names it). An index is only meaningful with the tables of the
/// same library: never store one, store or send the code (`code_of`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum VocabularyCode {
    /// A known code: `vocabulary(id).entries[index]`.
    Known {
        /// Position in the vocabulary's entries (0-based, display order).
        index: u16,
    },
    /// A code this version does not know (written by a newer version): show it as is.
    Unknown {
        /// The code, exactly as stored.
        code: String,
    },
}

/// A vocabulary value that can be sent as a [`VocabularyCode`].
pub(crate) trait ToVocabularyCode {
    /// The value's index in its vocabulary, or its code when this version does not know it.
    fn to_vocabulary_code(&self) -> VocabularyCode;
}

/// The enum vocabularies: `ALL` lists the known values in the order of their entries.
macro_rules! enum_vocabulary_codes {
    ($($vocabulary:ty),+ $(,)?) => { $(
        impl ToVocabularyCode for $vocabulary {
            fn to_vocabulary_code(&self) -> VocabularyCode {
                match <$vocabulary>::ALL.iter().position(|known| known == self) {
                    Some(index) => VocabularyCode::Known { index: index as u16 },
                    None => VocabularyCode::Unknown { code: self.code().to_string() },
                }
            }
        }
    )+ };
}

enum_vocabulary_codes!(
    AgeBand,
    CaseStatus,
    ExploitationType,
    Gender,
    TraffickingStatus
);

/// The position of each alpha-2 code in the country vocabulary (plus one; 0: unknown),
/// by its two letters: a country value finds its index without comparing strings.
fn country_indices() -> &'static [u16; 26 * 26] {
    static INDICES: OnceLock<[u16; 26 * 26]> = OnceLock::new();
    INDICES.get_or_init(|| {
        let mut indices = [0; 26 * 26];
        if let Some(countries) = vocab::vocabulary("country") {
            for (index, entry) in countries.entries.iter().enumerate() {
                if let Some(slot) = letters(entry.code) {
                    indices[slot] = u16::try_from(index + 1).unwrap_or(0);
                }
            }
        }
        indices
    })
}

/// The slot of an alpha-2 code (two ASCII capital letters) in [`country_indices`].
fn letters(code: &str) -> Option<usize> {
    match code.as_bytes() {
        [a @ b'A'..=b'Z', b @ b'A'..=b'Z'] => {
            Some(usize::from(a - b'A') * 26 + usize::from(b - b'A'))
        }
        _ => None,
    }
}

impl ToVocabularyCode for Country {
    fn to_vocabulary_code(&self) -> VocabularyCode {
        match letters(self.code()).map(|slot| country_indices()[slot]) {
            Some(known) if known > 0 => VocabularyCode::Known { index: known - 1 },
            _ => VocabularyCode::Unknown {
                code: self.code().to_string(),
            },
        }
    }
}

/// One code of a vocabulary with its labels.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct VocabularyEntry {
    /// The stable code, as stored and sent.
    pub code: String,
    /// English label.
    pub label_en: String,
    /// Russian label.
    pub label_ru: String,
}

/// A controlled vocabulary: its identifier and its codes in display order.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct VocabularyInfo {
    /// Stable identifier, e.g. `gender`, `means_of_control`, `country`.
    pub id: String,
    /// Known codes with labels.
    pub entries: Vec<VocabularyEntry>,
}

fn info(table: &vocab::VocabularyTable) -> VocabularyInfo {
    VocabularyInfo {
        id: table.id.to_string(),
        entries: table
            .entries
            .iter()
            .map(|e| VocabularyEntry {
                code: e.code.to_string(),
                label_en: e.en.to_string(),
                label_ru: e.ru.to_string(),
            })
            .collect(),
    }
}

/// Every vocabulary, with English and Russian labels.
#[uniffi::export]
pub fn vocabularies() -> Vec<VocabularyInfo> {
    vocab::all_vocabularies().iter().map(info).collect()
}

/// One vocabulary by identifier (`None` if there is no such vocabulary).
#[uniffi::export]
pub fn vocabulary(id: String) -> Option<VocabularyInfo> {
    vocab::vocabulary(&id).as_ref().map(info)
}

/// One vocabulary's codes and labels in one language, in entry order (so
/// `labels[index]` labels a summary's `VocabularyCode::Known { index }`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct VocabularyLabels {
    /// Stable identifier, e.g. `gender`.
    pub id: String,
    /// The codes, in entry order.
    pub codes: Vec<String>,
    /// Their labels in the language asked for (English where it has none yet).
    pub labels: Vec<String>,
}

/// Every vocabulary's codes and labels in `language` (`en`, `ru`, or a tag such as
/// `ru-KZ`), in one call: what a form or a list screen needs, half the bytes of
/// `vocabularies()`.
#[uniffi::export]
pub fn vocabulary_labels(language: String) -> Result<Vec<VocabularyLabels>> {
    let lang = Lang::from_tag(&language)?;
    Ok(vocab::all_vocabularies()
        .iter()
        .map(|t| VocabularyLabels {
            id: t.id.to_string(),
            codes: t.entries.iter().map(|e| e.code.to_string()).collect(),
            labels: t
                .entries
                .iter()
                .map(|e| e.label(lang).unwrap_or(e.en).to_string())
                .collect(),
        })
        .collect())
}

/// The label of `code` in the vocabulary `vocabulary_id`, in `language` (`en`, `ru`,
/// `kk`, ... or a tag such as `ru-KZ`); English when that language has no label yet;
/// `None` for an unknown code (one from a newer version: show the code itself).
#[uniffi::export]
pub fn label(vocabulary_id: String, code: String, language: String) -> Result<Option<String>> {
    let lang = Lang::from_tag(&language)?;
    Ok(vocab::vocabulary(&vocabulary_id).and_then(|v| {
        v.label(&code, lang)
            .or_else(|| v.label(&code, Lang::En))
            .map(str::to_string)
    }))
}

/// The code of a summary value in the vocabulary `vocabulary_id` (e.g. `gender`,
/// `country`): the entry's code for a known value, the code itself for an unknown one.
/// Fails with `InvalidInput` for a vocabulary that does not exist or an index outside it.
#[uniffi::export]
pub fn code_of(vocabulary_id: String, value: VocabularyCode) -> Result<String> {
    match value {
        VocabularyCode::Unknown { code } => Ok(code),
        VocabularyCode::Known { index } => vocab::vocabulary(&vocabulary_id)
            .and_then(|v| v.entries.get(usize::from(index)))
            .map(|e| e.code.to_string())
            .ok_or_else(|| CaravanError::InvalidInput {
                field: "vocabulary code".into(),
                reason: format!("no entry {index} in a vocabulary {vocabulary_id:?}"),
            }),
    }
}

/// The stable key of a single-valued field (e.g. `gender`), as used in conflicts.
#[uniffi::export]
pub fn scalar_field_key(field: ScalarField) -> String {
    caravan_core::ScalarField::from(field).key().to_string()
}

/// The vocabulary a single-valued field takes its codes from.
#[uniffi::export]
pub fn scalar_field_vocabulary(field: ScalarField) -> String {
    caravan_core::ScalarField::from(field)
        .vocabulary()
        .to_string()
}

/// The stable key of a set-valued field (e.g. `means_of_control`).
#[uniffi::export]
pub fn set_field_key(field: SetField) -> String {
    caravan_core::SetField::from(field).key().to_string()
}

/// The vocabulary a set-valued field takes its codes from.
#[uniffi::export]
pub fn set_field_vocabulary(field: SetField) -> String {
    caravan_core::SetField::from(field).vocabulary().to_string()
}

/// The category (`Force`, `Fraud`, `Coercion`) of a screening indicator code.
#[uniffi::export]
pub fn indicator_category(indicator: String) -> Option<String> {
    use caravan_core::vocab::Vocabulary as _;
    vocab::Indicator::from_code(&indicator)
        .category()
        .map(|c| c.code().to_string())
}

/// Whether an age band code lies entirely below 18 (`None` for an unknown code).
#[uniffi::export]
pub fn age_band_is_minor(age_band: String) -> Option<bool> {
    crate::model::age_band_is_minor(&age_band)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every known value's index points at its own entry of the table the apps read.
    fn known_values_index_their_entries<V: Vocabulary + ToVocabularyCode>(known: &[V]) {
        let info = vocabulary(V::ID.to_string()).expect("vocabulary");
        assert_eq!(known.len(), info.entries.len(), "{}", V::ID);
        for v in known {
            match v.to_vocabulary_code() {
                VocabularyCode::Known { index } => {
                    assert_eq!(info.entries[usize::from(index)].code, v.code(), "{}", V::ID);
                    let value = VocabularyCode::Known { index };
                    assert_eq!(code_of(V::ID.to_string(), value).expect("code"), v.code());
                }
                other => panic!("{}: {} became {other:?}", V::ID, v.code()),
            }
        }
        let future = V::from_code("CodeFromANewerVersion").to_vocabulary_code();
        assert_eq!(
            future,
            VocabularyCode::Unknown {
                code: "CodeFromANewerVersion".into()
            }
        );
        assert_eq!(
            code_of(V::ID.to_string(), future).expect("code"),
            "CodeFromANewerVersion"
        );
    }

    #[test]
    fn summary_vocabularies_send_the_index_of_each_known_code_and_unknown_codes_as_they_are() {
        known_values_index_their_entries(AgeBand::ALL);
        known_values_index_their_entries(CaseStatus::ALL);
        known_values_index_their_entries(ExploitationType::ALL);
        known_values_index_their_entries(Gender::ALL);
        known_values_index_their_entries(TraffickingStatus::ALL);
    }

    #[test]
    fn countries_send_their_index_and_unknown_or_malformed_codes_as_they_are() {
        let info = vocabulary("country".into()).expect("countries");
        let all: Vec<Country> = Country::all().collect();
        assert_eq!(all.len(), info.entries.len());
        for c in &all {
            match c.to_vocabulary_code() {
                VocabularyCode::Known { index } => {
                    assert_eq!(info.entries[usize::from(index)].code, c.code());
                }
                other => panic!("{} became {other:?}", c.code()),
            }
        }
        // Kept exactly as stored: a country added to ISO 3166-1 later, a lower-case or
        // three-letter code written by some other version.
        for code in ["XY", "kz", "KAZ", "", "K", "Ж"] {
            assert_eq!(
                Country::from_code(code).to_vocabulary_code(),
                VocabularyCode::Unknown { code: code.into() },
                "{code:?}"
            );
        }
    }

    #[test]
    fn summary_lists_convert_in_place() {
        // `model::values` relies on this to reuse the core's list allocations.
        use std::mem::{align_of, size_of};
        assert_eq!(size_of::<VocabularyCode>(), size_of::<Country>());
        assert_eq!(size_of::<VocabularyCode>(), size_of::<ExploitationType>());
        assert_eq!(align_of::<VocabularyCode>(), align_of::<Country>());
        let countries = vec![Country::from_code("KZ"), Country::from_code("XY")];
        let before = countries.as_ptr() as usize;
        let codes = crate::model::values(countries);
        assert_eq!(codes.as_ptr() as usize, before, "the allocation was reused");
        assert_eq!(codes[1], VocabularyCode::Unknown { code: "XY".into() });
    }

    #[test]
    fn code_of_refuses_an_index_outside_the_vocabulary_or_an_unknown_vocabulary() {
        let gender = vocabulary("gender".into()).expect("gender");
        let past_the_end = u16::try_from(gender.entries.len()).expect("small");
        for (vocabulary_id, index) in [("gender", past_the_end), ("no_such_vocabulary", 0)] {
            assert!(matches!(
                code_of(vocabulary_id.into(), VocabularyCode::Known { index }),
                Err(CaravanError::InvalidInput { .. })
            ));
        }
    }
}

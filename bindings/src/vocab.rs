//! Vocabularies and labels, so that the apps can build forms and show codes in the
//! worker's language (English and Russian are complete; Kazakh, Kyrgyz, Tajik, Uzbek
//! and Turkmen are filled in code by code and fall back to English).

use caravan_core::vocab::{self, Lang};

use crate::error::Result;
use crate::model::{ScalarField, SetField};

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

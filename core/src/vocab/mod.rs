//! Controlled vocabularies aligned with HTCDS v2 and the CTDC codebook.
//!
//! Every categorical field of a case record takes its value from a vocabulary. A value
//! is stored on disk and on the wire as its stable machine **code** (`"DebtBondage"`),
//! never as a label. Human labels live in one table per vocabulary, with English and
//! Russian for every code and room for Kazakh, Kyrgyz, Tajik, Uzbek and Turkmen.
//!
//! A code that this version does not know (written by a newer version of Caravan) is
//! kept as [`Gender::Unknown`]-style variants and written back unchanged: it is never
//! dropped and never rejected when it arrives from another device. Codes typed by a
//! user on *this* device must be known; [`Vocabulary::parse_known`] enforces that.
//!
//! ```
//! use caravan_core::vocab::{Gender, Lang, Vocabulary};
//! let g = Gender::from_code("Feminine");
//! assert_eq!(g.label(Lang::Ru), Some("Женский"));
//! let future = Gender::from_code("SomeNewCode");
//! assert_eq!(future.code(), "SomeNewCode");
//! assert!(!future.is_known());
//! ```

mod codes;
mod countries;

pub use codes::*;
pub use countries::Country;

use crate::error::{Error, Result};

/// A language a label can be shown in. English and Russian are complete; the others
/// may be filled in code by code (a missing label falls back to English in the apps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    /// English.
    En,
    /// Russian.
    Ru,
    /// Kazakh.
    Kk,
    /// Kyrgyz.
    Ky,
    /// Tajik.
    Tg,
    /// Uzbek.
    Uz,
    /// Turkmen.
    Tk,
}

impl Lang {
    /// All languages, in a stable order.
    pub const ALL: &'static [Lang] = &[
        Lang::En,
        Lang::Ru,
        Lang::Kk,
        Lang::Ky,
        Lang::Tg,
        Lang::Uz,
        Lang::Tk,
    ];

    /// The BCP 47 language tag (`"en"`, `"ru"`, ...).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Kk => "kk",
            Lang::Ky => "ky",
            Lang::Tg => "tg",
            Lang::Uz => "uz",
            Lang::Tk => "tk",
        }
    }

    /// Parses a language tag such as `"ru"` or `"ru-KZ"`.
    pub fn from_tag(tag: &str) -> Result<Lang> {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Lang::ALL
            .iter()
            .copied()
            .find(|l| l.tag() == primary)
            .ok_or_else(|| Error::InvalidInput {
                field: "language".into(),
                reason: format!("unsupported language tag {tag:?}"),
            })
    }
}

/// One code of a vocabulary with its labels.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    /// The stable machine code, as stored and sent.
    pub code: &'static str,
    /// English label.
    pub en: &'static str,
    /// Russian label.
    pub ru: &'static str,
    /// Labels in further languages, added code by code.
    pub more: &'static [(Lang, &'static str)],
}

impl Entry {
    /// The label in `lang`, if this entry has one.
    pub fn label(&self, lang: Lang) -> Option<&'static str> {
        match lang {
            Lang::En => Some(self.en),
            Lang::Ru => Some(self.ru),
            other => self.more.iter().find(|(l, _)| *l == other).map(|(_, s)| *s),
        }
    }
}

/// Common behaviour of every controlled vocabulary enum.
pub trait Vocabulary: Sized + Clone + Ord {
    /// The vocabulary's stable identifier, e.g. `"means_of_control"`.
    const ID: &'static str;
    /// Every known code with its labels, in display order.
    fn entries() -> &'static [Entry];
    /// The value for `code`; an unknown code is preserved as the `Unknown` variant.
    fn from_code(code: &str) -> Self;
    /// The stable machine code of this value.
    fn code(&self) -> &str;
    /// Whether this version of Caravan knows the code.
    fn is_known(&self) -> bool;

    /// Parses a code entered on this device: unknown codes are refused with
    /// [`Error::UnknownCode`] naming the vocabulary.
    fn parse_known(code: &str) -> Result<Self> {
        let v = Self::from_code(code);
        if v.is_known() {
            Ok(v)
        } else {
            Err(Error::UnknownCode {
                vocabulary: Self::ID.to_string(),
                code: code.to_string(),
            })
        }
    }

    /// The label of this value in `lang` (`None` for unknown codes or missing labels).
    fn label(&self, lang: Lang) -> Option<&'static str> {
        let code = self.code();
        Self::entries()
            .iter()
            .find(|e| e.code == code)
            .and_then(|e| e.label(lang))
    }
}

/// A vocabulary as seen by apps: its identifier and entries (see [`all_vocabularies`]).
#[derive(Debug)]
pub struct VocabularyTable {
    /// Stable identifier, e.g. `"gender"`.
    pub id: &'static str,
    /// Known codes with their labels.
    pub entries: &'static [Entry],
}

impl VocabularyTable {
    /// The label of `code` in `lang`, if the code is known and has one.
    pub fn label(&self, code: &str, lang: Lang) -> Option<&'static str> {
        self.entries
            .iter()
            .find(|e| e.code == code)
            .and_then(|e| e.label(lang))
    }
}

/// Looks up a vocabulary table by identifier.
pub fn vocabulary(id: &str) -> Option<VocabularyTable> {
    all_vocabularies().into_iter().find(|v| v.id == id)
}

/// Declares a controlled vocabulary enum with stable codes, labels and an `Unknown`
/// variant that preserves codes from newer versions.
macro_rules! define_vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident = $id:literal {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $code:literal { en: $en:literal, ru: $ru:literal $(, $lang:ident: $lbl:literal)* $(,)? }
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A code from a newer version of Caravan, preserved unchanged.
            Unknown(String),
        }

        impl $name {
            /// Every known value, in display order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];
            const ENTRIES: &'static [$crate::vocab::Entry] = &[
                $( $crate::vocab::Entry {
                    code: $code, en: $en, ru: $ru,
                    more: &[ $( ($crate::vocab::Lang::$lang, $lbl) ),* ],
                } ),+
            ];
        }

        impl $crate::vocab::Vocabulary for $name {
            const ID: &'static str = $id;
            fn entries() -> &'static [$crate::vocab::Entry] { Self::ENTRIES }
            fn from_code(code: &str) -> Self {
                match code {
                    $( $code => $name::$variant, )+
                    other => $name::Unknown(other.to_string()),
                }
            }
            fn code(&self) -> &str {
                match self {
                    $( $name::$variant => $code, )+
                    $name::Unknown(code) => code,
                }
            }
            fn is_known(&self) -> bool { !matches!(self, $name::Unknown(_)) }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::vocab::Vocabulary::code(self))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str($crate::vocab::Vocabulary::code(self))
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let code = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Ok(<$name as $crate::vocab::Vocabulary>::from_code(&code))
            }
        }
    };
}
pub(crate) use define_vocabulary;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_english_and_russian_labels_and_codes_are_unique() {
        for v in all_vocabularies() {
            let mut seen = std::collections::BTreeSet::new();
            assert!(!v.entries.is_empty(), "{} is empty", v.id);
            for e in v.entries {
                assert!(seen.insert(e.code), "{}: duplicate code {}", v.id, e.code);
                assert!(
                    !e.en.trim().is_empty(),
                    "{}.{}: no English label",
                    v.id,
                    e.code
                );
                assert!(
                    !e.ru.trim().is_empty(),
                    "{}.{}: no Russian label",
                    v.id,
                    e.code
                );
                assert!(
                    e.ru.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)),
                    "{}.{}: Russian label {:?} has no Cyrillic",
                    v.id,
                    e.code,
                    e.ru
                );
                assert!(
                    e.code
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+')),
                    "{}.{}: codes are ASCII identifiers",
                    v.id,
                    e.code
                );
            }
        }
    }

    #[test]
    fn unknown_codes_round_trip_unchanged() {
        let v = MeansOfControl::from_code("QuantumCoercion");
        assert_eq!(v, MeansOfControl::Unknown("QuantumCoercion".into()));
        let mut buf = Vec::new();
        ciborium::into_writer(&v, &mut buf).expect("encode");
        let back: MeansOfControl = ciborium::from_reader(&buf[..]).expect("decode");
        assert_eq!(back, v);
        assert!(MeansOfControl::parse_known("QuantumCoercion").is_err());
        assert_eq!(
            MeansOfControl::parse_known("DebtBondage").ok(),
            Some(MeansOfControl::DebtBondage)
        );
    }

    #[test]
    fn lang_tags_parse() {
        assert_eq!(Lang::from_tag("ru-KZ").ok(), Some(Lang::Ru));
        assert_eq!(Lang::from_tag("EN").ok(), Some(Lang::En));
        assert!(Lang::from_tag("xx").is_err());
    }
}

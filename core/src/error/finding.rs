//! What the note and name screens report: the kind and position of a likely
//! identifier, never its value. Defined here, below the screens, because errors carry
//! them ([`Error::NoteRejected`](super::Error::NoteRejected)); `privacy` re-exports them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A kind of personal identifier the note screen looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IdentifierKind {
    /// A phone number (international `+7`, `+996`, `+992`, `+998`, `+993` and national formats).
    PhoneNumber,
    /// An e-mail address.
    Email,
    /// A national identity number (e.g. a 12-digit Kazakh IIN, a 14-digit PIN/PINFL).
    NationalId,
    /// A passport or identity document number.
    PassportNumber,
    /// An exact calendar date (day, month and year), e.g. a date of birth.
    ExactDate,
    /// A messenger or social-network handle (`@name_98`).
    Handle,
    /// A link to a person's profile (`t.me/…`, `vk.com/…`, `instagram.com/…`).
    ProfileLink,
    /// A bank account number (IBAN).
    BankAccount,
    /// A street address (street and house number).
    Address,
    /// A person's name (screened in names of teams, devices and partners only).
    PersonalName,
}

impl IdentifierKind {
    /// A short English description used in error messages.
    pub fn describe(self) -> &'static str {
        match self {
            IdentifierKind::PhoneNumber => "a likely phone number",
            IdentifierKind::Email => "a likely e-mail address",
            IdentifierKind::NationalId => "a likely national identity number",
            IdentifierKind::PassportNumber => "a likely passport or document number",
            IdentifierKind::ExactDate => "an exact date (possibly a date of birth)",
            IdentifierKind::Handle => "a likely messenger or social-network handle",
            IdentifierKind::ProfileLink => "a likely link to a personal profile",
            IdentifierKind::BankAccount => "a likely bank account number (IBAN)",
            IdentifierKind::Address => "a likely street address",
            IdentifierKind::PersonalName => "a likely personal name",
        }
    }
}

/// One likely identifier found in a text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What it looks like.
    pub kind: IdentifierKind,
    /// Offset of its first character, counted in Unicode scalar values from 0.
    pub start: usize,
    /// Offset one past its last character, counted in Unicode scalar values.
    pub end: usize,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at characters {}..{}",
            self.kind.describe(),
            self.start,
            self.end
        )
    }
}

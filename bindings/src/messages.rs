//! What the app shows the user when a call fails: [`CaravanError::user_message`], a
//! short sentence in the user's language (English or Russian, the languages of the
//! vocabularies), separate from [`CaravanError::detail`], the developer's English text
//! for logs. Neither ever holds a key, a passphrase, an invitation or case content
//! (the variants' fields hold none, and `user_message` quotes no field at all).

use crate::error::CaravanError;

/// The languages messages exist in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    En,
    Ru,
}

/// `ru` (and `ru-KZ`, `ru_RU`, ...) is Russian; Kazakh and Kyrgyz phones get Russian too
/// (the apps' `Labels.languageFor` does the same); anything else is English.
fn lang(language: &str) -> Lang {
    let primary = language
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match primary.as_str() {
        "ru" | "kk" | "ky" => Lang::Ru,
        _ => Lang::En,
    }
}

fn pick(l: Lang, en: &'static str, ru: &'static str) -> &'static str {
    match l {
        Lang::En => en,
        Lang::Ru => ru,
    }
}

#[uniffi::export]
impl CaravanError {
    /// A short message for the user, in `language` (`en` or `ru`; a BCP 47 tag such as
    /// `ru-KZ` works; other languages get English). It says what happened and what to
    /// do, never quotes input, and is never empty. Show this, not `message`/`detail`.
    pub fn user_message(&self, language: String) -> String {
        let l = lang(&language);
        let text = match self {
            CaravanError::WrongKey => pick(
                l,
                "Wrong PIN or passphrase. Nothing was changed; try again.",
                "Неверный PIN-код или пароль. Ничего не изменено; попробуйте ещё раз.",
            ),
            CaravanError::NotAStore { .. } => pick(
                l,
                "There is no notebook here yet. Set one up first.",
                "Здесь ещё нет записной книжки. Сначала создайте её.",
            ),
            CaravanError::AlreadyExists { .. } => pick(
                l,
                "A notebook cannot be created here: the folder is not empty.",
                "Здесь нельзя создать записную книжку: папка не пуста.",
            ),
            CaravanError::Locked { .. } => pick(
                l,
                "The notebook is open elsewhere. Close it there and try again.",
                "Записная книжка открыта в другом месте. Закройте её там и попробуйте снова.",
            ),
            CaravanError::UpdateRequired { .. } => pick(
                l,
                "This data comes from a newer version of the app. Update the app.",
                "Эти данные созданы более новой версией приложения. Обновите приложение.",
            ),
            CaravanError::Damaged { .. } => pick(
                l,
                "Part of the stored data is damaged. The other cases are safe; tell your coordinator.",
                "Часть сохранённых данных повреждена. Остальные случаи в порядке; сообщите координатору.",
            ),
            CaravanError::Io { .. } => pick(
                l,
                "The phone could not read or write its storage (is it full?). Try again.",
                "Не удалось прочитать или записать данные (память заполнена?). Попробуйте снова.",
            ),
            CaravanError::ReopenStore { .. } => pick(
                l,
                "The notebook is locked. Unlock it again.",
                "Записная книжка заблокирована. Разблокируйте её снова.",
            ),
            CaravanError::CaseNotFound { .. } => pick(
                l,
                "This case does not exist on this phone.",
                "Этого случая нет на этом телефоне.",
            ),
            CaravanError::CaseErased { .. } => pick(
                l,
                "This case was erased.",
                "Этот случай был удалён.",
            ),
            CaravanError::UnknownCode { .. } | CaravanError::InvalidInput { .. } => pick(
                l,
                "A value was not accepted. Check what you entered.",
                "Значение не принято. Проверьте введённые данные.",
            ),
            CaravanError::NoteRejected { .. } => pick(
                l,
                "The text seems to contain personal details (a phone number, an e-mail, a document number or an exact date). Rephrase it without them.",
                "Похоже, текст содержит личные данные (телефон, e-mail, номер документа или точную дату). Перепишите его без них.",
            ),
            CaravanError::Refused { .. } => pick(
                l,
                "What was received was refused: it is damaged or not from your team. Nothing was changed.",
                "Полученные данные отклонены: они повреждены или не от вашей команды. Ничего не изменено.",
            ),
            CaravanError::NotForThisDevice => pick(
                l,
                "This is for another team, or this phone was removed from the team. Nothing was changed.",
                "Это для другой команды, или этот телефон исключён из команды. Ничего не изменено.",
            ),
            CaravanError::LiveRefused { code, .. } => match code.as_str() {
                "unavailable" => pick(
                    l,
                    "The other phone cannot sync right now. Ask its owner to check it.",
                    "Другой телефон сейчас не может синхронизироваться. Попросите владельца проверить его.",
                ),
                "unsupported" => pick(
                    l,
                    "The other phone uses another version of the app. Update the app on both phones.",
                    "На другом телефоне другая версия приложения. Обновите приложение на обоих телефонах.",
                ),
                "message-refused" => pick(
                    l,
                    "The other phone refused part of the sync. What arrived before is saved; sync again.",
                    "Другой телефон отклонил часть синхронизации. Полученное ранее сохранено; синхронизируйтесь снова.",
                ),
                _ => pick(
                    l,
                    "The other phone refused to sync with this phone: it does not accept it as a team member. Ask a coordinator (for a new invitation if this phone just joined).",
                    "Другой телефон отказался синхронизироваться: он не признаёт этот телефон членом команды. Обратитесь к координатору (за новым приглашением, если телефон только что присоединился).",
                ),
            },
            CaravanError::HandoverToAnotherDevice { .. } => pick(
                l,
                "This receipt comes from another phone than the one the codes were meant for. Nothing was confirmed; show the codes to the right colleague.",
                "Это подтверждение с другого телефона, не с того, для которого были коды. Ничего не подтверждено; покажите коды нужному коллеге.",
            ),
            CaravanError::NotPermitted { .. } => pick(
                l,
                "Your role does not allow this. Ask a coordinator.",
                "Ваша роль не позволяет это сделать. Обратитесь к координатору.",
            ),
            CaravanError::NoGroup => pick(
                l,
                "This phone is not in a team yet. Create a team or join one with an invitation.",
                "Этот телефон ещё не в команде. Создайте команду или присоединитесь по приглашению.",
            ),
            CaravanError::Cancelled => pick(
                l,
                "Cancelled. Nothing was saved.",
                "Отменено. Ничего не сохранено.",
            ),
            CaravanError::Internal { .. } => pick(
                l,
                "Something went wrong in the app. Your data is safe; if it happens again, lock and unlock, then tell your coordinator.",
                "Произошла ошибка в приложении. Ваши данные в сохранности; если она повторится, заблокируйте и разблокируйте приложение и сообщите координатору.",
            ),
        };
        text.to_string()
    }

    /// The developer's detail, in English, for logs and bug reports (never a secret or
    /// case content): what the error's `Display` says, e.g. `invalid note: notes are at
    /// most 4000 characters`.
    pub fn detail(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<CaravanError> {
        let s = || "SECRET-7701".to_string();
        vec![
            CaravanError::WrongKey,
            CaravanError::NotAStore { path: s() },
            CaravanError::AlreadyExists { path: s() },
            CaravanError::Locked { path: s() },
            CaravanError::UpdateRequired { reason: s() },
            CaravanError::Damaged {
                file: s(),
                reason: s(),
            },
            CaravanError::Io {
                file: s(),
                reason: s(),
            },
            CaravanError::ReopenStore { reason: s() },
            CaravanError::CaseNotFound { id: s() },
            CaravanError::CaseErased { id: s() },
            CaravanError::UnknownCode { vocabulary: s() },
            CaravanError::InvalidInput {
                field: s(),
                reason: s(),
            },
            CaravanError::NoteRejected { findings: vec![] },
            CaravanError::Refused { reason: s() },
            CaravanError::NotForThisDevice,
            CaravanError::LiveRefused {
                code: "not-accepted".into(),
                advice: s(),
            },
            CaravanError::HandoverToAnotherDevice {
                peer: "ab".into(),
                scanned_by: "cd".into(),
            },
            CaravanError::NotPermitted {
                action: s(),
                reason: s(),
            },
            CaravanError::NoGroup,
            CaravanError::Cancelled,
            CaravanError::Internal { reason: s() },
        ]
    }

    #[test]
    fn every_error_has_a_message_in_each_language_that_quotes_nothing() {
        for e in all() {
            let en = e.user_message("en".into());
            let ru = e.user_message("ru-KZ".into());
            assert!(!en.is_empty() && !ru.is_empty(), "{e:?}");
            assert_ne!(en, ru, "{e:?} has a Russian text");
            assert!(ru.chars().any(|c| ('а'..='я').contains(&c)), "{e:?}: {ru}");
            assert!(
                !en.contains("7701") && !ru.contains("7701"),
                "no field quoted"
            );
            assert_eq!(e.user_message("de".into()), en, "other languages: English");
            assert!(!e.detail().is_empty());
        }
    }

    /// Red-team F6 of 2026-12-04: `detail()` of `UnknownCode` quoted the code, which
    /// may be text a user typed; no detail quotes a code, a case id or a note.
    #[test]
    fn details_quote_no_user_text() {
        let typed = "Айгерим +77011234567".to_string();
        for e in [
            CaravanError::from(caravan_core::Error::UnknownCode {
                vocabulary: "gender".into(),
                code: typed.clone(),
            }),
            CaravanError::NoteRejected { findings: vec![] },
        ] {
            assert!(!e.detail().contains("7701"), "{}", e.detail());
            assert!(!e.detail().contains("Айгерим"), "{}", e.detail());
        }
    }
}

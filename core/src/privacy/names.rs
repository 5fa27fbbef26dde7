//! Whether a team, device or partner name looks like a person's name.
//!
//! A heuristic, not a list of names: two or three capitalized words, one of which ends
//! like a Russian, Kazakh, Kyrgyz, Uzbek or Tajik surname or patronymic (`-ов`, `-ова`,
//! `-ев`, `-ина`, `-енко`, `-ский`, `-ович`, `-овна`, `-ұлы`, `-қызы`, `-uly`, `-kyzy`,
//! `-zoda`, ...), in Cyrillic or Latin script, and no word that names an organisation,
//! a team or a device. "Aigerim Bekova" and "Иванов Пётр Сергеевич" are caught;
//! "NGO Bishkek", "Shelter Almaty" and "Outreach team 2" are not; a name without such
//! an ending ("Aigerim", "John Smith") is not caught either.

const SUFFIXES: &[&str] = &[
    // Cyrillic surnames and patronymics.
    "ов",
    "ова",
    "ев",
    "ева",
    "ёв",
    "ёва",
    "ин",
    "ина",
    "ын",
    "ына",
    "ский",
    "ская",
    "цкий",
    "цкая",
    "енко",
    "ович",
    "овна",
    "евич",
    "евна",
    "ична",
    "ұлы",
    "қызы",
    "улы",
    "кызы",
    "уулу",
    "зода",
    "заде",
    "бекова",
    "беков",
    // Latin transliterations.
    "ov",
    "ova",
    "ev",
    "eva",
    "yov",
    "yova",
    "in",
    "ina",
    "yn",
    "yna",
    "sky",
    "skiy",
    "skaya",
    "skii",
    "enko",
    "ovich",
    "ovna",
    "evich",
    "evna",
    "ichna",
    "uly",
    "kyzy",
    "qyzy",
    "uulu",
    "zoda",
    "zade",
];

const NOT_PEOPLE: &[&str] = &[
    "ngo",
    "нко",
    "нпо",
    "фонд",
    "fund",
    "foundation",
    "центр",
    "center",
    "centre",
    "орталығы",
    "team",
    "команда",
    "группа",
    "group",
    "office",
    "офис",
    "shelter",
    "приют",
    "баспана",
    "union",
    "союз",
    "association",
    "ассоциация",
    "альянс",
    "alliance",
    "service",
    "служба",
    "department",
    "отдел",
    "phone",
    "телефон",
    "tablet",
    "планшет",
    "laptop",
    "ноутбук",
    "device",
    "устройство",
    "mission",
    "миссия",
    "project",
    "проект",
    "hotline",
    "горячая",
    "линия",
    "police",
    "полиция",
    "полициясы",
    "hospital",
    "больница",
    "ауруханасы",
    "clinic",
    "клиника",
    "school",
    "школа",
    "мектеп",
    "iom",
    "мом",
    "unicef",
    "unhcr",
    "red",
    "красный",
    "crescent",
    "полумесяц",
    "bank",
    "банк",
];

/// Whether `name` looks like a person's name (see the module documentation).
pub(super) fn looks_like_personal_name(name: &str) -> bool {
    let words: Vec<&str> = name
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    if !(2..=3).contains(&words.len()) {
        return false;
    }
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    if lower
        .iter()
        .any(|w| NOT_PEOPLE.contains(&w.trim_matches('.')))
    {
        return false;
    }
    let capitalized = words.iter().all(|w| {
        let mut chars = w.chars();
        chars.next().is_some_and(char::is_uppercase)
            && chars.all(|c| c.is_alphabetic() || c == '-' || c == '\'')
            && w.chars().count() >= 2
    });
    capitalized
        && lower.iter().any(|w| {
            SUFFIXES
                .iter()
                .any(|s| w.ends_with(s) && w.chars().count() >= s.chars().count() + 2)
        })
}

#[cfg(test)]
mod tests {
    use super::looks_like_personal_name as person;

    #[test]
    fn personal_names_and_organisations() {
        for name in [
            "Aigerim Bekova",
            "Иванов Пётр Сергеевич",
            "Асель Нурланқызы",
            "Dastan Nurlanuly",
            "Maria Petrova",
            "Farrukh Rahimzoda",
        ] {
            assert!(person(name), "{name}");
        }
        for name in [
            "NGO Bishkek",
            "Shelter Almaty",
            "Outreach team 2",
            "Petrova team",
            "Aigerim",
            "Samsung Galaxy",
            "Коргау Центр",
            "Kazakhstan Red Crescent",
            "Field Tablet",
            "Taraz",
        ] {
            assert!(!person(name), "{name}");
        }
    }
}

//! Normalization of names and places to a phonetic skeleton that is the same for the
//! Cyrillic spelling and its usual Latin transliterations.
//!
//! The pipeline, for one word:
//!
//! 1. lowercase; combining marks, apostrophes, soft and hard signs are dropped;
//! 2. every Cyrillic letter (Russian, Kazakh, Kyrgyz, Tajik, Uzbek) and every Latin
//!    letter with a diacritic (Kazakh 2021, Turkmen, Uzbek, Turkish, ISO 9, BGN/PCGN)
//!    is mapped to plain ASCII Latin (`ж` → `zh`, `ş` → `sh`, `ç` → `ch`, `ә`/`ä` → `a`);
//! 3. digraph classes collapse to one symbol: `shch`/`sch`/`sh`, `ch`, `zh`/`dzh`/`dj`/`j`,
//!    `kh`/`x`/`h`, `gh`/`g`, `q`/`k`, `ts`/`c`, `ng`/`n`, `ph`/`f`, `w`/`v`. The velar
//!    nasal (Kazakh and Kyrgyz `ң`, Latin `ñ`, `ň`, `ŋ`) is `n` already in step 2, the
//!    way Russian-language documents write it, so `Теңге` (`ң` + `г`) = `Tenge` =
//!    `Teñge` = `Тенге`, and `Жаңыл` = `Zhangyl` = `Жаныл`;
//! 4. doubled letters collapse (`Jeenbekov` = `Zhenbekov`, `Anna` = `Ana`);
//! 5. glides go: `y` or `i` before a vowel is dropped (`Yuliya` = `Iuliia` = `ula`), a
//!    `y` elsewhere is the vowel `i` (`Aygerim` = `Aigerim`), and consonant + `yo` is
//!    `e` (`Fyodor` = `Fedor`, since Russian writes `ё` as `е`) unless an `i` precedes
//!    (`Bakhtiyor`).
//!
//! The skeleton is not meant to be read; it only has to be equal for spellings of the
//! same name and different for different names, and it never leaves the device.

/// Internal symbols for digraph classes (outside `a`–`z`, so they never clash).
const SH: char = 'S'; // ш щ sh sch shch ş š
const CH: char = 'C'; // ч ch ç č
const ZH: char = 'J'; // ж дж ҷ zh j dzh dj ž
const TS: char = 'Z'; // ц ts c

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// Maps one lowercase character to plain ASCII Latin (possibly several letters, possibly
/// none). Letters outside the supported scripts map to nothing.
fn to_ascii(c: char, out: &mut String) {
    let s: &str = match c {
        'a'..='z' => {
            out.push(c);
            return;
        }
        // Russian Cyrillic
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'е' => "e",
        'ё' => "yo",
        'ж' => "zh",
        'з' => "z",
        'и' => "i",
        'й' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ъ' | 'ь' => "",
        'ы' => "y",
        'э' => "e",
        'ю' => "yu",
        'я' => "ya",
        // Kazakh, Kyrgyz, Tajik, Uzbek Cyrillic
        'ә' => "a",
        'ғ' => "gh",
        'қ' => "q",
        // The velar nasal is written `н` in Russian-language documents and `n` or `ng`
        // in Latin ones; `ng` collapses to `n` in step 3, so it is `n` here (mapping it
        // to `ng` would leave a stray `g` before a following `г`: `Теңге`).
        'ң' => "n",
        'ө' => "o",
        'ұ' | 'ү' | 'ӯ' => "u",
        'һ' | 'ҳ' => "h",
        'і' | 'ӣ' => "i",
        'ҷ' => "j",
        'ў' => "o",
        // Ukrainian / Belarusian letters occasionally seen in Russian-language records
        'є' => "ye",
        'ї' => "yi",
        'ґ' => "g",
        // Latin with diacritics
        'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ǎ' | 'ə' | 'æ' => "a",
        'ç' | 'č' | 'ć' | 'ĉ' => "ch",
        'ď' | 'đ' => "d",
        'é' | 'è' | 'ê' | 'ë' | 'ē' | 'ě' | 'ę' | 'ė' => "e",
        'ğ' | 'ĝ' | 'ǵ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'í' | 'ì' | 'î' | 'ï' | 'ī' | 'ı' | 'ĭ' | 'į' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ľ' | 'ĺ' | 'ļ' | 'ł' => "l",
        'ñ' | 'ň' | 'ń' | 'ņ' | 'ŋ' => "n",
        'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'œ' => "o",
        'ř' | 'ŕ' => "r",
        'ş' | 'š' | 'ś' | 'ș' | 'ŝ' => "sh",
        'ß' => "ss",
        'ţ' | 'ț' | 'ť' => "t",
        'ú' | 'ù' | 'û' | 'ü' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ž' | 'ź' | 'ż' => "zh",
        // Everything else (apostrophes ‘ ’ ' ʻ ʼ `, combining marks, digits, punctuation)
        _ => "",
    };
    out.push_str(s);
}

/// Steps 1–2: lowercase plain ASCII Latin.
fn ascii_latin(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        to_ascii(c, &mut out);
    }
    out
}

/// Step 3: digraph classes, applied left to right, longest first.
fn collapse_digraphs(s: &str) -> Vec<char> {
    const RULES: &[(&str, char)] = &[
        ("shch", SH),
        ("dzh", ZH),
        ("sch", SH),
        ("tsh", CH),
        ("tch", CH),
        ("shh", SH),
        ("sh", SH),
        ("ch", CH),
        ("zh", ZH),
        ("dj", ZH),
        ("kh", 'h'),
        ("gh", 'g'),
        ("ts", TS),
        ("tz", TS),
        ("ng", 'n'),
        ("ph", 'f'),
        ("ck", 'k'),
    ];
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    'outer: while i < bytes.len() {
        for (pat, sym) in RULES {
            if bytes[i..].starts_with(pat.as_bytes()) {
                out.push(*sym);
                i += pat.len();
                continue 'outer;
            }
        }
        let c = match bytes[i] {
            b'j' => ZH,
            b'x' => 'h',
            b'q' => 'k',
            b'c' => TS,
            b'w' => 'v',
            other => char::from(other),
        };
        out.push(c);
        i += 1;
    }
    out
}

/// Steps 4–5: doubled letters and glides.
fn vowels_and_glides(chars: &[char]) -> String {
    // Doubled letters first (so `iia` is `ia` and `Jeenbekov` is `Jenbekov`).
    let mut dedup: Vec<char> = Vec::with_capacity(chars.len());
    for &c in chars {
        if dedup.last() != Some(&c) {
            dedup.push(c);
        }
    }
    let s = dedup;
    let at = |k: usize| s.get(k).copied();
    let mut out = String::with_capacity(s.len());
    let mut k = 0;
    while k < s.len() {
        let c = s[k];
        match c {
            'y' => {
                if at(k + 1).is_some_and(is_vowel) {
                    // A glide: dropped. After a consonant, `yo` is `ё`, written `е` in
                    // Russian-language documents, so it becomes `e`; but not after an
                    // `i` (Uzbek `-iyor`, `Бахтиёр` = `Bakhtiyor`, whose Russian form
                    // is `Бахтияр`, not `Бахтиер`).
                    let after_consonant = out.chars().last().is_some_and(|p| !is_vowel(p));
                    let after_i = k > 0 && s[k - 1] == 'i';
                    if at(k + 1) == Some('o') && after_consonant && !after_i {
                        out.push('e');
                        k += 2;
                        continue;
                    }
                } else if !out.ends_with('i') {
                    out.push('i');
                }
            }
            'i' => {
                let glide = match at(k + 1) {
                    Some(n) if is_vowel(n) => true,
                    Some('y') => at(k + 2).is_some_and(is_vowel),
                    _ => false,
                };
                if !glide && !out.ends_with('i') {
                    out.push('i');
                }
            }
            _ => {
                if !out.ends_with(c) {
                    out.push(c);
                }
            }
        }
        k += 1;
    }
    out
}

/// The phonetic skeleton of one word (no spaces inside).
pub(crate) fn word_skeleton(word: &str) -> String {
    vowels_and_glides(&collapse_digraphs(&ascii_latin(word)))
}

/// Splits a field into words: on whitespace, hyphens, commas, dots, slashes and
/// parentheses, but not on apostrophes (they are part of Uzbek `o‘` and `g‘`).
fn words(field: &str) -> impl Iterator<Item = &str> {
    field
        .split(|c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    '-' | '‐' | '‑' | '–' | '—' | ',' | '.' | '/' | '(' | ')' | ';' | ':'
                )
        })
        .filter(|w| !w.is_empty())
}

/// Endings of "son of" / "daughter of" surnames and patronymics, as skeletons, with
/// their canonical form: `-uly`, `-uli`, `-ulu`, `uulu`, `-o‘g‘li`, `-ogly`, `-ugli`
/// are one ending; `-kyzy`, `-qizi`, `-kizi` are another.
const FILIAL_ENDINGS: &[(&str, &str)] = &[
    ("ogli", "uli"),
    ("ugli", "uli"),
    ("oglu", "uli"),
    ("ulu", "uli"),
    ("uli", "uli"),
    ("kizi", "kizi"),
];

fn canonical_filial(skeleton: &mut String) {
    for (ending, canon) in FILIAL_ENDINGS {
        if skeleton.len() > ending.len() && skeleton.ends_with(ending) {
            skeleton.truncate(skeleton.len() - ending.len());
            skeleton.push_str(canon);
            return;
        }
    }
}

/// The skeleton of a whole name field: its words' skeletons concatenated, so that
/// `Abdul-Aziz`, `Abdul Aziz` and `Abdulaziz` are equal, and a separately written
/// `uly` / `o‘g‘li` / `kyzy` joins the word before it.
pub(crate) fn field_skeleton(field: &str) -> String {
    let mut out = String::new();
    for w in words(field) {
        out.push_str(&word_skeleton(w));
    }
    canonical_filial(&mut out);
    out
}

/// Surname and patronymic endings stripped to get a root: the Russian-style `-ov(a)`,
/// `-ev(a)`, `-ovich`, `-ovna`, the national `-uly`/`-kyzy`/`-o‘g‘li`/`-qizi`, and the
/// Tajik `-zoda`/`-zade`. Longest first. Only used where a coarser match is intended.
///
/// Written as ordinary spellings; [`root`] compares their skeletons (so `-ovich`, whose
/// skeleton ends in the `ch` symbol, is found in a skeleton).
const ROOT_ENDINGS: &[&str] = &[
    "ovich", "evich", "ovna", "evna", "ichna", "zoda", "zade", "zada", "kizi", "uli", "ova", "eva",
    "ich", "ov", "ev",
];

/// The root of a surname or patronymic skeleton: `Kairatovich`, `Kairatuly`,
/// `Kairatov` and `Kairatova` all give `kairat`. A root shorter than 3 letters is not
/// stripped.
pub(crate) fn root(skeleton: &str) -> &str {
    for ending in ROOT_ENDINGS {
        let ending = word_skeleton(ending);
        if let Some(stem) = skeleton.strip_suffix(ending.as_str()) {
            if stem.chars().count() >= 3 {
                return stem;
            }
        }
    }
    skeleton
}

/// A coarser key for spelling (not only transliteration) differences: the first letter
/// (any vowel written as `V`), then the rest with `o` read as `a` and `e` as `i`.
///
/// These are the vowel alternations between Uzbek or Tajik and Russian spellings of
/// one name (`Шоҳруҳ` / `Шахрух`, `Бобур` / `Бабур`, `Гулнора` / `Гульнара`, `Temur` /
/// `Timur`) and the initial `Ў`/`У`/`О` (`O‘tkir` / `Utkir`). Other vowels are kept:
/// `Marat` / `Murat`, `Hasan` / `Husan` (often twins) and `Aziz` / `Aziza` are
/// different names, and stay different here too.
pub(crate) fn coarse(skeleton: &str) -> String {
    let mut out = String::with_capacity(skeleton.len());
    for (i, c) in skeleton.chars().enumerate() {
        let c = match c {
            _ if i == 0 && is_vowel(c) => 'V',
            'o' => 'a',
            'e' => 'i',
            other => other,
        };
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(variants: &[&str]) {
        let first = field_skeleton(variants[0]);
        assert!(!first.is_empty(), "{:?} is empty", variants[0]);
        for v in variants {
            assert_eq!(field_skeleton(v), first, "{v:?} vs {:?}", variants[0]);
        }
    }

    fn differ(a: &str, b: &str) {
        assert_ne!(field_skeleton(a), field_skeleton(b), "{a:?} vs {b:?}");
    }

    #[test]
    fn transliterations_from_the_issue_agree() {
        same(&["Aigerim", "Aygerim", "Айгерим", "AIGERIM", "Aıgerim"]);
        same(&["Zhanar", "Janar", "Жанар", "Žanar"]);
        same(&["Yuliya", "Iuliia", "Юлия", "Yulia", "Yuliia"]);
        same(&["Khurshed", "Hurshed", "Хуршед", "Xurshed"]);
        same(&["Shokhrukh", "Shohruh", "Шохрух", "Shoxrux", "Şohruh"]);
        same(&[
            "Kairatuly",
            "KAIRATULY",
            "Қайратұлы",
            "Qairatuly",
            "Qaıratuly",
            "Kayratuli",
        ]);
    }

    #[test]
    fn national_letters_and_latin_alphabets_agree() {
        // Kazakh: ә ғ қ ң ө ұ ү һ і, and the 2021 Latin alphabet.
        same(&["Әлия", "Aliya", "Äliya", "Alia", "Aliia"]);
        same(&["Ғалым", "Galym", "Ghalym", "Ğalym", "G'alym"]);
        same(&["Теңге", "Tenge", "Teñge"]);
        same(&["Өмірзақ", "Omirzak", "Ömirzaq", "Omirzaq"]);
        same(&["Ұлан", "Ulan", "Ūlan"]);
        same(&["Үміт", "Umit", "Ümit"]);
        // Kyrgyz long vowels written double, and ң.
        same(&["Жээнбеков", "Zheenbekov", "Jeenbekov", "Zhenbekov"]);
        same(&["Төлөгөн", "Tologon", "Tölögön"]);
        // Tajik: ғ ӣ қ ӯ ҳ ҷ.
        same(&["Ҷамшед", "Jamshed", "Dzhamshed", "Djamshed", "Джамшед"]);
        same(&["Раҳмон", "Rahmon", "Rakhmon", "Raxmon", "Рахмон"]);
        same(&["Шодӣ", "Shodi", "Shodī"]);
        // Uzbek: ў қ ғ ҳ, Latin o‘ g‘ with every apostrophe.
        same(&["Ўткир", "O‘tkir", "O'tkir", "Oʻtkir", "Otkir", "O`tkir"]);
        same(&["Ғулом", "G‘ulom", "G'ulom", "Gulom", "Ghulom"]);
        same(&["Хуршида", "Xurshida", "Khurshida", "Hurshida"]);
        // Turkmen Latin: ä ç ň ö ş ü ý ž, and -ow.
        same(&["Гурбангулы", "Gurbanguly", "Gurbangulı"]);
        same(&["Бердимухамедов", "Berdimuhamedow", "Berdimukhamedov"]);
        same(&["Чары", "Çary", "Chary", "Chari"]);
        same(&["Жемал", "Žemal", "Zhemal", "Jemal"]);
        same(&["Ёдгор", "Yodgor", "Iodgor"]);
        same(&["Фёдор", "Fyodor", "Fedor", "Fëdor", "Федор"]);
        same(&["Юрий", "Yuriy", "Yurii", "Iurii", "Yuri"]);
        same(&["Щукин", "Shchukin", "Schukin", "Shukin"]);
        same(&["Цой", "Tsoy", "Tsoi", "Coi"]);
        same(&["Зиёда", "Ziyoda"]);
        same(&["Айым", "Aiym", "Ayim"]);
        same(&["Абдул-Азиз", "Abdul Aziz", "Abdulaziz", "ABDULAZIZ"]);
        same(&["Рустам ўғли", "Rustam o‘g‘li", "Rustam ugli", "Rustamogli"]);
        same(&["Нурланкызы", "Nurlan kyzy", "Nurlanqizi", "Nurlan qizi"]);
        same(&["Асанбек уулу", "Asanbek uulu", "Asanbekuly"]);
    }

    #[test]
    fn different_names_stay_different() {
        differ("Hasan", "Husan");
        differ("Aziz", "Aziza");
        differ("Ivan", "Ivanov");
        differ("Marat", "Murat");
        differ("Nurlan", "Nurlana");
        differ("Aigerim", "Aigul");
        differ("Saule", "Saltanat");
        differ("Dilnoza", "Dilfuza");
        differ("Kairatov", "Kairatuly");
    }

    #[test]
    fn roots_and_coarse_keys() {
        assert_eq!(root(&field_skeleton("Kairatovich")), "kairat");
        assert_eq!(root(&field_skeleton("Kairatuly")), "kairat");
        assert_eq!(root(&field_skeleton("Кайратовна")), "kairat");
        assert_eq!(root(&field_skeleton("Rahmonzoda")), "rahmon");
        assert_eq!(root("lev"), "lev", "short roots are kept");
        assert_eq!(
            coarse(&field_skeleton("Shokhrukh")),
            coarse(&field_skeleton("Shakhrukh"))
        );
        assert_eq!(
            coarse(&field_skeleton("Ўткир")),
            coarse(&field_skeleton("Utkir"))
        );
        assert_eq!(
            coarse(&field_skeleton("Bobur")),
            coarse(&field_skeleton("Babur"))
        );
        assert_eq!(
            coarse(&field_skeleton("Гулнора")),
            coarse(&field_skeleton("Гульнара"))
        );
        assert_eq!(
            coarse(&field_skeleton("Temur")),
            coarse(&field_skeleton("Тимур"))
        );
        for (a, b) in [
            ("Aziz", "Aziza"),
            ("Marat", "Murat"),
            ("Hasan", "Husan"),
            ("Nurlan", "Nurlana"),
            ("Aigerim", "Aigul"),
            ("Dilnoza", "Dilfuza"),
        ] {
            assert_ne!(
                coarse(&field_skeleton(a)),
                coarse(&field_skeleton(b)),
                "{a} vs {b}"
            );
        }
    }

    #[test]
    fn root_endings_are_found_in_skeletons() {
        // Every ending is stripped from a skeleton (endings whose skeleton differs from
        // their spelling, like `-ovich`, were once silently never matched).
        for ending in ROOT_ENDINGS {
            let word = format!("nurlan{ending}");
            assert_eq!(root(&field_skeleton(&word)), "nurlan", "{word}");
        }
        assert_eq!(
            root(&field_skeleton("Кубанычбекович")),
            root(&field_skeleton("Кубанычбек уулу"))
        );
        assert_eq!(
            root(&field_skeleton("Сергеевич")),
            root(&field_skeleton("Sergeyevich"))
        );
    }

    #[test]
    fn velar_nasal_is_n_in_every_script() {
        same(&["Жаңыл", "Zhangyl", "Жаныл", "Janyl", "Jañyl"]);
        same(&["Теңге", "Тенге", "Tenge", "Teñge"]);
        same(&["Гурбангулы", "Gurbanguly", "Gurbangulı", "Gurbanguli"]);
    }

    #[test]
    fn junk_input_never_panics() {
        for s in [
            "",
            " ",
            "'''",
            "ьъ",
            "123",
            "😀",
            "a\u{301}",
            "İstanbul",
            "\u{0}",
        ] {
            let _ = field_skeleton(s);
            let sk = field_skeleton(s);
            let _ = coarse(&sk);
            let _ = root(&sk);
        }
        assert_eq!(field_skeleton("a\u{301}"), "a");
    }
}

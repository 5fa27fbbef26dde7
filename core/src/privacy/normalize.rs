//! Normalization before the identifier screen matches: what a person types to slip an
//! identifier past a pattern is folded back to the plain form, and every character of
//! the folded text remembers which character of the original it came from, so that
//! findings are reported at the original positions.
//!
//! - Unicode NFKC, character by character: full-width digits (`７０１`), the full-width
//!   at sign (`＠`), ligatures, non-breaking and thin spaces become their plain forms.
//! - Invisible characters are dropped: zero-width space, joiners and non-joiner,
//!   word joiner, byte-order mark, soft hyphen, bidirectional marks.
//! - Greek capital letters that look like Latin ones (`Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ`,
//!   and `ο`) become Latin: notes are in Kazakh, Russian and English, so Greek letters
//!   in them are look-alikes. (Cyrillic look-alikes are matched by the patterns
//!   themselves, which accept Cyrillic document series.)
//! - In a word made of digits and look-alike letters only (`7O1`, `l23`, `2З4`),
//!   `O`/`o`/`О`/`о` become `0`, `l`/`I`/`і`/`І`/`ӏ` become `1` and `З`/`з` become `3`.
//!   Words without a digit (`III`, `Ol`) are left alone.
//! - Decimal digits of other scripts (Arabic-Indic, Persian, Devanagari, ...) read as
//!   ASCII digits.
//! - Every line break or separator (CR, CRLF, VT, FF, NEL, U+2028, U+2029) reads as
//!   one LF, so what joins numbers, e-mails and dates split by LF joins them split by
//!   any of these.
//! - A second view joins digit groups (`990 101 350 123`, `8 7 0 1 2 3 4 5 6 7 8`,
//!   `N 1234 5678`, `N12-345-678`) so that the number patterns see one number.

use unicode_normalization::UnicodeNormalization;

/// A normalized text and, for each of its characters, the index of the original
/// character it came from.
#[derive(Debug, Clone)]
pub(super) struct View {
    pub(super) text: String,
    pub(super) origin: Vec<usize>,
}

fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
    )
}

/// The first code points of the blocks of ten decimal digits (Unicode `Nd`) of the
/// scripts a note may be typed in besides ASCII (full-width and mathematical digits
/// are folded by NFKC): Arabic-Indic, Extended Arabic-Indic (Persian, Urdu), NKo,
/// Devanagari, Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam,
/// Sinhala, Thai, Lao, Tibetan, Myanmar, Khmer, Mongolian.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810,
];

/// The ASCII digit of a decimal digit of another script.
fn script_digit(c: char) -> Option<char> {
    let c = u32::from(c);
    DIGIT_ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&c))
        .and_then(|&zero| char::from_digit(c - zero, 10))
}

/// A line break or a line or paragraph separator other than LF (read as LF).
fn line_break(c: char) -> bool {
    matches!(
        c,
        '\r' | '\u{000B}' | '\u{000C}' | '\u{0085}' | '\u{2028}' | '\u{2029}'
    )
}

fn greek_to_latin(c: char) -> char {
    match c {
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' | 'ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        other => other,
    }
}

fn digit_lookalike(c: char) -> Option<char> {
    match c {
        'O' | 'o' | 'О' | 'о' => Some('0'),
        'l' | 'I' | 'і' | 'І' | 'ӏ' | 'Ӏ' => Some('1'),
        'З' | 'з' => Some('3'),
        _ => None,
    }
}

impl View {
    /// Normalizes `text` (see the module documentation).
    pub(super) fn new(text: &str) -> View {
        let mut chars: Vec<char> = Vec::with_capacity(text.len());
        let mut origin = Vec::with_capacity(text.len());
        let mut input = text.chars().enumerate().peekable();
        while let Some((i, c)) = input.next() {
            if invisible(c) {
                continue;
            }
            // Every line break and separator reads as LF (F3 of the round-3 red
            // team: `+7 701<CR>555 1234` passed, since only LF joined digit groups,
            // e-mails and dates): CRLF as one LF, and CR, VT, FF, NEL, U+2028 and
            // U+2029 each as LF.
            if line_break(c) {
                if c == '\r' && input.peek().is_some_and(|&(_, n)| n == '\n') {
                    continue;
                }
                chars.push('\n');
                origin.push(i);
                continue;
            }
            // Decimal digits of other scripts read as ASCII digits (F3 of the round-3
            // red team: `+٧ ٧٠١ ٥٥٥ ١٢٣٤` passed; NFKC folds full-width digits only).
            if let Some(d) = script_digit(c) {
                chars.push(d);
                origin.push(i);
                continue;
            }
            // `№` stays: NFKC would make it `No`, and the patterns read `№` itself.
            if c == '№' {
                chars.push(c);
                origin.push(i);
                continue;
            }
            for n in std::iter::once(greek_to_latin(c)).nfkc() {
                let n = greek_to_latin(n);
                if !invisible(n) {
                    chars.push(n);
                    origin.push(i);
                }
            }
        }
        // Look-alike letters in words of digits.
        let mut start = 0;
        while start < chars.len() {
            if !chars[start].is_alphanumeric() {
                start += 1;
                continue;
            }
            let mut end = start;
            while end < chars.len() && chars[end].is_alphanumeric() {
                end += 1;
            }
            let word = &chars[start..end];
            let has_digit = word.iter().any(|c| c.is_ascii_digit());
            let only = word
                .iter()
                .all(|&c| c.is_ascii_digit() || digit_lookalike(c).is_some());
            if has_digit && only {
                for c in &mut chars[start..end] {
                    if let Some(d) = digit_lookalike(*c) {
                        *c = d;
                    }
                }
            }
            start = end;
        }
        View {
            text: chars.into_iter().collect(),
            origin,
        }
    }

    /// The view with digit groups joined, if any were: runs of at least two groups of
    /// 1 to 4 digits (the last may have up to 7 after a line break) separated as
    /// [`separator`] says (F3 of the 2026-12-05 red teams), holding at least 9 digits
    /// (or 7 after a one- or two-letter series), except amounts written with
    /// thousands separators below a billion and lists of years.
    pub(super) fn joined(&self) -> Option<View> {
        let chars: Vec<char> = self.text.chars().collect();
        let mut keep = vec![true; chars.len()];
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
                i += 1;
                continue;
            }
            // Groups starting at i.
            let mut groups: Vec<(usize, usize)> = Vec::new();
            let mut seps: Vec<char> = Vec::new();
            // Whether the separator before each group after the first held a line break.
            let mut broken: Vec<bool> = Vec::new();
            let mut j = i;
            loop {
                let s = j;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                groups.push((s, j));
                match separator(&chars, j) {
                    Some((len, sep, line)) => {
                        seps.push(sep);
                        broken.push(line);
                        j += len;
                    }
                    None => break,
                }
            }
            let end = j;
            let lens: Vec<usize> = groups.iter().map(|(s, e)| e - s).collect();
            let digits: usize = lens.iter().sum();
            // One or two capital letters right before, or before a space: a series.
            let series_before = |mut k: usize| -> bool {
                let mut n = 0;
                while k > 0 && chars[k - 1].is_alphabetic() {
                    if !chars[k - 1].is_uppercase() {
                        return false;
                    }
                    k -= 1;
                    n += 1;
                }
                (1..=2).contains(&n)
            };
            let series =
                series_before(i) || (i >= 1 && chars[i - 1] == ' ' && series_before(i - 1));
            let thousands = lens.len() >= 2
                && (1..=3).contains(&lens[0])
                && lens[1..].iter().all(|&l| l == 3)
                && seps.iter().all(|&s| matches!(s, ' ' | '.' | ','));
            let years = groups
                .iter()
                .filter(|(s, e)| {
                    e - s == 4 && matches!((chars[*s], chars[s + 1]), ('1', '9') | ('2', '0'))
                })
                .count()
                >= 2;
            // Thousands separators make an amount, unless the number is an IIN (12
            // digits starting with a date: no amount in a field note is that large).
            let iin = digits == 12 && {
                let d: String = groups
                    .iter()
                    .flat_map(|&(s, e)| chars[s..e].iter())
                    .take(6)
                    .collect();
                yymmdd(&d)
            };
            // Four groups of four are a card layout, which the card rule judges.
            let card = lens == [4, 4, 4, 4];
            // A rising list of small numbers (ages `8 9 10 11 12 13`).
            let values: Vec<u32> = groups
                .iter()
                .map(|&(s, e)| chars[s..e].iter().collect::<String>().parse().unwrap_or(0))
                .collect();
            let list = lens.iter().all(|&l| l <= 2) && values.windows(2).all(|w| w[0] < w[1]);
            // A group of 5 to 7 digits only last and after a line break (a mobile
            // number typed `7701` / `5551234` on two lines of a cell).
            // Or, after any separator, when two groups hold a phone's 10 digits or
            // more (`7701 5551234`, `7015 551234`: N1 of the round-4 re-test; three
            // groups such as `45 06 123456` are a passport's layout, judged as such).
            let last = lens.len() - 1;
            let sizes_ok = lens.iter().enumerate().all(|(k, &l)| {
                (1..=4).contains(&l)
                    || (k == last
                        && k > 0
                        && l <= 7
                        && (broken[k - 1] || (digits >= 10 && lens.len() == 2)))
            });
            let ok = groups.len() >= 2
                && sizes_ok
                && (digits >= 9 || (series && digits >= 7))
                && (!thousands || iin)
                && !card
                && !list
                && !years;
            if ok {
                for pair in groups.windows(2) {
                    keep[pair[0].1..pair[1].0].fill(false);
                }
            }
            i = end.max(i + 1);
        }
        self.keeping(&chars, &keep)
    }
}

impl View {
    /// The view with line breaks removed where they split an e-mail address or a
    /// numeric date (F3 of the 2026-12-05 red team: `ivan@mail\n.ru`,
    /// `born 12.03.\n1998`, as a multi-line spreadsheet cell holds them): a line break,
    /// with the blanks around it, right after `.`, `@`, `-` or `/`, or right before
    /// `.` or `@`, between two non-blank characters. `None` if there is none.
    pub(super) fn lines_joined(&self) -> Option<View> {
        let chars: Vec<char> = self.text.chars().collect();
        let mut keep = vec![true; chars.len()];
        let mut i = 0;
        while i < chars.len() {
            if !matches!(chars[i], '\n' | '\r' | '\u{2028}' | '\u{2029}') {
                i += 1;
                continue;
            }
            let mut a = i;
            while a > 0 && chars[a - 1].is_whitespace() {
                a -= 1;
            }
            let mut b = i + 1;
            while b < chars.len() && chars[b].is_whitespace() {
                b += 1;
            }
            let before = a.checked_sub(1).map(|k| chars[k]);
            let after = chars.get(b).copied();
            let joins =
                matches!(before, Some('.' | '@' | '-' | '/')) || matches!(after, Some('.' | '@'));
            if joins && before.is_some() && after.is_some() {
                for k in &mut keep[a..b] {
                    *k = false;
                }
            }
            i = b.max(i + 1);
        }
        self.keeping(&chars, &keep)
    }
}

impl View {
    /// The view with the blanks around `@` and `.` removed, when the text holds an
    /// `@` (F2 of the round-4 red team: `ivan.petrov @ mail.ru`, `name@mail . ru`, with
    /// spaces, no-break spaces or tabs, passed the screen). Screened for e-mails only:
    /// elsewhere it would join sentences. `None` if there is no `@` or nothing to remove.
    pub(super) fn blanks_joined(&self) -> Option<View> {
        if !self.text.contains('@') {
            return None;
        }
        let chars: Vec<char> = self.text.chars().collect();
        let mut keep = vec![true; chars.len()];
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_whitespace() {
                i += 1;
                continue;
            }
            let mut b = i;
            while b < chars.len() && chars[b].is_whitespace() {
                b += 1;
            }
            let before = i.checked_sub(1).map(|k| chars[k]);
            let after = chars.get(b).copied();
            // After a full stop, a capital starts a sentence, not a domain (N5 of the
            // round-4 re-test: `arrived @ night. Then left`).
            let sentence = before == Some('.') && after.is_some_and(char::is_uppercase);
            let joins = matches!(before, Some('@' | '.')) || matches!(after, Some('@' | '.'));
            if joins && !sentence && before.is_some() && after.is_some() {
                keep[i..b].fill(false);
            }
            i = b;
        }
        self.keeping(&chars, &keep)
    }
}

impl View {
    /// The view of the characters of `chars` (this view's, in order) whose `keep` is
    /// set, each with its origin; `None` if every one is kept (nothing removed).
    fn keeping(&self, chars: &[char], keep: &[bool]) -> Option<View> {
        if keep.iter().all(|k| *k) {
            return None;
        }
        let mut text = String::with_capacity(self.text.len());
        let mut origin = Vec::with_capacity(self.origin.len());
        for ((c, o), k) in chars.iter().zip(&self.origin).zip(keep) {
            if *k {
                text.push(*c);
                origin.push(*o);
            }
        }
        Some(View { text, origin })
    }
}

/// The longest separator of two digit groups, in characters (N2 of the round-4
/// re-test: `701    555    1234` with four blanks passed at three).
const MAX_SEPARATOR: usize = 8;

/// The separator of two digit groups at `chars[at..]`, if one is there and a digit
/// follows it: one of ` . - – — / _ , ; ~ * : | · • +`, a tab or a line break, or up to
/// [`MAX_SEPARATOR`] of them of which at most one is not a blank (`701 , 555`, `701\n\n555`; F3
/// of the round-3 data red team). Returns its length, the character that names it
/// (the punctuation, else a line break, else a space) and whether it breaks a line.
fn separator(chars: &[char], at: usize) -> Option<(usize, char, bool)> {
    let blank = |c: char| matches!(c, ' ' | '\t' | '\n');
    let mark = |c: char| {
        matches!(
            c,
            '.' | '-' | '–' | '—' | '/' | '_' | ',' | ';' | '~' | '*' | ':' | '|' | '·' | '•' | '+'
        )
    };
    let mut len = 0;
    let mut punct = None;
    let mut line = false;
    while let Some(&c) = chars.get(at + len) {
        if c.is_ascii_digit() || len == MAX_SEPARATOR {
            break;
        }
        if blank(c) {
            line |= c == '\n';
        } else if mark(c) && punct.is_none() {
            punct = Some(c);
        } else {
            return None;
        }
        len += 1;
    }
    if len == 0 || !chars.get(at + len).is_some_and(char::is_ascii_digit) {
        return None;
    }
    let sep = punct.unwrap_or(if line { '\n' } else { ' ' });
    Some((len, sep, line))
}

/// Whether six digits are a plausible `YYMMDD` date.
fn yymmdd(d: &str) -> bool {
    let n = |r: std::ops::Range<usize>| d.get(r).and_then(|x| x.parse::<u32>().ok());
    matches!((n(2..4), n(4..6)), (Some(1..=12), Some(1..=31)))
}

#[cfg(test)]
mod tests {
    use super::View;

    #[test]
    fn folds_and_keeps_positions() {
        let v = View::new("ＡＢ＋７\u{200B}７O1 Ν12");
        assert_eq!(v.text, "AB+7701 N12");
        assert_eq!(v.origin, vec![0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(View::new("14.III.1998").text, "14.III.1998");
        assert_eq!(View::new("Ol 7l2").text, "Ol 712");
    }

    /// F3 of the round-3 red team: a phone or a passport number split by a CR, a
    /// CRLF, VT, FF, NEL, U+2028 or U+2029 passed the screen (LF was joined).
    #[test]
    fn every_line_break_reads_as_lf() {
        for sep in [
            "\n", "\r", "\r\n", "\u{b}", "\u{c}", "\u{85}", "\u{2028}", "\u{2029}",
        ] {
            let v = View::new(&format!("+7 701{sep}555 1234"));
            assert_eq!(v.text, "+7 701\n555 1234", "{sep:?}");
            assert_eq!(
                *v.origin.last().unwrap(),
                13 + sep.chars().count(),
                "{sep:?}"
            );
            for text in [
                format!("+7 701{sep}555 1234"),
                format!("passport N1234{sep}5678"),
                format!("ivan@mail{sep}.ru"),
                format!("born 12.03.{sep}1998"),
            ] {
                assert!(
                    !crate::privacy::find_identifiers(&text).is_empty(),
                    "{text:?}"
                );
            }
        }
    }

    /// F3 of the round-3 red team: Arabic-Indic and Devanagari digits passed.
    #[test]
    fn digits_of_other_scripts_read_as_ascii() {
        assert_eq!(View::new("+٧ ٧٠١ ٥٥٥ ١٢٣٤").text, "+7 701 555 1234");
        for text in [
            "+٧ ٧٠١ ٥٥٥ ١٢٣٤",
            "+۷ ۷۰۱ ۵۵۵ ۱۲۳۴",
            "+७ ७०१ ५५५ १२३४",
            "born ٠٣.٠٢.١٩٩٠",
        ] {
            assert!(
                !crate::privacy::find_identifiers(text).is_empty(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn joins_digit_groups_but_not_amounts_or_years() {
        let j = |s: &str| View::new(s).joined().map(|v| v.text);
        assert_eq!(
            j("IIN 990 101 350 123").as_deref(),
            Some("IIN 990101350123")
        );
        assert_eq!(j("8 7 0 1 2 3 4 5 6 7 8").as_deref(), Some("87012345678"));
        assert_eq!(j("N 1234 5678").as_deref(), Some("N 12345678"));
        assert_eq!(j("N12-345-678").as_deref(), Some("N12345678"));
        assert_eq!(j("paid 150 000 tenge"), None);
        assert_eq!(j("in 2019 2020 2021"), None);
        assert_eq!(j("14 03 1998"), None);
    }
}

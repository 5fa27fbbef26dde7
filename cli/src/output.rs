//! Human-readable tables and JSON for scripts.

use caravan_core::vocab::{Country, Lang, Vocabulary};
use caravan_core::{Assessment, CaseRecord, CaseSummary};
use serde_json::{json, Value};

/// The label of a vocabulary value in `lang`, or its code if it has none.
pub(crate) fn label<V: Vocabulary>(v: &V, lang: Lang) -> String {
    v.label(lang)
        .map_or_else(|| v.code().to_string(), str::to_string)
}

fn opt_label<V: Vocabulary>(v: &Option<V>, lang: Lang) -> String {
    v.as_ref().map_or_else(|| "-".into(), |v| label(v, lang))
}

fn country(c: &Country, lang: Lang) -> String {
    c.label(lang)
        .map_or_else(|| c.code().to_string(), |l| format!("{l} ({})", c.code()))
}

fn join<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> String) -> String {
    let v: Vec<String> = items.into_iter().map(f).collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

/// Renders rows as a padded table (widths counted in characters, so Cyrillic aligns).
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(w - cell.chars().count()));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The case list as a table.
pub(crate) fn summaries_table(list: &[CaseSummary], lang: Lang) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            vec![
                s.id.short(),
                s.created_at.date_string(),
                opt_label(&s.case_status, lang),
                join(&s.citizenship, |c| c.code().to_string()),
                join(&s.route_countries, |c| c.code().to_string()),
                join(&s.exploitation, |e| label(e, lang)),
                if s.conflicts > 0 {
                    format!("{} conflict(s)", s.conflicts)
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    let mut out = table(
        &[
            "ID",
            "REGISTERED",
            "STATUS",
            "CITIZENSHIP",
            "ROUTE",
            "EXPLOITATION",
            "",
        ],
        &rows,
    );
    out.push_str(&format!("{} case(s)\n", list.len()));
    out
}

/// A summary as JSON with readable keys.
pub(crate) fn summary_json(s: &CaseSummary) -> Value {
    json!({
        "id": s.id.to_hex(),
        "created_at": s.created_at.0,
        "updated_at": s.updated_at.0,
        "case_status": s.case_status.as_ref().map(|v| v.code().to_string()),
        "trafficking_status": s.trafficking_status.as_ref().map(|v| v.code().to_string()),
        "gender": s.gender.as_ref().map(|v| v.code().to_string()),
        "age_band": s.age_band.as_ref().map(|v| v.code().to_string()),
        "citizenship": s.citizenship.iter().map(|c| c.code()).collect::<Vec<_>>(),
        "route_countries": s.route_countries.iter().map(|c| c.code()).collect::<Vec<_>>(),
        "exploitation": s.exploitation.iter().map(|e| e.code()).collect::<Vec<_>>(),
        "referrals": s.referrals,
        "notes": s.notes,
        "conflicts": s.conflicts,
    })
}

/// One case, readable.
pub(crate) fn record_text(r: &CaseRecord, lang: Lang) -> String {
    let mut rows: Vec<Vec<String>> = vec![
        vec!["id".into(), r.id.to_hex()],
        vec![
            "registered".into(),
            match r.registration {
                Some(w) => format!("{w} (typed in {})", r.created_at.date_string()),
                None => r.created_at.date_string(),
            },
        ],
        vec!["case status".into(), opt_label(&r.case_status, lang)],
        vec![
            "trafficking status".into(),
            opt_label(&r.trafficking_status, lang),
        ],
        vec!["decided by".into(), opt_label(&r.decided_by, lang)],
        vec!["gender".into(), opt_label(&r.gender, lang)],
        vec!["age band".into(), opt_label(&r.age_band, lang)],
        vec![
            "majority (registration)".into(),
            opt_label(&r.majority_at_registration, lang),
        ],
        vec![
            "citizenship".into(),
            join(&r.citizenship, |c| country(c, lang)),
        ],
        vec![
            "exploitation".into(),
            join(&r.exploitation, |v| label(v, lang)),
        ],
        vec![
            "labour industry".into(),
            join(&r.labour_industry, |v| label(v, lang)),
        ],
        vec![
            "sexual exploitation".into(),
            join(&r.sexual_exploitation, |v| label(v, lang)),
        ],
        vec![
            "means of control".into(),
            join(&r.means_of_control, |v| label(v, lang)),
        ],
        vec![
            "recruitment".into(),
            join(&r.recruitment_method, |v| label(v, lang)),
        ],
        vec!["apps".into(), join(&r.recruitment_app, |v| label(v, lang))],
        vec![
            "relationship".into(),
            opt_label(&r.relationship_to_trafficker, lang),
        ],
        vec![
            "route".into(),
            join(&r.route, |e| {
                let when = e.when.map(|w| format!(" {w}")).unwrap_or_default();
                format!("{} {}{when}", label(&e.kind, lang), e.country.code())
            }),
        ],
        vec![
            "consent".into(),
            format!(
                "share with partners: {}, statistics: {}",
                yes_no(r.consent.share_with_partners),
                yes_no(r.consent.include_in_statistics)
            ),
        ],
        vec![
            "vulnerabilities".into(),
            join(&r.screening.vulnerabilities, |v| label(v, lang)),
        ],
        vec![
            "indicators".into(),
            join(&r.screening.indicators, |(i, a)| {
                format!("{}: {}", label(i, lang), label(a, lang))
            }),
        ],
    ];
    for referral in &r.referrals {
        rows.push(vec![
            format!("referral {}", referral.id),
            format!(
                "{} → {} [{}]",
                label(&referral.service, lang),
                referral.partner,
                referral
                    .status()
                    .map_or_else(|| "-".into(), |s| label(s, lang))
            ),
        ]);
    }
    for note in &r.notes {
        rows.push(vec![
            format!("note {}", note.at.date_string()),
            note.text.clone(),
        ]);
    }
    for c in &r.conflicts {
        rows.push(vec![
            "CONFLICT".into(),
            format!(
                "{}: showing {}, also written: {}",
                c.field,
                c.current,
                c.others.join(", ")
            ),
        ]);
    }
    let mut out = String::new();
    for row in rows {
        out.push_str(&format!("{:<24} {}\n", row[0], row[1]));
    }
    out
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not asked",
    }
}

/// A screening assessment, readable.
pub(crate) fn assessment_text(a: &Assessment, lang: Lang) -> String {
    let mut out = format!(
        "Outcome: {}\nWhy: {}\n",
        label(&a.outcome, lang),
        a.explanation
    );
    if !a.indicators.is_empty() {
        out.push_str(&format!(
            "Indicators present: {}\n",
            join(&a.indicators, |i| label(i, lang))
        ));
    }
    if !a.vulnerabilities.is_empty() {
        out.push_str(&format!(
            "Vulnerability factors: {}\n",
            join(&a.vulnerabilities, |v| label(v, lang))
        ));
    }
    out
}

/// Prints `value` as JSON (with `--json`) or `text` for people.
pub(crate) fn say(json: bool, value: Value, text: String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text.trim_end_matches('\n'));
    }
}

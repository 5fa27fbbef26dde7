//! The plain-Automerge baseline: every case as a map under the root of one
//! `AutoCommit`, one commit per case (what `baselines.md` calls "build (1 commit/case)").
//!
//! Each case map has the layout and value types of a Caravan case document
//! (`core/src/model/doc.rs`): scalars as strings, sets as maps of code → `true`, every
//! container created (also empty ones), route and notes as lists of maps, note text as
//! a plain string, timestamps as Automerge timestamps.

use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, AutomergeError, ObjId, ObjType, ScalarValue, ROOT};
use caravan_core::SetField;

use crate::synth::SynthCase;

/// Containers the core creates besides the set fields.
const CONTAINER_MAPS: &[&str] = &["consent", "indicators", "referrals"];
/// List containers the core creates.
const CONTAINER_LISTS: &[&str] = &["route", "notes"];

/// Builds the single baseline document from `cases`; returns it and the build time
/// (from an empty document to the last commit).
pub(crate) fn build(
    cases: &[SynthCase],
    now: i64,
    progress: &mut dyn FnMut(usize),
) -> Result<(AutoCommit, Duration), AutomergeError> {
    let start = Instant::now();
    let mut doc = AutoCommit::new();
    for (i, case) in cases.iter().enumerate() {
        write_case(&mut doc, &i.to_string(), case, now)?;
        doc.commit();
        if (i + 1) % 5000 == 0 {
            progress(i + 1);
        }
    }
    Ok((doc, start.elapsed()))
}

/// Writes one case as a map under `key` in the root.
fn write_case(
    doc: &mut AutoCommit,
    key: &str,
    case: &SynthCase,
    now: i64,
) -> Result<(), AutomergeError> {
    let c = doc.put_object(ROOT, key, ObjType::Map)?;
    doc.put(&c, "schema", 1u64)?;
    doc.put(&c, "id", ScalarValue::Bytes(case.id.to_vec()))?;
    doc.put(&c, "created_at", ScalarValue::Timestamp(now))?;
    for (field, code) in &case.scalars {
        doc.put(&c, field.key(), *code)?;
    }
    for field in SetField::ALL {
        let set = doc.put_object(&c, field.key(), ObjType::Map)?;
        for (_, codes) in case.sets.iter().filter(|(f, _)| f == field) {
            for code in codes {
                doc.put(&set, *code, true)?;
            }
        }
    }
    let mut maps: Vec<ObjId> = Vec::with_capacity(CONTAINER_MAPS.len());
    for key in CONTAINER_MAPS {
        maps.push(doc.put_object(&c, *key, ObjType::Map)?);
    }
    let (consent, indicators, referrals) = (&maps[0], &maps[1], &maps[2]);
    let route = doc.put_object(&c, CONTAINER_LISTS[0], ObjType::List)?;
    let notes = doc.put_object(&c, CONTAINER_LISTS[1], ObjType::List)?;

    for (at, r) in case.route.iter().enumerate() {
        let ev = doc.insert_object(&route, at, ObjType::Map)?;
        doc.put(&ev, "kind", r.kind)?;
        doc.put(&ev, "country", r.country)?;
        // Year 0: no date (the cases as a spreadsheet import carries them).
        if r.year != 0 {
            doc.put(&ev, "year", u64::from(r.year))?;
            if let Some(m) = r.month {
                doc.put(&ev, "month", u64::from(m))?;
            }
        }
    }
    doc.put(consent, "share_with_partners", case.consent.0)?;
    doc.put(consent, "include_in_statistics", case.consent.1)?;
    for (indicator, answer) in &case.indicators {
        doc.put(indicators, *indicator, *answer)?;
    }
    let note = doc.insert_object(&notes, 0, ObjType::Map)?;
    doc.put(&note, "id", case.note_id.as_str())?;
    doc.put(&note, "at", ScalarValue::Timestamp(now))?;
    doc.put(&note, "text", case.note)?;
    if let Some(r) = &case.referral {
        let m = doc.put_object(referrals, r.id.as_str(), ObjType::Map)?;
        doc.put(&m, "service", r.service)?;
        doc.put(&m, "partner", r.partner)?;
        if let Some(t) = r.organisation_type {
            doc.put(&m, "organisation_type", t)?;
        }
        if let Some(reason) = r.reason {
            doc.put(&m, "reason", reason)?;
        }
        let history = doc.put_object(&m, "history", ObjType::List)?;
        let ev = doc.insert_object(&history, 0, ObjType::Map)?;
        doc.put(&ev, "status", "Requested")?;
        doc.put(&ev, "at", ScalarValue::Timestamp(now))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::ReadDoc;

    use super::*;

    #[test]
    fn baseline_holds_every_case_and_round_trips() {
        let cases = crate::synth::cases(50, 3);
        let (mut doc, _) = build(&cases, 1_700_000_000_000, &mut |_| {}).expect("build");
        assert_eq!(doc.length(ROOT), 50);
        let bytes = doc.save();
        let mut loaded = AutoCommit::load(&bytes).expect("load");
        assert_eq!(loaded.length(ROOT), 50);
        assert_eq!(loaded.get_changes(&[]).len(), 50, "one change per case");
    }
}

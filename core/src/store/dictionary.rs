//! The preset DEFLATE dictionary of store frames (formats 2 and 3).
//!
//! Most frames hold one small case: an Automerge document of about 800 bytes and its
//! summary. On its own such a frame barely compresses (DEFLATE has nothing earlier to
//! refer to), yet every case repeats the same field names, vocabulary codes and
//! document structure. A preset dictionary gives the compressor those strings up
//! front: a typical case frame shrinks by about a third. (Format 3 also compresses
//! many records together in one block; the dictionary still serves single-record
//! blocks and the start of every block.)
//!
//! The dictionary is built from the schema only, never from case data: every
//! vocabulary's codes, then the frame of a template case that sets one code in every
//! field, with its statistical projection (see [`generate`]). It is frozen in `frame_dictionary.bin`: frames written
//! with it can only be read with the same bytes, so changing it means a new store
//! format. A test pins its SHA-256.

/// The dictionary of formats 2 and 3 (about 5 KB).
pub(crate) static FRAME_DICTIONARY: &[u8] = include_bytes!("frame_dictionary.bin");

/// Builds a dictionary from the current schema (used once, to write
/// `frame_dictionary.bin`; the output differs run to run only in timestamps and keys).
#[cfg(test)]
pub(crate) fn generate() -> crate::error::Result<Vec<u8>> {
    use automerge::ActorId;

    use super::format::Record;

    use crate::codec::cbor;
    use crate::identity::DeviceIdentity;
    use crate::model::{CaseDoc, CaseId, CaseSummary, Edit, ScalarField, SetField, YearMonth};
    use crate::vocab::{all_vocabularies, vocabulary};

    let first_code = |vocab: &str| -> String {
        match vocabulary(vocab).and_then(|t| t.entries.first().map(|e| e.code.to_string())) {
            Some(code) if vocab != "country" => code,
            _ => "KZ".into(),
        }
    };
    // Least useful first: DEFLATE reaches the end of the dictionary more cheaply.
    let mut out = Vec::new();
    for table in all_vocabularies() {
        for entry in table.entries {
            out.extend_from_slice(entry.code.as_bytes());
        }
    }
    let mut edits = Vec::new();
    for field in ScalarField::ALL {
        edits.push(Edit::set(*field, first_code(field.vocabulary())));
    }
    for field in SetField::ALL {
        edits.push(Edit::add(*field, first_code(field.vocabulary())));
    }
    edits.push(Edit::Consent {
        share_with_partners: Some(true),
        include_in_statistics: Some(true),
    });
    for kind in ["Recruitment", "Transit", "Exploitation"] {
        edits.push(Edit::AddRouteEvent {
            kind: kind.into(),
            country: "KZ".into(),
            when: Some(YearMonth {
                year: 2026,
                month: Some(1),
            }),
        });
    }
    edits.push(Edit::note("note"));
    let id = CaseId([0; 16]);
    let now = crate::model::Timestamp(1_767_225_600_000);
    let mut doc = CaseDoc::create(id, ActorId::from([0u8; 16]), now)?;
    doc.apply(&edits, now, &DeviceIdentity::generate()?)?;
    let summary = CaseSummary::of(&doc.record()?, now);
    let record = Record::Put {
        lsn: 1,
        case: id,
        full: true,
        summary,
        doc: doc.save(),
        sigs: Vec::new(),
        heads: Vec::new(),
        stats: Some(crate::model::StoredStats::of(&doc.record()?, None)),
        request: None,
    };
    out.extend_from_slice(&cbor(&record)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_is_frozen() {
        let hash = crate::crypto::sha256(FRAME_DICTIONARY);
        let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex, "035223b84ff87e28d188590d7e414487373f697457b8c36bb30c13b4795a54aa",
            "frame_dictionary.bin changed: frames written with the old one no longer open"
        );
    }

    #[test]
    #[ignore = "writes core/src/store/frame_dictionary.bin; only for a new store format"]
    fn write_frame_dictionary() {
        let dict = generate().expect("generate");
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/store/frame_dictionary.bin"
        );
        std::fs::write(path, dict).expect("write");
    }
}

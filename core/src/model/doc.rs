//! A case record stored as an Automerge document, and how edits map onto it.
//!
//! Layout of one case document (all keys are stable; see `docs/storage-format.md`):
//!
//! ```text
//! ROOT { schema: 1, id: bytes, created_at: timestamp,
//!        case_status: "Active", gender: "Feminine", ...        single-valued: strings
//!        citizenship: { "KZ": true }, means_of_control: {...}, sets: maps of code -> true
//!        consent: { share_with_partners: bool, include_in_statistics: bool },
//!        indicators: { "DebtBondage": "Yes", ... },
//!        route: [ { kind, country, year, month } ],
//!        notes: [ { id, at, text } ],
//!        referrals: { id: { service, partner, organisation_type, reason,
//!                           history: [ { status, at } ] } },
//!        registered: "2023-04",                    optional: month (or year) of registration
//!        blind_index: bytes }                      optional: CBOR of a dedup::BlindIndex
//! ```
//!
//! Every container is created once, in the case's first change, so concurrent edits
//! from other devices only ever write *inside* containers and never replace one
//! another's (two concurrent `put_object`s on one key would hide one side). Sets are
//! maps so that concurrent additions all survive and removal is add-wins. Notes are
//! plain strings, not Text objects: they are append-only, and one op per note instead
//! of one per character keeps documents small.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::{
    transaction::Transactable, ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc,
    ScalarValue, ScalarValueRef, Value, ValueRef, ROOT,
};

use super::fields::{ScalarField, SetField};
use super::record::*;
use super::{CaseId, Edit, Timestamp, YearMonth};
use crate::error::{Error, Result};
use crate::identity::DeviceIdentity;
use crate::privacy::screen_note;
use crate::vocab::*;

/// Schema version written into every case document.
pub(crate) const SCHEMA_VERSION: u64 = 1;
/// Longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;
/// Longest partner organisation name accepted, in characters.
pub const MAX_PARTNER_CHARS: usize = 200;

const CONTAINER_MAPS: &[&str] = &["consent", "indicators", "referrals"];
const CONTAINER_LISTS: &[&str] = &["route", "notes"];
/// Root key of the optional blind index (see [`crate::dedup`]).
const BLIND_INDEX_KEY: &str = "blind_index";
/// Root key of the optional registration month (`"YYYY"` or `"YYYY-MM"`); a case
/// without it was registered the day it was typed in (`created_at`).
const REGISTERED_KEY: &str = "registered";

/// Checks changes from other devices against their authors' rights, on a staging copy
/// that already holds them: `(staged document, the case had no change before, the new
/// changes)` (see `crate::sync::rights`).
pub(crate) type RightsCheck<'a> =
    &'a (dyn Fn(&mut AutoCommit, bool, &[&automerge::Change]) -> Result<()> + Sync);

/// One case's Automerge document.
pub(crate) struct CaseDoc {
    /// Boxed: an `AutoCommit` is over 4 KiB inline, and documents are moved around in
    /// bulk (thousands at a time in a first sync) and kept in the cache.
    doc: Box<AutoCommit>,
    /// Heads of what is already stored; `unsaved_changes` returns what came after.
    /// (Automerge's own save cursor starts empty after `load`, which would re-save
    /// the whole history as "incremental".)
    saved: Vec<ChangeHash>,
    /// The author's signature on every change of the document, by change hash.
    sigs: HashMap<ChangeHash, [u8; 64]>,
    id: CaseId,
}

/// A change signature as stored and sent: `(change hash, Ed25519 signature)`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ChangeSig(
    #[serde(with = "serde_bytes")] pub(crate) [u8; 32],
    #[serde(with = "serde_bytes")] pub(crate) [u8; 64],
);

/// Why changes that reuse one device's sequence number are refused.
pub(crate) const DUPLICATE_SEQ: &str =
    "two different changes by one device carry the same sequence number (a phone \
     restored from an older copy, or a forged change); they can never both apply, so \
     this case's changes were set aside";

impl CaseDoc {
    /// Whether `changes` reuse a sequence number of an author for a different change
    /// than this document holds (see [`DUPLICATE_SEQ`]): they could never be applied.
    pub(crate) fn clashes_with(&mut self, changes: &[automerge::Change]) -> bool {
        let mut staged = self.doc.fork();
        matches!(
            staged.apply_changes(changes.iter().cloned()),
            Err(automerge::AutomergeError::DuplicateSeqNumber(..))
        )
    }

    /// A new case with all containers created, committed as one change by `actor`.
    pub(crate) fn create(id: CaseId, actor: ActorId, now: Timestamp) -> Result<CaseDoc> {
        let mut doc = AutoCommit::new().with_actor(actor);
        doc.put(ROOT, "schema", SCHEMA_VERSION)?;
        doc.put(ROOT, "id", ScalarValue::Bytes(id.0.to_vec()))?;
        doc.put(ROOT, "created_at", ScalarValue::Timestamp(now.0))?;
        for f in SetField::ALL {
            doc.put_object(ROOT, f.key(), ObjType::Map)?;
        }
        for key in CONTAINER_MAPS {
            doc.put_object(ROOT, *key, ObjType::Map)?;
        }
        for key in CONTAINER_LISTS {
            doc.put_object(ROOT, *key, ObjType::List)?;
        }
        Ok(CaseDoc {
            doc: Box::new(doc),
            saved: Vec::new(),
            sigs: HashMap::new(),
            id,
        })
    }

    /// Loads a document from authenticated bytes (a full save, optionally followed by
    /// incremental chunks) and sets the actor this device writes as.
    pub(crate) fn load(
        id: CaseId,
        bytes: &[u8],
        sigs: Vec<ChangeSig>,
        actor: ActorId,
    ) -> Result<CaseDoc> {
        let mut doc = AutoCommit::load(bytes)
            .map_err(|e| Error::Internal(format!("case document does not load: {e}")))?
            .with_actor(actor);
        let saved = doc.get_heads();
        let sigs = sigs
            .into_iter()
            .map(|ChangeSig(h, s)| (ChangeHash(h), s))
            .collect();
        let loaded = CaseDoc {
            doc: Box::new(doc),
            saved,
            sigs,
            id,
        };
        if loaded.id() != Some(id) {
            return Err(Error::Internal(format!(
                "document of case {id} names another case"
            )));
        }
        Ok(loaded)
    }

    /// An empty document for a case first seen from another device; changes follow.
    pub(crate) fn empty(id: CaseId, actor: ActorId) -> CaseDoc {
        CaseDoc {
            doc: Box::new(AutoCommit::new().with_actor(actor)),
            saved: Vec::new(),
            sigs: HashMap::new(),
            id,
        }
    }

    /// Adopts a document loaded from another device whose changes (with their
    /// signatures) were verified by the caller.
    pub(crate) fn adopt(
        id: CaseId,
        mut doc: Box<AutoCommit>,
        changes: &[(automerge::Change, [u8; 64])],
        actor: ActorId,
        check: RightsCheck<'_>,
    ) -> Result<CaseDoc> {
        let refs: Vec<&automerge::Change> = changes.iter().map(|(c, _)| c).collect();
        check(&mut doc, true, &refs)?;
        let sigs = changes.iter().map(|(c, s)| (c.hash(), *s)).collect();
        doc.set_actor(actor);
        let adopted = CaseDoc {
            doc,
            saved: Vec::new(),
            sigs,
            id,
        };
        if adopted.id() != Some(id) {
            return Err(Error::rejected(format!(
                "the document sent for case {id} is another case's"
            )));
        }
        Ok(adopted)
    }

    /// Current heads.
    pub(crate) fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The next chunk to store for this document, with its changes' signatures: the
    /// changes not yet stored (see [`CaseDoc::unsaved_changes`]; for a document never
    /// stored, that is the whole document), or, for `full` on a document stored
    /// before (an old case with many chunks), the whole document compacted.
    pub(crate) fn chunk_to_store(&mut self, full: bool) -> (Vec<u8>, Vec<ChangeSig>) {
        if full && !self.saved.is_empty() {
            // Every change of the document has its signature in `sigs` (kept so by
            // load, commit and apply_verified), so no need to walk the changes.
            let mut all: Vec<ChangeSig> =
                self.sigs.iter().map(|(h, s)| ChangeSig(h.0, *s)).collect();
            all.sort_by_key(|c| c.0);
            return (self.save(), all);
        }
        self.unsaved_changes()
    }

    /// The changes after `heads` (all of them for `&[]`), with their signatures.
    pub(crate) fn changes_since(
        &mut self,
        heads: &[ChangeHash],
    ) -> Vec<(automerge::Change, [u8; 64])> {
        let changes: Vec<automerge::Change> = self.doc.get_changes(heads);
        changes
            .into_iter()
            .filter_map(|c| self.sigs.get(&c.hash()).copied().map(|s| (c, s)))
            .collect()
    }

    /// Whether the document knows the change `hash`, checking its heads first (cheap)
    /// before its history.
    pub(crate) fn knows_head(&mut self, hash: &ChangeHash) -> bool {
        self.doc.get_heads().contains(hash) || self.has_change(hash)
    }

    /// Whether the document knows the change `hash`.
    pub(crate) fn has_change(&mut self, hash: &ChangeHash) -> bool {
        self.doc.get_change_by_hash(hash).is_some()
    }

    /// Applies verified changes from another device. The caller has checked each
    /// signature; this checks dependencies and the document's identity, and leaves
    /// the document unchanged (returning the missing dependencies) if any is missing.
    pub(crate) fn apply_verified(
        &mut self,
        changes: &[(automerge::Change, [u8; 64])],
        check: RightsCheck<'_>,
    ) -> Result<std::result::Result<usize, Vec<ChangeHash>>> {
        // A new document knows no change: skip the (costly) lookups.
        let empty = self.doc.get_heads().is_empty();
        let mut new: Vec<(&automerge::Change, [u8; 64])> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (c, sig) in changes {
            // The same change may come twice (parked earlier, and sent again).
            if seen.insert(c.hash()) && (empty || self.doc.get_change_by_hash(&c.hash()).is_none())
            {
                new.push((c, *sig));
            }
        }
        if new.is_empty() {
            return Ok(Ok(0));
        }
        // Apply to a staging copy; it replaces the document only if all is well.
        // (A new document's staging copy is just a new document.)
        let mut staged = if empty {
            AutoCommit::new()
        } else {
            self.doc.fork()
        };
        staged
            .apply_changes(new.iter().map(|(c, _)| (*c).clone()))
            .map_err(|e| match e {
                // Two different changes by one device with one sequence number (its
                // phone restored from an older copy, or a forgery by its holder): they
                // can never both apply; the case's changes are refused, typed.
                automerge::AutomergeError::DuplicateSeqNumber(..) => Error::Rejected {
                    reason: DUPLICATE_SEQ.into(),
                },
                e => Error::Internal(format!("changes do not apply: {e}")),
            })?;
        let missing = staged.get_missing_deps(&[]);
        if !missing.is_empty() {
            return Ok(Err(missing));
        }
        let refs: Vec<&automerge::Change> = new.iter().map(|(c, _)| *c).collect();
        check(&mut staged, empty, &refs)?;
        let actor = self.doc.get_actor().clone();
        let check = CaseDoc {
            doc: Box::new(staged.with_actor(actor)),
            saved: Vec::new(),
            sigs: HashMap::new(),
            id: self.id,
        };
        if check.id() != Some(self.id) {
            return Err(Error::invalid(
                "changes",
                format!("changes for case {} rewrite its identity", self.id),
            ));
        }
        self.doc = check.doc;
        let applied = new.len();
        for (c, sig) in new {
            self.sigs.insert(c.hash(), sig);
        }
        Ok(Ok(applied))
    }

    /// The Automerge actor that created the case (wrote its `id`).
    pub(crate) fn creator_actor(&self) -> Option<Vec<u8>> {
        match self.doc.get(ROOT, "id").ok().flatten() {
            Some((_, ObjId::Id(_, actor, _))) => Some(actor.to_bytes().to_vec()),
            _ => None,
        }
    }

    /// The case identifier recorded inside the document.
    pub(crate) fn id(&self) -> Option<CaseId> {
        match self.doc.get(ROOT, "id").ok().flatten() {
            Some((Value::Scalar(v), _)) => match v.as_ref() {
                ScalarValue::Bytes(b) => b.as_slice().try_into().ok().map(CaseId),
                _ => None,
            },
            _ => None,
        }
    }

    /// The changes not yet stored, as their change chunks one after the other, with
    /// their signatures in the same order; afterwards they count as stored. Chunks
    /// are kept uncompressed: a block of records compresses far better that way, and a
    /// sync can send them as they are (see `store::chunks`). The bytes are a valid
    /// Automerge document on their own and after earlier chunks.
    pub(crate) fn unsaved_changes(&mut self) -> (Vec<u8>, Vec<ChangeSig>) {
        let changes = self.doc.get_changes(&self.saved);
        let chunk = stored_chunk(changes.iter().map(|c| (c, self.sigs.get(&c.hash()))));
        self.saved = self.doc.get_heads();
        chunk
    }

    /// Records that the document as it is now has been stored (by the caller, e.g. as
    /// the raw changes it was built from).
    pub(crate) fn mark_saved(&mut self) {
        self.saved = self.doc.get_heads();
    }

    /// The whole document, compacted.
    pub(crate) fn save(&mut self) -> Vec<u8> {
        let bytes = self.doc.save();
        self.saved = self.doc.get_heads();
        bytes
    }

    /// Validates `edits`, then applies them all as one change, or none on error.
    pub(crate) fn apply(
        &mut self,
        edits: &[Edit],
        now: Timestamp,
        signer: &DeviceIdentity,
    ) -> Result<()> {
        let checked = edits.iter().map(check_edit).collect::<Result<Vec<_>>>()?;
        // Referral status changes must name an existing referral.
        for edit in &checked {
            if let Checked::ReferralStatus { referral, .. } = edit {
                let referrals = self.obj(&ROOT, "referrals")?;
                if self.obj(&referrals, referral).is_err() {
                    return Err(Error::invalid(
                        "referral",
                        format!("no referral {referral:?} on this case"),
                    ));
                }
            }
        }
        let result = checked
            .into_iter()
            .try_for_each(|e| self.apply_checked(e, now));
        match result {
            Ok(()) => {
                if let Some(hash) = self.doc.commit() {
                    self.sigs
                        .insert(hash, signer.sign_change(&self.id, &hash.0));
                }
                Ok(())
            }
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }

    /// A change no honest app makes: puts `value` at the root key `key`, commits and
    /// signs it (for tests of what receiving devices refuse).
    #[cfg(test)]
    pub(crate) fn forge_root_put(
        &mut self,
        key: &str,
        value: ScalarValue,
        signer: &DeviceIdentity,
    ) -> Result<()> {
        self.doc.put(ROOT, key, value)?;
        if let Some(hash) = self.doc.commit() {
            self.sigs
                .insert(hash, signer.sign_change(&self.id, &hash.0));
        }
        Ok(())
    }

    fn apply_checked(&mut self, edit: Checked, now: Timestamp) -> Result<()> {
        let doc: &mut AutoCommit = &mut self.doc;
        match edit {
            Checked::Set {
                field,
                code: Some(code),
            } => doc.put(ROOT, field.key(), code)?,
            Checked::Set { field, code: None } => doc.delete(ROOT, field.key())?,
            Checked::Add { field, code } => {
                let set = obj_of(doc, &ROOT, field.key())?;
                doc.put(&set, code, true)?;
            }
            Checked::Remove { field, code } => {
                let set = obj_of(doc, &ROOT, field.key())?;
                if doc.get(&set, code.as_str())?.is_some() {
                    doc.delete(&set, code)?;
                }
            }
            Checked::Consent { share, stats } => {
                let consent = obj_of(doc, &ROOT, "consent")?;
                if let Some(v) = share {
                    doc.put(&consent, "share_with_partners", v)?;
                }
                if let Some(v) = stats {
                    doc.put(&consent, "include_in_statistics", v)?;
                }
            }
            Checked::Answer { indicator, answer } => {
                let answers = obj_of(doc, &ROOT, "indicators")?;
                doc.put(&answers, indicator, answer)?;
            }
            Checked::Route {
                kind,
                country,
                when,
            } => {
                let route = obj_of(doc, &ROOT, "route")?;
                let at = doc.length(&route);
                let ev = doc.insert_object(&route, at, ObjType::Map)?;
                doc.put(&ev, "kind", kind)?;
                doc.put(&ev, "country", country)?;
                if let Some(w) = when {
                    doc.put(&ev, "year", u64::from(w.year))?;
                    if let Some(m) = w.month {
                        doc.put(&ev, "month", u64::from(m))?;
                    }
                }
            }
            Checked::Note { text } => {
                let notes = obj_of(doc, &ROOT, "notes")?;
                let at = doc.length(&notes);
                let note = doc.insert_object(&notes, at, ObjType::Map)?;
                doc.put(&note, "id", short_id()?)?;
                doc.put(&note, "at", ScalarValue::Timestamp(now.0))?;
                doc.put(&note, "text", text)?;
            }
            Checked::Referral {
                service,
                partner,
                organisation_type,
                reason,
            } => {
                let referrals = obj_of(doc, &ROOT, "referrals")?;
                let r = doc.put_object(&referrals, short_id()?, ObjType::Map)?;
                doc.put(&r, "service", service)?;
                doc.put(&r, "partner", partner)?;
                if let Some(t) = organisation_type {
                    doc.put(&r, "organisation_type", t)?;
                }
                if let Some(reason) = reason {
                    doc.put(&r, "reason", reason)?;
                }
                let history = doc.put_object(&r, "history", ObjType::List)?;
                push_status(doc, &history, "Requested".into(), now)?;
            }
            Checked::ReferralStatus { referral, status } => {
                let referrals = obj_of(doc, &ROOT, "referrals")?;
                let r = obj_of(doc, &referrals, &referral)?;
                let history = obj_of(doc, &r, "history")?;
                push_status(doc, &history, status, now)?;
            }
            Checked::Registration { when: Some(w) } => doc.put(ROOT, REGISTERED_KEY, w)?,
            Checked::Registration { when: None } => {
                if doc.get(ROOT, REGISTERED_KEY)?.is_some() {
                    doc.delete(ROOT, REGISTERED_KEY)?;
                }
            }
            Checked::BlindIndex { bytes: Some(b) } => {
                doc.put(ROOT, BLIND_INDEX_KEY, ScalarValue::Bytes(b))?;
            }
            Checked::BlindIndex { bytes: None } => {
                if doc.get(ROOT, BLIND_INDEX_KEY)?.is_some() {
                    doc.delete(ROOT, BLIND_INDEX_KEY)?;
                }
            }
        }
        Ok(())
    }

    /// The case's blind index, if one was set (the winning value if devices set it
    /// concurrently). An index that does not decode (e.g. from a newer scheme version)
    /// is an error, so the caller can tell it from "none".
    pub(crate) fn blind_index(&self) -> Result<Option<crate::dedup::BlindIndex>> {
        match self.doc.get(ROOT, BLIND_INDEX_KEY)? {
            Some((Value::Scalar(v), _)) => match v.as_ref() {
                ScalarValue::Bytes(b) => crate::dedup::BlindIndex::from_cbor(b).map(Some),
                _ => Err(Error::invalid("blind index", "not stored as bytes")),
            },
            _ => Ok(None),
        }
    }

    fn obj(&self, parent: &ObjId, key: &str) -> Result<ObjId> {
        obj_of(&*self.doc, parent, key)
    }

    /// Reads the whole record, including unresolved conflicts.
    pub(crate) fn record(&self) -> Result<CaseRecord> {
        Ok(self.record_and_blind_index()?.0)
    }

    /// Reads the whole record and the blind index (see [`CaseDoc::blind_index`]; `None`
    /// if there is none or it does not parse) in one pass over the document.
    pub(crate) fn record_and_blind_index(
        &self,
    ) -> Result<(CaseRecord, Option<crate::dedup::BlindIndex>)> {
        // The whole document is read in one pass (`DocView`) rather than key by key or
        // object by object: with Automerge 0.12 every `get` is a seek and every
        // `map_range` a costly setup, and this runs for every case a sync brings in.
        // Conflicting values are looked up only where a key has them.
        let d: &AutoCommit = &self.doc;
        let view = DocView::read(d);
        let root = view.map(&ROOT);
        let id = root
            .get("id")
            .and_then(Field::bytes)
            .and_then(|b| b.try_into().ok().map(CaseId))
            .ok_or_else(|| Error::Internal("case document has no id".into()))?;
        let blind_index = root
            .get(BLIND_INDEX_KEY)
            .and_then(Field::bytes)
            .and_then(|b| crate::dedup::BlindIndex::from_cbor(b).ok());
        let created_at = Timestamp(root.i64("created_at").unwrap_or(0));
        // A value this version cannot read (none is written) counts as absent.
        let registration = root
            .str(REGISTERED_KEY)
            .and_then(|s| YearMonth::parse(s).ok());
        let scalar = |f: ScalarField| root.str(f.key());
        let mut conflicts = Vec::new();
        if root.conflicted(REGISTERED_KEY) {
            collect_conflict(d, &ROOT, REGISTERED_KEY, REGISTERED_KEY, &mut conflicts);
        }
        for f in ScalarField::ALL {
            if root.conflicted(f.key()) {
                collect_conflict(d, &ROOT, f.key(), f.key(), &mut conflicts);
            }
        }
        let consent_obj = root.obj("consent")?;
        let consent = view.map(&consent_obj);
        for key in ["share_with_partners", "include_in_statistics"] {
            if consent.conflicted(key) {
                collect_conflict(
                    d,
                    &consent_obj,
                    key,
                    &format!("consent.{key}"),
                    &mut conflicts,
                );
            }
        }
        let indicators_obj = root.obj("indicators")?;
        let mut indicators = BTreeMap::new();
        for (code, field) in view.map(&indicators_obj).0 {
            if let Some(answer) = field.str() {
                if field.conflict {
                    collect_conflict(
                        d,
                        &indicators_obj,
                        code,
                        &format!("indicators.{code}"),
                        &mut conflicts,
                    );
                }
                indicators.insert(Indicator::from_code(code), Answer::from_code(answer));
            }
        }
        let set = |field: SetField| -> Result<Vec<String>> {
            let obj = root.obj(field.key())?;
            Ok(view
                .map(&obj)
                .0
                .iter()
                .filter(|(_, f)| matches!(f.scalar(), Some(ScalarValueRef::Boolean(true))))
                .map(|(k, _)| k.to_string())
                .collect())
        };
        fn vocab<V: Vocabulary>(codes: Vec<String>) -> BTreeSet<V> {
            codes.iter().map(|c| V::from_code(c)).collect()
        }
        let record = CaseRecord {
            id,
            created_at,
            registration,
            case_status: scalar(ScalarField::CaseStatus).map(CaseStatus::from_code),
            trafficking_status: scalar(ScalarField::TraffickingStatus)
                .map(TraffickingStatus::from_code),
            decided_by: scalar(ScalarField::DecidedBy).map(DecisionOrganisation::from_code),
            gender: scalar(ScalarField::Gender).map(Gender::from_code),
            age_band: scalar(ScalarField::AgeBand).map(AgeBand::from_code),
            majority_at_registration: scalar(ScalarField::MajorityAtRegistration)
                .map(MajorityStatus::from_code),
            majority_at_exploitation: scalar(ScalarField::MajorityAtExploitation)
                .map(MajorityStatus::from_code),
            majority_at_entry: scalar(ScalarField::MajorityAtEntry).map(MajorityStatus::from_code),
            relationship_to_trafficker: scalar(ScalarField::RelationshipToTrafficker)
                .map(RelationshipToTrafficker::from_code),
            citizenship: set(SetField::Citizenship)?
                .iter()
                .map(|c| Country::from_code(c))
                .collect(),
            exploitation: vocab(set(SetField::Exploitation)?),
            labour_industry: vocab(set(SetField::LabourIndustry)?),
            sexual_exploitation: vocab(set(SetField::SexualExploitation)?),
            means_of_control: vocab(set(SetField::MeansOfControl)?),
            recruitment_method: vocab(set(SetField::RecruitmentMethod)?),
            recruitment_app: vocab(set(SetField::RecruitmentApp)?),
            recruiter_relation: vocab(set(SetField::RecruiterRelation)?),
            route: route(&view, &root)?,
            consent: Consent {
                share_with_partners: consent.bool("share_with_partners"),
                include_in_statistics: consent.bool("include_in_statistics"),
            },
            screening: Screening {
                indicators,
                vulnerabilities: vocab(set(SetField::Vulnerability)?),
            },
            referrals: referrals(&view, &root)?,
            notes: notes(&view, &root)?,
            conflicts,
        };
        Ok((record, blind_index))
    }
}

/// Change chunks one after another, as a case's record stores them (see
/// [`CaseDoc::unsaved_changes`]), with the signatures of those that have one, in the
/// same order.
pub(crate) fn stored_chunk<'c>(
    changes: impl Iterator<Item = (&'c automerge::Change, Option<&'c [u8; 64]>)> + Clone,
) -> (Vec<u8>, Vec<ChangeSig>) {
    let mut bytes = Vec::with_capacity(changes.clone().map(|(c, _)| c.raw_bytes().len()).sum());
    let mut sigs = Vec::new();
    for (c, sig) in changes {
        bytes.extend_from_slice(c.raw_bytes());
        if let Some(sig) = sig {
            sigs.push(ChangeSig(c.hash().0, *sig));
        }
    }
    (bytes, sigs)
}

fn route(view: &DocView<'_>, root: &Fields<'_, '_>) -> Result<Vec<RouteEvent>> {
    Ok(view
        .list_objects(&root.obj("route")?)
        .filter_map(|ev| {
            let ev = view.map(ev);
            let year = ev.i64("year").and_then(|y| u16::try_from(y).ok());
            let month = ev.i64("month").and_then(|m| u8::try_from(m).ok());
            Some(RouteEvent {
                kind: RouteEventKind::from_code(ev.str("kind")?),
                country: Country::from_code(ev.str("country")?),
                when: year.map(|year| YearMonth { year, month }),
            })
        })
        .collect())
}

fn notes(view: &DocView<'_>, root: &Fields<'_, '_>) -> Result<Vec<Note>> {
    let mut notes: Vec<Note> = view
        .list_objects(&root.obj("notes")?)
        .filter_map(|n| {
            let n = view.map(n);
            Some(Note {
                id: n.str("id")?.to_string(),
                at: Timestamp(n.i64("at")?),
                text: n.str("text")?.to_string(),
            })
        })
        .collect();
    notes.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    Ok(notes)
}

fn referrals(view: &DocView<'_>, root: &Fields<'_, '_>) -> Result<Vec<Referral>> {
    let mut out = Vec::new();
    for (id, field) in view.map(&root.obj("referrals")?).0 {
        let Some(obj) = &field.id else {
            continue;
        };
        let r = view.map(obj);
        let mut history: Vec<ReferralEvent> = match r.obj("history") {
            Ok(h) => view
                .list_objects(&h)
                .filter_map(|e| {
                    let e = view.map(e);
                    Some(ReferralEvent {
                        at: Timestamp(e.i64("at")?),
                        status: ReferralStatus::from_code(e.str("status")?),
                    })
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        history.sort();
        out.push(Referral {
            service: ServiceType::from_code(r.str("service").unwrap_or_default()),
            partner: r.str("partner").unwrap_or_default().to_string(),
            organisation_type: r.str("organisation_type").map(OrganisationType::from_code),
            reason: r.str("reason").map(ReferralReason::from_code),
            history,
            id: id.to_string(),
        });
    }
    out.sort_by(|a, b| {
        (a.history.first().map(|e| e.at), &a.id).cmp(&(b.history.first().map(|e| e.at), &b.id))
    });
    Ok(out)
}

/// One key of a map (or element of a list), as read in a single pass over the
/// document: its winning value, borrowed from the document, and, for an object, its id.
struct Field<'a> {
    value: ValueRef<'a>,
    /// The object's id (`None` for a scalar, whose id nothing reads).
    id: Option<ObjId>,
    conflict: bool,
}

impl Field<'_> {
    fn scalar(&self) -> Option<&ScalarValueRef<'_>> {
        match &self.value {
            ValueRef::Scalar(v) => Some(v),
            ValueRef::Object(_) => None,
        }
    }

    fn str(&self) -> Option<&str> {
        match self.scalar()? {
            ScalarValueRef::Str(s) => Some(s),
            _ => None,
        }
    }

    fn bytes(&self) -> Option<&[u8]> {
        match self.scalar()? {
            ScalarValueRef::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Every object of a document with its keys (maps) or elements (lists) and their
/// winning values, read in one pass over the document (`ReadDoc::iter`, about twice as
/// fast as reading it object by object). Keys and values are borrowed from the
/// document, and an object's items, which the pass yields one after the other, are
/// gathered without a map lookup per item.
struct DocView<'a> {
    maps: HashMap<ObjId, Vec<(Cow<'a, str>, Field<'a>)>>,
    lists: HashMap<ObjId, Vec<Field<'a>>>,
}

impl<'a> DocView<'a> {
    fn read<D: ReadDoc>(doc: &'a D) -> DocView<'a> {
        let mut view = DocView {
            maps: HashMap::new(),
            lists: HashMap::new(),
        };
        // The object being read, and its items so far.
        let mut current: Option<std::sync::Arc<ObjId>> = None;
        let mut map: Vec<(Cow<'a, str>, Field<'a>)> = Vec::new();
        let mut list: Vec<Field<'a>> = Vec::new();
        for item in doc.iter() {
            if !current
                .as_ref()
                .is_some_and(|c| std::sync::Arc::ptr_eq(c, &item.obj) || **c == *item.obj)
            {
                view.gather(current.take(), &mut map, &mut list);
                current = Some(item.obj.clone());
            }
            match item.item {
                automerge::iter::DocItem::Map(m) => {
                    let id = matches!(m.value, ValueRef::Object(_)).then(|| m.id());
                    let field = Field {
                        value: m.value,
                        id,
                        conflict: m.conflict,
                    };
                    map.push((m.key, field));
                }
                automerge::iter::DocItem::List(l) => {
                    let id = matches!(l.value, ValueRef::Object(_)).then(|| l.id());
                    list.push(Field {
                        value: l.value,
                        id,
                        conflict: l.conflict,
                    });
                }
                automerge::iter::DocItem::Text(_) => {}
            }
        }
        view.gather(current, &mut map, &mut list);
        view
    }

    /// Files the items read of object `obj` under it (emptying `map` and `list`).
    fn gather(
        &mut self,
        obj: Option<std::sync::Arc<ObjId>>,
        map: &mut Vec<(Cow<'a, str>, Field<'a>)>,
        list: &mut Vec<Field<'a>>,
    ) {
        let Some(obj) = obj else {
            return;
        };
        if !map.is_empty() {
            self.maps.entry((*obj).clone()).or_default().append(map);
        }
        if !list.is_empty() {
            self.lists.entry((*obj).clone()).or_default().append(list);
        }
    }

    /// The keys of map `obj` (none if it is not a map of the document).
    fn map(&self, obj: &ObjId) -> Fields<'_, 'a> {
        Fields(self.maps.get(obj).map_or(&[], Vec::as_slice))
    }

    /// The objects in list `obj`, in list order.
    fn list_objects(&self, obj: &ObjId) -> impl Iterator<Item = &ObjId> {
        self.lists
            .get(obj)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|f| f.id.as_ref())
    }
}

/// All keys of one map with their winning values, in key order.
struct Fields<'v, 'a>(&'v [(Cow<'a, str>, Field<'a>)]);

impl<'v, 'a> Fields<'v, 'a> {
    fn get(&self, key: &str) -> Option<&'v Field<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, f)| f)
    }

    fn str(&self, key: &str) -> Option<&'v str> {
        self.get(key).and_then(Field::str)
    }

    fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)?.scalar()? {
            ScalarValueRef::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    fn i64(&self, key: &str) -> Option<i64> {
        match self.get(key)?.scalar()? {
            ScalarValueRef::Int(i) | ScalarValueRef::Timestamp(i) => Some(*i),
            ScalarValueRef::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }

    fn conflicted(&self, key: &str) -> bool {
        self.get(key).is_some_and(|f| f.conflict)
    }

    fn obj(&self, key: &str) -> Result<ObjId> {
        match self.get(key).and_then(|f| f.id.as_ref()) {
            Some(id) => Ok(id.clone()),
            None => Err(Error::Internal(format!(
                "case document lacks container {key:?}"
            ))),
        }
    }
}

fn push_status(
    doc: &mut AutoCommit,
    history: &ObjId,
    status: String,
    now: Timestamp,
) -> Result<()> {
    let at = doc.length(history);
    let ev = doc.insert_object(history, at, ObjType::Map)?;
    doc.put(&ev, "status", status)?;
    doc.put(&ev, "at", ScalarValue::Timestamp(now.0))?;
    Ok(())
}

fn short_id() -> Result<String> {
    Ok(crate::codec::hex_encode(
        &crate::crypto::random_array::<8>()?
    ))
}

fn obj_of<D: ReadDoc>(doc: &D, parent: &ObjId, key: &str) -> Result<ObjId> {
    match doc.get(parent, key)? {
        Some((Value::Object(_), id)) => Ok(id),
        _ => Err(Error::Internal(format!(
            "case document lacks container {key:?}"
        ))),
    }
}

fn scalar_to_string(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Str(s) => s.to_string(),
        ScalarValue::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Records a conflict if concurrent writes left several values under `key`.
fn collect_conflict<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &str,
    name: &str,
    out: &mut Vec<Conflict>,
) {
    let Ok(all) = doc.get_all(obj, key) else {
        return;
    };
    if all.len() < 2 {
        return;
    }
    let Ok(Some((Value::Scalar(winner), winner_id))) = doc.get(obj, key) else {
        return;
    };
    let others = all
        .iter()
        .filter(|(_, id)| *id != winner_id)
        .filter_map(|(v, _)| match v {
            Value::Scalar(s) => Some(scalar_to_string(s)),
            Value::Object(_) => None,
        })
        .collect();
    out.push(Conflict {
        field: name.to_string(),
        current: scalar_to_string(&winner),
        others,
    });
}

/// An edit whose codes were validated and normalised.
enum Checked {
    Set {
        field: ScalarField,
        code: Option<String>,
    },
    Add {
        field: SetField,
        code: String,
    },
    Remove {
        field: SetField,
        code: String,
    },
    Consent {
        share: Option<bool>,
        stats: Option<bool>,
    },
    Answer {
        indicator: String,
        answer: String,
    },
    Route {
        kind: String,
        country: String,
        when: Option<YearMonth>,
    },
    Note {
        text: String,
    },
    Referral {
        service: String,
        partner: String,
        organisation_type: Option<String>,
        reason: Option<String>,
    },
    ReferralStatus {
        referral: String,
        status: String,
    },
    /// The registration as stored (`YYYY` or `YYYY-MM`), or `None` to remove it.
    Registration {
        when: Option<String>,
    },
    /// The checked CBOR encoding of a blind index, or `None` to remove it.
    BlindIndex {
        bytes: Option<Vec<u8>>,
    },
}

/// Checks a batch of edits the way `CaseDoc::apply` does before applying it
/// (vocabulary codes, note screening, lengths, dates), without a document: the error
/// of the first bad edit. (Referral status changes, which need the case, pass.)
pub fn validate_edits(edits: &[Edit]) -> Result<()> {
    edits.iter().try_for_each(|e| check_edit(e).map(|_| ()))
}

fn known<V: Vocabulary>(code: &str) -> Result<String> {
    Ok(V::parse_known(code.trim())?.code().to_string())
}

fn check_edit(edit: &Edit) -> Result<Checked> {
    Ok(match edit {
        Edit::Set { field, code } => Checked::Set {
            field: *field,
            code: code.as_deref().map(|c| field.check_code(c)).transpose()?,
        },
        Edit::Add { field, code } => Checked::Add {
            field: *field,
            code: field.check_code(code)?,
        },
        Edit::Remove { field, code } => Checked::Remove {
            field: *field,
            // Removing an unknown (newer-version) code is allowed: it may be there.
            code: field
                .check_code(code)
                .unwrap_or_else(|_| code.trim().to_string()),
        },
        Edit::Consent {
            share_with_partners,
            include_in_statistics,
        } => Checked::Consent {
            share: *share_with_partners,
            stats: *include_in_statistics,
        },
        Edit::Answer { indicator, answer } => Checked::Answer {
            indicator: known::<Indicator>(indicator)?,
            answer: known::<Answer>(answer)?,
        },
        Edit::AddRouteEvent {
            kind,
            country,
            when,
        } => {
            if let Some(w) = when {
                YearMonth::new(w.year, w.month)?;
            }
            Checked::Route {
                kind: known::<RouteEventKind>(kind)?,
                country: Country::parse(country)?.code().to_string(),
                when: *when,
            }
        }
        Edit::AddNote { text } => {
            let text = text.trim();
            if text.is_empty() {
                return Err(Error::invalid("note", "the note is empty"));
            }
            if text.chars().count() > MAX_NOTE_CHARS {
                return Err(Error::invalid(
                    "note",
                    format!("notes are at most {MAX_NOTE_CHARS} characters"),
                ));
            }
            screen_note(text)?;
            Checked::Note {
                text: text.to_string(),
            }
        }
        Edit::AddReferral {
            service,
            partner,
            organisation_type,
            reason,
        } => {
            let partner = partner.trim();
            if partner.is_empty() || partner.chars().count() > MAX_PARTNER_CHARS {
                return Err(Error::invalid(
                    "partner",
                    format!("give the partner organisation's name (1 to {MAX_PARTNER_CHARS} characters)"),
                ));
            }
            crate::privacy::screen_name(partner, "partner name")?;
            Checked::Referral {
                service: known::<ServiceType>(service)?,
                partner: partner.to_string(),
                organisation_type: organisation_type
                    .as_deref()
                    .map(known::<OrganisationType>)
                    .transpose()?,
                reason: reason.as_deref().map(known::<ReferralReason>).transpose()?,
            }
        }
        Edit::SetReferralStatus { referral, status } => Checked::ReferralStatus {
            referral: referral.trim().to_string(),
            status: known::<ReferralStatus>(status)?,
        },
        Edit::SetRegistration { when } => Checked::Registration {
            when: match when {
                Some(w) => {
                    let w = YearMonth::new(w.year, w.month)?;
                    let (y, m, _) = Timestamp::now().ymd();
                    if (i32::from(w.year), u32::from(w.month.unwrap_or(1))) > (y, m) {
                        return Err(Error::invalid(
                            "registration",
                            format!("{w} is in the future"),
                        ));
                    }
                    Some(w.to_string())
                }
                None => None,
            },
        },
        Edit::SetBlindIndex { index } => Checked::BlindIndex {
            bytes: match index {
                Some(index) => {
                    let bytes = index.to_cbor()?;
                    // The same checks as on the way back in (version, token count).
                    crate::dedup::BlindIndex::from_cbor(&bytes)?;
                    Some(bytes)
                }
                None => None,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    static SIGNER: std::sync::LazyLock<DeviceIdentity> =
        std::sync::LazyLock::new(|| DeviceIdentity::generate().expect("identity"));

    fn actor(n: u8) -> ActorId {
        ActorId::from([n; 16])
    }

    /// Two devices holding the same case: `b` is a copy of `a` under another actor.
    fn two_devices() -> (CaseDoc, CaseDoc) {
        let id = CaseId([7; 16]);
        let mut a = CaseDoc::create(id, actor(1), Timestamp(1_000)).expect("create");
        a.apply(
            &[Edit::set(ScalarField::CaseStatus, "Active")],
            Timestamp(1_000),
            &SIGNER,
        )
        .expect("apply");
        let bytes = a.save();
        let b = CaseDoc::load(id, &bytes, Vec::new(), actor(2)).expect("load");
        (a, b)
    }

    fn merged(x: &mut CaseDoc, y: &mut CaseDoc) -> CaseRecord {
        let mut m = CaseDoc {
            doc: Box::new(x.doc.fork()),
            saved: Vec::new(),
            sigs: HashMap::new(),
            id: x.id,
        };
        m.doc.merge(&mut y.doc).expect("merge");
        m.record().expect("record")
    }

    #[test]
    fn concurrent_edits_of_different_fields_both_survive() {
        let (mut a, mut b) = two_devices();
        a.apply(
            &[Edit::set(ScalarField::Gender, "Feminine")],
            Timestamp(2_000),
            &SIGNER,
        )
        .expect("a");
        b.apply(
            &[Edit::set(ScalarField::AgeBand, "18-20")],
            Timestamp(2_000),
            &SIGNER,
        )
        .expect("b");
        let r = merged(&mut a, &mut b);
        assert_eq!(r.gender, Some(Gender::Feminine));
        assert_eq!(r.age_band, Some(AgeBand::Age18To20));
        assert!(r.conflicts.is_empty());
    }

    #[test]
    fn concurrent_set_additions_both_survive_and_removal_is_add_wins() {
        let (mut a, mut b) = two_devices();
        a.apply(
            &[Edit::add(SetField::MeansOfControl, "DebtBondage")],
            Timestamp(2_000),
            &SIGNER,
        )
        .expect("a");
        b.apply(
            &[Edit::add(SetField::MeansOfControl, "WithholdsDocuments")],
            Timestamp(2_000),
            &SIGNER,
        )
        .expect("b");
        a.apply(&[Edit::note("first note")], Timestamp(2_100), &SIGNER)
            .expect("a note");
        b.apply(&[Edit::note("second note")], Timestamp(2_200), &SIGNER)
            .expect("b note");
        let r = merged(&mut a, &mut b);
        let means: Vec<_> = r.means_of_control.iter().cloned().collect();
        assert_eq!(
            means,
            vec![
                MeansOfControl::DebtBondage,
                MeansOfControl::WithholdsDocuments
            ]
        );
        assert_eq!(
            r.notes.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
            ["first note", "second note"]
        );

        // Concurrent removal of one code and addition of another: both apply.
        // (Re-adding a code that is already present is a no-op in Automerge, so a
        // concurrent removal of that same code wins; see docs/case-model.md.)
        let mut a2 =
            CaseDoc::load(a.id, &merged_bytes(&mut a, &mut b), Vec::new(), actor(1)).expect("a2");
        let mut b2 = CaseDoc::load(a2.id, &a2.save(), Vec::new(), actor(2)).expect("b2");
        a2.apply(
            &[Edit::Remove {
                field: SetField::MeansOfControl,
                code: "DebtBondage".into(),
            }],
            Timestamp(3_000),
            &SIGNER,
        )
        .expect("remove");
        b2.apply(
            &[Edit::add(SetField::MeansOfControl, "PhysicalThreats")],
            Timestamp(3_000),
            &SIGNER,
        )
        .expect("add");
        let r = merged(&mut a2, &mut b2);
        let means: Vec<_> = r.means_of_control.iter().cloned().collect();
        assert_eq!(
            means,
            vec![
                MeansOfControl::PhysicalThreats,
                MeansOfControl::WithholdsDocuments
            ]
        );
    }

    fn merged_bytes(x: &mut CaseDoc, y: &mut CaseDoc) -> Vec<u8> {
        let mut m = x.doc.fork();
        m.merge(&mut y.doc).expect("merge");
        m.save()
    }

    #[test]
    fn same_field_conflicts_are_deterministic_exposed_and_resolvable() {
        let (mut a, mut b) = two_devices();
        a.apply(
            &[Edit::set(ScalarField::TraffickingStatus, "Possible")],
            Timestamp(2_000),
            &SIGNER,
        )
        .expect("a");
        b.apply(
            &[Edit::set(ScalarField::TraffickingStatus, "Actual")],
            Timestamp(2_000),
            &SIGNER,
        )
        .expect("b");
        let ab = merged(&mut a, &mut b);
        let ba = merged(&mut b, &mut a);
        assert_eq!(
            ab.trafficking_status, ba.trafficking_status,
            "same winner in any merge order"
        );
        assert_eq!(ab.conflicts, ba.conflicts);
        let c = &ab.conflicts[0];
        assert_eq!(c.field, "trafficking_status");
        let mut values = vec![c.current.clone(), c.others[0].clone()];
        values.sort();
        assert_eq!(values, ["Actual", "Possible"]);

        // A coordinator resolves it by setting the field on the merged document.
        let mut m = CaseDoc {
            doc: Box::new(a.doc.fork()),
            saved: Vec::new(),
            sigs: HashMap::new(),
            id: a.id,
        };
        m.doc.merge(&mut b.doc).expect("merge");
        m.apply(
            &[Edit::set(ScalarField::TraffickingStatus, "Actual")],
            Timestamp(3_000),
            &SIGNER,
        )
        .expect("resolve");
        let r = m.record().expect("record");
        assert!(r.conflicts.is_empty());
        assert_eq!(r.trafficking_status, Some(TraffickingStatus::Actual));
    }

    #[test]
    fn unknown_codes_from_newer_versions_survive_edits_and_reloads() {
        let (mut a, _) = two_devices();
        // A newer version wrote codes this build does not know.
        let set = obj_of(&*a.doc, &ROOT, "means_of_control").expect("set");
        a.doc.put(&set, "AlgorithmicWageTheft", true).expect("put");
        a.doc.put(ROOT, "gender", "FutureGenderCode").expect("put");
        a.doc.put(ROOT, "future_field", "kept").expect("put");
        a.doc.commit();
        a.apply(
            &[Edit::add(SetField::MeansOfControl, "DebtBondage")],
            Timestamp(2_000),
            &SIGNER,
        )
        .expect("edit");
        let mut reloaded = CaseDoc::load(a.id, &a.save(), Vec::new(), actor(3)).expect("reload");
        let r = reloaded.record().expect("record");
        assert!(r
            .means_of_control
            .contains(&MeansOfControl::Unknown("AlgorithmicWageTheft".into())));
        assert_eq!(r.gender, Some(Gender::Unknown("FutureGenderCode".into())));
        assert_eq!(
            DocView::read(&*reloaded.doc).map(&ROOT).str("future_field"),
            Some("kept")
        );
        // The record round-trips through CBOR with the unknown codes intact.
        let mut buf = Vec::new();
        ciborium::into_writer(&r, &mut buf).expect("encode");
        let back: CaseRecord = ciborium::from_reader(&buf[..]).expect("decode");
        assert_eq!(back, r);
        let _ = reloaded.unsaved_changes();
    }

    #[test]
    fn a_bad_edit_in_a_batch_applies_nothing() {
        let (mut a, _) = two_devices();
        let before = a.record().expect("record");
        let err = a
            .apply(
                &[
                    Edit::set(ScalarField::Gender, "Feminine"),
                    Edit::add(SetField::MeansOfControl, "NotACode"),
                ],
                Timestamp(2_000),
                &SIGNER,
            )
            .unwrap_err();
        assert!(matches!(err, Error::UnknownCode { .. }));
        assert!(matches!(
            a.apply(
                &[Edit::note("call +996 555 123 456")],
                Timestamp(2_000),
                &SIGNER
            ),
            Err(Error::NoteRejected { .. })
        ));
        assert!(matches!(
            a.apply(
                &[Edit::SetReferralStatus {
                    referral: "nope".into(),
                    status: "Accepted".into()
                }],
                Timestamp(1),
                &SIGNER
            ),
            Err(Error::InvalidInput { .. })
        ));
        assert_eq!(a.record().expect("record"), before);
    }

    #[test]
    fn referrals_keep_a_status_history() {
        let (mut a, _) = two_devices();
        a.apply(
            &[Edit::AddReferral {
                service: "Shelter".into(),
                partner: "Shelter Partner Almaty".into(),
                organisation_type: Some("NGO".into()),
                reason: None,
            }],
            Timestamp(2_000),
            &SIGNER,
        )
        .expect("refer");
        let rid = a.record().expect("r").referrals[0].id.clone();
        a.apply(
            &[Edit::SetReferralStatus {
                referral: rid,
                status: "Accepted".into(),
            }],
            Timestamp(3_000),
            &SIGNER,
        )
        .expect("status");
        let r = a.record().expect("r");
        assert_eq!(r.referrals[0].status(), Some(&ReferralStatus::Accepted));
        assert_eq!(r.referrals[0].history.len(), 2);
    }
}

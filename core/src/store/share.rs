//! The store's side of sharing with partner agencies (see [`crate::sync`]'s `share`
//! module for the agreement and the bundles).
//!
//! On the **sharing** side, a shared case stays the team's own case; sharing adds a
//! referral to the partner, and the partner's referral statuses and service notes are
//! copied into the case (notes prefixed with the agency's name) by this device. On the
//! **partner** side, a shared case is a case of the partner's own team (its id is the
//! projection id), holding only the agreed fields and the referral; the partner's team
//! works on it as on any case, and its referral statuses and notes go back.

use std::borrow::Borrow;

use super::index::SyncDelta;
use super::*;
use crate::model::{ScalarField, SetField};
use crate::sync::share::{Agreement, Share, SharePayload, ShareReturn, SharedCase};
use crate::sync::{AgreementOffer, JoinRequest, Role};
use crate::vocab::Vocabulary;

/// A sharing agreement as apps see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerAgreement {
    /// The agreement's id (32 hex digits).
    pub id: String,
    /// The other agency.
    pub partner: String,
    /// The fields the partner side may see.
    pub fields: Vec<String>,
    /// True if this team shares cases under it; false if it receives them.
    pub sharing: bool,
    /// Cases shared (not withdrawn).
    pub shared_cases: usize,
    /// True once ended.
    pub ended: bool,
}

/// What importing a share bundle did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareReport {
    /// Partner side: shared cases received for the first time.
    pub cases_received: usize,
    /// Partner side: shared cases whose fields changed.
    pub cases_updated: usize,
    /// Partner side: shares the other agency withdrew.
    pub withdrawn: usize,
    /// Sharing side: referral status changes copied into cases.
    pub statuses_copied: usize,
    /// Sharing side: service notes copied into cases.
    pub notes_copied: usize,
    /// Sharing side: notes refused by the identifier screen (not copied).
    pub notes_refused: usize,
    /// The cases of this team the import created or changed (partner side: the
    /// copies; sharing side: the cases a status or note was copied into), sorted, each
    /// once: what an app redraws.
    pub changed: Vec<CaseId>,
}

fn hex16(id: &[u8; 16]) -> String {
    CaseId(*id).to_hex()
}

impl Store {
    fn require_team_coordinator(&self, action: &str) -> Result<()> {
        match self.team().role() {
            Some(Role::Coordinator) => Ok(()),
            _ => Err(Error::NotPermitted {
                action: action.into(),
                reason: "only a coordinator of a team makes and uses sharing agreements".into(),
            }),
        }
    }

    fn agreement(&self, id: &str) -> Result<Agreement> {
        let id = id.trim().to_ascii_lowercase();
        let hits: Vec<&Agreement> = self
            .index
            .sync
            .agreements
            .values()
            .filter(|a| !id.is_empty() && hex16(&a.id).starts_with(&id))
            .collect();
        match hits.as_slice() {
            [a] => Ok((*a).clone()),
            [] => Err(Error::invalid(
                "agreement",
                "no sharing agreement has this id",
            )),
            _ => Err(Error::invalid(
                "agreement",
                "several agreements start with this id",
            )),
        }
    }
}

/// Sharing with partner agencies: agreements, shared cases and share bundles.
/// [`Store::partners`] gives the reads, [`Store::partners_mut`] the changes too.
pub struct Partners<S>(S);

impl Store {
    /// Reads of this device's sharing agreements with partner agencies.
    pub fn partners(&self) -> Partners<&Store> {
        Partners(self)
    }

    /// Changes to sharing with partner agencies: making, accepting and ending agreements,
    /// sharing cases, share bundles (and every read of [`Store::partners`]).
    pub fn partners_mut(&mut self) -> Partners<&mut Store> {
        Partners(self)
    }
}

impl<S: Borrow<Store>> Partners<S> {
    /// The store this handle reads.
    fn store(&self) -> &Store {
        self.0.borrow()
    }

    /// A request for a sharing agreement, from a partner agency's coordinator: send its
    /// text over any channel, read its code out over the phone.
    pub fn partner_request(&self, agency_name: &str) -> Result<JoinRequest> {
        let store = self.store();
        store.require_team_coordinator("ask for a sharing agreement")?;
        JoinRequest::new(&store.identity, agency_name)
    }

    /// This device's sharing agreements.
    pub fn agreements(&self) -> Vec<PartnerAgreement> {
        self.store()
            .index
            .sync
            .agreements
            .values()
            .map(|a| PartnerAgreement {
                id: hex16(&a.id),
                partner: a.peer_name.clone(),
                fields: a.fields.clone(),
                sharing: a.sharer,
                shared_cases: a.shares.values().filter(|s| !s.withdrawn).count(),
                ended: a.ended,
            })
            .collect()
    }
}

impl Partners<&mut Store> {
    /// Makes a sharing agreement with the agency whose request this is, once
    /// `heard_code` (read out over the phone) matches: the partner may see `fields`.
    /// Returns the agreement's id and the offer to send back; read the offer's code out
    /// to the partner. Coordinators only.
    pub fn partner_agree(
        &mut self,
        my_agency: &str,
        request: &str,
        heard_code: &str,
        fields: &[String],
    ) -> Result<(String, AgreementOffer)> {
        self.0.check_writable()?;
        self.0
            .require_team_coordinator("make a sharing agreement")?;
        let (agreement, offer) = Agreement::offer(
            &self.0.identity,
            my_agency.trim(),
            request,
            heard_code,
            fields,
        )?;
        let id = hex16(&agreement.id);
        self.0.write_sync(vec![SyncDelta::Agreement(agreement)])?;
        Ok((id, offer))
    }

    /// Accepts an agreement offer sealed to this device's request, once `heard_code`
    /// (read out by the sharing coordinator) matches. Returns the agreement's id.
    pub fn partner_accept(&mut self, offer: &str, heard_code: &str) -> Result<String> {
        self.0.check_writable()?;
        self.0
            .require_team_coordinator("accept a sharing agreement")?;
        let agreement = Agreement::accept(&self.0.identity, offer, heard_code)?;
        if self.0.index.sync.agreements.contains_key(&agreement.id) {
            return Err(Error::invalid(
                "agreement",
                "this agreement was accepted already",
            ));
        }
        let id = hex16(&agreement.id);
        self.0.write_sync(vec![SyncDelta::Agreement(agreement)])?;
        Ok(id)
    }

    /// Refers a case to the partner of an agreement for `service` (a service-type code):
    /// adds the referral to the case and shares the agreed fields with the partner at
    /// the next share bundle. Only with the person's consent to sharing.
    pub fn share_case(&mut self, agreement: &str, case: &CaseId, service: &str) -> Result<()> {
        self.0.check_writable()?;
        self.0.require_team_coordinator("share a case")?;
        let mut a = self.0.agreement(agreement)?;
        if !a.sharer || a.ended {
            return Err(Error::invalid(
                "agreement",
                "cases are shared by the agency that made the agreement, while it lasts",
            ));
        }
        let record = self.0.case(case)?;
        if !record.consent.allows_sharing() {
            return Err(Error::NotPermitted {
                action: "share this case".into(),
                reason: "the person has not consented to sharing with partner agencies".into(),
            });
        }
        let projection = a.projection_id(case);
        if a.shares.get(&projection).is_some_and(|s| !s.withdrawn) {
            return Err(Error::invalid(
                "case",
                "this case is already shared under this agreement",
            ));
        }
        let before: Vec<String> = record.referrals.iter().map(|r| r.id.clone()).collect();
        self.0.update_case(
            case,
            &[Edit::AddReferral {
                service: service.into(),
                partner: a.peer_name.clone(),
                organisation_type: None,
                reason: None,
            }],
        )?;
        let referral = self
            .0
            .case(case)?
            .referrals
            .into_iter()
            .find(|r| !before.contains(&r.id))
            .map(|r| r.id);
        a.shares.insert(
            projection,
            Share {
                case: *case,
                referral,
                withdrawn: false,
                mirrored: Default::default(),
            },
        );
        self.0.write_sync(vec![SyncDelta::Agreement(a)])
    }

    /// Withdraws a shared case: the partner gets no further updates of it, and its
    /// updates are no longer taken in.
    pub fn unshare_case(&mut self, agreement: &str, case: &CaseId) -> Result<()> {
        self.0.check_writable()?;
        self.0.require_team_coordinator("withdraw a shared case")?;
        let mut a = self.0.agreement(agreement)?;
        let projection = a.projection_id(case);
        match a.shares.get_mut(&projection) {
            Some(s) if a.sharer && !s.withdrawn => s.withdrawn = true,
            _ => {
                return Err(Error::invalid(
                    "case",
                    "this case is not shared under this agreement",
                ))
            }
        }
        self.0.write_sync(vec![SyncDelta::Agreement(a)])
    }

    /// Ends an agreement: nothing more is sent or taken in under it.
    pub fn end_agreement(&mut self, agreement: &str) -> Result<()> {
        self.0.check_writable()?;
        self.0.require_team_coordinator("end a sharing agreement")?;
        let mut a = self.0.agreement(agreement)?;
        a.ended = true;
        self.0.write_sync(vec![SyncDelta::Agreement(a)])
    }

    /// A share bundle for the other agency of an agreement: on the sharing side, the
    /// projections of the shared cases (and the withdrawn ones); on the partner side,
    /// referral statuses and service notes. Ciphertext: safe to carry on any channel.
    pub fn export_share(&mut self, agreement: &str) -> Result<Vec<u8>> {
        self.0.require_team_coordinator("send a share bundle")?;
        let a = self.0.agreement(agreement)?;
        if a.ended {
            return Err(Error::invalid("agreement", "this agreement has ended"));
        }
        let mut payload = SharePayload {
            agreement: a.id,
            ..SharePayload::default()
        };
        for (projection, share) in &a.shares {
            if share.withdrawn {
                if a.sharer {
                    payload.withdrawn.push(*projection);
                }
                continue;
            }
            let record = match self.0.case(&share.case) {
                Ok(r) => r,
                Err(Error::CaseErased { .. } | Error::CaseNotFound { .. }) => {
                    if a.sharer {
                        payload.withdrawn.push(*projection);
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            if a.sharer {
                if !record.consent.allows_sharing() {
                    payload.withdrawn.push(*projection);
                    continue;
                }
                payload.cases.push(project(&a, *projection, share, &record));
            } else {
                let referral = record
                    .referrals
                    .iter()
                    .find(|r| Some(&r.id) == share.referral.as_ref());
                payload.returns.push(ShareReturn {
                    projection: *projection,
                    statuses: referral
                        .map(|r| {
                            r.history
                                .iter()
                                .map(|e| (e.status.code().to_string(), e.at.0))
                                .collect()
                        })
                        .unwrap_or_default(),
                    notes: record
                        .notes
                        .iter()
                        .map(|n| (n.id.clone(), n.at.0, n.text.clone()))
                        .collect(),
                });
            }
        }
        let bytes = a.seal(&self.0.identity, &payload)?;
        inputs::check_bundle_size(bytes.len())?;
        Ok(bytes)
    }

    /// Imports a share bundle from the other agency of one of this device's agreements.
    pub fn import_share(&mut self, bytes: &[u8]) -> Result<ShareReport> {
        self.0.check_writable()?;
        self.0.require_team_coordinator("take in a share bundle")?;
        let mut a = self
            .0
            .index
            .sync
            .agreements
            .values()
            .find(|a| a.opens(bytes))
            .cloned()
            .ok_or(Error::NotForThisDevice)?;
        if a.ended {
            return Err(Error::rejected(
                "the agreement of this share bundle has ended",
            ));
        }
        let payload = a.open(bytes)?;
        let mut report = ShareReport::default();
        if a.sharer {
            if !payload.cases.is_empty() || !payload.withdrawn.is_empty() {
                return Err(Error::rejected("a partner's bundle carries shared cases"));
            }
            for ret in payload.returns {
                self.0.take_return(&mut a, ret, &mut report)?;
            }
        } else {
            if !payload.returns.is_empty() {
                return Err(Error::rejected(
                    "the sharing agency's bundle carries returns",
                ));
            }
            for shared in payload.cases {
                self.0.take_shared(&mut a, shared, &mut report)?;
            }
            for projection in payload.withdrawn {
                if let Some(s) = a.shares.get_mut(&projection) {
                    if !s.withdrawn {
                        s.withdrawn = true;
                        report.withdrawn += 1;
                    }
                }
            }
        }
        self.0.write_sync(vec![SyncDelta::Agreement(a)])?;
        report.changed.sort();
        report.changed.dedup();
        Ok(report)
    }
}

impl Store {
    /// Partner side: creates or updates this team's copy of a shared case.
    fn take_shared(
        &mut self,
        a: &mut Agreement,
        shared: SharedCase,
        report: &mut ShareReport,
    ) -> Result<()> {
        for key in shared
            .scalars
            .iter()
            .map(|(k, _)| k)
            .chain(shared.sets.iter().map(|(k, _)| k))
        {
            if !a.fields.contains(key) {
                return Err(Error::rejected(
                    "the sharing agency sent a field outside the agreement",
                ));
            }
        }
        let copy = CaseId(shared.projection);
        match a.shares.get(&shared.projection) {
            Some(s) if s.withdrawn => Ok(()),
            Some(_) => {
                let record = match self.case(&copy) {
                    Ok(r) => r,
                    // This team erased its copy: it stays erased.
                    Err(Error::CaseErased { .. }) => return Ok(()),
                    Err(e) => return Err(e),
                };
                let mut edits = Vec::new();
                for key in &a.fields {
                    if let Ok(f) = ScalarField::from_key(key) {
                        let want = shared
                            .scalars
                            .iter()
                            .find(|(k, _)| k == key)
                            .map(|(_, v)| v.clone());
                        if record.scalar_code(f) != want {
                            edits.push(Edit::Set {
                                field: f,
                                code: want,
                            });
                        }
                    } else if let Ok(f) = SetField::from_key(key) {
                        let want: Vec<String> = shared
                            .sets
                            .iter()
                            .find(|(k, _)| k == key)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default();
                        let have = record.set_codes(f);
                        for c in want.iter().filter(|c| !have.contains(c)) {
                            edits.push(Edit::Add {
                                field: f,
                                code: c.clone(),
                            });
                        }
                        for c in have.iter().filter(|c| !want.contains(c)) {
                            edits.push(Edit::Remove {
                                field: f,
                                code: c.clone(),
                            });
                        }
                    }
                }
                if !edits.is_empty() {
                    self.update_case(&copy, &edits)?;
                    report.cases_updated += 1;
                    report.changed.push(copy);
                }
                Ok(())
            }
            None => {
                if self.index.cases.contains_key(&copy) || self.index.tombstones.contains_key(&copy)
                {
                    return Err(Error::rejected(
                        "a shared case collides with a case of this team",
                    ));
                }
                let mut edits: Vec<Edit> = Vec::new();
                for (k, v) in &shared.scalars {
                    edits.push(Edit::Set {
                        field: ScalarField::from_key(k)?,
                        code: Some(v.clone()),
                    });
                }
                for (k, vs) in &shared.sets {
                    let f = SetField::from_key(k)?;
                    edits.extend(vs.iter().map(|v| Edit::Add {
                        field: f,
                        code: v.clone(),
                    }));
                }
                edits.push(Edit::AddReferral {
                    service: shared.service.clone(),
                    partner: a.peer_name.clone(),
                    organisation_type: None,
                    reason: None,
                });
                self.add_case_with_id(copy, &edits)?;
                let referral = self.case(&copy)?.referrals.first().map(|r| r.id.clone());
                a.shares.insert(
                    shared.projection,
                    Share {
                        case: copy,
                        referral,
                        withdrawn: false,
                        mirrored: Default::default(),
                    },
                );
                report.cases_received += 1;
                report.changed.push(copy);
                Ok(())
            }
        }
    }

    /// Sharing side: copies the partner's new referral statuses and notes into the case.
    fn take_return(
        &mut self,
        a: &mut Agreement,
        ret: ShareReturn,
        report: &mut ShareReport,
    ) -> Result<()> {
        let peer = a.peer_name.clone();
        let Some(share) = a.shares.get_mut(&ret.projection) else {
            return Err(Error::rejected("a return for a case that was never shared"));
        };
        if share.withdrawn {
            return Ok(());
        }
        let case = share.case;
        for (status, at) in ret.statuses {
            let key = format!("s:{status}:{at}");
            if share.mirrored.contains(&key) {
                continue;
            }
            if status != "Requested" {
                if let Some(referral) = share.referral.clone() {
                    self.update_case(&case, &[Edit::SetReferralStatus { referral, status }])?;
                    report.statuses_copied += 1;
                    report.changed.push(case);
                }
            }
            share.mirrored.insert(key);
        }
        for (id, _at, text) in ret.notes {
            let key = format!("n:{id}");
            if share.mirrored.contains(&key) {
                continue;
            }
            match self.update_case(&case, &[Edit::note(format!("[{peer}] {text}"))]) {
                Ok(()) => {
                    report.notes_copied += 1;
                    report.changed.push(case);
                }
                Err(Error::NoteRejected { .. } | Error::InvalidInput { .. }) => {
                    report.notes_refused += 1
                }
                Err(e) => return Err(e),
            }
            share.mirrored.insert(key);
        }
        Ok(())
    }

    /// Creates a case with a given id (a shared case's copy on the partner side).
    fn add_case_with_id(&mut self, id: CaseId, edits: &[Edit]) -> Result<()> {
        self.check_local_rights(None, edits)?;
        let now = Timestamp::now();
        let mut doc = CaseDoc::create(id, self.actor.clone(), now)?;
        doc.apply(edits, now, &self.identity)?;
        self.persist(id, &mut doc, true)?;
        self.cache_put(id, doc);
        Ok(())
    }
}

/// The agreed fields of a case, and the referral's service.
fn project(a: &Agreement, projection: [u8; 16], share: &Share, record: &CaseRecord) -> SharedCase {
    let mut scalars = Vec::new();
    let mut sets = Vec::new();
    for key in &a.fields {
        if let Ok(f) = ScalarField::from_key(key) {
            if let Some(v) = record.scalar_code(f) {
                scalars.push((key.clone(), v));
            }
        } else if let Ok(f) = SetField::from_key(key) {
            sets.push((key.clone(), record.set_codes(f)));
        }
    }
    let service = record
        .referrals
        .iter()
        .find(|r| Some(&r.id) == share.referral.as_ref())
        .map(|r| r.service.code().to_string())
        .unwrap_or_else(|| "Other".into());
    SharedCase {
        projection,
        scalars,
        sets,
        service,
    }
}

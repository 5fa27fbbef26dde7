//! Sharing with partner agencies (each a team of its own): agreements made over any
//! channel and checked by codes read out over the phone, cases referred under them,
//! and the share bundles the app carries.

use caravan_core::ShareReport;

use crate::error::{CaravanError, Result};
use crate::model::case_id;
use crate::store::{hex_ids, CaravanStore, Synced};
use crate::sync::JoinRequestInfo;

/// An agreement offer, made by the sharing agency's coordinator.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AgreementOfferInfo {
    /// The agreement's id (32 hex digits).
    pub agreement_id: String,
    /// The offer, sealed to the partner's device: send it over any channel.
    pub text: String,
    /// The code to read out to the partner over the phone.
    pub code: String,
}

/// A sharing agreement as the app lists it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PartnerAgreementInfo {
    /// The agreement's id (32 hex digits).
    pub agreement_id: String,
    /// The other agency.
    pub partner: String,
    /// The fields the partner side may see.
    pub fields: Vec<String>,
    /// True if this team shares cases under it; false if it receives them.
    pub sharing: bool,
    /// Cases shared and not withdrawn.
    pub shared_cases: u64,
    /// True once ended.
    pub ended: bool,
}

/// What importing a share bundle did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ShareSummary {
    /// Partner side: shared cases received for the first time.
    pub cases_received: u64,
    /// Partner side: shared cases whose fields changed.
    pub cases_updated: u64,
    /// Partner side: shares the other agency withdrew.
    pub withdrawn: u64,
    /// Sharing side: referral status changes copied into cases.
    pub statuses_copied: u64,
    /// Sharing side: service notes copied into cases.
    pub notes_copied: u64,
    /// Sharing side: notes refused by the identifier screen.
    pub notes_refused: u64,
    /// The cases created or changed (what the change listener was told).
    pub changed_case_ids: Vec<String>,
}

impl ShareSummary {
    fn new(r: &ShareReport) -> Self {
        ShareSummary {
            cases_received: r.cases_received as u64,
            cases_updated: r.cases_updated as u64,
            withdrawn: r.withdrawn as u64,
            statuses_copied: r.statuses_copied as u64,
            notes_copied: r.notes_copied as u64,
            notes_refused: r.notes_refused as u64,
            changed_case_ids: hex_ids(&r.changed),
        }
    }
}

#[uniffi::export]
impl CaravanStore {
    /// Partner agency's coordinator: a request for a sharing agreement. Send `text`
    /// over any channel; read `code` out over the phone.
    pub fn partner_request(&self, agency_name: String) -> Result<JoinRequestInfo> {
        self.with(|s| Ok(s.partners().partner_request(&agency_name)?.into()))
    }

    /// Sharing agency's coordinator: agree to share `fields` (field keys, e.g.
    /// "gender") with the agency whose request this is, once `heard_code` matches.
    pub fn partner_agree(
        &self,
        my_agency: String,
        request: String,
        heard_code: String,
        fields: Vec<String>,
    ) -> Result<AgreementOfferInfo> {
        self.with(|s| {
            let (id, offer) =
                s.partners_mut()
                    .partner_agree(&my_agency, &request, &heard_code, &fields)?;
            Ok(AgreementOfferInfo {
                agreement_id: id,
                text: offer.as_text().to_string(),
                code: offer.code().to_string(),
            })
        })
    }

    /// Partner agency's coordinator: accept an offer once `heard_code` (read out by
    /// the sharing coordinator) matches. Returns the agreement's id.
    pub fn partner_accept(&self, offer: String, heard_code: String) -> Result<String> {
        self.with(|s| Ok(s.partners_mut().partner_accept(&offer, &heard_code)?))
    }

    /// This device's sharing agreements.
    pub fn agreements(&self) -> Result<Vec<PartnerAgreementInfo>> {
        self.with(|s| {
            Ok(s.partners()
                .agreements()
                .into_iter()
                .map(|a| PartnerAgreementInfo {
                    agreement_id: a.id,
                    partner: a.partner,
                    fields: a.fields,
                    sharing: a.sharing,
                    shared_cases: a.shared_cases as u64,
                    ended: a.ended,
                })
                .collect())
        })
    }

    /// Refers a case to the agreement's partner for `service` (a service-type code);
    /// needs the person's consent to sharing.
    pub fn share_case(
        &self,
        agreement_id: String,
        case_id_hex: String,
        service: String,
    ) -> Result<()> {
        self.with(|s| {
            Ok(s.partners_mut()
                .share_case(&agreement_id, &case_id(&case_id_hex)?, &service)?)
        })
    }

    /// Withdraws a shared case: no further updates either way.
    pub fn unshare_case(&self, agreement_id: String, case_id_hex: String) -> Result<()> {
        self.with(|s| {
            Ok(s.partners_mut()
                .unshare_case(&agreement_id, &case_id(&case_id_hex)?)?)
        })
    }

    /// Ends an agreement.
    pub fn end_agreement(&self, agreement_id: String) -> Result<()> {
        self.with(|s| Ok(s.partners_mut().end_agreement(&agreement_id)?))
    }

    /// A share bundle for the other agency (ciphertext: any channel will do).
    pub fn export_share(&self, agreement_id: String) -> Result<Vec<u8>> {
        self.with(|s| Ok(s.partners_mut().export_share(&agreement_id)?))
    }

    /// Takes in a share bundle from the other agency; the change listener is told
    /// which cases changed.
    pub fn import_share(&self, bundle: Vec<u8>) -> Result<ShareSummary> {
        // Bytes that are no Caravan message at all are refused as such, before the
        // core looks for an agreement that opens them (which would say "not for this
        // device" about a photo or a truncated file).
        let report = self.syncing(|s| {
            let value = caravan_core::sync::check_message(&bundle)
                .and_then(|()| s.partners_mut().import_share(&bundle))
                .map_err(CaravanError::from);
            let cases = value
                .as_ref()
                .map(|r| r.changed.clone())
                .unwrap_or_default();
            Synced {
                value,
                cases,
                team: false,
            }
        })?;
        Ok(ShareSummary::new(&report))
    }
}

//! Sharing with a partner agency: a sharing agreement between two teams, and the
//! encrypted bundles that carry shared cases one way and referral updates back.
//!
//! A partner agency (a shelter in Turkey, an IOM office) is a team of its own, with its
//! own group key. The two teams never share a group key. Instead:
//!
//! 1. The partner's coordinator sends a request (the join-request format,
//!    [`super::JoinRequest`]) over any channel and reads its code out over the phone.
//! 2. The sharing team's coordinator checks the code and makes an **agreement**: a
//!    random id and key, the list of fields the partner may see, and both coordinator
//!    devices. The offer is sealed to the request's X25519 key, so only the partner's
//!    device opens it, and it has a code of its own that the sharing coordinator reads
//!    out for the partner to check (the request was public: anyone could seal an offer
//!    to it).
//! 3. Sharing a case (only with the person's consent to sharing) sends a **projection**:
//!    only the agreed fields and the referral, under an id derived from the agreement
//!    key (`HMAC(key, case id)`), so the partner never learns the case id. The partner
//!    keeps it as a case of its own team; its referral status changes and service notes
//!    travel back and are copied into the real case by the sharing coordinator's device.
//!
//! Bundles are envelopes (docs/protocol.md, section 6) under an epoch key derived from
//! the agreement key, signed by the sending coordinator device; a bundle from any
//! other device is refused.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::envelope::{self, EpochKey};
use super::remote::{codes_match, JoinRequest};
use crate::codec::{base32, unbase32, B32, B64};
use crate::crypto::hkdf::hkdf_sha256;
use crate::crypto::{hmac_sha256, sha256};
use crate::error::{Error, Result};
use crate::identity::{DeviceId, DeviceIdentity};
use crate::model::{CaseId, ScalarField, SetField};

const OFFER_PREFIX: &str = "caravan-agreement:";
const OFFER_LABEL: &[u8] = b"caravan/agreement/v1";
const SHARE_LABEL: &[u8] = b"caravan/share/v1";
/// At most this many cases or returns in one share bundle.
const MAX_ITEMS: usize = 100_000;

/// A sharing agreement as this device keeps it. Holds the agreement key: never printed.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Agreement {
    #[serde(rename = "id")]
    pub(crate) id: [u8; 16],
    /// The other agency's name.
    #[serde(rename = "peer_name")]
    pub(crate) peer_name: String,
    /// The other agency's coordinator device: the only sender accepted.
    #[serde(rename = "peer_device")]
    pub(crate) peer_device: B32,
    #[serde(rename = "key")]
    key: B32,
    /// Field keys the partner may see.
    #[serde(rename = "fields")]
    pub(crate) fields: Vec<String>,
    /// True on the sharing side, false on the partner's.
    #[serde(rename = "sharer")]
    pub(crate) sharer: bool,
    /// Shared cases by projection id.
    #[serde(rename = "shares")]
    pub(crate) shares: BTreeMap<[u8; 16], Share>,
    /// Ended: nothing is sent or accepted any more.
    #[serde(rename = "ended")]
    pub(crate) ended: bool,
}

impl std::fmt::Debug for Agreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Agreement({}, {} shares, <key redacted>)",
            self.peer_name,
            self.shares.len()
        )
    }
}

impl Drop for Agreement {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key.0);
    }
}

/// One shared case as either side tracks it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Share {
    /// Sharing side: the real case. Partner side: its own copy.
    #[serde(rename = "case")]
    pub(crate) case: CaseId,
    /// The referral (in that case) the partner's statuses belong to.
    #[serde(rename = "referral")]
    pub(crate) referral: Option<String>,
    /// The sharing side withdrew the share: no more updates either way.
    #[serde(rename = "withdrawn")]
    pub(crate) withdrawn: bool,
    /// Sharing side: the partner's note ids and statuses already copied into the case.
    #[serde(rename = "mirrored")]
    pub(crate) mirrored: BTreeSet<String>,
}

/// What the sharing coordinator sends once the codes matched: sealed to the partner.
#[derive(Serialize, Deserialize)]
struct Offer {
    id: [u8; 16],
    key: B32,
    fields: Vec<String>,
    sharer_name: String,
    sharer_device: B32,
    partner_device: B32,
    sig: B64,
}

fn offer_msg(
    id: &[u8; 16],
    key: &B32,
    fields: &[String],
    name: &str,
    sharer: &B32,
    partner: &B32,
) -> Vec<u8> {
    let mut m = OFFER_LABEL.to_vec();
    m.extend_from_slice(id);
    m.extend_from_slice(&key.0);
    m.extend_from_slice(&sharer.0);
    m.extend_from_slice(&partner.0);
    m.extend_from_slice(&crate::codec::cbor(&(fields, name)).unwrap_or_default());
    m
}

/// An agreement offer: the text to send, and the code to read out.
pub struct AgreementOffer {
    text: String,
    code: String,
}

impl AgreementOffer {
    /// The offer as text (sealed to the partner's device; safe on any channel).
    pub fn as_text(&self) -> &str {
        &self.text
    }

    /// The code the sharing coordinator reads out for the partner to check.
    pub fn code(&self) -> &str {
        &self.code
    }
}

impl std::fmt::Debug for AgreementOffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgreementOffer({})", self.code)
    }
}

fn offer_code(sealed: &[u8]) -> String {
    let d = sha256(&[b"caravan/agreement-code/v1".as_slice(), sealed].concat());
    let c = base32(&d[..10]);
    format!("{}-{}-{}-{}", &c[..4], &c[4..8], &c[8..12], &c[12..16])
}

/// Checks that every field key names a shareable field.
pub(crate) fn check_fields(fields: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for f in fields {
        let f = f.trim();
        if ScalarField::from_key(f).is_err() && SetField::from_key(f).is_err() {
            return Err(Error::invalid(
                "fields",
                format!("{f:?} is not a field that can be shared (see `caravan vocab`)"),
            ));
        }
        if !out.iter().any(|x| x == f) {
            out.push(f.to_string());
        }
    }
    Ok(out)
}

impl Agreement {
    /// The sharing side: checks the partner's request against the code read out over
    /// the phone and makes the agreement and the sealed offer.
    pub(crate) fn offer(
        me: &DeviceIdentity,
        my_agency: &str,
        request: &str,
        heard_code: &str,
        fields: &[String],
    ) -> Result<(Agreement, AgreementOffer)> {
        let req = JoinRequest::parse(request)?;
        if !codes_match(req.code(), heard_code) {
            return Err(Error::invalid(
                "verification code",
                "the code read over the phone does not match this request; it may have been \
                 replaced on the way: ask for a new request",
            ));
        }
        let fields = check_fields(fields)?;
        let my_agency = super::group::checked_name(my_agency, "agency name")?;
        let id: [u8; 16] = crate::crypto::random_array()?;
        let key = B32(crate::crypto::random_array()?);
        let sharer = B32(me.id().0);
        let partner = B32(req.device().0);
        let sig = B64(me.sign(&offer_msg(&id, &key, &fields, my_agency, &sharer, &partner)));
        let offer = Offer {
            id,
            key,
            fields: fields.clone(),
            sharer_name: my_agency.into(),
            sharer_device: sharer,
            partner_device: partner,
            sig,
        };
        let plain = zeroize::Zeroizing::new(crate::codec::cbor(&offer)?);
        let sealed = super::keywrap::seal_to(OFFER_LABEL, &partner.0, req.x25519(), &plain)?;
        let agreement = Agreement {
            id,
            peer_name: req.name().to_string(),
            peer_device: partner,
            key,
            fields,
            sharer: true,
            shares: BTreeMap::new(),
            ended: false,
        };
        let code = offer_code(&sealed);
        Ok((
            agreement,
            AgreementOffer {
                text: format!("{OFFER_PREFIX}{}", base32(&sealed)),
                code,
            },
        ))
    }

    /// The partner's side: opens an offer sealed to this device, once the code the
    /// sharing coordinator read out matches.
    pub(crate) fn accept(me: &DeviceIdentity, text: &str, heard_code: &str) -> Result<Agreement> {
        let bad = || Error::invalid("agreement", "this is not a valid Caravan agreement offer");
        let sealed =
            unbase32(text.trim().strip_prefix(OFFER_PREFIX).ok_or_else(bad)?).ok_or_else(bad)?;
        if !codes_match(&offer_code(&sealed), heard_code) {
            return Err(Error::invalid(
                "verification code",
                "the code read over the phone does not match this offer; do not accept it",
            ));
        }
        let plain = super::keywrap::open_from(OFFER_LABEL, &me.id().0, &sealed, me.x25519())
            .ok_or_else(|| {
                Error::invalid("agreement", "this offer was sealed for another device")
            })?;
        let offer: Offer = whole(&plain).ok_or_else(bad)?;
        let msg = offer_msg(
            &offer.id,
            &offer.key,
            &offer.fields,
            &offer.sharer_name,
            &offer.sharer_device,
            &offer.partner_device,
        );
        if offer.partner_device.0 != me.id().0
            || !DeviceId(offer.sharer_device.0).verify(&msg, &offer.sig.0)
        {
            return Err(bad());
        }
        Ok(Agreement {
            id: offer.id,
            peer_name: super::group::shown_name(&offer.sharer_name),
            peer_device: offer.sharer_device,
            key: offer.key,
            fields: check_fields(&offer.fields)?,
            sharer: false,
            shares: BTreeMap::new(),
            ended: false,
        })
    }

    /// The id under which the partner knows a case: `HMAC(key, case id)[..16]`.
    pub(crate) fn projection_id(&self, case: &CaseId) -> [u8; 16] {
        let tag = hmac_sha256(
            &self.key.0,
            &[b"caravan/projection/v1".as_slice(), &case.0].concat(),
        );
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag[..16]);
        out
    }

    /// The key of this agreement's envelopes: `HKDF-SHA256(salt = "caravan/share/v1",
    /// ikm = agreement key, info = agreement id)`. A failed derivation is an error,
    /// never an all-zero key.
    fn envelope_key(&self) -> Result<EpochKey> {
        let k = hkdf_sha256::<32>(SHARE_LABEL, &self.key.0, &[&self.id])?;
        Ok(EpochKey::new(0, *k))
    }

    /// Seals a share payload, signed by `me`.
    pub(crate) fn seal(&self, me: &DeviceIdentity, payload: &SharePayload) -> Result<Vec<u8>> {
        let body = crate::codec::cbor(payload)?;
        let sig = B64(me.sign(&[SHARE_LABEL, &self.id, &body].concat()));
        let signed = SignedShare {
            sender: B32(me.id().0),
            body,
            sig,
        };
        envelope::seal(&self.envelope_key()?, &crate::codec::cbor(&signed)?)
    }

    /// Whether an envelope is for this agreement (by routing tag).
    pub(crate) fn opens(&self, bytes: &[u8]) -> bool {
        let Ok(key) = self.envelope_key() else {
            return false;
        };
        envelope::parse(bytes).is_ok_and(|p| p.header.tag == key.routing_tag())
    }

    /// Opens a share bundle from the other agency's coordinator device.
    pub(crate) fn open(&self, bytes: &[u8]) -> Result<SharePayload> {
        let parsed = envelope::parse(bytes)?;
        let plain = envelope::open(&parsed, &self.envelope_key()?)?;
        let signed: SignedShare =
            whole(&plain).ok_or_else(|| Error::rejected("share bundle does not parse"))?;
        if signed.sender != self.peer_device
            || !DeviceId(signed.sender.0).verify(
                &[SHARE_LABEL, &self.id, &signed.body].concat(),
                &signed.sig.0,
            )
        {
            return Err(Error::rejected(
                "the share bundle is not signed by the partner agency's coordinator device",
            ));
        }
        let payload: SharePayload =
            whole(&signed.body).ok_or_else(|| Error::rejected("share payload does not parse"))?;
        if payload.agreement != self.id
            || payload.cases.len() + payload.returns.len() + payload.withdrawn.len() > MAX_ITEMS
        {
            return Err(Error::rejected(
                "share payload for another agreement, or too large",
            ));
        }
        Ok(payload)
    }
}

/// Decodes one CBOR item that must fill `bytes` exactly: bytes after it are refused
/// (strict decoding, like the envelope's; docs/protocol.md section 21).
fn whole<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let mut reader = bytes;
    let value = ciborium::from_reader(&mut reader).ok()?;
    reader.is_empty().then_some(value)
}

#[derive(Serialize, Deserialize)]
struct SignedShare {
    sender: B32,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    sig: B64,
}

/// What a share bundle carries. Its `Debug` shows counts only, never case content.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct SharePayload {
    pub(crate) agreement: [u8; 16],
    /// Sharing side → partner: projections of shared cases.
    #[serde(default)]
    pub(crate) cases: Vec<SharedCase>,
    /// Partner → sharing side: referral statuses and service notes.
    #[serde(default)]
    pub(crate) returns: Vec<ShareReturn>,
    /// Sharing side → partner: projections no longer shared.
    #[serde(default)]
    pub(crate) withdrawn: Vec<[u8; 16]>,
}

impl std::fmt::Debug for SharePayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SharePayload({} cases, {} returns, {} withdrawn)",
            self.cases.len(),
            self.returns.len(),
            self.withdrawn.len()
        )
    }
}

/// A projection of a case: only the agreed fields, and the referral.
#[derive(Serialize, Deserialize)]
pub(crate) struct SharedCase {
    pub(crate) projection: [u8; 16],
    /// Agreed single-valued fields that have a value: (field key, code).
    pub(crate) scalars: Vec<(String, String)>,
    /// Agreed set-valued fields: (field key, codes).
    pub(crate) sets: Vec<(String, Vec<String>)>,
    /// The service the case is referred for.
    pub(crate) service: String,
}

/// The partner's side of a shared case (its notes are case content: no `Debug`).
#[derive(Serialize, Deserialize)]
pub(crate) struct ShareReturn {
    pub(crate) projection: [u8; 16],
    /// Referral status changes: (status code, milliseconds since the epoch).
    pub(crate) statuses: Vec<(String, i64)>,
    /// Service notes: (note id, milliseconds since the epoch, text).
    pub(crate) notes: Vec<(String, i64, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An offer by `sharer` for `partner`, sealed as [`Agreement::offer`] seals it, with
    /// `extra` bytes after its CBOR item: the text and its code.
    fn offer_with_tail(
        sharer: &DeviceIdentity,
        partner: &DeviceIdentity,
        extra: &[u8],
    ) -> (String, String) {
        let (id, key, fields) = ([1u8; 16], B32([2; 32]), Vec::new());
        let (s, p) = (B32(sharer.id().0), B32(partner.id().0));
        let sig = B64(sharer.sign(&offer_msg(&id, &key, &fields, "Agency", &s, &p)));
        let offer = Offer {
            id,
            key,
            fields,
            sharer_name: "Agency".into(),
            sharer_device: s,
            partner_device: p,
            sig,
        };
        let mut plain = crate::codec::cbor(&offer).expect("cbor");
        plain.extend_from_slice(extra);
        let sealed =
            super::super::keywrap::seal_to(OFFER_LABEL, &p.0, &partner.x25519().public(), &plain)
                .expect("seal");
        (
            format!("{OFFER_PREFIX}{}", base32(&sealed)),
            offer_code(&sealed),
        )
    }

    /// A share bundle signed by `sharer` for `agreement`, with `body_extra` bytes after
    /// the payload (inside the signed body) and `extra` after the signed map.
    fn bundle_with_tails(
        agreement: &Agreement,
        sharer: &DeviceIdentity,
        body_extra: &[u8],
        extra: &[u8],
    ) -> Vec<u8> {
        let payload = SharePayload {
            agreement: agreement.id,
            cases: Vec::new(),
            returns: Vec::new(),
            withdrawn: vec![[3; 16]],
        };
        let mut body = crate::codec::cbor(&payload).expect("cbor");
        body.extend_from_slice(body_extra);
        let sig = B64(sharer.sign(&[SHARE_LABEL, &agreement.id, &body].concat()));
        let signed = SignedShare {
            sender: B32(sharer.id().0),
            body,
            sig,
        };
        let mut plain = crate::codec::cbor(&signed).expect("cbor");
        plain.extend_from_slice(extra);
        envelope::seal(&agreement.envelope_key().expect("key"), &plain).expect("seal")
    }

    #[test]
    fn bytes_after_an_offer_or_a_share_payload_are_refused() {
        let sharer = DeviceIdentity::generate().expect("sharer");
        let partner = DeviceIdentity::generate().expect("partner");
        let (text, code) = offer_with_tail(&sharer, &partner, &[]);
        let agreement = Agreement::accept(&partner, &text, &code).expect("the clean offer");
        let tails: [&[u8]; 3] = [&[0], &[0xf6], b"trailing bytes"];
        for tail in tails {
            let (text, code) = offer_with_tail(&sharer, &partner, tail);
            assert!(
                Agreement::accept(&partner, &text, &code).is_err(),
                "offer + {tail:?}"
            );
        }
        let clean = bundle_with_tails(&agreement, &sharer, &[], &[]);
        assert_eq!(
            agreement.open(&clean).expect("clean").withdrawn,
            vec![[3; 16]]
        );
        for tail in tails {
            for (body_extra, extra) in [(tail, &[][..]), (&[][..], tail)] {
                let bundle = bundle_with_tails(&agreement, &sharer, body_extra, extra);
                assert!(
                    matches!(agreement.open(&bundle), Err(Error::Rejected { .. })),
                    "bundle + {body_extra:?} / {extra:?}"
                );
            }
        }
    }
}

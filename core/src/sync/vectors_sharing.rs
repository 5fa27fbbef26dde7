//! Test vectors of joining from afar and of sharing with a partner agency
//! (`tests/vectors/sharing.json`): a `caravan-invite-for:` text sealed to a join
//! request, an agreement offer with its code, a share bundle (sharing side → partner)
//! and a share return (partner → sharing side).
//!
//! Built from fixed seeds, salts and ephemeral X25519 secrets exactly as
//! docs/protocol.md sections 11.1 and 21 say, then opened by the implementation
//! (`GroupState::join`, `Agreement::accept`, `Agreement::open`).
//! `sharing_vectors_match_the_file` regenerates the file and fails if a byte differs;
//! `CARAVAN_WRITE_VECTORS=1` rewrites it.

use serde::Serialize;
use serde_json::{json, Value};

use super::envelope::{self, EpochKey};
use super::group::{GroupState, MemberRecord};
use super::share::{Agreement, SharePayload, ShareReturn, SharedCase};
use super::vectors_membership::{
    device as device_with_pkcs8, hkdf32, seq, sha256, spec_seal_to, unhex,
};
use super::DeviceIdentity;
use crate::codec::cbor;
use crate::codec::hex_encode as hex;
use crate::codec::{base32, unbase32};
use crate::codec::{B32, B64};
use crate::model::CaseId;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/sharing.json");
const INVITATION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/invitation.json"
);

/// The joiner of invitation.json, here with its PKCS#8 (for its X25519 key).
const JOINER_SEED: [u8; 32] = seq(0x80);
const JOINER_NAME: &str = "Joiner device";
const SHARER_SEED: [u8; 32] = seq(0x60);
const PARTNER_SEED: [u8; 32] = seq(0xa0);
const INVITE_FOR_EPHEMERAL: [u8; 32] = seq(0x05);
const OFFER_EPHEMERAL: [u8; 32] = seq(0x15);
const AGREEMENT_ID: [u8; 16] = [0x4a; 16];
const AGREEMENT_KEY: [u8; 32] = seq(0x70);
const SHARER_AGENCY: &str = "Sharing agency";
const PARTNER_AGENCY: &str = "Partner shelter";
const SHARE_SALT: [u8; 16] = [0x5b; 16];
const RETURN_SALT: [u8; 16] = [0x6c; 16];
const CASE: CaseId = CaseId([0xa1; 16]);
const WITHDRAWN_CASE: CaseId = CaseId([0xd4; 16]);
/// 2026-01-01T00:00:00Z in milliseconds.
const T0: i64 = 1_767_225_600_000;

/// A device identity from `seed`, through ring's PKCS#8 form (as the vectors of
/// membership.json make it).
fn device(seed: &[u8; 32]) -> DeviceIdentity {
    device_with_pkcs8(seed).0
}

fn code_of(label: &[u8], bytes: &[u8]) -> String {
    let c = base32(&sha256(&[label, bytes].concat())[..10]);
    format!("{}-{}-{}-{}", &c[..4], &c[4..8], &c[8..12], &c[12..16])
}

#[derive(Serialize)]
struct OfferShape<'a> {
    id: [u8; 16],
    key: B32,
    fields: &'a [String],
    sharer_name: &'a str,
    sharer_device: B32,
    partner_device: B32,
    sig: B64,
}

#[derive(Serialize)]
struct SignedShape {
    sender: B32,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    sig: B64,
}

/// `Agreement` as the store keeps it (its key is private).
#[derive(Serialize)]
struct AgreementShape<'a> {
    id: [u8; 16],
    peer_name: &'a str,
    peer_device: B32,
    key: B32,
    fields: &'a [String],
    sharer: bool,
    shares: std::collections::BTreeMap<[u8; 16], ()>,
    ended: bool,
}

fn projection(case: &CaseId) -> [u8; 16] {
    let tag = crate::crypto::hmac_sha256(
        &AGREEMENT_KEY,
        &[b"caravan/projection/v1".as_slice(), &case.0].concat(),
    );
    tag[..16].try_into().expect("16 bytes")
}

fn fields() -> Vec<String> {
    vec!["gender".into(), "citizenship".into(), "age_band".into()]
}

fn share_payload() -> SharePayload {
    SharePayload {
        agreement: AGREEMENT_ID,
        cases: vec![SharedCase {
            projection: projection(&CASE),
            scalars: vec![("gender".into(), "Feminine".into())],
            sets: vec![("citizenship".into(), vec!["KZ".into(), "UZ".into()])],
            service: "Health".into(),
        }],
        returns: vec![],
        withdrawn: vec![projection(&WITHDRAWN_CASE)],
    }
}

fn return_payload() -> SharePayload {
    SharePayload {
        agreement: AGREEMENT_ID,
        cases: vec![],
        returns: vec![ShareReturn {
            projection: projection(&CASE),
            statuses: vec![("Requested".into(), T0), ("Accepted".into(), T0 + 60_000)],
            notes: vec![(
                "0f1e2d3c4b5a6978".into(),
                T0 + 120_000,
                "First appointment held.".into(),
            )],
        }],
        withdrawn: vec![],
    }
}

/// A share bundle: `Signed { sender, body = CBOR(SharePayload), sig }` in an envelope
/// under the agreement's envelope key.
fn share_bundle(sender: &DeviceIdentity, payload: &SharePayload, salt: [u8; 16]) -> Value {
    let body = cbor(payload).expect("cbor");
    let input = [b"caravan/share/v1".as_slice(), &AGREEMENT_ID, &body].concat();
    let signed = cbor(&SignedShape {
        sender: B32(sender.id().0),
        body: body.clone(),
        sig: B64(sender.sign(&input)),
    })
    .expect("cbor");
    let key = EpochKey::new(
        0,
        hkdf32(b"caravan/share/v1", &AGREEMENT_KEY, &AGREEMENT_ID),
    );
    let bundle = envelope::seal_with_salt(&key, &signed, salt).expect("seal");
    let payload_json = json!({
        "agreement": hex(&payload.agreement),
        "cases": payload.cases.iter().map(|c| json!({
            "projection": hex(&c.projection), "scalars": c.scalars, "sets": c.sets, "service": c.service,
        })).collect::<Vec<_>>(),
        "returns": payload.returns.iter().map(|r| json!({
            "projection": hex(&r.projection), "statuses": r.statuses, "notes": r.notes,
        })).collect::<Vec<_>>(),
        "withdrawn": payload.withdrawn.iter().map(|w| hex(w)).collect::<Vec<_>>(),
    });
    json!({
        "payload": payload_json,
        "sender": hex(&sender.id().0), "body": hex(&body), "signature_input": hex(&input),
        "signed_cbor": hex(&signed), "envelope_key": hex(key.bytes()),
        "routing_tag": hex(&key.routing_tag()), "salt": hex(&salt), "bundle": hex(&bundle),
    })
}

fn sharing_vectors() -> Value {
    // Joining from afar: the invitation of invitation.json, sealed to a join request.
    let inv: Value =
        serde_json::from_str(&std::fs::read_to_string(INVITATION).expect("invitation.json"))
            .expect("json");
    let text = inv["invitation"]["text"].as_str().expect("text");
    let raw = unbase32(text.strip_prefix("caravan-invite:").expect("prefix")).expect("base32");
    let joiner = device(&JOINER_SEED);
    let jx = joiner.x25519().public();
    let sealed = spec_seal_to(
        b"caravan/invite-for/v1",
        &joiner.id().0,
        &INVITE_FOR_EPHEMERAL,
        &jx,
        &raw,
    );
    let invite_for = format!("caravan-invite-for:{}", base32(&sealed));

    // The agreement offer, from the sharing coordinator to the partner's.
    let sharer = device(&SHARER_SEED);
    let partner = device(&PARTNER_SEED);
    let px = partner.x25519().public();
    let fields = fields();
    let offer_input = [
        b"caravan/agreement/v1".as_slice(),
        &AGREEMENT_ID,
        &AGREEMENT_KEY,
        &sharer.id().0,
        &partner.id().0,
        &cbor(&(&fields, SHARER_AGENCY)).expect("cbor"),
    ]
    .concat();
    let offer = cbor(&OfferShape {
        id: AGREEMENT_ID,
        key: B32(AGREEMENT_KEY),
        fields: &fields,
        sharer_name: SHARER_AGENCY,
        sharer_device: B32(sharer.id().0),
        partner_device: B32(partner.id().0),
        sig: B64(sharer.sign(&offer_input)),
    })
    .expect("cbor");
    let offer_sealed = spec_seal_to(
        b"caravan/agreement/v1",
        &partner.id().0,
        &OFFER_EPHEMERAL,
        &px,
        &offer,
    );
    json!({
        "description": "Joining from afar and sharing with a partner agency (docs/protocol.md sections 11.1 and \
                        21). invite_for: the in-person invitation of invitation.json (raw = secret || sealed \
                        welcome) sealed to the joiner's X25519 key. offer: an agreement offer, its signature input, \
                        CBOR, sealed form, text and code. share_bundle: sharing side to partner (one projection, one \
                        withdrawn); share_return: partner to sharing side (the referral's status history and a \
                        note). Sealing uses the fixed ephemeral X25519 secrets and salts given. Byte strings are hex.",
        "devices": [
            {"name": "joiner", "seed": hex(&JOINER_SEED), "public_key": hex(&joiner.id().0), "x25519_public": hex(&jx)},
            {"name": "sharer", "seed": hex(&SHARER_SEED), "public_key": hex(&sharer.id().0),
             "x25519_public": hex(&sharer.x25519().public())},
            {"name": "partner", "seed": hex(&PARTNER_SEED), "public_key": hex(&partner.id().0), "x25519_public": hex(&px)},
        ],
        "invite_for": {"raw": hex(&raw), "request_device": hex(&joiner.id().0), "request_x25519": hex(&jx),
                       "ephemeral_secret": hex(&INVITE_FOR_EPHEMERAL), "sealed": hex(&sealed), "text": invite_for,
                       "joiner_name": JOINER_NAME},
        "offer": {"id": hex(&AGREEMENT_ID), "key": hex(&AGREEMENT_KEY), "fields": fields,
                  "sharer_name": SHARER_AGENCY, "sharer_device": hex(&sharer.id().0),
                  "partner_device": hex(&partner.id().0), "signature_input": hex(&offer_input),
                  "cbor": hex(&offer), "ephemeral_secret": hex(&OFFER_EPHEMERAL), "sealed": hex(&offer_sealed),
                  "text": format!("caravan-agreement:{}", base32(&offer_sealed)),
                  "code": code_of(b"caravan/agreement-code/v1", &offer_sealed)},
        "projections": [
            {"case": hex(&CASE.0), "projection": hex(&projection(&CASE))},
            {"case": hex(&WITHDRAWN_CASE.0), "projection": hex(&projection(&WITHDRAWN_CASE))},
        ],
        "share_bundle": share_bundle(&sharer, &share_payload(), SHARE_SALT),
        "share_return": share_bundle(&partner, &return_payload(), RETURN_SALT),
    })
}

#[test]
fn sharing_vectors_match_the_file() {
    let text = serde_json::to_string_pretty(&sharing_vectors()).expect("json") + "\n";
    if std::env::var_os("CARAVAN_WRITE_VECTORS").is_some() {
        std::fs::write(FILE, &text).expect("write vector file");
        return;
    }
    let on_disk = std::fs::read_to_string(FILE)
        .unwrap_or_else(|e| panic!("{FILE}: {e}; run with CARAVAN_WRITE_VECTORS=1"));
    assert!(
        on_disk == text,
        "tests/vectors/sharing.json differs from what the code generates; if the change is \
         intended, regenerate with CARAVAN_WRITE_VECTORS=1 and say so"
    );
}

/// The implementation opens what the file holds: the sealed invitation joins the
/// group, the offer is accepted, and each side opens the other's share bundle.
#[test]
fn sharing_vectors_open_in_the_implementation() {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(FILE).expect("file")).expect("json");
    let s = |v: &Value| v.as_str().expect("a string").to_string();

    let joiner = device(&JOINER_SEED);
    let f = &file["invite_for"];
    let joined = GroupState::join(&s(&f["text"]), &joiner, &s(&f["joiner_name"]))
        .expect("the sealed invitation joins");
    assert!(joined
        .records
        .iter()
        .any(|r| matches!(r, MemberRecord::Join { member, .. } if member.0 == joiner.id().0)));
    assert!(
        GroupState::join(&s(&f["text"]), &device(&PARTNER_SEED), "Other").is_err(),
        "another device cannot open it"
    );

    let (sharer, partner) = (device(&SHARER_SEED), device(&PARTNER_SEED));
    let o = &file["offer"];
    assert!(Agreement::accept(&partner, &s(&o["text"]), "AAAA-AAAA-AAAA-AAAA").is_err());
    assert!(Agreement::accept(&sharer, &s(&o["text"]), &s(&o["code"])).is_err());
    let on_partner = Agreement::accept(&partner, &s(&o["text"]), &s(&o["code"])).expect("accept");
    assert_eq!(hex(&on_partner.id), s(&o["id"]));
    assert_eq!(on_partner.fields, fields());
    assert_eq!(on_partner.peer_device.0, sharer.id().0);
    for p in file["projections"].as_array().expect("projections") {
        let case = CaseId(unhex(&s(&p["case"])).try_into().expect("16"));
        assert_eq!(hex(&on_partner.projection_id(&case)), s(&p["projection"]));
    }

    let bundle = unhex(&s(&file["share_bundle"]["bundle"]));
    assert!(on_partner.opens(&bundle));
    let got = on_partner
        .open(&bundle)
        .expect("the partner opens the share bundle");
    assert_eq!(
        cbor(&got).expect("cbor"),
        cbor(&share_payload()).expect("cbor")
    );

    let fields = fields();
    let shape = cbor(&AgreementShape {
        id: AGREEMENT_ID,
        peer_name: PARTNER_AGENCY,
        peer_device: B32(partner.id().0),
        key: B32(AGREEMENT_KEY),
        fields: &fields,
        sharer: true,
        shares: Default::default(),
        ended: false,
    })
    .expect("cbor");
    let on_sharer: Agreement = ciborium::from_reader(shape.as_slice()).expect("agreement");
    let back = unhex(&s(&file["share_return"]["bundle"]));
    let got = on_sharer
        .open(&back)
        .expect("the sharing side opens the return");
    assert_eq!(
        cbor(&got).expect("cbor"),
        cbor(&return_payload()).expect("cbor")
    );
    // Each side accepts only the other's device as sender.
    assert!(on_sharer.open(&bundle).is_err());
    assert!(on_partner.open(&back).is_err());
}

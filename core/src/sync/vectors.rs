//! Test vectors of the sync protocol (`docs/protocol.md`), checked in under
//! `tests/vectors/`.
//!
//! `generate_vector_files` (ignored) writes the files from fixed inputs:
//! `cargo test -p caravan-core --lib sync::vectors -- --ignored`. The other tests read
//! the checked-in files and check every vector against this implementation; where
//! they can, they also recompute the value independently (HKDF, HMAC, the AEAD and
//! the CBOR header with the primitives of `crate::crypto` and a few lines of code) so the files pin the spec,
//! not only the code.

use std::collections::BTreeSet;

use automerge::{ActorId, AutoCommit, Change, ChangeHash};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::envelope::{self, EpochKey};
use super::group::{GroupState, MemberRecord};
use super::qr;
use super::{CaseChanges, DeviceId, DeviceIdentity, LiveHeader, Payload};
use crate::codec::cbor;
use crate::codec::{base32, unbase32};
use crate::codec::{B32, B64};
use crate::crypto::aead::AeadKey;
use crate::crypto::hkdf::hkdf_sha256;
use crate::crypto::hmac_sha256;
use crate::error::Error;
use crate::ids::Hash;
use crate::model::{CaseDoc, CaseId, Edit, ScalarField, SetField, Timestamp};
use crate::tombstone::{Tombstone, TombstoneSignature};
use crate::vocab::{ErasureReason, Vocabulary};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors");

// ----- fixed inputs -----------------------------------------------------------------

const GROUP_KEY: [u8; 32] = seq(0x40);
const CREATOR_SEED: [u8; 32] = seq(0x60);
const JOINER_SEED: [u8; 32] = seq(0x80);
const GROUP_NONCE: [u8; 16] = [0x11; 16];
const GROUP_NAME: &str = "Vector team";
const CREATOR_NAME: &str = "Creator device";
const INVITE_SECRET: [u8; 16] = [
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
];
const WELCOME_SALT: [u8; 16] = [0x5a; 16];
const JOINER_NAME: &str = "Joiner device";
const BUNDLE_SALT: [u8; 16] = [0xb5; 16];
pub(crate) const CASE_CHANGES: CaseId = CaseId([0xa1; 16]);
pub(crate) const CASE_DOCUMENT: CaseId = CaseId([0xb2; 16]);
pub(crate) const CASE_ERASED: CaseId = CaseId([0xc3; 16]);
/// 2026-01-01T00:00:00Z in milliseconds.
const T0: i64 = 1_767_225_600_000;

const fn seq(start: u8) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = start.wrapping_add(i as u8);
        i += 1;
    }
    out
}

fn pattern(len: usize, mul: usize, add: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * mul + add) % 256) as u8).collect()
}

// ----- helpers ----------------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    crate::codec::hex_encode(bytes)
}

pub(crate) fn unhex(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("a hex string");
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    unhex(v).try_into().expect("a value of the stated length")
}

fn num(v: &Value) -> u64 {
    v.as_u64().expect("a number")
}

pub(crate) fn read(name: &str) -> Value {
    let path = format!("{DIR}/{name}");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run the ignored generator"));
    serde_json::from_str(&text).expect("valid json")
}

fn sha256(data: &[u8]) -> [u8; 32] {
    crate::crypto::sha256(data)
}

fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::Rejected { .. } => "Rejected",
        Error::UnsupportedMessage { .. } => "UnsupportedMessage",
        Error::NotForThisDevice => "NotForThisDevice",
        Error::InvalidInput { .. } => "InvalidInput",
        _ => "Other",
    }
}

/// `HKDF-SHA256(salt, ikm, info)` to 32 bytes, written from the spec.
fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    *hkdf_sha256::<32>(salt, ikm, &[info]).expect("expand")
}

/// The routing tag, written from the spec.
fn spec_routing_tag(key: &[u8; 32], epoch: u32) -> [u8; 16] {
    let tag = hmac_sha256(
        key,
        &[b"caravan/route/v1".as_slice(), &epoch.to_be_bytes()].concat(),
    );
    tag[..16].try_into().expect("16 bytes")
}

/// Padmé, written from the spec.
fn spec_padme(l: u64) -> u64 {
    if l < 2 {
        return l;
    }
    let e = 63 - u64::from(l.leading_zeros());
    let s = 64 - u64::from(e.leading_zeros());
    let mask = (1u64 << (e - s)) - 1;
    (l + mask) & !mask
}

/// A CBOR head in shortest form, written from the spec.
fn spec_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// The clear header (the AEAD's associated data), written from the spec.
fn spec_header(tag: &[u8; 16], epoch: u32, salt: &[u8; 16], commit: &[u8; 32]) -> Vec<u8> {
    let mut h = vec![0x87, 0x01, 0x01];
    spec_head(&mut h, 2, 16);
    h.extend_from_slice(tag);
    spec_head(&mut h, 0, u64::from(epoch));
    spec_head(&mut h, 2, 16);
    h.extend_from_slice(salt);
    spec_head(&mut h, 2, 32);
    h.extend_from_slice(commit);
    h
}

/// Seals an arbitrary plaintext (already framed and padded) as the spec says: used to
/// build negative vectors whose AEAD is valid but whose content is not.
fn spec_seal_raw(key: &[u8; 32], epoch: u32, salt: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    let aead_key = hkdf32(salt, key, b"caravan/envelope/v1/key");
    let commit = hkdf32(salt, key, b"caravan/envelope/v1/commit");
    let mut out = spec_header(&spec_routing_tag(key, epoch), epoch, salt, &commit);
    let k = AeadKey::new(&aead_key);
    let mut buf = plaintext.to_vec();
    k.seal_append_tag(&out[..], &mut buf).expect("seal");
    spec_head(&mut out, 2, buf.len() as u64);
    out.extend_from_slice(&buf);
    out
}

/// `Signed` as message.rs encodes it (the struct there is private).
#[derive(Debug, Serialize, Deserialize)]
struct SignedShape {
    sender: B32,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    sig: B64,
}

/// `GroupState` as group.rs encodes it (its key list is private).
#[derive(Serialize)]
struct GroupShape<'a> {
    id: [u8; 16],
    name: &'a str,
    keys: Vec<(u32, B32)>,
    records: &'a BTreeSet<MemberRecord>,
}

fn message_signature_input(key: &EpochKey, body: &[u8]) -> Vec<u8> {
    [
        b"caravan/message/v1".as_slice(),
        &key.routing_tag(),
        &key.epoch.to_be_bytes(),
        body,
    ]
    .concat()
}

fn key_for(key: &EpochKey) -> impl Fn(&[u8; 16], u32) -> Option<EpochKey> + '_ {
    move |tag, epoch| (*tag == key.routing_tag() && epoch == key.epoch).then(|| key.clone())
}

// ----- the group and the invitation --------------------------------------------------

struct GroupFixture {
    creator: DeviceIdentity,
    id: [u8; 16],
    records: BTreeSet<MemberRecord>,
    invite_seed: [u8; 32],
    invite_public: [u8; 32],
    welcome_key: [u8; 32],
}

fn group_fixture() -> GroupFixture {
    let creator = DeviceIdentity::from_seed(&CREATOR_SEED).expect("creator");
    let c = creator.id().0;
    let id: [u8; 16] = sha256(&[b"caravan/group/v1".as_slice(), &c, &GROUP_NONCE].concat())[..16]
        .try_into()
        .expect("16 bytes");
    let gsig = creator.sign(&genesis_input(&id));
    let invite_seed = hkdf32(b"caravan/invite/v1", &INVITE_SECRET, b"sign");
    let welcome_key = hkdf32(b"caravan/invite/v1", &INVITE_SECRET, b"welcome");
    let invite_public = DeviceIdentity::from_seed(&invite_seed)
        .expect("invite key")
        .id()
        .0;
    let isig = creator.sign(&[b"caravan/invite/v1".as_slice(), &id, &invite_public].concat());
    let mut records = BTreeSet::new();
    records.insert(MemberRecord::Genesis {
        group: id,
        nonce: GROUP_NONCE,
        creator: B32(c),
        name: GROUP_NAME.into(),
        creator_name: CREATOR_NAME.into(),
        sig: B64(gsig),
    });
    records.insert(MemberRecord::Invite {
        group: id,
        by: B32(c),
        invite: B32(invite_public),
        sig: B64(isig),
    });
    GroupFixture {
        creator,
        id,
        records,
        invite_seed,
        invite_public,
        welcome_key,
    }
}

/// What the Genesis signature covers: the group name is length-prefixed (u32 BE).
fn genesis_input(id: &[u8; 16]) -> Vec<u8> {
    let name_len = (GROUP_NAME.len() as u32).to_be_bytes();
    [
        b"caravan/genesis/v1".as_slice(),
        id,
        &GROUP_NONCE,
        &name_len,
        GROUP_NAME.as_bytes(),
        CREATOR_NAME.as_bytes(),
    ]
    .concat()
}

fn record_json(r: &MemberRecord) -> Value {
    let mut body = match r {
        MemberRecord::Genesis {
            group,
            nonce,
            creator,
            name,
            creator_name,
            sig,
        } => json!({
            "kind": "Genesis", "group": hex(group), "nonce": hex(nonce), "creator": hex(&creator.0),
            "name": name, "creator_name": creator_name, "sig": hex(&sig.0),
        }),
        MemberRecord::Invite {
            group,
            by,
            invite,
            sig,
        } => json!({
            "kind": "Invite", "group": hex(group), "by": hex(&by.0), "invite": hex(&invite.0), "sig": hex(&sig.0),
        }),
        MemberRecord::Join {
            group,
            member,
            name,
            invite,
            invite_sig,
            sig,
        } => json!({
            "kind": "Join", "group": hex(group), "member": hex(&member.0), "name": name,
            "invite": hex(&invite.0), "invite_sig": hex(&invite_sig.0), "sig": hex(&sig.0),
        }),
        MemberRecord::Op { author, sig, .. } => json!({
            "kind": "Op", "author": hex(&author.0), "sig": hex(&sig.0),
        }),
    };
    body["cbor"] = json!(hex(&cbor(r).expect("cbor")));
    body
}

fn invitation_vectors() -> Value {
    let g = group_fixture();
    let welcome = cbor(&GroupShape {
        id: g.id,
        name: GROUP_NAME,
        keys: vec![(0, B32(GROUP_KEY))],
        records: &g.records,
    })
    .expect("cbor");
    let wkey = EpochKey::new(0, g.welcome_key);
    let sealed = envelope::seal_with_salt(&wkey, &welcome, WELCOME_SALT).expect("seal");
    let text = format!(
        "caravan-invite:{}",
        base32(&[INVITE_SECRET.as_slice(), &sealed].concat())
    );
    let joiner = DeviceIdentity::from_seed(&JOINER_SEED).expect("joiner");
    let joined = GroupState::join(&text, &joiner, JOINER_NAME)
        .expect("the generated invitation is accepted");
    let join = joined
        .records
        .iter()
        .find(|r| matches!(r, MemberRecord::Join { .. }))
        .expect("a join record")
        .clone();
    let join_input = [
        b"caravan/join/v1".as_slice(),
        &g.id,
        &joiner.id().0,
        &g.invite_public,
        JOINER_NAME.as_bytes(),
    ]
    .concat();
    json!({
        "description": "Creating a group (Genesis), inviting a device (Invite record, caravan-invite text) and \
                        the Join record the invited device makes. Byte strings are hex. See docs/protocol.md, \
                        sections 'Membership' and 'Invitations'.",
        "group": {
            "creator_seed": hex(&CREATOR_SEED),
            "creator_public_key": hex(&g.creator.id().0),
            "nonce": hex(&GROUP_NONCE),
            "name": GROUP_NAME,
            "creator_name": CREATOR_NAME,
            "id": hex(&g.id),
            "genesis_signature_input": hex(&genesis_input(&g.id)),
            "epoch": 0,
            "epoch_key": hex(&GROUP_KEY),
            "records": g.records.iter().map(record_json).collect::<Vec<_>>(),
        },
        "invitation": {
            "secret": hex(&INVITE_SECRET),
            "hkdf_salt_ascii": "caravan/invite/v1",
            "sign_seed": hex(&g.invite_seed),
            "invite_public_key": hex(&g.invite_public),
            "welcome_key": hex(&g.welcome_key),
            "welcome_epoch": 0,
            "welcome_routing_tag": hex(&wkey.routing_tag()),
            "welcome_cbor": hex(&welcome),
            "welcome_salt": hex(&WELCOME_SALT),
            "sealed_welcome": hex(&sealed),
            "text": text,
        },
        "join": {
            "joiner_seed": hex(&JOINER_SEED),
            "joiner_public_key": hex(&joiner.id().0),
            "name": JOINER_NAME,
            "signature_input": hex(&join_input),
            "record": record_json(&join),
            "members_after": [hex(&g.creator.id().0), hex(&joiner.id().0)],
        },
    })
}

// ----- the bundle ---------------------------------------------------------------------

type SignedChanges = Vec<(Change, [u8; 64])>;

/// One envelope vector's inputs: name, epoch key, epoch, salt, message.
type EnvelopeInput = (&'static str, [u8; 32], u32, [u8; 16], Vec<u8>);

struct BundleFixture {
    key: EpochKey,
    sender: DeviceIdentity,
    payload: Payload,
    /// Per case: its changes with their signatures, and whether it is sent whole.
    cases: Vec<(SignedChanges, bool)>,
}

fn case_doc(id: CaseId, signer: &DeviceIdentity, second: &[Edit]) -> CaseDoc {
    let actor = ActorId::from(signer.id().actor());
    let now = Timestamp(T0);
    let mut doc = CaseDoc::create(id, actor, now).expect("create");
    doc.apply(
        &[
            Edit::set(ScalarField::CaseStatus, "Active"),
            Edit::add(SetField::Citizenship, "KZ"),
        ],
        now,
        signer,
    )
    .expect("first change");
    doc.apply(second, Timestamp(T0 + 60_000), signer)
        .expect("second change");
    doc
}

fn bundle_fixture() -> BundleFixture {
    let g = group_fixture();
    let key = EpochKey::new(0, GROUP_KEY);
    let sender = DeviceIdentity::from_seed(&CREATOR_SEED).expect("sender");

    // A case sent as individual changes, in change order.
    let mut a = case_doc(
        CASE_CHANGES,
        &sender,
        &[Edit::set(ScalarField::Gender, "Feminine")],
    );
    let a_changes = a.changes_since(&[]);
    let a_heads: Vec<Hash> = a.heads().into_iter().map(|h| Hash(h.0)).collect();
    let cc_a = CaseChanges {
        case: CASE_CHANGES,
        doc: None,
        changes: a_changes
            .iter()
            .map(|(c, _)| serde_bytes::ByteBuf::from(c.raw_bytes().to_vec()))
            .collect(),
        sigs: a_changes.iter().map(|(_, s)| B64(*s)).collect(),
        heads: a_heads,
    };

    // A case sent as a whole document, signatures in change-hash order.
    let mut b = case_doc(
        CASE_DOCUMENT,
        &sender,
        &[Edit::set(ScalarField::AgeBand, "18-20")],
    );
    let mut b_changes = b.changes_since(&[]);
    b_changes.sort_by_key(|(c, _)| c.hash());
    let b_heads: Vec<Hash> = b.heads().into_iter().map(|h| Hash(h.0)).collect();
    let cc_b = CaseChanges {
        case: CASE_DOCUMENT,
        doc: Some(b.save()),
        changes: Vec::new(),
        sigs: b_changes.iter().map(|(_, s)| B64(*s)).collect(),
        heads: b_heads,
    };

    // An erasure of a third case.
    let mut t = Tombstone {
        case: CASE_ERASED,
        erased_at: Timestamp(T0 + 120_000),
        reason: ErasureReason::PersonRequested,
        signature: None,
    };
    t.signature = Some(TombstoneSignature {
        by: sender.id().0,
        sig: sender.sign(&t.signed_bytes()),
    });

    let payload = Payload {
        cases: vec![cc_a, cc_b],
        tombstones: vec![t],
        members: g.records.iter().cloned().collect(),
        live: None,
        keys: Vec::new(),
        mailbox: None,
    };
    BundleFixture {
        key,
        sender,
        payload,
        cases: vec![(a_changes, false), (b_changes, true)],
    }
}

/// Signs and seals a payload with a fixed salt, as `message::seal` does with a random one.
fn seal_payload(
    key: &EpochKey,
    sender: &DeviceIdentity,
    payload: &Payload,
    salt: [u8; 16],
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    // The plain encoding (0x00 ‖ CBOR), reproducible by any implementation; senders
    // may deflate instead (see `body_deflated` in the file).
    let body = [&[0u8][..], &cbor(payload).expect("cbor")].concat();
    let sig = sender.sign(&message_signature_input(key, &body));
    let signed = cbor(&SignedShape {
        sender: B32(sender.id().0),
        body: body.clone(),
        sig: B64(sig),
    })
    .expect("cbor");
    let bundle = envelope::seal_with_salt(key, &signed, salt).expect("seal");
    (body, signed, bundle)
}

fn bundle_vectors() -> Value {
    let f = bundle_fixture();
    let (body, signed, bundle) = seal_payload(&f.key, &f.sender, &f.payload, BUNDLE_SALT);
    let (sender, opened) = super::open_message(&bundle, key_for(&f.key)).expect("the bundle opens");
    assert_eq!(sender, f.sender.id());
    assert_eq!(cbor(&opened).expect("cbor"), body[1..]);

    let cases: Vec<Value> = f
        .payload
        .cases
        .iter()
        .zip(&f.cases)
        .map(|(cc, (changes, whole))| {
            json!({
                "case": hex(&cc.case.0),
                "mode": if *whole { "document" } else { "changes" },
                "doc": cc.doc.as_deref().map(hex),
                "changes": changes.iter().map(|(c, s)| json!({
                    "hash": hex(&c.hash().0),
                    "actor": hex(c.actor_id().to_bytes()),
                    "seq": c.seq(),
                    "deps": c.deps().iter().map(|d| hex(&d.0)).collect::<Vec<_>>(),
                    "bytes": hex(c.raw_bytes()),
                    "signature_input": hex(&super::change_message(&cc.case, &c.hash().0)),
                    "signature": hex(s),
                })).collect::<Vec<_>>(),
                "heads": cc.heads.iter().map(|h| hex(&h.0)).collect::<Vec<_>>(),
                "cbor": hex(&cbor(cc).expect("cbor")),
            })
        })
        .collect();
    let tombstones: Vec<Value> = f
        .payload
        .tombstones
        .iter()
        .map(|t| {
            let s = t.signature.as_ref().expect("signed");
            json!({
                "case": hex(&t.case.0),
                "erased_at": t.erased_at.0,
                "reason": t.reason.code(),
                "by": hex(&s.by),
                "signature_input": hex(&t.signed_bytes()),
                "sig": hex(&s.sig),
                "cbor": hex(&cbor(t).expect("cbor")),
            })
        })
        .collect();

    // Negative bundles: a bad sender signature, and a change without a signature.
    let mut bad_sig = SignedShape {
        sender: B32(f.sender.id().0),
        body: body.clone(),
        sig: B64([0; 64]),
    };
    bad_sig.sig.0 = f.sender.sign(&message_signature_input(&f.key, &body));
    bad_sig.sig.0[0] ^= 1;
    let bad_sig = envelope::seal_with_salt(&f.key, &cbor(&bad_sig).expect("cbor"), BUNDLE_SALT)
        .expect("seal");
    let mut missing = f.payload.clone();
    missing.cases[0].sigs.pop();
    let (_, _, missing) = seal_payload(&f.key, &f.sender, &missing, BUNDLE_SALT);

    // The live-session header, for its CBOR shape.
    let inventory = vec![
        (CASE_CHANGES, f.payload.cases[0].heads.clone()),
        (CASE_DOCUMENT, f.payload.cases[1].heads.clone()),
        (CASE_ERASED, Vec::new()),
    ];
    let live = LiveHeader {
        session: [0x5e; 16],
        step: 1,
        base: Some(B32(spec_state_digest(&inventory))),
        inventory: Some(inventory),
        meta_digest: B32([0x3d; 32]),
        last: false,
    };

    json!({
        "description": "A bundle (store-and-forward sync message) from the group creator of invitation.json: \
                        one case as individual changes, one case as a whole document, one erasure and the \
                        membership records. Byte strings are hex. See docs/protocol.md, sections 'Messages' \
                        and 'Bundles'.",
        "epoch_key": hex(f.key.bytes()),
        "epoch": f.key.epoch,
        "routing_tag": hex(&f.key.routing_tag()),
        "sender_seed": hex(&CREATOR_SEED),
        "sender_public_key": hex(&f.sender.id().0),
        "sender_actor": hex(&f.sender.id().actor()),
        "payload_cbor": hex(&body[1..]),
        "body": hex(&body),
        "body_deflated": hex(&super::encode_body(&f.payload).expect("deflate")),
        "message_signature_input": hex(&message_signature_input(&f.key, &body)),
        "signed_cbor": hex(&signed),
        "salt": hex(&BUNDLE_SALT),
        "bundle": hex(&bundle),
        "expected": {
            "sender": hex(&sender.0),
            "cases": cases,
            "tombstones": tombstones,
            "members": f.payload.members.iter().map(record_json).collect::<Vec<_>>(),
            "live": Value::Null,
        },
        "expected_import": {
            "note": "SyncReport of a fresh store that joined with invitation.json and imports this bundle",
            "cases_created": 2, "cases_updated": 0, "changes_applied": 4, "cases_erased": 0,
            "cases_waiting": 0, "ignored_erased": 0, "members_added": 0,
        },
        "negative": [
            { "name": "sender_signature_bit_flip", "bundle": hex(&bad_sig), "error": "Rejected" },
            { "name": "change_without_signature", "bundle": hex(&missing), "error": "Rejected" },
        ],
        "live_header": {
            "note": "CBOR shape of a LiveHeader; base is the state digest of inventory (section 'Live sessions')",
            "session": hex(&live.session),
            "step": live.step,
            "base": live.base.map(|b| hex(&b.0)),
            "inventory": live.inventory.as_ref().map(|inv| inv.iter().map(|(c, h)| json!([hex(&c.0), h.iter().map(|x| hex(&x.0)).collect::<Vec<_>>()])).collect::<Vec<_>>()),
            "meta_digest": hex(&live.meta_digest.0),
            "last": live.last,
            "cbor": hex(&cbor(&live).expect("cbor")),
        },
    })
}

/// The live-session state digest, written from the spec (store::sync::live's is private).
fn spec_state_digest(map: &[(CaseId, Vec<Hash>)]) -> [u8; 32] {
    let mut entries = map.to_vec();
    entries.sort();
    let mut all = Vec::new();
    for (id, heads) in entries {
        all.extend_from_slice(&id.0);
        all.extend_from_slice(&(heads.len() as u32).to_le_bytes());
        for h in heads {
            all.extend_from_slice(&h.0);
        }
    }
    sha256(&all)
}

// ----- envelopes ----------------------------------------------------------------------

fn envelope_vectors() -> Value {
    let k1 = seq(0x00);
    let k2: [u8; 32] = sha256(b"caravan test vector key 2");
    let inputs: Vec<EnvelopeInput> = vec![
        ("empty", k1, 0, [0xa0; 16], Vec::new()),
        (
            "short",
            k1,
            7,
            seq(0xb0)[..16].try_into().expect("16"),
            b"caravan envelope".to_vec(),
        ),
        (
            "over_1kb",
            k2,
            300,
            seq(0xc0)[..16].try_into().expect("16"),
            pattern(1500, 7, 3),
        ),
        (
            "epoch_70000",
            k2,
            70_000,
            seq(0xd0)[..16].try_into().expect("16"),
            pattern(200, 13, 1),
        ),
    ];
    let mut vectors = Vec::new();
    for (name, key, epoch, salt, message) in &inputs {
        let k = EpochKey::new(*epoch, *key);
        let env = envelope::seal_with_salt(&k, message, *salt).expect("seal");
        let parsed = envelope::parse(&env).expect("parse");
        vectors.push(json!({
            "name": name,
            "epoch_key": hex(key),
            "epoch": epoch,
            "salt": hex(salt),
            "message": hex(message),
            "routing_tag": hex(&k.routing_tag()),
            "aead_key": hex(&hkdf32(salt, key, b"caravan/envelope/v1/key")),
            "commit": hex(&parsed.header.commit),
            "header": hex(parsed.aad),
            "padded_plaintext_len": spec_padme(4 + message.len() as u64),
            "envelope": hex(&env),
        }));
    }

    // Negative vectors, all against the "short" vector's key and epoch.
    let (_, key, epoch, salt, message) = &inputs[1];
    let k = EpochKey::new(*epoch, *key);
    let good = envelope::seal_with_salt(&k, message, *salt).expect("seal");
    let aad_len = envelope::parse(&good).expect("parse").aad.len();
    let mut neg = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>, stage: &str, error: &str, why: &str| {
        neg.push(
            json!({ "name": name, "epoch_key": hex(key), "epoch": epoch, "envelope": hex(&bytes),
                         "stage": stage, "error": error, "why": why }),
        );
    };
    let mut flip = good.clone();
    flip[aad_len + 2 + 3] ^= 0x01;
    add(
        "bit_flip_in_ciphertext",
        flip,
        "open",
        "Rejected",
        "the AEAD tag does not verify",
    );
    let mut flip = good.clone();
    let last = flip.len() - 1;
    flip[last] ^= 0x80;
    add(
        "bit_flip_in_aead_tag",
        flip,
        "open",
        "Rejected",
        "the AEAD tag does not verify",
    );
    let mut flip = good.clone();
    flip[3 + 16 + 1 + 1 + 4] ^= 0x10;
    add(
        "bit_flip_in_salt",
        flip,
        "open",
        "Rejected",
        "the key commitment does not match the salt",
    );
    let mut flip = good.clone();
    flip[4] ^= 0x01;
    add(
        "bit_flip_in_routing_tag",
        flip,
        "open",
        "NotForThisDevice",
        "no key has this routing tag",
    );
    add(
        "truncated_by_one_byte",
        good[..good.len() - 1].to_vec(),
        "parse",
        "Rejected",
        "ciphertext length does not match",
    );
    add(
        "truncated_header",
        good[..40].to_vec(),
        "parse",
        "Rejected",
        "the envelope ends inside the header",
    );
    let mut longer = good.clone();
    longer.push(0);
    add(
        "trailing_byte",
        longer,
        "parse",
        "Rejected",
        "bytes after the ciphertext",
    );
    let noncanonical = [&[0x87, 0x18, 0x01][..], &good[2..]].concat();
    add(
        "non_canonical_version",
        noncanonical,
        "parse",
        "Rejected",
        "version 1 written as 0x18 0x01",
    );
    let epoch_at = 3 + 17;
    let noncanonical = [&good[..epoch_at], &[0x18, 0x07][..], &good[epoch_at + 1..]].concat();
    add(
        "non_canonical_epoch",
        noncanonical,
        "parse",
        "Rejected",
        "epoch 7 written as 0x18 0x07",
    );
    let mut v2 = good.clone();
    v2[1] = 0x02;
    add(
        "unsupported_version",
        v2,
        "parse",
        "UnsupportedMessage",
        "version 2",
    );
    let mut s2 = good.clone();
    s2[2] = 0x02;
    add(
        "unsupported_suite",
        s2,
        "parse",
        "UnsupportedMessage",
        "suite 2",
    );
    let mut indefinite = good[..aad_len].to_vec();
    indefinite.push(0x5f);
    indefinite.extend_from_slice(&good[aad_len + 2..]);
    add(
        "indefinite_length_ciphertext",
        indefinite,
        "parse",
        "Rejected",
        "indefinite lengths are refused",
    );
    let mut short_tag = good.clone();
    short_tag[3] = 0x4f;
    add(
        "routing_tag_of_15_bytes",
        short_tag,
        "parse",
        "Rejected",
        "fixed-size fields must have their size",
    );
    // "caravan" (7 bytes) pads 11 bytes to 12: one padding byte, here set to 1.
    let mut nonzero = 7u32.to_le_bytes().to_vec();
    nonzero.extend_from_slice(&message[..7]);
    nonzero.resize(spec_padme(4 + 7) as usize, 0);
    let at = nonzero.len() - 1;
    nonzero[at] = 1;
    assert_eq!(at, 11);
    let mut plain = (message.len() as u32).to_le_bytes().to_vec();
    plain.extend_from_slice(message);
    plain.resize(spec_padme(4 + message.len() as u64) as usize, 0);
    add(
        "non_zero_padding",
        spec_seal_raw(key, *epoch, salt, &nonzero),
        "open",
        "Rejected",
        "padding must be zero",
    );
    let mut too_long = plain.clone();
    too_long[..4].copy_from_slice(&(plain.len() as u32).to_le_bytes());
    add(
        "length_beyond_plaintext",
        spec_seal_raw(key, *epoch, salt, &too_long),
        "open",
        "Rejected",
        "the length prefix exceeds the plaintext",
    );

    json!({
        "description": "Envelope vectors (suite 1). Byte strings are hex; 'message' is the envelope's content. \
                        Positive vectors: seal with the salt gives 'envelope'; parse and open give back every \
                        field. Negative vectors fail at 'stage' (parse: strict decoding; open: with the key) \
                        with error kind 'error'. See docs/protocol.md, section 'Envelope'.",
        "version": 1,
        "suite": 1,
        "vectors": vectors,
        "negative": neg,
    })
}

// ----- QR frames --------------------------------------------------------------------

fn qr_vectors() -> Value {
    let (_, _, bundle) = {
        let f = bundle_fixture();
        seal_payload(&f.key, &f.sender, &f.payload, BUNDLE_SALT)
    };
    let inputs: Vec<(&str, Vec<u8>, usize, bool)> = vec![
        (
            "bundle_json_default_frames",
            bundle.clone(),
            qr::DEFAULT_MAX_FRAME,
            false,
        ),
        ("bundle_json_300_byte_frames", bundle, 300, false),
        ("empty", Vec::new(), qr::DEFAULT_MAX_FRAME, true),
        (
            "100_bytes_smallest_frames",
            pattern(100, 31, 7),
            qr::MIN_MAX_FRAME,
            true,
        ),
    ];
    let vectors: Vec<Value> = inputs
        .iter()
        .map(|(name, data, max_frame, text)| {
            let frames = qr::split(data, *max_frame).expect("split");
            let mut v = json!({
                "name": name,
                "bundle": hex(data),
                "max_frame": max_frame,
                "bundle_id": hex(&sha256(data)[..8]),
                "frames": frames.iter().map(|f| hex(f)).collect::<Vec<_>>(),
            });
            if *text {
                v["text_frames"] = json!(frames
                    .iter()
                    .map(|f| qr::frame_to_text(f))
                    .collect::<Vec<_>>());
            }
            v
        })
        .collect();

    let small = qr::split(&pattern(100, 31, 7), qr::MIN_MAX_FRAME).expect("split");
    let id: [u8; 8] = sha256(&pattern(100, 31, 7))[..8].try_into().expect("8");
    let mut neg = Vec::new();
    let mut flipped = small[0].clone();
    flipped[25] ^= 0x04;
    neg.push(
        json!({ "name": "bit_flip_in_payload", "frame": hex(&flipped), "error": "InvalidInput",
                     "reason_contains": "checksum mismatch" }),
    );
    let mut magic = spec_frame(&id, 0, 3, 100, &pattern(100, 31, 7)[..40]);
    magic[0] = b'X';
    reseal_check(&mut magic);
    neg.push(
        json!({ "name": "bad_magic", "frame": hex(&magic), "error": "InvalidInput",
                     "reason_contains": "not a caravan qr frame" }),
    );
    let mut v2 = spec_frame(&id, 0, 3, 100, &pattern(100, 31, 7)[..40]);
    v2[3] = 2;
    reseal_check(&mut v2);
    neg.push(
        json!({ "name": "version_2", "frame": hex(&v2), "error": "InvalidInput",
                     "reason_contains": "frame version 2 is not supported" }),
    );
    neg.push(json!({ "name": "count_zero", "frame": hex(&spec_frame(&id, 0, 0, 0, &[])), "error": "InvalidInput",
                     "reason_contains": "frame count is 0" }));
    neg.push(json!({ "name": "index_not_below_count", "frame": hex(&spec_frame(&id, 3, 3, 100, &[1; 20])),
                     "error": "InvalidInput", "reason_contains": "is not below the frame count" }));
    neg.push(json!({ "name": "payload_does_not_fit_geometry", "frame": hex(&spec_frame(&id, 0, 3, 100, &[1; 39])),
                     "error": "InvalidInput", "reason_contains": "does not fit" }));
    neg.push(
        json!({ "name": "too_short", "frame": hex(&small[0][..23]), "error": "InvalidInput",
                     "reason_contains": "too short" }),
    );

    json!({
        "description": "QR framing vectors (frame layout version 1). 'bundle' split with 'max_frame' gives \
                        'frames' (binary QR payloads, in index order); 'text_frames' is their base45 text \
                        form. Negative frames are refused by a fresh reassembler with error kind 'error' \
                        (field 'qr frame') and a reason containing 'reason_contains'. The first two vectors \
                        frame the bundle of bundle.json. See docs/protocol.md, section 'QR framing'.",
        "vectors": vectors,
        "negative": neg,
    })
}

/// A frame, written from the layout in the docs of `sync::qr`.
fn spec_frame(id: &[u8; 8], index: u16, count: u16, total: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = b"CVQ\x01".to_vec();
    f.extend_from_slice(id);
    f.extend_from_slice(&index.to_be_bytes());
    f.extend_from_slice(&count.to_be_bytes());
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(payload);
    let check = sha256(&f);
    f.extend_from_slice(&check[..4]);
    f
}

fn reseal_check(frame: &mut [u8]) {
    let at = frame.len() - 4;
    let check = sha256(&frame[..at]);
    frame[at..].copy_from_slice(&check[..4]);
}

// ----- generation -------------------------------------------------------------------

#[test]
#[ignore = "writes tests/vectors/*.json; run on purpose"]
fn generate_vector_files() {
    std::fs::create_dir_all(DIR).expect("vectors directory");
    for (name, value) in [
        ("envelope.json", envelope_vectors()),
        ("invitation.json", invitation_vectors()),
        ("bundle.json", bundle_vectors()),
        ("qr.json", qr_vectors()),
    ] {
        let text = serde_json::to_string_pretty(&value).expect("json") + "\n";
        std::fs::write(format!("{DIR}/{name}"), text).expect("write vector file");
    }
}

// ----- verification of the checked-in files -------------------------------------------

#[test]
fn padme_as_specified() {
    for l in 0..70_000usize {
        assert_eq!(
            crate::crypto::padme(l) as u64,
            spec_padme(l as u64),
            "length {l}"
        );
    }
}

#[test]
fn envelope_vectors_hold() {
    let file = read("envelope.json");
    let vectors = file["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 3);
    for v in vectors {
        let name = v["name"].as_str().expect("name");
        let key: [u8; 32] = arr(&v["epoch_key"]);
        let epoch = u32::try_from(num(&v["epoch"])).expect("u32 epoch");
        let salt: [u8; 16] = arr(&v["salt"]);
        let message = unhex(&v["message"]);
        let env = unhex(&v["envelope"]);
        let tag: [u8; 16] = arr(&v["routing_tag"]);
        let commit: [u8; 32] = arr(&v["commit"]);
        let k = EpochKey::new(epoch, key);

        // Derivations, by the implementation and from the spec.
        assert_eq!(k.routing_tag(), tag, "{name}: routing tag");
        assert_eq!(
            spec_routing_tag(&key, epoch),
            tag,
            "{name}: routing tag (spec)"
        );
        assert_eq!(
            hkdf32(&salt, &key, b"caravan/envelope/v1/commit"),
            commit,
            "{name}: commit (spec)"
        );
        let aead_key: [u8; 32] = arr(&v["aead_key"]);
        assert_eq!(
            hkdf32(&salt, &key, b"caravan/envelope/v1/key"),
            aead_key,
            "{name}: aead key (spec)"
        );

        // Sealing with the salt gives the bytes.
        assert_eq!(
            envelope::seal_with_salt(&k, &message, salt).expect("seal"),
            env,
            "{name}: envelope bytes"
        );

        // Parsing gives every field.
        let parsed = envelope::parse(&env).expect("parse");
        assert_eq!(
            parsed.header,
            envelope::Header {
                version: 1,
                suite: 1,
                tag,
                epoch,
                salt,
                commit
            },
            "{name}: header"
        );
        let header = spec_header(&tag, epoch, &salt, &commit);
        assert_eq!(parsed.aad, header.as_slice(), "{name}: header bytes (spec)");
        assert_eq!(unhex(&v["header"]), header, "{name}: header in the file");
        let padded = usize::try_from(num(&v["padded_plaintext_len"])).expect("usize");
        assert_eq!(
            parsed.ciphertext.len(),
            padded + 16,
            "{name}: ciphertext length"
        );
        let mut ct_head = Vec::new();
        spec_head(&mut ct_head, 2, (padded + 16) as u64);
        assert_eq!(
            &env[header.len()..header.len() + ct_head.len()],
            ct_head.as_slice(),
            "{name}: ciphertext head"
        );
        assert_eq!(
            header.len() + ct_head.len() + padded + 16,
            env.len(),
            "{name}: nothing after the ciphertext"
        );

        // Opening gives the message, by the implementation and from the spec.
        assert_eq!(
            envelope::open(&parsed, &k).expect("open"),
            message,
            "{name}: open"
        );
        let ak = AeadKey::new(&aead_key);
        let mut buf = parsed.ciphertext.to_vec();
        let len = ak.open_in_place(&header[..], &mut buf).expect("spec open");
        let plain = &buf[..len];
        assert_eq!(plain.len(), padded);
        assert_eq!(
            plain[..4],
            (message.len() as u32).to_le_bytes(),
            "{name}: length prefix"
        );
        assert_eq!(&plain[4..4 + message.len()], message.as_slice());
        assert!(
            plain[4 + message.len()..].iter().all(|b| *b == 0),
            "{name}: zero padding"
        );
    }

    let negative = file["negative"].as_array().expect("negative");
    assert!(negative.len() >= 3);
    for v in negative {
        let name = v["name"].as_str().expect("name");
        let k = EpochKey::new(
            u32::try_from(num(&v["epoch"])).expect("u32"),
            arr(&v["epoch_key"]),
        );
        let bytes = unhex(&v["envelope"]);
        let want = v["error"].as_str().expect("error kind");
        let err = match (envelope::parse(&bytes), v["stage"].as_str().expect("stage")) {
            (Err(e), "parse") => e,
            (Ok(p), "open") => envelope::open(&p, &k).expect_err(name),
            (r, stage) => panic!(
                "{name}: expected failure at {stage}, parse gave {:?}",
                r.map(|p| p.header)
            ),
        };
        assert_eq!(error_kind(&err), want, "{name}: {err}");
        // Through the message layer too.
        let via = super::open_message(&bytes, key_for(&k)).expect_err(name);
        assert_eq!(error_kind(&via), want, "{name} via open_message: {via}");
    }
}

#[test]
fn invitation_vectors_hold() {
    let file = read("invitation.json");
    let (g, inv, join) = (&file["group"], &file["invitation"], &file["join"]);
    let creator = DeviceIdentity::from_seed(&arr(&g["creator_seed"])).expect("creator");
    assert_eq!(creator.id().0, arr::<32>(&g["creator_public_key"]));
    let nonce: [u8; 16] = arr(&g["nonce"]);
    let id: [u8; 16] = arr(&g["id"]);
    assert_eq!(
        sha256(&[b"caravan/group/v1".as_slice(), &creator.id().0, &nonce].concat())[..16],
        id
    );
    let (gname, cname) = (
        g["name"].as_str().expect("name"),
        g["creator_name"].as_str().expect("creator name"),
    );
    let ginput = [
        b"caravan/genesis/v1".as_slice(),
        &id,
        &nonce,
        &(gname.len() as u32).to_be_bytes(),
        gname.as_bytes(),
        cname.as_bytes(),
    ]
    .concat();
    assert_eq!(ginput, unhex(&g["genesis_signature_input"]));
    let genesis = &g["records"][0];
    assert_eq!(genesis["kind"], "Genesis");
    assert!(
        creator.id().verify(&ginput, &arr::<64>(&genesis["sig"])),
        "genesis signature"
    );

    let secret: [u8; 16] = arr(&inv["secret"]);
    let seed = hkdf32(b"caravan/invite/v1", &secret, b"sign");
    assert_eq!(seed, arr::<32>(&inv["sign_seed"]));
    let invite_public = DeviceIdentity::from_seed(&seed).expect("invite").id().0;
    assert_eq!(invite_public, arr::<32>(&inv["invite_public_key"]));
    let wkey = hkdf32(b"caravan/invite/v1", &secret, b"welcome");
    assert_eq!(wkey, arr::<32>(&inv["welcome_key"]));
    let wkey = EpochKey::new(0, wkey);
    assert_eq!(wkey.routing_tag(), arr::<16>(&inv["welcome_routing_tag"]));

    // The welcome is a GroupState; re-encoding what decodes gives the same bytes.
    let welcome = unhex(&inv["welcome_cbor"]);
    let state: GroupState = ciborium::from_reader(welcome.as_slice()).expect("welcome decodes");
    assert_eq!(cbor(&state).expect("cbor"), welcome);
    assert_eq!(state.id, id);
    assert_eq!(
        state.current_key().expect("key").bytes(),
        &arr::<32>(&g["epoch_key"])
    );
    let records: Vec<Value> = g["records"].as_array().expect("records").clone();
    assert_eq!(state.records.len(), records.len());
    for (r, v) in state.records.iter().zip(&records) {
        assert_eq!(
            cbor(r).expect("cbor"),
            unhex(&v["cbor"]),
            "record {}",
            v["kind"]
        );
        let back: MemberRecord =
            ciborium::from_reader(unhex(&v["cbor"]).as_slice()).expect("record decodes");
        assert_eq!(&back, r);
    }
    let sealed = unhex(&inv["sealed_welcome"]);
    assert_eq!(
        envelope::seal_with_salt(&wkey, &welcome, arr(&inv["welcome_salt"])).expect("seal"),
        sealed
    );
    let text = inv["text"].as_str().expect("text");
    let raw = unbase32(text.strip_prefix("caravan-invite:").expect("prefix")).expect("base32");
    assert_eq!(raw, [secret.as_slice(), &sealed].concat());
    assert_eq!(format!("caravan-invite:{}", base32(&raw)), text);

    // Joining with it gives the Join record and the members.
    let joiner = DeviceIdentity::from_seed(&arr(&join["joiner_seed"])).expect("joiner");
    assert_eq!(joiner.id().0, arr::<32>(&join["joiner_public_key"]));
    let name = join["name"].as_str().expect("name");
    let joined = GroupState::join(text, &joiner, name).expect("join");
    let record = joined
        .records
        .iter()
        .find(|r| matches!(r, MemberRecord::Join { .. }))
        .expect("join record");
    assert_eq!(cbor(record).expect("cbor"), unhex(&join["record"]["cbor"]));
    let input = unhex(&join["signature_input"]);
    assert_eq!(
        input,
        [
            b"caravan/join/v1".as_slice(),
            &id,
            &joiner.id().0,
            &invite_public,
            name.as_bytes()
        ]
        .concat()
    );
    assert!(joiner
        .id()
        .verify(&input, &arr::<64>(&join["record"]["sig"])));
    assert!(DeviceId(invite_public).verify(&input, &arr::<64>(&join["record"]["invite_sig"])));
    let members: Vec<[u8; 32]> = joined.members().keys().map(|d| d.0).collect();
    let want: Vec<[u8; 32]> = join["members_after"]
        .as_array()
        .expect("members")
        .iter()
        .map(arr)
        .collect();
    assert_eq!(
        members.iter().collect::<BTreeSet<_>>(),
        want.iter().collect::<BTreeSet<_>>()
    );
}

#[test]
fn bundle_vector_holds() {
    let file = read("bundle.json");
    let key = EpochKey::new(
        u32::try_from(num(&file["epoch"])).expect("u32"),
        arr(&file["epoch_key"]),
    );
    assert_eq!(key.routing_tag(), arr::<16>(&file["routing_tag"]));
    let sender = DeviceIdentity::from_seed(&arr(&file["sender_seed"])).expect("sender");
    assert_eq!(sender.id().0, arr::<32>(&file["sender_public_key"]));
    assert_eq!(sender.id().actor(), arr::<16>(&file["sender_actor"]));
    assert_eq!(
        sha256(&sender.id().0)[..16],
        sender.id().actor(),
        "actor = SHA-256(public key)[..16]"
    );
    let payload_cbor = unhex(&file["payload_cbor"]);
    let body = unhex(&file["body"]);
    assert_eq!(body[0], 0, "the plain body encoding");
    assert_eq!(body[1..], payload_cbor[..]);
    let deflated = unhex(&file["body_deflated"]);
    assert_eq!(deflated[0], 1, "the deflated body encoding");
    assert_eq!(
        cbor(&super::decode_body(&deflated).expect("inflates")).expect("cbor"),
        payload_cbor,
        "both encodings carry the same payload"
    );
    let signed = unhex(&file["signed_cbor"]);
    let bundle = unhex(&file["bundle"]);

    // The signature input and the Signed wrapper.
    let input = unhex(&file["message_signature_input"]);
    assert_eq!(input, message_signature_input(&key, &body));
    let s: SignedShape = ciborium::from_reader(signed.as_slice()).expect("signed decodes");
    assert_eq!(s.sender.0, sender.id().0);
    assert_eq!(s.body, body);
    assert!(sender.id().verify(&input, &s.sig.0));
    assert_eq!(s.sig.0, sender.sign(&input), "Ed25519 is deterministic");

    // Re-sealing with the salt gives the bytes; the real seal gives the same plaintext.
    assert_eq!(
        envelope::seal_with_salt(&key, &signed, arr(&file["salt"])).expect("seal"),
        bundle
    );
    let payload: Payload = ciborium::from_reader(payload_cbor.as_slice()).expect("payload decodes");
    assert_eq!(
        cbor(&payload).expect("cbor"),
        payload_cbor,
        "the payload re-encodes to the same bytes"
    );
    let resealed = super::seal_message(&key, &sender, &payload).expect("seal_message");
    let reopened = envelope::open(&envelope::parse(&resealed).expect("parse"), &key).expect("open");
    let r: SignedShape = ciborium::from_reader(reopened.as_slice()).expect("signed decodes");
    assert_eq!(
        r.body, deflated,
        "message::seal deflates this payload as in the file"
    );
    assert!(sender
        .id()
        .verify(&message_signature_input(&key, &r.body), &r.sig.0));

    // Opening the bundle gives the sender and the content.
    let (from, opened) = super::open_message(&bundle, key_for(&key)).expect("the bundle opens");
    let want = &file["expected"];
    assert_eq!(from.0, arr::<32>(&want["sender"]));
    assert!(opened.live.is_none() && want["live"].is_null());
    let cases = want["cases"].as_array().expect("cases");
    assert_eq!(opened.cases.len(), cases.len());
    for (cc, v) in opened.cases.iter().zip(cases) {
        let case = CaseId(arr(&v["case"]));
        assert_eq!(cc.case, case);
        assert_eq!(cbor(cc).expect("cbor"), unhex(&v["cbor"]));
        let heads: Vec<[u8; 32]> = v["heads"]
            .as_array()
            .expect("heads")
            .iter()
            .map(arr)
            .collect();
        assert_eq!(cc.heads.iter().map(|h| h.0).collect::<Vec<_>>(), heads);
        let expected = v["changes"].as_array().expect("changes");
        // The changes as a receiver reconstructs them (see store::sync::receive::plan::parse_changes).
        let (changes, mut applied): (Vec<Change>, AutoCommit) =
            match v["mode"].as_str().expect("mode") {
                "changes" => {
                    assert!(cc.doc.is_none());
                    let changes: Vec<Change> = cc
                        .changes
                        .iter()
                        .map(|b| Change::from_bytes(b.to_vec()).expect("change"))
                        .collect();
                    let mut doc = AutoCommit::new();
                    doc.apply_changes(changes.clone()).expect("apply");
                    (changes, doc)
                }
                "document" => {
                    let bytes = cc.doc.as_deref().expect("doc");
                    assert_eq!(bytes, unhex(&v["doc"]).as_slice());
                    assert!(cc.changes.is_empty());
                    let mut doc = AutoCommit::load(bytes).expect("load");
                    let mut all = doc.get_changes(&[]);
                    all.sort_by_key(|c| c.hash());
                    (all, doc)
                }
                other => panic!("mode {other}"),
            };
        assert_eq!(changes.len(), expected.len());
        assert_eq!(cc.sigs.len(), expected.len(), "one signature per change");
        for ((c, sig), e) in changes.iter().zip(&cc.sigs).zip(expected) {
            assert_eq!(c.hash().0, arr::<32>(&e["hash"]));
            assert_eq!(
                sha256(&c.raw_bytes()[8..]),
                c.hash().0,
                "hash = SHA-256(chunk without magic and checksum)"
            );
            assert_eq!(c.actor_id().to_bytes(), &arr::<16>(&e["actor"]), "actor id");
            assert_eq!(
                c.actor_id().to_bytes(),
                &sender.id().actor(),
                "authored by the sender"
            );
            assert_eq!(c.seq(), num(&e["seq"]));
            let msg = unhex(&e["signature_input"]);
            assert_eq!(
                msg,
                [b"caravan/change/v1".as_slice(), &case.0, &c.hash().0].concat()
            );
            assert_eq!(sig.0, arr::<64>(&e["signature"]));
            assert!(sender.id().verify(&msg, &sig.0), "change signature");
            if v["mode"] == "changes" {
                assert_eq!(c.raw_bytes(), unhex(&e["bytes"]).as_slice());
            }
        }
        let got: Vec<ChangeHash> = applied.get_heads();
        assert_eq!(
            got.iter().map(|h| h.0).collect::<Vec<_>>(),
            heads,
            "declared heads are the heads"
        );
        assert!(applied.get_missing_deps(&[]).is_empty());
    }
    let tombstones = want["tombstones"].as_array().expect("tombstones");
    assert_eq!(opened.tombstones.len(), tombstones.len());
    for (t, v) in opened.tombstones.iter().zip(tombstones) {
        assert_eq!(t.case.0, arr::<16>(&v["case"]));
        assert_eq!(t.erased_at.0, v["erased_at"].as_i64().expect("i64"));
        assert_eq!(t.reason.code(), v["reason"].as_str().expect("reason"));
        let s = t.signature.as_ref().expect("signed");
        assert_eq!(s.by, arr::<32>(&v["by"]));
        assert_eq!(t.signed_bytes(), unhex(&v["signature_input"]));
        assert_eq!(s.sig, arr::<64>(&v["sig"]));
        assert!(DeviceId(s.by).verify(&t.signed_bytes(), &s.sig));
        assert_eq!(cbor(t).expect("cbor"), unhex(&v["cbor"]));
    }
    let members = want["members"].as_array().expect("members");
    assert_eq!(opened.members.len(), members.len());
    for (r, v) in opened.members.iter().zip(members) {
        assert_eq!(cbor(r).expect("cbor"), unhex(&v["cbor"]));
    }

    // Negative bundles.
    for v in file["negative"].as_array().expect("negative") {
        let err = super::open_message(&unhex(&v["bundle"]), key_for(&key)).expect_err("refused");
        assert_eq!(
            error_kind(&err),
            v["error"].as_str().expect("kind"),
            "{}: {err}",
            v["name"]
        );
    }

    // The live header's shape.
    let live = &file["live_header"];
    let bytes = unhex(&live["cbor"]);
    let h: LiveHeader = ciborium::from_reader(bytes.as_slice()).expect("live header decodes");
    assert_eq!(cbor(&h).expect("cbor"), bytes);
    assert_eq!(h.session, arr::<16>(&live["session"]));
    assert_eq!(u64::from(h.step), num(&live["step"]));
    assert_eq!(h.meta_digest.0, arr::<32>(&live["meta_digest"]));
    assert_eq!(h.last, live["last"].as_bool().expect("bool"));
    let inv = h.inventory.as_ref().expect("inventory");
    assert_eq!(h.base.map(|b| b.0), Some(spec_state_digest(inv)));
    assert_eq!(live["base"], json!(hex(&spec_state_digest(inv))));
}

#[test]
fn qr_vectors_hold() {
    let file = read("qr.json");
    let bundle_file = read("bundle.json");
    for v in file["vectors"].as_array().expect("vectors") {
        let name = v["name"].as_str().expect("name");
        let data = unhex(&v["bundle"]);
        if name.starts_with("bundle_json") {
            assert_eq!(
                data,
                unhex(&bundle_file["bundle"]),
                "{name}: the bundle of bundle.json"
            );
        }
        let max_frame = usize::try_from(num(&v["max_frame"])).expect("usize");
        let frames: Vec<Vec<u8>> = v["frames"]
            .as_array()
            .expect("frames")
            .iter()
            .map(unhex)
            .collect();
        assert_eq!(
            qr::split(&data, max_frame).expect("split"),
            frames,
            "{name}: frames"
        );
        let id: [u8; 8] = arr(&v["bundle_id"]);
        assert_eq!(sha256(&data)[..8], id);
        let p = max_frame - qr::FRAME_OVERHEAD;
        let count = u16::try_from(frames.len()).expect("u16");
        for (i, f) in frames.iter().enumerate() {
            let chunk = data
                .get(i * p..((i + 1) * p).min(data.len()))
                .unwrap_or_default();
            let index = u16::try_from(i).expect("u16");
            let total = u32::try_from(data.len()).expect("u32");
            assert_eq!(
                f,
                &spec_frame(&id, index, count, total, chunk),
                "{name}: frame {i} (spec)"
            );
        }
        let mut r = qr::Reassembler::new();
        for f in frames.iter().rev() {
            r.push(f).expect("frame accepted");
        }
        assert_eq!(r.finish().expect("complete"), data, "{name}: reassembled");
        if let Some(texts) = v.get("text_frames") {
            for (t, f) in texts.as_array().expect("texts").iter().zip(&frames) {
                let t = t.as_str().expect("text");
                assert_eq!(qr::frame_to_text(f), t);
                assert_eq!(&qr::frame_from_text(t).expect("base45"), f);
            }
        }
    }
    for v in file["negative"].as_array().expect("negative") {
        let name = v["name"].as_str().expect("name");
        match qr::Reassembler::new().push(&unhex(&v["frame"])) {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(v["error"], "InvalidInput");
                assert_eq!(field, "qr frame", "{name}");
                let needle = v["reason_contains"].as_str().expect("needle");
                assert!(reason.contains(needle), "{name}: {reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

//! Test vectors of the membership log (`tests/vectors/membership.json`): every `Op`
//! kind with its parents, signature input, signature, CBOR and hash; the records and
//! meta digests; sealed epoch keys (an `Admit` and a `Rekey`); device PKCS#8 and
//! X25519 keys; a mailbox outbox name; a join request and its code.
//!
//! Generated from fixed seeds (Ed25519 signing is deterministic; the two sealed keys
//! use fixed ephemeral X25519 secrets, sealed here as docs/protocol.md section 10.4
//! says and opened by the implementation). `membership_vectors_match_the_file`
//! regenerates the whole file and fails if a byte differs, so the vectors cannot
//! drift from the code; `CARAVAN_WRITE_VECTORS=1` rewrites it instead.
//! `tests/vectors/check.py` re-derives them without this crate.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_bytes::ByteBuf;
use serde_json::{json, Value};

use super::envelope::{self, EpochKey};
use super::group::{GroupState, MemberOp, MemberRecord, Role};
use super::keywrap;
use super::{encode_body, DeviceIdentity, JoinRequest, Payload};
use crate::codec::base32;
use crate::codec::cbor;
use crate::codec::hex_encode as hex;
use crate::codec::{B32, B64};
use crate::model::CaseId;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/membership.json"
);

/// PKCS#8 v2 as ring 0.17 writes it: this prefix, the seed, `81 21 00`, the public key.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const PKCS8_MIDDLE: [u8; 3] = [0x81, 0x21, 0x00];

pub(crate) const fn seq(start: u8) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = start.wrapping_add(i as u8);
        i += 1;
    }
    out
}

const COORDINATOR_SEED: [u8; 32] = seq(0x60);
const MEMBER_SEED: [u8; 32] = seq(0xa0);
/// The secret of the in-person invitation (section 11); its key pair and welcome key
/// derive from it.
const INVITE_SECRET: [u8; 16] = [
    0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
];
const WELCOME_SALT: [u8; 16] = [0x3c; 16];
const LEGACY_INVITE_SEED: [u8; 32] = seq(0x10);
const GROUP_NONCE: [u8; 16] = [0x22; 16];
/// The admission time written into the vectors' `Admit` (Unix seconds, 2023-11-14).
const ADMIT_AT: u64 = 1_700_000_000;
const GROUP_NAME: &str = "Membership vectors";
const COORDINATOR_NAME: &str = "Coordinator phone";
const MEMBER_NAME: &str = "Field phone";
const EPOCH0_KEY: [u8; 32] = seq(0x40);
const EPOCH1_KEY: [u8; 32] = seq(0x90);
const ADMIT_EPHEMERAL: [u8; 32] = seq(0x01);
const REKEY_EPHEMERAL: [u8; 32] = seq(0x31);
const CASE: CaseId = CaseId([0xa1; 16]);
const ERASED: [CaseId; 2] = [CaseId([0xc3; 16]), CaseId([0x0b; 16])];
const REQUEST_NONCE: [u8; 16] = [0x77; 16];

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub(super) fn sha256(data: &[u8]) -> [u8; 32] {
    crate::crypto::sha256(data)
}

pub(super) fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    *crate::crypto::hkdf::hkdf_sha256::<32>(salt, ikm, &[info]).expect("expand")
}

/// A device identity whose PKCS#8 is ring's v2 document for `seed`.
pub(super) fn device(seed: &[u8; 32]) -> (DeviceIdentity, Vec<u8>) {
    let public = DeviceIdentity::from_seed(seed).expect("seed").id().0;
    let pkcs8 = [
        PKCS8_PREFIX.as_slice(),
        seed,
        PKCS8_MIDDLE.as_slice(),
        &public,
    ]
    .concat();
    let id = DeviceIdentity::from_pkcs8(&pkcs8).expect("ring takes its own PKCS#8 form");
    assert_eq!(id.id().0, public);
    (id, pkcs8)
}

/// `seal_to` of docs/protocol.md sections 10.4 and 11.1, with a fixed ephemeral secret.
pub(super) fn spec_seal_to(
    label: &[u8],
    context: &[u8],
    ephemeral: &[u8; 32],
    recipient_x: &[u8; 32],
    plain: &[u8],
) -> Vec<u8> {
    let eph = crate::crypto::x25519::X25519StaticSecret::from_bytes(ephemeral);
    let eph_pub = eph.public();
    let shared = eph.agree(recipient_x).expect("contributory");
    let k = hkdf32(
        label,
        shared.as_ref(),
        &[eph_pub.as_slice(), recipient_x].concat(),
    );
    let key = crate::crypto::aead::AeadKey::new(&k);
    let mut buf = plain.to_vec();
    key.seal_append_tag(&[label, context].concat(), &mut buf)
        .expect("seal");
    [eph_pub.as_slice(), &buf].concat()
}

fn spec_seal_key(
    epoch_key: &[u8; 32],
    group: &[u8; 16],
    epoch: u32,
    to: &[u8; 32],
    x: &[u8; 32],
    eph: &[u8; 32],
) -> Vec<u8> {
    let context = [group.as_slice(), &epoch.to_be_bytes(), to].concat();
    spec_seal_to(b"caravan/rekey/v1", &context, eph, x, epoch_key)
}

/// What an `Op` signature covers.
fn op_input(group: &[u8; 16], parents: &[B32], author: &B32, op: &MemberOp) -> Vec<u8> {
    let mut m = b"caravan/member-op/v1".to_vec();
    m.extend_from_slice(&cbor(&(group, parents, author, op)).expect("cbor"));
    m
}

#[derive(Serialize)]
struct GroupShape<'a> {
    id: [u8; 16],
    name: &'a str,
    keys: Vec<(u32, B32)>,
    records: &'a BTreeSet<MemberRecord>,
}

#[derive(Serialize)]
struct RequestShape<'a> {
    device: B32,
    x25519: B32,
    name: &'a str,
    nonce: [u8; 16],
    sig: B64,
}

fn op_json(op: &MemberOp) -> Value {
    match op {
        MemberOp::Invite { invite, role } => {
            json!({"kind": "Invite", "invite": hex(&invite.0), "role": format!("{role:?}")})
        }
        MemberOp::Keys { x25519, epoch } => {
            json!({"kind": "Keys", "x25519": hex(&x25519.0), "epoch": epoch})
        }
        MemberOp::SetRole { member, role } => {
            json!({"kind": "SetRole", "member": hex(&member.0), "role": format!("{role:?}")})
        }
        MemberOp::Revoke { member } => json!({"kind": "Revoke", "member": hex(&member.0)}),
        MemberOp::Rekey { epoch, keys } => json!({
            "kind": "Rekey", "epoch": epoch,
            "keys": keys.iter().map(|(d, k)| json!([hex(&d.0), hex(k)])).collect::<Vec<_>>(),
        }),
        MemberOp::Assign {
            case,
            member,
            assigned,
        } => {
            json!({"kind": "Assign", "case": hex(&case.0), "member": hex(&member.0), "assigned": assigned})
        }
        MemberOp::Resolve {
            case,
            changes,
            accept,
        } => json!({
            "kind": "Resolve", "case": hex(&case.0),
            "changes": changes.iter().map(|c| hex(&c.0)).collect::<Vec<_>>(), "accept": accept,
        }),
        MemberOp::InviteOnce { invite, role } => {
            json!({"kind": "InviteOnce", "invite": hex(&invite.0), "role": format!("{role:?}")})
        }
        MemberOp::Admit {
            invite,
            member,
            x25519,
            epoch,
            key,
            at,
        } => {
            let mut v = json!({
                "kind": "Admit", "invite": hex(&invite.0), "member": hex(&member.0),
                "x25519": hex(&x25519.0), "epoch": epoch, "key": hex(key),
            });
            if let Some(at) = at {
                v["at"] = json!(at);
            }
            v
        }
    }
}

fn record_json(r: &MemberRecord) -> Value {
    let mut v = match r {
        MemberRecord::Genesis {
            group,
            nonce,
            creator,
            name,
            creator_name,
            sig,
        } => {
            let input = [
                b"caravan/genesis/v1".as_slice(),
                group,
                nonce,
                &(name.len() as u32).to_be_bytes(),
                name.as_bytes(),
                creator_name.as_bytes(),
            ]
            .concat();
            json!({"record": "Genesis", "group": hex(group), "nonce": hex(nonce),
                   "creator": hex(&creator.0), "name": name, "creator_name": creator_name,
                   "signer": hex(&creator.0), "signature_input": hex(&input), "sig": hex(&sig.0)})
        }
        MemberRecord::Invite {
            group,
            by,
            invite,
            sig,
        } => {
            let input = [b"caravan/invite/v1".as_slice(), group, &invite.0].concat();
            json!({"record": "Invite", "group": hex(group), "by": hex(&by.0), "invite": hex(&invite.0),
                   "signer": hex(&by.0), "signature_input": hex(&input), "sig": hex(&sig.0)})
        }
        MemberRecord::Join {
            group,
            member,
            name,
            invite,
            invite_sig,
            sig,
        } => {
            let input = [
                b"caravan/join/v1".as_slice(),
                group,
                &member.0,
                &invite.0,
                name.as_bytes(),
            ]
            .concat();
            json!({"record": "Join", "group": hex(group), "member": hex(&member.0), "name": name,
                   "invite": hex(&invite.0), "signer": hex(&member.0),
                   "signature_input": hex(&input), "sig": hex(&sig.0),
                   "invite_sig": hex(&invite_sig.0)})
        }
        MemberRecord::Op {
            group,
            parents,
            author,
            op,
            sig,
        } => json!({
            "record": "Op", "group": hex(group),
            "parents": parents.iter().map(|p| hex(&p.0)).collect::<Vec<_>>(),
            "author": hex(&author.0), "op": op_json(op), "signer": hex(&author.0),
            "signature_input": hex(&op_input(group, parents, author, op)), "sig": hex(&sig.0),
        }),
    };
    v["cbor"] = json!(hex(&cbor(r).expect("cbor")));
    v["hash"] = json!(hex(&r.hash()));
    v
}

#[derive(Serialize)]
struct SignedShape {
    sender: B32,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    sig: B64,
}

/// One envelope of a message, built as sections 6 and 7 say (with a fixed salt).
fn message_json(
    key: &EpochKey,
    me: &DeviceIdentity,
    payload: &Payload,
    salt: [u8; 16],
) -> (Value, Vec<u8>) {
    let body = encode_body(payload).expect("body");
    let input = [
        b"caravan/message/v1".as_slice(),
        &key.routing_tag(),
        &key.epoch.to_be_bytes(),
        &body,
    ]
    .concat();
    let signed = cbor(&SignedShape {
        sender: B32(me.id().0),
        body: body.clone(),
        sig: B64(me.sign(&input)),
    })
    .expect("cbor");
    let env = envelope::seal_with_salt(key, &signed, salt).expect("seal");
    (
        json!({"epoch": key.epoch, "epoch_key": hex(key.bytes()), "routing_tag": hex(&key.routing_tag()),
               "payload_cbor": hex(&cbor(payload).expect("cbor")), "body": hex(&body),
               "signature_input": hex(&input), "signed_cbor": hex(&signed), "salt": hex(&salt),
               "envelope": hex(&env)}),
        env,
    )
}

/// Appends `op` signed by `who` (parents: the log's heads) and notes its hash.
fn step(g: &mut GroupState, order: &mut Vec<[u8; 32]>, who: &DeviceIdentity, op: MemberOp) {
    g.append(who, op).expect("append");
    let added = g
        .records
        .iter()
        .map(MemberRecord::hash)
        .find(|h| !order.contains(h))
        .expect("a new record");
    order.push(added);
}

/// The whole file, from the fixed inputs.
fn membership_vectors() -> Value {
    let (coord, coord_pkcs8) = device(&COORDINATOR_SEED);
    let (member, member_pkcs8) = device(&MEMBER_SEED);
    let invite_seed = hkdf32(b"caravan/invite/v1", &INVITE_SECRET, b"sign");
    let welcome_key = hkdf32(b"caravan/invite/v1", &INVITE_SECRET, b"welcome");
    let invite_key = DeviceIdentity::from_seed(&invite_seed).expect("invite key");
    let legacy_invite = DeviceIdentity::from_seed(&LEGACY_INVITE_SEED).expect("invite key");
    let (c, m) = (B32(coord.id().0), B32(member.id().0));
    let (cx, mx) = (coord.x25519().public(), member.x25519().public());
    let group: [u8; 16] = sha256(&[b"caravan/group/v1".as_slice(), &c.0, &GROUP_NONCE].concat())
        [..16]
        .try_into()
        .expect("16 bytes");
    let genesis_input = [
        b"caravan/genesis/v1".as_slice(),
        &group,
        &GROUP_NONCE,
        &(GROUP_NAME.len() as u32).to_be_bytes(),
        GROUP_NAME.as_bytes(),
        COORDINATOR_NAME.as_bytes(),
    ]
    .concat();
    let mut records = BTreeSet::new();
    records.insert(MemberRecord::Genesis {
        group,
        nonce: GROUP_NONCE,
        creator: c,
        name: GROUP_NAME.into(),
        creator_name: COORDINATOR_NAME.into(),
        sig: B64(coord.sign(&genesis_input)),
    });
    let shape = cbor(&GroupShape {
        id: group,
        name: GROUP_NAME,
        keys: vec![(0, B32(EPOCH0_KEY))],
        records: &records,
    })
    .expect("cbor");
    let mut g: GroupState = ciborium::from_reader(shape.as_slice()).expect("group state");
    let genesis_hash = g.records.iter().next().expect("genesis").hash();
    let mut order: Vec<[u8; 32]> = vec![genesis_hash];
    step(
        &mut g,
        &mut order,
        &coord,
        MemberOp::Keys {
            x25519: B32(cx),
            epoch: 0,
        },
    );
    let invite = B32(invite_key.id().0);
    step(
        &mut g,
        &mut order,
        &coord,
        MemberOp::InviteOnce {
            invite,
            role: Role::FieldWorker,
        },
    );
    // The in-person invitation: the group state without keys, sealed under the
    // welcome key, after the secret.
    let welcome = cbor(&GroupShape {
        id: group,
        name: GROUP_NAME,
        keys: vec![],
        records: &g.records,
    })
    .expect("cbor");
    let welcome_records: Vec<Value> = g.records.iter().map(|r| json!(hex(&r.hash()))).collect();
    let sealed_welcome =
        envelope::seal_with_salt(&EpochKey::new(0, welcome_key), &welcome, WELCOME_SALT)
            .expect("seal");
    let invitation_text = format!(
        "caravan-invite:{}",
        base32(&[INVITE_SECRET.as_slice(), &sealed_welcome].concat())
    );
    let invitation_code = {
        let raw = [INVITE_SECRET.as_slice(), &sealed_welcome].concat();
        let c = base32(&sha256(&[b"caravan/invite-code/v1".as_slice(), &raw].concat())[..5]);
        format!("{}-{}", &c[..4], &c[4..8])
    };
    // The member joins on the single-use invitation (signed by it and the invitation key).
    let join_input = [
        b"caravan/join/v1".as_slice(),
        &group,
        &m.0,
        &invite.0,
        MEMBER_NAME.as_bytes(),
    ]
    .concat();
    let join = MemberRecord::Join {
        group,
        member: m,
        name: MEMBER_NAME.into(),
        invite,
        invite_sig: B64(invite_key.sign(&join_input)),
        sig: B64(member.sign(&join_input)),
    };
    order.push(join.hash());
    g.records.insert(join);
    let admit_key = spec_seal_key(&EPOCH0_KEY, &group, 0, &m.0, &mx, &ADMIT_EPHEMERAL);
    step(
        &mut g,
        &mut order,
        &coord,
        MemberOp::Admit {
            invite,
            member: m,
            x25519: B32(mx),
            epoch: 0,
            key: ByteBuf::from(admit_key.clone()),
            at: Some(ADMIT_AT),
        },
    );
    step(
        &mut g,
        &mut order,
        &member,
        MemberOp::Keys {
            x25519: B32(mx),
            epoch: 0,
        },
    );
    step(
        &mut g,
        &mut order,
        &coord,
        MemberOp::Invite {
            invite: B32(legacy_invite.id().0),
            role: Role::Partner,
        },
    );
    step(
        &mut g,
        &mut order,
        &coord,
        MemberOp::SetRole {
            member: m,
            role: Role::Coordinator,
        },
    );
    step(
        &mut g,
        &mut order,
        &coord,
        MemberOp::Assign {
            case: CASE,
            member: m,
            assigned: true,
        },
    );
    step(
        &mut g,
        &mut order,
        &coord,
        MemberOp::Resolve {
            case: CASE,
            changes: vec![B32([0x5c; 32]), B32([0x3d; 32])],
            accept: false,
        },
    );
    step(&mut g, &mut order, &coord, MemberOp::Revoke { member: m });
    let rekey_key = spec_seal_key(&EPOCH1_KEY, &group, 1, &c.0, &cx, &REKEY_EPHEMERAL);
    step(
        &mut g,
        &mut order,
        &coord,
        MemberOp::Rekey {
            epoch: 1,
            keys: vec![(c, ByteBuf::from(rekey_key.clone()))],
        },
    );

    // What the implementation derives from the log.
    let view = g.view();
    let members: Vec<Value> = view
        .members
        .iter()
        .map(|(d, i)| json!({"device": hex(&d.0), "role": format!("{:?}", i.role), "active": i.active}))
        .collect();
    let records_digest = g.records_digest();
    let mut erased = ERASED.to_vec();
    erased.sort();
    let mut meta = records_digest.to_vec();
    for e in &erased {
        meta.extend_from_slice(&e.0);
    }
    let meta_digest = sha256(&meta);

    // A join request from the member device, and its code.
    let request_input = [
        b"caravan/join-request/v1".as_slice(),
        &m.0,
        &mx,
        &REQUEST_NONCE,
        MEMBER_NAME.as_bytes(),
    ]
    .concat();
    let request_cbor = cbor(&RequestShape {
        device: m,
        x25519: B32(mx),
        name: MEMBER_NAME,
        nonce: REQUEST_NONCE,
        sig: B64(member.sign(&request_input)),
    })
    .expect("cbor");
    let request_text = format!("caravan-request:{}", base32(&request_cbor));
    let code =
        base32(&sha256(&[b"caravan/request-code/v1".as_slice(), &request_cbor].concat())[..10]);
    let code = format!(
        "{}-{}-{}-{}",
        &code[..4],
        &code[4..8],
        &code[8..12],
        &code[12..16]
    );

    let outbox = {
        let tag = crate::crypto::hmac_sha256(
            &EPOCH1_KEY,
            &[b"caravan/outbox/v1".as_slice(), &c.0].concat(),
        );
        hex(&tag[..8])
    };

    let dev = |name: &str, seed: &[u8; 32], id: &DeviceIdentity, pkcs8: &[u8], x: &[u8; 32]| {
        json!({"name": name, "seed": hex(seed), "pkcs8": hex(pkcs8), "public_key": hex(&id.id().0),
               "actor": hex(&id.id().actor()), "x25519_secret": hex(&hkdf32(b"caravan/x25519/v1", pkcs8, b"static")),
               "x25519_public": hex(x)})
    };
    // A bundle after the rotation: a key update under the epoch 0 key (section 14),
    // then the main envelope under the epoch 1 key.
    let update = Payload {
        keys: vec![(1, ByteBuf::from(rekey_key.clone()))],
        ..Payload::default()
    };
    let main = Payload {
        members: g.records.iter().cloned().collect(),
        ..Payload::default()
    };
    let (update_json, update_env) =
        message_json(&EpochKey::new(0, EPOCH0_KEY), &coord, &update, [0x01; 16]);
    let (main_json, main_env) =
        message_json(&EpochKey::new(1, EPOCH1_KEY), &coord, &main, [0x02; 16]);
    let bundle = [update_env, main_env].concat();

    // Under the welcome key (section 11): the pending member's join message (its Join
    // and Keys), and the coordinator's admission update (the member's Join and the
    // Admit) that precedes what it sends until the member holds the key.
    let find = |want: &dyn Fn(&MemberRecord) -> bool| {
        g.records
            .iter()
            .find(|r| want(r))
            .cloned()
            .expect("a record of the log")
    };
    let join_record = find(&|r| matches!(r, MemberRecord::Join { .. }));
    let member_keys = find(
        &|r| matches!(r, MemberRecord::Op { author, op: MemberOp::Keys { .. }, .. } if author.0 == m.0),
    );
    let admit = find(&|r| {
        matches!(
            r,
            MemberRecord::Op {
                op: MemberOp::Admit { .. },
                ..
            }
        )
    });
    let wkey = EpochKey::new(0, welcome_key);
    let join_message = Payload {
        members: vec![join_record.clone(), member_keys],
        ..Payload::default()
    };
    let admission = Payload {
        members: vec![join_record, admit],
        ..Payload::default()
    };
    let (join_message_json, _) = message_json(&wkey, &member, &join_message, [0x03; 16]);
    let (admission_json, _) = message_json(&wkey, &coord, &admission, [0x04; 16]);

    json!({
        "join_message": join_message_json,
        "admission_update": admission_json,
        "key_update_bundle": {"recipient": hex(&c.0), "key_update": update_json, "main": main_json,
                              "bundle": hex(&bundle)},
        "description": "The membership log of docs/protocol.md section 10: a group created by the coordinator, \
                        every Op kind (Keys, InviteOnce, a Join and the Admit that binds it, the member's Keys, a \
                        version-2 Invite, SetRole, Assign, Resolve, Revoke, Rekey), each with its fields, parents, \
                        signature input, signature, CBOR and hash (SHA-256 of the CBOR). 'records' is in the log's \
                        set order (section 10.3), which the records digest follows. Sealed keys use the fixed \
                        ephemeral X25519 secrets given. Also: device PKCS#8 and X25519 keys (section 10.4), the meta \
                        digest with two erased cases (section 13.1), the mailbox outbox name under the epoch 1 key \
                        (section 15), the in-person invitation (section 11: secret, derived keys, the welcome \
                        holding the records up to the InviteOnce and no key, text, code) whose use gives the Join \
                        of the log, the member's join message and the coordinator's admission update under the \
                        welcome key, a join request with its code (section 11.1), and a bundle of two envelopes \
                        (section 14): a key update under the epoch 0 key carrying the epoch 1 key sealed to the \
                        coordinator, then the main envelope (all the records) under the epoch 1 key. Byte strings \
                        are hex.",
        "devices": [
            dev("coordinator", &COORDINATOR_SEED, &coord, &coord_pkcs8, &cx),
            dev("member", &MEMBER_SEED, &member, &member_pkcs8, &mx),
        ],
        "invitation": {"secret": hex(&INVITE_SECRET), "sign_seed": hex(&invite_seed),
                       "public_key": hex(&invite.0), "welcome_key": hex(&welcome_key),
                       "welcome_routing_tag": hex(&EpochKey::new(0, welcome_key).routing_tag()),
                       "welcome_records": welcome_records, "welcome_cbor": hex(&welcome),
                       "welcome_salt": hex(&WELCOME_SALT), "sealed_welcome": hex(&sealed_welcome),
                       "text": invitation_text, "code": invitation_code, "joiner_name": MEMBER_NAME},
        "legacy_invitation_public_key": hex(&legacy_invite.id().0),
        "group": {"id": hex(&group), "nonce": hex(&GROUP_NONCE), "name": GROUP_NAME, "genesis_hash": hex(&genesis_hash)},
        "creation_order": order.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        "records": g.records.iter().map(record_json).collect::<Vec<_>>(),
        "sealed_keys": [
            {"in": "Admit", "epoch": 0, "epoch_key": hex(&EPOCH0_KEY), "recipient": hex(&m.0),
             "recipient_x25519": hex(&mx), "ephemeral_secret": hex(&ADMIT_EPHEMERAL), "sealed": hex(&admit_key)},
            {"in": "Rekey", "epoch": 1, "epoch_key": hex(&EPOCH1_KEY), "recipient": hex(&c.0),
             "recipient_x25519": hex(&cx), "ephemeral_secret": hex(&REKEY_EPHEMERAL), "sealed": hex(&rekey_key)},
        ],
        "derived": {"members": members, "epoch": view.epoch,
                    "assigned": view.assigned.iter().flat_map(|(case, ds)| ds.iter().map(move |d| json!([hex(&case.0), hex(&d.0)]))).collect::<Vec<_>>(),
                    "resolved": view.resolved.iter().map(|(h, a)| json!([hex(h), a])).collect::<Vec<_>>()},
        "records_digest": hex(&records_digest),
        "meta": {"erased": erased.iter().map(|e| hex(&e.0)).collect::<Vec<_>>(), "meta_digest": hex(&meta_digest)},
        "outbox": {"epoch_key": hex(&EPOCH1_KEY), "device": hex(&c.0), "name": outbox},
        "join_request": {"device": hex(&m.0), "x25519": hex(&mx), "name": MEMBER_NAME,
                         "nonce": hex(&REQUEST_NONCE), "signature_input": hex(&request_input),
                         "cbor": hex(&request_cbor), "text": request_text, "code": code},
    })
}

#[test]
fn membership_vectors_match_the_file() {
    let text = serde_json::to_string_pretty(&membership_vectors()).expect("json") + "\n";
    if std::env::var_os("CARAVAN_WRITE_VECTORS").is_some() {
        std::fs::write(FILE, &text).expect("write vector file");
        return;
    }
    let on_disk = std::fs::read_to_string(FILE)
        .unwrap_or_else(|e| panic!("{FILE}: {e}; run with CARAVAN_WRITE_VECTORS=1"));
    assert!(
        on_disk == text,
        "tests/vectors/membership.json differs from what the code generates; if the change \
         is intended, regenerate with CARAVAN_WRITE_VECTORS=1 and say so"
    );
}

/// The values the file states are what the implementation computes by its own paths
/// (not only by the generator's): derivation, key opening, outbox, request parsing.
#[test]
fn membership_vectors_agree_with_the_implementation() {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(FILE).expect("file")).expect("json");
    let (coord, coord_pkcs8) = device(&COORDINATOR_SEED);
    let (member, _) = device(&MEMBER_SEED);
    // ring's own PKCS#8 documents have the form the spec states.
    let generated = crate::crypto::ed25519::generate_pkcs8().expect("pkcs8");
    let generated: &[u8] = generated.as_ref();
    assert_eq!(generated.len(), 83);
    assert_eq!(generated[..16], PKCS8_PREFIX);
    assert_eq!(generated[48..51], PKCS8_MIDDLE);
    assert_eq!(
        hex(&coord.x25519().public()),
        file["devices"][0]["x25519_public"]
            .as_str()
            .expect("x25519")
    );
    assert_eq!(
        hex(&coord_pkcs8),
        file["devices"][0]["pkcs8"].as_str().expect("pkcs8")
    );
    // Each record decodes back to what re-encodes to the same bytes, and its signature
    // verifies by the implementation's own check.
    let genesis: MemberRecord =
        ciborium::from_reader(unhex(file["records"][0]["cbor"].as_str().expect("cbor")).as_slice())
            .expect("genesis");
    let mut only = BTreeSet::new();
    only.insert(genesis);
    let shape = cbor(&GroupShape {
        id: unhex(file["group"]["id"].as_str().expect("id"))
            .try_into()
            .expect("16"),
        name: GROUP_NAME,
        keys: vec![],
        records: &only,
    })
    .expect("cbor");
    let base: GroupState = ciborium::from_reader(shape.as_slice()).expect("group state");
    for r in file["records"].as_array().expect("records") {
        let bytes = unhex(r["cbor"].as_str().expect("cbor"));
        let back: MemberRecord = ciborium::from_reader(bytes.as_slice()).expect("decodes");
        assert_eq!(cbor(&back).expect("cbor"), bytes);
        assert_eq!(hex(&back.hash()), r["hash"].as_str().expect("hash"));
        let mut one = base.clone();
        let added = one.merge_records(vec![back]);
        assert_eq!(
            added,
            usize::from(r["record"] != "Genesis"),
            "{}",
            r["record"]
        );
    }
    // The sealed keys open with the implementation's own opening code.
    let group: [u8; 16] = unhex(file["group"]["id"].as_str().expect("id"))
        .try_into()
        .expect("16");
    for (i, who) in [(0usize, &member), (1, &coord)] {
        let s = &file["sealed_keys"][i];
        let sealed = unhex(s["sealed"].as_str().expect("sealed"));
        let epoch = u32::try_from(s["epoch"].as_u64().expect("epoch")).expect("u32");
        let opened = keywrap::open_key(&sealed, &group, epoch, &who.id().0, who.x25519())
            .expect("the sealed key opens for its recipient");
        assert_eq!(hex(&*opened), s["epoch_key"].as_str().expect("key"));
        assert!(keywrap::open_key(&sealed, &group, epoch + 1, &who.id().0, who.x25519()).is_none());
    }
    // Joining with the in-person invitation gives the log's Join, and the device waits
    // (pending) until a coordinator's Admit names it.
    let inv = &file["invitation"];
    let text = inv["text"].as_str().expect("text");
    assert_eq!(
        super::invitation_code(text).expect("code"),
        inv["code"].as_str().expect("code")
    );
    let joined = GroupState::join(text, &member, MEMBER_NAME).expect("the invitation joins");
    let join = joined
        .records
        .iter()
        .find(|r| matches!(r, MemberRecord::Join { .. }))
        .expect("a Join");
    assert!(file["records"]
        .as_array()
        .expect("records")
        .iter()
        .any(|r| r["hash"].as_str() == Some(hex(&join.hash()).as_str())));
    assert!(joined.view().pending.contains_key(&member.id()));
    assert!(joined.view().active(&member.id()).is_none());
    // The join message and the admission update open under the welcome key.
    let wkey = EpochKey::new(
        0,
        unhex(inv["welcome_key"].as_str().expect("key"))
            .try_into()
            .expect("32"),
    );
    for (name, sender) in [("join_message", &member), ("admission_update", &coord)] {
        let env = unhex(file[name]["envelope"].as_str().expect("envelope"));
        let (from, payload) = super::open_message(&env, |t, e| {
            (*t == wkey.routing_tag() && e == 0).then(|| wkey.clone())
        })
        .expect("opens under the welcome key");
        assert_eq!(from, sender.id(), "{name}");
        assert_eq!(payload.members.len(), 2, "{name}");
        assert!(
            payload.cases.is_empty() && payload.keys.is_empty(),
            "{name}"
        );
    }
    // The two-envelope bundle: split, open the key update, open the sealed key, open
    // the main envelope with it.
    let kb = &file["key_update_bundle"];
    let bundle = unhex(kb["bundle"].as_str().expect("bundle"));
    let parts = envelope::split(&bundle).expect("split");
    assert_eq!(parts.len(), 2);
    let k0 = EpochKey::new(0, EPOCH0_KEY);
    let (sender, update) = super::open_message(parts[0], |t, e| {
        (*t == k0.routing_tag() && e == 0).then(|| k0.clone())
    })
    .expect("the key update opens");
    assert_eq!(sender, coord.id());
    assert!(update.members.is_empty() && update.cases.is_empty());
    let (epoch, sealed) = update.keys.first().expect("a sealed key");
    let k1 = keywrap::open_key(sealed, &group, *epoch, &coord.id().0, coord.x25519())
        .expect("the key update's key opens for its recipient");
    let k1 = EpochKey::new(*epoch, *k1);
    let (_, main) = super::open_message(parts[1], |t, e| {
        (*t == k1.routing_tag() && e == 1).then(|| k1.clone())
    })
    .expect("the main envelope opens with the key from the update");
    assert_eq!(
        main.members.len(),
        file["records"].as_array().expect("records").len()
    );
    // The join request parses, verifies and has the stated code.
    let r = &file["join_request"];
    let req = JoinRequest::parse(r["text"].as_str().expect("text")).expect("request parses");
    assert_eq!(req.code(), r["code"].as_str().expect("code"));
    assert_eq!(req.device(), member.id());
    assert_eq!(req.name(), r["name"].as_str().expect("name"));
    assert_eq!(hex(req.x25519()), r["x25519"].as_str().expect("x25519"));
}

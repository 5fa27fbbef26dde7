//! Golden bytes of everything the store writes through serde (issue 17): the clear
//! header, the index snapshot, every journal/pack record (every `SyncDelta` variant
//! included), and the end marks (formats 5 and 6). Each value is built from fixed
//! bytes, with every optional field present and every enum variant in use, and its
//! CBOR must equal, byte for byte, the hex checked in at `tests/vectors/storage.json`.
//! Renaming a Rust field or variant without keeping its `#[serde(rename)]` fails here.
//!
//! Regenerate the file only with a format version bump (docs/storage-format.md,
//! "Pinned serde names"): `cargo test -p caravan-core --lib
//! store::format_golden_tests -- --ignored`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::ByteBuf;

use super::format::{
    ChunkOnly, EndIds, EndMark, EndSlot, Header, Record, StatsOnly, FORMAT_VERSION, MAGIC,
};

use crate::codec::cbor;

use crate::ids::Hash;

use super::index::{Entry, Index, Loc, PendingChange, SyncDelta, SyncState, JOURNAL};
use crate::codec::{B32, B64};
use crate::crypto::KdfParams;
use crate::model::StoredStats;
use crate::model::{CaseId, CaseSummary, ChangeSig, Timestamp};
use crate::sync::share::{Agreement, Share};
use crate::sync::{GroupState, MemberOp, Role};
use crate::tombstone::{Tombstone, TombstoneSignature};
use crate::vocab::{ErasureReason, Vocabulary};

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/storage.json");

/// `n` bytes counting up from `start`.
fn seq<const N: usize>(start: u8) -> [u8; N] {
    std::array::from_fn(|i| start.wrapping_add(i as u8))
}

fn b32(start: u8) -> B32 {
    B32(seq(start))
}

fn b64(start: u8) -> B64 {
    B64(seq(start))
}

fn case(n: u8) -> CaseId {
    CaseId(seq(n))
}

fn hash(n: u8) -> Hash {
    Hash(seq(n))
}

// ----- the group and an agreement, built through their serde shape ------------------
//
// `GroupState`'s key fields and `MemberRecord` are private to `sync::group`, and an
// `Agreement`'s key to `sync::share`: the test writes the shape serde reads and
// decodes it, then checks the decoded value's own encoding against the golden bytes.

#[derive(Serialize)]
enum MemberRecordShape {
    Genesis {
        group: [u8; 16],
        nonce: [u8; 16],
        creator: B32,
        name: String,
        creator_name: String,
        sig: B64,
    },
    Invite {
        group: [u8; 16],
        by: B32,
        invite: B32,
        sig: B64,
    },
    Join {
        group: [u8; 16],
        member: B32,
        name: String,
        invite: B32,
        invite_sig: B64,
        sig: B64,
    },
    Op {
        group: [u8; 16],
        parents: Vec<B32>,
        author: B32,
        op: MemberOp,
        sig: B64,
    },
}

#[derive(Serialize)]
struct GroupShape {
    id: [u8; 16],
    name: String,
    keys: Vec<(u32, B32)>,
    records: Vec<MemberRecordShape>,
    welcome: Vec<(B32, B32)>,
}

#[derive(Serialize)]
struct AgreementShape {
    id: [u8; 16],
    peer_name: String,
    peer_device: B32,
    key: B32,
    fields: Vec<String>,
    sharer: bool,
    shares: BTreeMap<[u8; 16], Share>,
    ended: bool,
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> T {
    ciborium::from_reader(bytes).expect("decodes")
}

/// Every `MemberOp` variant, each `Role` in use.
fn ops() -> Vec<MemberOp> {
    vec![
        MemberOp::Invite {
            invite: b32(0x10),
            role: Role::FieldWorker,
        },
        MemberOp::Keys {
            x25519: b32(0x11),
            epoch: 3,
        },
        MemberOp::SetRole {
            member: b32(0x12),
            role: Role::Coordinator,
        },
        MemberOp::Revoke { member: b32(0x13) },
        MemberOp::Rekey {
            epoch: 4,
            keys: vec![(b32(0x14), ByteBuf::from(vec![0xa1; 48]))],
        },
        MemberOp::Assign {
            case: case(0x15),
            member: b32(0x16),
            assigned: true,
        },
        MemberOp::Resolve {
            case: case(0x17),
            changes: vec![b32(0x18)],
            accept: false,
        },
        MemberOp::InviteOnce {
            invite: b32(0x19),
            role: Role::Partner,
        },
        MemberOp::Admit {
            invite: b32(0x1a),
            member: b32(0x1b),
            x25519: b32(0x1c),
            epoch: 5,
            key: ByteBuf::from(vec![0xa2; 48]),
            at: Some(1_780_000_000),
        },
    ]
}

fn group() -> GroupState {
    let id = seq(0x01);
    let mut records = vec![
        MemberRecordShape::Genesis {
            group: id,
            nonce: seq(0x02),
            creator: b32(0x03),
            name: "Shymkent team".into(),
            creator_name: "Aigerim".into(),
            sig: b64(0x04),
        },
        MemberRecordShape::Invite {
            group: id,
            by: b32(0x05),
            invite: b32(0x06),
            sig: b64(0x07),
        },
        MemberRecordShape::Join {
            group: id,
            member: b32(0x08),
            name: "Dana".into(),
            invite: b32(0x06),
            invite_sig: b64(0x09),
            sig: b64(0x0a),
        },
    ];
    for (i, op) in ops().into_iter().enumerate() {
        records.push(MemberRecordShape::Op {
            group: id,
            parents: vec![b32(0x30 + i as u8)],
            author: b32(0x03),
            op,
            sig: b64(0x40 + i as u8),
        });
    }
    let shape = GroupShape {
        id,
        name: "Shymkent team".into(),
        keys: vec![(0, b32(0x50)), (1, b32(0x51))],
        records,
        welcome: vec![(b32(0x06), b32(0x52))],
    };
    decode(&cbor(&shape).expect("cbor"))
}

fn agreement() -> Agreement {
    let mut shares = BTreeMap::new();
    shares.insert(
        seq(0x60),
        Share {
            case: case(0x61),
            referral: Some("ref-1".into()),
            withdrawn: true,
            mirrored: BTreeSet::from(["note-1".to_string()]),
        },
    );
    let shape = AgreementShape {
        id: seq(0x62),
        peer_name: "Partner NGO".into(),
        peer_device: b32(0x63),
        key: b32(0x64),
        fields: vec!["gender".into(), "referrals".into()],
        sharer: true,
        shares,
        ended: true,
    };
    decode(&cbor(&shape).expect("cbor"))
}

// ----- store values ------------------------------------------------------------------

fn summary(id: CaseId) -> CaseSummary {
    CaseSummary {
        id,
        created_at: Timestamp(1_780_000_000_000),
        updated_at: Timestamp(1_780_000_360_000),
        case_status: Some(Vocabulary::from_code("Active")),
        trafficking_status: Some(Vocabulary::from_code("Possible")),
        gender: Some(Vocabulary::from_code("Feminine")),
        age_band: Some(Vocabulary::from_code("0-8")),
        citizenship: vec![crate::vocab::Country::from_code("KZ")],
        route_countries: vec![crate::vocab::Country::from_code("RU")],
        exploitation: vec![Vocabulary::from_code("ForcedLabour")],
        referrals: 2,
        notes: 3,
        conflicts: 1,
    }
}

fn stats() -> StoredStats {
    let stat = serde_json::from_value(serde_json::json!({
        "id": case(0x70).to_hex(),
        "blind_index": "bi-1",
        "registered": 1_779_926_400_000i64,
        "trafficking_status": "Possible",
        "gender": "Feminine",
        "age_band": "0-8",
        "majority_at_registration": "Adult",
        "majority_at_exploitation": "Adult",
        "majority_at_entry": "Adult",
        "citizenship": ["KZ"],
        "exploitation": ["ForcedLabour"],
        "labour_industry": ["A_AgricultureForestryAndFishing"],
        "sexual_exploitation": ["Prostitution"],
        "means_of_control": ["PhysicalThreats"],
        "recruiter_relation": ["IntimatePartner"],
        "route": [{"kind": "Recruitment", "country": "KZ", "year": 2025}],
        "referrals": [{"service": "Education", "status": "Requested"}],
    }))
    .expect("stat record");
    StoredStats::Eligible(Box::new(stat))
}

fn tombstone() -> Tombstone {
    Tombstone {
        case: case(0x80),
        erased_at: Timestamp(1_780_000_720_000),
        reason: ErasureReason::from_code("RetentionExpired"),
        signature: Some(TombstoneSignature {
            by: seq(0x81),
            sig: seq(0x82),
        }),
    }
}

fn pending() -> Vec<PendingChange> {
    vec![PendingChange(vec![0xc0; 20], b64(0x90))]
}

/// One value of every `SyncDelta` variant.
fn deltas() -> Vec<(&'static str, SyncDelta)> {
    vec![
        ("Group", SyncDelta::Group(group())),
        (
            "Peer",
            SyncDelta::Peer {
                peer: b32(0xa0),
                updates: vec![(case(0xa1), vec![hash(0xa2)])],
                replace: true,
            },
        ),
        (
            "Cursor",
            SyncDelta::Cursor {
                name: "usb".into(),
                updates: vec![(case(0xa3), vec![hash(0xa4)])],
                replace: false,
            },
        ),
        (
            "Pending",
            SyncDelta::Pending {
                case: case(0xa5),
                changes: pending(),
            },
        ),
        ("Seen", SyncDelta::Seen { bundle: b32(0xa6) }),
        ("OutboxTombstones", SyncDelta::OutboxTombstones(7)),
        (
            "OutboxTombstonesAt",
            SyncDelta::OutboxTombstonesAt {
                name: "webdav".into(),
                count: 8,
            },
        ),
        (
            "Finished",
            SyncDelta::Finished {
                peer: b32(0xa7),
                meta: b32(0xa8),
            },
        ),
        (
            "PeerMeta",
            SyncDelta::PeerMeta {
                peer: b32(0xa9),
                meta: b32(0xaa),
            },
        ),
        (
            "Quarantine",
            SyncDelta::Quarantine {
                case: case(0xab),
                changes: pending(),
            },
        ),
        ("Agreement", SyncDelta::Agreement(agreement())),
        ("Unapplied", SyncDelta::Unapplied { case: case(0xac) }),
    ]
}

fn put() -> Record {
    Record::Put {
        lsn: 11,
        case: case(0xb0),
        full: true,
        summary: summary(case(0xb0)),
        doc: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3],
        sigs: vec![ChangeSig(seq(0xb1), seq(0xb2))],
        heads: vec![hash(0xb3)],
        stats: Some(stats()),
        request: Some(hash(0xb4)),
    }
}

fn index() -> Index {
    let mut sync = SyncState {
        group: Some(group()),
        outbox_tombstones: 4,
        last_peer: Some(b32(0xd0)),
        ..SyncState::default()
    };
    sync.peers
        .insert(b32(0xd1), HashMap::from([(case(0xd2), vec![hash(0xd3)])]));
    sync.cursors.insert(
        "usb".into(),
        HashMap::from([(case(0xd4), vec![hash(0xd5)])]),
    );
    sync.pending.insert(case(0xd6), pending());
    sync.seen.insert(b32(0xd7));
    sync.peer_meta.insert(b32(0xd8), b32(0xd9));
    sync.quarantine.insert(case(0xda), pending());
    let a = agreement();
    sync.agreements.insert(a.id, a);
    sync.outbox_tombstones_at.insert("webdav".into(), 5);

    let mut index = Index::default();
    index.gen = 9;
    index.device_key = vec![0xe0; 48];
    index.meta_frames = vec![Loc::frame(2, 64, 300)];
    index.next_lsn = 42;
    index.next_pack = 3;
    index.packs = vec![1, 2];
    index.sync = sync;
    index.group_frame = Some(Loc(2, 364, 900, 0));
    index.ledger = Some((6, hash(0xe1)));
    index.ledger_frame = Some(Loc(1, 4096, 200, 3));
    index.cases.insert(
        case(0xe2),
        Entry {
            summary: summary(case(0xe2)),
            frames: vec![Loc::frame(1, 0, 500), Loc(JOURNAL, 96, 400, 2)],
            lsn: 40,
            heads: vec![hash(0xe3)],
            old: vec![Loc(1, 500, 600, 1)],
            request: Some(hash(0xe4)),
        },
    );
    index.tombstones.insert(case(0x80), tombstone());
    index
}

fn header() -> Header {
    Header {
        magic: MAGIC.into(),
        format: FORMAT_VERSION,
        store_id: seq::<16>(0xf0).to_vec(),
        kdf: Some(KdfParams {
            memory_kib: 65_536,
            iterations: 3,
            parallelism: 1,
            salt: seq::<16>(0xf1).to_vec(),
        }),
        key_check: seq::<32>(0xf2).to_vec(),
    }
}

// ----- the vectors -------------------------------------------------------------------

/// Encodes `value`, checks that it decodes to a value with the same encoding, and
/// returns the bytes.
fn pinned<T: Serialize + DeserializeOwned>(value: &T) -> Vec<u8> {
    let bytes = cbor(value).expect("cbor");
    let back: T = decode(&bytes);
    assert_eq!(cbor(&back).expect("cbor"), bytes, "round trip");
    bytes
}

/// Every persisted top-level value, by name, with its CBOR.
fn vectors() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("header".to_string(), pinned(&header())),
        ("index".to_string(), pinned(&index())),
        ("record/Put".to_string(), pinned(&put())),
        (
            "record/Erase".to_string(),
            pinned(&Record::Erase {
                lsn: 12,
                tombstone: tombstone(),
            }),
        ),
        (
            "record/Device".to_string(),
            pinned(&Record::Device {
                lsn: 13,
                key: vec![0xc1; 48],
            }),
        ),
        (
            "record/Ledger".to_string(),
            pinned(&Record::Ledger {
                lsn: 14,
                writes: 2,
                digest: hash(0xc2),
            }),
        ),
    ];
    for (i, (name, delta)) in deltas().into_iter().enumerate() {
        out.push((
            format!("record/Sync/{name}"),
            pinned(&Record::Sync {
                lsn: 20 + i as u64,
                delta,
            }),
        ));
    }
    out.extend([
        (
            "end/slot".to_string(),
            pinned(&EndSlot {
                gen: 9,
                seq: 17,
                len: 4_321,
                next_lsn: 42,
                cases: 6,
                ids_len: 130,
            }),
        ),
        (
            "end/ids".to_string(),
            pinned(&EndIds {
                gen: 9,
                ids: vec![case(0xe2), case(0xe5)],
            }),
        ),
        (
            "end/mark-format-5".to_string(),
            pinned(&EndMark {
                gen: 9,
                len: 4_321,
                next_lsn: 42,
                cases: Some(6),
                journal_cases: vec![case(0xe2)],
            }),
        ),
    ]);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
#[ignore = "writes tests/vectors/storage.json; only with a format version bump"]
fn generate_storage_vectors() {
    let vectors: Vec<serde_json::Value> = vectors()
        .into_iter()
        .map(|(name, bytes)| serde_json::json!({ "name": name, "cbor": hex(&bytes) }))
        .collect();
    let file = serde_json::json!({
        "about": "CBOR of every value the store writes through serde, format 6 \
                  (core/src/store/format_golden_tests.rs; docs/storage-format.md, \
                  \"Pinned serde names\")",
        "format": FORMAT_VERSION,
        "vectors": vectors,
    });
    let text = serde_json::to_string_pretty(&file).expect("json") + "\n";
    std::fs::write(FILE, text).expect("write vector file");
}

#[test]
fn stored_values_encode_as_the_golden_bytes() {
    let text = std::fs::read_to_string(FILE)
        .unwrap_or_else(|e| panic!("{FILE}: {e}; run the ignored generator"));
    let file: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(file["format"], FORMAT_VERSION, "vectors of another format");
    let want: Vec<(String, String)> = file["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .map(|v| {
            (
                v["name"].as_str().expect("name").to_string(),
                v["cbor"].as_str().expect("cbor").to_string(),
            )
        })
        .collect();
    let got: Vec<(String, String)> = vectors()
        .into_iter()
        .map(|(name, bytes)| (name, hex(&bytes)))
        .collect();
    assert_eq!(
        got.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        want.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "the same values"
    );
    for ((name, got), (_, want)) in got.iter().zip(&want) {
        assert_eq!(got, want, "{name}: the stored bytes changed");
    }
}

/// The partial views that exports and case reads decode from a `Put` record read the
/// pinned names too.
#[test]
fn partial_views_read_the_golden_put() {
    let bytes = cbor(&put()).expect("cbor");
    let StatsOnly::Put { case: id, stats: s } = decode(&bytes);
    assert_eq!((id, s), (case(0xb0), Some(stats())));
    let ChunkOnly::Put {
        case: id,
        doc,
        sigs,
    } = decode(&bytes);
    assert_eq!(id, case(0xb0));
    assert_eq!(doc, vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]);
    assert_eq!(sigs, vec![ChangeSig(seq(0xb1), seq(0xb2))]);
}

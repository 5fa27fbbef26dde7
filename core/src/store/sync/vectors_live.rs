//! Test vectors of whole live sessions (`tests/vectors/live.json`, docs/protocol.md
//! sections 13 and 18): two devices of one group, A (the creator, a coordinator) and
//! B (joined with an invitation), run an inventory-path session (first contact, three
//! messages) and then a fast-path session (two messages). Every message in order, in
//! both directions: each envelope with its salt, Signed CBOR, body, signature input,
//! payload CBOR and the payload's fields (cases, records, `LiveHeader` fields and
//! CBOR), and after each session what each side keeps (section 13.1).
//!
//! The sessions run through the implementation itself (`Store::live_start`,
//! `live_receive`) on two real stores. To make them byte-reproducible the test thread's
//! randomness (session ids, salts, device keys, case ids, epoch key, invitation secret,
//! X25519 ephemeral keys) comes from a fixed seed and its clock stands still
//! (`crypto::random::seed_thread`, `model::FIXED_NOW`: test-only seams, compiled only
//! in tests). `live_vectors_match_the_file` regenerates the file this way and fails if
//! one byte differs; `CARAVAN_WRITE_VECTORS=1` rewrites it instead.
//! `tests/vectors/check.py` opens every envelope and rebuilds every payload and header
//! CBOR from its fields without this crate.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::codec::hex_encode as hex;
use crate::codec::{cbor, B32, B64};
use crate::model::{CaseId, Edit, ScalarField};
use crate::store::Store;
use crate::sync::envelope::{self, EpochKey};
use crate::sync::vectors_membership::{seq, unhex};
use crate::sync::{decode_body, open_message, DeviceId, LiveHeader, MemberRecord, Payload, Role};
use crate::StoreKey;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/live.json");

/// The seed of the test thread's random bytes while the sessions run.
const SEED: [u8; 32] = seq(0x35);
/// The standing clock: 2023-11-14 22:13:20 UTC, in milliseconds.
const NOW_MS: i64 = 1_700_000_000_000;

/// Resets the test-only seams when the generator ends (or panics).
struct Seams;

impl Seams {
    fn set() -> Seams {
        crate::crypto::seed_thread(Some(SEED));
        crate::model::FIXED_NOW.with(|c| c.set(Some(NOW_MS)));
        Seams
    }
}

impl Drop for Seams {
    fn drop(&mut self) {
        crate::crypto::seed_thread(None);
        crate::model::FIXED_NOW.with(|c| c.set(None));
    }
}

#[derive(Deserialize)]
struct SignedShape {
    sender: B32,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    sig: B64,
}

/// Section 13.1's state digest, from the text: SHA-256 over the entries sorted by case
/// id, each `case id ‖ u32 LE number of heads ‖ heads`.
fn spec_state_digest(state: &[(CaseId, Vec<[u8; 32]>)]) -> [u8; 32] {
    let mut sorted = state.to_vec();
    sorted.sort();
    let mut m = Vec::new();
    for (case, heads) in &sorted {
        m.extend_from_slice(&case.0);
        m.extend_from_slice(&(heads.len() as u32).to_le_bytes());
        for h in heads {
            m.extend_from_slice(h);
        }
    }
    crate::crypto::sha256(&m)
}

fn state_json(state: &[(CaseId, Vec<[u8; 32]>)]) -> Value {
    json!(state
        .iter()
        .map(|(c, hs)| json!([hex(&c.0), hs.iter().map(|h| hex(h)).collect::<Vec<_>>()]))
        .collect::<Vec<_>>())
}

fn live_json(l: &LiveHeader) -> Value {
    json!({
        "session": hex(&l.session),
        "step": l.step,
        "base": l.base.map(|b| hex(&b.0)),
        "inventory": l.inventory.as_ref().map(|inv| {
            inv.iter()
                .map(|(c, hs)| json!([hex(&c.0), hs.iter().map(|h| hex(&h.0)).collect::<Vec<_>>()]))
                .collect::<Vec<_>>()
        }),
        "meta_digest": hex(&l.meta_digest.0),
        "last": l.last,
        "cbor": hex(&cbor(l).expect("cbor")),
    })
}

fn payload_json(p: &Payload) -> Value {
    assert!(p.tombstones.is_empty(), "the sessions erase nothing");
    json!({
        "cases": p.cases.iter().map(|c| {
            assert!(c.doc.is_none(), "changes mode only (section 13.2)");
            json!({
                "case": hex(&c.case.0),
                "changes": c.changes.iter().map(|x| hex(x)).collect::<Vec<_>>(),
                "sigs": c.sigs.iter().map(|s| hex(&s.0)).collect::<Vec<_>>(),
                "heads": c.heads.iter().map(|h| hex(&h.0)).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
        "tombstones": [],
        "members": p.members.iter().map(|r| hex(&cbor(r).expect("cbor"))).collect::<Vec<_>>(),
        "live": p.live.as_ref().map(live_json),
        "keys": p.keys.iter().map(|(e, k)| json!([e, hex(k)])).collect::<Vec<_>>(),
    })
}

/// One message as it went over the wire: its envelopes opened with the keys of the two
/// stores, and the `LiveHeader` of its main envelope.
fn message_json(from: &str, to: &str, bytes: &[u8], keys: &[EpochKey]) -> (Value, LiveHeader) {
    let parts = envelope::split(bytes).expect("split");
    let mut envelopes = Vec::new();
    let mut live = None;
    for (i, part) in parts.iter().enumerate() {
        let parsed = envelope::parse(part).expect("parse");
        let key = keys
            .iter()
            .find(|k| k.epoch == parsed.header.epoch && k.routing_tag() == parsed.header.tag)
            .expect("the vectors' keys open every envelope");
        let signed = envelope::open(&parsed, key).expect("open");
        let s: SignedShape = ciborium::from_reader(signed.as_slice()).expect("Signed");
        let input = [
            b"caravan/message/v1".as_slice(),
            &key.routing_tag(),
            &key.epoch.to_be_bytes(),
            &s.body,
        ]
        .concat();
        assert!(DeviceId(s.sender.0).verify(&input, &s.sig.0));
        let payload = decode_body(&s.body).expect("body");
        let payload_cbor = cbor(&payload).expect("cbor");
        let main = i + 1 == parts.len();
        let kind = if main {
            "main"
        } else if !payload.keys.is_empty() {
            "key update"
        } else {
            "admission update"
        };
        if main {
            live = payload.live.clone();
        } else {
            assert!(payload.live.is_none(), "only the main envelope is live");
        }
        envelopes.push(json!({
            "kind": kind,
            "epoch": key.epoch,
            "epoch_key": hex(key.bytes()),
            "routing_tag": hex(&key.routing_tag()),
            "salt": hex(&parsed.header.salt),
            "sender": hex(&s.sender.0),
            "body_encoding": if s.body[0] == 0 { "cbor" } else { "deflate" },
            "body": hex(&s.body),
            "signature_input": hex(&input),
            "sig": hex(&s.sig.0),
            "signed_cbor": hex(&signed),
            "payload_cbor": hex(&payload_cbor),
            "payload": payload_json(&payload),
            "envelope": hex(part),
        }));
    }
    let live = live.expect("a live message");
    (
        json!({
            "from": from,
            "to": to,
            "step": live.step,
            "last": live.last,
            "length_prefix": hex(&(bytes.len() as u32).to_be_bytes()),
            "bytes": hex(bytes),
            "envelopes": envelopes,
        }),
        live,
    )
}

struct Party {
    _tmp: tempfile::TempDir,
    store: Store,
    name: &'static str,
}

fn party(name: &'static str) -> Party {
    let tmp = tempfile::tempdir().expect("tmp");
    let key = StoreKey::generate().expect("key");
    let store = Store::create(tmp.path().join("s"), &key).expect("create");
    Party {
        _tmp: tmp,
        store,
        name,
    }
}

fn memory_json(p: &Party, peer: &Party) -> Value {
    let m = p.store.live_memory(&peer.store.team().device_id());
    json!({
        "state": state_json(&m.state),
        "state_digest": hex(&spec_state_digest(&m.state)),
        "peers": m.peer_state.as_deref().map(state_json),
        "peers_digest": m.peer_state.as_deref().map(|s| hex(&spec_state_digest(s))),
        "peer_meta": m.peer_meta.map(|d| hex(&d)),
        "last_peer": m.last_peer.map(|d| hex(&d)),
    })
}

/// Runs one session, A initiating, and returns its messages and headers.
fn session(a: &mut Party, b: &mut Party, keys: &[EpochKey]) -> (Vec<Value>, Vec<LiveHeader>) {
    let (mut sa, mut msg) = a.store.live_start().expect("start");
    let mut sb = b.store.live_accept().expect("accept");
    let mut out = Vec::new();
    let mut headers = Vec::new();
    let mut from_a = true;
    loop {
        let (m, h) = if from_a {
            message_json(a.name, b.name, &msg, keys)
        } else {
            message_json(b.name, a.name, &msg, keys)
        };
        out.push(m);
        headers.push(h);
        let reply = if from_a {
            b.store.live_receive(&mut sb, &msg).expect("B receives")
        } else {
            a.store.live_receive(&mut sa, &msg).expect("A receives")
        };
        match reply {
            Some(r) => msg = r,
            None => break,
        }
        from_a = !from_a;
        assert!(out.len() < 4, "at most 4 messages");
    }
    assert!(sa.is_done() && sb.is_done(), "both sides finish");
    (out, headers)
}

/// The whole file: group, devices, both sessions and each side's state after each.
fn live_vectors() -> Value {
    let _seams = Seams::set();
    let mut a = party("A");
    let mut b = party("B");
    a.store
        .team_mut()
        .create_group("Live vectors", "Aigerim")
        .expect("group");
    let inv = a
        .store
        .team_mut()
        .invite(Role::Coordinator)
        .expect("invite");
    b.store
        .team_mut()
        .join_group(inv.as_text(), "Bakyt")
        .expect("join");
    // Admission as section 11 says: B's join message, A's admission, B's first bundle
    // under the group key (after which A forgets the welcome key).
    let send = |from: &mut Party, to: &mut Party| {
        let bundle = from
            .store
            .export_bundle(crate::store::BundleScope::Everything)
            .expect("bundle");
        to.store.import_bundle(&bundle).expect("import");
    };
    send(&mut b, &mut a);
    send(&mut a, &mut b);
    send(&mut b, &mut a);
    let case_a = a
        .store
        .add_case(&[
            Edit::set(ScalarField::CaseStatus, "Active"),
            Edit::note("met at the border post"),
        ])
        .expect("A's case");
    let case_b = b
        .store
        .add_case(&[Edit::set(ScalarField::CaseStatus, "Active")])
        .expect("B's case");
    let group = a.store.group_for_vectors();
    let mut keys = group.all_keys();
    keys.extend(group.welcome_keys().into_iter().map(|(_, k)| k));
    let records: Vec<MemberRecord> = group.records.iter().cloned().collect();
    let records_digest = group.records_digest();
    let current = group.current_key().expect("key");
    // Section 13.1: no tombstones, no quarantine.
    let meta_digest = crate::crypto::sha256(&records_digest);

    // 1. First contact: no base, so the inventory path (3 messages).
    let (first, h1) = session(&mut a, &mut b, &keys);
    assert_eq!(
        first.len(),
        3,
        "inventory path: A's inventory, B's delta and inventory, A's delta"
    );
    assert!(h1[0].base.is_none() && h1[0].inventory.is_some() && !h1[0].last);
    assert!(h1[1].inventory.is_some() && !h1[1].last);
    assert!(h1[2].inventory.is_none() && h1[2].last);
    let after_first = json!({"A": memory_json(&a, &b), "B": memory_json(&b, &a)});
    let ma = a.store.live_memory(&b.store.team().device_id());
    let mb = b.store.live_memory(&a.store.team().device_id());
    assert_eq!(ma.state, mb.state, "converged");
    assert_eq!(ma.peer_state.as_ref(), Some(&ma.state));
    assert_eq!(mb.peer_state.as_ref(), Some(&mb.state));
    assert_eq!(ma.peer_meta, Some(meta_digest));
    for h in &h1 {
        assert_eq!(h.meta_digest.0, meta_digest, "section 13.1's meta digest");
    }

    // 2. Both edit; the next session takes the fast path (2 messages).
    a.store
        .update_case(&case_a, &[Edit::set(ScalarField::CaseStatus, "FollowUp")])
        .expect("A edits");
    b.store
        .update_case(&case_b, &[Edit::note("called back the next day")])
        .expect("B edits");
    let (second, h2) = session(&mut a, &mut b, &keys);
    assert_eq!(second.len(), 2, "fast path: one round trip");
    assert_eq!(
        h2[0].base.map(|b| b.0),
        Some(spec_state_digest(&ma.state)),
        "base = digest(peers[B]) as A recorded it"
    );
    assert!(h2[0].inventory.is_none() && !h2[0].last);
    assert!(h2[1].base.is_none() && h2[1].inventory.is_none() && h2[1].last);
    let after_second = json!({"A": memory_json(&a, &b), "B": memory_json(&b, &a)});
    let ma = a.store.live_memory(&b.store.team().device_id());
    let mb = b.store.live_memory(&a.store.team().device_id());
    assert_eq!(ma.state, mb.state, "converged");
    assert_eq!(a.store.case(&case_b).expect("b's case").notes.len(), 1);

    json!({
        "about": "Two whole live sessions between two devices of one group (docs/protocol.md \
                  sections 13 and 18): A initiates both. The first is a first contact (no \
                  base: the inventory path, 3 messages); the second follows edits on both \
                  sides (A's base matches B's record of A: the fast path, 2 messages). \
                  Each message is given as sent (u32 BE length prefix, then the bytes), split \
                  into its envelopes (section 14); each envelope with its key, salt, Signed \
                  CBOR, body, signature input, payload CBOR and the payload's fields. \
                  'after' is what each side keeps (section 13.1) once the session is done; \
                  'peers' is peers[other device], 'last_peer' the other device's key.",
        "group": {
            "name": "Live vectors",
            "epoch": current.epoch,
            "epoch_key": hex(current.bytes()),
            "routing_tag": hex(&current.routing_tag()),
            "records": records.iter().map(|r| hex(&cbor(r).expect("cbor"))).collect::<Vec<_>>(),
            "records_digest": hex(&records_digest),
            "meta_digest": hex(&meta_digest),
        },
        "devices": {
            "A": {"name": "Aigerim", "public_key": hex(&a.store.team().device_id().0), "role": "Coordinator", "creator": true},
            "B": {"name": "Bakyt", "public_key": hex(&b.store.team().device_id().0), "role": "Coordinator", "creator": false},
        },
        "cases": {"A": hex(&case_a.0), "B": hex(&case_b.0)},
        "sessions": [
            {"name": "inventory path (first contact)", "messages": first, "after": after_first},
            {"name": "fast path", "messages": second, "after": after_second},
        ],
    })
}

#[test]
fn live_vectors_match_the_file() {
    let text = serde_json::to_string_pretty(&live_vectors()).expect("json") + "\n";
    if std::env::var_os("CARAVAN_WRITE_VECTORS").is_some() {
        std::fs::write(FILE, &text).expect("write vector file");
        return;
    }
    let on_disk = std::fs::read_to_string(FILE)
        .unwrap_or_else(|e| panic!("{FILE}: {e}; run with CARAVAN_WRITE_VECTORS=1"));
    assert!(
        on_disk == text,
        "tests/vectors/live.json differs from what the code generates; if the change is \
         intended, regenerate with CARAVAN_WRITE_VECTORS=1 and say so"
    );
}

/// The sessions, run again through the implementation on stores rebuilt from the same
/// seed, give the file's transcript; and each recorded message, opened by the
/// implementation's own path (`open_message`), names the sender the file names and
/// re-encodes to the file's payload CBOR.
#[test]
fn live_vectors_replay_through_the_implementation() {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(FILE).expect("file")).expect("json");
    let generated = live_vectors();
    assert_eq!(file["sessions"], generated["sessions"]);
    // Each message's Signed CBOR, opened by the implementation's own path, names the
    // device the file says, and its payload re-encodes to the file's payload CBOR.
    for s in file["sessions"].as_array().expect("sessions") {
        for m in s["messages"].as_array().expect("messages") {
            let bytes = unhex(m["bytes"].as_str().expect("hex"));
            let env = m["envelopes"]
                .as_array()
                .expect("envelopes")
                .last()
                .expect("main");
            let key = EpochKey::new(
                env["epoch"].as_u64().expect("epoch") as u32,
                unhex(env["epoch_key"].as_str().expect("k"))
                    .try_into()
                    .expect("32"),
            );
            let main = *envelope::split(&bytes)
                .expect("split")
                .last()
                .expect("main");
            let (sender, payload) = open_message(main, |_, _| Some(key.clone())).expect("opens");
            let from = m["from"].as_str().expect("from");
            assert_eq!(
                hex(&sender.0),
                file["devices"][from]["public_key"].as_str().expect("pk")
            );
            assert_eq!(
                hex(&cbor(&payload).expect("cbor")),
                env["payload_cbor"].as_str().expect("cbor")
            );
        }
    }
}

//! Two `caravan` stores syncing through the CLI: invitation, bundles, QR frames,
//! the mailbox folder and live TCP.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const PASS: &str = "correct horse battery staple";

fn caravan(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caravan"))
        .arg("--store")
        .arg(store)
        .arg("--json")
        .args(args)
        .env("CARAVAN_PASSPHRASE", PASS)
        .output()
        .expect("run caravan")
}

/// Starts `caravan sync listen` on a free loopback port for `store` (with `flags`
/// before the command and `env` set); returns the address and the process.
fn listen(store: &Path, flags: &[&str], env: &[(&str, &str)]) -> (String, std::process::Child) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_caravan"))
        .arg("--store")
        .arg(store)
        .args(flags)
        .args(["sync", "listen", "--addr", &addr])
        .env("CARAVAN_PASSPHRASE", PASS)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("listen");
    (addr, child)
}

fn ok(store: &Path, args: &[&str]) -> Value {
    let out = caravan(store, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn two_devices_sync_every_way() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    for s in [&a, &b] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    // No group yet: a clear error.
    let out = caravan(&a, &["bundle", "export", "--out", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in a group"));

    ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
    let inv = ok(&a, &["member", "invite", "--role", "coordinator"])["invitation"]
        .as_str()
        .expect("invitation")
        .to_string();
    ok(&b, &["member", "join", &inv, "--name", "Bakyt"]);
    let id = ok(
        &a,
        &[
            "case",
            "add",
            "--add",
            "citizenship=KG",
            "--note",
            "met at the bazaar",
        ],
    )["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Bundle file, both ways (b's join record reaches a with b's bundle).
    let bundle_ab = tmp.path().join("ab.cvb");
    let bundle_ba = tmp.path().join("ba.cvb");
    ok(
        &b,
        &["bundle", "export", "--out", bundle_ba.to_str().expect("p")],
    );
    ok(&a, &["bundle", "import", bundle_ba.to_str().expect("p")]);
    ok(
        &a,
        &["bundle", "export", "--out", bundle_ab.to_str().expect("p")],
    );
    let r = ok(&b, &["bundle", "import", bundle_ab.to_str().expect("p")]);
    assert_eq!(r["cases_created"], 1);
    ok(&a, &["bundle", "import", bundle_ba.to_str().expect("p")]);
    assert_eq!(
        ok(&a, &["member", "list"])
            .as_array()
            .expect("members")
            .len(),
        2
    );

    // QR frames: b edits, hands a its day as frames.
    ok(
        &b,
        &[
            "case",
            "update",
            &id[..8],
            "--add",
            "means_of_control=DebtBondage",
        ],
    );
    let qr = tmp.path().join("qr");
    let exp = ok(
        &b,
        &[
            "bundle",
            "export",
            "--since",
            "aigerim",
            "--qr",
            qr.to_str().expect("p"),
        ],
    );
    assert!(exp["qr_frames"].as_u64().expect("frames") >= 1);
    for f in std::fs::read_dir(&qr).expect("qr").flatten() {
        assert!(std::fs::metadata(f.path()).expect("m").len() <= 1000);
    }
    let r = ok(&a, &["bundle", "import", "--qr", qr.to_str().expect("p")]);
    assert_eq!(r["changes_applied"], 1);
    // A missing frame is reported, not guessed.
    let first = std::fs::read_dir(&qr)
        .expect("qr")
        .flatten()
        .next()
        .expect("frame")
        .path();
    std::fs::remove_file(first).expect("rm");
    let out = caravan(&a, &["bundle", "import", "--qr", qr.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("frames missing"));

    // Mailbox folder.
    let folder = tmp.path().join("folder");
    ok(
        &a,
        &["case", "update", &id[..8], "--set", "case_status=FollowUp"],
    );
    ok(&a, &["sync", "dir", folder.to_str().expect("p")]);
    let r = ok(&b, &["sync", "dir", folder.to_str().expect("p")]);
    assert!(r["changes"]["changes_applied"].as_u64().expect("n") >= 1);

    // Live over TCP on loopback.
    ok(
        &b,
        &["case", "update", &id[..8], "--set", "gender=Feminine"],
    );
    let (addr, listener) = listen(&b, &["--json"], &[]);
    let mut connected = None;
    for _ in 0..100 {
        let out = caravan(&a, &["sync", "connect", &addr]);
        if out.status.success() {
            connected = Some(out);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = connected.expect("connected to the listener");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["changes"]["changes_applied"], 1);
    let listened = listener.wait_with_output().expect("listener");
    assert!(
        listened.status.success(),
        "{}",
        String::from_utf8_lossy(&listened.stderr)
    );

    let show_a = ok(&a, &["case", "show", &id[..8]]);
    let show_b = ok(&b, &["case", "show", &id[..8]]);
    assert_eq!(show_a["case"], show_b["case"]);
    assert_eq!(show_a["case"]["gender"], "Feminine");
    assert_eq!(show_a["case"]["case_status"], "FollowUp");

    // A tampered bundle is refused with exit code 6 and changes nothing.
    let mut bytes = std::fs::read(&bundle_ab).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&bundle_ab, bytes).expect("write");
    let out = caravan(&b, &["bundle", "import", bundle_ab.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
}

#[test]
fn roles_are_enforced_and_a_revoked_device_is_cut_off() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    for s in [&a, &b] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
    let invited = ok(&a, &["member", "invite"]);
    let inv = invited["invitation"]
        .as_str()
        .expect("invitation")
        .to_string();
    let joined = ok(&b, &["member", "join", &inv, "--name", "Bakyt"]);
    assert_eq!(joined["role"], "field_worker");
    assert_eq!(
        joined["code"], invited["code"],
        "both screens show one code"
    );
    let ab = tmp.path().join("ab.cvb");
    let ba = tmp.path().join("ba.cvb");
    let sync = |from: &Path, to: &Path, file: &Path| {
        ok(
            from,
            &["bundle", "export", "--out", file.to_str().expect("p")],
        );
        ok(to, &["bundle", "import", file.to_str().expect("p")])
    };
    sync(&b, &a, &ba);
    let id = ok(&a, &["case", "add", "--add", "citizenship=KG"])["id"]
        .as_str()
        .expect("id")
        .to_string();
    sync(&a, &b, &ab);
    let members = ok(&a, &["member", "list"]);
    let bakyt = members
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["name"] == "Bakyt")
        .expect("Bakyt listed")
        .clone();
    assert_eq!(bakyt["role"], "field_worker");
    let short = bakyt["device"].as_str().expect("short id").to_string();

    // A field worker may not invite, erase, or edit a case it was not assigned.
    for args in [
        vec!["member", "invite"],
        vec!["erase", &id[..8], "--reason", "EnteredInError", "--yes"],
        vec![
            "case",
            "update",
            &id[..8],
            "--add",
            "means_of_control=DebtBondage",
        ],
    ] {
        let out = caravan(&b, &args);
        assert_eq!(out.status.code(), Some(7), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not permitted"));
    }
    // Once assigned, it may edit that case.
    ok(&a, &["member", "assign", &id[..8], &short]);
    sync(&a, &b, &ab);
    ok(
        &b,
        &[
            "case",
            "update",
            &id[..8],
            "--add",
            "means_of_control=DebtBondage",
        ],
    );
    let r = sync(&b, &a, &ba);
    assert_eq!(r["changes_applied"], 1);

    // Revocation: the key rotates, the device is cut off.
    ok(&a, &["member", "revoke", &short]);
    let listed = ok(&a, &["member", "list"]);
    assert!(listed
        .as_array()
        .expect("list")
        .iter()
        .any(|m| m["device"] == short.as_str() && m["active"] == false));
    ok(&a, &["bundle", "export", "--out", ab.to_str().expect("p")]);
    let out = caravan(&b, &["bundle", "import", ab.to_str().expect("p")]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "nothing after the revocation opens"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked"));
    // The refused import wrote nothing, so B may still seal with its old key; whatever
    // it sends is refused.
    ok(&b, &["bundle", "export", "--out", ba.to_str().expect("p")]);
    let out = caravan(&a, &["bundle", "import", ba.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(6), "a revoked device cannot send");
    let q = ok(&a, &["member", "quarantine"]);
    assert_eq!(q.as_array().map(Vec::len), Some(0));
}

#[test]
fn a_partner_agency_joins_from_afar_with_a_code_read_over_the_phone() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = tmp.path().join("a");
    let p = tmp.path().join("p");
    for s in [&a, &p] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    ok(
        &a,
        &["group", "create", "Almaty NGO", "--device", "Coordinator"],
    );
    let req = ok(&p, &["member", "request", "--name", "Shelter, Istanbul"]);
    let (text, code) = (
        req["request"].as_str().expect("request").to_string(),
        req["code"].as_str().expect("code").to_string(),
    );
    // A wrong code (the request was replaced on the way) issues nothing.
    let out = caravan(
        &a,
        &[
            "member",
            "invite",
            "--role",
            "partner",
            "--for",
            &text,
            "--code",
            "AAAA-AAAA-AAAA-AAAA",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let inv = ok(
        &a,
        &[
            "member", "invite", "--role", "partner", "--for", &text, "--code", &code,
        ],
    )["invitation"]
        .as_str()
        .expect("invitation")
        .to_string();
    assert!(inv.starts_with("caravan-invite-for:"));
    assert_eq!(
        ok(&p, &["member", "join", &inv, "--name", "Shelter, Istanbul"])["role"],
        "partner"
    );
}

#[test]
fn a_case_referred_to_another_agency_shares_only_the_agreed_fields_and_its_updates_come_back() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = tmp.path().join("ngo");
    let p = tmp.path().join("shelter");
    for s in [&a, &p] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    ok(&a, &["group", "create", "Almaty NGO", "--device", "Dana"]);
    ok(
        &p,
        &[
            "group",
            "create",
            "Istanbul shelter",
            "--device",
            "Coordinator",
        ],
    );
    let req = ok(&p, &["partner", "request", "--name", "Istanbul shelter"]);
    let agreed = ok(
        &a,
        &[
            "partner",
            "agree",
            "--for",
            req["request"].as_str().expect("r"),
            "--code",
            req["code"].as_str().expect("c"),
            "--fields",
            "gender,citizenship",
            "--as",
            "Almaty NGO",
        ],
    );
    let id = agreed["agreement"].as_str().expect("id").to_string();
    ok(
        &p,
        &[
            "partner",
            "accept",
            agreed["offer"].as_str().expect("o"),
            "--code",
            agreed["code"].as_str().expect("c"),
        ],
    );
    let case = ok(
        &a,
        &[
            "case",
            "add",
            "--set",
            "gender=Feminine",
            "--add",
            "citizenship=KZ",
            "--add",
            "means_of_control=DebtBondage",
            "--consent-share",
            "yes",
        ],
    )["id"]
        .as_str()
        .expect("id")
        .to_string();
    ok(
        &a,
        &[
            "partner",
            "share",
            &case[..8],
            "--agreement",
            &id[..8],
            "--service",
            "Shelter",
        ],
    );
    let out = tmp.path().join("to-shelter.cvs");
    ok(
        &a,
        &[
            "partner",
            "export",
            "--agreement",
            &id[..8],
            "--out",
            out.to_str().expect("p"),
        ],
    );
    let r = ok(&p, &["partner", "import", out.to_str().expect("p")]);
    assert_eq!(r["cases_received"], 1);
    let list = ok(&p, &["case", "list"]);
    let copy = list.as_array().expect("list")[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let shown = ok(&p, &["case", "show", &copy[..8]]);
    let shown = &shown["case"];
    assert_eq!(shown["gender"], "Feminine", "{shown}");
    assert!(shown["means_of_control"]
        .as_array()
        .is_none_or(Vec::is_empty));
    let rid = shown["referrals"][0]["id"]
        .as_str()
        .expect("referral")
        .to_string();
    ok(
        &p,
        &[
            "refer",
            &copy[..8],
            "--referral",
            &rid,
            "--status",
            "Accepted",
        ],
    );
    ok(
        &p,
        &["note", "add", &copy[..8], "Bed assigned for two weeks."],
    );
    let back = tmp.path().join("to-ngo.cvs");
    ok(
        &p,
        &[
            "partner",
            "export",
            "--agreement",
            &id[..8],
            "--out",
            back.to_str().expect("p"),
        ],
    );
    let r = ok(&a, &["partner", "import", back.to_str().expect("p")]);
    assert_eq!(
        (r["statuses_copied"].as_u64(), r["notes_copied"].as_u64()),
        (Some(1), Some(1))
    );
    let real = ok(&a, &["case", "show", &case[..8]]);
    let history = &real["case"]["referrals"][0]["history"];
    let last = history.as_array().and_then(|h| h.last()).expect("history");
    assert_eq!(last["status"], "Accepted", "{real}");
    ok(
        &a,
        &["partner", "revoke", "--agreement", &id[..8], &case[..8]],
    );
    assert_eq!(ok(&a, &["partner", "list"])[0]["shared_cases"], 0);
}

/// Observation 1 of issue 13: one in-person invitation used by two phones. A invites;
/// B and E both join with the same text; bundles go around in several orders. B stays
/// a member, E reads nothing and is not a member, A is told the invitation was used
/// again, and A's bundles keep being accepted by B.
#[test]
fn an_invitation_used_twice_admits_one_device_in_every_order() {
    for order in 0..4 {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = |n: &str| tmp.path().join(n);
        let (a, b, e) = (path("a"), path("b"), path("e"));
        for s in [&a, &b, &e] {
            ok(s, &["init", "--kdf-memory-mib", "8"]);
        }
        ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
        let inv_file = path("inv.txt");
        let inv = ok(
            &a,
            &[
                "member",
                "invite",
                "--role",
                "field_worker",
                "--out",
                inv_file.to_str().expect("p"),
            ],
        );
        let inv_id = inv["id"].as_str().expect("id").to_string();
        let at = format!("@{}", inv_file.display());
        assert_eq!(
            ok(&b, &["member", "join", &at, "--name", "Bakyt"])["admitted"],
            false
        );
        ok(&e, &["member", "join", &at, "--name", "Eve"]);
        // The invitation text itself opens nothing: E cannot even export a readable bundle
        // for the team yet, only its join message.
        let export = |s: &Path, name: &str| {
            let f = path(name);
            ok(s, &["bundle", "export", "--out", f.to_str().expect("p")]);
            f
        };
        let import = |s: &Path, f: &Path| caravan(s, &["bundle", "import", f.to_str().expect("p")]);
        let used_again = |out: &Output| {
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert_eq!(out.status.code(), Some(6), "{err}");
            assert!(
                err.contains(&format!("invitation {inv_id} was used again by"))
                    && err.contains("Eve"),
                "{err}"
            );
        };
        let b_join = export(&b, "b-join");
        let e_join = export(&e, "e-join");
        // B's join reaches A first (in person), E's at some point after, in every order
        // with A's answers.
        assert!(import(&a, &b_join).status.success());
        match order {
            0 => used_again(&import(&a, &e_join)),
            1 => {
                let r = export(&a, "a1");
                assert!(!import(&e, &r).status.success(), "E gets nothing");
                assert!(import(&b, &r).status.success());
                used_again(&import(&a, &e_join));
            }
            2 => {
                let r = export(&a, "a1");
                assert!(import(&b, &r).status.success());
                // E's join given to B instead: B refuses it.
                assert!(!import(&b, &e_join).status.success());
                used_again(&import(&a, &e_join));
                assert!(!import(&e, &r).status.success());
            }
            _ => {
                used_again(&import(&a, &e_join));
                used_again(&import(&a, &e_join));
            }
        }
        // A adds a case; its bundle reaches B and E.
        ok(
            &a,
            &[
                "case",
                "add",
                "--add",
                "citizenship=KG",
                "--note",
                "met at the bazaar",
            ],
        );
        let ab = export(&a, "ab");
        let rb = import(&b, &ab);
        assert!(
            rb.status.success(),
            "{}",
            String::from_utf8_lossy(&rb.stderr)
        );
        assert_eq!(ok(&b, &["case", "list"]).as_array().map(Vec::len), Some(1));
        let re = import(&e, &ab);
        assert!(!re.status.success(), "E reads nothing");
        assert!(
            String::from_utf8_lossy(&re.stderr).contains("admitted another device"),
            "{}",
            String::from_utf8_lossy(&re.stderr)
        );
        assert_eq!(ok(&e, &["case", "list"]).as_array().map(Vec::len), Some(0));
        // B writes; A accepts it; B stays the field worker; E is nowhere.
        ok(&b, &["case", "add", "--add", "citizenship=UZ"]);
        let ba = export(&b, "ba");
        let ra = import(&a, &ba);
        assert!(
            ra.status.success(),
            "{}",
            String::from_utf8_lossy(&ra.stderr)
        );
        for s in [&a, &b] {
            let members = ok(s, &["member", "list"]);
            let members = members.as_array().expect("list");
            assert_eq!(members.len(), 2, "order {order}: {members:?}");
            assert!(members.iter().any(|m| m["name"] == "Bakyt"
                && m["role"] == "field_worker"
                && m["active"] == true));
            assert!(!members.iter().any(|m| m["name"] == "Eve"));
        }
        // A's next bundles are still accepted by B.
        ok(&a, &["case", "add", "--add", "citizenship=TJ"]);
        let ab2 = export(&a, "ab2");
        assert!(import(&b, &ab2).status.success());
        assert_eq!(ok(&b, &["case", "list"]).as_array().map(Vec::len), Some(3));
    }
}

/// Observation 3 of issue 13: a case *created* by a revoked device, forwarded by a
/// coordinator who had not heard of the revocation, waits in quarantine; the list shows
/// what it holds, and `member quarantine accept` takes the id the list prints.
#[test]
fn a_case_created_by_a_revoked_device_can_be_seen_and_accepted() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = |n: &str| tmp.path().join(n);
    let (a, b, c) = (path("a"), path("b"), path("c"));
    for s in [&a, &b, &c] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    let hand = |from: &Path, to: &Path, name: &str| {
        let f = path(name);
        ok(from, &["bundle", "export", "--out", f.to_str().expect("p")]);
        ok(to, &["bundle", "import", f.to_str().expect("p")])
    };
    ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
    for (s, role, name) in [(&c, "coordinator", "Dana"), (&b, "field_worker", "Bakyt")] {
        let inv = ok(&a, &["member", "invite", "--role", role])["invitation"]
            .as_str()
            .expect("inv")
            .to_string();
        ok(s, &["member", "join", &inv, "--name", name]);
        hand(s, &a, "join");
        hand(&a, s, "reply");
    }
    hand(&a, &c, "a-c");
    let short = ok(&a, &["member", "list"])
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["name"] == "Bakyt")
        .expect("Bakyt")["device"]
        .as_str()
        .expect("id")
        .to_string();
    ok(
        &b,
        &[
            "case",
            "add",
            "--add",
            "citizenship=UZ",
            "--note",
            "met near the station",
        ],
    );
    let late = path("late");
    ok(
        &b,
        &["bundle", "export", "--out", late.to_str().expect("p")],
    );
    ok(&a, &["member", "revoke", &short]);
    // Dana has not heard of the revocation: she takes the case and forwards it.
    let rc = ok(&c, &["bundle", "import", late.to_str().expect("p")]);
    assert_eq!(rc["cases_created"], 1, "{rc}");
    let r = hand(&c, &a, "c-a");
    assert_eq!(r["changes_quarantined"], 1, "{r}");
    let q = ok(&a, &["member", "quarantine"]);
    let q = q.as_array().expect("list");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["new_case"], true);
    assert!(q[0]["summary"].as_str().expect("s").contains("UZ"), "{q:?}");
    assert_eq!(q[0]["notes"][0], "met near the station");
    let id = q[0]["case"].as_str().expect("id").to_string();
    assert_eq!(ok(&a, &["case", "list"]).as_array().map(Vec::len), Some(0));
    let decided = ok(&a, &["member", "quarantine", "accept", &id[..8]]);
    assert_eq!(decided["decision"], "accept");
    assert_eq!(ok(&a, &["case", "list"]).as_array().map(Vec::len), Some(1));
    assert_eq!(
        ok(&a, &["member", "quarantine"]).as_array().map(Vec::len),
        Some(0)
    );
}

/// Red team R2-8 (2026-12-05): `sync dir` exited 0 when every mailbox entry was
/// refused. A refused entry is refused input: exit 6, with a count on stderr, while
/// the device's own bundle is still written and a good entry is still imported.
#[test]
fn a_mailbox_entry_refused_gives_exit_6_and_a_count() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    for s in [&a, &b] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
    let inv = ok(&a, &["member", "invite", "--role", "coordinator"])["invitation"]
        .as_str()
        .expect("invitation")
        .to_string();
    ok(&b, &["member", "join", &inv, "--name", "Bakyt"]);
    let ba = tmp.path().join("ba.cvb");
    let ab = tmp.path().join("ab.cvb");
    ok(&b, &["bundle", "export", "--out", ba.to_str().expect("p")]);
    ok(&a, &["bundle", "import", ba.to_str().expect("p")]);
    ok(&a, &["bundle", "export", "--out", ab.to_str().expect("p")]);
    ok(&b, &["bundle", "import", ab.to_str().expect("p")]);
    ok(&a, &["case", "add", "--add", "citizenship=KG"]);
    let folder = tmp.path().join("folder");
    let junk_dir = folder.join("0011223344556677");
    std::fs::create_dir_all(&junk_dir).expect("mkdir");
    std::fs::write(junk_dir.join("0000000001.cvb"), b"not a bundle at all").expect("write");
    // Only the junk entry: refused, exit 6, said so.
    let out = caravan(&a, &["sync", "dir", folder.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 mailbox file(s) refused (0 imported)"),
        "{err}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["refused"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        report["written"].as_u64(),
        Some(1),
        "the own bundle is written"
    );
    // A good entry next to it is imported, and the junk still gives exit 6.
    let out = caravan(&b, &["sync", "dir", folder.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["imported"].as_u64(), Some(1), "{report}");
    // Without the junk: exit 0.
    std::fs::remove_dir_all(&junk_dir).expect("rm");
    ok(&a, &["sync", "dir", folder.to_str().expect("p")]);
}

/// Red team round 3, L4: a bundle whose first envelope (an admission update for another
/// device) was damaged imports the rest, and says that one envelope could not be opened.
#[test]
fn an_unopened_envelope_of_a_bundle_is_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = |n: &str| tmp.path().join(n);
    let (a, b, c) = (path("a"), path("b"), path("c"));
    for s in [&a, &b, &c] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    let export = |s: &Path, name: &str| {
        let f = path(name);
        ok(s, &["bundle", "export", "--out", f.to_str().expect("p")]);
        f
    };
    let import = |s: &Path, f: &Path| ok(s, &["bundle", "import", f.to_str().expect("p")]);
    ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
    let inv = ok(&a, &["member", "invite", "--role", "coordinator"])["invitation"]
        .as_str()
        .expect("invitation")
        .to_string();
    ok(&b, &["member", "join", &inv, "--name", "Bakyt"]);
    import(&a, &export(&b, "b1"));
    import(&b, &export(&a, "a1"));
    import(&a, &export(&b, "b2"));
    // C joins and is admitted: A's next bundle begins with C's admission update.
    let inv = ok(&a, &["member", "invite", "--role", "field_worker"])["invitation"]
        .as_str()
        .expect("invitation")
        .to_string();
    ok(&c, &["member", "join", &inv, "--name", "Cholpon"]);
    import(&a, &export(&c, "c1"));
    ok(&a, &["case", "add", "--add", "citizenship=KG"]);
    let bundle = export(&a, "a2");
    let mut bytes = std::fs::read(&bundle).expect("read");
    // The first envelope's end (protocol section 6.1: a 72-byte header at epoch 0, then
    // the ciphertext's byte-string head), and a byte of its ciphertext.
    let head = bytes[72];
    let (width, n) = match head & 31 {
        ai @ 0..=23 => (0, usize::from(ai)),
        24 => (1, usize::from(bytes[73])),
        25 => (2, usize::from(u16::from_be_bytes([bytes[73], bytes[74]]))),
        _ => panic!("a small first envelope"),
    };
    let second = 73 + width + n;
    assert!(
        second < bytes.len() && bytes[second] == 0x87,
        "two envelopes"
    );
    bytes[second - 2] ^= 0x40;
    std::fs::write(&bundle, &bytes).expect("write");
    let r = import(&b, &bundle);
    assert_eq!(r["cases_created"], 1);
    assert_eq!(r["envelopes_unopened"], 1);
    let notices = r["notices"].to_string();
    assert!(
        notices.contains(
            "1 envelope of this bundle could not be opened by this device (meant for another \
             device, or damaged)"
        ),
        "{notices}"
    );
    // Without --json, the line is printed.
    let out = Command::new(env!("CARGO_BIN_EXE_caravan"))
        .arg("--store")
        .arg(&b)
        .args(["bundle", "import", bundle.to_str().expect("p")])
        .env("CARAVAN_PASSPHRASE", PASS)
        .output()
        .expect("run");
    assert!(out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("1 envelope of this bundle could not be opened by this device"),
        "{text}"
    );
}

/// Every file of a store directory and its bytes.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// A live sync over TCP that the other device refuses (protocol section 13.5): the
/// second device on an already-used invitation is told why, not "connection closed",
/// and the refusing store is byte-identical afterwards.
#[test]
fn a_live_sync_on_a_used_invitation_is_refused_with_a_reason() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = |n: &str| tmp.path().join(n);
    let (a, b, e) = (path("a"), path("b"), path("e"));
    for s in [&a, &b, &e] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
    let inv = ok(&a, &["member", "invite", "--role", "field_worker"])["invitation"]
        .as_str()
        .expect("invitation")
        .to_string();
    ok(&b, &["member", "join", &inv, "--name", "Bakyt"]);
    ok(&e, &["member", "join", &inv, "--name", "Eve"]);
    let join = path("b-join");
    ok(
        &b,
        &["bundle", "export", "--out", join.to_str().expect("p")],
    );
    ok(&a, &["bundle", "import", join.to_str().expect("p")]);

    let before = snapshot(&a);
    let (addr, listener) = listen(&a, &[], &[]);
    let mut refused = None;
    for _ in 0..100 {
        let out = caravan(&e, &["sync", "connect", &addr]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if !err.contains("Connection refused") && !err.contains("connection refused") {
            refused = Some(out);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = refused.expect("connected to the listener");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("the other device refused this live sync (not-accepted (code 1))")
            && err.contains("used already by another device")
            && err.contains("Ask a coordinator for a new invitation"),
        "{err}"
    );
    assert!(
        !err.contains("closed the connection") && !err.contains("fill whole buffer"),
        "{err}"
    );
    let listened = listener.wait_with_output().expect("listener");
    let lerr = String::from_utf8_lossy(&listened.stderr).to_string();
    assert_eq!(listened.status.code(), Some(6), "{lerr}");
    assert!(lerr.contains("was used again by"), "{lerr}");
    assert_eq!(before, snapshot(&a), "the refusing store is byte-identical");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

fn notes(store: &Path, id: &str) -> Vec<String> {
    ok(store, &["case", "show", id])["case"]["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .map(|n| n["text"].as_str().expect("text").to_string())
        .collect()
}

/// Red team round 3 re-test (H1, issue 13): a field worker's phone restored from a
/// copy (`cp -a` of its store) writes a second version of a change; each coordinator
/// writes a note on the version it holds. Every device ends with the same case (one
/// version, decision 0031), the other version and the note on it are shown in
/// `member quarantine` (reject only), and later notes cross.
#[test]
fn a_restored_phone_cannot_split_a_case() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = |n: &str| tmp.path().join(n);
    let (a, b, c) = (path("a"), path("b"), path("c"));
    for s in [&a, &b, &c] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    let hand = |from: &Path, to: &Path| {
        let f = path("hand.cvb");
        ok(from, &["bundle", "export", "--out", f.to_str().expect("p")]);
        ok(to, &["bundle", "import", f.to_str().expect("p")])
    };
    ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
    for (s, role, name) in [(&c, "coordinator", "Dana"), (&b, "field_worker", "Bakyt")] {
        let inv = ok(&a, &["member", "invite", "--role", role])["invitation"]
            .as_str()
            .expect("inv")
            .to_string();
        ok(s, &["member", "join", &inv, "--name", name]);
        hand(s, &a);
        hand(&a, s);
    }
    let id = ok(&b, &["case", "add", "--note", "first visit"])["id"]
        .as_str()
        .expect("id")
        .to_string();
    for (x, y) in [(&b, &a), (&a, &c), (&c, &a), (&a, &b)] {
        hand(x, y);
    }
    copy_dir(&b, &path("b-backup"));
    ok(&b, &["case", "update", &id, "--note", "version 1"]);
    hand(&b, &a);
    ok(
        &a,
        &["case", "update", &id, "--note", "Aigerim on version 1"],
    );
    std::fs::remove_dir_all(&b).expect("rm");
    copy_dir(&path("b-backup"), &b);
    ok(&b, &["case", "update", &id, "--note", "version 2"]);
    hand(&b, &c);
    ok(&c, &["case", "update", &id, "--note", "Dana on version 2"]);
    let r = hand(&a, &c);
    assert_eq!(r["cases_refused"], 0, "{r}");
    assert!(
        r["notices"]
            .to_string()
            .contains("two versions of one change"),
        "{r}"
    );
    for _ in 0..2 {
        for (x, y) in [(&c, &a), (&a, &b), (&b, &c), (&c, &b), (&b, &a), (&a, &c)] {
            hand(x, y);
        }
    }
    let seen = notes(&a, &id);
    for s in [&b, &c] {
        assert_eq!(notes(s, &id), seen);
    }
    let v1 = seen.iter().any(|n| n == "version 1");
    assert!(v1 != seen.iter().any(|n| n == "version 2"), "{seen:?}");
    let lost_note = if v1 {
        "Dana on version 2"
    } else {
        "Aigerim on version 1"
    };
    for s in [&a, &c] {
        let q = ok(s, &["member", "quarantine"]);
        let q = q.as_array().expect("list");
        assert_eq!(q.len(), 1, "{q:?}");
        assert_eq!(q[0]["clashing"], 2, "{q:?}");
        assert!(q[0]["notes"].to_string().contains(lost_note), "{q:?}");
    }
    // Accepting is refused, typed, with the reason; rejecting converges.
    let refused = caravan(&a, &["member", "quarantine", "accept", &id[..8]]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("same sequence number"), "{why}");
    ok(&a, &["member", "quarantine", "reject", &id[..8]]);
    ok(&b, &["case", "update", &id, "--note", "Bakyt later"]);
    for (x, y) in [(&a, &c), (&b, &c), (&c, &a), (&c, &b)] {
        hand(x, y);
    }
    let seen = notes(&c, &id);
    assert!(seen.iter().any(|n| n == "Bakyt later"), "{seen:?}");
    for s in [&a, &b] {
        assert_eq!(notes(s, &id), seen);
    }
    for s in [&a, &b, &c] {
        assert_eq!(
            ok(s, &["member", "quarantine"]).as_array().map(Vec::len),
            Some(0)
        );
    }
}

/// Red team round 5 F2: a peer that connects and then sends one byte and nothing more
/// held `sync listen` (and a colleague waiting behind it) for as long as it liked. Now
/// the session ends after the live timeout with exit 5 and says why.
#[test]
fn a_silent_live_peer_cannot_hold_a_listening_device() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = tmp.path().join("a");
    ok(&a, &["init", "--kdf-memory-mib", "8"]);
    ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
    let (addr, listener) = listen(&a, &[], &[("CARAVAN_LIVE_TIMEOUT_SECS", "2")]);
    let mut silent = None;
    for _ in 0..200 {
        if let Ok(s) = std::net::TcpStream::connect(&addr) {
            silent = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut silent = silent.expect("connected");
    use std::io::Write;
    silent.write_all(&[0]).expect("one byte of a length");
    let started = std::time::Instant::now();
    let out = listener.wait_with_output().expect("listener");
    let took = started.elapsed();
    drop(silent);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("sent nothing for 2 s"), "{err}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
}

/// Red team round 5 F1: a device name with terminal escapes is refused where it is
/// written (exit 2), so it never reaches a coordinator's screen.
#[test]
fn a_device_name_with_terminal_escapes_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for s in [&a, &b] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
    let inv = ok(&a, &["member", "invite", "--role", "field_worker"])["invitation"]
        .as_str()
        .expect("inv")
        .to_string();
    let out = caravan(
        &b,
        &[
            "member",
            "join",
            &inv,
            "--name",
            "Evil\u{1b}]0;pwned\u{7}\u{1b}[2J",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("control characters"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "the refusal does not echo the escape: {err}"
    );
    ok(&b, &["member", "join", &inv, "--name", "Bakyt"]);
}

//! Two `caravan` stores syncing through a real WebDAV server: Apache httpd with
//! `mod_dav` (Debian's `apache2`, installed by tests/install-tools.sh), started here on
//! 127.0.0.1 with a generated configuration under target/, HTTP Basic credentials from
//! the environment. The server's files must hold no plaintext.
//!
//! Without Apache the test says so and passes, unless `CARAVAN_REQUIRE_WEBDAV=1`
//! (set by tests/run.sh once install-tools.sh has installed it), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const PASS: &str = "correct horse battery staple";
const DAV_USER: &str = "osh-team";
const DAV_PASSWORD: &str = "dav-secret-Zq8mW3";

/// The shared launcher of the demo's relay (a private module of the binary).
#[path = "../src/local_apache.rs"]
#[allow(dead_code, unreachable_pub)]
mod local_apache;

/// Apache (stopped first, when dropped) and the folder it runs in.
struct Server {
    _apache: local_apache::Apache,
    root: tempfile::TempDir,
    url: String,
}

fn apache() -> Option<Server> {
    if !local_apache::installed() {
        let msg = "Apache httpd with mod_dav is not installed (Debian: apt-get install apache2; \
                   tests/install-tools.sh does it)";
        assert!(
            std::env::var("CARAVAN_REQUIRE_WEBDAV").as_deref() != Ok("1"),
            "{msg}"
        );
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    let root = tempfile::Builder::new()
        .prefix("webdav-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("server dir");
    let apache = local_apache::start(root.path(), DAV_USER, DAV_PASSWORD).expect("apache");
    let url = format!("http://127.0.0.1:{}/caravan/", apache.port);
    Some(Server {
        _apache: apache,
        root,
        url,
    })
}

fn caravan(store: &Path, args: &[&str], dav_password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caravan"));
    cmd.arg("--store")
        .arg(store)
        .arg("--json")
        .args(args)
        .env("CARAVAN_PASSPHRASE", PASS)
        .env("CARAVAN_WEBDAV_USER", DAV_USER)
        .env_remove("CARAVAN_WEBDAV_PASSWORD_FILE");
    match dav_password {
        Some(p) => cmd.env("CARAVAN_WEBDAV_PASSWORD", p),
        None => cmd.env_remove("CARAVAN_WEBDAV_PASSWORD"),
    };
    cmd.stdin(Stdio::null()).output().expect("run caravan")
}

fn ok(store: &Path, args: &[&str]) -> Value {
    let out = caravan(store, args, Some(DAV_PASSWORD));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn two_stores_sync_through_apache_mod_dav_and_the_server_sees_only_ciphertext() {
    let Some(server) = apache() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for s in [&a, &b] {
        ok(s, &["init", "--kdf-memory-mib", "8"]);
    }
    ok(&a, &["group", "create", "Osh team", "--device", "Aigerim"]);
    let inv = ok(&a, &["member", "invite", "--role", "coordinator"])["invitation"]
        .as_str()
        .expect("invitation")
        .to_string();
    ok(&b, &["member", "join", &inv, "--name", "Bakyt"]);
    // Admission: b's join request reaches its coordinator by hand, once.
    let join = tmp.path().join("join.cvb");
    ok(
        &b,
        &["bundle", "export", "--out", join.to_str().expect("p")],
    );
    ok(&a, &["bundle", "import", join.to_str().expect("p")]);
    let reply = tmp.path().join("reply.cvb");
    ok(
        &a,
        &["bundle", "export", "--out", reply.to_str().expect("p")],
    );
    ok(&b, &["bundle", "import", reply.to_str().expect("p")]);
    let id = ok(
        &a,
        &[
            "case",
            "add",
            "--add",
            "citizenship=KG",
            "--note",
            "WEBDAVSENTINEL brick kiln",
        ],
    )["id"]
        .as_str()
        .expect("id")
        .to_string();
    let url = server.url.as_str();

    // a writes its bundle (creating the mailbox and its outbox); b reads it.
    let r = ok(&a, &["sync", "dir", url]);
    assert_eq!(r["written"], 1, "{r}");
    let r = ok(&b, &["sync", "dir", url]);
    assert_eq!(r["changes"]["cases_created"], 1, "{r}");
    assert_eq!(r["refused"].as_array().map(Vec::len), Some(0), "{r}");
    // b edits; a gets the edit back.
    ok(
        &b,
        &["case", "update", &id[..8], "--set", "case_status=FollowUp"],
    );
    ok(&b, &["sync", "dir", url]);
    let r = ok(&a, &["sync", "dir", url]);
    assert!(
        r["changes"]["changes_applied"].as_u64().expect("n") >= 1,
        "{r}"
    );
    let shown = ok(&a, &["case", "show", &id[..8]]);
    assert!(shown.to_string().contains("FollowUp"), "{shown}");
    // Nothing new: nothing read, nothing written.
    let r = ok(&a, &["sync", "dir", url]);
    assert_eq!(
        (r["imported"].as_u64(), r["written"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );

    // The server's files (bundles, lock database, log) hold no plaintext.
    let bundles = files(&server.root.path().join("dav"));
    assert!(bundles.len() >= 3, "{bundles:?}");
    for f in files(server.root.path()) {
        if f.ends_with("httpd.conf") || f.ends_with("htpasswd") {
            continue;
        }
        let bytes = std::fs::read(&f).expect("read");
        for needle in [
            "WEBDAVSENTINEL",
            "brick kiln",
            "Osh team",
            "Aigerim",
            "Bakyt",
            &id,
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} in {}",
                f.display()
            );
        }
    }

    // A wrong password: a typed error (exit 2 … as every i/o failure), no password
    // in the message, nothing written.
    let before = files(&server.root.path().join("dav")).len();
    let out = caravan(&a, &["sync", "dir", url], Some("wrong-password-Xy"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(
        !err.contains("wrong-password-Xy") && !err.contains(DAV_PASSWORD),
        "{err}"
    );
    assert_eq!(files(&server.root.path().join("dav")).len(), before);

    // The password from a file works too.
    let pw = tmp.path().join("dav-password");
    std::fs::write(&pw, format!("{DAV_PASSWORD}\n")).expect("pw");
    let out = Command::new(env!("CARGO_BIN_EXE_caravan"))
        .arg("--store")
        .arg(&a)
        .args(["--json", "sync", "dir", url])
        .env("CARAVAN_PASSPHRASE", PASS)
        .env("CARAVAN_WEBDAV_USER", DAV_USER)
        .env_remove("CARAVAN_WEBDAV_PASSWORD")
        .env("CARAVAN_WEBDAV_PASSWORD_FILE", &pw)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Plain http to another machine is refused before anything is sent.
    let out = caravan(
        &a,
        &["sync", "dir", "http://192.0.2.1/caravan/"],
        Some(DAV_PASSWORD),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("https"));
}

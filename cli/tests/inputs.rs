//! Inputs from outside through the `caravan` command, as the red team fed them
//! (findings F5, F6, F7 of the issue-14 review): `@FILE` arguments naming /dev/zero,
//! bundles that are FIFOs or devices, a FIFO in a mailbox. Each must be refused at
//! once, with a clear message, never read without bound or waited on.

use std::path::Path;
use std::process::{Command, Output};

const PASS: &str = "correct horse battery staple";

/// Runs caravan under `timeout`: a blocked read shows as exit 124, not a hung test.
fn caravan(store: &Path, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_caravan"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("CARAVAN_PASSPHRASE", PASS)
        .env_remove("CARAVAN_LANG")
        .output()
        .expect("run caravan")
}

fn refused(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_ne!(out.status.code(), Some(124), "{what}: blocked");
    assert!(!out.status.success(), "{what}: accepted: {err}");
    assert!(err.contains("not a regular file"), "{what}: {err}");
    assert!(!err.contains("that bytes"), "{what}: {err}");
    err
}

#[test]
fn devices_and_fifos_are_refused_unread() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    assert!(caravan(&store, &["init", "--kdf-memory-mib", "8"])
        .status
        .success());
    let fifo = tmp.path().join("fifo.cvb");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let fifo_arg = format!("@{}", fifo.display());
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "partner accept @/dev/zero",
            vec!["partner", "accept", "--code", "1234", "@/dev/zero"],
        ),
        (
            "member join @/dev/zero",
            vec!["member", "join", "--name", "x", "@/dev/zero"],
        ),
        (
            "partner accept @fifo",
            vec!["partner", "accept", "--code", "1234", &fifo_arg],
        ),
        (
            "bundle import /dev/zero",
            vec!["bundle", "import", "/dev/zero"],
        ),
        (
            "bundle import fifo",
            vec!["bundle", "import", fifo.to_str().expect("utf8")],
        ),
        (
            "partner import /dev/zero",
            vec!["partner", "import", "/dev/zero"],
        ),
    ];
    for (what, args) in cases {
        refused(&caravan(&store, &args), what);
    }
    // The store is not left locked or changed by the refusals.
    let out = caravan(&store, &["case", "add", "--set", "case_status=Active"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Red team round 3 (L1): a bundle or share file over the limit is refused from its
/// metadata before the store is unlocked, so refusing a 1 GB junk file costs neither
/// the passphrase's key derivation (64 MiB of memory by default) nor a read. Shown
/// here by the refusal coming without any passphrase at all.
#[test]
fn oversized_bundles_are_refused_before_the_store_is_unlocked() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    assert!(caravan(&store, &["init", "--kdf-memory-mib", "8"])
        .status
        .success());
    let junk = tmp.path().join("junk.cvb");
    std::fs::File::create(&junk)
        .and_then(|f| f.set_len(1 << 30))
        .expect("sparse junk");
    let junk = junk.to_str().expect("path");
    let at_junk = format!("@{junk}");
    for args in [
        vec!["bundle", "import", junk],
        vec!["partner", "import", junk],
        vec!["member", "join", "--name", "x", &at_junk],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_caravan"))
            .arg("--store")
            .arg(&store)
            .args(&args)
            .env_remove("CARAVAN_PASSPHRASE")
            .env_remove("CARAVAN_PASSPHRASE_FILE")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{args:?}: {err}");
        assert!(err.contains("more than the limit"), "{args:?}: {err}");
    }
}

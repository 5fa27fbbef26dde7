//! Two `caravan` stores syncing through a real WebDAV server: Apache httpd with
//! `mod_dav` (Debian's `apache2`, installed by tests/install-tools.sh), started here on
//! 127.0.0.1 with a generated configuration under target/, HTTP Basic credentials from
//! the environment. The server's files must hold no plaintext.
//!
//! Without Apache the test says so and passes, unless `CARAVAN_REQUIRE_WEBDAV=1`
//! (set by tests/run.sh once install-tools.sh has installed it), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const PASS: &str = "correct horse battery staple";
const DAV_USER: &str = "osh-team";
const DAV_PASSWORD: &str = "dav-secret-Zq8mW3";
const APACHE: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";

struct Apache {
    root: tempfile::TempDir,
    child: Child,
    url: String,
}

impl Drop for Apache {
    fn drop(&mut self) {
        // SIGTERM: the parent stops its workers too.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn apache() -> Option<Apache> {
    if !Path::new(APACHE).exists() || !Path::new(MODULES).join("mod_dav.so").exists() {
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
    let dir = root.path();
    let dav = dir.join("dav");
    let lock = dir.join("lock");
    for d in [&dav, &lock] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let htpasswd = dir.join("htpasswd");
    let made = Command::new("htpasswd")
        .args(["-cbB"])
        .arg(&htpasswd)
        .args([DAV_USER, DAV_PASSWORD])
        .output()
        .expect("htpasswd (apache2-utils)");
    assert!(made.status.success(), "htpasswd failed");
    // Apache refuses to serve as root: as root, its workers run as nobody, which must
    // be able to write the DAV and lock folders.
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let user = if root_user {
        use std::os::unix::fs::PermissionsExt;
        for d in [dir, dav.as_path(), lock.as_path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        std::fs::set_permissions(&htpasswd, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        "User nobody\nGroup nogroup\n"
    } else {
        ""
    };
    let d = dir.display();
    let conf = format!(
        "ServerRoot \"{d}\"\nListen 127.0.0.1:{port}\nServerName 127.0.0.1\n\
         PidFile \"{d}/httpd.pid\"\nErrorLog \"{d}/error.log\"\nLogLevel warn\n\
         LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so\n\
         LoadModule authz_core_module {MODULES}/mod_authz_core.so\n\
         LoadModule authn_core_module {MODULES}/mod_authn_core.so\n\
         LoadModule authn_file_module {MODULES}/mod_authn_file.so\n\
         LoadModule auth_basic_module {MODULES}/mod_auth_basic.so\n\
         LoadModule authz_user_module {MODULES}/mod_authz_user.so\n\
         LoadModule dav_module {MODULES}/mod_dav.so\n\
         LoadModule dav_fs_module {MODULES}/mod_dav_fs.so\n\
         {user}StartServers 1\nMinSpareServers 1\nMaxSpareServers 2\nMaxRequestWorkers 4\n\
         DavLockDB \"{d}/lock/db\"\nDocumentRoot \"{d}/dav\"\n\
         <Directory \"{d}/dav\">\n  Dav On\n  AuthType Basic\n  AuthName caravan\n\
         \x20 AuthUserFile \"{d}/htpasswd\"\n  Require valid-user\n</Directory>\n"
    );
    let conf_path = dir.join("httpd.conf");
    std::fs::write(&conf_path, conf).expect("conf");
    // Its own process group: stopping, Apache signals its whole group.
    let child = std::os::unix::process::CommandExt::process_group(&mut Command::new(APACHE), 0)
        .arg("-f")
        .arg(&conf_path)
        .arg("-DFOREGROUND")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start apache");
    let mut server = Apache {
        url: format!("http://127.0.0.1:{port}/caravan/"),
        root,
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            let log =
                std::fs::read_to_string(server.root.path().join("error.log")).unwrap_or_default();
            panic!("apache exited ({status}): {log}");
        }
        assert!(Instant::now() < deadline, "apache did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(server)
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

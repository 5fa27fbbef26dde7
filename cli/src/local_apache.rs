//! Apache httpd with `mod_dav` (Debian's `apache2`) on 127.0.0.1, serving a folder over
//! WebDAV with HTTP Basic: the relay of the demo's cross-border step, and the real
//! server of the WebDAV tests (`cli/tests/webdav.rs` includes this file).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const APACHE: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";

/// Whether Apache with `mod_dav` and `htpasswd` are installed.
pub(crate) fn installed() -> bool {
    Path::new(APACHE).exists()
        && Path::new(MODULES).join("mod_dav.so").exists()
        && Command::new("htpasswd")
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
}

/// A running Apache, stopped (with its workers) when dropped.
pub(crate) struct Apache {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// The folder it serves; the WebDAV collection `/caravan/` is `dav/caravan` in it.
    pub(crate) dav: PathBuf,
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

/// Starts Apache on a free loopback port with its configuration, logs and files under
/// `dir`, one user `user` / `password`, and an empty collection `/caravan/`.
pub(crate) fn start(dir: &Path, user: &str, password: &str) -> Result<Apache, String> {
    let dav = dir.join("dav");
    let lock = dir.join("lock");
    for d in [&dav.join("caravan"), &lock] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let htpasswd = dir.join("htpasswd");
    let made = Command::new("htpasswd")
        .arg("-cbB")
        .arg(&htpasswd)
        .args([user, password])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("htpasswd: {e}"))?;
    if !made.success() {
        return Err("htpasswd failed".into());
    }
    // Apache will not serve as root: its workers then run as nobody, which must be able
    // to write the DAV and lock folders.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let run_as = if root {
        use std::os::unix::fs::PermissionsExt;
        let open = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
                .map_err(|e| e.to_string())
        };
        for d in [dir, &dav, &dav.join("caravan"), &lock] {
            open(d, 0o777)?;
        }
        open(&htpasswd, 0o644)?;
        "User nobody\nGroup nogroup\n"
    } else {
        ""
    };
    let d = dir.display();
    let modules = [
        "mpm_prefork",
        "authz_core",
        "authn_core",
        "authn_file",
        "auth_basic",
        "authz_user",
        "dav",
        "dav_fs",
    ]
    .map(|m| format!("LoadModule {m}_module {MODULES}/mod_{m}.so\n"))
    .concat();
    let conf = format!(
        "ServerRoot \"{d}\"\nListen 127.0.0.1:{port}\nServerName 127.0.0.1\n\
         PidFile \"{d}/httpd.pid\"\nErrorLog \"{d}/error.log\"\nLogLevel warn\n{modules}\
         {run_as}StartServers 1\nMinSpareServers 1\nMaxSpareServers 2\nMaxRequestWorkers 4\n\
         DavLockDB \"{d}/lock/db\"\nDocumentRoot \"{d}/dav\"\n\
         <Directory \"{d}/dav\">\n  Dav On\n  AuthType Basic\n  AuthName caravan\n\
         \x20 AuthUserFile \"{d}/htpasswd\"\n  Require valid-user\n</Directory>\n"
    );
    let conf_path = dir.join("httpd.conf");
    std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    // Its own process group: stopping, Apache signals its whole group, which must not
    // be its caller's.
    let child = std::os::unix::process::CommandExt::process_group(&mut Command::new(APACHE), 0)
        .arg("-f")
        .arg(&conf_path)
        .arg("-DFOREGROUND")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {APACHE}: {e}"))?;
    let mut server = Apache { child, port, dav };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            return Err(format!("apache exited ({status}): {log}"));
        }
        if Instant::now() > deadline {
            return Err("apache did not listen within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(server)
}

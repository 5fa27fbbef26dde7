//! `caravan group | bundle | sync`: teams, store-and-forward bundles, QR frames,
//! the mailbox folder and live sync over TCP.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use caravan_core::store::inputs;
use caravan_core::sync::qr;
use caravan_core::{BundleScope, Error, LiveSession, Result, Store, SyncReport};
use clap::Subcommand;
use serde_json::json;

use crate::inputs::io;
use crate::output::say as out;

/// `caravan group ...`
#[derive(Debug, Subcommand)]
pub(crate) enum GroupCommand {
    /// Create a team with this device as its first member and coordinator.
    Create {
        /// The team's name (e.g. "Shymkent outreach").
        name: String,
        /// A name for this device that colleagues will see (no personal data).
        #[arg(long)]
        device: String,
    },
}

/// `caravan bundle ...`
#[derive(Debug, Subcommand)]
pub(crate) enum BundleCommand {
    /// Write an encrypted bundle for a USB stick, a messenger or QR codes.
    Export {
        /// Only what changed since the last bundle for this target (e.g. a colleague's name).
        #[arg(long)]
        since: Option<String>,
        /// The bundle file to write.
        #[arg(long, required_unless_present = "qr")]
        out: Option<PathBuf>,
        /// Also (or instead) write QR frames of at most 1,000 bytes into this directory.
        #[arg(long)]
        qr: Option<PathBuf>,
    },
    /// Import bundle files, or a directory of QR frames (any order, duplicates ignored).
    Import {
        /// Bundle files.
        files: Vec<PathBuf>,
        /// A directory of scanned QR frames.
        #[arg(long)]
        qr: Option<PathBuf>,
    },
}

/// `caravan sync ...`
#[derive(Debug, Subcommand)]
pub(crate) enum SyncCommand {
    /// Sync through a shared mailbox (holds ciphertext only): a folder, or a WebDAV
    /// server's folder (`https://cloud.example.org/remote.php/dav/files/team/caravan/`;
    /// user and password from CARAVAN_WEBDAV_USER and CARAVAN_WEBDAV_PASSWORD, or
    /// CARAVAN_WEBDAV_PASSWORD_FILE, or a prompt).
    Dir {
        /// The folder, or an https:// URL (http:// only to this machine).
        path: PathBuf,
    },
    /// Wait for one colleague to connect, and sync live.
    Listen {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7700")]
        addr: String,
    },
    /// Connect to a colleague's `caravan sync listen` and sync live.
    Connect {
        /// HOST:PORT.
        addr: String,
    },
}

fn report_json(r: &SyncReport) -> serde_json::Value {
    json!({
        "cases_created": r.cases_created,
        "cases_updated": r.cases_updated,
        "changes_applied": r.changes_applied,
        "cases_erased": r.cases_erased,
        "cases_waiting": r.cases_waiting,
        "ignored_erased": r.ignored_erased,
        "members_added": r.members_added,
        "changes_quarantined": r.changes_quarantined,
        "cases_refused": r.cases_refused,
        "conflicts_created": r.conflicts_created,
        "changes_dropped": r.changes_dropped,
        "dropped": r.dropped,
        "notices": r.notices,
        "envelopes_unopened": r.envelopes_unopened,
        "changed": r.changed.iter().map(|c| c.to_hex()).collect::<Vec<_>>(),
    })
}

fn report_text(r: &SyncReport) -> String {
    let mut s = format!(
        "{} new case(s), {} updated, {} change(s) applied",
        r.cases_created, r.cases_updated, r.changes_applied
    );
    if r.cases_erased > 0 {
        s.push_str(&format!(", {} erased", r.cases_erased));
    }
    if r.cases_waiting > 0 {
        s.push_str(&format!(
            ", {} waiting for earlier bundles",
            r.cases_waiting
        ));
    }
    if r.members_added > 0 {
        s.push_str(&format!(", {} membership record(s)", r.members_added));
    }
    s.push_str(&format!(
        ", {} conflict(s) created, {} change(s) quarantined, {} change(s) dropped",
        r.conflicts_created, r.changes_quarantined, r.changes_dropped
    ));
    if r.changes_quarantined > 0 {
        s.push_str(" (see `caravan member quarantine`)");
    }
    for why in &r.dropped {
        s.push_str(&format!("; dropped: {why}"));
    }
    for notice in &r.notices {
        s.push_str(&format!("\nnotice: {notice}"));
    }
    s
}

/// Runs a group command.
pub(crate) fn group(store: &mut Store, json: bool, cmd: GroupCommand) -> Result<()> {
    match cmd {
        GroupCommand::Create { name, device } => {
            store.team_mut().create_group(&name, &device)?;
            out(
                json,
                json!({"group": name}),
                format!("Created team {name:?}. Invite colleagues with `caravan member invite --role field_worker`.\n"),
            );
        }
    }
    Ok(())
}

/// Runs a bundle command.
/// Refuses the files a `bundle import` names from their metadata (not a regular file,
/// over the limit) before the store is unlocked: a 1 GB junk file then costs neither
/// the passphrase's key derivation nor a read. The import reads them again, bounded.
pub(crate) fn check_bundle_inputs(cmd: &BundleCommand) -> Result<()> {
    if let BundleCommand::Import { files, qr } = cmd {
        for f in files {
            inputs::check_input(f, inputs::MAX_BUNDLE_FILE, "bundle")?;
        }
        if let Some(dir) = qr {
            for entry in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
                inputs::check_input(&entry.path(), inputs::MAX_QR_FRAME_FILE, "QR frame")?;
            }
        }
    }
    Ok(())
}

pub(crate) fn bundle(store: &mut Store, json: bool, cmd: BundleCommand) -> Result<()> {
    match cmd {
        BundleCommand::Export {
            since,
            out: file,
            qr: qr_dir,
        } => {
            let scope = since.map_or(BundleScope::Everything, BundleScope::SinceLast);
            let bytes = store.export_bundle(scope)?;
            if let Some(f) = &file {
                std::fs::write(f, &bytes).map_err(io(f))?;
            }
            let mut frames = 0;
            if let Some(dir) = &qr_dir {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                let parts = qr::split(&bytes, qr::DEFAULT_MAX_FRAME)?;
                frames = parts.len();
                for (i, f) in parts.iter().enumerate() {
                    let p = dir.join(format!("frame-{:04}-of-{:04}.bin", i + 1, frames));
                    std::fs::write(&p, f).map_err(io(&p))?;
                }
            }
            out(
                json,
                json!({"bytes": bytes.len(), "qr_frames": frames}),
                format!(
                    "Bundle of {} bytes written{}.\n",
                    bytes.len(),
                    if frames > 0 {
                        format!(" ({frames} QR frame(s) of ≤ 1,000 bytes)")
                    } else {
                        String::new()
                    }
                ),
            );
        }
        BundleCommand::Import { files, qr: qr_dir } => {
            let mut bundles: Vec<(String, Vec<u8>)> = Vec::new();
            for f in &files {
                let bytes = inputs::read_bounded(f, inputs::MAX_BUNDLE_FILE, "bundle")?;
                bundles.push((f.display().to_string(), bytes));
            }
            if let Some(dir) = &qr_dir {
                let mut r = qr::Reassembler::new();
                let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                    .map_err(io(dir))?
                    .flatten()
                    .map(|e| e.path())
                    .collect();
                paths.sort();
                for p in paths {
                    let frame = inputs::read_bounded(&p, inputs::MAX_QR_FRAME_FILE, "QR frame")?;
                    r.push(&frame)?;
                }
                if !r.is_complete() {
                    return Err(Error::InvalidInput {
                        field: "qr frames".into(),
                        reason: format!("frames missing: {:?}; scan them too", r.missing()),
                    });
                }
                bundles.push((dir.display().to_string(), r.finish()?));
            }
            if bundles.is_empty() {
                return Err(Error::InvalidInput {
                    field: "import".into(),
                    reason: "give bundle files or --qr DIR".into(),
                });
            }
            let mut total = SyncReport::default();
            for (name, b) in bundles {
                let r = store.import_bundle(&b)?;
                if !json {
                    println!("{name}: {}", report_text(&r));
                }
                total += &r;
            }
            if json {
                println!("{}", report_json(&total));
            }
        }
    }
    Ok(())
}

/// Runs a sync command.
pub(crate) fn sync(store: &mut Store, json: bool, cmd: SyncCommand) -> Result<()> {
    match cmd {
        SyncCommand::Dir { path } => {
            let r = match path.to_str().filter(|p| p.contains("://")) {
                Some(url) => {
                    let mailbox = crate::webdav::mailbox(url)?;
                    store.sync_through(&mailbox, &mut |_, _| true)?
                }
                None => store.sync_mailbox(&path)?,
            };
            for refused in &r.refused {
                eprintln!("warning: refused {refused}");
            }
            if r.deferred > 0 {
                eprintln!(
                    "note: {} bundle(s) left for the next sync (at most {} new ones are read \
                     from one outbox per sync); sync again",
                    r.deferred,
                    caravan_core::MAX_READS_PER_OUTBOX
                );
            }
            out(
                json,
                json!({"imported": r.bundles_imported, "written": r.bundles_written, "bytes_read": r.bytes_read,
                       "bytes_written": r.bytes_written, "refused": r.refused, "deferred": r.deferred,
                       "pruned": r.bundles_pruned, "changes": report_json(&r.changes)}),
                format!(
                    "Mailbox: read {} bundle(s) ({} bytes), wrote {} ({} bytes). {}\n",
                    r.bundles_imported,
                    r.bytes_read,
                    r.bundles_written,
                    r.bytes_written,
                    report_text(&r.changes)
                ),
            );
            // A refused entry is refused input even when the rest went through: say how
            // many, and exit 6 (red team R2-8: every entry refused exited 0).
            if !r.refused.is_empty() {
                eprintln!(
                    "caravan: {} mailbox file(s) refused ({} imported); nothing of the \
                     refused files was applied",
                    r.refused.len(),
                    r.bundles_imported
                );
                crate::unlock::INPUT_REFUSED.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        SyncCommand::Listen { addr } => {
            // Normally handled by `listen` (which does not hold the store while waiting).
            let listener = TcpListener::bind(&addr).map_err(io(Path::new(&addr)))?;
            if !json {
                eprintln!("Waiting for a colleague on {addr} … (the store is held meanwhile)");
            }
            let (stream, _) = listener.accept().map_err(io(Path::new(&addr)))?;
            timed(&stream)?;
            let session = store.live_accept()?;
            let s = run_live(store, stream, session, None, json)?;
            finish(json, &s);
        }
        SyncCommand::Connect { addr } => {
            let stream = TcpStream::connect(&addr).map_err(io(Path::new(&addr)))?;
            timed(&stream)?;
            let (session, first) = store.live_start()?;
            let s = run_live(store, stream, session, Some(first), json)?;
            finish(json, &s);
        }
    }
    Ok(())
}

/// `sync listen`: checks the passphrase and the store, then waits for a colleague
/// **without holding the store** (other commands work meanwhile), and opens it again
/// only for the session.
pub(crate) fn listen(dir: &Path, json: bool, addr: &str) -> Result<()> {
    let pass = crate::unlock::ask()?;
    // The passphrase and the store are checked now, not after the wait.
    drop(crate::unlock::open_with(dir, &pass)?);
    let listener = TcpListener::bind(addr).map_err(io(Path::new(addr)))?;
    if !json {
        eprintln!("Waiting for a colleague on {addr} … (the store stays usable meanwhile)");
    }
    let (stream, _) = listener.accept().map_err(io(Path::new(addr)))?;
    timed(&stream)?;
    let mut store = crate::unlock::open_with(dir, &pass)?;
    let session = store.live_accept()?;
    let s = run_live(&mut store, stream, session, None, json)?;
    finish(json, &s);
    Ok(())
}

fn finish(json: bool, s: &LiveSession) {
    out(
        json,
        json!({"messages": s.messages_sent + s.messages_received, "bytes_sent": s.bytes_sent,
               "bytes_received": s.bytes_received, "changes": report_json(&s.report)}),
        format!(
            "Live sync done: {} message(s), {} bytes sent, {} bytes received. {}\n",
            s.messages_sent + s.messages_received,
            s.bytes_sent,
            s.bytes_received,
            report_text(&s.report)
        ),
    );
}

/// Largest message accepted from the network.
const MAX_MESSAGE: usize = 64 << 20;

/// How long a live peer may stay silent (no byte read or written) before the session
/// ends: 60 s, or `CARAVAN_LIVE_TIMEOUT_SECS` (red team round 5 F2: a silent or
/// dropped peer held `sync listen` and `sync connect` for as long as it liked).
fn live_timeout() -> Duration {
    let secs = std::env::var("CARAVAN_LIVE_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// The slowest a message may arrive: a peer trickling bytes cannot hold the session
/// longer than [`live_timeout`] plus one second per 4 KiB of the message.
const MIN_BYTES_PER_SEC: u64 = 4096;

/// Sets the read and write timeouts of a live session's connection.
fn timed(stream: &TcpStream) -> Result<()> {
    let t = Some(live_timeout());
    stream
        .set_read_timeout(t)
        .and_then(|()| stream.set_write_timeout(t))
        .map_err(|e| Error::Io {
            file: "network".into(),
            source: e,
        })
}

/// Moves length-prefixed messages (u32 BE) over the stream until the session is done.
pub(crate) fn run_live<S: Read + Write>(
    store: &mut Store,
    mut stream: S,
    mut session: LiveSession,
    first: Option<Vec<u8>>,
    quiet: bool,
) -> Result<LiveSession> {
    let net = |e| Error::Io {
        file: "network".into(),
        source: e,
    };
    if let Some(m) = first {
        send(&mut stream, &m).map_err(net)?;
    }
    while !session.is_done() {
        let msg = receive(&mut stream, quiet).map_err(|e| {
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            ) || is_timeout(&e)
            {
                // Every message received before was stored durably; what the peer did
                // not finish sending is simply not here.
                Error::Io {
                    file: "network".into(),
                    source: std::io::Error::new(
                        e.kind(),
                        format!(
                            "the other device {} before the sync finished (after {} \
                             message(s) received); what arrived so far is stored, run the \
                             sync again to finish",
                            if is_timeout(&e) {
                                format!(
                                    "sent nothing for {} s, or too slowly,",
                                    live_timeout().as_secs()
                                )
                            } else {
                                "closed the connection".to_string()
                            },
                            session.messages_received
                        ),
                    ),
                }
            } else {
                net(e)
            }
        })?;
        match store.live_receive(&mut session, &msg) {
            Ok(Some(reply)) => send(&mut stream, &reply).map_err(net)?,
            Ok(None) => {}
            Err(e) => {
                // Tell the other side why before closing (protocol section 13.5): a
                // reason code only, so it can say more than "connection closed". Best
                // effort: it may have hung up already.
                if let Some(frame) = store.live_refusal(&session, &e) {
                    let _ = send(&mut stream, &frame);
                }
                return Err(e);
            }
        }
    }
    Ok(session)
}

fn send<S: Write>(s: &mut S, msg: &[u8]) -> std::io::Result<()> {
    s.write_all(&(msg.len() as u32).to_be_bytes())?;
    s.write_all(msg)?;
    s.flush()
}

/// Whether an I/O error is a read or write timeout (Unix says `WouldBlock`).
fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// Fills `buf` from `s`, failing with `TimedOut` once `deadline` has passed (each read
/// also ends at the stream's own timeout).
fn read_by<S: Read>(s: &mut S, buf: &mut [u8], deadline: Instant) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        if Instant::now() > deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the other device sends too slowly",
            ));
        }
        match s.read(&mut buf[filled..]) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn receive<S: Read>(s: &mut S, quiet: bool) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    read_by(s, &mut len, Instant::now() + live_timeout())?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "message larger than 64 MiB",
        ));
    }
    let deadline =
        Instant::now() + live_timeout() + Duration::from_secs(len as u64 / MIN_BYTES_PER_SEC);
    let mut buf = Vec::with_capacity(len.min(1 << 20));
    let mut chunk = [0u8; 64 * 1024];
    while buf.len() < len {
        let want = (len - buf.len()).min(chunk.len());
        read_by(s, &mut chunk[..want], deadline)?;
        buf.extend_from_slice(&chunk[..want]);
        if !quiet && len > 256 * 1024 {
            eprint!(
                "\r  receiving {:>5.1}% of {} KB",
                buf.len() as f64 * 100.0 / len as f64,
                len / 1024
            );
        }
    }
    if !quiet && len > 256 * 1024 {
        eprintln!();
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that sent two bytes of a length and hung up.
    struct Dropped(std::io::Cursor<Vec<u8>>);

    impl Read for Dropped {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for Dropped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_dropped_live_peer_gets_a_clear_message() {
        let tmp = tempfile::tempdir().expect("tmp");
        let key = caravan_core::StoreKey::generate().expect("key");
        let mut store = Store::create(tmp.path().join("s"), &key).expect("store");
        let session = store.live_accept().expect("session");
        let peer = Dropped(std::io::Cursor::new(vec![0, 0]));
        let err = run_live(&mut store, peer, session, None, true)
            .expect_err("the peer hung up")
            .to_string();
        assert!(
            err.contains("closed the connection before the sync finished"),
            "{err}"
        );
        assert!(!err.contains("fill whole buffer"), "{err}");
    }
}

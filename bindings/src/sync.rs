//! Sync as the apps drive it: groups and invitations, bundles (files, messenger
//! attachments, QR codes), the mailbox folder and live sessions whose bytes the app
//! carries over Bluetooth, Wi-Fi or TCP itself.

use std::path::Path;
use std::sync::{Arc, Mutex};

use caravan_core::sync::{qr, DeviceId, Role};
use caravan_core::{LiveSession, MailboxReport, SyncReport};

use crate::error::{guard, locate_findings, CaravanError, Result};
use crate::listener::ProgressListener;
use crate::model::case_id;
use crate::store::{hex_ids, mailbox_progress_fn, CaravanStore, Synced};

/// The verification code of an invitation (two groups of 4 base32 characters, e.g. `7KQ2-M9XD`): the inviter's app shows it
/// next to the QR code, the invitee's app shows it for what it scanned, and the two
/// people compare them.
#[uniffi::export]
pub fn invitation_code(invitation: String) -> Result<String> {
    guard(|| Ok(caravan_core::sync::invitation_code(&invitation)?))
}

/// What a group member may do; every device enforces it on the changes it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum MemberRole {
    /// Invites, revokes, erases, assigns cases; edits any case.
    Coordinator,
    /// Creates cases; edits the cases it created or was assigned.
    FieldWorker,
    /// A partner agency's device: referral status and notes on cases assigned to it.
    /// Its invitation carries no group key.
    Partner,
}

impl From<Role> for MemberRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Coordinator => MemberRole::Coordinator,
            Role::FieldWorker => MemberRole::FieldWorker,
            Role::Partner => MemberRole::Partner,
        }
    }
}

impl From<MemberRole> for Role {
    fn from(r: MemberRole) -> Self {
        match r {
            MemberRole::Coordinator => Role::Coordinator,
            MemberRole::FieldWorker => Role::FieldWorker,
            MemberRole::Partner => Role::Partner,
        }
    }
}

/// A join request for joining a team from afar.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct JoinRequestInfo {
    /// The request, to send over any channel (not secret).
    pub text: String,
    /// The verification code to read out (or compare) over the phone.
    pub code: String,
    /// The name the requesting device gave.
    pub name: String,
}

impl From<caravan_core::sync::JoinRequest> for JoinRequestInfo {
    fn from(r: caravan_core::sync::JoinRequest) -> Self {
        JoinRequestInfo {
            text: r.as_text().to_string(),
            code: r.code().to_string(),
            name: r.name().to_string(),
        }
    }
}

/// A case holding changes by a revoked device, waiting for a coordinator's decision.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct QuarantinedCase {
    /// The case.
    pub case_id: String,
    /// How many changes wait.
    pub changes: u64,
    /// Short ids of the devices that wrote them.
    pub authors: Vec<String>,
    /// How many of them lost to another version of the same change (a phone restored
    /// from an older copy wrote twice with one number), or build on one that did:
    /// these can only be rejected.
    pub clashing: u64,
    /// Whether the changes create the case.
    pub new_case: bool,
    /// The fields the changes would change.
    pub fields: Vec<String>,
    /// The texts of the notes they would add.
    pub notes: Vec<String>,
    /// For a new case, a short summary of it as the changes would create it.
    pub summary: String,
}

/// Which changes a bundle carries.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum BundleScope {
    /// Everything this device has: any member can catch up from it alone.
    Everything,
    /// What changed since the last bundle exported for `target` (a colleague's name,
    /// "usb", "qr"); everything the first time.
    SinceLast {
        /// The name the device remembers the last bundle under.
        target: String,
    },
}

/// What an import or a live session changed on this device.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// Cases this device did not have before.
    pub cases_created: u64,
    /// Existing cases that received changes.
    pub cases_updated: u64,
    /// Automerge changes applied.
    pub changes_applied: u64,
    /// Cases erased because another device erased them.
    pub cases_erased: u64,
    /// Cases whose changes wait for earlier ones not received yet.
    pub cases_waiting: u64,
    /// Changes ignored because their case was erased.
    pub ignored_erased: u64,
    /// New membership records learnt of.
    pub members_added: u64,
    /// Changes by revoked devices set aside for a coordinator (see `quarantined`).
    pub changes_quarantined: u64,
    /// Cases whose incoming changes were refused: outside their author's role.
    pub cases_refused: u64,
    /// Same-field conflicts the applied changes created.
    pub conflicts_created: u64,
    /// Changes received and not applied (see `dropped` for why).
    pub changes_dropped: u64,
    /// Why changes were dropped, one line per reason with its count.
    pub dropped: Vec<String>,
    /// What a coordinator must be told about its team, one line each (e.g. an
    /// invitation used again, and by which device).
    pub notices: Vec<String>,
    /// The cases created, changed or erased by this call (what the listener was told).
    pub changed_case_ids: Vec<String>,
}

impl SyncSummary {
    pub(crate) fn new(r: &SyncReport, changed: Vec<String>) -> Self {
        SyncSummary {
            cases_created: r.cases_created as u64,
            cases_updated: r.cases_updated as u64,
            changes_applied: r.changes_applied as u64,
            cases_erased: r.cases_erased as u64,
            cases_waiting: r.cases_waiting as u64,
            ignored_erased: r.ignored_erased as u64,
            members_added: r.members_added as u64,
            changes_quarantined: r.changes_quarantined as u64,
            cases_refused: r.cases_refused as u64,
            conflicts_created: r.conflicts_created as u64,
            changes_dropped: r.changes_dropped as u64,
            dropped: r.dropped.clone(),
            notices: r.notices.clone(),
            changed_case_ids: changed,
        }
    }
}

/// What a mailbox sync did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct MailboxSummary {
    /// Bundles read from other devices' outboxes and imported.
    pub bundles_imported: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bundles written to this device's outbox (0 or 1).
    pub bundles_written: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Older bundles of this device removed after an erasure.
    pub bundles_removed: u64,
    /// Bundles of this device deleted because every active member had read them
    /// (retention, protocol section 15.2).
    pub bundles_pruned: u64,
    /// Bundles left unread for the next sync: one outbox had more new ones than one
    /// sync reads (256). Sync again.
    pub deferred: u64,
    /// Files refused (corrupted, tampered with, not a bundle), by name.
    pub refused: Vec<String>,
    /// What the imports changed.
    pub changes: SyncSummary,
}

/// Runs a mailbox sync through `mailbox`: its summary, or its error, with the changes
/// it stored either way (a sync cancelled or failing after some bundles keeps them).
pub(crate) fn mailbox_sync(
    store: &mut caravan_core::Store,
    mailbox: &dyn caravan_core::Mailbox,
    progress: caravan_core::Progress<'_>,
) -> Synced<MailboxReport> {
    let mut report = MailboxReport::default();
    let done = store.sync_through_into(mailbox, progress, &mut report);
    let changes = report.changes.clone();
    Synced::partial(done.map(|()| report).map_err(Into::into), &changes)
}

impl MailboxSummary {
    pub(crate) fn new(r: &MailboxReport) -> Self {
        MailboxSummary {
            bundles_imported: r.bundles_imported as u64,
            bytes_read: r.bytes_read as u64,
            bundles_written: r.bundles_written as u64,
            bytes_written: r.bytes_written as u64,
            bundles_removed: r.bundles_removed as u64,
            bundles_pruned: r.bundles_pruned as u64,
            deferred: r.deferred as u64,
            refused: r.refused.clone(),
            changes: SyncSummary::new(&r.changes, hex_ids(&r.changes.changed)),
        }
    }
}

/// A member of this device's group.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct GroupMember {
    /// The device's public key, 64 hex digits.
    pub device_id: String,
    /// A short form for display.
    pub short_id: String,
    /// The name given when it joined (e.g. "Aigerim, Shymkent").
    pub name: String,
    /// Whether it is this device.
    pub this_device: bool,
    /// What it may do.
    pub role: MemberRole,
    /// False once revoked.
    pub active: bool,
}

pub(crate) fn device_id(hex_id: &str) -> Result<DeviceId> {
    let s = hex_id.trim();
    let bad = || CaravanError::InvalidInput {
        field: "device id".into(),
        reason: "give the 64 hex digits of a member's device id".into(),
    };
    if s.len() != 64 || !s.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(DeviceId(out))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One live sync session with another device. The app moves the bytes: send what
/// `CaravanStore.live_start` / `live_receive` return, feed what arrives to
/// `live_receive`, until `is_done`.
#[derive(uniffi::Object)]
pub struct LiveSync {
    session: Mutex<LiveSession>,
    /// The refusal frame to send the peer after a failed receive (protocol section 13.5).
    refusal: Mutex<Option<Vec<u8>>>,
}

impl LiveSync {
    pub(crate) fn new(session: LiveSession) -> LiveSync {
        LiveSync {
            session: Mutex::new(session),
            refusal: Mutex::new(None),
        }
    }

    /// Feeds `message` to the session and keeps the refusal to send if it fails.
    /// Feeds `message` to the session, with what it stored on this device (told even
    /// when the call fails after storing it).
    pub(crate) fn receive(
        &self,
        store: &mut caravan_core::Store,
        message: &[u8],
    ) -> Synced<Option<Vec<u8>>> {
        let mut live = match session_lock(self) {
            Ok(live) => live,
            Err(e) => return Synced::unchanged(Err(e)),
        };
        let got = store.live_receive(&mut live, message);
        let refusal = got
            .as_ref()
            .err()
            .and_then(|e| store.live_refusal(&live, e));
        if let Ok(mut slot) = self.refusal.lock() {
            *slot = refusal;
        }
        Synced::partial(got.map_err(Into::into), &live.last_received)
    }
}

impl std::fmt::Debug for LiveSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveSync")
    }
}

/// The initiator's new session and the first message to send.
#[derive(uniffi::Record)]
pub struct LiveStart {
    /// The session to keep feeding.
    pub session: Arc<LiveSync>,
    /// The bytes to send to the peer.
    pub message: Vec<u8>,
}

pub(crate) fn session_lock(s: &LiveSync) -> Result<std::sync::MutexGuard<'_, LiveSession>> {
    s.session.lock().map_err(|_| CaravanError::Internal {
        reason: "an earlier call on this live session failed unexpectedly; start a new one".into(),
    })
}

#[uniffi::export]
impl LiveSync {
    /// After `live_receive` failed: the short refusal message to send the other device
    /// before closing the connection (a reason code only, protocol section 13.5), so
    /// that it shows why instead of "connection closed". `None` when there is nothing
    /// to send (the failure was the other device's refusal, or nothing failed).
    pub fn refusal(&self) -> Result<Option<Vec<u8>>> {
        guard(|| {
            Ok(self
                .refusal
                .lock()
                .map_err(|_| CaravanError::Internal {
                    reason: "live session state".into(),
                })?
                .clone())
        })
    }

    /// Whether the session has finished (nothing more to send or receive).
    pub fn is_done(&self) -> Result<bool> {
        guard(|| Ok(session_lock(self)?.is_done()))
    }

    /// What the session changed on this device so far.
    pub fn summary(&self) -> Result<SyncSummary> {
        guard(|| {
            let live = session_lock(self)?;
            Ok(SyncSummary::new(
                &live.report,
                hex_ids(&live.report.changed),
            ))
        })
    }

    /// Bytes sent so far.
    pub fn bytes_sent(&self) -> Result<u64> {
        guard(|| Ok(session_lock(self)?.bytes_sent as u64))
    }

    /// Bytes received so far.
    pub fn bytes_received(&self) -> Result<u64> {
        guard(|| Ok(session_lock(self)?.bytes_received as u64))
    }

    /// The peer's device id (64 hex digits), once known.
    pub fn peer_device_id(&self) -> Result<Option<String>> {
        guard(|| Ok(session_lock(self)?.peer().map(|p| hex(&p.0))))
    }
}

#[uniffi::export]
impl CaravanStore {
    /// This device's public identity (64 hex digits).
    pub fn device_id(&self) -> Result<String> {
        self.with(|s| Ok(hex(&s.team().device_id().0)))
    }

    /// The group's name, if this device is in one.
    pub fn group_name(&self) -> Result<Option<String>> {
        self.with(|s| Ok(s.team().group_name()))
    }

    /// Creates a group with this device, named `device_name`, as its first member and
    /// coordinator.
    pub fn create_group(&self, name: String, device_name: String) -> Result<()> {
        self.editing(
            |s| {
                s.team_mut()
                    .create_group(&name, &device_name)
                    .map_err(|e| locate_findings(e.into(), &[&name, &device_name]))
            },
            |()| Vec::new(),
        )
    }

    /// A one-time invitation admitting one device as `role` (coordinators only). It is
    /// a secret: show it as a QR code, in person; never send it over an untrusted
    /// channel or log it.
    pub fn invite(&self, role: MemberRole) -> Result<String> {
        self.with(|s| Ok(s.team_mut().invite(role.into())?.as_text().to_string()))
    }

    /// A request to join a team from afar: send `text` to a coordinator over any
    /// channel, then read `code` out to them over the phone.
    pub fn join_request(&self, device_name: String) -> Result<JoinRequestInfo> {
        self.with(|s| {
            Ok(s.team()
                .join_request(&device_name)
                .map_err(|e| locate_findings(e.into(), &[&device_name]))?
                .into())
        })
    }

    /// Checks a join request received over any channel (coordinator side): its code
    /// and the name it gives.
    pub fn read_join_request(&self, request: String) -> Result<JoinRequestInfo> {
        self.with(|s| Ok(s.team().read_join_request(&request)?.into()))
    }

    /// Invites the device of a join request as `role`, once `heard_code` (read out by
    /// the requester over the phone) matches; the invitation is sealed to that device
    /// and may be sent over any channel. Coordinators only.
    pub fn invite_remote(
        &self,
        request: String,
        role: MemberRole,
        heard_code: String,
    ) -> Result<String> {
        self.with(|s| {
            Ok(s.team_mut()
                .invite_remote(&request, role.into(), &heard_code)?
                .as_text()
                .to_string())
        })
    }

    /// This device's role, or `None` outside a group or once revoked.
    pub fn my_role(&self) -> Result<Option<MemberRole>> {
        self.with(|s| Ok(s.team().role().map(MemberRole::from)))
    }

    /// Revokes a member's device (e.g. a phone taken at a border) and rotates the group
    /// key; it can read nothing written afterwards. Coordinators only.
    pub fn revoke_member(&self, device_id_hex: String) -> Result<()> {
        self.editing(
            |s| Ok(s.team_mut().revoke(&device_id(&device_id_hex)?)?),
            |()| Vec::new(),
        )
    }

    /// Gives a member another role. Coordinators only.
    pub fn set_member_role(&self, device_id_hex: String, role: MemberRole) -> Result<()> {
        self.editing(
            |s| {
                Ok(s.team_mut()
                    .set_role(&device_id(&device_id_hex)?, role.into())?)
            },
            |()| Vec::new(),
        )
    }

    /// Assigns a case to a member (or takes it back, `assigned = false`), so a field
    /// worker or partner may change it. Coordinators only.
    pub fn assign_case(
        &self,
        case_id_hex: String,
        device_id_hex: String,
        assigned: bool,
    ) -> Result<()> {
        let told = case_id_hex.clone();
        self.editing(
            |s| {
                let d = device_id(&device_id_hex)?;
                Ok(s.team_mut()
                    .assign_case(&case_id(&case_id_hex)?, &d, assigned)?)
            },
            |()| vec![told],
        )
    }

    /// Cases holding changes set aside for a coordinator: by revoked devices, or lost
    /// to another version of the same change.
    pub fn quarantined(&self) -> Result<Vec<QuarantinedCase>> {
        self.with(|s| {
            Ok(s.team()
                .quarantined()
                .into_iter()
                .map(|q| QuarantinedCase {
                    case_id: q.case.to_hex(),
                    changes: q.changes as u64,
                    authors: q.authors.iter().map(DeviceId::short).collect(),
                    clashing: q.clashing as u64,
                    new_case: q.new_case,
                    fields: q.fields,
                    notes: q.notes,
                    summary: q.summary,
                })
                .collect())
        })
    }

    /// Accepts (applies) or rejects (drops) a case's quarantined changes; the decision
    /// reaches every device with the next sync. Coordinators only.
    pub fn resolve_quarantine(&self, case_id_hex: String, accept: bool) -> Result<SyncSummary> {
        let told = case_id_hex.clone();
        self.editing(
            |s| {
                let report = s
                    .team_mut()
                    .resolve_quarantine(&case_id(&case_id_hex)?, accept)?;
                Ok(SyncSummary::new(&report, vec![case_id_hex.clone()]))
            },
            |_| vec![told],
        )
    }

    /// Joins the group of an invitation scanned from another device.
    pub fn join_group(&self, invitation: String, device_name: String) -> Result<()> {
        let invitation = zeroize::Zeroizing::new(invitation);
        self.editing(
            |s| {
                s.team_mut()
                    .join_group(&invitation, &device_name)
                    .map_err(|e| locate_findings(e.into(), &[&device_name]))
            },
            |()| Vec::new(),
        )
    }

    /// The group's members.
    pub fn members(&self) -> Result<Vec<GroupMember>> {
        self.with(|s| {
            let me = s.team().device_id();
            Ok(s.team()
                .members()
                .into_iter()
                .map(|m| GroupMember {
                    device_id: hex(&m.device.0),
                    short_id: m.device.short(),
                    name: m.name,
                    this_device: m.device == me,
                    role: m.role.into(),
                    active: m.active,
                })
                .collect())
        })
    }

    /// Seals a bundle of the changes `scope` asks for (ciphertext: safe to carry).
    pub fn export_bundle(&self, scope: BundleScope) -> Result<Vec<u8>> {
        self.with(|s| Ok(s.export_bundle(core_scope(scope))?))
    }

    /// A bundle cut into QR frames of at most `max_frame` bytes (1,000 is a good
    /// default), to show one after another.
    pub fn export_bundle_frames(&self, scope: BundleScope, max_frame: u32) -> Result<Vec<Vec<u8>>> {
        self.with(|s| {
            let bundle = s.export_bundle(core_scope(scope))?;
            Ok(qr::split(&bundle, max_frame as usize)?)
        })
    }

    /// Imports a bundle: idempotent, any order, duplicates and gaps tolerated. The
    /// change listener is told which cases changed.
    pub fn import_bundle(&self, bundle: Vec<u8>) -> Result<SyncSummary> {
        let report =
            self.syncing(|s| Synced::of(s.import_bundle(&bundle).map_err(Into::into), |r| r))?;
        Ok(SyncSummary::new(&report, hex_ids(&report.changed)))
    }

    /// Syncs through the mailbox folder `dir` (a USB stick, a shared folder): reads
    /// the other devices' bundles, then writes this device's. The change listener is
    /// told which cases changed. `progress` (optional) is told before each bundle read
    /// (`done` of `total` new bundles) and may cancel between two bundles: the bundles
    /// imported so far stay (each is durable; the next sync skips them) and this
    /// device's own bundle is not written; the change listener is told their cases,
    /// then the call fails with `Cancelled` (so does a mailbox error after some
    /// bundles: their cases are told before the error). Once every
    /// bundle was read and applied, the listener is told `(total, total)` and its answer
    /// is ignored: nothing is left to cancel but writing this device's own bundle, so
    /// the call completes and its summary says what was applied (red-team F6 of
    /// 2026-12-05: it answered `Cancelled` though every bundle was applied). A panic
    /// wipe still cancels there. With no bundle to read (`total` 0) a cancel at `(0, 0)`
    /// cancels: nothing was done.
    #[uniffi::method(default(progress = None))]
    pub fn sync_mailbox(
        &self,
        dir: String,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<MailboxSummary> {
        let report = self.syncing(|s| {
            let mut progress = mailbox_progress_fn(self, &progress);
            let mailbox = caravan_core::FsMailbox::new(Path::new(&dir));
            mailbox_sync(s, &mailbox, &mut progress)
        })?;
        Ok(MailboxSummary::new(&report))
    }

    /// Starts a live session as the initiator.
    pub fn live_start(&self) -> Result<LiveStart> {
        self.with(|s| {
            let (session, message) = s.live_start()?;
            Ok(LiveStart {
                session: Arc::new(LiveSync::new(session)),
                message,
            })
        })
    }

    /// Starts a live session as the responder; feed it the initiator's first message.
    pub fn live_accept(&self) -> Result<Arc<LiveSync>> {
        self.with(|s| Ok(Arc::new(LiveSync::new(s.live_accept()?))))
    }

    /// Feeds one message from the peer into `session`; returns the reply to send, if
    /// any. Changes are stored durably before this returns, and the change listener is
    /// told. A refused message leaves the session unchanged.
    pub fn live_receive(
        &self,
        session: Arc<LiveSync>,
        message: Vec<u8>,
    ) -> Result<Option<Vec<u8>>> {
        self.syncing(|s| session.receive(s, &message))
    }
}

pub(crate) fn core_scope(scope: BundleScope) -> caravan_core::BundleScope {
    match scope {
        BundleScope::Everything => caravan_core::BundleScope::Everything,
        BundleScope::SinceLast { target } => caravan_core::BundleScope::SinceLast(target),
    }
}

/// Progress of a QR scan.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ScanProgress {
    /// Distinct frames received so far.
    pub received: u32,
    /// Frames of the bundle (0 before the first frame).
    pub total: u32,
    /// Whether every frame has been received: call `finish`.
    pub complete: bool,
    /// Whether the frame just scanned was a repeat (and ignored).
    pub duplicate: bool,
}

/// Collects scanned QR frames, in any order and with repeats, into a bundle.
#[derive(uniffi::Object)]
pub struct QrReassembler {
    inner: Mutex<qr::Reassembler>,
}

impl std::fmt::Debug for QrReassembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QrReassembler")
    }
}

impl QrReassembler {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, qr::Reassembler>> {
        self.inner.lock().map_err(|_| CaravanError::Internal {
            reason: "an earlier call on this scan failed unexpectedly; scan again".into(),
        })
    }
}

impl Default for QrReassembler {
    fn default() -> Self {
        QrReassembler {
            inner: Mutex::new(qr::Reassembler::new()),
        }
    }
}

#[uniffi::export]
impl QrReassembler {
    /// An empty scan, ready for the first frame of any bundle.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds one scanned frame (binary QR content). A refused frame (`InvalidInput`)
    /// leaves the scan unchanged: report it and keep scanning.
    pub fn push(&self, frame: Vec<u8>) -> Result<ScanProgress> {
        guard(|| {
            let p = self.lock()?.push(&frame)?;
            Ok(ScanProgress {
                received: p.received as u32,
                total: p.total as u32,
                complete: p.complete,
                duplicate: p.duplicate,
            })
        })
    }

    /// Adds one frame scanned in text mode (base45).
    pub fn push_text(&self, text: String) -> Result<ScanProgress> {
        let frame = guard(|| Ok(qr::frame_from_text(&text)?))?;
        self.push(frame)
    }

    /// Frame numbers not received yet.
    pub fn missing(&self) -> Result<Vec<u16>> {
        guard(|| Ok(self.lock()?.missing()))
    }

    /// The bundle, once complete (pass it to `CaravanStore.import_bundle`); the scan
    /// then starts afresh.
    pub fn finish(&self) -> Result<Vec<u8>> {
        guard(|| {
            let mut scan = self.lock()?;
            // Frames stay if the bundle is incomplete; a finished scan starts afresh.
            let bundle = scan.clone().finish()?;
            *scan = qr::Reassembler::new();
            Ok(bundle)
        })
    }
}

/// Cuts a bundle into QR frames of at most `max_frame` bytes (64..=2953).
#[uniffi::export]
pub fn qr_split(bundle: Vec<u8>, max_frame: u32) -> Result<Vec<Vec<u8>>> {
    guard(|| Ok(qr::split(&bundle, max_frame as usize)?))
}

/// Encodes a frame as base45 text, for QR libraries that only take text.
#[uniffi::export]
pub fn qr_frame_to_text(frame: Vec<u8>) -> String {
    qr::frame_to_text(&frame)
}

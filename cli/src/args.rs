//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Anonymized human-trafficking case records, encrypted on this device.
#[derive(Debug, Parser)]
#[command(name = "caravan", version, about, long_about = None)]
pub(crate) struct Cli {
    /// The store directory.
    #[arg(
        long,
        global = true,
        env = "CARAVAN_STORE",
        default_value = "caravan-store"
    )]
    pub(crate) store: PathBuf,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Language of labels in tables: en or ru.
    #[arg(long, global = true, env = "CARAVAN_LANG", default_value = "en")]
    pub(crate) lang: String,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a new encrypted store (passphrase from CARAVAN_PASSPHRASE or a prompt).
    Init {
        /// Argon2id memory cost in MiB (at least 8; default 64).
        #[arg(long, default_value_t = 64)]
        kdf_memory_mib: u32,
    },
    /// Add, update, show and list cases.
    #[command(subcommand)]
    Case(CaseCommand),
    /// Add a dated note to a case (screened for identifiers first).
    #[command(subcommand)]
    Note(NoteCommand),
    /// Refer a case to a partner's service, or record a referral's new status.
    Refer(ReferArgs),
    /// Erase a case for real: its content becomes unrecoverable from the store.
    Erase {
        /// Case id (or a unique prefix of at least 4 hex digits).
        id: String,
        /// Why: RetentionExpired, PersonRequested, EnteredInError or Other.
        #[arg(long)]
        reason: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Panic wipe: destroy the store at once so no key or passphrase opens it again.
    /// Needs no passphrase (for duress); cannot be undone.
    Wipe {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Verify every frame of every store file and report what is damaged (reads only).
    /// Exits 5 if acknowledged data is lost.
    Check,
    /// Repair a damaged store: damaged files are kept aside as `damaged-<name>`, all
    /// that authenticates is rewritten, and what was lost is listed.
    Repair {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Run the trafficking-indicator screening questionnaire.
    Screen(ScreenArgs),
    /// List vocabularies, or the codes and labels of one.
    Vocab {
        /// Vocabulary id, e.g. means_of_control.
        id: Option<String>,
    },
    /// Create a team of devices.
    #[command(subcommand)]
    Group(crate::sync_cmd::GroupCommand),
    /// Team members: invite with a role, join, list, revoke, roles, assignments, quarantine.
    #[command(subcommand)]
    Member(crate::member_cmd::MemberCommand),
    /// Sharing agreements with partner agencies: request, agree, accept, share, revoke.
    #[command(subcommand)]
    Partner(crate::partner_cmd::PartnerCommand),
    /// Encrypted bundles for USB sticks, messengers and QR codes.
    #[command(subcommand)]
    Bundle(crate::sync_cmd::BundleCommand),
    /// Sync through a mailbox folder, or live over the network.
    #[command(subcommand)]
    Sync(crate::sync_cmd::SyncCommand),
    /// Statistics safe to publish: k-anonymized CTDC exports, tables, charts.
    #[command(subcommand)]
    Export(crate::export::ExportCommand),
    /// Cross-agency duplicate detection with keyed blind indices (no names stored).
    #[command(subcommand)]
    Dedup(crate::dedup_cmd::DedupCommand),
    /// Run the cross-border demo on embedded defaults in a temporary directory.
    Demo {
        /// Keep the demo's stores in this directory instead of a temporary one.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
}

/// `caravan case ...`
#[derive(Debug, Subcommand)]
pub(crate) enum CaseCommand {
    /// Register a new case.
    Add {
        /// The case's fields.
        #[command(flatten)]
        fields: FieldArgs,
        /// A name for this request (e.g. a UUID) that makes a retry safe: a second
        /// `case add` with the same request id returns the case the first one stored
        /// instead of creating another.
        #[arg(long, value_name = "ID")]
        request_id: Option<String>,
    },
    /// Change fields of a case.
    Update {
        /// Case id (or a unique prefix).
        id: String,
        /// The changes.
        #[command(flatten)]
        fields: FieldArgs,
    },
    /// Show one case.
    Show {
        /// Case id (or a unique prefix).
        id: String,
    },
    /// List and search cases.
    List(ListArgs),
    /// Import existing case records from a spreadsheet (.csv or .xlsx) through a
    /// mapping file: every row is checked first, then all are stored at once (or none).
    Import(crate::import_cmd::ImportArgs),
}

/// Field changes shared by `case add` and `case update`.
#[derive(Debug, Args, Default)]
pub(crate) struct FieldArgs {
    /// Set a single-valued field: FIELD=CODE (e.g. gender=Feminine, age_band=18-20).
    #[arg(long = "set", value_name = "FIELD=CODE")]
    pub(crate) set: Vec<String>,
    /// Clear a single-valued field.
    #[arg(long = "clear", value_name = "FIELD")]
    pub(crate) clear: Vec<String>,
    /// Add to a set-valued field: FIELD=CODE (e.g. means_of_control=DebtBondage, citizenship=KZ).
    #[arg(long = "add", value_name = "FIELD=CODE")]
    pub(crate) add: Vec<String>,
    /// Remove from a set-valued field: FIELD=CODE.
    #[arg(long = "remove", value_name = "FIELD=CODE")]
    pub(crate) remove: Vec<String>,
    /// Add a route event: KIND:COUNTRY[:YYYY[-MM]] (e.g. Exploitation:RU:2023-05).
    #[arg(long = "route", value_name = "KIND:COUNTRY[:WHEN]")]
    pub(crate) route: Vec<String>,
    /// Add a note.
    #[arg(long = "note", value_name = "TEXT")]
    pub(crate) note: Vec<String>,
    /// Consent to sharing with partner agencies: yes or no.
    #[arg(long, value_name = "yes|no")]
    pub(crate) consent_share: Option<String>,
    /// Consent to inclusion in statistics: yes or no.
    #[arg(long, value_name = "yes|no")]
    pub(crate) consent_stats: Option<String>,
    /// Month (or year) the case was registered, e.g. 2023-04 for a case carried over
    /// from a paper register (default: the day it is typed in); `none` clears it.
    #[arg(long, value_name = "YYYY[-MM]")]
    pub(crate) registered: Option<String>,
}

/// `caravan case list` filters.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Case status code.
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// Country (citizenship or on the route), alpha-2 or alpha-3.
    #[arg(long)]
    pub(crate) country: Option<String>,
    /// Exploitation type code.
    #[arg(long)]
    pub(crate) exploitation: Option<String>,
    /// Registered on or after this date (YYYY-MM-DD or YYYY-MM).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Registered before this date (YYYY-MM-DD or YYYY-MM).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Only cases with unresolved conflicts.
    #[arg(long)]
    pub(crate) conflicts: bool,
}

/// `caravan note ...`
#[derive(Debug, Subcommand)]
pub(crate) enum NoteCommand {
    /// Add a note to a case.
    Add {
        /// Case id (or a unique prefix).
        id: String,
        /// The note text.
        text: String,
    },
}

/// `caravan refer ...`
#[derive(Debug, Args)]
pub(crate) struct ReferArgs {
    /// Case id (or a unique prefix).
    pub(crate) id: String,
    /// Service type code for a new referral (e.g. Shelter, Legal, Repatriation).
    #[arg(long, required_unless_present = "referral")]
    pub(crate) service: Option<String>,
    /// Partner organisation name for a new referral.
    #[arg(long, required_unless_present = "referral")]
    pub(crate) partner: Option<String>,
    /// Organisation type code of the partner.
    #[arg(long)]
    pub(crate) org_type: Option<String>,
    /// Referral reason code.
    #[arg(long)]
    pub(crate) reason: Option<String>,
    /// Update this existing referral's status instead.
    #[arg(long, requires = "status", conflicts_with_all = ["service", "partner"])]
    pub(crate) referral: Option<String>,
    /// New status: Requested, Accepted, Declined or Completed.
    #[arg(long)]
    pub(crate) status: Option<String>,
}

/// `caravan screen ...`
#[derive(Debug, Args)]
pub(crate) struct ScreenArgs {
    /// Record the answers on this case (otherwise only assess).
    pub(crate) id: Option<String>,
    /// Answer without prompting: INDICATOR=Yes|No|DontKnow|Declined (repeatable).
    #[arg(long = "answer", value_name = "INDICATOR=ANSWER")]
    pub(crate) answers: Vec<String>,
    /// A vulnerability factor present (repeatable), e.g. IrregularMigrationStatus.
    #[arg(long = "vulnerability", value_name = "CODE")]
    pub(crate) vulnerabilities: Vec<String>,
    /// The person's age band (CTDC), used to tell whether they are a minor.
    #[arg(long)]
    pub(crate) age_band: Option<String>,
}

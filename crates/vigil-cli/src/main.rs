//! The `vigil` command.
//!
//! `vigil serve [--demo]` runs the platform; the other subcommands administer a data
//! directory or database directly (users, imports, event ingestion, migrations). Every
//! command reads the same configuration (`--config FILE`, `VIGIL_*` variables) so they act on
//! the store the server uses.

mod bench;
mod commands;
mod evtx;
mod hunt;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about = "Cyber situational awareness and emergency response"
)]
struct Cli {
    /// TOML configuration file (keys: server.listen, store.backend, store.data_dir,
    /// store.postgres_url, retention.events_days, auth.*, log.*).
    #[arg(long, global = true, env = "VIGIL_CONFIG")]
    config: Option<PathBuf>,
    /// SQLite data directory (overrides store.data_dir).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the platform: web UI and API.
    Serve {
        /// Listen address (overrides server.listen).
        #[arg(long)]
        listen: Option<String>,
        /// Load the demo data set into an empty store, create demo users, and keep a live
        /// trickle of events flowing.
        #[arg(long)]
        demo: bool,
    },
    /// Create or upgrade the store's schema, then exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage assets.
    Asset {
        #[command(subcommand)]
        command: AssetCommand,
    },
    /// Work with events.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Measurement tools (see BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Check a signed notice or warning (the JSON envelope the platform issues) against the
    /// platform's published SM2 public key; prints the document when the signature holds.
    /// Exits with 0 when valid, 1 when not (needs no store).
    VerifyNotice {
        /// The envelope, as downloaded (GET /api/v1/incidents/{id}/notice) or received.
        file: PathBuf,
        /// The platform's public key: PEM, DER or hex (GET /api/v1/notice-key).
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Hunt with Sigma rules over EVTX and JSON event files (needs no store).
    Hunt(hunt::HuntArgs),
    /// Check and try Sigma rules (needs no store).
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Print the version.
    Version,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the whole SM3 hash chain of the audit log and name every altered, removed,
    /// inserted or reordered record. Exits with 0 for an intact chain, 1 when anything was
    /// found (the findings are printed, one per line), 2 when the store cannot be read.
    Verify {
        /// Print the result as JSON instead of lines of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Lint rule files and directories: prints every problem as
    /// `file:line:column: CODE severity: message`; exits with 1 when any rule has an error.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run rules over sample events (NDJSON) and print which rules match which events.
    Test {
        /// Sigma rule file or directory; repeat for several.
        #[arg(long = "rules", required = true)]
        rules: Vec<PathBuf>,
        /// Events, one JSON object per line.
        events: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Fill the store with a large case load through the store API.
    Seed {
        #[arg(long, default_value_t = 50)]
        orgs: usize,
        #[arg(long, default_value_t = 1_000_000)]
        alerts: usize,
        #[arg(long, default_value_t = 100_000)]
        incidents: usize,
    },
    /// End-to-end syslog throughput: sends RFC 5424 lines over TCP as fast as the receiver
    /// takes them, then waits until the receiver shows them all (Vigil's pipeline through
    /// its /metrics stored counter, or another receiver through the file it writes).
    Syslog {
        /// The syslog TCP listener, e.g. 127.0.0.1:6514.
        #[arg(long)]
        target: String,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = 2)]
        connections: usize,
        /// Vigil's /metrics URL (vigil_pipeline_stored_total).
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        metrics: Option<String>,
        /// API token for --metrics (or VIGIL_BENCH_TOKEN).
        #[arg(long, env = "VIGIL_BENCH_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A file the receiver writes one line per event to (rsyslog omfile).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Open-loop HTTP load at a fixed rate; prints latency percentiles (run against
    /// `vigil serve` from a second process).
    Http {
        /// Base URL of the server.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// API token (or VIGIL_BENCH_TOKEN).
        #[arg(long, env = "VIGIL_BENCH_TOKEN", hide_env_values = true)]
        token: String,
        /// Request path with query; repeat to rotate between several.
        #[arg(long = "path", required = true)]
        paths: Vec<String>,
        /// Requests per second.
        #[arg(long, default_value_t = 500)]
        rate: u32,
        /// Seconds to measure (after one second of warm-up).
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input (one line) with
    /// --password-stdin, else generated and printed once.
    Add {
        username: String,
        /// platform_admin, analyst, auditor or org_user.
        #[arg(long)]
        role: String,
        /// Organization id (required for org_user).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        password_stdin: bool,
        /// Interface language: zh-CN or en.
        #[arg(long, default_value = "zh-CN")]
        locale: String,
    },
    /// Set a new password (from standard input with --password-stdin, else generated and
    /// printed once) and end the user's sessions.
    ResetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Import organizations from a JSON array or a CSV file (by extension). CSV columns:
    /// name, uscc, sector, region_code, mlps_level, cii, miit_type, miit_grade,
    /// responsible_name, responsible_title, responsible_phone, responsible_email.
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum AssetCommand {
    /// Import assets from a CSV or JSON file (by extension); see the API's /assets/import.
    Import {
        file: PathBuf,
        /// Organization for rows that do not name one.
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Ingest an NDJSON file of ECS documents (one per line), in batches, with a progress bar.
    /// Rejected lines are reported with their line number and reason.
    Ingest {
        file: PathBuf,
        /// Organization for lines without vigil.org_id.
        #[arg(long)]
        org: Option<String>,
    },
    /// Import Windows event log files (EVTX; files or directories, recursively) into an
    /// organization: each record normalized to ECS (host, user, source address, process,
    /// category, Sigma log source), the record kept as raw JSON. Broken chunks and records
    /// are reported and skipped.
    ImportEvtx {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The organization the events belong to.
        #[arg(long)]
        org: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let is_audit_verify = matches!(cli.command, Command::Audit { .. });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.is::<commands::Tampered>() || e.is::<commands::Invalid>() => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            if is_audit_verify {
                std::process::ExitCode::from(2)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}

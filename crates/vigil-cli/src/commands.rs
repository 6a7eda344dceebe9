//! The subcommands' work. Errors carry context for the operator (anyhow).

use crate::{
    AssetCommand, AuditCommand, BenchCommand, Cli, Command, EventsCommand, OrgCommand,
    RulesCommand, UserCommand,
};
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::Arc;
use vigil_model::event::parse_ecs_line;
use vigil_model::{
    AuditOutcome, Contact, Locale, MiitEnterpriseType, NewAuditRecord, NewEvent, NewOrganization,
    NewUser, OrgId, Provenance, Role, Scope, Timestamp,
};
use vigil_server::config::{Config, RawConfig, process_env};
use vigil_store::Store;

/// Events per store batch for file ingestion.
const BATCH: usize = 1_000;
/// Rejected lines printed one by one before only counting.
const MAX_PRINTED_REJECTS: usize = 100;

fn load_config(cli: &Cli, listen: Option<&str>) -> anyhow::Result<Config> {
    let raw = match &cli.config {
        Some(p) => RawConfig::from_file(p)?,
        None => RawConfig::default(),
    };
    let data_dir = cli
        .data_dir
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let listen = listen.map(str::to_string);
    let env = move |k: &str| -> Option<String> {
        match k {
            "VIGIL_LISTEN" if listen.is_some() => listen.clone(),
            "VIGIL_DATA_DIR" if data_dir.is_some() => data_dir.clone(),
            _ => process_env(k),
        }
    };
    Ok(Config::resolve(raw, &env)?)
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match cfg.log_format {
        vigil_server::config::LogFormat::Json => builder.json().try_init(),
        vigil_server::config::LogFormat::Text => builder.try_init(),
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    match &cli.command {
        Command::Version => {
            println!("vigil {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        Command::Bench {
            command:
                BenchCommand::Http {
                    url,
                    token,
                    paths,
                    rate,
                    seconds,
                },
        } => {
            let r = crate::bench::http(
                url,
                token,
                paths,
                *rate,
                std::time::Duration::from_secs(*seconds),
            )
            .await?;
            println!(
                "requests {} ok {} errors {} achieved {:.0}/s  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                r.sent, r.ok, r.errors, r.achieved_rps, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms
            );
            return Ok(());
        }
        Command::VerifyNotice { file, public_key } => return verify_notice(file, public_key),
        Command::Bench {
            command:
                BenchCommand::Syslog {
                    target,
                    events,
                    connections,
                    metrics,
                    token,
                    file,
                    timeout,
                },
        } => {
            let sink = match (metrics, file) {
                (Some(m), _) => crate::bench::Sink::Metrics {
                    url: m.clone(),
                    token: token
                        .clone()
                        .context("--metrics needs --token (or VIGIL_BENCH_TOKEN)")?,
                },
                (None, Some(f)) => crate::bench::Sink::File(f.clone()),
                (None, None) => bail!("give --metrics or --file"),
            };
            let r = crate::bench::syslog(
                target,
                *events,
                *connections,
                &sink,
                std::time::Duration::from_secs(*timeout),
            )
            .await?;
            println!(
                "events {}  sent in {:.2} s ({:.0}/s)  received end to end in {:.2} s ({:.0}/s)",
                r.events,
                r.send_secs,
                r.events as f64 / r.send_secs,
                r.end_to_end_secs,
                r.events as f64 / r.end_to_end_secs
            );
            return Ok(());
        }
        // Hunting and rule checks read files only: no configuration, no store.
        Command::Hunt(args) => return crate::hunt::hunt(args),
        Command::Rules {
            command: RulesCommand::Check { paths },
        } => return crate::hunt::check(paths),
        Command::Rules {
            command: RulesCommand::Test { rules, events },
        } => return crate::hunt::test(rules, events),
        _ => {}
    }
    let cfg = load_config(&cli, listen.as_deref())?;
    init_logging(&cfg);
    let store = vigil_server::open_store(&cfg.store, &cfg.field_key_file).await?;
    match cli.command {
        Command::Version
        | Command::VerifyNotice { .. }
        | Command::Hunt(_)
        | Command::Rules { .. }
        | Command::Bench {
            command: BenchCommand::Http { .. } | BenchCommand::Syslog { .. },
        } => Ok(()),
        Command::Bench {
            command:
                BenchCommand::Seed {
                    orgs,
                    alerts,
                    incidents,
                },
        } => crate::bench::seed(store, orgs, alerts, incidents).await,
        Command::Migrate => {
            println!("store ({}) is at the latest schema", store.backend());
            Ok(())
        }
        Command::Serve { demo, .. } => serve(&cfg, store, demo).await,
        Command::User { command } => user(store.as_ref(), command).await,
        Command::Org {
            command: OrgCommand::Import { file },
        } => import_orgs(store.as_ref(), &file).await,
        Command::Asset {
            command: AssetCommand::Import { file, org },
        } => import_assets(store.as_ref(), &file, org.as_deref()).await,
        Command::Events {
            command: EventsCommand::Ingest { file, org },
        } => ingest(store, &file, org.as_deref()).await,
        Command::Events {
            command: EventsCommand::ImportEvtx { paths, org },
        } => crate::evtx::import(store, &paths, &org).await,
        Command::Audit {
            command: AuditCommand::Verify { json },
        } => audit_verify(store.as_ref(), json).await,
    }
}

/// A signed document that does not verify; exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("notice NOT valid: {0}")]
pub struct Invalid(pub String);

fn verify_notice(file: &Path, public_key: &Path) -> anyhow::Result<()> {
    let key_text = std::fs::read(public_key)
        .with_context(|| format!("reading the public key {}", public_key.display()))?;
    // PEM and hex are text; DER is read as hex of its bytes.
    let key_text = match std::str::from_utf8(&key_text) {
        Ok(t) => t.to_string(),
        Err(_) => hex::encode(&key_text),
    };
    let trusted = vigil_crypto::Sm2PublicKey::parse(&key_text)
        .with_context(|| format!("{} is not an SM2 public key", public_key.display()))?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let env: vigil_crypto::Envelope = serde_json::from_str(&text).map_err(|e| {
        Invalid(format!(
            "{} is not a signed Vigil document: {e}",
            file.display()
        ))
    })?;
    let payload =
        vigil_crypto::open_envelope(&env, &trusted).map_err(|e| Invalid(e.to_string()))?;
    println!(
        "signature valid: SM2-SM3 by {} (ID {})",
        trusted.to_hex(),
        env.signer_id
    );
    match serde_json::from_str::<serde_json::Value>(payload) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v)?),
        Err(_) => println!("{payload}"),
    }
    Ok(())
}

/// The audit chain is not intact (the findings were printed); exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("audit chain NOT intact: {0} finding(s)")]
pub struct Tampered(pub usize);

async fn audit_verify(store: &dyn Store, json: bool) -> anyhow::Result<()> {
    let v = vigil_web::api::audit::verify_chain(store)
        .await
        .context("reading the audit log")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for f in &v.findings {
            println!("record {}: {}: {}", f.seq, f.kind, f.detail);
        }
        if v.ok {
            println!("audit chain intact: {} records, head {}", v.checked, v.head);
        }
    }
    if v.ok {
        Ok(())
    } else {
        Err(Tampered(v.findings.len()).into())
    }
}

async fn serve(cfg: &Config, store: Arc<dyn Store>, demo: bool) -> anyhow::Result<()> {
    let metrics = vigil_server::install_metrics();
    let admin_password = std::env::var("VIGIL_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    match vigil_server::bootstrap_admin(store.as_ref(), admin_password).await? {
        vigil_server::Bootstrap::Generated(p) => {
            // Printed to the terminal once, never logged.
            eprintln!(
                "\n  First start: created user 'admin' with one-time password: {p}\n  Change it after logging in (or set VIGIL_ADMIN_PASSWORD before the first start).\n"
            );
        }
        vigil_server::Bootstrap::FromEnvironment => {
            eprintln!(
                "  First start: created user 'admin' with the password from VIGIL_ADMIN_PASSWORD."
            );
        }
        vigil_server::Bootstrap::Existing => {}
    }
    if demo {
        let has_data = !store
            .list_orgs(Scope::All, &Default::default())
            .await?
            .is_empty();
        if has_data {
            eprintln!("  Demo: the store already has data; not generating it again.");
        } else {
            let started = std::time::Instant::now();
            eprintln!("  Demo: generating the demo data set...");
            let opts = vigil_demo::DemoOptions {
                now: Timestamp::now(),
                ..Default::default()
            };
            let summary = vigil_demo::generate(store.as_ref(), &opts)
                .await
                .context("generating demo data")?;
            eprintln!(
                "  Demo: {} organizations, {} assets, {} events, {} alerts, {} incidents in {:.1} s",
                summary.orgs,
                summary.assets,
                summary.events,
                summary.alerts,
                summary.incidents,
                started.elapsed().as_secs_f64()
            );
        }
        for (name, password) in vigil_server::demo_users(store.as_ref()).await? {
            eprintln!("  Demo user '{name}' password: {password}");
        }
        // Keep telemetry arriving so the platform is visibly alive.
        tokio::spawn(vigil_demo::live::run(store.clone(), 7, 20, 45));
    }
    vigil_server::serve(cfg, store, metrics, |addr| {
        eprintln!("  Vigil is at http://{addr}/");
    })
    .await
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let p = line.trim_end_matches(['\r', '\n']).to_string();
        vigil_crypto::check_password_policy(&p).map_err(|m| anyhow::anyhow!(m))?;
        Ok((p, false))
    } else {
        Ok((vigil_crypto::new_password(), true))
    }
}

async fn user(store: &dyn Store, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            username,
            role,
            org,
            password_stdin,
            locale,
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("--role: '{role}' is not platform_admin, analyst, auditor or org_user")
            })?;
            let org_id = org
                .map(|o| {
                    o.parse::<OrgId>()
                        .with_context(|| format!("--org: '{o}' is not an organization id"))
                })
                .transpose()?;
            let locale = Locale::parse(&locale)
                .with_context(|| format!("--locale: '{locale}' is not zh-CN or en"))?;
            let spec = NewUser {
                username: username.clone(),
                display_name: username.clone(),
                role,
                org_id,
                locale,
            };
            spec.validate()?;
            if let Some(o) = org_id
                && store.get_org(Scope::All, o).await?.is_none()
            {
                bail!("--org: organization {o} not found");
            }
            let (password, generated) = read_password(password_stdin)?;
            let hash = vigil_crypto::hash_password(&password)?;
            store.create_user(spec, hash).await?;
            audit(store, "user.create", format!("user/{username}"), org_id).await?;
            println!("created user '{username}' ({})", role.as_str());
            if generated {
                println!("password (shown once): {password}");
            }
        }
        UserCommand::ResetPassword {
            username,
            password_stdin,
        } => {
            let (user, _) = store
                .find_user_for_login(&username)
                .await?
                .with_context(|| format!("no user named '{username}'"))?;
            let (password, generated) = read_password(password_stdin)?;
            store
                .set_password(user.id, vigil_crypto::hash_password(&password)?)
                .await?;
            store.delete_user_sessions(user.id).await?;
            audit(
                store,
                "user.password",
                format!("user/{username}"),
                user.spec.org_id,
            )
            .await?;
            println!("password of '{username}' reset; its sessions were ended");
            if generated {
                println!("password (shown once): {password}");
            }
        }
    }
    Ok(())
}

async fn audit(
    store: &dyn Store,
    action: &str,
    object: String,
    org: Option<OrgId>,
) -> anyhow::Result<()> {
    let actor = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "operator".into())
    );
    store
        .append_audit(NewAuditRecord {
            actor,
            action: action.into(),
            object,
            outcome: AuditOutcome::Success,
            org_id: org,
            detail: String::new(),
        })
        .await?;
    Ok(())
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Reads organization specs from JSON or CSV, each with its row number or the row's problem.
fn read_orgs(path: &Path) -> anyhow::Result<Vec<(usize, Result<NewOrganization, String>)>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !is_csv(path) {
        let values: Vec<serde_json::Value> =
            serde_json::from_slice(&bytes).context("the file is not a JSON array")?;
        return Ok(values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i + 1, serde_json::from_value(v).map_err(|e| e.to_string())))
            .collect());
    }
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let headers = rdr.headers().context("reading the CSV header")?.clone();
    const COLS: [&str; 12] = [
        "name",
        "uscc",
        "sector",
        "region_code",
        "mlps_level",
        "cii",
        "miit_type",
        "miit_grade",
        "responsible_name",
        "responsible_title",
        "responsible_phone",
        "responsible_email",
    ];
    if let Some(bad) = headers.iter().find(|h| !COLS.contains(h)) {
        bail!(
            "unknown CSV column '{bad}'; known columns: {}",
            COLS.join(", ")
        );
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let row = i + 1;
        let parsed = rec.map_err(|e| e.to_string()).and_then(|rec| {
            let get = |n: &str| -> Option<String> {
                headers
                    .iter()
                    .position(|h| h == n)
                    .and_then(|p| rec.get(p))
                    .filter(|s| !s.is_empty())
                    .map(String::from)
            };
            let num = |n: &str| -> Result<Option<u8>, String> {
                get(n)
                    .map(|v| {
                        v.parse::<u8>()
                            .map_err(|_| format!("{n}: '{v}' is not a number"))
                    })
                    .transpose()
            };
            Ok(NewOrganization {
                name: get("name").unwrap_or_default(),
                uscc: get("uscc"),
                sector: get("sector").unwrap_or_default(),
                region_code: get("region_code").unwrap_or_default(),
                mlps_level: num("mlps_level")?.unwrap_or(0),
                cii: matches!(get("cii").as_deref(), Some("true" | "1" | "yes" | "是")),
                miit_type: get("miit_type")
                    .map(|t| {
                        MiitEnterpriseType::parse(&t).ok_or(format!("miit_type: '{t}' is unknown"))
                    })
                    .transpose()?,
                miit_grade: num("miit_grade")?,
                responsible: Contact {
                    name: get("responsible_name").unwrap_or_default(),
                    title: get("responsible_title"),
                    phone: get("responsible_phone"),
                    email: get("responsible_email"),
                },
                contacts: Vec::new(),
            })
        });
        out.push((row, parsed));
    }
    Ok(out)
}

async fn import_orgs(store: &dyn Store, path: &Path) -> anyhow::Result<()> {
    let rows = read_orgs(path)?;
    let (mut created, mut failed) = (0usize, 0usize);
    for (row, spec) in rows {
        let result = match spec {
            Err(e) => Err(e),
            Ok(spec) => match spec.validate() {
                Err(e) => Err(e.to_string()),
                Ok(()) => store.create_org(spec).await.map_err(|e| e.to_string()),
            },
        };
        match result {
            Ok(org) => {
                created += 1;
                println!("row {row}: created {} {}", org.id, org.spec.name);
                audit(
                    store,
                    "org.create",
                    format!("organization/{}", org.id),
                    Some(org.id),
                )
                .await?;
            }
            Err(e) => {
                failed += 1;
                eprintln!("row {row}: rejected: {e}");
            }
        }
    }
    println!("{created} organizations created, {failed} rows rejected");
    if created == 0 && failed > 0 {
        bail!("no organization was imported");
    }
    Ok(())
}

async fn import_assets(store: &dyn Store, path: &Path, org: Option<&str>) -> anyhow::Result<()> {
    let default_org = org
        .map(|o| {
            o.parse::<OrgId>()
                .with_context(|| format!("--org: '{o}' is not an organization id"))
        })
        .transpose()?;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let ctype = if is_csv(path) {
        "text/csv"
    } else {
        "application/json"
    };
    let rows = vigil_web::import::parse_assets(ctype, &bytes, default_org)
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut known: HashMap<OrgId, bool> = HashMap::new();
    let mut valid = Vec::new();
    let mut failed = 0usize;
    for row in rows {
        match row.outcome {
            vigil_web::import::RowOutcome::Valid(a) => {
                let exists = match known.get(&a.org_id) {
                    Some(e) => *e,
                    None => {
                        let e = store.get_org(Scope::All, a.org_id).await?.is_some();
                        known.insert(a.org_id, e);
                        e
                    }
                };
                if exists {
                    valid.push(a);
                } else {
                    failed += 1;
                    eprintln!(
                        "row {}: rejected: org_id: organization {} not found",
                        row.row, a.org_id
                    );
                }
            }
            vigil_web::import::RowOutcome::Error(e) => {
                failed += 1;
                eprintln!("row {}: rejected: {e}", row.row);
            }
        }
    }
    let created = if valid.is_empty() {
        0
    } else {
        store.create_assets(Scope::All, valid).await?.len()
    };
    audit(
        store,
        "asset.import",
        format!("assets/{created}"),
        default_org,
    )
    .await?;
    println!("{created} assets created, {failed} rows rejected");
    if created == 0 && failed > 0 {
        bail!("no asset was imported");
    }
    Ok(())
}

async fn ingest(store: Arc<dyn Store>, path: &Path, org: Option<&str>) -> anyhow::Result<()> {
    let default_org = org
        .map(|o| {
            o.parse::<OrgId>()
                .with_context(|| format!("--org: '{o}' is not an organization id"))
        })
        .transpose()?;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(size)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let sender = Some(path.display().to_string());
    let mut orgs: HashMap<OrgId, bool> = HashMap::new();
    let mut batch: Vec<NewEvent> = Vec::with_capacity(BATCH);
    let (mut stored, mut rejected, mut line_no) = (0u64, 0u64, 0u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bounded read: a line longer than the limit is consumed and rejected, never held whole.
        let n = (&mut reader)
            .take(vigil_model::event::MAX_EVENT_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .context("reading the input")?;
        if n == 0 {
            break;
        }
        bar.inc(n as u64);
        let mut too_long = false;
        if line.last() != Some(&b'\n') && n > vigil_model::event::MAX_EVENT_BYTES {
            too_long = true;
            // Skip the rest of the overlong line.
            let mut sink = Vec::new();
            loop {
                sink.clear();
                let m = (&mut reader).take(1 << 20).read_until(b'\n', &mut sink)?;
                bar.inc(m as u64);
                if m == 0 || sink.last() == Some(&b'\n') {
                    break;
                }
            }
        }
        line_no += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if !too_long && text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let result: Result<NewEvent, String> = if too_long {
            Err(format!(
                "line: longer than {} bytes",
                vigil_model::event::MAX_EVENT_BYTES
            ))
        } else {
            match parse_ecs_line(text) {
                Err(e) => Err(e.to_string()),
                Ok(doc) => match doc.org_id.or(default_org) {
                    None => Err("vigil.org_id: missing; name it in the line or with --org".into()),
                    Some(org) => {
                        let exists = match orgs.get(&org) {
                            Some(e) => *e,
                            None => {
                                let e = store.get_org(Scope::All, org).await?.is_some();
                                orgs.insert(org, e);
                                e
                            }
                        };
                        if exists {
                            let now = Timestamp::now();
                            Ok(NewEvent {
                                org_id: org,
                                asset_id: doc.asset_id,
                                timestamp: doc.timestamp.unwrap_or(now),
                                received_at: now,
                                provenance: Provenance {
                                    input: "cli".into(),
                                    sender: sender.clone(),
                                },
                                fields: doc.fields,
                                native: BTreeMap::new(),
                                raw: text.to_vec(),
                            })
                        } else {
                            Err(format!("vigil.org_id: organization {org} not found"))
                        }
                    }
                },
            }
        };
        match result {
            Ok(ev) => {
                batch.push(ev);
                if batch.len() >= BATCH {
                    stored += store.append_events(std::mem::take(&mut batch)).await?.len() as u64;
                    bar.set_message(format!("{stored} stored, {rejected} rejected"));
                }
            }
            Err(e) => {
                rejected += 1;
                if rejected as usize <= MAX_PRINTED_REJECTS {
                    bar.suspend(|| eprintln!("line {line_no}: rejected: {e}"));
                } else if rejected as usize == MAX_PRINTED_REJECTS + 1 {
                    bar.suspend(|| eprintln!("(further rejected lines are only counted)"));
                }
            }
        }
    }
    if !batch.is_empty() {
        stored += store.append_events(batch).await?.len() as u64;
    }
    bar.finish_and_clear();
    println!(
        "{stored} events stored, {rejected} lines rejected ({} lines read)",
        line_no
    );
    if stored == 0 && rejected > 0 {
        bail!("no event was stored");
    }
    Ok(())
}

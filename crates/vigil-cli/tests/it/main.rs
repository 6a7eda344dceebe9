//! End-to-end tests of the `vigil` binary: each runs the real executable on a temporary data
//! directory, as an operator would.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod overload;

fn vigil(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.arg("--data-dir").arg(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("VIGIL_") && !k.starts_with("VIGIL_TEST") {
            c.env_remove(k);
        }
    }
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Imports tests/fixtures/orgs.csv into the data directory; the id of the first organization.
fn import_fixture_orgs(dir: &Path) -> String {
    let (ok, out, err) = run(vigil(dir).args(["org", "import"]).arg(fixture("orgs.csv")));
    assert!(ok, "{err}");
    created_org_id(&out)
}

/// The id in `row 1: created <id> <name>` of `vigil org import`'s output.
fn created_org_id(out: &str) -> String {
    out.lines()
        .find(|l| l.starts_with("row 1: created "))
        .and_then(|l| l.split_whitespace().nth(3))
        .expect("created org id")
        .to_string()
}

fn run(c: &mut Command) -> (bool, String, String) {
    let out = c.output().expect("run vigil");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_prints_the_package_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, out, _) = run(vigil(dir.path()).arg("version"));
    assert!(ok);
    assert_eq!(out.trim(), format!("vigil {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn configuration_errors_name_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("vigil.toml");
    std::fs::write(&cfg, "[server]\nlisten = \"nowhere\"\n").expect("write");
    let (ok, _, err) = run(vigil(dir.path()).arg("--config").arg(&cfg).arg("migrate"));
    assert!(!ok);
    assert!(err.contains("server.listen"), "{err}");
    std::fs::write(&cfg, "[store]\nbackend = \"oracle\"\n").expect("write");
    let (ok, _, err) = run(vigil(dir.path()).arg("--config").arg(&cfg).arg("migrate"));
    assert!(!ok);
    assert!(
        err.contains("store.backend") && err.contains("oracle"),
        "{err}"
    );
    std::fs::write(&cfg, "[sever]\nlisten = \"127.0.0.1:1\"\n").expect("write");
    let (ok, _, err) = run(vigil(dir.path()).arg("--config").arg(&cfg).arg("migrate"));
    assert!(!ok);
    assert!(err.contains("sever"), "{err}");
}

#[test]
fn imports_users_and_ingestion_work_on_a_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, out, err) = run(vigil(dir.path()).arg("migrate"));
    assert!(ok, "{err}");
    assert!(out.contains("sqlite"), "{out}");

    let (ok, out, err) = run(vigil(dir.path())
        .args(["org", "import"])
        .arg(fixture("orgs.csv")));
    assert!(ok, "{err}");
    assert!(
        out.contains("2 organizations created, 2 rows rejected"),
        "{out}"
    );
    assert!(err.contains("row 3: rejected: region_code"), "{err}");
    assert!(err.contains("row 4: rejected: mlps_level"), "{err}");
    let org_id = created_org_id(&out);

    let assets = dir.path().join("assets.csv");
    std::fs::write(
        &assets,
        "name,kind,ips,vendor\n水厂PLC-1,plc,10.3.0.11,Siemens\nbad,toaster,,\n",
    )
    .expect("write");
    let (ok, out, err) = run(vigil(dir.path())
        .args(["asset", "import"])
        .arg(&assets)
        .args(["--org", &org_id]));
    assert!(ok, "{err}");
    assert!(out.contains("1 assets created, 1 rows rejected"), "{out}");
    assert!(err.contains("row 2: rejected: kind"), "{err}");

    let (ok, out, err) = run_with_stdin(
        vigil(dir.path()).args([
            "user",
            "add",
            "officer.wang",
            "--role",
            "org_user",
            "--org",
            &org_id,
            "--password-stdin",
        ]),
        b"a strong password 42\n",
    );
    assert!(
        out.contains("created user 'officer.wang' (org_user)"),
        "{out}"
    );
    assert!(!out.contains("a strong password"), "{out}");
    assert!(ok, "{err}{out}");
    let (ok, _, err) = run(vigil(dir.path()).args(["user", "add", "x", "--role", "org_user"]));
    assert!(!ok);
    assert!(err.contains("org_id"), "{err}");
    let (ok, _, err) = run(vigil(dir.path()).args(["user", "add", "y", "--role", "superuser"]));
    assert!(!ok);
    assert!(err.contains("--role"), "{err}");
    let (ok, out, _) = run(vigil(dir.path()).args(["user", "reset-password", "officer.wang"]));
    assert!(ok);
    assert!(out.contains("password (shown once): "), "{out}");

    let (ok, out, err) = run(vigil(dir.path())
        .args(["events", "ingest"])
        .arg(fixture("events.ndjson"))
        .args(["--org", &org_id]));
    assert!(ok, "{err}");
    assert!(out.contains("3 events stored, 2 lines rejected"), "{out}");
    assert!(
        err.contains("line 3: rejected: line: not valid JSON"),
        "{err}"
    );
    assert!(err.contains("line 5: rejected: @timestamp"), "{err}");

    let (ok, _, err) = run(vigil(dir.path())
        .args(["events", "ingest"])
        .arg(fixture("events.ndjson")));
    assert!(!ok, "without an organization nothing is stored");
    assert!(err.contains("vigil.org_id"), "{err}");
}

fn run_with_stdin(c: &mut Command, input: &[u8]) -> (bool, String, String) {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vigil");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn serve_bootstraps_an_admin_and_answers_health_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = vigil(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("VIGIL_ADMIN_PASSWORD", "first admin password")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut addr = None;
    let mut seen = String::new();
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.trim().strip_prefix("Vigil is at http://") {
            addr = Some(rest.trim_end_matches('/').to_string());
            break;
        }
    }
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("server did not start: {seen}");
    };
    assert!(seen.contains("VIGIL_ADMIN_PASSWORD"), "{seen}");
    assert!(
        !seen.contains("first admin password"),
        "the password is never printed"
    );
    let health = http_get(&addr, "/healthz");
    let ready = http_get(&addr, "/readyz");
    let api = http_get(&addr, "/api/v1/organizations");
    let _ = child.kill();
    let _ = child.wait();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(api.starts_with("HTTP/1.1 401"), "{api}");
    // The platform's notice-signing key was created in the data directory, owner-only.
    let key = dir.path().join("keys/platform-sm2.pem");
    let pem = std::fs::read_to_string(&key).expect("platform key file");
    assert!(pem.contains("PRIVATE KEY"), "{pem}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
        assert_eq!(mode & 0o077, 0, "key file mode {mode:o}");
    }
}

#[test]
fn rules_check_reports_each_problem_with_its_code_and_fails_on_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = vigil(dir.path())
        .args(["rules", "check"])
        .arg(fixture("rules"))
        .output()
        .expect("run vigil");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].contains("broken_modifier.yml:9:9:")
            && lines[0].contains("SIGMA-E010")
            && lines[0].contains("unknown modifier 'containz'"),
        "{stdout}"
    );
    assert!(
        stderr.contains("3 files, 2 rules compiled, 1 errors"),
        "{stderr}"
    );
    // No store is opened: the data directory stays empty.
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);

    let (ok, out, err) = run(vigil(dir.path())
        .args(["rules", "check"])
        .arg(fixture("rules/windows")));
    assert!(ok, "{err}");
    assert!(out.is_empty(), "{out}");
}

#[test]
fn hunt_over_ndjson_prints_hits_as_json_lines_and_a_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, out, err) = run(vigil(dir.path())
        .arg("hunt")
        .arg("--rules")
        .arg(fixture("rules/windows"))
        .args(["--format", "jsonl"])
        .arg(fixture("hunt-events.ndjson")));
    assert!(ok, "{err}");
    let hits: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(hits.len(), 2, "{out}");
    assert_eq!(hits[0]["rule_title"], "Whoami Execution");
    assert_eq!(hits[0]["level"], "medium");
    assert_eq!(hits[0]["host"], "ws1.corp.example");
    assert_eq!(hits[0]["time"], "2024-05-01T10:00:00Z");
    assert_eq!(hits[0]["record"], 1);
    assert_eq!(hits[0]["matched"], serde_json::json!(["Image"]));
    assert_eq!(
        hits[0]["tags"],
        serde_json::json!(["attack.discovery", "attack.t1033"])
    );
    assert_eq!(hits[0]["fields"]["CommandLine"], "whoami /all");
    assert_eq!(hits[1]["rule_title"], "Mimikatz Service Installed");
    assert_eq!(hits[1]["event_id"], 7045);
    assert_eq!(hits[1]["record"], 2);
    // The bad line is reported with its number; the summary goes to stderr in jsonl mode.
    assert!(err.contains("(line 4): invalid JSON"), "{err}");
    assert!(err.contains("summary: 1 files, 3 events"), "{err}");
    assert!(err.contains("by level: critical 1, medium 1"), "{err}");

    let (ok, out, err) = run(vigil(dir.path())
        .arg("hunt")
        .arg("--rules")
        .arg(fixture("rules/windows"))
        .args(["--format", "jsonl", "--min-level", "high", "--tag", "t1543"])
        .args(["--from", "2024-05-02", "--to", "2024-05-03"])
        .arg(fixture("hunt-events.ndjson")));
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("Mimikatz Service Installed"), "{out}");
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
}

/// The correlation fixtures of vigil-hunt: failed logons split over two files, out of order.
fn correlation_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vigil-hunt/tests/fixtures/correlation")
        .join(name)
}

#[test]
fn hunt_evaluates_correlation_rules_across_files_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hunt = |format: &str| {
        run(vigil(dir.path())
            .arg("hunt")
            .arg("--rules")
            .arg(correlation_fixture("rules"))
            .args(["--format", format])
            .arg(correlation_fixture("events-a.ndjson"))
            .arg(correlation_fixture("events-b.ndjson")))
    };
    let (ok, out, err) = hunt("jsonl");
    assert!(ok, "{err}");
    let hits: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    // Two whoami and two service hits (`generate: true`), then three correlation hits.
    assert_eq!(hits.len(), 7, "{out}");
    let bf: Vec<&serde_json::Value> = hits
        .iter()
        .filter(|h| h["rule_title"] == "Brute Force From One Source")
        .collect();
    assert_eq!(bf.len(), 1, "{out}");
    assert_eq!(bf[0]["fields"]["IpAddress"], "10.0.0.5");
    assert_eq!(bf[0]["level"], "high");
    assert_eq!(bf[0]["time"], "2024-05-01T10:04:00Z");
    assert_eq!(bf[0]["correlation"]["kind"], "event_count");
    assert_eq!(bf[0]["correlation"]["events"], 5);
    assert_eq!(bf[0]["correlation"]["files"], 2);
    assert_eq!(bf[0]["correlation"]["contributors"][0]["record"], 2);
    assert!(
        hits.iter().all(|h| h["rule_title"] != "Failed Logon"),
        "building blocks stay hidden: {out}"
    );
    assert!(
        hits.iter()
            .filter(|h| h["rule_title"] == "Whoami Run")
            .all(|h| h.get("correlation").is_none()),
        "{out}"
    );
    assert!(err.contains("3 correlations loaded"), "{err}");
    assert!(err.contains("7 hits (3 from correlations)"), "{err}");
    assert!(
        err.contains("by level: critical 1, high 2, medium 2, low 2"),
        "{err}"
    );
    assert!(
        err.contains("1 events for correlations without a time"),
        "{err}"
    );

    let (ok, out, err) = hunt("csv");
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with(",file,record,correlation"), "{out}");
    let row = lines
        .iter()
        .find(|l| l.contains("Password Spray From One Source"))
        .expect("the spray row");
    assert!(row.contains("IpAddress=10.0.0.7"), "{row}");
    assert!(
        row.contains("value_count 3 over 3 events from 2 files"),
        "{row}"
    );

    let (ok, out, err) = hunt("table");
    assert!(ok, "{err}");
    let row = out
        .lines()
        .find(|l| l.contains("Recon Then Service Install On One Host"))
        .expect("the sequence row");
    assert!(row.contains("critical"), "{row}");
    assert!(row.contains("Computer=ws1"), "{row}");
    assert!(row.contains("temporal_ordered 2 over 2 events"), "{row}");
    assert!(
        out.contains("1  critical       Recon Then Service Install On One Host"),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
}

#[test]
fn rules_test_prints_which_rules_match_which_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, out, err) = run(vigil(dir.path())
        .args(["rules", "test", "--rules"])
        .arg(fixture("rules/windows"))
        .arg(fixture("hunt-events.ndjson")));
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("line 1: Whoami Execution [medium]"),
        "{out}"
    );
    assert!(lines[0].ends_with("matched: Image"), "{out}");
    assert!(
        lines[1].starts_with("line 2: Mimikatz Service Installed [critical]"),
        "{out}"
    );
    assert_eq!(lines[2], "line 3: no match");
    assert!(err.contains("3 events, 2 matched"), "{err}");
}

#[test]
fn audit_verify_names_a_tampered_record_and_exits_nonzero() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Three audited changes: two organizations imported, one user added.
    let (ok, _, err) = run(vigil(dir.path())
        .args(["org", "import"])
        .arg(fixture("orgs.csv")));
    assert!(ok, "{err}");
    let (ok, _, err) = run_with_stdin(
        vigil(dir.path()).args([
            "user",
            "add",
            "carol",
            "--role",
            "auditor",
            "--password-stdin",
        ]),
        b"correct horse battery staple\n",
    );
    assert!(ok, "{err}");
    let (ok, out, err) = run(vigil(dir.path()).args(["audit", "verify"]));
    assert!(ok, "{out}{err}");
    assert!(out.contains("audit chain intact: "), "{out}");

    // Someone with the database file rewrites who did the second thing.
    let conn = rusqlite::Connection::open(dir.path().join("vigil.db")).expect("open db");
    let changed = conn
        .execute(
            "UPDATE audit_log SET actor = 'user:nobody' WHERE seq = 2",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(conn);
    let out = vigil(dir.path())
        .args(["audit", "verify"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("record 2: altered"), "{stdout}");
    assert!(stderr.contains("audit chain NOT intact"), "{stderr}");
    let out = vigil(dir.path())
        .args(["audit", "verify", "--json"])
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["findings"][0]["seq"], 2);
    assert_eq!(v["findings"][0]["kind"], "altered");
}

#[test]
fn verify_notice_accepts_the_platform_signature_and_refuses_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = vigil_crypto::Sm2PrivateKey::generate().expect("key");
    let payload = r#"{"type":"vigil.incident_notice","incident":{"title":"勒索软件"}}"#;
    let env = vigil_crypto::seal_envelope(&key, payload.to_string()).expect("seal");
    let env_path = dir.path().join("notice.json");
    std::fs::write(&env_path, serde_json::to_string(&env).expect("json")).expect("write");
    let pem_path = dir.path().join("platform.pem");
    std::fs::write(&pem_path, key.public_key().to_pem().expect("pem")).expect("write");

    let verify = |file: &Path| {
        vigil(dir.path())
            .arg("verify-notice")
            .arg(file)
            .arg("--public-key")
            .arg(&pem_path)
            .output()
            .expect("run")
    };
    let out = verify(&env_path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("signature valid"), "{stdout}");
    assert!(stdout.contains("勒索软件"), "{stdout}");

    let mut altered = env.clone();
    altered.payload = altered.payload.replace("勒索软件", "端口扫描");
    let altered_path = dir.path().join("altered.json");
    std::fs::write(
        &altered_path,
        serde_json::to_string(&altered).expect("json"),
    )
    .expect("write");
    let out = verify(&altered_path);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("notice NOT valid"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let not_json = dir.path().join("garbage.json");
    std::fs::write(&not_json, "hello").expect("write");
    assert_eq!(verify(&not_json).status.code(), Some(1));
}

#[test]
fn import_evtx_normalizes_windows_events_and_skips_broken_files() {
    let Some(sample) = vigil_testkit::shared_data(
        "evtx-samples/DeepBlueCLI/smb-password-guessing-security.evtx",
        "import_evtx_normalizes_windows_events_and_skips_broken_files",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let org_id = import_fixture_orgs(dir.path());
    let inputs = dir.path().join("inputs");
    std::fs::create_dir_all(&inputs).expect("mkdir");
    std::fs::copy(&sample, inputs.join("smb.evtx")).expect("copy");
    std::fs::write(inputs.join("garbage.evtx"), b"this is not an event log").expect("write");
    std::fs::write(inputs.join("notes.txt"), b"ignored: not .evtx").expect("write");
    let (ok, out, err) = run(vigil(dir.path())
        .args(["events", "import-evtx"])
        .arg(&inputs)
        .args(["--org", &org_id]));
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("events stored from 2 files, 1 problems"),
        "{out}"
    );
    assert!(
        err.contains("garbage.evtx: not a readable EVTX file"),
        "{err}"
    );
    let stored: u64 = out
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("count");
    assert!(stored > 100, "{out}");

    // The password guessing shows as failed logons with user and source address.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let page = rt.block_on(async {
        let store = vigil_store::sqlite::SqliteStore::open(dir.path()).expect("store");
        vigil_store::Store::search_events(
            &store,
            vigil_model::Scope::All,
            &vigil_store::EventQuery {
                filters: vec![vigil_store::FieldFilter {
                    field: "event.outcome".into(),
                    value: "failure".into(),
                }],
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .expect("search")
    });
    assert!(!page.items.is_empty(), "no failed logons found");
    for e in &page.items {
        let f = &e.event.fields;
        assert_eq!(
            f.get("event.code"),
            Some(&serde_json::json!("4625")),
            "{f:?}"
        );
        assert!(
            f.contains_key("user.name") && f.contains_key("host.name"),
            "{f:?}"
        );
        assert_eq!(
            f.get("sigma.logsource.service"),
            Some(&serde_json::json!("security"))
        );
        assert_eq!(e.event.provenance.input, "evtx");
    }
}

// ---------------------------------------------------------------------------------------------
// Crash test (issue 4, item 7): kill -9 in the middle of a TCP syslog stream.
// ---------------------------------------------------------------------------------------------

/// A running `vigil serve` whose standard error is drained by a thread (a full pipe would
/// block the server) and kept for failure messages.
struct Served {
    child: std::process::Child,
    /// The bound address of each pipeline listener, by name, from the JSON log.
    listeners: Vec<(String, String)>,
    /// The HTTP address (`127.0.0.1:port`).
    http: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Served {
    /// Starts `vigil serve` with `config` (which must set `log.format = "json"`) and waits
    /// for the HTTP address; the pipeline is running by then.
    fn start(dir: &Path, config: &Path) -> Served {
        let mut child = vigil(dir)
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("VIGIL_ADMIN_PASSWORD", "first admin password")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                    let _ = tx.send(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut listeners = Vec::new();
        let http;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let seen = log.lock().map(|l| l.clone()).unwrap_or_default();
                    panic!("server did not start: {seen}");
                }
            };
            if let Some(rest) = line.trim().strip_prefix("Vigil is at http://") {
                http = rest.trim_end_matches('/').to_string();
                break;
            }
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.ends_with(" listening") && m != "vigil listening")
                && let (Some(name), Some(addr)) =
                    (v["fields"]["input"].as_str(), v["fields"]["addr"].as_str())
            {
                listeners.push((name.to_string(), addr.to_string()));
            }
        }
        Served {
            child,
            listeners,
            http,
            log,
        }
    }

    fn listener(&self, name: &str) -> String {
        match self.listeners.iter().find(|(n, _)| n == name) {
            Some((_, a)) => a.clone(),
            None => panic!("no listener {name}: {}", self.log()),
        }
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// SIGKILL (on Unix `Child::kill` sends SIGKILL): no shutdown code runs.
    fn kill9(mut self) -> String {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
        self.log()
    }
}

/// The numbered RFC 5424 line `seq` of the crash test (no line end).
fn crash_line(seq: u64) -> String {
    format!(
        "<134>1 2026-11-22T08:00:00.000Z crash-host vigil-crash 4242 seq - crash-test seq={seq:010} payload={}",
        // A payload derived from the number, so a line damaged or mixed with another is seen.
        (0..8)
            .map(|i| format!("{:08x}", seq.wrapping_mul(0x9E37_79B9).rotate_left(i * 4)))
            .collect::<Vec<_>>()
            .join("-")
    )
}

/// The sequence number of a crash-test line, if `raw` is exactly one.
fn crash_seq(raw: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(raw).ok()?;
    let i = s.find(" seq=")?;
    let seq: u64 = s.get(i + 5..i + 15)?.parse().ok()?;
    (crash_line(seq) == s).then_some(seq)
}

/// CRC-32 (IEEE), as the spool uses.
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for p in parts {
        for &b in *p {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
    }
    !c
}

/// What the spool directory holds, read from outside the server by the documented on-disk
/// format (crates/vigil-pipeline/src/spool.rs): segments `<base offset>.seg` of records
/// `len u32 LE | crc u32 LE | body` (CRC over the length bytes and the body), the body being
/// `version, kind, seconds i64, nanos u32, input (u16 length), sender (u16 length, 0xFFFF for
/// none), data`; and `checkpoint` = `vigil-spool 1 <offset> <crc>`.
struct SpoolScan {
    /// The data of every complete record with a valid checksum, for the input `input`.
    data: Vec<Vec<u8>>,
    /// Spool offset just past the last complete record.
    end: u64,
    checkpoint: u64,
}

fn scan_spool(spool: &Path, input: &str) -> SpoolScan {
    let mut segs: Vec<(u64, PathBuf)> = std::fs::read_dir(spool)
        .expect("spool dir")
        .filter_map(|e| {
            let p = e.ok()?.path();
            let base = p
                .file_name()?
                .to_str()?
                .strip_suffix(".seg")?
                .parse()
                .ok()?;
            Some((base, p))
        })
        .collect();
    segs.sort();
    let mut scan = SpoolScan {
        data: Vec::new(),
        end: 0,
        checkpoint: 0,
    };
    for (base, path) in segs {
        let bytes = std::fs::read(&path).expect("read segment");
        let mut at = 0usize;
        while let Some(head) = bytes.get(at..at + 8) {
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            // A torn tail (the server died during the write) ends the segment.
            let Some(body) = bytes.get(at + 8..at + 8 + len) else {
                break;
            };
            if len == 0 || crc32(&[&head[..4], body]) != crc {
                break;
            }
            at += 8 + len;
            scan.end = base + at as u64;
            let mut r = body.get(14..).expect("record header");
            let ilen = u16::from_le_bytes([r[0], r[1]]) as usize;
            let name = &r[2..2 + ilen];
            r = &r[2 + ilen..];
            let slen = u16::from_le_bytes([r[0], r[1]]);
            let slen = if slen == u16::MAX { 0 } else { slen as usize };
            let data = &r[2 + slen..];
            if name == input.as_bytes() {
                scan.data.push(data.to_vec());
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string(spool.join("checkpoint")) {
        scan.checkpoint = text
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .expect("checkpoint offset");
    }
    scan
}

/// Every event of `org` in the SQLite store of `dir` (opened after the server has stopped).
fn stored_events(dir: &Path, org: &str) -> Vec<vigil_model::Event> {
    use vigil_store::Store;
    let org = vigil_model::OrgId(org.parse().expect("org uuid"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = vigil_store::sqlite::SqliteStore::open(dir).expect("open store");
        let mut out = Vec::new();
        let mut q = vigil_store::EventQuery {
            org_id: Some(org),
            limit: 1000,
            ..Default::default()
        };
        loop {
            let page = store
                .search_events(vigil_model::Scope::All, &q)
                .await
                .expect("search events");
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        out
    })
}

/// Polls `f` until it is true; panics with `what` after `timeout`.
fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// kill -9 of `vigil serve` in the middle of a TCP syslog stream, then a restart on the same
/// data directory.
///
/// Syslog over TCP has no acknowledgement, so the sender cannot know which of its lines
/// reached the spool; the test reads the spool files themselves (complete records with a
/// valid checksum, as the server's own recovery does) right after the kill, before the
/// restart, and checks the documented guarantees against that:
/// - every line in the spool at the kill is stored after the restart (nothing accepted is
///   lost);
/// - every stored line is byte-for-byte a line that was sent (nothing corrupted or invented),
///   and the spool holds a prefix of the one connection's stream, in order;
/// - delivery from the spool is at least once: only the batch being stored at the kill may
///   be stored twice, so at most `batch_max` lines have a duplicate and none has more than
///   one; lines sent after the restart (no crash) are stored exactly once.
#[test]
fn syslog_tcp_stream_survives_kill_9_of_the_server() {
    const INPUT: &str = "crash-tcp";
    const BATCH_MAX: usize = 100;
    const KILL_AFTER: u64 = 3_000;
    const AFTER_RESTART: u64 = 500;
    const PHASE2: u64 = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let org_id = import_fixture_orgs(dir.path());
    let cfg = dir.path().join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "[log]\nformat = \"json\"\n\
             [pipeline]\nenabled = true\ndefault_org = \"{org_id}\"\nbatch_max = {BATCH_MAX}\n\
             [[pipeline.listeners]]\nname = \"{INPUT}\"\nkind = \"syslog_tcp\"\nlisten = \"127.0.0.1:0\"\n"
        ),
    )
    .expect("write config");
    let spool = dir.path().join("spool");

    // 1. Stream numbered lines until the server is gone.
    let server = Served::start(dir.path(), &cfg);
    let addr = server.listener(INPUT);
    let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sender = {
        let written = written.clone();
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(&addr).expect("connect to the listener");
            let mut seq = 0u64;
            // Paced, so that the kill lands while lines are on their way; ends when the
            // server is gone (a write fails) or after a generous cap.
            while seq < 2_000_000 {
                let mut chunk = String::new();
                for _ in 0..25 {
                    chunk.push_str(&crash_line(seq));
                    chunk.push('\n');
                    seq += 1;
                }
                if s.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
                written.store(seq, std::sync::atomic::Ordering::Release);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    wait_until(Duration::from_secs(120), "the sender to get going", || {
        written.load(std::sync::atomic::Ordering::Acquire) >= KILL_AFTER
    });
    wait_until(
        Duration::from_secs(120),
        "lines in the spool before the kill",
        || spool.exists() && !scan_spool(&spool, INPUT).data.is_empty(),
    );
    let log1 = server.kill9();
    sender.join().expect("sender thread");
    let sent = written.load(std::sync::atomic::Ordering::Acquire);

    // What reached the spool, as the next start will find it.
    let at_kill = scan_spool(&spool, INPUT);
    let spooled: Vec<u64> = at_kill
        .data
        .iter()
        .map(|d| crash_seq(d).unwrap_or_else(|| panic!("corrupt spooled line {d:?}")))
        .collect();
    assert!(!spooled.is_empty(), "{log1}");
    assert_eq!(
        spooled,
        (0..spooled.len() as u64).collect::<Vec<_>>(),
        "the spool holds a prefix of the stream, in order"
    );
    assert!(spooled.len() as u64 <= sent + 25);

    // 2. Restart on the same data directory; send more lines (no crash this time).
    let server = Served::start(dir.path(), &cfg);
    let addr = server.listener(INPUT);
    {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect after the restart");
        let mut chunk = String::new();
        for seq in PHASE2..PHASE2 + AFTER_RESTART {
            chunk.push_str(&crash_line(seq));
            chunk.push('\n');
        }
        s.write_all(chunk.as_bytes())
            .expect("send after the restart");
    }
    // Settled: the lines sent after the restart are in the spool and the checkpoint has
    // reached the spool's end (everything in it is stored).
    wait_until(Duration::from_secs(180), "the replay to settle", || {
        let s = scan_spool(&spool, INPUT);
        let phase2 = s
            .data
            .iter()
            .filter_map(|d| crash_seq(d))
            .filter(|&q| q >= PHASE2)
            .count() as u64;
        phase2 == AFTER_RESTART && s.checkpoint == s.end
    });
    let log2 = server.kill9();

    // 3. What the store holds.
    let events = stored_events(dir.path(), &org_id);
    let mut count: std::collections::BTreeMap<u64, usize> = Default::default();
    for e in &events {
        assert_eq!(e.event.provenance.input, INPUT);
        let seq = crash_seq(&e.event.raw).unwrap_or_else(|| {
            panic!(
                "stored line is not a sent line: {:?}",
                String::from_utf8_lossy(&e.event.raw)
            )
        });
        assert!(seq < sent || (PHASE2..PHASE2 + AFTER_RESTART).contains(&seq));
        *count.entry(seq).or_default() += 1;
    }
    let missing: Vec<u64> = spooled
        .iter()
        .copied()
        .chain(PHASE2..PHASE2 + AFTER_RESTART)
        .filter(|s| !count.contains_key(s))
        .collect();
    assert!(
        missing.is_empty(),
        "{} spooled lines lost, first {:?}\n{log1}\n{log2}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let stored_not_spooled: Vec<u64> = count
        .keys()
        .copied()
        .filter(|&s| s < PHASE2 && s >= spooled.len() as u64)
        .collect();
    assert!(
        stored_not_spooled.is_empty(),
        "stored but never spooled: {stored_not_spooled:?}"
    );
    let twice: Vec<u64> = count
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(s, _)| *s)
        .collect();
    assert!(
        count.values().all(|n| *n <= 2),
        "stored more than twice: {count:?}"
    );
    assert!(
        twice.len() <= BATCH_MAX && twice.iter().all(|s| *s < PHASE2),
        "duplicates beyond the batch in flight at the kill: {twice:?}"
    );
    assert_eq!(
        events.len(),
        spooled.len() + AFTER_RESTART as usize + twice.len()
    );
    eprintln!(
        "sent {sent}, spooled at the kill {} ({} bytes past the checkpoint), stored {} ({} twice)",
        spooled.len(),
        at_kill.end - at_kill.checkpoint,
        events.len(),
        twice.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Crash test (issue 4, item 7): kill -9 in the middle of an HTTP bulk NDJSON stream.
// ---------------------------------------------------------------------------------------------

/// The NDJSON line `seq` of the HTTP crash test.
fn http_crash_line(seq: u64) -> String {
    format!(
        r#"{{"@timestamp":"2026-11-22T08:00:00Z","message":"http-crash seq={seq:010}","host":{{"name":"crash-host"}}}}"#
    )
}

/// POSTs one NDJSON body over a fresh connection; `Some(spooled)` only for a complete
/// `202 Accepted` answer (the acknowledgement: the lines are in the pipeline's synced spool),
/// `None` when the server is gone or answered otherwise.
fn post_ndjson(addr: &str, path: &str, token: &str, body: &str) -> Option<u64> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: vigil\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body.as_bytes()).ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    if !answer.starts_with("HTTP/1.1 202") {
        return None;
    }
    let (_, json) = answer.split_once("\r\n\r\n")?;
    let v: serde_json::Value = serde_json::from_str(json.trim()).ok()?;
    v["spooled"].as_u64()
}

/// A platform token stored directly in the data directory (before the server starts).
fn store_token(dir: &Path) -> String {
    use vigil_store::Store;
    let secret = vigil_crypto::new_secret("vgl_");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = vigil_store::sqlite::SqliteStore::open(dir).expect("open store");
        let token = vigil_model::ApiToken {
            id: vigil_model::TokenId::new(),
            name: "crash-sender".into(),
            role: vigil_model::Role::Analyst,
            org_id: None,
            created_by: "test".into(),
            created_at: jiff::Timestamp::now(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        store
            .create_token(token, vigil_crypto::secret_hash(&secret))
            .await
            .expect("token");
    });
    secret
}

/// kill -9 of `vigil serve` while a client streams NDJSON batches to `POST /api/v1/events`,
/// then a restart on the same data directory. With the pipeline running, the API
/// acknowledges a batch (202 with the spool position) once it is in the synced spool, from
/// which the processor stores it (in batches of `batch_max`, smaller than the requests, so the
/// kill usually lands with a batch between the store and the checkpoint). So:
/// - every line of every acknowledged batch is stored exactly once after the restart (the
///   batch in flight at the kill is looked up in the store before it is stored again);
/// - the request in flight at the kill is stored whole or not at all (one spool append), and
///   nothing else is stored.
#[test]
fn http_bulk_stream_survives_kill_9_of_the_server() {
    const BATCH: u64 = 250;
    const KILL_AFTER_BATCHES: u64 = 8;
    const ROUNDS: u64 = 3;
    let dir = tempfile::tempdir().expect("tempdir");
    let org_id = import_fixture_orgs(dir.path());
    let token = store_token(dir.path());
    let cfg = dir.path().join("vigil.toml");
    std::fs::write(
        &cfg,
        "[log]\nformat = \"json\"\n[pipeline]\nenabled = true\nbatch_max = 100\n",
    )
    .expect("write config");
    let spool = dir.path().join("spool");

    // Several rounds, each killed while a stream is on its way and restarted on the same data
    // directory (which replays the previous round's spool), so that a kill lands between a
    // batch's store and its checkpoint in some of them.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    // Per round: (first batch number, batches attempted).
    let mut rounds = Vec::new();
    let mut logs = Vec::new();
    for round in 0..ROUNDS {
        let first = round * 100_000;
        let server = Served::start(dir.path(), &cfg);
        let addr = server.http.clone();
        let sender = {
            let acked = acked.clone();
            let token = token.clone();
            let org_id = org_id.clone();
            std::thread::spawn(move || {
                let path = format!("/api/v1/events?org_id={org_id}");
                let mut batch = first;
                // Ends when the server is gone; the cap only guards against a kill that never
                // comes.
                while batch < first + 10_000 {
                    let body: String = (batch * BATCH..(batch + 1) * BATCH)
                        .map(|s| http_crash_line(s) + "\n")
                        .collect();
                    match post_ndjson(&addr, &path, &token, &body) {
                        Some(n) => {
                            assert_eq!(n, BATCH, "a whole batch is acknowledged");
                            if let Ok(mut a) = acked.lock() {
                                a.push(batch);
                            }
                        }
                        None => break,
                    }
                    batch += 1;
                }
                batch
            })
        };
        let before = acked.lock().map(|a| a.len() as u64).unwrap_or(0);
        wait_until(Duration::from_secs(120), "acknowledged batches", || {
            acked.lock().map(|a| a.len() as u64).unwrap_or(0) >= before + KILL_AFTER_BATCHES
        });
        let log = server.kill9();
        let attempted = sender.join().expect("sender thread");
        rounds.push((first, attempted));
        logs.push(log);
    }
    let acked: Vec<u64> = acked.lock().map(|a| a.clone()).unwrap_or_default();
    assert!(acked.len() as u64 >= ROUNDS * KILL_AFTER_BATCHES);

    // Restart (recovery of the store and replay of the spool), wait until the spool is
    // processed, then stop it again.
    let server = Served::start(dir.path(), &cfg);
    wait_until(Duration::from_secs(120), "the spool replayed", || {
        let s = scan_spool(&spool, "api");
        s.checkpoint == s.end
    });
    logs.push(server.kill9());
    let skipped = logs
        .iter()
        .filter(|l| l.contains("not storing it again"))
        .count();
    let (log1, log2) = (logs.join("\n"), String::new());

    let mut count: std::collections::BTreeMap<u64, usize> = Default::default();
    for e in stored_events(dir.path(), &org_id) {
        let msg = e.event.message().to_string();
        let seq: u64 = msg
            .strip_prefix("http-crash seq=")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("stored an event that was not sent: {msg:?}"));
        assert_eq!(String::from_utf8_lossy(&e.event.raw), http_crash_line(seq));
        *count.entry(seq).or_default() += 1;
    }
    let mut lost = Vec::new();
    for b in &acked {
        for s in b * BATCH..(b + 1) * BATCH {
            match count.get(&s) {
                Some(1) => {}
                Some(n) => panic!("line {s} of acknowledged batch {b} stored {n} times"),
                None => lost.push(s),
            }
        }
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged lines lost, first {:?}\n{log1}\n{log2}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    // Beyond the acknowledged batches: only the one in flight at each kill, whole or not at
    // all.
    let extra: std::collections::BTreeSet<u64> = count
        .keys()
        .map(|s| s / BATCH)
        .filter(|b| !acked.contains(b))
        .collect();
    for (first, attempted) in &rounds {
        let in_round = extra.iter().filter(|b| (*first..=*attempted).contains(*b));
        assert!(
            in_round.count() <= 1,
            "unacknowledged batches stored: {extra:?}"
        );
    }
    for b in &extra {
        assert!(
            rounds.iter().any(|(f, a)| (*f..=*a).contains(b)),
            "batch {b} was never sent"
        );
        let n = (b * BATCH..(b + 1) * BATCH)
            .filter(|s| count.get(s) == Some(&1))
            .count() as u64;
        assert_eq!(
            n, BATCH,
            "the batch in flight is stored whole or not at all"
        );
    }
    eprintln!(
        "{ROUNDS} kills; acknowledged {} batches of {BATCH}; in flight and stored anyway: {}; \
         restarts that found the batch in flight already stored and skipped it: {skipped}",
        acked.len(),
        extra.len()
    );
}

/// The CLI opens the store with the field key (created 0600 under the data directory): the
/// imported contact's phone and e-mail are not in the database file in clear, and read back in
/// clear only with that key.
#[test]
fn imported_contacts_are_encrypted_with_the_field_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = import_fixture_orgs(dir.path());
    let key_file = dir.path().join("keys").join("field-sm4.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("key file created")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let raw: String = rusqlite::Connection::open(dir.path().join("vigil.db"))
        .expect("db")
        .query_row(
            "SELECT responsible FROM organizations WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )
        .expect("raw row");
    for clear in ["王强", "0571-00000000", "wang.qiang@example.cn"] {
        assert!(!raw.contains(clear), "{clear} stored in clear: {raw}");
    }
    // A second command reuses the key file, and reads what the first wrote (the import
    // checks names against the stored organizations).
    let key_text = std::fs::read(&key_file).expect("key");
    let (_, _, err) = run(vigil(dir.path())
        .args(["org", "import"])
        .arg(fixture("orgs.csv")));
    assert!(!err.contains("decrypt"), "{err}");
    assert_eq!(std::fs::read(&key_file).expect("key"), key_text);
    let key = vigil_crypto::FieldKey::from_key_file(&key_text).expect("key parses");
    let org_id = vigil_model::OrgId(id.parse().expect("uuid"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = vigil_store::sqlite::SqliteStore::open(dir.path()).expect("store");
        let e = vigil_store::Store::get_org(&store, vigil_model::Scope::All, org_id)
            .await
            .expect_err("no key");
        assert!(e.to_string().contains("responsible/name"), "{e}");
        let store = store.with_field_key(key);
        let org = vigil_store::Store::get_org(&store, vigil_model::Scope::All, org_id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(org.spec.responsible.name, "王强");
        assert_eq!(org.spec.responsible.phone.as_deref(), Some("0571-00000000"));
    });
}

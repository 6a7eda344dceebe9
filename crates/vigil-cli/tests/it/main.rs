//! End-to-end tests of the `vigil` binary: each runs the real executable on a temporary data
//! directory, as an operator would.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let org_id = out
        .lines()
        .find(|l| l.starts_with("row 1: created "))
        .and_then(|l| l.split_whitespace().nth(3))
        .expect("created org id")
        .to_string();

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

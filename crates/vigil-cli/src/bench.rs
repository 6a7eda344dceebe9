//! `vigil bench`: measurement tools whose numbers go into BENCHMARKS.md.
//!
//! - `seed` fills a store with a large, plausible case load (organizations, alerts, incidents)
//!   through the same `Store` calls the server uses.
//! - `http` is an open-loop load generator: it sends requests at a fixed rate whatever the
//!   server's speed, and measures each latency from the moment the request was *due*, so a slow
//!   server cannot hide its queueing (no coordinated omission). Run it in a second process
//!   against `vigil serve`.

use anyhow::Context;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_model::{
    AlertSource, Contact, Grade, IncidentStatus, NewAlert, NewIncident, NewOrganization, OrgId,
    Severity, Timestamp,
};
use vigil_store::{IncidentUpdate, Store};

/// Fills the store with `orgs` organizations, `alerts` alerts and `incidents` incidents.
pub async fn seed(
    store: Arc<dyn Store>,
    orgs: usize,
    alerts: usize,
    incidents: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let sectors = [
        "power",
        "water",
        "finance",
        "transport",
        "healthcare",
        "manufacturing",
        "chemical",
        "telecom",
    ];
    let regions = [
        "110000", "310000", "330100", "320500", "440300", "510100", "420100", "610100",
    ];
    let mut org_ids: Vec<OrgId> = Vec::with_capacity(orgs);
    for i in 0..orgs {
        let spec = NewOrganization {
            name: format!(
                "Bench organization {i:04} {}",
                uuid::Uuid::now_v7().simple()
            ),
            uscc: None,
            sector: sectors[i % sectors.len()].into(),
            region_code: regions[i % regions.len()].into(),
            mlps_level: (i % 3 + 2) as u8,
            cii: i % 4 == 0,
            miit_type: None,
            miit_grade: None,
            responsible: Contact {
                name: format!("Officer {i}"),
                ..Contact::default()
            },
            contacts: vec![],
        };
        org_ids.push(store.create_org(spec).await?.id);
    }
    let now = Timestamp::now();
    let sev = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
        Severity::Info,
    ];
    let src = [
        AlertSource::Sigma,
        AlertSource::Ioc,
        AlertSource::Yara,
        AlertSource::Web,
    ];
    let cats = [
        "NACRED",
        "MPZOMB",
        "NABACKIMPL",
        "MPRANS",
        "NAWEBMOD",
        "NASCAN",
    ];
    let mut done = 0usize;
    while done < alerts {
        let n = (alerts - done).min(1_000);
        let batch: Vec<NewAlert> = (done..done + n)
            .map(|i| NewAlert {
                org_id: org_ids[i % org_ids.len()],
                asset_id: None,
                source: src[i % src.len()],
                rule_id: format!("bench-rule-{}", i % 500),
                title: format!("bench alert {i}"),
                severity: sev[i % sev.len()],
                category: Some(cats[i % cats.len()].into()),
                detected_at: now
                    .checked_sub(jiff::SignedDuration::from_secs((i % (90 * 86_400)) as i64))
                    .unwrap_or(now),
                event_ids: vec![],
                details: serde_json::Value::Null,
            })
            .collect();
        store.create_alerts(batch).await?;
        done += n;
        if done.is_multiple_of(100_000) {
            eprintln!("  {done} alerts ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    let grades = [
        Grade::General,
        Grade::General,
        Grade::General,
        Grade::Large,
        Grade::Major,
        Grade::EspeciallyMajor,
    ];
    let statuses = [
        IncidentStatus::Notified,
        IncidentStatus::Acknowledged,
        IncidentStatus::Closed,
    ];
    let results = futures_util::stream::iter(0..incidents)
        .map(|i| {
            let store = store.clone();
            let org = org_ids[i % org_ids.len()];
            let sub = cats[i % cats.len()].to_string();
            let category = vigil_model::taxonomy::incident_subcategory(&sub)
                .map(|(c, _)| c.term.code.clone())
                .unwrap_or_else(|| "OTH".to_string());
            async move {
                let inc = store
                    .create_incident(
                        NewIncident {
                            org_id: org,
                            title: format!("bench incident {i}"),
                            description: String::new(),
                            category,
                            subcategory: Some(sub),
                            grade: grades[i % grades.len()],
                            asset_ids: vec![],
                            alert_ids: vec![],
                            occurred_at: now,
                        },
                        "system",
                    )
                    .await?;
                if i % 2 == 0 {
                    store
                        .update_incident(
                            vigil_model::Scope::All,
                            inc.id,
                            IncidentUpdate {
                                status: Some(statuses[i % statuses.len()]),
                                ..Default::default()
                            },
                            "system",
                        )
                        .await?;
                }
                Ok::<_, vigil_store::StoreError>(())
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    for r in results {
        r?;
    }
    eprintln!(
        "seeded {orgs} organizations, {alerts} alerts, {incidents} incidents in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Latency percentiles of one run.
#[derive(Debug)]
pub struct Report {
    pub sent: usize,
    pub ok: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub achieved_rps: f64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Sends GET requests to `base` + each of `paths` in turn at `rate` per second for
/// `duration`, after a warm-up of one second that is not counted.
pub async fn http(
    base: &str,
    token: &str,
    paths: &[String],
    rate: u32,
    duration: Duration,
) -> anyhow::Result<Report> {
    anyhow::ensure!(rate > 0, "--rate must be positive");
    anyhow::ensure!(!paths.is_empty(), "give at least one --path");
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .build_http();
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let warmup = Duration::from_secs(1);
    let total = warmup + duration;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, u64, bool)>();
    let start = Instant::now();
    let mut i = 0usize;
    loop {
        let due = start + interval.mul_f64(i as f64);
        if due.duration_since(start) >= total {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let uri: hyper::Uri = format!("{base}{}", paths[i % paths.len()])
            .parse()
            .context("bad --url or --path")?;
        let req = hyper::Request::get(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(http_body_util::Empty::new())
            .context("building a request")?;
        let counted = due.duration_since(start) >= warmup;
        let client = client.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let ok = match client.request(req).await {
                Ok(resp) => {
                    let status_ok = resp.status().is_success();
                    status_ok && resp.into_body().collect().await.is_ok()
                }
                Err(_) => false,
            };
            let micros = Instant::now().duration_since(due).as_micros() as u64;
            let _ = tx.send((ok, micros, counted));
        });
        i += 1;
    }
    drop(tx);
    let mut lat = Vec::new();
    let (mut ok, mut errors) = (0, 0);
    while let Ok(Some((good, micros, counted))) =
        tokio::time::timeout(Duration::from_secs(30), rx.recv()).await
    {
        if !counted {
            continue;
        }
        if good {
            ok += 1;
        } else {
            errors += 1;
        }
        lat.push(micros);
    }
    lat.sort_unstable();
    Ok(Report {
        sent: lat.len(),
        ok,
        errors,
        p50_ms: percentile(&lat, 0.50),
        p90_ms: percentile(&lat, 0.90),
        p99_ms: percentile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or(0) as f64 / 1000.0,
        achieved_rps: lat.len() as f64 / duration.as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_pick_the_right_rank() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.99), 0.0);
    }
}

/// What `syslog` waits for after sending: the pipeline's stored counter on a Prometheus
/// endpoint, or the lines of a file another receiver (rsyslog) writes.
pub enum Sink {
    /// `/metrics` URL and an API token: `vigil_pipeline_stored_total` summed over inputs.
    Metrics { url: String, token: String },
    /// A file that gets one line per received event.
    File(std::path::PathBuf),
}

/// The outcome of one syslog run.
pub struct SyslogReport {
    pub events: u64,
    pub send_secs: f64,
    pub end_to_end_secs: f64,
}

/// One RFC 5424 line with a sequence number; hosts, users and addresses vary like a real
/// authentication stream.
pub fn syslog_line(seq: u64) -> String {
    let outcome = if seq.is_multiple_of(9) {
        "Accepted"
    } else {
        "Failed"
    };
    format!(
        "<38>1 2026-11-22T08:{:02}:{:02}.{:06}Z web-{:02}.plant.example.cn sshd 4211 - - \
         {outcome} password for {} from 203.0.{}.{} port {} ssh2 seq={seq}\n",
        (seq / 60_000_000) % 60,
        (seq / 1_000_000) % 60,
        seq % 1_000_000,
        seq % 50,
        ["root", "admin", "operator", "oracle"][(seq % 4) as usize],
        (seq / 250) % 250,
        seq % 250,
        40_000 + seq % 20_000,
    )
}

async fn stored_now(client: &HttpClient, sink: &Sink) -> anyhow::Result<u64> {
    match sink {
        Sink::Metrics { url, token } => {
            let uri: hyper::Uri = url.parse().context("bad --metrics URL")?;
            let resp = client
                .request(
                    hyper::Request::get(uri)
                        .header("authorization", format!("Bearer {token}"))
                        .body(http_body_util::Empty::new())
                        .context("building a request")?,
                )
                .await
                .context("reading the metrics endpoint")?;
            anyhow::ensure!(
                resp.status().is_success(),
                "the metrics endpoint answered {} (is --token / VIGIL_BENCH_TOKEN right?)",
                resp.status()
            );
            let body = resp.into_body().collect().await?.to_bytes();
            let text = String::from_utf8_lossy(&body);
            Ok(text
                .lines()
                .filter(|l| l.starts_with("vigil_pipeline_stored_total"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64)
        }
        Sink::File(p) => match tokio::fs::read(p).await {
            Ok(b) => Ok(memchr::memchr_iter(b'\n', &b).count() as u64),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        },
    }
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Empty<bytes::Bytes>,
>;

/// Sends `events` RFC 5424 lines (newline framing) over `connections` TCP connections to
/// `target` as fast as the receiver takes them, then waits until `sink` shows them all
/// received (end to end), at most `timeout`.
pub async fn syslog(
    target: &str,
    events: u64,
    connections: usize,
    sink: &Sink,
    timeout: Duration,
) -> anyhow::Result<SyslogReport> {
    use tokio::io::AsyncWriteExt;
    anyhow::ensure!(connections > 0, "--connections must be positive");
    let client: HttpClient =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let baseline = stored_now(&client, sink).await?;
    let start = Instant::now();
    let per = events.div_ceil(connections as u64);
    let mut tasks = Vec::new();
    for c in 0..connections as u64 {
        let target = target.to_string();
        let (from, to) = (c * per, ((c + 1) * per).min(events));
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(&target)
                .await
                .with_context(|| format!("connecting to {target}"))?;
            let mut buf = String::with_capacity(256 * 1024);
            for seq in from..to {
                buf.push_str(&syslog_line(seq));
                if buf.len() >= 240 * 1024 {
                    s.write_all(buf.as_bytes()).await?;
                    buf.clear();
                }
            }
            s.write_all(buf.as_bytes()).await?;
            s.shutdown().await?;
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let send_secs = start.elapsed().as_secs_f64();
    let deadline = start + timeout;
    loop {
        let n = stored_now(&client, sink).await?.saturating_sub(baseline);
        if n >= events {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {n} of {events} events arrived within {} s",
            timeout.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(SyslogReport {
        events,
        send_secs,
        end_to_end_secs: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod syslog_tests {
    #[test]
    fn syslog_lines_parse_as_rfc5424_with_their_sequence() {
        for seq in [0u64, 1, 999_999, 12_345_678] {
            let line = super::syslog_line(seq);
            let p = vigil_ingest::syslog::parse_syslog(
                line.trim_end().as_bytes(),
                &vigil_ingest::ParseContext::new(jiff::Timestamp::now()),
            )
            .expect("parse");
            assert_eq!(p.format, vigil_ingest::Format::Rfc5424, "{line}");
            assert!(line.contains(&format!("seq={seq}")));
        }
    }
}

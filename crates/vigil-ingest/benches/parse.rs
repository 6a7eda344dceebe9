//! Parse throughput: RFC 5424 lines (generated like `../shared/tools/gen-rfc5424.py`) and
//! Suricata EVE lines (from `../shared/data/suricata-eve`), one core.
//!
//! `cargo bench -p vigil-ingest`; criterion reports elements (lines) per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use vigil_ingest::{ParseContext, eve, syslog};

/// A small deterministic generator (xorshift) so the lines are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn rfc5424_lines(n: usize) -> Vec<Vec<u8>> {
    let apps = [
        "sshd",
        "sudo",
        "nginx",
        "kernel",
        "cron",
        "systemd",
        "modbus-gw",
        "firewalld",
    ];
    let mut rng = Rng(7);
    (0..n)
        .map(|i| {
            let h = rng.range(0, 199);
            let host = format!("plc-{h:03}.plant{}.example", h % 7);
            let app = apps[rng.range(0, 7) as usize];
            let a = rng.range(1, 254);
            let b = rng.range(1024, 65535);
            let msg = match rng.range(0, 4) {
                0 => format!(
                    "Failed password for invalid user admin from 203.0.113.{a} port {b} ssh2"
                ),
                1 => format!("Accepted publickey for ops from 198.51.100.{a} port {b} ssh2"),
                2 => format!("GET /index.php?id={a} HTTP/1.1 200 {b}"),
                3 => format!("connection from 192.0.2.{a} to unit {b} refused"),
                _ => format!(
                    "pam_unix(sudo:session): session opened for user root by ops(uid={a}) tty={b}"
                ),
            };
            let ts = format!(
                "2026-11-21T{:02}:{:02}:{:02}.{:03}Z",
                (i / 3_600_000) % 24,
                (i / 60_000) % 60,
                (i / 1000) % 60,
                i % 1000
            );
            format!(
                "<{}>1 {ts} {host} {app} {} ID{} [meta seq=\"{i}\" site=\"qd\"] {msg}",
                rng.range(8, 191),
                rng.range(100, 99999),
                i % 50
            )
            .into_bytes()
        })
        .collect()
}

fn eve_lines() -> Vec<Vec<u8>> {
    let base =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/suricata-eve");
    let mut out = Vec::new();
    for rel in [
        "elastic-beats/eve-small.log",
        "suricata-verify/output-eve-fileinfo.eve.json",
    ] {
        if let Ok(text) = std::fs::read(base.join(rel)) {
            out.extend(
                text.split(|c| *c == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
        }
    }
    for rel in [
        "suricata-sample-data/samples/honeypot-2018/alerts-only.json",
        "suricata-sample-data/samples/first-org-conf-2015/alerts-only.json",
    ] {
        let Ok(text) = std::fs::read(base.join(rel)) else {
            continue;
        };
        let Ok(items) = serde_json::from_slice::<Vec<serde_json::Value>>(&text) else {
            continue;
        };
        // Compact NDJSON lines, as Suricata writes them.
        out.extend(items.iter().filter_map(|v| serde_json::to_vec(v).ok()));
    }
    out
}

fn bench(c: &mut Criterion) {
    let ctx = ParseContext::new("2026-11-21T12:00:00Z".parse().expect("timestamp"));
    let lines = rfc5424_lines(10_000);
    let mut g = c.benchmark_group("rfc5424");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("parse_rfc5424", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(syslog::parse_rfc5424(black_box(l), &ctx).ok());
            }
        })
    });
    g.finish();

    let eve = eve_lines();
    if eve.is_empty() {
        println!("SKIP eve benchmark: ../shared/data/suricata-eve is missing");
        return;
    }
    let bytes: usize = eve.iter().map(Vec::len).sum();
    println!(
        "eve corpus: {} lines, {} bytes on average",
        eve.len(),
        bytes / eve.len()
    );
    let mut g = c.benchmark_group("suricata_eve");
    g.throughput(Throughput::Elements(eve.len() as u64));
    g.bench_function("parse_eve", |b| {
        b.iter(|| {
            for l in &eve {
                black_box(eve::parse_eve(black_box(l), &ctx).ok());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

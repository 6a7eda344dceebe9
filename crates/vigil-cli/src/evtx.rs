//! `vigil events import-evtx`: Windows event log files into the store.
//!
//! Files are read one at a time with the `evtx` crate (its own worker threads parse chunks);
//! each record is normalized by `vigil_ingest::winevt` and appended in batches. A file that
//! cannot be opened, a broken chunk or a record that does not parse is reported with its
//! file and record number, counted, and skipped: the records around it are still imported.

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vigil_model::{NewEvent, OrgId, Provenance, Scope, Timestamp};
use vigil_store::Store;

const BATCH: usize = 1_000;
/// Problems printed one by one before only counting.
const MAX_PRINTED: usize = 100;

/// Every `.evtx` file under `paths` (files as given, directories recursively), sorted.
fn files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).with_context(|| format!("reading {}", p.display()))?;
        if meta.is_dir() {
            for entry in
                std::fs::read_dir(&p).with_context(|| format!("listing {}", p.display()))?
            {
                stack.push(entry?.path());
            }
        } else if meta.is_file()
            && (paths.contains(&p)
                || p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("evtx")))
        {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

pub async fn import(store: Arc<dyn Store>, paths: &[PathBuf], org: &str) -> anyhow::Result<()> {
    let org: OrgId = org
        .parse()
        .with_context(|| format!("--org: '{org}' is not an organization id"))?;
    if store.get_org(Scope::All, org).await?.is_none() {
        bail!("--org: organization {org} not found");
    }
    let files = files(paths)?;
    if files.is_empty() {
        bail!("no .evtx files under the given paths");
    }
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(files.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut stored, mut problems) = (0u64, 0u64);
    let report = |bar: &ProgressBar, problems: &mut u64, msg: String| {
        *problems += 1;
        if *problems as usize <= MAX_PRINTED {
            bar.suspend(|| eprintln!("{msg}"));
        } else if *problems as usize == MAX_PRINTED + 1 {
            bar.suspend(|| eprintln!("(further problems are only counted)"));
        }
    };
    for file in &files {
        // Parsing is CPU work: one blocking thread reads the file and hands over batches
        // through a small channel, so memory stays bounded whatever the file's size.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<NewEvent>, String>>(4);
        let path = file.clone();
        let reader = tokio::task::spawn_blocking(move || read_file(&path, org, &tx));
        while let Some(item) = rx.recv().await {
            match item {
                Ok(batch) => stored += store.append_events(batch).await?.len() as u64,
                Err(e) => report(&bar, &mut problems, e),
            }
            bar.set_message(format!("{stored} events, {problems} problems"));
        }
        reader.await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "{stored} events stored from {} files, {problems} problems",
        files.len()
    );
    if stored == 0 {
        bail!("no event was stored");
    }
    Ok(())
}

/// Sends the events of one file in batches, and the problems met as messages naming the
/// file and the record. Stops early when the receiver is gone.
fn read_file(
    path: &Path,
    org: OrgId,
    tx: &tokio::sync::mpsc::Sender<Result<Vec<NewEvent>, String>>,
) {
    let shown = path.display().to_string();
    let mut parser = match evtx::EvtxParser::from_path(path) {
        Ok(p) => p.with_configuration(evtx::ParserSettings::new().num_threads(1)),
        Err(e) => {
            let _ = tx.blocking_send(Err(format!("{shown}: not a readable EVTX file: {e}")));
            return;
        }
    };
    let now = Timestamp::now();
    let mut batch = Vec::with_capacity(BATCH);
    for (i, rec) in parser.records_json_value().enumerate() {
        let item = match rec {
            Err(e) => Some(Err(format!("{shown}: record {}: skipped: {e}", i + 1))),
            Ok(r) => {
                let raw = r.data.to_string().into_bytes();
                match vigil_ingest::winevt::parse_evtx_record(&r.data, &raw) {
                    Ok(p) => {
                        batch.push(p.into_event(
                            org,
                            Provenance {
                                input: "evtx".into(),
                                sender: Some(shown.clone()),
                            },
                            now,
                        ));
                        (batch.len() >= BATCH).then(|| Ok(std::mem::take(&mut batch)))
                    }
                    Err(e) => Some(Err(format!(
                        "{shown}: record {}: rejected: {e}",
                        r.event_record_id
                    ))),
                }
            }
        };
        if let Some(item) = item
            && tx.blocking_send(item).is_err()
        {
            return;
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Ok(batch));
    }
}

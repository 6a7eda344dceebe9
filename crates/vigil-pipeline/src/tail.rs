//! File tailing: lines appended to files matching glob patterns become records.
//!
//! Every `poll` interval the patterns are expanded (wildcards `*` and `?` in the file name;
//! the directory part is literal) and each file is followed by its identity (device and
//! inode), not its name, through an open handle:
//! - **rotation by rename**: the renamed file is read to its end through the handle it was
//!   opened with, then dropped; the new file at the path is a new identity, read from its
//!   start;
//! - **truncation**: a file shorter than the read position is read again from its start
//!   (counted in `vigil_pipeline_tail_truncations_total`; offsets read before the truncation
//!   are never committed after it);
//! - a line without its newline yet waits for the rest (bounded by `max_frame`: longer lines
//!   become dead letters).
//!
//! **Checkpoints**: `<data_dir>/tail/<listener>.json` holds, per file, its identity, the
//! offset up to which its lines are in the spool, and a checksum of its first bytes (so an
//! inode reused by another file is not mistaken for the old one). The offset advances only
//! once the spool append holding the lines has returned, and the file is rewritten atomically
//! (temporary file, rename). A restart resumes every known file at its offset: after a clean
//! stop nothing is lost or read twice; after a crash, lines spooled after the last checkpoint
//! write are read again (at least once, as everywhere in the pipeline). Files seen for the
//! first time are read from their start.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::Queued;
use crate::listener::{Ctx, count_frame_error, count_received};
use crate::spool::{Record, RecordKind};

/// Bytes read from one file per poll, at most (bounds memory and keeps files fair).
const READ_MAX: usize = 1 << 20;
/// Bytes read from all files per poll, at most; the files read least recently go first, so a
/// few busy files cannot starve the others.
const POLL_BUDGET: usize = 8 << 20;
/// Bytes of a file's start covered by its fingerprint.
const HEAD: u64 = 256;

/// What a file listener follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSettings {
    /// Glob patterns: `*` and `?` in the file name, a literal directory.
    pub patterns: Vec<PathBuf>,
    pub poll: Duration,
}

/// Why file settings are invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileConfigError {
    #[error("at least one path pattern is needed")]
    NoPatterns,
    #[error("'{0}': wildcards are allowed in the file name only, and a file name is needed")]
    Pattern(String),
}

impl FileSettings {
    /// Checks the patterns; polls every 500 ms.
    pub fn new(patterns: Vec<PathBuf>) -> Result<Self, FileConfigError> {
        if patterns.is_empty() {
            return Err(FileConfigError::NoPatterns);
        }
        for p in &patterns {
            let bad = || FileConfigError::Pattern(p.display().to_string());
            let name = p.file_name().and_then(|n| n.to_str()).ok_or_else(bad)?;
            let dir = p.parent().map(|d| d.to_string_lossy()).unwrap_or_default();
            if name.is_empty() || dir.contains(['*', '?']) {
                return Err(bad());
            }
        }
        Ok(FileSettings {
            patterns,
            poll: Duration::from_millis(500),
        })
    }
}

/// `*` matches any run of characters, `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The files matching the patterns now, with their identities.
fn expand(patterns: &[PathBuf]) -> Vec<(PathBuf, Key)> {
    let mut out = Vec::new();
    for p in patterns {
        let (Some(dir), Some(name)) = (p.parent(), p.file_name().and_then(|n| n.to_str())) else {
            continue;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if !name.contains(['*', '?']) {
            if let Ok(m) = std::fs::metadata(p)
                && m.is_file()
            {
                out.push((p.clone(), Key::of(&m)));
            }
            continue;
        }
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let fname = e.file_name();
            let Some(f) = fname.to_str() else { continue };
            if !glob_match(name, f) {
                continue;
            }
            let path = e.path();
            if let Ok(m) = std::fs::metadata(&path)
                && m.is_file()
            {
                out.push((path, Key::of(&m)));
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

/// A file's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
struct Key {
    dev: u64,
    ino: u64,
}

impl Key {
    fn of(m: &std::fs::Metadata) -> Key {
        Key {
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

/// One checkpoint entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    path: PathBuf,
    key: Key,
    offset: u64,
    head_len: u64,
    head_crc: u32,
}

fn head_crc(f: &mut File, len: u64) -> Option<u32> {
    let mut buf = vec![0u8; len as usize];
    f.seek(SeekFrom::Start(0)).ok()?;
    f.read_exact(&mut buf).ok()?;
    Some(crc32fast::hash(&buf))
}

struct Tracked {
    path: PathBuf,
    file: File,
    /// Next byte to read.
    pos: u64,
    /// Start of the partial line held in `partial` (`pos - partial.len()`).
    partial: Vec<u8>,
    /// Skipping the rest of an oversized line.
    skipping: bool,
    /// Offset up to which lines are in the spool.
    committed: u64,
    /// Still at a matching path.
    present: bool,
    /// Bumped at each truncation, so a commit of lines read before it is ignored.
    generation: u64,
    /// The poll that last read from it (fair order under the budget).
    last_read: u64,
}

/// The synchronous part: scanning and reading, run on a blocking thread.
struct Tailer {
    input: String,
    patterns: Vec<PathBuf>,
    max_frame: usize,
    files: HashMap<Key, Tracked>,
    /// From the checkpoint file, until each file is seen again.
    saved: HashMap<Key, Saved>,
    ckpt: PathBuf,
    /// Polls so far.
    polls: u64,
}

/// Lines read from one file in one poll, and the offset they end at.
struct Chunk {
    key: Key,
    generation: u64,
    records: Vec<Record>,
    end: u64,
}

impl Tailer {
    fn load(ckpt: PathBuf, input: String, patterns: Vec<PathBuf>, max_frame: usize) -> Tailer {
        let saved: Vec<Saved> = std::fs::read(&ckpt)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Tailer {
            input,
            patterns,
            max_frame,
            files: HashMap::new(),
            saved: saved.into_iter().map(|s| (s.key, s)).collect(),
            ckpt,
            polls: 0,
        }
    }

    /// Where to start reading a newly seen file.
    fn start_of(&mut self, key: Key, f: &mut File, len: u64) -> u64 {
        let Some(s) = self.saved.remove(&key) else {
            return 0;
        };
        if s.offset > len {
            return 0; // truncated while we were away
        }
        if s.head_len > 0 && head_crc(f, s.head_len.min(len)) != Some(s.head_crc) {
            return 0; // another file on a reused inode
        }
        s.offset
    }

    fn poll(&mut self) -> Vec<Chunk> {
        for t in self.files.values_mut() {
            t.present = false;
        }
        for (path, key) in expand(&self.patterns) {
            if let Some(t) = self.files.get_mut(&key) {
                t.present = true;
                t.path = path;
                continue;
            }
            let Ok(mut file) = File::open(&path) else {
                continue;
            };
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            let pos = self.start_of(key, &mut file, len);
            tracing::info!(input = %self.input, path = %path.display(), offset = pos, "tailing file");
            self.files.insert(
                key,
                Tracked {
                    path,
                    file,
                    pos,
                    partial: Vec::new(),
                    skipping: false,
                    committed: pos,
                    present: true,
                    generation: 0,
                    last_read: 0,
                },
            );
        }
        let mut out = Vec::new();
        let mut gone = Vec::new();
        self.polls += 1;
        let mut budget = POLL_BUDGET;
        let mut order: Vec<(u64, Key)> =
            self.files.iter().map(|(k, t)| (t.last_read, *k)).collect();
        order.sort();
        for (_, key) in &order {
            let Some(t) = self.files.get_mut(key) else {
                continue;
            };
            let len = t.file.metadata().map(|m| m.len()).unwrap_or(0);
            if len < t.pos {
                metrics::counter!("vigil_pipeline_tail_truncations_total", "input" => self.input.clone())
                    .increment(1);
                tracing::info!(input = %self.input, path = %t.path.display(), "file truncated, reading from its start");
                t.pos = 0;
                t.partial.clear();
                t.skipping = false;
                t.committed = 0;
                t.generation += 1;
            }
            if len == t.pos {
                if !t.present {
                    if !t.partial.is_empty() {
                        // Renamed away with a last line that never got its newline (never
                        // longer than max_frame: split_lines keeps no more).
                        let mut data = std::mem::take(&mut t.partial);
                        if data.last() == Some(&b'\r') {
                            data.pop();
                        }
                        out.push(Chunk {
                            key: *key,
                            generation: t.generation,
                            records: vec![Record {
                                kind: RecordKind::Frame,
                                received_at: Timestamp::now(),
                                input: self.input.clone(),
                                sender: Some(t.path.display().to_string()),
                                org: None,
                                data,
                            }],
                            end: t.pos,
                        });
                    } else if t.committed == t.pos {
                        // Renamed away (or deleted) and read to the end: done with it.
                        gone.push(*key);
                    }
                }
                continue;
            }
            if budget == 0 {
                continue;
            }
            let want = ((len - t.pos) as usize).min(READ_MAX).min(budget);
            budget -= want;
            t.last_read = self.polls;
            let mut buf = vec![0u8; want];
            let n = match t
                .file
                .seek(SeekFrom::Start(t.pos))
                .and_then(|_| t.file.read(&mut buf))
            {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(input = %self.input, path = %t.path.display(), error = %e, "reading a tailed file failed");
                    continue;
                }
            };
            buf.truncate(n);
            t.pos += n as u64;
            let records = split_lines(
                &self.input,
                &t.path,
                self.max_frame,
                &mut t.partial,
                &mut t.skipping,
                &buf,
            );
            // The offset just past the last complete line.
            let end = t.pos - t.partial.len() as u64;
            if !records.is_empty() || end > t.committed {
                out.push(Chunk {
                    key: *key,
                    generation: t.generation,
                    records,
                    end,
                });
            }
        }
        for k in gone {
            self.files.remove(&k);
        }
        out
    }

    fn commit(&mut self, key: Key, generation: u64, end: u64) {
        if let Some(t) = self.files.get_mut(&key)
            && t.generation == generation
            && end > t.committed
        {
            t.committed = end;
        }
    }

    /// Writes the checkpoint file (temporary file, sync, rename).
    fn save(&mut self) -> std::io::Result<()> {
        let mut entries: Vec<Saved> = Vec::new();
        for (key, t) in self.files.iter_mut() {
            let head_len = t.committed.min(HEAD);
            let head_crc = head_crc(&mut t.file, head_len).unwrap_or(0);
            entries.push(Saved {
                path: t.path.clone(),
                key: *key,
                offset: t.committed,
                head_len,
                head_crc,
            });
        }
        // Files not seen again yet keep their entries while their path exists.
        self.saved.retain(|_, s| s.path.exists());
        entries.extend(self.saved.values().cloned());
        let text = serde_json::to_vec_pretty(&entries).map_err(std::io::Error::other)?;
        if let Some(dir) = self.ckpt.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.ckpt.with_extension("tmp");
        {
            let mut f = File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &text)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.ckpt)
    }
}

/// Splits `buf` into line records, keeping an unfinished line in `partial`.
fn split_lines(
    input: &str,
    path: &Path,
    max_frame: usize,
    partial: &mut Vec<u8>,
    skipping: &mut bool,
    buf: &[u8],
) -> Vec<Record> {
    let mut out = Vec::new();
    let sender = path.display().to_string();
    let rec = |kind, data: Vec<u8>| Record {
        kind,
        received_at: Timestamp::now(),
        input: input.to_string(),
        sender: Some(sender.clone()),
        org: None,
        data,
    };
    let mut rest = buf;
    while !rest.is_empty() {
        let nl = memchr_nl(rest);
        let (piece, done) = match nl {
            Some(i) => (&rest[..i], true),
            None => (rest, false),
        };
        rest = match nl {
            Some(i) => &rest[i + 1..],
            None => &[],
        };
        if *skipping {
            if done {
                *skipping = false;
            }
            continue;
        }
        if partial.len() + piece.len() > max_frame {
            let mut head = std::mem::take(partial);
            head.extend_from_slice(&piece[..piece.len().min(256)]);
            head.truncate(256);
            out.push(rec(RecordKind::Oversized, head));
            *skipping = !done;
            continue;
        }
        partial.extend_from_slice(piece);
        if done {
            let mut line = std::mem::take(partial);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if !line.is_empty() {
                out.push(rec(RecordKind::Frame, line));
            }
        }
    }
    out
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// The checkpoint file of listener `name` under `data_dir`.
pub fn checkpoint_path(data_dir: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    data_dir.join("tail").join(format!("{safe}.json"))
}

/// Runs the file listener until shutdown.
pub(crate) async fn run(settings: FileSettings, ckpt: PathBuf, mut ctx: Ctx) {
    let input = ctx.cfg.name.clone();
    let tailer = Tailer::load(
        ckpt,
        input.clone(),
        settings.patterns.clone(),
        ctx.cfg.max_frame,
    );
    let mut tailer = Some(tailer);
    // Chunks queued for the spool, in order: (file, end offset, durable signal).
    let mut pending: std::collections::VecDeque<(Key, u64, u64, oneshot::Receiver<()>)> =
        Default::default();
    let mut dirty = false;
    let mut stopping = false;
    while !stopping {
        let Some(mut t) = tailer.take() else { break };
        let r = tokio::task::spawn_blocking(move || {
            let chunks = t.poll();
            (t, chunks)
        })
        .await;
        let Ok((t, chunks)) = r else {
            tracing::error!(input = %input, "file tailing task failed");
            return;
        };
        tailer = Some(t);
        'chunks: for c in chunks {
            let (done_tx, done_rx) = oneshot::channel();
            let n = c.records.len();
            let mut done_tx = Some(done_tx);
            if n == 0
                && let Some(d) = done_tx.take()
            {
                let _ = d.send(());
            }
            for (i, r) in c.records.into_iter().enumerate() {
                count_received(&ctx.stats, &input);
                if r.kind == RecordKind::Oversized {
                    count_frame_error(&ctx.stats, &input, "oversized");
                }
                // The last record carries the signal: the writer appends in queue order.
                let q = Queued {
                    record: r,
                    done: if i + 1 == n { done_tx.take() } else { None },
                };
                let sent = tokio::select! {
                    r = ctx.tx.send(q) => r.is_ok(),
                    _ = ctx.shutdown.changed() => false,
                };
                if !sent {
                    stopping = true;
                    break 'chunks;
                }
            }
            pending.push_back((c.key, c.generation, c.end, done_rx));
        }
        // Commit what the spool holds.
        if let Some(t) = tailer.as_mut() {
            while let Some((_, _, _, rx)) = pending.front_mut() {
                match rx.try_recv() {
                    Ok(()) => {
                        if let Some((k, g, end, _)) = pending.pop_front() {
                            t.commit(k, g, end);
                            dirty = true;
                        }
                    }
                    Err(oneshot::error::TryRecvError::Empty) => break,
                    Err(oneshot::error::TryRecvError::Closed) => {
                        // Not spooled (stopping with the spool unavailable): not committed.
                        pending.clear();
                        break;
                    }
                }
            }
        }
        if dirty && let Some(t) = tailer.take() {
            let r = tokio::task::spawn_blocking(move || t_save(t)).await;
            match r {
                Ok(t) => tailer = Some(t),
                Err(_) => return,
            }
            dirty = false;
        }
        if !stopping {
            tokio::select! {
                _ = ctx.shutdown.changed() => stopping = true,
                _ = tokio::time::sleep(settings.poll) => {}
            }
        }
    }
    // Wait (briefly) for the spool writer to take what is queued, then save the offsets.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    if let Some(mut t) = tailer.take() {
        while let Some((k, g, end, rx)) = pending.pop_front() {
            match tokio::time::timeout_at(deadline, rx).await {
                Ok(Ok(())) => t.commit(k, g, end),
                _ => break,
            }
        }
        let _ = tokio::task::spawn_blocking(move || t_save(t)).await;
    }
    tracing::info!(input = %input, "file listener stopped");
}

fn t_save(mut t: Tailer) -> Tailer {
    if let Err(e) = t.save() {
        tracing::error!(input = %t.input, path = %t.ckpt.display(), error = %e, "writing the tail checkpoint failed");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_file_names() {
        assert!(glob_match("*.log", "app.log"));
        assert!(glob_match("app-?.log", "app-1.log"));
        assert!(!glob_match("app-?.log", "app-12.log"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("*.log", "app.log.1"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn lines_are_split_and_partial_ones_kept() {
        let mut partial = Vec::new();
        let mut skip = false;
        let p = Path::new("/x");
        let r = split_lines("f", p, 10, &mut partial, &mut skip, b"one\r\ntwo\nthr");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].data, b"one");
        assert_eq!(partial, b"thr");
        let r = split_lines("f", p, 10, &mut partial, &mut skip, b"ee\n0123456789ABC");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].data, b"three");
        assert_eq!(r[1].kind, RecordKind::Oversized);
        assert!(skip);
        let r = split_lines("f", p, 10, &mut partial, &mut skip, b"DEF\nok\n");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].data, b"ok");
    }

    #[test]
    fn patterns_need_a_literal_directory() {
        assert!(FileSettings::new(vec!["/var/log/*.log".into()]).is_ok());
        assert!(FileSettings::new(vec!["/var/*/app.log".into()]).is_err());
        assert!(FileSettings::new(vec![]).is_err());
    }
}

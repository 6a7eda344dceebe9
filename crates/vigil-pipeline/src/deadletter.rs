//! Dead letters: input that could not become a stored event (parse failure, oversized frame,
//! no organization), kept with the reason and the raw bytes.
//!
//! The store has no dead-letter table yet, so they go to an NDJSON file in the data
//! directory (`deadletter/dead-letters.ndjson`, one JSON object per line with the raw bytes in
//! base64). The file is bounded: past the configured size it is renamed to
//! `dead-letters.1.ndjson` (replacing the previous one) and a new file is started, so at most
//! twice the limit is kept. Each dead letter is also counted
//! (`vigil_pipeline_dead_letters_total{reason}`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use jiff::Timestamp;

pub(crate) const FILE: &str = "dead-letters.ndjson";
pub(crate) const OLD: &str = "dead-letters.1.ndjson";
/// Raw bytes kept per dead letter.
pub const MAX_RAW: usize = 64 * 1024;

/// Why an input became a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The parser refused it.
    Parse,
    /// Longer than the listener's maximum frame.
    Oversized,
    /// No asset or organization matched and no default organization is configured.
    Unattributed,
    /// The store refused the event as invalid.
    Invalid,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Parse => "parse",
            Reason::Oversized => "oversized",
            Reason::Unattributed => "unattributed",
            Reason::Invalid => "invalid",
        }
    }
}

/// One dead letter.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub reason: Reason,
    /// What went wrong, for people.
    pub detail: String,
    pub input: String,
    pub sender: Option<String>,
    pub received_at: Timestamp,
    pub raw: Vec<u8>,
}

/// The bounded dead-letter file.
#[derive(Debug)]
pub struct DeadLetterFile {
    dir: PathBuf,
    max_bytes: u64,
    out: BufWriter<File>,
    size: u64,
}

fn open_append(path: &Path) -> io::Result<(BufWriter<File>, u64)> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    let size = f.metadata()?.len();
    Ok((BufWriter::new(f), size))
}

impl DeadLetterFile {
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let (out, size) = open_append(&dir.join(FILE))?;
        Ok(DeadLetterFile {
            dir: dir.to_path_buf(),
            max_bytes: max_bytes.max(4096),
            out,
            size,
        })
    }

    /// The current file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Appends dead letters and syncs them (they are as durable as stored events, since the
    /// spool checkpoint moves past them right after).
    pub fn write(&mut self, letters: &[DeadLetter]) -> io::Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        for d in letters {
            let raw = &d.raw[..d.raw.len().min(MAX_RAW)];
            let line = serde_json::json!({
                "time": d.received_at.to_string(),
                "reason": d.reason.as_str(),
                "detail": d.detail,
                "input": d.input,
                "sender": d.sender,
                "raw_len": d.raw.len(),
                "raw_b64": base64::engine::general_purpose::STANDARD.encode(raw),
            })
            .to_string();
            if self.size > 0 && self.size + line.len() as u64 + 1 > self.max_bytes {
                self.rotate()?;
            }
            self.out.write_all(line.as_bytes())?;
            self.out.write_all(b"\n")?;
            self.size += line.len() as u64 + 1;
        }
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.out.flush()?;
        fs::rename(self.dir.join(FILE), self.dir.join(OLD))?;
        let (out, size) = open_append(&self.dir.join(FILE))?;
        self.out = out;
        self.size = size;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_is_bounded_by_rotation() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut f = DeadLetterFile::open(dir.path(), 4096).expect("open");
        let d = DeadLetter {
            reason: Reason::Parse,
            detail: "bad json".into(),
            input: "tcp".into(),
            sender: Some("10.0.0.1:5000".into()),
            received_at: Timestamp::UNIX_EPOCH,
            raw: vec![b'x'; 500],
        };
        for _ in 0..100 {
            f.write(std::slice::from_ref(&d)).expect("write");
        }
        let cur = fs::metadata(dir.path().join(FILE)).expect("cur").len();
        let old = fs::metadata(dir.path().join(OLD)).expect("old").len();
        assert!(cur <= 4096 && old <= 4096, "{cur} {old}");
        let text = fs::read_to_string(dir.path().join(FILE)).expect("read");
        let v: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("line")).expect("json");
        assert_eq!(v["reason"], "parse");
        assert_eq!(v["raw_len"], 500);
    }
}

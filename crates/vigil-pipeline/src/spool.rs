//! The durable spool: an append-only, checksummed write-ahead log of everything a listener
//! accepted, kept until the processing stage has stored it.
//!
//! Layout under the spool directory:
//!
//! ```text
//! 00000000000000000000.seg   segment files, named by the spool offset of their first byte
//! 00000000000067108864.seg
//! checkpoint                 "vigil-spool 1 <offset> <crc32 of the offset text>\n"
//! ```
//!
//! A spool offset is a global byte position: segment base + position in the segment, so one
//! number names any record and the checkpoint is a single integer. Each record is
//! `len: u32 LE | crc: u32 LE | body: len bytes`, the CRC-32 (IEEE, `crc32fast`) covering the
//! length bytes and the body, so a corrupted length is caught as well as a corrupted body.
//! The body is [`Record`] in a small binary encoding: version 1 is (kind, receive time, input
//! name, sender, received bytes); version 2, written only for records that carry an
//! organization (a TLS client certificate mapped to one), adds the 16-byte organization id
//! after the sender. Both are read.
//!
//! Guarantees and their limits:
//!
//! - [`Spool::append`] returns after the batch is written and, with [`FsyncPolicy::Batch`]
//!   (the default), `fdatasync`ed: only then may a listener acknowledge.
//! - The checkpoint is the offset below which everything has been stored. It is written to a
//!   temporary file, synced and renamed over the old one, so it is always either the old or the
//!   new value. After a crash every record at or past the checkpoint is read again: delivery
//!   into the store is **at least once** (a batch stored just before the crash, whose
//!   checkpoint was not yet written, is stored twice).
//! - On open the last segment is scanned: a partial record or an invalid length at its end (a
//!   torn write) is truncated away, counted and logged; a complete record with a bad checksum
//!   at the very end is treated the same way. A bad record in the middle is left in place and
//!   skipped (and counted) by the reader, so one flipped bit never stops the spool.
//! - Segments roll at [`SpoolConfig::segment_bytes`] and are deleted once the checkpoint has
//!   passed their end. The spool never holds more than [`SpoolConfig::max_bytes`]: past that,
//!   [`Spool::append`] fails with [`SpoolError::Full`], which the listeners turn into
//!   backpressure.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use vigil_model::OrgId;

/// Bytes before each record body: length and checksum.
pub const RECORD_HEADER: usize = 8;
/// Largest record body accepted. Bigger "lengths" found on disk are corruption.
pub const MAX_RECORD_BYTES: usize = 4 << 20;
/// Largest input name and sender text kept in a record.
const MAX_NAME: usize = 1024;
const FORMAT_VERSION: u8 = 1;
/// [`FORMAT_VERSION`] plus the organization id.
const FORMAT_VERSION_ORG: u8 = 2;
const CHECKPOINT: &str = "checkpoint";
const SEGMENT_EXT: &str = "seg";

/// What can go wrong in the spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool holds `max_bytes` already; retry once the processing stage has caught up.
    #[error("spool full: {used} of {max} bytes in use")]
    Full { used: u64, max: u64 },
    /// One record is larger than [`MAX_RECORD_BYTES`].
    #[error("record of {0} bytes exceeds the spool's record limit")]
    TooLarge(usize),
    #[error("spool IO on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("bad spool checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("invalid spool configuration: {0}")]
    Config(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// When appends are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// `fdatasync` after every appended batch: an accepted record survives a power loss.
    #[default]
    Batch,
    /// Leave it to the operating system: survives a process crash, not a power loss.
    Never,
}

/// Spool settings.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// Appends fail with [`SpoolError::Full`] beyond this many bytes on disk.
    pub max_bytes: u64,
    pub fsync: FsyncPolicy,
}

impl SpoolConfig {
    /// 64 MiB segments, 1 GiB at most, fsync per batch.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolConfig {
            dir: dir.into(),
            segment_bytes: 64 << 20,
            max_bytes: 1 << 30,
            fsync: FsyncPolicy::Batch,
        }
    }
}

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A received frame or datagram, to be parsed.
    Frame = 0,
    /// The head of a frame over the size limit: kept only to become a dead letter.
    Oversized = 1,
    /// One ECS JSON document accepted by the HTTP bulk API (`POST /api/v1/events`), already
    /// validated there; [`Record::org`] is the organization the API resolved, if any.
    Event = 2,
}

/// One received unit with its source metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: RecordKind,
    pub received_at: Timestamp,
    /// The listener's configured name.
    pub input: String,
    /// The peer address, when there is one.
    pub sender: Option<String>,
    /// The organization the sender was authenticated as (a mapped TLS client certificate);
    /// it overrides attribution by asset.
    pub org: Option<OrgId>,
    pub data: Vec<u8>,
}

impl Record {
    fn encoded_len(&self) -> usize {
        1 + 1
            + 8
            + 4
            + 2
            + self.input.len().min(MAX_NAME)
            + 2
            + self.sender_len()
            + if self.org.is_some() { 16 } else { 0 }
            + self.data.len()
    }

    fn sender_len(&self) -> usize {
        self.sender.as_ref().map_or(0, |s| s.len().min(MAX_NAME))
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(if self.org.is_some() {
            FORMAT_VERSION_ORG
        } else {
            FORMAT_VERSION
        });
        out.push(self.kind as u8);
        out.extend_from_slice(&self.received_at.as_second().to_le_bytes());
        out.extend_from_slice(&(self.received_at.subsec_nanosecond() as u32).to_le_bytes());
        let input = truncate_str(&self.input, MAX_NAME);
        out.extend_from_slice(&(input.len() as u16).to_le_bytes());
        out.extend_from_slice(input.as_bytes());
        let sender = truncate_str(self.sender.as_deref().unwrap_or(""), MAX_NAME);
        // 0xFFFF marks "no sender", so an empty sender and a missing one stay distinct.
        let slen = if self.sender.is_some() {
            sender.len() as u16
        } else {
            u16::MAX
        };
        out.extend_from_slice(&slen.to_le_bytes());
        out.extend_from_slice(sender.as_bytes());
        if let Some(org) = self.org {
            out.extend_from_slice(org.0.as_bytes());
        }
        out.extend_from_slice(&self.data);
    }

    fn decode(b: &[u8]) -> Option<Record> {
        let mut r = b;
        let mut take = |n: usize| -> Option<&[u8]> {
            let (h, t) = r.split_at_checked(n)?;
            r = t;
            Some(h)
        };
        let version = take(1)?[0];
        if version != FORMAT_VERSION && version != FORMAT_VERSION_ORG {
            return None;
        }
        let kind = match take(1)?[0] {
            0 => RecordKind::Frame,
            1 => RecordKind::Oversized,
            2 => RecordKind::Event,
            _ => return None,
        };
        let secs = i64::from_le_bytes(take(8)?.try_into().ok()?);
        let nanos = u32::from_le_bytes(take(4)?.try_into().ok()?);
        let received_at = Timestamp::new(secs, i32::try_from(nanos).ok()?).ok()?;
        let ilen = u16::from_le_bytes(take(2)?.try_into().ok()?) as usize;
        let input = String::from_utf8(take(ilen)?.to_vec()).ok()?;
        let slen = u16::from_le_bytes(take(2)?.try_into().ok()?);
        let sender = if slen == u16::MAX {
            None
        } else {
            Some(String::from_utf8(take(slen as usize)?.to_vec()).ok()?)
        };
        let org = if version == FORMAT_VERSION_ORG {
            let b: [u8; 16] = take(16)?.try_into().ok()?;
            Some(OrgId(uuid::Uuid::from_bytes(b)))
        } else {
            None
        };
        Some(Record {
            kind,
            received_at,
            input,
            sender,
            org,
            data: r.to_vec(),
        })
    }
}

fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn checksum(len: [u8; 4], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len);
    h.update(body);
    h.finalize()
}

/// What opening found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Bytes cut from the end of the last segment (a torn write).
    pub truncated_bytes: u64,
    /// Torn records removed (0 or 1: only the tail can be torn).
    pub torn_records: u64,
    /// Where reading resumes.
    pub checkpoint: u64,
    /// End of the written data.
    pub end: u64,
}

/// Counters of the reader.
#[derive(Debug, Default)]
pub struct SpoolCounters {
    /// Records skipped for a bad checksum or an undecodable body.
    pub corrupt_records: AtomicU64,
    /// Segment tails skipped because a length was impossible (no way to find the next record).
    pub corrupt_tails: AtomicU64,
}

struct Writer {
    file: File,
    /// Base offset of the active segment.
    base: u64,
    /// Write position inside it.
    pos: u64,
    buf: Vec<u8>,
}

struct Shared {
    cfg: SpoolConfig,
    /// Offset just past the last complete appended record; readers never read beyond it.
    end: AtomicU64,
    /// The persisted checkpoint.
    committed: AtomicU64,
    /// Base offsets of the segments on disk, oldest first; the last is the active one.
    segments: Mutex<VecDeque<u64>>,
    writer: Mutex<Writer>,
    counters: SpoolCounters,
    notify: tokio::sync::Notify,
}

/// The spool. Cheap to clone; one writer at a time (appends are serialized internally) and
/// one [`SpoolReader`].
#[derive(Clone)]
pub struct Spool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.shared.cfg.dir)
            .field("end", &self.end())
            .field("committed", &self.committed())
            .finish()
    }
}

fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.{SEGMENT_EXT}"))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the data half-updated in a way that matters
    // more than stopping would: positions are only advanced after successful writes.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    // Makes a created or renamed file's directory entry durable.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// The batch the processor is storing, written (synced, renamed) before its events are
/// appended when the batch holds HTTP events, and read at the next start: if the checkpoint
/// is still at `start`, the probe event (`vigil.ingest.offset` = `probe`) tells whether the
/// batch reached the store before the crash, so it is not stored twice. `pending` holds the
/// batch's alerts (and indicator sightings), made before its events were appended, so that a
/// skipped batch's alerts are created at the next start when the crash came before they were.
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    pub start: u64,
    pub end: u64,
    /// Spool offset of the batch's first HTTP event record.
    pub probe: u64,
    /// That event's organization and time, to narrow the store lookup.
    pub org: OrgId,
    pub timestamp: Timestamp,
    pub pending: Option<PendingAlerts>,
}

/// The alerts of a batch in flight, before its events have ids: `event_ids` and sighting
/// event ids hold placeholders ([`placeholder`]) naming events of the batch, which `events`
/// locates in the store (every event of a batch with HTTP events carries its spool offset).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PendingAlerts {
    /// When the marker was written: alerts created for the batch before a crash are newer.
    pub since: Timestamp,
    pub events: Vec<PendingEvent>,
    pub alerts: Vec<vigil_model::NewAlert>,
    /// Sightings with the index of their alert in `alerts`.
    pub sightings: Vec<(vigil_store::NewSighting, usize)>,
}

/// An event an alert of a batch in flight refers to.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PendingEvent {
    /// Its index in the batch (the placeholder's).
    pub index: usize,
    /// Its spool offset, stored in its `vigil.ingest.offset` field.
    pub offset: u64,
    pub org: OrgId,
    pub timestamp: Timestamp,
}

/// The stand-in event id of the batch's `index`-th event until the store assigns ids (stored
/// ids are positive, placeholders negative).
pub fn placeholder(index: usize) -> vigil_model::EventId {
    -(index as i64) - 1
}

/// The batch index a [`placeholder`] stands for.
pub fn placeholder_index(id: vigil_model::EventId) -> Option<usize> {
    (id < 0).then(|| (-(id + 1)) as usize)
}

const INFLIGHT: &str = "inflight";

impl Spool {
    /// Records the batch about to be stored (see [`InFlight`]).
    pub fn write_inflight(&self, m: &InFlight) -> Result<(), SpoolError> {
        let dir = &self.shared.cfg.dir;
        let tmp = dir.join("inflight.tmp");
        let body = format!(
            "{} {} {} {} {}",
            m.start,
            m.end,
            m.probe,
            m.org.0,
            m.timestamp.as_nanosecond()
        );
        let text = match &m.pending {
            None => format!(
                "vigil-inflight 1 {body} {}\n",
                crc32fast::hash(body.as_bytes())
            ),
            Some(p) => {
                // One line of JSON after the header; the checksum covers both.
                let json = serde_json::to_string(p).map_err(|e| SpoolError::Io {
                    path: tmp.clone(),
                    source: std::io::Error::other(e),
                })?;
                let mut h = crc32fast::Hasher::new();
                h.update(body.as_bytes());
                h.update(b"\n");
                h.update(json.as_bytes());
                format!("vigil-inflight 2 {body} {}\n{json}\n", h.finalize())
            }
        };
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        let path = dir.join(INFLIGHT);
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        sync_dir(dir)
    }

    /// The batch recorded by [`Spool::write_inflight`], if it is still the one at the
    /// checkpoint (an older or damaged marker reads as `None`).
    pub fn read_inflight(&self) -> Option<InFlight> {
        let text = fs::read_to_string(self.shared.cfg.dir.join(INFLIGHT)).ok()?;
        let (head, json) = match text.split_once('\n') {
            Some((h, rest)) => (h, rest.trim_end()),
            None => (text.as_str(), ""),
        };
        let (version, rest) = head
            .trim_end()
            .strip_prefix("vigil-inflight ")?
            .split_once(' ')?;
        let (body, crc) = rest.rsplit_once(' ')?;
        let crc = crc.parse::<u32>().ok()?;
        let pending = match version {
            "1" => {
                if crc != crc32fast::hash(body.as_bytes()) {
                    return None;
                }
                None
            }
            "2" => {
                let mut h = crc32fast::Hasher::new();
                h.update(body.as_bytes());
                h.update(b"\n");
                h.update(json.as_bytes());
                if crc != h.finalize() {
                    return None;
                }
                Some(serde_json::from_str::<PendingAlerts>(json).ok()?)
            }
            _ => return None,
        };
        let mut it = body.split(' ');
        let start: u64 = it.next()?.parse().ok()?;
        let end: u64 = it.next()?.parse().ok()?;
        let probe: u64 = it.next()?.parse().ok()?;
        let org = OrgId(it.next()?.parse().ok()?);
        let ns: i128 = it.next()?.parse().ok()?;
        let timestamp = Timestamp::from_nanosecond(ns).ok()?;
        let m = InFlight {
            start,
            end,
            probe,
            org,
            timestamp,
            pending,
        };
        (m.start == self.committed()
            && m.start <= m.probe
            && m.probe < m.end
            && m.end <= self.end())
        .then_some(m)
    }
}

fn read_checkpoint(dir: &Path) -> Result<Option<u64>, SpoolError> {
    let path = dir.join(CHECKPOINT);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let bad = |m: &str| SpoolError::Checkpoint {
        path: path.clone(),
        message: m.to_string(),
    };
    let mut parts = text.split_ascii_whitespace();
    if parts.next() != Some("vigil-spool") || parts.next() != Some("1") {
        return Err(bad("not a vigil spool checkpoint"));
    }
    let off = parts.next().ok_or_else(|| bad("no offset"))?;
    let crc: u32 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no checksum"))?;
    if crc32fast::hash(off.as_bytes()) != crc {
        return Err(bad("checksum mismatch"));
    }
    off.parse()
        .map(Some)
        .map_err(|_| bad("offset not a number"))
}

fn write_checkpoint(dir: &Path, offset: u64) -> Result<(), SpoolError> {
    let tmp = dir.join("checkpoint.tmp");
    let off = offset.to_string();
    let text = format!("vigil-spool 1 {off} {}\n", crc32fast::hash(off.as_bytes()));
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    let path = dir.join(CHECKPOINT);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)
}

/// Scans a segment from `from`; returns the position of the end of the valid data (where a
/// torn tail starts, or the file length).
fn scan_tail(file: &mut File, path: &Path, from: u64) -> Result<u64, SpoolError> {
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut pos = from.min(len);
    file.seek(SeekFrom::Start(pos)).map_err(io_err(path))?;
    let mut r = io::BufReader::with_capacity(1 << 16, file);
    let mut body = Vec::new();
    loop {
        if pos == len {
            return Ok(pos);
        }
        let mut head = [0u8; RECORD_HEADER];
        if len - pos < RECORD_HEADER as u64 {
            return Ok(pos);
        }
        r.read_exact(&mut head).map_err(io_err(path))?;
        let blen = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if blen == 0 || blen > MAX_RECORD_BYTES || pos + (RECORD_HEADER + blen) as u64 > len {
            return Ok(pos);
        }
        body.resize(blen, 0);
        r.read_exact(&mut body).map_err(io_err(path))?;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let next = pos + (RECORD_HEADER + blen) as u64;
        if checksum([head[0], head[1], head[2], head[3]], &body) != crc && next == len {
            // A complete-looking last record with a bad checksum: a torn write whose length
            // made it to disk before its body did.
            return Ok(pos);
        }
        pos = next;
    }
}

impl Spool {
    /// Opens (or creates) the spool in `cfg.dir`, repairing a torn tail.
    pub fn open(cfg: SpoolConfig) -> Result<(Spool, OpenReport), SpoolError> {
        if cfg.segment_bytes < 4096 {
            return Err(SpoolError::Config("segment size below 4096 bytes".into()));
        }
        // The active segment is never deleted, so with room for only one segment a full
        // spool could never drain.
        if cfg.max_bytes < 2 * cfg.segment_bytes {
            return Err(SpoolError::Config(
                "maximum spool size below two segments".into(),
            ));
        }
        let dir = cfg.dir.clone();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let _ = fs::remove_file(dir.join("checkpoint.tmp"));
        let mut bases = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(".seg")
                && let Ok(b) = stem.parse::<u64>()
            {
                bases.push(b);
            }
        }
        bases.sort_unstable();
        let checkpoint = read_checkpoint(&dir)?;
        let mut report = OpenReport::default();

        let (file, base, pos) = match bases.last().copied() {
            None => {
                let base = checkpoint.unwrap_or(0);
                let path = segment_path(&dir, base);
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                sync_dir(&dir)?;
                bases.push(base);
                (file, base, 0)
            }
            Some(base) => {
                let path = segment_path(&dir, base);
                let mut file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                let len = file.metadata().map_err(io_err(&path))?.len();
                let valid = scan_tail(&mut file, &path, 0)?;
                if valid < len {
                    report.truncated_bytes = len - valid;
                    report.torn_records = 1;
                    tracing::warn!(
                        segment = %path.display(),
                        at = valid,
                        bytes = len - valid,
                        "spool: torn write at the end of the last segment truncated"
                    );
                    file.set_len(valid).map_err(io_err(&path))?;
                    file.sync_all().map_err(io_err(&path))?;
                }
                (file, base, valid)
            }
        };
        let end = base + pos;
        let first = bases.first().copied().unwrap_or(base);
        let committed = checkpoint.unwrap_or(first).clamp(first, end);
        report.checkpoint = committed;
        report.end = end;
        let mut file = file;
        file.seek(SeekFrom::Start(pos)).map_err(io_err(&dir))?;
        let shared = Shared {
            cfg,
            end: AtomicU64::new(end),
            committed: AtomicU64::new(committed),
            segments: Mutex::new(bases.into_iter().collect()),
            writer: Mutex::new(Writer {
                file,
                base,
                pos,
                buf: Vec::new(),
            }),
            counters: SpoolCounters::default(),
            notify: tokio::sync::Notify::new(),
        };
        Ok((
            Spool {
                shared: Arc::new(shared),
            },
            report,
        ))
    }

    /// Offset just past the last appended record.
    pub fn end(&self) -> u64 {
        self.shared.end.load(Ordering::Acquire)
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.cfg.dir
    }

    /// The persisted checkpoint: everything below it has been stored.
    pub fn committed(&self) -> u64 {
        self.shared.committed.load(Ordering::Acquire)
    }

    /// Bytes on disk (from the oldest kept segment to the end).
    pub fn used_bytes(&self) -> u64 {
        let first = lock(&self.shared.segments).front().copied().unwrap_or(0);
        self.end().saturating_sub(first)
    }

    /// Bytes appended but not yet committed.
    pub fn pending_bytes(&self) -> u64 {
        self.end().saturating_sub(self.committed())
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        lock(&self.shared.segments).len()
    }

    pub fn counters(&self) -> &SpoolCounters {
        &self.shared.counters
    }

    /// Appends a batch; returns the end offset after it. Returns only once the batch is
    /// written (and synced, per the policy). All or nothing with respect to [`Spool::end`]:
    /// a failed append leaves no visible record (a partial write is a torn tail, repaired on
    /// the next open, and overwritten by the next append).
    pub fn append(&self, batch: &[Record]) -> Result<u64, SpoolError> {
        if batch.is_empty() {
            return Ok(self.end());
        }
        let cfg = &self.shared.cfg;
        let mut total = 0u64;
        for r in batch {
            let n = r.encoded_len();
            if n > MAX_RECORD_BYTES {
                return Err(SpoolError::TooLarge(n));
            }
            total += (RECORD_HEADER + n) as u64;
        }
        let used = self.used_bytes();
        if used + total > cfg.max_bytes {
            return Err(SpoolError::Full {
                used,
                max: cfg.max_bytes,
            });
        }
        let mut w = lock(&self.shared.writer);
        let w = &mut *w;
        for r in batch {
            let n = r.encoded_len();
            if w.pos > 0 && w.pos + (RECORD_HEADER + n) as u64 > cfg.segment_bytes {
                self.flush(w)?;
                self.roll(w)?;
            }
            let len = (n as u32).to_le_bytes();
            let start = w.buf.len();
            w.buf.extend_from_slice(&len);
            w.buf.extend_from_slice(&[0; 4]);
            r.encode_into(&mut w.buf);
            let crc = checksum(len, &w.buf[start + RECORD_HEADER..]);
            w.buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
            w.pos += (RECORD_HEADER + n) as u64;
        }
        self.flush(w)?;
        if cfg.fsync == FsyncPolicy::Batch {
            let path = segment_path(&cfg.dir, w.base);
            w.file.sync_data().map_err(io_err(&path))?;
        }
        let end = w.base + w.pos;
        self.shared.end.store(end, Ordering::Release);
        self.shared.notify.notify_one();
        Ok(end)
    }

    /// Writes the buffered records of the active segment. On failure the write position goes
    /// back to the last flushed byte, so the next append overwrites the partial write.
    fn flush(&self, w: &mut Writer) -> Result<(), SpoolError> {
        if w.buf.is_empty() {
            return Ok(());
        }
        let path = segment_path(&self.shared.cfg.dir, w.base);
        let res = w.file.write_all(&w.buf);
        w.buf.clear();
        if let Err(e) = res {
            // `end` is always inside the active segment (a roll moves it to the new base).
            w.pos = self
                .shared
                .end
                .load(Ordering::Acquire)
                .saturating_sub(w.base);
            let _ = w.file.seek(SeekFrom::Start(w.pos));
            return Err(io_err(&path)(e));
        }
        Ok(())
    }

    fn roll(&self, w: &mut Writer) -> Result<(), SpoolError> {
        let dir = &self.shared.cfg.dir;
        let old = segment_path(dir, w.base);
        w.file.sync_data().map_err(io_err(&old))?;
        let base = w.base + w.pos;
        let path = segment_path(dir, base);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        sync_dir(dir)?;
        // The old segment's records are complete: make them visible before the base moves.
        self.shared.end.store(base, Ordering::Release);
        lock(&self.shared.segments).push_back(base);
        w.file = file;
        w.base = base;
        w.pos = 0;
        Ok(())
    }

    /// Persists `offset` as the checkpoint (everything below it is stored) and deletes the
    /// segments wholly below it. Offsets at or below the current checkpoint are ignored.
    pub fn commit(&self, offset: u64) -> Result<(), SpoolError> {
        let offset = offset.min(self.end());
        if offset <= self.committed() {
            return Ok(());
        }
        let dir = &self.shared.cfg.dir;
        write_checkpoint(dir, offset)?;
        self.shared.committed.store(offset, Ordering::Release);
        let mut segs = lock(&self.shared.segments);
        // A segment may go when the next one starts at or below the checkpoint.
        while segs.len() > 1 && segs[1] <= offset {
            let Some(base) = segs.pop_front() else { break };
            let path = segment_path(dir, base);
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(segment = %path.display(), error = %e, "spool: cannot delete a consumed segment");
            }
        }
        Ok(())
    }

    /// A reader starting at the checkpoint.
    pub fn reader(&self) -> SpoolReader {
        SpoolReader {
            spool: self.clone(),
            pos: self.committed(),
            file: None,
        }
    }

    /// Waits until records past `pos` may be available (or a spurious wake-up).
    pub async fn wait_for_data(&self, pos: u64) {
        let notified = self.shared.notify.notified();
        if self.end() > pos {
            return;
        }
        notified.await;
    }
}

/// A record read from the spool, with the offset just past it (what to commit once it is
/// stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledRecord {
    pub offset: u64,
    pub next: u64,
    pub record: Record,
}

/// Reads records in order from the checkpoint on. Blocking IO: call it from a blocking thread.
pub struct SpoolReader {
    spool: Spool,
    pos: u64,
    /// The open segment: (base, file, next segment's base or None for the active one).
    file: Option<(u64, io::BufReader<File>)>,
}

impl std::fmt::Debug for SpoolReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolReader")
            .field("pos", &self.pos)
            .finish()
    }
}

impl SpoolReader {
    /// Where the next read starts.
    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// The segment holding `pos`: (its base, the next segment's base).
    fn locate(&self, pos: u64) -> Option<(u64, Option<u64>)> {
        let segs = lock(&self.spool.shared.segments);
        let i = segs.partition_point(|b| *b <= pos);
        if i == 0 {
            return segs.front().map(|b| (*b, segs.get(1).copied()));
        }
        Some((segs[i - 1], segs.get(i).copied()))
    }

    /// Moves the reader back (or forward) to `offset`, a record boundary returned earlier:
    /// used to process a batch again after the store failed.
    pub fn rewind_to(&mut self, offset: u64) {
        self.pos = offset;
        self.file = None;
    }

    /// Reads up to `max_records` records or about `max_bytes` bytes, whatever comes first;
    /// an empty batch means the reader has caught up with the writer. On an IO error the
    /// position is left where the batch started, so nothing is skipped.
    pub fn read_batch(
        &mut self,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<SpooledRecord>, SpoolError> {
        let start = self.pos;
        let res = self.read_inner(max_records, max_bytes);
        if res.is_err() {
            self.rewind_to(start);
        }
        res
    }

    fn read_inner(
        &mut self,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<SpooledRecord>, SpoolError> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let dir = self.spool.shared.cfg.dir.clone();
        while out.len() < max_records && bytes < max_bytes {
            let end = self.spool.end();
            if self.pos >= end {
                break;
            }
            let Some((base, next_base)) = self.locate(self.pos) else {
                break;
            };
            if self.pos < base {
                // Segments below were deleted (cannot happen while this reader is the only
                // consumer, but never read what is gone).
                self.pos = base;
            }
            // The end of this segment's readable data.
            let seg_end = next_base.map_or(end, |n| n.min(end));
            if self.pos >= seg_end {
                match next_base {
                    Some(n) => {
                        self.pos = n;
                        self.file = None;
                        continue;
                    }
                    None => break,
                }
            }
            let path = segment_path(&dir, base);
            let reopen = !matches!(&self.file, Some((b, _)) if *b == base);
            if reopen {
                let f = File::open(&path).map_err(io_err(&path))?;
                self.file = Some((base, io::BufReader::with_capacity(1 << 16, f)));
            }
            let Some((_, r)) = self.file.as_mut() else {
                break;
            };
            // Seeking a BufReader drops its buffer; only seek when not already there.
            let at = r.stream_position().map_err(io_err(&path))?;
            if at != self.pos - base {
                r.seek(SeekFrom::Start(self.pos - base))
                    .map_err(io_err(&path))?;
            }
            let avail = seg_end - self.pos;
            let mut head = [0u8; RECORD_HEADER];
            let blen = if avail >= RECORD_HEADER as u64 {
                r.read_exact(&mut head).map_err(io_err(&path))?;
                u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize
            } else {
                0
            };
            if blen == 0 || blen > MAX_RECORD_BYTES || (RECORD_HEADER + blen) as u64 > avail {
                // No way to find the next record boundary: skip the rest of the segment.
                self.spool
                    .shared
                    .counters
                    .corrupt_tails
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    segment = %path.display(),
                    at = self.pos - base,
                    skipped = seg_end - self.pos,
                    "spool: impossible record length, rest of the segment skipped"
                );
                self.pos = seg_end;
                self.file = None;
                if next_base.is_none() {
                    break;
                }
                continue;
            }
            let mut body = vec![0u8; blen];
            r.read_exact(&mut body).map_err(io_err(&path))?;
            let offset = self.pos;
            self.pos += (RECORD_HEADER + blen) as u64;
            let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            let decoded = (checksum([head[0], head[1], head[2], head[3]], &body) == crc)
                .then(|| Record::decode(&body))
                .flatten();
            match decoded {
                Some(record) => {
                    bytes += blen;
                    out.push(SpooledRecord {
                        offset,
                        next: self.pos,
                        record,
                    });
                }
                None => {
                    self.spool
                        .shared
                        .counters
                        .corrupt_records
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        segment = %path.display(),
                        at = offset - base,
                        "spool: corrupt record skipped (bad checksum or body)"
                    );
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize) -> Record {
        Record {
            kind: RecordKind::Frame,
            received_at: Timestamp::new(1_700_000_000 + i as i64, 123).expect("ts"),
            input: "syslog-tcp".into(),
            sender: Some(format!("10.0.0.{}:514", i % 250)),
            org: None,
            data: format!("<13>1 - host app - - - message {i}").into_bytes(),
        }
    }

    fn cfg(dir: &Path) -> SpoolConfig {
        SpoolConfig {
            dir: dir.to_path_buf(),
            segment_bytes: 4096,
            max_bytes: 1 << 20,
            fsync: FsyncPolicy::Batch,
        }
    }

    fn read_all(s: &Spool) -> Vec<SpooledRecord> {
        let mut r = s.reader();
        let mut out = Vec::new();
        loop {
            let b = r.read_batch(7, 1 << 20).expect("read");
            if b.is_empty() {
                return out;
            }
            out.extend(b);
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tmp");
        let (s, rep) = Spool::open(cfg(dir.path())).expect("open");
        assert_eq!(rep, OpenReport::default());
        let mut batch: Vec<Record> = (0..10).map(rec).collect();
        batch[3].sender = None;
        batch[4].kind = RecordKind::Oversized;
        batch[5].sender = Some(String::new());
        batch[6].org = Some(OrgId(uuid::Uuid::from_u128(
            0x0190_c8a0_0000_7000_8000_0000_0000_0001,
        )));
        s.append(&batch).expect("append");
        let got = read_all(&s);
        assert_eq!(
            got.iter().map(|r| r.record.clone()).collect::<Vec<_>>(),
            batch
        );
        assert_eq!(got.last().expect("last").next, s.end());
    }

    #[test]
    fn replay_after_reopen_starts_at_the_checkpoint() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let (s, _) = Spool::open(cfg(dir.path())).expect("open");
            s.append(&(0..10).map(rec).collect::<Vec<_>>())
                .expect("append");
            let got = read_all(&s);
            s.commit(got[3].next).expect("commit");
        }
        let (s, rep) = Spool::open(cfg(dir.path())).expect("reopen");
        assert_eq!(rep.torn_records, 0);
        let got = read_all(&s);
        assert_eq!(got.len(), 6);
        assert_eq!(got[0].record, rec(4));
        // Appends continue after the replayed data.
        s.append(&[rec(10)]).expect("append");
        assert_eq!(read_all(&s).len(), 7);
    }

    #[test]
    fn torn_tail_is_truncated_on_open() {
        let dir = tempfile::tempdir().expect("tmp");
        let end = {
            let (s, _) = Spool::open(cfg(dir.path())).expect("open");
            s.append(&[rec(0), rec(1)]).expect("append")
        };
        let seg = segment_path(dir.path(), 0);
        // A partial record: header and half a body.
        let mut f = OpenOptions::new().append(true).open(&seg).expect("seg");
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9])
            .expect("w");
        drop(f);
        let (s, rep) = Spool::open(cfg(dir.path())).expect("reopen");
        assert_eq!(rep.torn_records, 1);
        assert_eq!(rep.truncated_bytes, 11);
        assert_eq!(s.end(), end);
        assert_eq!(fs::metadata(&seg).expect("meta").len(), end);
        assert_eq!(read_all(&s).len(), 2);

        // A complete last record whose body did not make it (zeros): bad checksum at the end.
        drop(s);
        let mut bytes = fs::read(&seg).expect("read");
        let n = bytes.len();
        for b in &mut bytes[n - 10..] {
            *b = 0;
        }
        fs::write(&seg, &bytes).expect("write");
        let (s, rep) = Spool::open(cfg(dir.path())).expect("reopen");
        assert_eq!(rep.torn_records, 1);
        let got = read_all(&s);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].record, rec(0));
        // Zero-filled space after the data (a file extended by a crash) is cut too.
        drop(s);
        let mut f = OpenOptions::new().append(true).open(&seg).expect("seg");
        f.write_all(&[0; 100]).expect("w");
        drop(f);
        let (s, rep) = Spool::open(cfg(dir.path())).expect("reopen");
        assert_eq!(rep.truncated_bytes, 100);
        assert_eq!(read_all(&s).len(), 1);
    }

    #[test]
    fn corrupted_middle_record_is_skipped_and_counted() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let (s, _) = Spool::open(cfg(dir.path())).expect("open");
            s.append(&[rec(0), rec(1), rec(2)]).expect("append");
        }
        let seg = segment_path(dir.path(), 0);
        let mut bytes = fs::read(&seg).expect("read");
        let first = RECORD_HEADER + rec(0).encoded_len();
        // Flip a byte in the body of the second record.
        bytes[first + RECORD_HEADER + 20] ^= 0x55;
        fs::write(&seg, &bytes).expect("write");
        let (s, rep) = Spool::open(cfg(dir.path())).expect("reopen");
        assert_eq!(rep.torn_records, 0);
        let got = read_all(&s);
        assert_eq!(
            got.iter().map(|r| r.record.clone()).collect::<Vec<_>>(),
            vec![rec(0), rec(2)]
        );
        assert_eq!(s.counters().corrupt_records.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn segments_roll_and_consumed_ones_are_deleted() {
        let dir = tempfile::tempdir().expect("tmp");
        let (s, _) = Spool::open(cfg(dir.path())).expect("open");
        for i in 0..30 {
            s.append(&(i * 10..i * 10 + 10).map(rec).collect::<Vec<_>>())
                .expect("append");
        }
        let segs = s.segment_count();
        assert!(segs > 5, "{segs} segments");
        let mut r = s.reader();
        let mut n = 0;
        loop {
            let b = r.read_batch(50, 1 << 20).expect("read");
            let Some(last) = b.last() else { break };
            for (k, x) in b.iter().enumerate() {
                assert_eq!(x.record, rec(n + k));
            }
            n += b.len();
            s.commit(last.next).expect("commit");
        }
        assert_eq!(n, 300);
        assert_eq!(s.segment_count(), 1);
        let files = fs::read_dir(dir.path())
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "seg"))
            })
            .count();
        assert_eq!(files, 1);
        // Reopen: nothing to replay, appends continue at the end.
        drop(r);
        let end = s.end();
        drop(s);
        let (s, rep) = Spool::open(cfg(dir.path())).expect("reopen");
        assert_eq!(rep.checkpoint, end);
        assert_eq!(rep.end, end);
        assert!(read_all(&s).is_empty());
        s.append(&[rec(1)]).expect("append");
        assert_eq!(read_all(&s).len(), 1);
    }

    #[test]
    fn full_spool_refuses_appends_until_consumed() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut c = cfg(dir.path());
        c.max_bytes = 8192;
        let (s, _) = Spool::open(c).expect("open");
        let mut appended = 0;
        let err = loop {
            match s.append(&[rec(appended)]) {
                Ok(_) => appended += 1,
                Err(e) => break e,
            }
            assert!(appended < 1000, "never full");
        };
        assert!(matches!(err, SpoolError::Full { .. }), "{err}");
        assert!(s.used_bytes() <= 8192);
        let all = read_all(&s);
        assert_eq!(all.len(), appended);
        s.commit(all.last().expect("last").next).expect("commit");
        s.append(&[rec(0)]).expect("room again");
    }

    #[test]
    fn random_damage_never_panics_and_never_invents_records() {
        // A small deterministic generator (xorshift) instead of a dependency.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..200 {
            let dir = tempfile::tempdir().expect("tmp");
            let all: Vec<Record> = (0..20).map(rec).collect();
            {
                let (s, _) = Spool::open(cfg(dir.path())).expect("open");
                s.append(&all).expect("append");
            }
            let seg = segment_path(dir.path(), 0);
            let mut bytes = fs::read(&seg).expect("read");
            for _ in 0..(1 + round % 5) {
                let i = (next() as usize) % bytes.len();
                bytes[i] = next() as u8;
            }
            if round % 3 == 0 {
                let cut = (next() as usize) % bytes.len();
                bytes.truncate(cut);
            }
            fs::write(&seg, &bytes).expect("write");
            let (s, _) = Spool::open(cfg(dir.path())).expect("reopen");
            for r in read_all(&s) {
                assert!(all.contains(&r.record), "round {round}: invented {r:?}");
            }
        }
    }

    #[test]
    fn bad_checkpoint_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tmp");
        fs::write(dir.path().join(CHECKPOINT), "vigil-spool 1 12 99\n").expect("w");
        let e = Spool::open(cfg(dir.path())).expect_err("bad crc");
        assert!(matches!(e, SpoolError::Checkpoint { .. }), "{e}");
    }
}

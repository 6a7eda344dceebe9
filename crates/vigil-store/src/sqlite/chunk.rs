//! Event chunks: the SQLite store's on-disk form of events.
//!
//! A row per event with a dozen B-tree indexes costs the single writer thread about 25 µs an
//! event (each index insert lands on a random page that must be written to the WAL at commit),
//! which caps the embedded store near 40,000 events/s. Log stores solve this the same way
//! (Loki chunks, ClickHouse granules, Lucene segments): events are stored in compressed
//! chunks of up to [`CHUNK_MAX`] events of one organization, and the indexed fields get
//! chunk-level postings, one row per distinct `(field, value)` of a chunk listing the
//! positions that hold it. Postings are keyed `(chunk, field, value)`, so a commit only ever
//! appends at the end of the postings B-tree.
//!
//! Everything here is pure and runs on the caller's thread (encoding, zstd compression),
//! so the writer thread only inserts finished rows; decoding runs on the read pool.
//!
//! The body is a hand-written framing of length-prefixed fields (a serialization crate
//! would add a dependency for forty lines, and `serde_json::Value` needs a self-describing
//! format anyway, so `fields` and `native` stay JSON inside it):
//!
//! ```text
//! body      = records offsets:(u32 × count) count:u32
//! record    = received_at:i64 asset:(0 | 1 uuid:16) input:str sender:(0 | 1 str)
//!             message:str fields:str native:str raw:bytes
//! str/bytes = len:u32 data
//! ```
//! All integers little-endian; offsets are relative to the first record. The body is stored
//! as several concatenated zstd frames (each half of a big chunk is encoded and compressed
//! by its own thread, the offset table last), which zstd decompresses as one buffer.

use crate::{Result, StoreError};
use std::borrow::Cow;
use std::collections::HashMap;
use uuid::Uuid;
use vigil_model::{AssetId, INDEXED_FIELDS, NewEvent, OrgId, Provenance, Timestamp};

/// Most events in one chunk. Positions fit in a `u16`.
pub(crate) const CHUNK_MAX: usize = 1_024;
/// The postings field number of `asset_id`, after the [`INDEXED_FIELDS`].
pub(crate) const ASSET_FIELD: u8 = INDEXED_FIELDS.len() as u8;
/// zstd level: 1 compresses at several hundred MB/s and still shrinks log lines 5-10×.
const ZSTD_LEVEL: i32 = 1;

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Backend(format!("corrupt event chunk: {}", what.into()))
}

/// One chunk ready for the writer: everything but its first id, which the writer assigns.
#[derive(Debug)]
pub(crate) struct EncodedChunk {
    pub org_id: OrgId,
    pub count: usize,
    pub ts_min: i64,
    pub ts_max: i64,
    /// Event times in µs, `count × i64` little-endian.
    pub ts: Vec<u8>,
    /// `(field number, value, positions)`, positions encoded by [`encode_positions`].
    pub terms: Vec<(u8, String, Vec<u8>)>,
    /// zstd frame of the body described in the module documentation.
    pub body: Vec<u8>,
}

/// A batch cut into chunks, and where each input event went.
#[derive(Debug)]
pub(crate) struct EncodedBatch {
    pub chunks: Vec<EncodedChunk>,
    /// For each input event, in input order: (chunk index, position in the chunk).
    pub placement: Vec<(usize, usize)>,
}

/// Groups `events` by organization (keeping input order within each), cuts each group into
/// chunks of at most [`CHUNK_MAX`], and encodes them.
pub(crate) fn encode_batch(events: &[NewEvent]) -> Result<EncodedBatch> {
    let mut groups: Vec<(OrgId, Vec<usize>)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        match groups.iter_mut().find(|(o, _)| *o == e.org_id) {
            Some((_, v)) => v.push(i),
            None => groups.push((e.org_id, vec![i])),
        }
    }
    let mut chunks = Vec::new();
    let mut placement = vec![(0usize, 0usize); events.len()];
    for (org, idx) in groups {
        for part in idx.chunks(CHUNK_MAX) {
            for (pos, &i) in part.iter().enumerate() {
                placement[i] = (chunks.len(), pos);
            }
            let refs: Vec<&NewEvent> = part.iter().map(|&i| &events[i]).collect();
            chunks.push(encode_chunk(org, &refs)?);
        }
    }
    Ok(EncodedBatch { chunks, placement })
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) -> Result<()> {
    let len = u32::try_from(b.len()).map_err(|_| {
        StoreError::Backend(format!(
            "an event part of {} bytes is too large to store",
            b.len()
        ))
    })?;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(b);
    Ok(())
}

/// Writes `v` as JSON straight into `buf` behind a length prefix.
fn put_json<T: serde::Serialize>(buf: &mut Vec<u8>, v: &T) -> Result<()> {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut *buf, v).map_err(crate::sqlite::sql::json_err)?;
    let len = u32::try_from(buf.len() - at - 4)
        .map_err(|_| StoreError::Backend("an event's fields exceed 4 GiB".into()))?;
    buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Events encoded by one thread: their records, compressed, and what the chunk row needs.
struct Part<'a> {
    /// zstd frame of the records.
    frame: Vec<u8>,
    /// Uncompressed length of the records.
    len: usize,
    /// Record offsets, relative to this part's first record.
    offsets: Vec<u32>,
    ts: Vec<i64>,
    postings: HashMap<(u8, Cow<'a, str>), Vec<u16>, foldhash::fast::RandomState>,
}

/// The text of a field value the way the indexed columns hold it, borrowed when it can be.
fn value_text(v: &serde_json::Value) -> Option<Cow<'_, str>> {
    match v {
        serde_json::Value::String(s) => Some(Cow::Borrowed(s)),
        serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
            vigil_model::event::value_text(v).map(Cow::Owned)
        }
        _ => None,
    }
}

/// `NewEvent::message` without copying when the message is a string field or UTF-8 raw.
fn message_of(e: &NewEvent) -> Cow<'_, str> {
    match e.fields.get("message").and_then(serde_json::Value::as_str) {
        Some(m) => Cow::Borrowed(m),
        None => String::from_utf8_lossy(&e.raw),
    }
}

fn encode_part<'a>(events: &[&'a NewEvent], base: usize) -> Result<Part<'a>> {
    let estimate: usize = events.iter().map(|e| 2 * e.raw.len() + 256).sum();
    let mut records: Vec<u8> = Vec::with_capacity(estimate);
    let mut offsets = Vec::with_capacity(events.len());
    let mut ts = Vec::with_capacity(events.len());
    let mut postings: HashMap<(u8, Cow<'a, str>), Vec<u16>, foldhash::fast::RandomState> =
        HashMap::default();
    for (i, e) in events.iter().enumerate() {
        let p = u16::try_from(base + i).map_err(|_| corrupt("chunk too large"))?;
        ts.push(e.timestamp.as_microsecond());
        for (f, name) in INDEXED_FIELDS.iter().enumerate() {
            if let Some(v) = e.fields.get(*name).and_then(value_text) {
                postings.entry((f as u8, v)).or_default().push(p);
            }
        }
        if let Some(a) = e.asset_id {
            postings
                .entry((ASSET_FIELD, Cow::Owned(a.0.to_string())))
                .or_default()
                .push(p);
        }
        let off = u32::try_from(records.len())
            .map_err(|_| StoreError::Backend("an event chunk over 4 GiB".into()))?;
        offsets.push(off);
        records.extend_from_slice(&e.received_at.as_microsecond().to_le_bytes());
        match e.asset_id {
            Some(a) => {
                records.push(1);
                records.extend_from_slice(a.0.as_bytes());
            }
            None => records.push(0),
        }
        put_bytes(&mut records, e.provenance.input.as_bytes())?;
        match &e.provenance.sender {
            Some(s) => {
                records.push(1);
                put_bytes(&mut records, s.as_bytes())?;
            }
            None => records.push(0),
        }
        put_bytes(&mut records, message_of(e).as_bytes())?;
        put_json(&mut records, &e.fields)?;
        if e.native.is_empty() {
            records.extend_from_slice(&0u32.to_le_bytes());
        } else {
            put_json(&mut records, &e.native)?;
        }
        put_bytes(&mut records, &e.raw)?;
    }
    let frame = zstd::bulk::compress(&records, ZSTD_LEVEL)
        .map_err(|e| StoreError::Backend(format!("compressing events: {e}")))?;
    Ok(Part {
        frame,
        len: records.len(),
        offsets,
        ts,
        postings,
    })
}

/// Chunks at least this big are encoded by two threads, one half each.
const PARALLEL_FROM: usize = 256;

/// Encodes one chunk of events of `org` (at most [`CHUNK_MAX`]). The body is the
/// concatenation of zstd frames (one per half, then one for the offset table), which zstd
/// decompresses as one buffer.
pub(crate) fn encode_chunk(org: OrgId, events: &[&NewEvent]) -> Result<EncodedChunk> {
    let count = events.len();
    if count == 0 || count > CHUNK_MAX {
        return Err(corrupt(format!("a chunk of {count} events")));
    }
    let parts: Vec<Part<'_>> = if count >= PARALLEL_FROM {
        let (left, right) = events.split_at(count / 2);
        let (a, b) = std::thread::scope(|s| {
            let second = s.spawn(|| encode_part(right, left.len()));
            let first = encode_part(left, 0);
            (first, second.join())
        });
        let b = b.map_err(|_| StoreError::Backend("event encoder thread panicked".into()))?;
        vec![a?, b?]
    } else {
        vec![encode_part(events, 0)?]
    };
    let mut tail: Vec<u8> = Vec::with_capacity(4 * count + 4);
    let mut base = 0usize;
    let mut ts_bytes = Vec::with_capacity(8 * count);
    let (mut ts_min, mut ts_max) = (i64::MAX, i64::MIN);
    let mut body = Vec::with_capacity(parts.iter().map(|p| p.frame.len()).sum::<usize>() + 64);
    let mut postings: HashMap<(u8, Cow<'_, str>), Vec<u16>, foldhash::fast::RandomState> =
        HashMap::default();
    for part in parts {
        let shift = u32::try_from(base)
            .map_err(|_| StoreError::Backend("an event chunk over 4 GiB".into()))?;
        for o in &part.offsets {
            tail.extend_from_slice(&(o + shift).to_le_bytes());
        }
        for t in &part.ts {
            ts_min = ts_min.min(*t);
            ts_max = ts_max.max(*t);
            ts_bytes.extend_from_slice(&t.to_le_bytes());
        }
        base += part.len;
        body.extend_from_slice(&part.frame);
        for (k, mut v) in part.postings {
            postings.entry(k).or_default().append(&mut v);
        }
    }
    tail.extend_from_slice(&(count as u32).to_le_bytes());
    let tail = zstd::bulk::compress(&tail, ZSTD_LEVEL)
        .map_err(|e| StoreError::Backend(format!("compressing events: {e}")))?;
    body.extend_from_slice(&tail);
    let mut terms: Vec<(u8, String, Vec<u8>)> = postings
        .into_iter()
        .map(|((f, v), p)| (f, v.into_owned(), encode_positions(&p, count)))
        .collect();
    // Sorted, so the writer inserts in key order.
    terms.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(EncodedChunk {
        org_id: org,
        count,
        ts_min,
        ts_max,
        ts: ts_bytes,
        terms,
        body,
    })
}

/// Positions as a list (`0`, then `u16` each) when that is smaller, else as a bitmap (`1`,
/// then one bit per event of the chunk).
pub(crate) fn encode_positions(p: &[u16], count: usize) -> Vec<u8> {
    let bitmap_len = count.div_ceil(8);
    if p.len() * 2 < bitmap_len {
        let mut out = Vec::with_capacity(1 + 2 * p.len());
        out.push(0);
        for x in p {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out
    } else {
        let mut out = vec![0u8; 1 + bitmap_len];
        out[0] = 1;
        for &x in p {
            let x = usize::from(x);
            if let Some(b) = out.get_mut(1 + x / 8) {
                *b |= 1 << (x % 8);
            }
        }
        out
    }
}

/// A set of positions of one chunk.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    pub fn empty(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    pub fn full(len: usize) -> Self {
        let mut b = Self::empty(len);
        for i in 0..len {
            b.set(i);
        }
        b
    }

    pub fn set(&mut self, i: usize) {
        if i < self.len
            && let Some(w) = self.words.get_mut(i / 64)
        {
            *w |= 1 << (i % 64);
        }
    }

    pub fn clear(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }

    pub fn has(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub fn and(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub fn and_not(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len).filter(|&i| self.has(i))
    }

    /// The positions in the form [`encode_positions`] writes.
    pub fn encode(&self) -> Vec<u8> {
        let p: Vec<u16> = self.iter().filter_map(|i| u16::try_from(i).ok()).collect();
        encode_positions(&p, self.len)
    }
}

/// Reads what [`encode_positions`] wrote, for a chunk of `count` events.
pub(crate) fn decode_positions(b: &[u8], count: usize) -> Result<Bits> {
    let mut bits = Bits::empty(count);
    match b.split_first() {
        Some((0, rest)) => {
            for x in rest.chunks_exact(2) {
                bits.set(usize::from(u16::from_le_bytes([x[0], x[1]])));
            }
        }
        Some((1, rest)) => {
            for (i, byte) in rest.iter().enumerate() {
                for bit in 0..8 {
                    if byte & (1 << bit) != 0 {
                        bits.set(i * 8 + bit);
                    }
                }
            }
        }
        _ => return Err(corrupt("unknown positions encoding")),
    }
    Ok(bits)
}

/// Event times of a chunk from its `ts` column.
pub(crate) fn decode_ts(b: &[u8], count: usize) -> Result<Vec<i64>> {
    if b.len() != count * 8 {
        return Err(corrupt(format!(
            "{} bytes of times for {count} events",
            b.len()
        )));
    }
    Ok(b.chunks_exact(8)
        .map(|x| i64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]))
        .collect())
}

/// A decompressed chunk body.
pub(crate) struct Body {
    plain: Vec<u8>,
    count: usize,
}

/// One event's record, borrowed from its [`Body`].
pub(crate) struct Record<'a> {
    pub received_at: i64,
    pub asset: Option<Uuid>,
    pub input: &'a str,
    pub sender: Option<&'a str>,
    pub message: &'a str,
    pub fields: &'a str,
    pub native: &'a str,
    pub raw: &'a [u8],
}

/// Most bytes a chunk body may decompress to (a thousand events of 1 MiB raw each would
/// still be far below): a corrupt or hostile frame cannot make a reader allocate more.
const MAX_BODY: usize = 2 << 30;

impl Body {
    pub fn decompress(frame: &[u8]) -> Result<Self> {
        let size = zstd::bulk::Decompressor::upper_bound(frame)
            .unwrap_or(MAX_BODY)
            .min(MAX_BODY);
        let plain = zstd::bulk::decompress(frame, size)
            .map_err(|e| corrupt(format!("decompressing: {e}")))?;
        let end = plain
            .len()
            .checked_sub(4)
            .ok_or_else(|| corrupt("empty body"))?;
        let count = read_u32(&plain, end)? as usize;
        if count > CHUNK_MAX || end < 4 * count {
            return Err(corrupt("offset table cut short"));
        }
        Ok(Self { plain, count })
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes the decompressed body holds.
    pub fn size(&self) -> usize {
        self.plain.len()
    }

    pub fn record(&self, pos: usize) -> Result<Record<'_>> {
        if pos >= self.count {
            return Err(corrupt(format!("position {pos} of {}", self.count)));
        }
        let table = self.plain.len() - 4 - 4 * self.count;
        let off = read_u32(&self.plain, table + 4 * pos)? as usize;
        let mut r = Reader {
            b: &self.plain[..table],
            at: off,
        };
        let received_at = r.i64()?;
        let asset = match r.u8()? {
            0 => None,
            _ => Some(Uuid::from_bytes(r.array16()?)),
        };
        let input = r.str()?;
        let sender = match r.u8()? {
            0 => None,
            _ => Some(r.str()?),
        };
        let message = r.str()?;
        let fields = r.str()?;
        let native = r.str()?;
        let raw = r.bytes()?;
        Ok(Record {
            received_at,
            asset,
            input,
            sender,
            message,
            fields,
            native,
            raw,
        })
    }
}

impl Record<'_> {
    /// The stored event, given its organization and event time (kept outside the body).
    pub fn to_event(&self, org: OrgId, ts: i64) -> Result<NewEvent> {
        let time =
            |us: i64| Timestamp::from_microsecond(us).map_err(|_| corrupt(format!("time {us} µs")));
        Ok(NewEvent {
            org_id: org,
            asset_id: self.asset.map(AssetId),
            timestamp: time(ts)?,
            received_at: time(self.received_at)?,
            provenance: Provenance {
                input: self.input.to_string(),
                sender: self.sender.map(str::to_string),
            },
            fields: serde_json::from_str(self.fields)
                .map_err(|e| corrupt(format!("fields: {e}")))?,
            native: if self.native.is_empty() {
                Default::default()
            } else {
                serde_json::from_str(self.native).map_err(|e| corrupt(format!("native: {e}")))?
            },
            raw: self.raw.to_vec(),
        })
    }
}

fn read_u32(b: &[u8], at: usize) -> Result<u32> {
    b.get(at..at + 4)
        .and_then(|x| x.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| corrupt("cut short"))
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).ok_or_else(|| corrupt("length"))?;
        let s = self
            .b
            .get(self.at..end)
            .ok_or_else(|| corrupt("cut short"))?;
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn i64(&mut self) -> Result<i64> {
        let s = self.take(8)?;
        Ok(i64::from_le_bytes(
            s.try_into().map_err(|_| corrupt("i64"))?,
        ))
    }
    fn array16(&mut self) -> Result<[u8; 16]> {
        self.take(16)?.try_into().map_err(|_| corrupt("uuid"))
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = read_u32(self.b, self.at)? as usize;
        self.at += 4;
        self.take(n)
    }
    fn str(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| corrupt("text is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn ev(org: OrgId, i: i64) -> NewEvent {
        let mut fields = BTreeMap::new();
        fields.insert("source.ip".to_string(), json!(format!("10.0.0.{}", i % 3)));
        fields.insert("destination.port".to_string(), json!(502));
        fields.insert("message".to_string(), json!(format!("line {i}")));
        let mut native = BTreeMap::new();
        if i % 2 == 0 {
            native.insert("k".to_string(), json!(i));
        }
        NewEvent {
            org_id: org,
            asset_id: (i % 4 == 0).then(|| AssetId(Uuid::from_u128(7))),
            timestamp: Timestamp::from_microsecond(1_000_000 + i).expect("ts"),
            received_at: Timestamp::from_microsecond(2_000_000 + i).expect("ts"),
            provenance: Provenance {
                input: "test".into(),
                sender: (i % 3 == 0).then(|| "10.1.1.1:514".to_string()),
            },
            fields,
            native,
            raw: format!("raw {i}").into_bytes(),
        }
    }

    #[test]
    fn chunks_round_trip_and_postings_point_at_their_events() {
        let a = OrgId::new();
        let b = OrgId::new();
        let events: Vec<NewEvent> = (0..2_100)
            .map(|i| ev(if i % 5 == 0 { b } else { a }, i))
            .collect();
        let batch = encode_batch(&events).expect("encode");
        // b (first seen): 420; a: 1,680 events -> 1,024 + 656.
        let sizes: Vec<usize> = batch.chunks.iter().map(|c| c.count).collect();
        assert_eq!(sizes, vec![420, 1_024, 656]);
        for (i, e) in events.iter().enumerate() {
            let (c, pos) = batch.placement[i];
            let chunk = &batch.chunks[c];
            assert_eq!(chunk.org_id, e.org_id);
            let body = Body::decompress(&chunk.body).expect("body");
            let ts = decode_ts(&chunk.ts, chunk.count).expect("ts");
            let got = body
                .record(pos)
                .expect("record")
                .to_event(chunk.org_id, ts[pos])
                .expect("event");
            assert_eq!(&got, e, "event {i}");
            let ip = e.field_text("source.ip").expect("ip");
            let (_, _, p) = chunk
                .terms
                .iter()
                .find(|(f, v, _)| *f == 4 && *v == ip)
                .expect("posting");
            assert!(
                decode_positions(p, chunk.count)
                    .expect("positions")
                    .has(pos)
            );
        }
    }

    #[test]
    fn positions_use_the_smaller_encoding() {
        let sparse = encode_positions(&[3, 900], 1_000);
        assert_eq!(sparse[0], 0);
        assert_eq!(sparse.len(), 5);
        let dense: Vec<u16> = (0..1_000).step_by(2).collect();
        let d = encode_positions(&dense, 1_000);
        assert_eq!(d[0], 1);
        assert_eq!(d.len(), 1 + 125);
        let bits = decode_positions(&d, 1_000).expect("decode");
        assert_eq!(bits.count(), 500);
        assert!(bits.has(998) && !bits.has(999));
        assert!(decode_positions(&[9], 10).is_err());
    }

    #[test]
    fn corrupt_bodies_are_errors_not_panics() {
        assert!(Body::decompress(b"not zstd").is_err());
        let plain = [5u8, 0, 0, 0];
        let frame = zstd::bulk::compress(&plain, 1).expect("zstd");
        assert!(Body::decompress(&frame).is_err());
        // One record of three bytes, offset 0, count 1.
        let plain = vec![1u8, 2, 3, 0, 0, 0, 0, 1, 0, 0, 0];
        let frame = zstd::bulk::compress(&plain, 1).expect("zstd");
        let body = Body::decompress(&frame).expect("header ok");
        assert!(body.record(0).is_err());
        assert!(body.record(1).is_err());
        assert!(decode_ts(&[0; 7], 1).is_err());
    }
}

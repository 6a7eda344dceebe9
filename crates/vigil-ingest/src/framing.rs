//! RFC 6587 framing of a syslog byte stream (TCP, TLS), detected per frame.
//!
//! A frame that starts with a non-zero digit, followed by digits, a space and `<`, is
//! octet-counted (`MSG-LEN SP SYSLOG-MSG`); anything else is non-transparent, ended by LF
//! (a CR before it is dropped). Requiring the `<` keeps digit-leading lines without a count
//! (`10\n`, `2019-06-14 ...`) in newline framing. Frames longer than the maximum are reported
//! as [`Frame::Oversized`] and their bytes discarded as they arrive (an octet-counted one by
//! its count, a newline one up to the next LF), so memory stays bounded by the maximum plus
//! one pushed chunk. With `multiline`, lines that do not start a message (after optional
//! spaces, a `<`) are continuation lines appended to the previous one.

/// Framer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerConfig {
    /// Largest frame delivered; longer ones are reported and skipped.
    pub max_frame: usize,
    /// Join continuation lines (not starting with `<`) to the message before them.
    pub multiline: bool,
}

impl Default for FramerConfig {
    fn default() -> Self {
        FramerConfig {
            max_frame: 64 * 1024,
            multiline: false,
        }
    }
}

/// How a frame was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    OctetCounting,
    NonTransparent,
}

/// One result of the framer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Message {
        bytes: Vec<u8>,
        framing: Framing,
    },
    /// A frame over the maximum. `declared` is the octet count when the sender gave one (a
    /// huge bogus count is a reason to close the connection); `head` is its first bytes, for
    /// the dead-letter record.
    Oversized {
        declared: Option<u64>,
        framing: Framing,
        head: Vec<u8>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    None,
    Bytes(u64),
    ToNewline,
}

/// Bytes of an oversized frame kept in its report.
const HEAD: usize = 256;

/// A streaming framer: [`push`](Framer::push) chunks as they arrive, then take frames with
/// [`next_frame`](Framer::next_frame) until it returns `None`.
#[derive(Debug)]
pub struct Framer {
    cfg: FramerConfig,
    buf: Vec<u8>,
    pos: usize,
    skip: Skip,
    pending: Option<Vec<u8>>,
    /// A frame to deliver right after the pending multi-line message it followed.
    deferred: Option<Frame>,
}

impl Framer {
    pub fn new(cfg: FramerConfig) -> Self {
        Framer {
            cfg,
            buf: Vec::new(),
            pos: 0,
            skip: Skip::None,
            pending: None,
            deferred: None,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes held (not yet framed), including a pending multi-line message.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos + self.pending.as_ref().map_or(0, Vec::len)
    }

    /// The next complete frame, or `None` until more bytes are pushed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if let Some(f) = self.deferred.take() {
            return Some(f);
        }
        loop {
            match self.skip {
                Skip::None => {}
                Skip::Bytes(n) => {
                    let avail = (self.buf.len() - self.pos) as u64;
                    if avail >= n {
                        self.pos += n as usize;
                        self.skip = Skip::None;
                    } else {
                        self.skip = Skip::Bytes(n - avail);
                        self.pos = self.buf.len();
                        return None;
                    }
                }
                Skip::ToNewline => match memchr::memchr(b'\n', &self.buf[self.pos..]) {
                    Some(n) => {
                        self.pos += n + 1;
                        self.skip = Skip::None;
                    }
                    None => {
                        self.pos = self.buf.len();
                        return None;
                    }
                },
            }
            let data = &self.buf[self.pos..];
            let first = *data.first()?;
            if matches!(first, b'\n' | b'\r' | 0) && !(self.cfg.multiline && self.pending.is_some())
            {
                self.pos += 1;
                continue;
            }
            if first.is_ascii_digit() && first != b'0' {
                let digits = data
                    .iter()
                    .take(11)
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if digits == data.len() || (digits + 1 == data.len() && data[digits] == b' ') {
                    // Cannot tell the framing yet.
                    return None;
                }
                if digits <= 10 && data[digits] == b' ' && data[digits + 1] == b'<' {
                    if let Some(p) = self.pending.take() {
                        return Some(message(p, Framing::NonTransparent));
                    }
                    let len: u64 = data[..digits]
                        .iter()
                        .fold(0u64, |a, c| a * 10 + (c - b'0') as u64);
                    let body = digits + 1;
                    if len > self.cfg.max_frame as u64 {
                        let head = data[body..data.len().min(body + HEAD)].to_vec();
                        self.pos += body;
                        self.skip = Skip::Bytes(len);
                        return Some(Frame::Oversized {
                            declared: Some(len),
                            framing: Framing::OctetCounting,
                            head,
                        });
                    }
                    let len = len as usize;
                    if data.len() < body + len {
                        return None;
                    }
                    let bytes = data[body..body + len].to_vec();
                    self.pos += body + len;
                    return Some(message(bytes, Framing::OctetCounting));
                }
            }
            match memchr::memchr(b'\n', data) {
                Some(n) => {
                    let mut line = &data[..n];
                    if line.last() == Some(&b'\r') {
                        line = &line[..line.len() - 1];
                    }
                    let line = line.to_vec();
                    self.pos += n + 1;
                    if !self.cfg.multiline {
                        if line.is_empty() {
                            continue;
                        }
                        if line.len() > self.cfg.max_frame {
                            return Some(Frame::Oversized {
                                declared: None,
                                framing: Framing::NonTransparent,
                                head: line[..HEAD.min(line.len())].to_vec(),
                            });
                        }
                        return Some(message(line, Framing::NonTransparent));
                    }
                    if line.len() > self.cfg.max_frame {
                        let over = Frame::Oversized {
                            declared: None,
                            framing: Framing::NonTransparent,
                            head: line[..HEAD.min(line.len())].to_vec(),
                        };
                        match self.pending.take() {
                            Some(p) => {
                                self.deferred = Some(over);
                                return Some(message(p, Framing::NonTransparent));
                            }
                            None => return Some(over),
                        }
                    }
                    let starts_message = starts_message(&line);
                    match self.pending.take() {
                        Some(mut p) if !starts_message => {
                            if p.len() + 1 + line.len() > self.cfg.max_frame {
                                self.pending = Some(line);
                                return Some(message(p, Framing::NonTransparent));
                            }
                            p.push(b'\n');
                            p.extend_from_slice(&line);
                            self.pending = Some(p);
                        }
                        Some(p) => {
                            self.pending = Some(line);
                            return Some(message(p, Framing::NonTransparent));
                        }
                        None => {
                            if !line.is_empty() {
                                self.pending = Some(line);
                            }
                        }
                    }
                }
                None => {
                    if data.len() > self.cfg.max_frame {
                        let head = data[..HEAD.min(data.len())].to_vec();
                        self.pos = self.buf.len();
                        self.skip = Skip::ToNewline;
                        return Some(Frame::Oversized {
                            declared: None,
                            framing: Framing::NonTransparent,
                            head,
                        });
                    }
                    return None;
                }
            }
        }
    }

    /// The multi-line message waiting for its successor, if any (call on an idle timeout).
    pub fn take_pending(&mut self) -> Option<Frame> {
        self.pending
            .take()
            .map(|p| message(p, Framing::NonTransparent))
    }

    /// At end of stream: every frame left, including an unterminated last line.
    pub fn finish(&mut self) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(f) = self.next_frame() {
            out.push(f);
        }
        let rest = if self.skip == Skip::None {
            let r = self.buf[self.pos..].to_vec();
            crate::syslog::trim_eol(&r).to_vec()
        } else {
            Vec::new()
        };
        self.buf.clear();
        self.pos = 0;
        self.skip = Skip::None;
        let max = self.cfg.max_frame;
        let bounded = |bytes: Vec<u8>| {
            if bytes.len() > max {
                Frame::Oversized {
                    declared: None,
                    framing: Framing::NonTransparent,
                    head: bytes[..HEAD.min(bytes.len())].to_vec(),
                }
            } else {
                message(bytes, Framing::NonTransparent)
            }
        };
        if self.cfg.multiline && !rest.is_empty() {
            let starts_message = starts_message(&rest);
            match self.pending.take() {
                Some(mut p) if !starts_message => {
                    p.push(b'\n');
                    p.extend_from_slice(&rest);
                    out.push(bounded(p));
                }
                Some(p) => {
                    out.push(message(p, Framing::NonTransparent));
                    out.push(bounded(rest));
                }
                None => out.push(bounded(rest)),
            }
            return out;
        }
        out.extend(self.take_pending());
        if !rest.is_empty() {
            out.push(bounded(rest));
        }
        out
    }
}

/// A line that begins a syslog message: optional spaces, then `<digits>`. (`<test/>` in an
/// XML continuation line does not.)
fn starts_message(line: &[u8]) -> bool {
    let s = line.iter().position(|c| *c != b' ').unwrap_or(line.len());
    let rest = &line[s..];
    let digits = rest
        .iter()
        .skip(1)
        .take_while(|c| c.is_ascii_digit())
        .count();
    rest.first() == Some(&b'<') && (1..=3).contains(&digits) && rest.get(1 + digits) == Some(&b'>')
}

fn message(bytes: Vec<u8>, framing: Framing) -> Frame {
    Frame::Message { bytes, framing }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(cfg: FramerConfig, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = Framer::new(cfg);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c);
            while let Some(fr) = f.next_frame() {
                out.push(fr);
            }
        }
        out.extend(f.finish());
        out
    }

    fn texts(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Message { bytes, .. } => String::from_utf8_lossy(bytes).into_owned(),
                Frame::Oversized { declared, .. } => format!("OVERSIZED {declared:?}"),
            })
            .collect()
    }

    #[test]
    fn mixed_framing_detected_per_frame_across_chunk_boundaries() {
        let stream = b"<13>a\r\n9 <13>b\nc d\n10\n2019-06-14 x\n4 <1>x7 <13>zzz\n";
        let want = vec![
            "<13>a",
            "<13>b\nc d",
            "10",
            "2019-06-14 x",
            "<1>x",
            "<13>zzz",
        ];
        assert_eq!(texts(&all(FramerConfig::default(), &[stream])), want);
        // Byte by byte gives the same frames.
        let chunks: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(texts(&all(FramerConfig::default(), &chunks)), want);
        let f = all(FramerConfig::default(), &[b"9 <13>b\nc d"]);
        assert!(matches!(
            f[0],
            Frame::Message {
                framing: Framing::OctetCounting,
                ..
            }
        ));
    }

    #[test]
    fn digit_leading_lines_are_not_counts() {
        let stream: Vec<u8> = (0..20)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let got = texts(&all(FramerConfig::default(), &[&stream]));
        assert_eq!(got, (0..20).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn oversized_frames_are_reported_and_skipped() {
        let cfg = FramerConfig {
            max_frame: 16,
            multiline: false,
        };
        let mut stream = b"<13>ok\n".to_vec();
        stream.extend(std::iter::repeat_n(b'x', 100));
        stream.extend(b"\n<13>after\n99999 <13>");
        stream.extend(std::iter::repeat_n(b'y', 99_995));
        stream.extend(b"<13>next\n");
        let chunks: Vec<&[u8]> = stream.chunks(7).collect();
        let mut f = Framer::new(cfg);
        let mut out = Vec::new();
        let mut max_buffered = 0;
        for c in chunks {
            f.push(c);
            while let Some(fr) = f.next_frame() {
                out.push(fr);
            }
            max_buffered = max_buffered.max(f.buffered());
        }
        out.extend(f.finish());
        assert_eq!(
            texts(&out),
            vec![
                "<13>ok",
                "OVERSIZED None",
                "<13>after",
                "OVERSIZED Some(99999)",
                "<13>next"
            ]
        );
        assert!(max_buffered <= 16 + 7 + 1, "buffer grew to {max_buffered}");
    }

    #[test]
    fn multiline_joins_continuation_lines() {
        let cfg = FramerConfig {
            max_frame: 1024,
            multiline: true,
        };
        let stream = b"<133>Mar  1 01:00:00 h tag test1\n<133>Mar  1 01:00:00 h tag multi\nl\ni\n\ne2\n <181>03\n<133>Msg 2";
        assert_eq!(
            texts(&all(cfg, &[stream])),
            vec![
                "<133>Mar  1 01:00:00 h tag test1",
                "<133>Mar  1 01:00:00 h tag multi\nl\ni\n\ne2",
                " <181>03",
                "<133>Msg 2"
            ]
        );
    }
}

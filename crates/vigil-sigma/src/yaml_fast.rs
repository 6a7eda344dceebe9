//! A fast reader for the subset of YAML that Sigma rule files use, producing exactly the
//! tree [`crate::yaml::parse_documents`] builds with serde-saphyr, line and column included.
//!
//! Why hand-written: serde-saphyr (like saphyr and yaml-rust2) scans char by char through
//! several layers (scanner, parser, event replay, serde) and costs ~310 instructions per byte;
//! loading the SigmaHQ rules was dominated by it. No maintained YAML crate is both fast and
//! gives per-node positions. This reader works line by line on bytes.
//!
//! Contract: [`parse`] returns `Some` only when it is sure the result equals serde-saphyr's
//! (the differential tests over the SigmaHQ corpus and the proptests check this). Anything
//! outside the subset, anything that would be an error, and any plain scalar it cannot type
//! with certainty returns `None`, and the caller falls back to serde-saphyr, so errors and
//! their positions stay serde-saphyr's.
//!
//! Subset: block mappings and sequences (compact `- key: v` maps, sequences at the same
//! indent as their key), plain scalars on one line, single- and double-quoted scalars on one
//! line, literal and folded block scalars with chomping indicators, flat one-line flow
//! sequences, comments, blank lines, `---`/`...` document markers. Not in the subset: tabs,
//! CR, BOM, directives, anchors, aliases, tags, flow maps, complex keys, multi-line plain or
//! quoted scalars, explicit block indentation indicators, duplicate or merge keys.

use std::borrow::Cow;

use crate::yaml::{Node, Pos, SNode};

/// Nesting deeper than this goes to serde-saphyr, whose budget (64) then decides.
const MAX_DEPTH: usize = 48;
/// More nodes than this go to serde-saphyr, whose event budget (1,000,000) then decides.
const MAX_NODES: usize = 200_000;
/// YAML limits implicit keys to 1024 characters; longer ones go to serde-saphyr.
const MAX_KEY_BYTES: usize = 1024;
/// Larger maps go to serde-saphyr (the duplicate-key check here is quadratic).
const MAX_MAP_ENTRIES: usize = 256;

/// Reads every document of `text`, or `None` when the text is outside the subset.
pub(crate) fn parse(text: &str) -> Option<Vec<SNode>> {
    parse_or_line(text).ok()
}

/// [`parse`], or the line (1-based; 0 for the whole file) where the reader gave up.
fn parse_or_line(text: &str) -> Result<Vec<SNode>, u32> {
    let bytes = text.as_bytes();
    // Tabs (indentation and separation rules differ), CR line ends and a BOM are rare in
    // rule files; leave them to serde-saphyr.
    if memchr::memchr2(b'\t', b'\r', bytes).is_some() || text.starts_with('\u{feff}') {
        return Err(0);
    }
    let lines = split_lines(text);
    let ascii = text.is_ascii();
    let mut docs = Vec::new();
    let mut start = 0;
    let mut explicit_start = false;
    let mut i = 0;
    while i <= lines.len() {
        let marker = lines.get(i).map(|l| doc_marker(text, l));
        match marker {
            Some(Marker::None) => {
                i += 1;
                continue;
            }
            Some(Marker::Unsupported) => return Err(lines[i].no),
            _ => {}
        }
        let doc_lines = &lines[start..i];
        let has_content = doc_lines.iter().any(|l| !l.is_blank());
        if has_content {
            let mut p = Parser {
                text,
                bytes,
                lines: doc_lines,
                i: 0,
                nodes: 0,
                ascii,
            };
            match p.document() {
                Some(doc) => docs.push(doc),
                None => {
                    let at = p.lines.get(p.i).or(p.lines.last());
                    return Err(at.map_or(0, |l| l.no));
                }
            }
        } else if explicit_start || matches!(marker, Some(Marker::End)) {
            // An explicit empty document: what serde-saphyr makes of it is not needed here.
            return Err(lines.get(i).map_or(0, |l| l.no));
        }
        explicit_start = matches!(marker, Some(Marker::Start));
        i += 1;
        start = i;
    }
    Ok(docs)
}

/// For tests: the line where the fast reader gave up on `text` (0: the whole file), `None`
/// when it read the file.
#[doc(hidden)]
pub fn fallback_line(text: &str) -> Option<u32> {
    parse_or_line(text).err()
}

#[derive(Debug, Clone, Copy)]
struct Line {
    /// 1-based line number.
    no: u32,
    /// Byte offset of the line's first byte.
    start: usize,
    /// Byte offset of the line end (the `\n` or the end of the text).
    end: usize,
    /// Leading spaces.
    indent: usize,
    /// Blank or a comment only.
    blank: bool,
}

impl Line {
    fn is_blank(&self) -> bool {
        self.blank
    }
}

fn split_lines(text: &str) -> Vec<Line> {
    let bytes = text.as_bytes();
    let mut lines = Vec::with_capacity(bytes.len() / 24 + 1);
    let mut start = 0;
    let mut no = 1u32;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |e| start + e);
        let indent = bytes[start..end].iter().take_while(|&&b| b == b' ').count();
        let first = bytes.get(start + indent).copied();
        let blank = start + indent == end || first == Some(b'#');
        lines.push(Line {
            no,
            start,
            end,
            indent,
            blank,
        });
        no = no.saturating_add(1);
        start = end + 1;
    }
    lines
}

enum Marker {
    None,
    Start,
    End,
    Unsupported,
}

fn doc_marker(text: &str, line: &Line) -> Marker {
    let s = &text[line.start..line.end];
    if line.indent != 0 {
        return Marker::None;
    }
    if s.starts_with('%') {
        return Marker::Unsupported;
    }
    for (m, kind) in [("---", Marker::Start), ("...", Marker::End)] {
        if let Some(rest) = s.strip_prefix(m) {
            if rest.is_empty() {
                return kind;
            }
            if rest.starts_with(' ') {
                // Content or a comment after the marker.
                return Marker::Unsupported;
            }
        }
    }
    Marker::None
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    lines: &'a [Line],
    /// The current line.
    i: usize,
    nodes: usize,
    /// The whole text is ASCII: columns are byte offsets.
    ascii: bool,
}

/// What follows an indicator (`key:` or `- `) on its line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    MapValue,
    SeqItem,
}

impl<'a> Parser<'a> {
    fn document(&mut self) -> Option<SNode> {
        self.skip_blank();
        let line = *self.lines.get(self.i)?;
        let node = self.block_at(&line, 0, false)?;
        self.skip_blank();
        if self.i < self.lines.len() {
            return None;
        }
        Some(node)
    }

    fn skip_blank(&mut self) {
        while self.lines.get(self.i).is_some_and(|l| l.blank) {
            self.i += 1;
        }
    }

    fn pos(&self, line: &Line, at: usize) -> Pos {
        let before = &self.bytes[line.start..at];
        // Columns count characters: count the bytes that start one.
        let column = if self.ascii {
            before.len() + 1
        } else {
            before.iter().filter(|&&b| (b as i8) >= -0x40).count() + 1
        };
        Pos {
            line: line.no,
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    fn count_node(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= MAX_NODES).then_some(())
    }

    /// A block collection whose first line is `line`, starting at its indentation.
    fn block_at(&mut self, line: &Line, depth: usize, indentless: bool) -> Option<SNode> {
        let at = line.start + line.indent;
        if is_seq_entry(self.bytes, at, line.end) {
            self.seq(line.indent, depth, indentless)
        } else {
            self.map(line.indent, at, depth)
        }
    }

    /// A block sequence at indent `n`; the current line holds its first `-`. `indentless`
    /// when it is a map value at its key's indent (`key:` then `- x` below `key`).
    fn seq(&mut self, n: usize, depth: usize, indentless: bool) -> Option<SNode> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.count_node()?;
        let first = self.lines[self.i];
        let mut pos = self.pos(&first, first.start + n);
        let mut items = Vec::new();
        loop {
            let line = self.lines[self.i];
            let dash = line.start + n;
            let mut at = dash + 1;
            while at < line.end && self.bytes[at] == b' ' {
                at += 1;
            }
            let item = self.value(&line, at, n, Ctx::SeqItem, depth + 1)?;
            if indentless && items.is_empty() {
                // serde-saphyr places an indentless sequence at its first item.
                if item.pos.line != line.no {
                    return None;
                }
                pos = item.pos;
            }
            items.push(item);
            self.skip_blank();
            let Some(next) = self.lines.get(self.i) else {
                break;
            };
            if next.indent < n {
                break;
            }
            if next.indent > n {
                // A continuation line or an error.
                return None;
            }
            if !is_seq_entry(self.bytes, next.start + n, next.end) {
                break;
            }
        }
        Some(SNode {
            node: Node::Seq(items),
            pos,
        })
    }

    /// A block mapping at indent `m`; its first key starts at byte `first_at` of the current
    /// line (after `- ` for a compact map in a sequence).
    fn map(&mut self, m: usize, first_at: usize, depth: usize) -> Option<SNode> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.count_node()?;
        let mut entries: Vec<(SNode, SNode)> = Vec::new();
        let mut at = first_at;
        let mut pos = None;
        loop {
            let line = self.lines[self.i];
            let (key, after) = self.key(&line, at)?;
            pos.get_or_insert(key.pos);
            // Duplicate keys are errors in serde-saphyr; compare by text, which also catches
            // every duplicate it would find among the key kinds accepted here.
            // Quadratic, so only for the small maps rules have.
            let text = key_text(&key)?;
            if text == "<<"
                || entries.len() >= MAX_MAP_ENTRIES
                || entries
                    .iter()
                    .any(|(k, _)| key_text(k).is_some_and(|t| t == text))
            {
                return None;
            }
            let mut v = after;
            while v < line.end && self.bytes[v] == b' ' {
                v += 1;
            }
            let value = self.value(&line, v, m, Ctx::MapValue, depth + 1)?;
            entries.push((key, value));
            self.skip_blank();
            let Some(next) = self.lines.get(self.i) else {
                break;
            };
            if next.indent < m {
                break;
            }
            if next.indent > m {
                return None;
            }
            at = next.start + m;
            if is_seq_entry(self.bytes, at, next.end) {
                return None;
            }
        }
        Some(SNode {
            node: Node::Map(entries),
            pos: pos?,
        })
    }

    /// A mapping key at `at` on `line`, and the byte after its `:`.
    fn key(&mut self, line: &Line, at: usize) -> Option<(SNode, usize)> {
        self.count_node()?;
        let pos = self.pos(line, at);
        let b = *self.bytes.get(at)?;
        let (node, end) = if b == b'"' || b == b'\'' {
            let (s, end) = self.quoted(at, line.end)?;
            (Node::Str(s), end)
        } else {
            let end = find_key_colon(self.bytes, at, line.end)?;
            let raw = &self.text[at..end];
            if raw.ends_with(' ') || !plain_start_ok(raw.as_bytes(), false) {
                return None;
            }
            (classify_plain(raw)?, end)
        };
        if end - at > MAX_KEY_BYTES || self.bytes.get(end) != Some(&b':') {
            return None;
        }
        let after = end + 1;
        if after < line.end && self.bytes[after] != b' ' {
            return None;
        }
        Some((SNode { node, pos }, after))
    }

    /// The value after an indicator: at byte `at` of `line` (spaces skipped), or on the
    /// following lines. `n` is the indent of the collection the indicator belongs to.
    fn value(&mut self, line: &Line, at: usize, n: usize, ctx: Ctx, depth: usize) -> Option<SNode> {
        if at >= line.end || self.bytes[at] == b'#' {
            // Nothing on this line: a nested block or an empty (null) value.
            self.i += 1;
            self.skip_blank();
            let next = self.lines.get(self.i).copied();
            return match next {
                Some(next)
                    if next.indent > n
                        || (ctx == Ctx::MapValue
                            && next.indent == n
                            && is_seq_entry(self.bytes, next.start + n, next.end)) =>
                {
                    let first = next.start + next.indent;
                    if !is_seq_entry(self.bytes, first, next.end)
                        && find_key_colon(self.bytes, first, next.end).is_none()
                        && !matches!(self.bytes.get(first), Some(b'"' | b'\''))
                    {
                        // A scalar on the next line.
                        return None;
                    }
                    self.block_at(&next, depth, next.indent == n)
                }
                // Where serde-saphyr places an empty value is not worth copying.
                _ => None,
            };
        }
        let b = self.bytes[at];
        match b {
            b'|' | b'>' => return self.block_scalar(line, at, n),
            b'[' => {
                let node = self.flow_seq(line, at)?;
                self.i += 1;
                return Some(node);
            }
            b'"' | b'\'' => {
                let (s, end) = self.quoted(at, line.end)?;
                if self.bytes.get(end) == Some(&b':') {
                    // A quoted key of a compact map.
                    return match ctx {
                        Ctx::SeqItem => self.compact_map(line, at, depth),
                        Ctx::MapValue => None,
                    };
                }
                if !rest_is_blank(self.bytes, end, line.end) {
                    return None;
                }
                self.count_node()?;
                let pos = self.pos(line, at);
                self.i += 1;
                return Some(SNode {
                    node: Node::Str(s),
                    pos,
                });
            }
            _ => {}
        }
        if b == b'-' && (at + 1 == line.end || self.bytes[at + 1] == b' ') {
            // `- - x`: a compact nested sequence.
            return None;
        }
        let end = match scan_plain(self.bytes, at, line.end) {
            Plain::Key(_) => {
                return match ctx {
                    Ctx::SeqItem => self.compact_map(line, at, depth),
                    Ctx::MapValue => None,
                };
            }
            // Without a key colon there is no `: ` in the scalar.
            Plain::Value(end) => end,
        };
        let raw = &self.text[at..end];
        if !plain_start_ok(raw.as_bytes(), false) {
            return None;
        }
        self.count_node()?;
        let pos = self.pos(line, at);
        self.i += 1;
        Some(SNode {
            node: classify_plain(raw)?,
            pos,
        })
    }

    /// A map starting inside a sequence item (`- key: v`), indented at the key's column.
    fn compact_map(&mut self, line: &Line, at: usize, depth: usize) -> Option<SNode> {
        let m = at - line.start;
        self.map(m, at, depth)
    }

    /// A one-line quoted scalar opening at `at`: its value and the byte after it.
    fn quoted(&self, at: usize, end: usize) -> Option<(String, usize)> {
        let q = self.bytes[at];
        let mut out = String::new();
        let mut i = at + 1;
        loop {
            let rest = &self.bytes[i..end];
            let found = if q == b'\'' {
                memchr::memchr(b'\'', rest)
            } else {
                memchr::memchr2(b'"', b'\\', rest)
            };
            // None: the scalar runs past the line; multi-line quoted scalars fold lines and
            // are not in the subset.
            let j = i + found?;
            out.push_str(&self.text[i..j]);
            if q == b'\'' {
                if j + 1 < end && self.bytes[j + 1] == b'\'' {
                    out.push('\'');
                    i = j + 2;
                    continue;
                }
                return Some((out, j + 1));
            }
            if self.bytes[j] == b'"' {
                return Some((out, j + 1));
            }
            let (c, len) = escape(&self.bytes[j + 1..end])?;
            out.push(c);
            i = j + 1 + len;
        }
    }

    /// A one-line flow sequence of scalars opening at `at`.
    fn flow_seq(&mut self, line: &Line, at: usize) -> Option<SNode> {
        self.count_node()?;
        let pos = self.pos(line, at);
        let mut items = Vec::new();
        let mut i = at + 1;
        let end = line.end;
        loop {
            while i < end && self.bytes[i] == b' ' {
                i += 1;
            }
            let b = *self.bytes[..end].get(i)?;
            if b == b']' && items.is_empty() {
                i += 1;
                break;
            }
            self.count_node()?;
            let ipos = self.pos(line, i);
            let (node, after) = if b == b'"' || b == b'\'' {
                let (s, after) = self.quoted(i, end)?;
                (Node::Str(s), after)
            } else {
                let stop = self.bytes[i..end]
                    .iter()
                    .position(|&c| matches!(c, b',' | b']' | b'[' | b'{' | b'}' | b'#' | b':'))
                    .map_or(end, |p| i + p);
                let raw = self.text[i..stop].trim_end_matches(' ');
                if raw.is_empty() || !plain_start_ok(raw.as_bytes(), true) {
                    return None;
                }
                (classify_plain(raw)?, stop)
            };
            items.push(SNode { node, pos: ipos });
            i = after;
            while i < end && self.bytes[i] == b' ' {
                i += 1;
            }
            match self.bytes[..end].get(i)? {
                b',' => i += 1,
                b']' => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
        if !rest_is_blank(self.bytes, i, end) {
            return None;
        }
        Some(SNode {
            node: Node::Seq(items),
            pos,
        })
    }

    /// A literal (`|`) or folded (`>`) block scalar whose header is at `at`; `n` is the
    /// indent of the enclosing collection (content must be indented more).
    fn block_scalar(&mut self, line: &Line, at: usize, n: usize) -> Option<SNode> {
        self.count_node()?;
        let literal = self.bytes[at] == b'|';
        let mut h = at + 1;
        let chomp = match self.bytes[..line.end].get(h) {
            Some(b'-') => {
                h += 1;
                Chomp::Strip
            }
            Some(b'+') => {
                h += 1;
                Chomp::Keep
            }
            _ => Chomp::Clip,
        };
        // An indentation indicator, or anything but a comment after the header: fall back.
        if h < line.end && self.bytes[h] != b' ' {
            return None;
        }
        if !rest_is_blank(self.bytes, h, line.end) {
            return None;
        }
        self.i += 1;
        // Content lines: up to the first non-empty line indented `n` or less.
        let first = self.i;
        let mut last_content = None;
        let mut content_indent = None;
        let mut j = first;
        while let Some(l) = self.lines.get(j) {
            let empty = l.start + l.indent == l.end;
            if !empty {
                match content_indent {
                    None => {
                        if l.indent <= n {
                            break;
                        }
                        content_indent = Some(l.indent);
                    }
                    Some(ci) if l.indent < ci => break,
                    Some(_) => {}
                }
                last_content = Some(j);
            }
            j += 1;
        }
        let (ci, last) = (content_indent?, last_content?);
        // serde-saphyr places a block scalar at its first content line's text.
        let first_content = self.lines[first..=last]
            .iter()
            .find(|l| l.start + l.indent < l.end)?;
        let pos = self.pos(first_content, first_content.start + ci);
        // Leading empty lines longer than the content indent are errors (or content).
        if self.lines[first..last]
            .iter()
            .any(|l| l.start + l.indent == l.end && l.indent > ci)
        {
            return None;
        }
        // Trailing empty lines (kept with `+`) end at the next content line.
        let trailing_end = j;
        if self.lines[last + 1..trailing_end]
            .iter()
            .any(|l| l.indent > ci)
        {
            // Whitespace-only lines beyond the indent hold spaces of content.
            return None;
        }
        // Without a final line break, or with kept trailing lines up to the end of the
        // document, the last break is not worth copying.
        let last_line = self.lines[last];
        if last_line.end == self.bytes.len()
            || (matches!(chomp, Chomp::Keep) && trailing_end == self.lines.len())
        {
            return None;
        }
        let mut out = String::new();
        let mut pending_breaks = 0usize;
        let mut prev_content = false;
        for l in &self.lines[first..=last] {
            let empty = l.start + l.indent == l.end;
            if empty {
                pending_breaks += 1;
                continue;
            }
            let body = &self.text[l.start + ci..l.end];
            if literal {
                for _ in 0..pending_breaks {
                    out.push('\n');
                }
                if prev_content {
                    out.push('\n');
                }
            } else {
                if body.starts_with(' ') {
                    // More-indented lines of folded scalars keep their breaks.
                    return None;
                }
                if prev_content {
                    if pending_breaks == 0 {
                        out.push(' ');
                    } else {
                        for _ in 0..pending_breaks {
                            out.push('\n');
                        }
                    }
                } else {
                    for _ in 0..pending_breaks {
                        out.push('\n');
                    }
                }
            }
            out.push_str(body);
            pending_breaks = 0;
            prev_content = true;
        }
        match chomp {
            Chomp::Strip => {}
            Chomp::Clip => out.push('\n'),
            Chomp::Keep => {
                out.push('\n');
                for _ in last + 1..trailing_end {
                    out.push('\n');
                }
            }
        }
        // The caller skips the trailing empty lines as blank lines.
        self.i = last + 1;
        Some(SNode {
            node: Node::Str(out),
            pos,
        })
    }
}

#[derive(Clone, Copy)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

/// A key's text for the duplicate check, `None` for kinds this reader leaves to serde-saphyr.
fn key_text(k: &SNode) -> Option<Cow<'_, str>> {
    match &k.node {
        Node::Str(s) => Some(Cow::Borrowed(s)),
        // Integers are accepted only in canonical decimal spelling, so equal values have
        // equal text (serde-saphyr compares integer keys by value).
        Node::Int(i) => Some(Cow::Owned(i.to_string())),
        Node::UInt(u) => Some(Cow::Owned(u.to_string())),
        _ => None,
    }
}

/// `-` followed by a space or the line end at `at`.
fn is_seq_entry(bytes: &[u8], at: usize, end: usize) -> bool {
    at < end && bytes[at] == b'-' && (at + 1 == end || bytes[at + 1] == b' ')
}

/// Only spaces, then a comment or the end, from `at`.
fn rest_is_blank(bytes: &[u8], at: usize, end: usize) -> bool {
    let mut i = at;
    while i < end && bytes[i] == b' ' {
        i += 1;
    }
    i == end || (bytes[i] == b'#' && i > at)
}

enum Plain {
    /// A key: where its `:` is.
    Key(usize),
    /// A scalar: where it ends.
    Value(usize),
}

/// One pass over a plain scalar starting at `at` in block context: the first `:` followed
/// by a space or the line end makes it a key, unless a comment (` #`) comes first; else it
/// ends before a comment, trailing spaces cut.
fn scan_plain(bytes: &[u8], at: usize, end: usize) -> Plain {
    let mut i = at;
    let mut stop = end;
    while let Some(off) = memchr::memchr2(b':', b'#', &bytes[i..end]) {
        let j = i + off;
        if bytes[j] == b':' {
            if j + 1 == end || bytes[j + 1] == b' ' {
                return Plain::Key(j);
            }
        } else if j > at && bytes[j - 1] == b' ' {
            stop = j;
            break;
        }
        i = j + 1;
    }
    while stop > at && bytes[stop - 1] == b' ' {
        stop -= 1;
    }
    Plain::Value(stop)
}

/// The `:` ending a plain key that starts at `at` (see [`scan_plain`]).
fn find_key_colon(bytes: &[u8], at: usize, end: usize) -> Option<usize> {
    match scan_plain(bytes, at, end) {
        Plain::Key(colon) => Some(colon),
        Plain::Value(_) => None,
    }
}

/// Whether a plain scalar may start like this (YAML indicators may not start one).
fn plain_start_ok(raw: &[u8], flow: bool) -> bool {
    let Some(&b) = raw.first() else {
        return false;
    };
    match b {
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' | b'?' | b':' => false,
        b'-' => raw
            .get(1)
            .is_some_and(|&c| c != b' ' && !(flow && c == b',')),
        _ => true,
    }
}

/// A double-quoted escape after the backslash: the char and how many bytes it took.
fn escape(rest: &[u8]) -> Option<(char, usize)> {
    let b = *rest.first()?;
    let simple = match b {
        b'\\' => '\\',
        b'"' => '"',
        b'/' => '/',
        b'n' => '\n',
        b't' => '\t',
        b'r' => '\r',
        b'0' => '\0',
        b'a' => '\u{7}',
        b'b' => '\u{8}',
        b'e' => '\u{1b}',
        b'f' => '\u{c}',
        b'v' => '\u{b}',
        b' ' => ' ',
        b'N' => '\u{85}',
        b'_' => '\u{a0}',
        b'L' => '\u{2028}',
        b'P' => '\u{2029}',
        b'x' | b'u' | b'U' => {
            let len = match b {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = rest.get(1..=len)?;
            let mut v = 0u32;
            for &h in hex {
                v = v * 16 + char::from(h).to_digit(16)?;
            }
            return Some((char::from_u32(v)?, 1 + len));
        }
        _ => return None,
    };
    Some((simple, 1))
}

/// Types a plain scalar as serde-saphyr does with the options of `yaml.rs` (YAML 1.2 core
/// schema, strict booleans, typeless numbers through `NodeVisitor`), or `None` when not
/// certain. serde-saphyr's order: null, bool, integer (signed when it starts with `-`),
/// float (Rust's `f64` grammar plus `.inf`/`.nan`, non-finite rejected), else string.
fn classify_plain(s: &str) -> Option<Node> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Node::Null),
        "true" | "True" | "TRUE" => return Some(Node::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Node::Bool(false)),
        _ => {}
    }
    let b = s.as_bytes();
    let (neg, unsigned) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    match unsigned.first() {
        // Neither integer nor float grammar starts otherwise (`inf`/`nan` spellings parse
        // as non-finite floats, which serde-saphyr only accepts from digits on; they stay
        // strings).
        Some(c) if c.is_ascii_digit() || *c == b'.' => {}
        _ => return Some(Node::Str(s.to_owned())),
    }
    let digits_only = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    let canonical = |d: &[u8]| d == b"0" || (d.first() != Some(&b'0'));
    if b[0] != b'+' && digits_only(unsigned) && canonical(unsigned) && unsigned.len() <= 20 {
        if neg {
            if unsigned == b"0" {
                return None;
            }
            return Some(match s.parse::<i64>() {
                Ok(v) => Node::Int(v),
                Err(_) => Node::Float(s.parse::<f64>().ok()?),
            });
        }
        let v: u128 = s.parse().ok()?;
        return Some(match u64::try_from(v) {
            Ok(u) => i64::try_from(u).map_or(Node::UInt(u), Node::Int),
            Err(_) => Node::Float(s.parse::<f64>().ok()?),
        });
    }
    if b[0] != b'+'
        && let Some(dot) = unsigned.iter().position(|&c| c == b'.')
    {
        let (int, frac) = (&unsigned[..dot], &unsigned[dot + 1..]);
        if digits_only(int) && canonical(int) && digits_only(frac) && unsigned.len() <= 30 {
            let v: f64 = s.parse().ok()?;
            return v.is_finite().then_some(Node::Float(v));
        }
    }
    // What integers and Rust floats can contain: a byte outside it makes a string.
    if !b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-'))
    {
        return Some(Node::Str(s.to_owned()));
    }
    let letters: Vec<u8> = unsigned
        .iter()
        .copied()
        .filter(u8::is_ascii_alphabetic)
        .collect();
    if letters.is_empty() {
        // A sign after the start, or two dots: neither integer nor float.
        let inner_sign = unsigned.iter().any(|&c| c == b'+' || c == b'-');
        let dots = unsigned.iter().filter(|&&c| c == b'.').count();
        if inner_sign || dots >= 2 {
            return Some(Node::Str(s.to_owned()));
        }
        return None;
    }
    if matches!(
        unsigned,
        b".inf" | b".Inf" | b".INF" | b".nan" | b".NaN" | b".NAN"
    ) {
        // Non-finite floats, which serde-saphyr rejects with the options of `yaml.rs`.
        return None;
    }
    // `0x`/`0o`/`0b` and digits of some radix (serde-saphyr checks the digits against the
    // radix; anything else after the prefix is a string, like the ids `0b4b72e3-...`).
    let radix = unsigned.len() >= 2
        && unsigned[0] == b'0'
        && matches!(unsigned[1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
        && unsigned[2..]
            .iter()
            .all(|c| c.is_ascii_hexdigit() || *c == b'_');
    let exponent = letters.len() == 1 && matches!(letters[0], b'e' | b'E');
    if radix || exponent {
        return None;
    }
    // Letters other than an exponent or a radix prefix: neither integer nor float.
    Some(Node::Str(s.to_owned()))
}

/// The differential check behind the tests: `Ok(true)` when the fast reader took `text` and
/// its tree equals serde-saphyr's, `Ok(false)` when it left `text` to serde-saphyr, `Err`
/// with the first difference otherwise.
#[doc(hidden)]
pub fn equivalence(text: &str) -> Result<bool, String> {
    let Some(fast) = parse(text) else {
        return Ok(false);
    };
    let slow = crate::yaml::parse_documents_saphyr(text)
        .map_err(|e| format!("fast reader accepted what serde-saphyr rejects: {e:?}"))?;
    if fast == slow {
        return Ok(true);
    }
    let (f, s) = (format!("{fast:#?}"), format!("{slow:#?}"));
    let (fl, sl): (Vec<&str>, Vec<&str>) = (f.lines().collect(), s.lines().collect());
    let at = fl
        .iter()
        .zip(&sl)
        .position(|(a, b)| a != b)
        .unwrap_or(fl.len().min(sl.len()));
    let from = at.saturating_sub(8);
    Err(format!(
        "trees differ at line {at} of the debug dumps\nfast:\n{}\nserde-saphyr:\n{}",
        fl[from..(at + 3).min(fl.len())].join("\n"),
        sl[from..(at + 3).min(sl.len())].join("\n"),
    ))
}

#[cfg(test)]
#[path = "yaml_fast_tests.rs"]
mod tests;

//! Parse errors with a stable kind, a message naming what was wrong, and a byte offset.

use std::fmt;

/// What went wrong, as a stable machine-readable name (see [`ErrorKind::as_str`]). Metrics and
/// dead letters are keyed by it, so variants are only ever added, never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing but whitespace.
    Empty,
    /// The input is longer than the parser's limit.
    TooLong,
    /// More fields than the parser's limit.
    TooManyFields,
    /// JSON nested deeper than the limit.
    TooDeep,
    /// The bytes do not have the shape of the format.
    Syntax,
    /// A timestamp that cannot be a real instant.
    Timestamp,
    /// Not valid JSON, or JSON of the wrong shape.
    Json,
    /// A Zeek data line before its header, or a header that cannot be used.
    Header,
    /// A Zeek data line whose number of fields does not match `#fields`.
    FieldCount,
    /// A value outside what the format allows (PRI above 191, a bad escape...).
    InvalidValue,
}

impl ErrorKind {
    /// The stable name: `empty`, `too_long`, `too_many_fields`, `too_deep`, `syntax`,
    /// `bad_timestamp`, `bad_json`, `bad_header`, `field_count`, `invalid_value`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Empty => "empty",
            ErrorKind::TooLong => "too_long",
            ErrorKind::TooManyFields => "too_many_fields",
            ErrorKind::TooDeep => "too_deep",
            ErrorKind::Syntax => "syntax",
            ErrorKind::Timestamp => "bad_timestamp",
            ErrorKind::Json => "bad_json",
            ErrorKind::Header => "bad_header",
            ErrorKind::FieldCount => "field_count",
            ErrorKind::InvalidValue => "invalid_value",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one input could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    pub kind: ErrorKind,
    /// What was wrong, in words an operator can act on.
    pub message: String,
    /// Byte offset into the input where the problem was found, when known.
    pub offset: Option<usize>,
}

impl ParseError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ParseError {
            kind,
            message: message.into(),
            offset: None,
        }
    }

    pub fn at(kind: ErrorKind, offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            kind,
            message: message.into(),
            offset: Some(offset),
        }
    }

    /// Moves the offset by `by` bytes, for errors found in a slice of a larger input.
    pub(crate) fn shifted(mut self, by: usize) -> Self {
        self.offset = self.offset.map(|o| o + by);
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{}: {} (at byte {o})", self.kind, self.message),
            None => write!(f, "{}: {}", self.kind, self.message),
        }
    }
}

/// One input a batch helper could not parse: where it was, why, and its bytes (for the
/// dead-letter store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line number in the batch (or element number for JSON arrays).
    pub line: usize,
    /// Byte offset of the line in the batch.
    pub offset: usize,
    pub error: ParseError,
    /// The bytes of the line, capped at [`crate::MAX_REJECT_RAW`].
    pub raw: Vec<u8>,
}

impl Reject {
    pub(crate) fn new(line: usize, offset: usize, error: ParseError, raw: &[u8]) -> Self {
        let cap = raw.len().min(crate::MAX_REJECT_RAW);
        Reject {
            line,
            offset,
            error,
            raw: raw[..cap].to_vec(),
        }
    }
}

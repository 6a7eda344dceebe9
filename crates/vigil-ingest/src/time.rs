//! Time parsing shared by the parsers: RFC 3339 and its real-world variants, BSD syslog
//! stamps, Apache `%t`, epochs, and the RFC 3164 year inference.
//!
//! Hand-written because the hot path (one RFC 5424 stamp per line, a million lines a second)
//! cannot afford a general-purpose parser, and because the variants we must accept (nine
//! fraction digits, `-0400` offsets, space-padded days) are not what strict parsers take.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// A calendar date and wall-clock time as written, not yet placed in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub nanos: u32,
}

/// A parsed RFC 3339-like stamp: the civil time, its offset in seconds (None when naive), and
/// whether it bent RFC 5424's profile (lower-case `t`/`z`, more than six fraction digits,
/// offset without colon, space instead of `T`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Iso {
    pub civil: Civil,
    pub offset: Option<i32>,
    pub lenient: bool,
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

pub(crate) fn month_from_abbr(b: &[u8]) -> Option<u8> {
    if b.len() != 3 {
        return None;
    }
    let lower = [
        b[0].to_ascii_lowercase(),
        b[1].to_ascii_lowercase(),
        b[2].to_ascii_lowercase(),
    ];
    MONTHS
        .iter()
        .position(|m| m.map(|c| c.to_ascii_lowercase()) == lower)
        .map(|i| i as u8 + 1)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y as i64) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Civil {
    fn valid(&self) -> bool {
        (1..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
            && self.nanos < 1_000_000_000
    }

    /// The instant this civil time names at a fixed offset from UTC.
    pub fn at_offset(&self, offset_secs: i32) -> Option<Timestamp> {
        if !self.valid() {
            return None;
        }
        let days = days_from_civil(self.year as i64, self.month, self.day);
        let secs =
            days * 86_400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64
                - offset_secs as i64;
        Timestamp::new(secs, self.nanos as i32).ok()
    }

    /// The instant this civil time names in `tz` (the earlier one in a fold, shifted forward
    /// in a gap, as jiff's "compatible" strategy does).
    pub fn in_zone(&self, tz: &TimeZone) -> Option<Timestamp> {
        if !self.valid() {
            return None;
        }
        if tz == &TimeZone::UTC {
            return self.at_offset(0);
        }
        let dt = DateTime::new(
            self.year as i16,
            self.month as i8,
            self.day as i8,
            self.hour as i8,
            self.minute as i8,
            self.second as i8,
            self.nanos as i32,
        )
        .ok()?;
        tz.to_ambiguous_timestamp(dt).compatible().ok()
    }
}

fn digits<const N: usize>(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + N)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Parses a fraction of a second starting at `b[at]` (the byte after the dot): returns the
/// nanoseconds, the number of digits, and the index after them. Digits beyond nine are read
/// and dropped.
fn fraction(b: &[u8], at: usize) -> (u32, usize, usize) {
    let mut i = at;
    let mut nanos = 0u32;
    let mut n = 0usize;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        if n < 9 {
            nanos = nanos * 10 + (c - b'0') as u32;
        }
        n += 1;
        i += 1;
    }
    let mut k = n;
    while k < 9 {
        nanos *= 10;
        k += 1;
    }
    (nanos, n, i)
}

/// Parses a whole RFC 3339 / ISO 8601 date-time: `YYYY-MM-DD[Tt ]hh:mm:ss[.f][Z|±hh:mm|±hhmm|±hh]`.
/// The offset may be missing (naive time). Returns `None` when the text is not such a stamp or
/// names an impossible date.
pub(crate) fn parse_iso(b: &[u8]) -> Option<Iso> {
    let mut lenient = false;
    let year = digits::<4>(b, 0)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits::<2>(b, 5)?;
    let day = digits::<2>(b, 8)?;
    match b.get(10) {
        Some(b'T') => {}
        Some(b't') | Some(b' ') => lenient = true,
        _ => return None,
    }
    let hour = digits::<2>(b, 11)?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let minute = digits::<2>(b, 14)?;
    let second = digits::<2>(b, 17)?;
    let mut i = 19;
    let mut nanos = 0;
    if matches!(b.get(i), Some(b'.') | Some(b',')) {
        let (n, count, next) = fraction(b, i + 1);
        if count == 0 {
            return None;
        }
        if count > 6 || b[i] == b',' {
            lenient = true;
        }
        nanos = n;
        i = next;
    }
    let offset = match b.get(i) {
        None => None,
        Some(b'Z') => {
            i += 1;
            Some(0)
        }
        Some(b'z') => {
            lenient = true;
            i += 1;
            Some(0)
        }
        Some(&s @ (b'+' | b'-')) => {
            let hh = digits::<2>(b, i + 1)? as i32;
            let (mm, next) = if b.get(i + 3) == Some(&b':') {
                (digits::<2>(b, i + 4)? as i32, i + 6)
            } else if let Some(mm) = digits::<2>(b, i + 3) {
                lenient = true;
                (mm as i32, i + 5)
            } else {
                lenient = true;
                (0, i + 3)
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            i = next;
            let off = hh * 3600 + mm * 60;
            Some(if s == b'-' { -off } else { off })
        }
        Some(_) => return None,
    };
    if i != b.len() {
        return None;
    }
    let civil = Civil {
        year: year as i32,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        nanos,
    };
    if !civil.valid() {
        return None;
    }
    Some(Iso {
        civil,
        offset,
        lenient,
    })
}

/// Resolves an [`Iso`] stamp to an instant: exact with an offset, in the source zone without.
pub(crate) fn resolve_iso(iso: &Iso, tz: &TimeZone) -> Option<(Timestamp, crate::TimeQuality)> {
    match iso.offset {
        Some(off) => Some((iso.civil.at_offset(off)?, crate::TimeQuality::Exact)),
        None => Some((iso.civil.in_zone(tz)?, crate::TimeQuality::InferredZone)),
    }
}

/// A BSD-style stamp `Mmm dd [yyyy ]hh:mm:ss[.fff]` (day space- or zero-padded, optional year
/// before the time as Cisco and F5 write it, optional leading `*` or `.` as Cisco writes it).
/// Returns the parts and the number of bytes consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bsd {
    pub month: u8,
    pub day: u8,
    pub year: Option<i32>,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub nanos: u32,
}

pub(crate) fn parse_bsd(b: &[u8]) -> Option<(Bsd, usize)> {
    let mut i = 0;
    if matches!(b.first(), Some(b'*') | Some(b'.')) {
        i = 1;
    }
    let month = month_from_abbr(b.get(i..i + 3)?)?;
    i += 3;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let (day, next) = small_number(b, i, 2)?;
    i = next;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let mut year = None;
    if let (Some(y), Some(b' ')) = (digits::<4>(b, i), b.get(i + 4)) {
        year = Some(y as i32);
        i += 5;
    }
    let (hour, next) = small_number(b, i, 2)?;
    i = next;
    if b.get(i) != Some(&b':') {
        return None;
    }
    let minute = digits::<2>(b, i + 1)?;
    if b.get(i + 3) != Some(&b':') {
        return None;
    }
    let second = digits::<2>(b, i + 4)?;
    i += 6;
    let mut nanos = 0;
    if b.get(i) == Some(&b'.') {
        let (n, count, next) = fraction(b, i + 1);
        if count > 0 {
            nanos = n;
            i = next;
        }
    }
    if day == 0 || day > 31 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some((
        Bsd {
            month,
            day: day as u8,
            year,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            nanos,
        },
        i,
    ))
}

fn small_number(b: &[u8], at: usize, max_digits: usize) -> Option<(u32, usize)> {
    let mut i = at;
    let mut v = 0u32;
    while i < at + max_digits {
        match b.get(i) {
            Some(c) if c.is_ascii_digit() => {
                v = v * 10 + (c - b'0') as u32;
                i += 1;
            }
            _ => break,
        }
    }
    (i > at).then_some((v, i))
}

impl Bsd {
    fn civil(&self, year: i32) -> Civil {
        Civil {
            year,
            month: self.month,
            day: self.day,
            hour: self.hour,
            minute: self.minute,
            second: self.second,
            nanos: self.nanos,
        }
    }

    /// The instant in `tz`. Without a year, the year is inferred from `reference` (the receive
    /// time): of the previous, current and next year, the candidate closest to the reference
    /// that is not more than a day in its future. A December stamp received on January 1st
    /// lands in the previous year; a January 1st stamp from a sender whose clock runs a little
    /// ahead, received on December 31st, lands in the next year.
    pub fn resolve(
        &self,
        tz: &TimeZone,
        reference: Timestamp,
    ) -> Option<(Timestamp, crate::TimeQuality)> {
        if let Some(y) = self.year {
            return Some((self.civil(y).in_zone(tz)?, crate::TimeQuality::InferredZone));
        }
        let ref_year = reference.to_zoned(tz.clone()).year() as i32;
        let limit = reference.as_second() + 86_400;
        let mut best: Option<Timestamp> = None;
        for y in [ref_year - 1, ref_year, ref_year + 1] {
            let Some(t) = self.civil(y).in_zone(tz) else {
                continue;
            };
            if t.as_second() > limit {
                continue;
            }
            let dist = (t.as_second() - reference.as_second()).abs();
            if best.is_none_or(|b| dist < (b.as_second() - reference.as_second()).abs()) {
                best = Some(t);
            }
        }
        best.map(|t| (t, crate::TimeQuality::InferredYear))
    }
}

/// A trailing zone name after a local stamp (`GMT`, `UTC`, `Z`) that makes it exact.
pub(crate) fn utc_zone_name(s: &str) -> bool {
    matches!(s.trim(), "GMT" | "UTC" | "Z" | "+0000" | "+00:00")
}

/// Parses a local text time as CEF `rt`, LEEF `devTime` and Snare write them: epoch
/// milliseconds, RFC 3339, `MMM dd yyyy HH:mm:ss[.SSS] [zone]`, `MMM dd HH:mm:ss`, or
/// `yyyy/MM/dd HH:mm:ss`.
pub(crate) fn parse_device_time(
    s: &str,
    tz: &TimeZone,
    reference: Timestamp,
) -> Option<(Timestamp, crate::TimeQuality)> {
    let s = s.trim();
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 16 && b.iter().all(u8::is_ascii_digit) {
        let n: i64 = s.parse().ok()?;
        // Epoch seconds have at most 10 digits for the next centuries; longer is milliseconds.
        let t = if b.len() > 10 {
            Timestamp::from_millisecond(n).ok()?
        } else {
            Timestamp::from_second(n).ok()?
        };
        return Some((t, crate::TimeQuality::Exact));
    }
    if let Some(iso) = parse_iso(b) {
        return resolve_iso(&iso, tz);
    }
    if b.len() >= 19 && b[4] == b'/' && b[7] == b'/' {
        let mut v = b.to_vec();
        v[4] = b'-';
        v[7] = b'-';
        if let Some(iso) = parse_iso(&v) {
            return resolve_iso(&iso, tz);
        }
    }
    let (bsd, used) = parse_bsd(b)?;
    let rest = &s[used..];
    if rest.trim().is_empty() {
        return bsd.resolve(tz, reference);
    }
    if utc_zone_name(rest) {
        let y = match bsd.year {
            Some(y) => y,
            None => return bsd.resolve(&TimeZone::UTC, reference),
        };
        return Some((bsd.civil(y).at_offset(0)?, crate::TimeQuality::Exact));
    }
    if let Ok(zone) = TimeZone::get(rest.trim()) {
        return bsd.resolve(&zone, reference).map(|(t, q)| {
            let q = if q == crate::TimeQuality::InferredZone {
                crate::TimeQuality::Exact
            } else {
                q
            };
            (t, q)
        });
    }
    bsd.resolve(tz, reference)
}

/// Apache/nginx `%t`: `26/Dec/2016:16:16:29 +0200` (brackets already removed).
pub(crate) fn parse_clf(s: &[u8]) -> Option<Timestamp> {
    if s.len() < 20 {
        return None;
    }
    let day = digits::<2>(s, 0)?;
    if s.get(2) != Some(&b'/') || s.get(6) != Some(&b'/') || s.get(11) != Some(&b':') {
        return None;
    }
    let month = month_from_abbr(&s[3..6])?;
    let year = digits::<4>(s, 7)?;
    let hour = digits::<2>(s, 12)?;
    let minute = digits::<2>(s, 15)?;
    let second = digits::<2>(s, 18)?;
    let civil = Civil {
        year: year as i32,
        month,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        nanos: 0,
    };
    let rest = &s[20..];
    let off = if rest.is_empty() {
        0
    } else {
        if rest.len() != 6 || rest[0] != b' ' {
            return None;
        }
        let sign = match rest[1] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let hh = digits::<2>(rest, 2)? as i32;
        let mm = digits::<2>(rest, 4)? as i32;
        sign * (hh * 3600 + mm * 60)
    };
    civil.at_offset(off)
}

/// Epoch seconds with an optional fraction (`1485893834.891`, Zeek's `1300475167.096535`),
/// read exactly from the text (no f64 rounding).
pub(crate) fn parse_epoch(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let dot = memchr::memchr(b'.', b).unwrap_or(b.len());
    let int = &b[..dot];
    if int.is_empty() || int.len() > 12 || !int.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut secs: i64 = 0;
    for &c in int {
        secs = secs * 10 + (c - b'0') as i64;
    }
    let mut nanos = 0i64;
    if dot < b.len() {
        let (n, count, end) = fraction(b, dot + 1);
        if count == 0 || end != b.len() {
            return None;
        }
        nanos = n as i64;
    }
    if neg {
        // -1.5 is one and a half seconds before the epoch.
        let total = -(secs * 1_000_000_000 + nanos);
        return Timestamp::from_nanosecond(total as i128).ok();
    }
    Timestamp::new(secs, nanos as i32).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TimeQuality;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("valid test timestamp")
    }

    #[test]
    fn iso_variants() {
        let i = parse_iso(b"2003-10-11T22:14:15.003Z").expect("basic");
        assert_eq!(i.civil.at_offset(0), Some(ts("2003-10-11T22:14:15.003Z")));
        assert!(!i.lenient);
        let i = parse_iso(b"2018-07-05T15:01:09.820360-0400").expect("eve");
        assert!(i.lenient);
        assert_eq!(
            resolve_iso(&i, &TimeZone::UTC).map(|x| x.0),
            Some(ts("2018-07-05T19:01:09.82036Z"))
        );
        let i = parse_iso(b"2026-01-01t00:00:00.123456789z").expect("lower case, 9 digits");
        assert!(i.lenient);
        assert_eq!(i.civil.nanos, 123_456_789);
        let i = parse_iso(b"2019-06-14T10:40:20.912134").expect("naive");
        assert_eq!(i.offset, None);
        assert!(
            parse_iso(b"2019-02-29T00:00:00Z").is_none(),
            "no Feb 29 in 2019"
        );
        assert!(parse_iso(b"2020-02-29T00:00:00Z").is_some());
        assert!(
            parse_iso(b"2019-06-14T23:59:60Z").is_none(),
            "no leap second"
        );
        assert!(parse_iso(b"2019-06-14T10:40:20.Z").is_none());
        assert!(parse_iso(b"2019-06-14T10:40:20Zjunk").is_none());
        assert!(parse_iso(b"XXXXXXXXXX.XXXXXX").is_none());
    }

    #[test]
    fn year_inference_rolls_over_at_new_year() {
        let (bsd, _) = parse_bsd(b"Dec 31 23:59:50").expect("bsd");
        let (t, q) = bsd
            .resolve(&TimeZone::UTC, ts("2027-01-01T00:00:10Z"))
            .expect("resolves");
        assert_eq!(t, ts("2026-12-31T23:59:50Z"));
        assert_eq!(q, TimeQuality::InferredYear);
        // A sender whose clock runs ahead: January 1st received on December 31st.
        let (bsd, _) = parse_bsd(b"Jan  1 00:00:05").expect("bsd");
        let (t, _) = bsd
            .resolve(&TimeZone::UTC, ts("2026-12-31T23:59:50Z"))
            .expect("resolves");
        assert_eq!(t, ts("2027-01-01T00:00:05Z"));
        // Ordinary case in a zone: Shanghai is UTC+8.
        let tz = TimeZone::get("Asia/Shanghai").expect("tzdb");
        let (bsd, _) = parse_bsd(b"Oct 11 22:14:15").expect("bsd");
        let (t, _) = bsd.resolve(&tz, ts("2026-10-12T00:00:00Z")).expect("ok");
        assert_eq!(t, ts("2026-10-11T14:14:15Z"));
        // Feb 29 resolves to the nearest leap year in range, or not at all.
        let (bsd, _) = parse_bsd(b"Feb 29 12:00:00").expect("bsd");
        assert_eq!(
            bsd.resolve(&TimeZone::UTC, ts("2027-03-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn bsd_variants() {
        assert_eq!(parse_bsd(b"Oct  1 22:14:15 host").map(|x| x.1), Some(15));
        assert_eq!(parse_bsd(b"Oct 01 22:14:15").map(|x| x.0.day), Some(1));
        let (b, n) = parse_bsd(b"*Mar  6 16:57:54.123: x").expect("cisco");
        assert_eq!((b.nanos, n), (123_000_000, 20));
        let (b, _) = parse_bsd(b"Jan 17 2020 08:52:10").expect("with year");
        assert_eq!(b.year, Some(2020));
        assert!(parse_bsd(b"Foo 17 08:52:10").is_none());
        assert!(parse_bsd(b"Jan 17 25:52:10").is_none());
    }

    #[test]
    fn device_times() {
        let r = ts("2025-09-18T00:00:00Z");
        let (t, q) =
            parse_device_time("Sep 17 2025 11:45:34 GMT", &TimeZone::UTC, r).expect("leef");
        assert_eq!((t, q), (ts("2025-09-17T11:45:34Z"), TimeQuality::Exact));
        let (t, q) = parse_device_time("1579251130000", &TimeZone::UTC, r).expect("ms");
        assert_eq!((t, q), (ts("2020-01-17T08:52:10Z"), TimeQuality::Exact));
        let (_, q) = parse_device_time("Jan 17 2020 08:52:10", &TimeZone::UTC, r).expect("cef");
        assert_eq!(q, TimeQuality::InferredZone);
        assert!(parse_device_time("yesterday", &TimeZone::UTC, r).is_none());
    }

    #[test]
    fn clf_and_epoch() {
        assert_eq!(
            parse_clf(b"26/Dec/2016:16:16:29 +0200"),
            Some(ts("2016-12-26T14:16:29Z"))
        );
        assert_eq!(parse_clf(b"26/Dec/2016:16:16:29 0200"), None);
        assert_eq!(
            parse_epoch("1485893834.891"),
            Some(ts("2017-01-31T20:17:14.891Z"))
        );
        assert_eq!(parse_epoch("-0.5"), Some(ts("1969-12-31T23:59:59.5Z")));
        assert_eq!(parse_epoch("XXXXXXXXXX.XXXXXX"), None);
        assert_eq!(parse_epoch("12."), None);
    }
}

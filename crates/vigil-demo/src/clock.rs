//! Time as microseconds since the epoch, and the handful of text forms log sources print it in.
//! Everything local is China Standard Time (UTC+8), as the monitored devices are.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

pub const SEC: i64 = 1_000_000;
pub const MIN: i64 = 60 * SEC;
pub const HOUR: i64 = 60 * MIN;
pub const DAY: i64 = 24 * HOUR;

const CST: Offset = Offset::constant(8);
const CST_SECS: i64 = 8 * 3600;

pub fn ts(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub fn us(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// Local hour of day, 0–23.
pub fn local_hour(us: i64) -> i64 {
    (us.div_euclid(SEC) + CST_SECS).rem_euclid(86_400) / 3600
}

/// Local day of week, Monday = 0.
pub fn local_weekday(us: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    ((us.div_euclid(SEC) + CST_SECS).div_euclid(86_400) + 3).rem_euclid(7)
}

/// Start of the local day containing `us`.
pub fn local_midnight(us: i64) -> i64 {
    let local = us + CST_SECS * SEC;
    local - local.rem_euclid(DAY) - CST_SECS * SEC
}

fn civil(us: i64) -> (DateTime, i64) {
    (CST.to_datetime(ts(us)), us.rem_euclid(SEC))
}

/// `2025-01-10T08:00:00.123+08:00` (RFC 5424 / RFC 3339).
pub fn rfc3339(us: i64) -> String {
    let (d, sub) = civil(us);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+08:00",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        sub / 1000
    )
}

/// `2025-01-10T08:00:00.123456+0800` (Suricata EVE).
pub fn eve(us: i64) -> String {
    let (d, sub) = civil(us);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+0800",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        sub
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `10/Jan/2025:08:00:00 +0800` (nginx / Apache access logs).
pub fn clf(us: i64) -> String {
    let (d, _) = civil(us);
    let m = MONTHS[(d.month().clamp(1, 12) - 1) as usize];
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0800",
        d.day(),
        m,
        d.year(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// `2025-01-10 08:00:00` (Windows event text, Chinese appliances).
pub fn plain(us: i64) -> String {
    let (d, _) = civil(us);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// `2025/1/10 08:00:00` (Huawei USG `time=` field).
pub fn huawei(us: i64) -> String {
    let (d, _) = civil(us);
    format!(
        "{}/{}/{} {:02}:{:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// `2025-01-10` local date.
pub fn date(us: i64) -> String {
    let (d, _) = civil(us);
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_forms_are_china_standard_time() {
        // 2025-01-10T00:30:00Z is 08:30 in Beijing, a Friday.
        let t: Timestamp = "2025-01-10T00:30:00.123456Z".parse().expect("time");
        let u = us(t);
        assert_eq!(rfc3339(u), "2025-01-10T08:30:00.123+08:00");
        assert_eq!(eve(u), "2025-01-10T08:30:00.123456+0800");
        assert_eq!(clf(u), "10/Jan/2025:08:30:00 +0800");
        assert_eq!(plain(u), "2025-01-10 08:30:00");
        assert_eq!(huawei(u), "2025/1/10 08:30:00");
        assert_eq!(local_hour(u), 8);
        assert_eq!(local_weekday(u), 4);
        let midnight: Timestamp = "2025-01-09T16:00:00Z".parse().expect("time");
        assert_eq!(local_midnight(u), us(midnight));
    }
}

//! The mixed indicator set and probes shared by the benchmarks and the `intel_scale` example:
//! deterministic (xorshift64*), dependency-free.

use std::sync::Arc;
use vigil_intel::{Indicator, IndicatorContext, IndicatorSet, IndicatorValue, SourceRef};

/// xorshift64*: deterministic and dependency-free.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn hexbytes<const N: usize>(r: &mut Rng) -> [u8; N] {
    let mut out = [0u8; N];
    for c in out.chunks_mut(8) {
        let v = r.next().to_le_bytes();
        c.copy_from_slice(&v[..c.len()]);
    }
    out
}

/// One indicator value of the mix; `i` makes strings distinct. 28 % IPv4 hosts, 2 % IPv4
/// networks (/16 to /28), 3 % IPv6, 25 % domains, 10 % URLs, 10 % MD5, 7 % SHA-1, 10 %
/// SHA-256, 3 % e-mail addresses, 2 % JA3.
pub fn value(r: &mut Rng, i: usize) -> IndicatorValue {
    match r.next() % 100 {
        0..=27 => IndicatorValue::Ipv4 {
            addr: r.next() as u32,
            prefix: 32,
        },
        28..=29 => {
            let prefix = 16 + (r.next() % 13) as u8;
            IndicatorValue::Ipv4 {
                addr: (r.next() as u32) & (u32::MAX << (32 - prefix)),
                prefix,
            }
        }
        30..=32 => IndicatorValue::Ipv6 {
            addr: (u128::from(r.next()) << 64) | u128::from(r.next()),
            prefix: 128,
        },
        33..=57 => IndicatorValue::Domain(format!("c2-{i:x}.evil{}.com", r.next() % 1000).into()),
        58..=67 => IndicatorValue::Url(
            format!(
                "http://dl{}.example.net/p/{i:x}/payload.exe",
                r.next() % 5000
            )
            .into(),
        ),
        68..=77 => IndicatorValue::Md5(hexbytes(r)),
        78..=84 => IndicatorValue::Sha1(hexbytes(r)),
        85..=94 => IndicatorValue::Sha256(hexbytes(r)),
        95..=97 => {
            IndicatorValue::Email(format!("phish{i:x}@mail{}.example", r.next() % 100).into())
        }
        _ => IndicatorValue::Ja3(hexbytes(r)),
    }
}

/// `n` indicators, generated lazily (so a set can be built without holding them twice).
/// One context per 1,000 indicators, as a feed import shares one per event or file.
pub fn indicators(n: usize) -> impl Iterator<Item = Indicator> {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ctx = Arc::new(IndicatorContext::default());
    (0..n).map(move |i| {
        if i % 1000 == 0 {
            ctx = Arc::new(IndicatorContext {
                sources: vec![SourceRef {
                    source: format!("feed-{}", i / 1000),
                    reference: None,
                    confidence: 70,
                }],
                tags: vec!["botnet".into(), "c2".into()],
                ..Default::default()
            });
        }
        Indicator::new(value(&mut r, i), 70, ctx.clone())
    })
}

/// Probes: one in `hit_every` derived from a random indicator (a host inside its network, a
/// subdomain of its domain, the same hash or URL), the rest fresh random values of the same
/// types (misses).
pub fn probes(set: &IndicatorSet, n: usize, hit_every: usize) -> Vec<IndicatorValue> {
    let mut r = Rng(0xD1B5_4A32_D192_ED03);
    (0..n)
        .map(|i| {
            let picked = (i % hit_every == 0 && !set.is_empty())
                .then(|| set.indicator(((r.next() as usize) % set.len()) as u32))
                .flatten();
            if let Some(ind) = picked {
                match &ind.value {
                    IndicatorValue::Ipv4 { addr, prefix } if *prefix < 32 => {
                        let host = u32::MAX >> prefix;
                        IndicatorValue::Ipv4 {
                            addr: addr | (r.next() as u32 & host),
                            prefix: 32,
                        }
                    }
                    IndicatorValue::Domain(d) => IndicatorValue::Domain(format!("www.{d}").into()),
                    v => v.clone(),
                }
            } else {
                value(&mut r, 0x1000_0000 + i)
            }
        })
        .collect()
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`), where there is one.
pub fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

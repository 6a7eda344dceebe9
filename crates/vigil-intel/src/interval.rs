//! A sorted, merged interval map over integer points: which ids cover a point.
//!
//! Written by hand (about sixty lines) rather than taken from a crate because what the matcher
//! needs is narrow and hot: CIDR ranges (nested or disjoint) are cut into elementary segments
//! once at build time, each segment lists the ids covering it, and a lookup is one binary
//! search over a flat `Vec` of segment starts. The property test below checks it against a
//! naive scan over arbitrary (also overlapping) ranges.

/// A point type: `u32` for IPv4, `u128` for IPv6.
pub trait Point: Copy + Ord + Default + std::fmt::Debug {
    const MAX: Self;
    /// The next point; only called below `MAX`.
    fn succ(self) -> Self;
    /// The top 16 bits, for the bucket index.
    fn bucket(self) -> usize;
}

impl Point for u32 {
    const MAX: Self = u32::MAX;
    fn succ(self) -> Self {
        self + 1
    }
    fn bucket(self) -> usize {
        (self >> 16) as usize
    }
}

impl Point for u128 {
    const MAX: Self = u128::MAX;
    fn succ(self) -> Self {
        self + 1
    }
    fn bucket(self) -> usize {
        (self >> 112) as usize
    }
}

/// Buckets of the top-level index: one per value of a point's top 16 bits.
const BUCKETS: usize = 1 << 16;

/// Segment `i` covers `[starts[i], starts[i + 1])` (the last one up to `MAX`) and is covered by
/// `ids[offsets[i]..offsets[i + 1]]`; gaps are segments with no ids. `index[b]` is the first
/// segment whose start has top 16 bits `>= b`, so a lookup binary-searches only the segments
/// starting in its own bucket (a few, instead of all of them: fewer cache misses).
#[derive(Debug, Clone, Default)]
pub struct IntervalMap<P> {
    starts: Vec<P>,
    offsets: Vec<u32>,
    ids: Vec<u32>,
    index: Vec<u32>,
}

impl<P: Point> IntervalMap<P> {
    /// Builds the map from inclusive ranges `(lo, hi, id)`; ranges with `lo > hi` are ignored.
    pub fn build(ranges: &[(P, P, u32)]) -> Self {
        // Boundary events: an id enters at `lo` and leaves after `hi`.
        let mut events: Vec<(P, bool, u32)> = Vec::with_capacity(ranges.len() * 2);
        for &(lo, hi, id) in ranges.iter().filter(|r| r.0 <= r.1) {
            events.push((lo, true, id));
            if hi < P::MAX {
                events.push((hi.succ(), false, id));
            }
        }
        events.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut map = Self {
            starts: Vec::new(),
            offsets: vec![0],
            ids: Vec::new(),
            index: Vec::new(),
        };
        let mut active: Vec<u32> = Vec::new();
        let mut i = 0;
        while i < events.len() {
            let at = events[i].0;
            while i < events.len() && events[i].0 == at {
                let (_, enter, id) = events[i];
                if enter {
                    active.push(id);
                } else if let Some(pos) = active.iter().position(|&a| a == id) {
                    active.swap_remove(pos);
                }
                i += 1;
            }
            active.sort_unstable();
            let last = map.offsets.len() - 1;
            let same_as_previous = !map.starts.is_empty()
                && map.ids[map.offsets[last - 1] as usize..map.offsets[last] as usize]
                    == active[..];
            if !same_as_previous {
                map.starts.push(at);
                map.ids.extend_from_slice(&active);
                map.offsets.push(map.ids.len() as u32);
            }
        }
        if !map.starts.is_empty() {
            let mut i = 0;
            map.index = (0..=BUCKETS)
                .map(|b| {
                    while i < map.starts.len() && map.starts[i].bucket() < b {
                        i += 1;
                    }
                    i as u32
                })
                .collect();
        }
        map.starts.shrink_to_fit();
        map.offsets.shrink_to_fit();
        map.ids.shrink_to_fit();
        map
    }

    /// The ids of all ranges containing `x` (sorted).
    #[inline]
    pub fn lookup(&self, x: P) -> &[u32] {
        let b = x.bucket();
        let (Some(&lo), Some(&hi)) = (self.index.get(b), self.index.get(b + 1)) else {
            return &[];
        };
        let (lo, hi) = (lo as usize, hi as usize);
        let i = lo + self.starts[lo..hi].partition_point(|s| *s <= x);
        if i == 0 {
            return &[];
        }
        &self.ids[self.offsets[i - 1] as usize..self.offsets[i] as usize]
    }

    /// Number of segments (gaps included).
    pub fn segments(&self) -> usize {
        self.starts.len()
    }

    /// Heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.starts.capacity() * std::mem::size_of::<P>()
            + (self.offsets.capacity() + self.ids.capacity() + self.index.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive<P: Point>(ranges: &[(P, P, u32)], x: P) -> Vec<u32> {
        let mut v: Vec<u32> = ranges
            .iter()
            .filter(|r| r.0 <= x && x <= r.1)
            .map(|r| r.2)
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn nested_cidrs_and_edges() {
        let ranges = [
            (0x0A00_0000u32, 0x0AFF_FFFF, 1),
            (0x0A01_0200, 0x0A01_02FF, 2),
            (0x0A01_0203, 0x0A01_0203, 3),
            (u32::MAX, u32::MAX, 4),
            (0, 0, 5),
        ];
        let m = IntervalMap::build(&ranges);
        assert_eq!(m.lookup(0x0A01_0203), [1, 2, 3]);
        assert_eq!(m.lookup(0x0A01_0204), [1, 2]);
        assert_eq!(m.lookup(0x0A02_0000), [1]);
        assert_eq!(m.lookup(0x0B00_0000), [] as [u32; 0]);
        assert_eq!(m.lookup(u32::MAX), [4]);
        assert_eq!(m.lookup(0), [5]);
        assert_eq!(m.lookup(1), [] as [u32; 0]);
        let empty = IntervalMap::<u128>::build(&[]);
        assert!(empty.lookup(7).is_empty());
    }

    proptest! {
        #[test]
        fn agrees_with_a_naive_scan_u32(
            raw in proptest::collection::vec((any::<u32>(), 0u32..5000), 0..60),
            probes in proptest::collection::vec(any::<u32>(), 0..60),
        ) {
            let ranges: Vec<(u32, u32, u32)> = raw
                .iter()
                .enumerate()
                .map(|(i, &(lo, len))| (lo, lo.saturating_add(len), i as u32))
                .collect();
            let m = IntervalMap::build(&ranges);
            // Probe the given points and every range's edges and their neighbours.
            let mut points = probes.clone();
            for r in &ranges {
                points.extend([r.0, r.1, r.0.wrapping_sub(1), r.1.wrapping_add(1)]);
            }
            for x in points {
                prop_assert_eq!(m.lookup(x).to_vec(), naive(&ranges, x), "at {}", x);
            }
        }

        #[test]
        fn agrees_with_a_naive_scan_u128(
            raw in proptest::collection::vec((any::<u128>(), 0u8..=128), 0..40),
            probes in proptest::collection::vec(any::<u128>(), 0..40),
        ) {
            // CIDR-shaped ranges, as the matcher builds them.
            let ranges: Vec<(u128, u128, u32)> = raw
                .iter()
                .enumerate()
                .map(|(i, &(a, prefix))| {
                    let host = if prefix >= 128 { 0 } else { u128::MAX >> prefix };
                    (a & !host, a | host, i as u32)
                })
                .collect();
            let m = IntervalMap::build(&ranges);
            let mut points = probes.clone();
            for r in &ranges {
                points.extend([r.0, r.1, r.0.wrapping_sub(1), r.1.wrapping_add(1)]);
            }
            for x in points {
                prop_assert_eq!(m.lookup(x).to_vec(), naive(&ranges, x));
            }
        }
    }
}

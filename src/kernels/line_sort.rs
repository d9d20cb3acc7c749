//! Orders the remapped entries of one compressed line by their new index, for the CPU
//! backend's `remap`. A line whose entries are dense in the output width is ordered
//! with a bitmap over the width (linear time, no comparisons); a sparse one with a
//! comparison sort. Both give the same order, as new indices within a line are unique.

/// Widths past this use the comparison sort alone (the bitmap and slot table of a
/// worker stay within 8 MiB).
const MAX_BITMAP_WIDTH: u64 = 1 << 20;

/// Scratch space of one worker, reused across its lines.
pub(super) struct LineSorter {
    width: u64,
    /// One bit per output position; all zero between lines.
    bits: Vec<u64>,
    /// `keep` of the entry that maps to each set bit: held here rather than its
    /// position in the line, so the line's `keep` needs no copy to read back from.
    slot: Vec<u64>,
    pairs: Vec<(u64, u64)>,
}

impl LineSorter {
    /// For new indices below `width`.
    pub fn new(width: u64) -> LineSorter {
        LineSorter {
            width,
            bits: Vec::new(),
            slot: Vec::new(),
            pairs: Vec::new(),
        }
    }

    /// Sorts `idx` ascending, moving `keep` along.
    pub fn sort(&mut self, idx: &mut [u64], keep: &mut [u64]) {
        let n = idx.len();
        if n < 2 {
            return;
        }
        let log = (usize::BITS - n.leading_zeros()) as u64;
        let words = self.width.div_ceil(64);
        let bitmap_pays = self.width <= MAX_BITMAP_WIDTH && words < n as u64 * log;
        if !(bitmap_pays && self.by_bitmap(idx, keep)) {
            self.by_comparison(idx, keep);
        }
    }

    fn by_comparison(&mut self, idx: &mut [u64], keep: &mut [u64]) {
        self.pairs.clear();
        self.pairs
            .extend(idx.iter().copied().zip(keep.iter().copied()));
        self.pairs.sort_unstable();
        for (i, (n, k)) in self.pairs.iter().enumerate() {
            idx[i] = *n;
            keep[i] = *k;
        }
    }

    /// False (with the bitmap cleared again) when a new index repeats, which only a
    /// malformed line can cause; the comparison sort then keeps every entry.
    fn by_bitmap(&mut self, idx: &mut [u64], keep: &mut [u64]) -> bool {
        if self.bits.is_empty() {
            self.bits = vec![0; self.width.div_ceil(64) as usize];
            self.slot = vec![0; self.width as usize];
        }
        let (mut lo, mut hi) = (usize::MAX, 0);
        for (i, &new) in idx.iter().enumerate() {
            let (w, bit) = ((new / 64) as usize, 1u64 << (new % 64));
            if self.bits[w] & bit != 0 {
                for &n in &idx[..i] {
                    self.bits[(n / 64) as usize] = 0;
                }
                return false;
            }
            self.bits[w] |= bit;
            self.slot[new as usize] = keep[i];
            lo = lo.min(w);
            hi = hi.max(w);
        }
        let mut out = 0;
        for w in lo..=hi {
            let mut word = std::mem::take(&mut self.bits[w]);
            while word != 0 {
                let new = w as u64 * 64 + word.trailing_zeros() as u64;
                idx[out] = new;
                keep[out] = self.slot[new as usize];
                out += 1;
                word &= word - 1;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(width: u64, news: &[u64]) {
        let mut idx = news.to_vec();
        let mut keep: Vec<u64> = (100..100 + news.len() as u64).collect();
        let mut want: Vec<(u64, u64)> = idx.iter().copied().zip(keep.iter().copied()).collect();
        want.sort_unstable();
        let mut s = LineSorter::new(width);
        s.sort(&mut idx, &mut keep);
        let got: Vec<(u64, u64)> = idx.into_iter().zip(keep).collect();
        assert_eq!(got, want);
        assert!(s.bits.iter().all(|&w| w == 0), "bitmap left dirty");
    }

    #[test]
    fn dense_lines_go_through_the_bitmap_and_match_a_sort() {
        let news: Vec<u64> = (0..500u64).map(|i| (i * 7919) % 600).collect();
        check(600, &news);
        check(130, &[129, 0, 64, 63, 65, 1]);
    }

    #[test]
    fn sparse_and_wide_lines_sort_by_comparison() {
        check(1 << 30, &[5, 1 << 29, 3]);
        check(1 << 16, &[9, 2]);
    }

    #[test]
    fn repeated_indices_are_all_kept() {
        check(64, &[3, 1, 3, 2, 1, 0, 5, 4, 6, 7, 8, 9]);
    }
}

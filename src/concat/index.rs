//! The alternate-axis index of the result and how each input maps onto it, as
//! `anndata.concat` builds them with pandas: inner joins intersect in the first
//! input's order; outer joins take `Index.union`, which keeps an index equal to the
//! other (or facing an empty one) and otherwise sorts.

use std::collections::HashMap;

/// Where each position of one input lands in the result (`None`: dropped), and the
/// size of the result along that axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Reindex {
    pub old_to_new: Vec<Option<u64>>,
    pub new_len: u64,
    /// Nothing moves: the input's positions are the result's.
    pub identity: bool,
}

impl Reindex {
    pub fn identity(n: u64) -> Reindex {
        Reindex {
            old_to_new: (0..n).map(Some).collect(),
            new_len: n,
            identity: true,
        }
    }

    /// Maps `old` names onto `new` names by value.
    pub fn by_name(old: &[String], new: &[String]) -> Reindex {
        let identity = old == new;
        let pos: HashMap<&str, u64> = new
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i as u64))
            .collect();
        Reindex {
            old_to_new: old.iter().map(|s| pos.get(s.as_str()).copied()).collect(),
            new_len: new.len() as u64,
            identity,
        }
    }

    /// Keeps the first `min(old, new)` positions in place (anndata's reindexing of
    /// `obsm` arrays of differing widths).
    pub fn by_position(old: u64, new: u64) -> Reindex {
        Reindex {
            old_to_new: (0..old).map(|i| (i < new).then_some(i)).collect(),
            new_len: new,
            identity: old == new,
        }
    }

    /// Shifts every position by `offset` inside a result of `new_len` (block diagonals).
    pub fn shifted(old: u64, offset: u64, new_len: u64) -> Reindex {
        Reindex {
            old_to_new: (0..old).map(|i| Some(offset + i)).collect(),
            new_len,
            identity: offset == 0 && old == new_len,
        }
    }

    /// For each result position, the input position it comes from.
    pub fn new_to_old(&self) -> Vec<Option<u64>> {
        let mut inv = vec![None; self.new_len as usize];
        for (old, new) in self.old_to_new.iter().enumerate() {
            if let Some(n) = new {
                inv[*n as usize] = Some(old as u64);
            }
        }
        inv
    }

    /// Whether some result position has no source in this input.
    pub fn has_missing(&self) -> bool {
        self.old_to_new.iter().flatten().count() < self.new_len as usize
    }

    /// Whether result positions increase with input positions (sorted stays sorted).
    pub fn monotone(&self) -> bool {
        let mut last = None;
        self.old_to_new.iter().flatten().all(|&n| {
            let ok = last.is_none_or(|l| n > l);
            last = Some(n);
            ok
        })
    }
}

/// The first name that occurs twice, if any.
pub fn first_duplicate(names: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    names
        .iter()
        .find(|n| !seen.insert(n.as_str()))
        .map(|s| s.as_str())
}

/// `pandas.Index.intersection` (left order kept).
pub fn intersection(a: &[String], b: &[String]) -> Vec<String> {
    if a == b {
        return a.to_vec();
    }
    let right: std::collections::HashSet<&str> = b.iter().map(|s| s.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    a.iter()
        .filter(|s| right.contains(s.as_str()) && seen.insert(s.as_str()))
        .cloned()
        .collect()
}

/// `pandas.Index.union` with its default `sort=None`.
pub fn union(a: &[String], b: &[String]) -> Vec<String> {
    if b.is_empty() || a == b {
        return a.to_vec();
    }
    if a.is_empty() {
        return b.to_vec();
    }
    let mut all: Vec<String> = a.iter().chain(b).cloned().collect();
    all.sort();
    all.dedup();
    all
}

/// The result's alternate-axis names: a pairwise reduction like anndata's.
pub fn merge_indices(indices: &[&[String]], outer: bool) -> Vec<String> {
    let mut it = indices.iter();
    let Some(first) = it.next() else {
        return Vec::new();
    };
    it.fold(first.to_vec(), |acc, next| {
        if outer {
            union(&acc, next)
        } else {
            intersection(&acc, next)
        }
    })
}

/// The order of `natsorted` over a list pandas has already sorted: natural order,
/// with ties (`"a1"` and `"a01"`) in plain string order. Total, so a result never
/// depends on the order values were met in.
pub fn natsorted_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    natural_cmp(a, b).then_with(|| a.cmp(b))
}

/// Sorts `v` into `natsorted` order ([`natsorted_cmp`]), decomposing each non-ASCII
/// string once instead of at every comparison it takes part in.
pub fn natsort(v: &mut Vec<String>) {
    if v.iter().all(|s| s.is_ascii()) {
        v.sort_by(|a, b| natsorted_cmp(a, b));
        return;
    }
    let mut keyed: Vec<(Option<String>, String)> = v
        .drain(..)
        .map(|s| ((!s.is_ascii()).then(|| decomposed(&s)), s))
        .collect();
    fn key(k: &(Option<String>, String)) -> &str {
        k.0.as_deref().unwrap_or(&k.1)
    }
    keyed.sort_by(|a, b| runs(key(a)).cmp(runs(key(b))).then_with(|| a.1.cmp(&b.1)));
    v.extend(keyed.into_iter().map(|(_, s)| s));
}

fn decomposed(s: &str) -> String {
    unicode_normalization::UnicodeNormalization::nfd(s).collect()
}

/// natsort's default key: runs of digits compare as numbers, the rest as text.
/// Compares the runs as it finds them, without collecting either key: sorting the
/// 10,000 categories of a label column spent a tenth of a concatenation's time
/// allocating keys for every comparison.
/// Text is compared in Unicode's decomposed form (NFD), as natsort normalises it, so
/// "é" sorts with "e"; ASCII needs no normalising.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return runs(a).cmp(runs(b));
    }
    runs(&decomposed(a)).cmp(runs(&decomposed(b)))
}

/// One run of a natural key. The derived order is natsort's: a number sorts before text
/// (natsort compares an int with a str by type name), numbers by their digits without
/// leading zeros (fewer digits first), text as strings.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Run<'a> {
    Number { digits: usize, value: &'a str },
    Text(&'a str),
}

fn runs(s: &str) -> impl Iterator<Item = Run<'_>> {
    // A key always starts with text, empty when the string starts with a digit.
    let lead = s
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_digit)
        .then_some(Run::Text(""));
    let mut rest = s;
    lead.into_iter().chain(std::iter::from_fn(move || {
        let bytes = rest.as_bytes();
        let digit = bytes.first()?.is_ascii_digit();
        let len = bytes
            .iter()
            .position(|b| b.is_ascii_digit() != digit)
            .unwrap_or(bytes.len());
        // An ASCII digit on one side of the cut makes it a char boundary.
        let (run, tail) = rest.split_at(len);
        rest = tail;
        Some(if digit {
            let value = run.trim_start_matches('0');
            Run::Number {
                digits: value.len(),
                value,
            }
        } else {
            Run::Text(run)
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn union_keeps_equal_or_sorts() {
        assert_eq!(union(&v(&["b", "a"]), &v(&["b", "a"])), v(&["b", "a"]));
        assert_eq!(union(&v(&["b", "a"]), &v(&[])), v(&["b", "a"]));
        assert_eq!(union(&v(&[]), &v(&["b", "a"])), v(&["b", "a"]));
        assert_eq!(union(&v(&["b", "a"]), &v(&["a"])), v(&["a", "b"]));
        assert_eq!(
            union(&v(&["g2", "g10"]), &v(&["g1"])),
            v(&["g1", "g10", "g2"])
        );
    }

    #[test]
    fn intersection_keeps_left_order() {
        assert_eq!(
            intersection(&v(&["b", "a", "c"]), &v(&["c", "b"])),
            v(&["b", "c"])
        );
        assert_eq!(
            merge_indices(&[&v(&["x", "y"]), &v(&["y", "z"]), &v(&["y"])], false),
            v(&["y"])
        );
    }

    #[test]
    fn reindex_maps_by_name() {
        let r = Reindex::by_name(&v(&["a", "b", "c"]), &v(&["c", "a"]));
        assert_eq!(r.old_to_new, vec![Some(1), None, Some(0)]);
        assert_eq!(r.new_to_old(), vec![Some(2), Some(0)]);
        assert!(!r.monotone());
        assert!(!r.has_missing());
        let p = Reindex::by_position(2, 3);
        assert!(p.has_missing());
    }

    #[test]
    fn natural_order() {
        let mut x = v(&["c10", "c2", "a", "B", "c1", "10", "9"]);
        x.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(x, v(&["9", "10", "B", "a", "c1", "c2", "c10"]));
    }

    #[test]
    fn natural_order_of_text_around_numbers() {
        // natsort 8.4: decomposed "é" sorts with "e"; a tie (composed or decomposed)
        // falls back to code point order, where "e\u{301}" comes first.
        let mut x = v(&[
            "é10x",
            "é9x",
            "é9",
            "",
            "0",
            "00",
            "x1y2",
            "x1y10",
            "x01y3",
            "e\u{301}9",
        ]);
        x.sort_by(|a, b| natsorted_cmp(a, b));
        assert_eq!(
            x,
            v(&[
                "",
                "0",
                "00",
                "e\u{301}9",
                "é9",
                "é9x",
                "é10x",
                "x1y2",
                "x01y3",
                "x1y10"
            ])
        );
    }

    #[test]
    fn natural_ties_fall_back_to_string_order() {
        assert_eq!(natural_cmp("a1b0", "a01b00"), std::cmp::Ordering::Equal);
        let want = v(&["a001", "a01", "a1", "a1b0", "a1b00", "a2"]);
        for start in 0..want.len() {
            let mut x = want.clone();
            x.rotate_left(start);
            x.reverse();
            x.sort_by(|a, b| natsorted_cmp(a, b));
            assert_eq!(x, want);
        }
    }

    proptest::proptest! {
        #[test]
        fn natsort_orders_as_natsorted_cmp(
            x in proptest::collection::vec("[a-c0-2\u{e9}\u{301}\u{3b6}]{0,5}", 0..40)
        ) {
            let mut want = x.clone();
            want.sort_by(|a, b| natsorted_cmp(a, b));
            let mut got = x;
            natsort(&mut got);
            proptest::prop_assert_eq!(got, want);
        }
    }
}

//! anndata's merge strategies for elements that are not concatenated (`var` columns,
//! `varm`, `varp` when joining along obs; `uns`): which inputs' values survive.

use crate::value::{equal, Value};

/// How values that are not aligned to the concatenation axis are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Keep nothing (anndata's `merge=None`).
    None,
    /// Keys present in every input whose values are all equal.
    Same,
    /// Keys whose values, wherever present, are all equal.
    Unique,
    /// The first value seen for each key.
    First,
    /// Keys present in exactly one input.
    Only,
}

impl Strategy {
    pub fn parse(s: &str) -> Option<Strategy> {
        Some(match s {
            "none" => Strategy::None,
            "same" => Strategy::Same,
            "unique" => Strategy::Unique,
            "first" => Strategy::First,
            "only" => Strategy::Only,
            _ => return None,
        })
    }
}

/// One input's mapping: keys in their order, values possibly not yet read.
pub type Mapping<V> = Vec<(String, V)>;

fn keys<V>(maps: &[Mapping<V>], intersect: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if intersect {
        if let Some(first) = maps.first() {
            for (k, _) in first {
                if maps.iter().all(|m| m.iter().any(|(k2, _)| k2 == k)) && !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
    } else {
        for m in maps {
            for (k, _) in m {
                if !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
    }
    out
}

/// Merges mappings of in-memory values, recursing into nested dicts as anndata does
/// (an empty nested result is dropped). The result refers to the chosen values.
pub fn merge_values(maps: &[Mapping<Value>], strategy: Strategy) -> Mapping<Value> {
    if strategy == Strategy::None {
        return Vec::new();
    }
    let mut out = Vec::new();
    for k in keys(maps, strategy == Strategy::Same) {
        let vals: Vec<&Value> = maps
            .iter()
            .filter_map(|m| m.iter().find(|(k2, _)| *k2 == k).map(|(_, v)| v))
            .collect();
        if vals.is_empty() {
            continue;
        }
        if vals.iter().all(|v| matches!(v, Value::Dict(_))) {
            let nested: Vec<Mapping<Value>> = vals
                .iter()
                .map(|v| match v {
                    Value::Dict(items) => items.clone(),
                    _ => unreachable!("checked above"),
                })
                .collect();
            let merged = merge_values(&nested, strategy);
            if !merged.is_empty() {
                out.push((k, Value::Dict(merged)));
            }
            continue;
        }
        let chosen = match strategy {
            Strategy::Same | Strategy::Unique => {
                let first = vals[0];
                vals[1..].iter().all(|v| equal(v, first)).then_some(first)
            }
            Strategy::First => Some(vals[0]),
            Strategy::Only => (vals.len() == 1).then_some(vals[0]),
            Strategy::None => None,
        };
        if let Some(v) = chosen {
            out.push((k, v.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Data;

    fn int(x: i64) -> Value {
        Value::Scalar(Data::I64(vec![x]))
    }

    fn map(items: Vec<(&str, Value)>) -> Mapping<Value> {
        items.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn sample() -> Vec<Mapping<Value>> {
        vec![
            map(vec![
                ("a", int(1)),
                ("b", int(2)),
                ("c", Value::Dict(map(vec![("ca", int(3)), ("cb", int(4))]))),
            ]),
            map(vec![
                ("a", int(1)),
                ("b", int(3)),
                ("c", Value::Dict(map(vec![("cb", int(4))]))),
            ]),
            map(vec![
                ("a", int(1)),
                ("b", int(4)),
                (
                    "c",
                    Value::Dict(map(vec![("ca", int(3)), ("cb", int(4)), ("cc", int(5))])),
                ),
            ]),
        ]
    }

    fn names(m: &Mapping<Value>) -> Vec<String> {
        m.iter()
            .flat_map(|(k, v)| match v {
                Value::Dict(inner) => names(inner)
                    .into_iter()
                    .map(|n| format!("{k}.{n}"))
                    .collect(),
                _ => vec![k.clone()],
            })
            .collect()
    }

    #[test]
    fn strategies_match_anndata_docs() {
        let m = sample();
        assert_eq!(names(&merge_values(&m, Strategy::Same)), ["a", "c.cb"]);
        assert_eq!(
            names(&merge_values(&m, Strategy::Unique)),
            ["a", "c.ca", "c.cb", "c.cc"]
        );
        assert_eq!(names(&merge_values(&m, Strategy::Only)), ["c.cc"]);
        assert_eq!(
            names(&merge_values(&m, Strategy::First)),
            ["a", "b", "c.ca", "c.cb", "c.cc"]
        );
        assert!(merge_values(&m, Strategy::None).is_empty());
        let first = merge_values(&m, Strategy::First);
        assert_eq!(first[1].1, int(2));
    }
}

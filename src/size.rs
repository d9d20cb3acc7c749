//! Parsing of sizes (`512MiB`, `4GiB`, `1.5GB`, `4096`) and compression specs.

use crate::store::Compression;

/// Parses a byte size: a number with an optional unit (B, K/KB, KiB, M/MB, MiB, G/GB,
/// GiB, T/TB, TiB; case-insensitive). Decimal units are powers of 1000.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected e.g. 512MiB, 4GiB or 65536"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024f64.powi(4),
        other => return Err(format!("invalid size {text:?}: unknown unit {other:?}")),
    };
    let bytes = value * scale;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("invalid size {text:?}: must be at least one byte"));
    }
    Ok(bytes as u64)
}

/// Parses `none`, `lz4[:LEVEL]`, `zstd[:LEVEL]` or `gzip[:LEVEL]`.
pub fn parse_compression(text: &str) -> Result<Compression, String> {
    let (name, level) = match text.split_once(':') {
        Some((n, l)) => (n, Some(l)),
        None => (text, None),
    };
    let level_in = |lo: i64, hi: i64, default: i64| -> Result<i64, String> {
        match level {
            None => Ok(default),
            Some(l) => match l.parse::<i64>() {
                Ok(v) if (lo..=hi).contains(&v) => Ok(v),
                _ => Err(format!(
                    "invalid compression level {l:?} for {name}: expected {lo}..={hi}"
                )),
            },
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "none" if level.is_none() => Ok(Compression::None),
        "lz4" => Ok(Compression::Lz4 {
            level: level_in(1, 9, 5)? as u8,
        }),
        "zstd" => Ok(Compression::Zstd {
            level: level_in(-7, 22, 3)? as i32,
        }),
        "gzip" => Ok(Compression::Gzip {
            level: level_in(0, 9, 4)? as u8,
        }),
        _ => Err(format!(
            "invalid compression {text:?}: expected none, lz4[:1-9], zstd[:LEVEL] or gzip[:0-9]"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("64kib"), Ok(64 << 10));
        assert!(parse_size("").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("-5MiB").is_err());
    }

    #[test]
    fn compressions() {
        assert_eq!(parse_compression("none"), Ok(Compression::None));
        assert_eq!(parse_compression("lz4"), Ok(Compression::Lz4 { level: 5 }));
        assert_eq!(
            parse_compression("zstd:7"),
            Ok(Compression::Zstd { level: 7 })
        );
        assert_eq!(
            parse_compression("gzip:9"),
            Ok(Compression::Gzip { level: 9 })
        );
        assert!(parse_compression("gzip:10").is_err());
        assert!(parse_compression("brotli").is_err());
        assert!(parse_compression("none:1").is_err());
    }
}

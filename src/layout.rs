//! Output chunk and shard shapes, chosen from byte targets and the array's shape alone,
//! never from how the inputs happened to be chunked.

use crate::store::{ArraySpec, Compression, DType, Format};

/// How output arrays are cut into chunks and shards.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Layout {
    pub format: Format,
    /// Target uncompressed bytes per chunk.
    pub chunk_bytes: u64,
    /// Target uncompressed bytes per shard (Zarr v3); `None` writes unsharded arrays.
    pub shard_bytes: Option<u64>,
    pub compression: Compression,
}

/// Bytes per element assumed for strings when sizing chunks.
const STRING_ELEMENT_BYTES: u64 = 32;

fn element_bytes(dtype: DType) -> u64 {
    match dtype {
        DType::Str => STRING_ELEMENT_BYTES,
        other => other.size() as u64,
    }
}

impl Layout {
    /// The on-disk description of an output array of `shape` and `dtype`.
    pub fn spec(&self, shape: &[u64], dtype: DType) -> ArraySpec {
        let chunks = self.chunk_shape(shape, dtype);
        let shards = self.shard_shape(shape, dtype, &chunks);
        let compression = match (self.format, dtype) {
            // Scalars are tiny; anndata writes them uncompressed too.
            (_, _) if shape.is_empty() => Compression::None,
            _ => self.compression,
        };
        ArraySpec {
            shape: shape.to_vec(),
            dtype,
            chunks,
            shards,
            compression,
        }
    }

    /// Row-major chunking: whole trailing dimensions where they fit the target, as
    /// many rows as fill it. Rows are what both concatenation and anndata's readers
    /// walk along.
    fn chunk_shape(&self, shape: &[u64], dtype: DType) -> Vec<u64> {
        if shape.is_empty() {
            return Vec::new();
        }
        let target = (self.chunk_bytes / element_bytes(dtype)).max(1);
        let mut chunks = vec![1u64; shape.len()];
        let mut budget = target;
        // Fill from the last dimension towards the first.
        for axis in (0..shape.len()).rev() {
            let extent = shape[axis].max(1);
            let take = extent.min(budget).max(1);
            chunks[axis] = take;
            budget = (budget / take).max(1);
        }
        chunks
    }

    fn shard_shape(&self, shape: &[u64], dtype: DType, chunks: &[u64]) -> Option<Vec<u64>> {
        let shard_bytes = self.shard_bytes?;
        if self.format != Format::ZarrV3 || shape.is_empty() || shape.contains(&0) {
            return None;
        }
        let chunk_counts: Vec<u64> = shape
            .iter()
            .zip(chunks)
            .map(|(&s, &c)| s.div_ceil(c))
            .collect();
        if chunk_counts.iter().product::<u64>() <= 1 {
            return None;
        }
        // Shards span every chunk along the trailing dimensions and a run of chunk
        // rows along the first, so a block of rows is written as whole shards.
        let mut shards: Vec<u64> = chunks
            .iter()
            .zip(&chunk_counts)
            .map(|(&c, &n)| c * n)
            .collect();
        let row_bytes = shards[1..].iter().product::<u64>() * element_bytes(dtype);
        let rows = (shard_bytes / row_bytes.max(1)).max(1);
        let chunk_rows = chunks[0];
        let rows = (rows / chunk_rows).max(1) * chunk_rows;
        shards[0] = rows.min(chunk_counts[0] * chunk_rows);
        Some(shards)
    }

    /// Rows (along the first dimension) per streamed block: whole shards (or chunks),
    /// as many as fit in `block_bytes`.
    pub fn block_rows(&self, spec: &ArraySpec, block_bytes: u64) -> u64 {
        if spec.shape.is_empty() {
            return 1;
        }
        let unit = spec.shards.as_ref().map_or(spec.chunks[0], |s| s[0]).max(1);
        let row_bytes = spec.shape[1..].iter().product::<u64>().max(1) * element_bytes(spec.dtype);
        let units = (block_bytes / (unit * row_bytes).max(1)).max(1);
        (units * unit).min(spec.shape[0].max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(format: Format) -> Layout {
        Layout {
            format,
            chunk_bytes: 1 << 20,
            shard_bytes: Some(64 << 20),
            compression: Compression::Lz4 { level: 5 },
        }
    }

    #[test]
    fn dense_matrix_chunks_are_row_blocks_within_target() {
        let spec = layout(Format::ZarrV2).spec(&[10_000, 8_000], DType::F64);
        assert_eq!(spec.chunks, vec![16, 8_000]);
        assert!(spec.chunks.iter().product::<u64>() * 8 <= 1 << 20);
        assert_eq!(spec.shards, None);
    }

    #[test]
    fn wide_rows_split_columns() {
        let spec = layout(Format::ZarrV2).spec(&[10, 1_000_000], DType::F32);
        assert_eq!(spec.chunks, vec![1, 262_144]);
    }

    #[test]
    fn shards_are_whole_chunk_multiples_covering_the_width() {
        let spec = layout(Format::ZarrV3).spec(&[100_000, 8_000], DType::F64);
        let shards = spec.shards.clone().expect("sharded");
        assert_eq!(shards[1], 8_000);
        assert_eq!(shards[0] % spec.chunks[0], 0);
        assert!(shards[0] * 8_000 * 8 <= 64 << 20);
        let rows = layout(Format::ZarrV3).block_rows(&spec, 256 << 20);
        assert_eq!(rows % shards[0], 0);
    }

    #[test]
    fn small_arrays_and_scalars_are_not_sharded() {
        let l = layout(Format::ZarrV3);
        assert_eq!(l.spec(&[100], DType::I32).shards, None);
        let scalar = l.spec(&[], DType::F64);
        assert!(scalar.chunks.is_empty());
        assert_eq!(scalar.compression, Compression::None);
        assert_eq!(l.spec(&[0, 5], DType::F64).chunks, vec![1, 5]);
    }

    #[test]
    fn block_rows_never_zero_and_capped_by_shape() {
        let l = layout(Format::ZarrV2);
        let spec = l.spec(&[7], DType::F64);
        assert_eq!(l.block_rows(&spec, 1), 7);
        let spec = l.spec(&[0], DType::F64);
        assert_eq!(l.block_rows(&spec, 1 << 20), 1);
    }
}

//! Scratch space for inputs stored the other way round (CSC into a CSR result, or the
//! reverse). Such an input holds any output block's entries spread over all of its own
//! lines, so reading it per block would decode the whole input once per block. One pass
//! distributes its entries by output block into an unnamed file next to the output;
//! each block then reads back only its own segments, in the order they were read.
//! Past [`max_buckets`] blocks, neighbouring blocks share a bucket (and each reads the
//! bucket's entries, keeping its own), so the buffers stay within the budget however
//! many blocks there are.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::concat::words::data_of;
use crate::error::{Error, Result};
use crate::store::{DType, Data};

/// One entry as stored: its output line (u64), its position along the output's minor
/// axis in the input (u64), then its value's bytes.
const HEAD: usize = 8 + 8;

/// The smallest buffer a bucket fills before it is written out.
pub const MIN_BUFFER: u64 = 4 << 10;

/// How many buckets `buffer_bytes` of buffers allow.
pub fn max_buckets(buffer_bytes: u64) -> usize {
    (buffer_bytes / MIN_BUFFER).max(1) as usize
}

/// What one input holds of one output block, in input order: each entry's line in the
/// block, its input line (the output's minor position before reindexing), its value.
#[derive(Debug, PartialEq)]
pub struct Entries {
    pub lines: Vec<u64>,
    pub majors: Vec<u64>,
    pub values: Data,
}

/// Entries distributed by bucket, each bucket's as a list of segments of the file.
pub struct Spill {
    file: Mutex<File>,
    dir: PathBuf,
    segments: Vec<Vec<(u64, usize)>>,
    /// Blocks per bucket.
    group: usize,
    dtype: DType,
    bytes: u64,
}

/// Buffers entries per bucket and appends a bucket's buffer to the file when it is full.
pub struct SpillWriter {
    file: File,
    dir: PathBuf,
    buffers: Vec<Vec<u8>>,
    segments: Vec<Vec<(u64, usize)>>,
    group: usize,
    end: u64,
    cap: usize,
    dtype: DType,
}

fn scratch_error(dir: &Path, e: std::io::Error) -> Error {
    Error::Output {
        path: dir.to_path_buf(),
        reason: format!("scratch space for transposing an input: {e}"),
    }
}

impl SpillWriter {
    /// A writer for `blocks` blocks of `dtype` values in an unnamed file in `dir`, with
    /// about `buffer_bytes` of buffers (at least [`MIN_BUFFER`], at most 4 MiB, per
    /// bucket); [`Self::bucket`] says which bucket a block's entries go to.
    pub fn create(dir: &Path, blocks: usize, dtype: DType, buffer_bytes: u64) -> Result<Self> {
        let file = tempfile::tempfile_in(dir).map_err(|e| scratch_error(dir, e))?;
        let record = HEAD + dtype.size();
        let group = blocks.div_ceil(max_buckets(buffer_bytes)).max(1);
        let buckets = blocks.div_ceil(group);
        let per_bucket = (buffer_bytes / buckets.max(1) as u64).clamp(MIN_BUFFER, 4 << 20);
        let per_bucket = per_bucket as usize;
        Ok(SpillWriter {
            file,
            dir: dir.to_path_buf(),
            buffers: vec![Vec::new(); buckets],
            segments: vec![Vec::new(); buckets],
            group,
            end: 0,
            cap: (per_bucket / record).max(1) * record,
            dtype,
        })
    }

    /// The bucket of block `block`.
    pub fn bucket(&self, block: usize) -> usize {
        block / self.group
    }

    /// Adds one entry to bucket `bucket`: its output line, its input line, its value's
    /// bytes.
    pub fn push(&mut self, bucket: usize, line: u64, major: u64, value: &[u8]) -> Result<()> {
        let buf = &mut self.buffers[bucket];
        if buf.capacity() == 0 {
            buf.reserve_exact(self.cap);
        }
        buf.extend_from_slice(&line.to_le_bytes());
        buf.extend_from_slice(&major.to_le_bytes());
        buf.extend_from_slice(value);
        if buf.len() >= self.cap {
            self.flush(bucket)?;
        }
        Ok(())
    }

    fn flush(&mut self, bucket: usize) -> Result<()> {
        let buf = &mut self.buffers[bucket];
        if buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(buf)
            .map_err(|e| scratch_error(&self.dir, e))?;
        self.segments[bucket].push((self.end, buf.len()));
        self.end += buf.len() as u64;
        buf.clear();
        Ok(())
    }

    pub fn finish(mut self) -> Result<Spill> {
        for b in 0..self.buffers.len() {
            self.flush(b)?;
            self.buffers[b] = Vec::new();
        }
        Ok(Spill {
            file: Mutex::new(self.file),
            dir: self.dir,
            segments: self.segments,
            group: self.group,
            dtype: self.dtype,
            bytes: self.end,
        })
    }
}

impl Spill {
    /// The size of the scratch file.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The entries of block `block` (output lines `lo..hi`), in the order they were
    /// pushed, with their lines counted from output line `base`.
    pub fn block(&self, block: usize, lo: u64, hi: u64, base: u64) -> Result<Entries> {
        let segments = self
            .segments
            .get(block / self.group)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let size = self.dtype.size();
        let record = HEAD + size;
        let n = segments.iter().map(|s| s.1).sum::<usize>() / record;
        let (mut lines, mut majors) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut values = Vec::with_capacity(n * size);
        // One segment at a time, so the block is held once, as decoded.
        let mut raw = Vec::new();
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        for &(offset, len) in segments {
            raw.resize(len, 0);
            file.seek(SeekFrom::Start(offset))
                .and_then(|_| file.read_exact(&mut raw))
                .map_err(|e| scratch_error(&self.dir, e))?;
            for rec in raw.chunks_exact(record) {
                let (line, rest) = rec.split_at(8);
                let line = u64::from_le_bytes(line.try_into().unwrap_or([0; 8]));
                if !(lo..hi).contains(&line) {
                    continue;
                }
                let (major, value) = rest.split_at(8);
                lines.push(line - base);
                majors.push(u64::from_le_bytes(major.try_into().unwrap_or([0; 8])));
                values.extend_from_slice(value);
            }
        }
        Ok(Entries {
            lines,
            majors,
            values: data_of(self.dtype, &values),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes entries of `blocks` blocks of 10 lines each in an interleaved order and
    /// checks that each block reads back its own, in order.
    fn round_trip(blocks: usize, buffer_bytes: u64) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut w =
            SpillWriter::create(dir.path(), blocks, DType::F32, buffer_bytes).expect("create");
        let mut want: Vec<(Vec<u64>, Vec<u64>, Vec<f32>)> = vec![Default::default(); blocks];
        for k in 0..20_000u64 {
            let b = ((k * 7) % blocks as u64) as usize;
            let line = b as u64 * 10 + k % 10;
            let v = k as f32 * 0.5;
            w.push(w.bucket(b), line, k, &v.to_le_bytes())
                .expect("push");
            want[b].0.push(k % 10);
            want[b].1.push(k);
            want[b].2.push(v);
        }
        let group = w.group;
        let spill = w.finish().expect("finish");
        assert!(spill.segments[0].len() > 1, "several segments per bucket");
        for (b, (lines, majors, values)) in want.into_iter().enumerate() {
            let lo = b as u64 * 10;
            assert_eq!(
                spill.block(b, lo, lo + 10, lo).expect("read"),
                Entries {
                    lines,
                    majors,
                    values: Data::F32(values)
                },
                "block {b} of {blocks}, {group} per bucket"
            );
        }
    }

    #[test]
    fn blocks_read_back_their_entries_in_push_order() {
        round_trip(3, 3 * MIN_BUFFER);
    }

    #[test]
    fn blocks_past_the_buffers_share_buckets_and_keep_their_own_entries() {
        // Two buckets' worth of buffers for 7 blocks: four blocks to a bucket.
        let dir = tempfile::tempdir().expect("temp dir");
        let w = SpillWriter::create(dir.path(), 7, DType::F32, 2 * MIN_BUFFER).expect("create");
        assert_eq!((w.buffers.len(), w.group, w.bucket(6)), (2, 4, 1));
        round_trip(7, 2 * MIN_BUFFER);
    }

    #[test]
    fn an_empty_block_reads_back_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut w = SpillWriter::create(dir.path(), 2, DType::Bool, 1 << 20).expect("create");
        w.push(1, 3, 5, &[1]).expect("push");
        let spill = w.finish().expect("finish");
        let empty = spill.block(0, 0, 2, 0).expect("read");
        assert!(empty.lines.is_empty() && empty.majors.is_empty());
        assert_eq!(empty.values, Data::Bool(Vec::new()));
        let one = spill.block(1, 2, 4, 2).expect("read");
        assert_eq!((one.lines, one.majors), (vec![1], vec![5]));
        assert_eq!(one.values, Data::Bool(vec![true]));
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let err = SpillWriter::create(Path::new("/nonexistent/adcat"), 1, DType::F64, 1024)
            .err()
            .expect("fails");
        assert!(err.to_string().contains("/nonexistent/adcat"), "{err}");
    }
}

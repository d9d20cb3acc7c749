//! Command-line flags, and their translation into validated library options.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::convert::{self, ConvertOptions};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::size::{parse_compression, parse_size};
use crate::store::{Compression, Format};

#[derive(Debug, Parser)]
#[command(
    name = "adcat",
    version,
    about = "Concatenate and convert AnnData stores (.h5ad, Zarr v2, Zarr v3) out of core"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Re-encode one AnnData store into another format or layout.
    Convert(ConvertArgs),
    /// Show the elements and on-disk layout of an AnnData store.
    Inspect(InspectArgs),
    /// Concatenate AnnData stores along obs or var, as anndata.concat does, out of core.
    Concat(Box<ConcatArgs>),
    /// List the GPU adapters adcat can use, with the limits its kernels are cut to.
    Devices(DevicesArgs),
    /// Time concatenation on the standard input matrix: adcat CPU and GPU, anndata,
    /// and the codec limit, side by side (writes bench.md, bench.json, bench.svg).
    Bench(BenchArgs),
    /// The benchmark's limit: convert each input in turn, in one process.
    #[command(hide = true)]
    BenchLimit(BenchLimitArgs),
}

#[derive(Debug, clap::Args)]
pub struct BenchLimitArgs {
    pub inputs: Vec<PathBuf>,
    /// Directory that receives limit-N.SUFFIX for input N.
    #[arg(long)]
    pub out_dir: PathBuf,
    #[arg(long, value_parser = ["zarr", "h5ad"])]
    pub suffix: String,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Where generated inputs are kept (reused by later runs of the same size).
    #[arg(long, default_value = "adcat-bench-data")]
    pub data: PathBuf,
    /// Where bench.md, bench.json and bench.svg go (default: the data directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Side of the square input; fat and tall inputs are 0.8 × size on one side.
    #[arg(long, default_value_t = 10_000)]
    pub size: u64,
    /// Input shapes to use, comma separated (fat, tall, square; square includes shift).
    #[arg(long, value_delimiter = ',', default_value = "fat,tall,square")]
    pub shapes: Vec<String>,
    /// Input formats, comma separated: zarr (Zarr v2, Blosc-LZ4), h5ad (uncompressed).
    #[arg(long, value_delimiter = ',', default_value = "zarr,h5ad")]
    pub formats: Vec<String>,
    /// Runs per tool and case; the table shows the median and the minimum.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Only these cases, comma separated (e.g. csr_obs,dense_var_outer).
    #[arg(long, value_delimiter = ',')]
    pub cases: Option<Vec<String>>,
    /// Inputs of the many-small-files case (size/5 × size/5 each); 0 leaves it out.
    #[arg(long, default_value_t = 200)]
    pub small_files: u64,
    /// Python with anndata for the peers (default: python3 on PATH, if it has anndata).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Time adcat only.
    #[arg(long)]
    pub no_peers: bool,
    /// GPU runs: auto (hardware adapters only), always (software ones too), never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub gpu: String,
    /// --max-memory passed to adcat's runs (default: adcat's own default).
    #[arg(long)]
    pub max_memory: Option<String>,
    /// Seconds after which a run is stopped and reported as failed.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Only write the input matrix into --data (e.g. to prepare a machine).
    #[arg(long)]
    pub generate_only: bool,
}

impl BenchArgs {
    pub fn options(&self) -> Result<crate::bench::BenchOptions> {
        use crate::bench::cases::{FileFormat, Shape};
        let shapes = self
            .shapes
            .iter()
            .map(|s| {
                Shape::parse(s)
                    .ok_or_else(|| Error::Usage(format!("--shapes: unknown shape {s:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let formats = self
            .formats
            .iter()
            .map(|s| {
                FileFormat::parse(s)
                    .ok_or_else(|| Error::Usage(format!("--formats: unknown format {s:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(m) = &self.max_memory {
            parse_size(m).map_err(|e| Error::Usage(format!("--max-memory: {e}")))?;
        }
        Ok(crate::bench::BenchOptions {
            data: self.data.clone(),
            out: self.out.clone().unwrap_or_else(|| self.data.clone()),
            size: self.size,
            shapes,
            formats,
            repeat: self.repeat,
            cases: self.cases.clone(),
            small_files: self.small_files,
            python: self.python.clone(),
            peers: !self.no_peers,
            gpu: match self.gpu.as_str() {
                "always" => Some(true),
                "never" => Some(false),
                _ => None,
            },
            max_memory: self.max_memory.clone(),
            timeout: std::time::Duration::from_secs(self.timeout),
            quiet: self.quiet,
            generate_only: self.generate_only,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct DevicesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ConcatArgs {
    /// Input stores (.h5ad files or .zarr directories, in any mix).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output store; the format follows the suffix (.h5ad or .zarr).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Axis to concatenate along.
    #[arg(long, default_value = "obs", value_parser = ["obs", "var", "0", "1"])]
    pub axis: String,
    /// Keep the intersection (inner) or union (outer) of the other axis.
    #[arg(long, default_value = "inner", value_parser = ["inner", "outer"])]
    pub join: String,
    /// How annotations of the other axis are merged (anndata's `merge`); default: none.
    #[arg(long, value_parser = ["none", "same", "unique", "first", "only"])]
    pub merge: Option<String>,
    /// How `uns` entries are merged (anndata's `uns_merge`); default: none.
    #[arg(long, value_parser = ["none", "same", "unique", "first", "only"])]
    pub uns_merge: Option<String>,
    /// Add a categorical column with each row's input key.
    #[arg(long)]
    pub label: Option<String>,
    /// Names of the inputs, comma separated (default 0, 1, ...).
    #[arg(long, value_delimiter = ',')]
    pub keys: Option<Vec<String>>,
    /// Append SEP and the input key to every name along the axis.
    #[arg(long, value_name = "SEP")]
    pub index_unique: Option<String>,
    /// Value for entries an outer join introduces (default: 0 sparse, NaN dense).
    #[arg(long, allow_hyphen_values = true)]
    pub fill_value: Option<String>,
    /// Concatenate obsp/varp as block diagonals.
    #[arg(long)]
    pub pairwise: bool,
    /// Integer type of sparse indices and indptr: auto (int32 unless the result has more
    /// than 2^31 - 1 entries, rows or columns) or int64 (always, e.g. for readers that
    /// append to the result later).
    #[arg(long, default_value = "auto", value_parser = ["auto", "int64"])]
    pub index_dtype: String,
    /// Where to compute: cpu, gpu, or auto (the CPU: the GPU backend measured slower end to
    /// end; `adcat bench` compares the two on this machine).
    #[arg(long, default_value = "auto", value_parser = ["cpu", "gpu", "auto"])]
    pub device: String,
    /// Write a JSON summary of the run (shapes, bytes, times, peak memory) to PATH.
    #[arg(long, value_name = "PATH")]
    pub report_json: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Flags that shape the output store; shared by every command that writes one.
#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    /// Zarr format of a .zarr output.
    #[arg(long, default_value = "3", value_parser = ["2", "3"])]
    pub zarr_format: String,
    /// Compression: none, lz4[:LEVEL], zstd[:LEVEL], gzip[:LEVEL]. Default: lz4 for
    /// Zarr (Blosc-LZ4 with shuffle), none for .h5ad.
    #[arg(long, value_parser = parse_compression)]
    pub compression: Option<Compression>,
    /// Uncompressed bytes per chunk.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub chunk_size: u64,
    /// Uncompressed bytes per shard (Zarr v3), or "none" for unsharded arrays.
    #[arg(long, default_value = "8MiB")]
    pub shard_size: String,
    /// Memory budget for data in flight, e.g. 512MiB or 4GiB.
    #[arg(long, default_value = "512MiB", value_parser = parse_size)]
    pub max_memory: u64,
    /// Replace an existing output (only once the new one is complete).
    #[arg(long)]
    pub overwrite: bool,
    /// Re-read the written store before it is moved into place: its element tree, that
    /// every array decodes, lengths aligned to obs and var, and sparse invariants; a
    /// failure leaves no output.
    #[arg(long)]
    pub validate: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// Input store (.h5ad file or .zarr directory, Zarr v2 or v3).
    pub input: PathBuf,
    /// Output store; the format follows the suffix (.h5ad or .zarr).
    pub output: PathBuf,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Store to describe.
    pub path: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl OutputArgs {
    /// The output layout for `path`, after checking the flags fit its format.
    pub fn layout(&self, path: &std::path::Path) -> Result<Layout> {
        let zarr_format = if self.zarr_format == "2" { 2 } else { 3 };
        let format = convert::format_for(path, zarr_format)?;
        let compression = match (format, self.compression) {
            (Format::H5ad, None) => Compression::None,
            (_, None) => Compression::Lz4 { level: 5 },
            (Format::H5ad, Some(c @ (Compression::Lz4 { .. } | Compression::Zstd { .. }))) => {
                return Err(Error::Usage(format!(
                    "--compression {}: .h5ad output supports only none or gzip",
                    match c {
                        Compression::Lz4 { .. } => "lz4",
                        _ => "zstd",
                    }
                )))
            }
            (_, Some(c)) => c,
        };
        let shard_bytes = match self.shard_size.as_str() {
            "none" | "0" => None,
            text => Some(parse_size(text).map_err(Error::Usage)?),
        };
        if let Some(s) = shard_bytes {
            if s < self.chunk_size {
                return Err(Error::Usage(format!(
                    "--shard-size {} is smaller than --chunk-size {}",
                    self.shard_size, self.chunk_size
                )));
            }
        }
        // A block of rows must hold whole shards to stay within the memory budget.
        let block = convert::block_bytes(self.max_memory, format);
        let shard_bytes = shard_bytes.map(|s| s.min(block).max(self.chunk_size.min(block)));
        Ok(Layout {
            format,
            chunk_bytes: self.chunk_size.min(block),
            shard_bytes,
            compression,
        })
    }
}

impl ConvertArgs {
    pub fn options(&self) -> Result<ConvertOptions> {
        Ok(ConvertOptions {
            input: self.input.clone(),
            output: self.output.clone(),
            layout: self.out.layout(&self.output)?,
            max_memory: self.out.max_memory,
            overwrite: self.out.overwrite,
            validate: self.out.validate,
            progress: !self.out.quiet,
        })
    }
}

fn parse_fill(text: &str) -> Result<crate::concat::Fill> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(crate::concat::Fill::Int(i));
    }
    match text.to_ascii_lowercase().as_str() {
        "nan" => return Ok(crate::concat::Fill::Float(f64::NAN)),
        "inf" => return Ok(crate::concat::Fill::Float(f64::INFINITY)),
        "-inf" => return Ok(crate::concat::Fill::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    text.parse::<f64>()
        .map(crate::concat::Fill::Float)
        .map_err(|_| Error::Usage(format!("--fill-value {text:?} is not a number")))
}

impl ConcatArgs {
    pub fn options(&self) -> Result<crate::concat::ConcatOptions> {
        use crate::concat::merge::Strategy;
        let strategy = |s: &Option<String>| {
            s.as_deref()
                .and_then(Strategy::parse)
                .unwrap_or(Strategy::None)
        };
        if let Some(keys) = &self.keys {
            if keys.len() != self.inputs.len() {
                return Err(Error::Usage(format!(
                    "--keys names {} inputs but {} were given",
                    keys.len(),
                    self.inputs.len()
                )));
            }
        }
        Ok(crate::concat::ConcatOptions {
            inputs: self.inputs.clone(),
            output: self.output.clone(),
            axis: if matches!(self.axis.as_str(), "var" | "1") {
                1
            } else {
                0
            },
            outer: self.join == "outer",
            merge: strategy(&self.merge),
            uns_merge: strategy(&self.uns_merge),
            label: self.label.clone(),
            keys: self.keys.clone(),
            index_unique: self.index_unique.clone(),
            fill_value: self.fill_value.as_deref().map(parse_fill).transpose()?,
            pairwise: self.pairwise,
            wide_indices: self.index_dtype == "int64",
            device: match self.device.as_str() {
                "cpu" => crate::concat::device::Device::Cpu,
                "gpu" => crate::concat::device::Device::Gpu,
                _ => crate::concat::device::Device::Auto,
            },
            layout: self.out.layout(&self.output)?,
            max_memory: self.out.max_memory,
            overwrite: self.out.overwrite,
            validate: self.out.validate,
            progress: !self.out.quiet,
        })
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Convert(args) => convert::convert(args.options()?),
        Command::Concat(args) => {
            let report = crate::concat::concat(args.options()?)?;
            if let Some(path) = &args.report_json {
                let text = serde_json::to_string_pretty(&report)
                    .map_err(|e| Error::Usage(format!("cannot encode report: {e}")))?;
                std::fs::write(path, text + "\n").map_err(|e| Error::Output {
                    path: path.clone(),
                    reason: format!("writing the report: {e}"),
                })?;
            }
            Ok(())
        }
        Command::Bench(args) => {
            let options = args.options()?;
            let result = crate::bench::bench(&options);
            crate::bench::cleanup(&options);
            if let Some(report) = result? {
                print!("{}", report.markdown());
            }
            Ok(())
        }
        Command::BenchLimit(args) => {
            for (i, input) in args.inputs.iter().enumerate() {
                let output = args.out_dir.join(format!("limit-{i}.{}", args.suffix));
                convert::convert(ConvertOptions {
                    input: input.clone(),
                    output: output.clone(),
                    layout: args.out.layout(&output)?,
                    max_memory: args.out.max_memory,
                    overwrite: args.out.overwrite,
                    validate: args.out.validate,
                    progress: !args.out.quiet,
                })?;
            }
            Ok(())
        }
        Command::Devices(args) => {
            let adapters = crate::kernels::list_adapters();
            if args.json {
                let text = serde_json::to_string_pretty(&adapters)
                    .map_err(|e| Error::Usage(format!("cannot encode report: {e}")))?;
                println!("{text}");
            } else {
                print!("{}", crate::kernels::gpu::adapters_table(&adapters));
            }
            Ok(())
        }
        Command::Inspect(args) => {
            let report = crate::inspect::inspect(&args.path)?;
            if args.json {
                let text = serde_json::to_string_pretty(&report)
                    .map_err(|e| Error::Usage(format!("cannot encode report: {e}")))?;
                println!("{text}");
            } else {
                print!("{}", report.to_table());
            }
            Ok(())
        }
    }
}

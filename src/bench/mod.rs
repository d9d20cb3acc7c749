//! `adcat bench`: generates the standard input matrix and times adcat (CPU and GPU),
//! anndata (`concat_on_disk` and in-memory `concat`) and the codec limit on it, each
//! as a separate process, side by side in one run.

pub mod cases;
mod chart;
pub mod generate;
pub mod measure;
mod report;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cases::{Case, FileFormat, Shape};
use measure::Sample;

use crate::error::{Error, Result};

/// The anndata side, shipped inside the binary so an installed adcat can run it.
const PEER_SCRIPT: &str = include_str!("peer.py");

/// Who is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Tool {
    #[serde(rename = "adcat-cpu")]
    AdcatCpu,
    #[serde(rename = "adcat-gpu")]
    AdcatGpu,
    /// Decode every input chunk and encode it again to the output format, with no
    /// concatenation logic: adcat's conversion of each input in turn, in one process.
    #[serde(rename = "limit")]
    Limit,
    #[serde(rename = "anndata-concat_on_disk")]
    OnDisk,
    #[serde(rename = "anndata-concat")]
    InMemory,
}

impl Tool {
    pub fn label(self) -> &'static str {
        match self {
            Tool::AdcatCpu => "adcat CPU",
            Tool::AdcatGpu => "adcat GPU",
            Tool::Limit => "limit",
            Tool::OnDisk => "concat_on_disk",
            Tool::InMemory => "anndata.concat",
        }
    }
}

/// What the user asked for, validated.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub data: PathBuf,
    pub out: PathBuf,
    pub size: u64,
    pub shapes: Vec<Shape>,
    pub formats: Vec<FileFormat>,
    pub repeat: u32,
    pub cases: Option<Vec<String>>,
    pub small_files: u64,
    /// Explicit Python; `None` tries `python3` and skips the peers without anndata.
    pub python: Option<PathBuf>,
    pub peers: bool,
    /// `None`: GPU runs only with a hardware adapter; `Some(b)`: as asked.
    pub gpu: Option<bool>,
    pub max_memory: Option<String>,
    pub timeout: Duration,
    pub quiet: bool,
    /// Write the inputs and stop.
    pub generate_only: bool,
}

/// Results of one case in one format.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CaseResult {
    pub case: String,
    pub description: String,
    pub format: FileFormat,
    pub inputs: usize,
    /// Uncompressed bytes of the inputs' X.
    pub payload_bytes: u64,
    pub tools: Vec<ToolResult>,
}

/// Busy time of each part of one adcat run, in seconds, read from its `--report-json`
/// (under the names it has there). Reading, assembling and writing overlap, so the
/// parts can add up to more than the wall time.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunPhases {
    #[serde(rename(deserialize = "seconds_plan"))]
    pub plan: f64,
    #[serde(rename(deserialize = "seconds_reading"))]
    pub reading: f64,
    #[serde(rename(deserialize = "seconds_assembling"), default)]
    pub assembling: f64,
    #[serde(rename(deserialize = "seconds_kernels"))]
    pub kernels: f64,
    #[serde(rename(deserialize = "seconds_writing"))]
    pub writing: f64,
    /// GPU runs: the kernel time split into upload, compute and readback.
    #[serde(rename(deserialize = "device_phases"))]
    pub device: Option<crate::kernels::DevicePhases>,
}

impl RunPhases {
    fn from_report(path: &Path) -> Option<RunPhases> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ToolResult {
    pub tool: Tool,
    pub samples: Vec<Sample>,
    pub min_seconds: Option<f64>,
    pub median_seconds: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    pub failure: Option<String>,
}

impl ToolResult {
    fn new(tool: Tool, samples: Vec<Sample>) -> ToolResult {
        let failure = samples.iter().find_map(|s| s.failure.clone());
        let mut times: Vec<f64> = samples.iter().map(|s| s.seconds).collect();
        times.sort_by(f64::total_cmp);
        let ok = failure.is_none() && !times.is_empty();
        ToolResult {
            tool,
            min_seconds: times.first().copied().filter(|_| ok),
            median_seconds: ok.then(|| median(&times)),
            peak_rss_bytes: samples
                .iter()
                .map(|s| s.peak_rss_bytes)
                .max()
                .filter(|_| ok),
            failure,
            samples,
        }
    }

    fn skipped(tool: Tool, why: String) -> ToolResult {
        ToolResult {
            tool,
            samples: Vec::new(),
            min_seconds: None,
            median_seconds: None,
            peak_rss_bytes: None,
            failure: Some(why),
        }
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Where each tool stands, found once before the runs.
struct Setup {
    adcat: PathBuf,
    python: std::result::Result<(PathBuf, PathBuf), String>,
    gpu: std::result::Result<String, String>,
}

fn find_python(explicit: Option<&Path>) -> std::result::Result<PathBuf, String> {
    let candidate = explicit
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let probe = Command::new(&candidate)
        .args(["-c", "import anndata, sys; print(anndata.__version__)"])
        .output();
    match probe {
        Ok(out) if out.status.success() => Ok(candidate),
        Ok(_) => Err(format!("{} cannot import anndata", candidate.display())),
        Err(e) => Err(format!("{}: {e}", candidate.display())),
    }
}

fn gpu_adapters() -> Vec<crate::kernels::AdapterSummary> {
    let Ok(exe) = std::env::current_exe() else {
        return Vec::new();
    };
    Command::new(exe)
        .args(["devices", "--json"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok())
        .unwrap_or_default()
}

fn find_gpu(wanted: Option<bool>) -> std::result::Result<String, String> {
    if wanted == Some(false) {
        return Err("not asked for (--gpu never)".into());
    }
    // Asked of a child process: loading a Vulkan driver here would stay in this
    // process's memory for the whole run.
    let adapters = gpu_adapters();
    let hardware = adapters.iter().find(|a| !a.device_type.starts_with("CPU"));
    match (hardware, adapters.first(), wanted) {
        (Some(a), _, _) => Ok(format!("{} ({})", a.name, a.device_type)),
        (None, Some(a), Some(true)) => Ok(format!("{} ({})", a.name, a.device_type)),
        (None, Some(a), _) => Err(format!(
            "only a software adapter ({}); pass --gpu always to time it",
            a.name
        )),
        (None, None, _) => Err("no GPU adapter found".into()),
    }
}

impl BenchOptions {
    fn check(&self) -> Result<()> {
        if self.repeat == 0 {
            return Err(Error::Usage("--repeat must be at least 1".into()));
        }
        if self.size < 10 {
            return Err(Error::Usage("--size must be at least 10".into()));
        }
        if self.shapes.is_empty() || self.formats.is_empty() {
            return Err(Error::Usage(
                "--shapes and --formats need at least one entry".into(),
            ));
        }
        Ok(())
    }
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        reason: format!("{what}: {e}"),
    }
}

fn say(opts: &BenchOptions, text: &str) {
    if !opts.quiet {
        eprintln!("adcat bench: {text}");
    }
}

/// Runs the benchmark and writes `bench.md`, `bench.json` and `bench.svg` to `out`;
/// `None` when only the inputs were asked for.
pub fn bench(opts: &BenchOptions) -> Result<Option<report::Report>> {
    opts.check()?;
    let selected = cases::select(
        cases::standard(opts.small_files),
        &opts.shapes,
        opts.cases.as_deref(),
    );
    if selected.is_empty() {
        return Err(Error::Usage(
            "no benchmark case matches --shapes and --cases".into(),
        ));
    }
    for dir in [&opts.data, &opts.out] {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "creating the directory", e))?;
    }
    if opts.generate_only {
        for format in &opts.formats {
            for case in &selected {
                ensure_inputs(
                    opts,
                    &cases::inputs(case, &opts.data, *format, opts.size),
                    *format,
                )?;
            }
        }
        return Ok(None);
    }
    let adcat = std::env::current_exe()
        .map_err(|e| Error::Usage(format!("cannot find the adcat executable: {e}")))?;
    let python = if opts.peers {
        find_python(opts.python.as_deref())
    } else {
        Err("not asked for (--no-peers)".into())
    };
    if let (Some(p), Err(why)) = (&opts.python, &python) {
        return Err(Error::Usage(format!("--python {}: {why}", p.display())));
    }
    let python = python.and_then(|p| {
        let script = opts.data.join("adcat-bench-peer.py");
        std::fs::write(&script, PEER_SCRIPT)
            .map(|_| (p, script))
            .map_err(|e| format!("cannot write the peer script: {e}"))
    });
    if let Err(why) = &python {
        say(opts, &format!("anndata peers skipped: {why}"));
    }
    let gpu = find_gpu(opts.gpu);
    if let Err(why) = &gpu {
        say(opts, &format!("GPU runs skipped: {why}"));
    }
    let setup = Setup { adcat, python, gpu };

    let mut results = Vec::new();
    for format in &opts.formats {
        for case in &selected {
            let inputs = cases::inputs(case, &opts.data, *format, opts.size);
            ensure_inputs(opts, &inputs, *format)?;
            results.push(run_case(opts, &setup, case, *format, &inputs)?);
        }
    }
    let report = report::Report::new(opts, &setup, results);
    report.write(&opts.out)?;
    Ok(Some(report))
}

fn ensure_inputs(
    opts: &BenchOptions,
    inputs: &[(PathBuf, generate::InputSpec)],
    format: FileFormat,
) -> Result<()> {
    for (path, spec) in inputs {
        if path.exists() {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "creating the directory", e))?;
        }
        say(opts, &format!("generating {}", path.display()));
        generate::write_input(path, format.store_format(), spec)?;
    }
    Ok(())
}

fn run_case(
    opts: &BenchOptions,
    setup: &Setup,
    case: &Case,
    format: FileFormat,
    inputs: &[(PathBuf, generate::InputSpec)],
) -> Result<CaseResult> {
    let scratch = opts.data.join(format!("scratch-{}", std::process::id()));
    let out = scratch.join(format!("out.{}", format.suffix()));
    let payload_bytes = inputs.iter().map(|(_, s)| s.x_bytes()).sum();
    let paths: Vec<&Path> = inputs.iter().map(|(p, _)| p.as_path()).collect();
    let mut tools = Vec::new();
    for tool in [
        Tool::AdcatCpu,
        Tool::AdcatGpu,
        Tool::Limit,
        Tool::OnDisk,
        Tool::InMemory,
    ] {
        let unavailable = match tool {
            Tool::AdcatGpu => setup.gpu.as_ref().err(),
            Tool::OnDisk | Tool::InMemory => setup.python.as_ref().err(),
            _ => None,
        };
        if let Some(why) = unavailable {
            tools.push(ToolResult::skipped(tool, why.clone()));
            continue;
        }
        let mut samples = Vec::new();
        for round in 0..opts.repeat {
            let sample = run_once(opts, setup, tool, case, &paths, &scratch, &out)?;
            say(
                opts,
                &format!(
                    "{} {} {} run {}/{}: {}",
                    case.name,
                    format.name(),
                    tool.label(),
                    round + 1,
                    opts.repeat,
                    match &sample.failure {
                        None => format!(
                            "{:.2} s, {} MiB",
                            sample.seconds,
                            sample.peak_rss_bytes >> 20
                        ),
                        Some(f) => format!("failed: {f}"),
                    }
                ),
            );
            let failed = sample.failure.is_some();
            samples.push(sample);
            if failed {
                break;
            }
        }
        tools.push(ToolResult::new(tool, samples));
    }
    Ok(CaseResult {
        case: case.name.clone(),
        description: case.describe(),
        format,
        inputs: inputs.len(),
        payload_bytes,
        tools,
    })
}

fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| io_error(dir, "clearing scratch space", e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "creating scratch space", e))
}

fn run_once(
    opts: &BenchOptions,
    setup: &Setup,
    tool: Tool,
    case: &Case,
    inputs: &[&Path],
    scratch: &Path,
    out: &Path,
) -> Result<Sample> {
    fresh_dir(scratch)?;
    let report = scratch.join("report.json");
    let measure = |cmd: Command| {
        measure::run(cmd, scratch, opts.timeout)
            .map_err(|e| io_error(scratch, "running a benchmark process", e))
    };
    let adcat_flags = |cmd: &mut Command| {
        cmd.arg("--quiet");
        if let Some(m) = &opts.max_memory {
            cmd.args(["--max-memory", m]);
        }
    };
    let sample = match tool {
        Tool::AdcatCpu | Tool::AdcatGpu => {
            let mut cmd = Command::new(&setup.adcat);
            cmd.arg("concat")
                .args(inputs)
                .arg("-o")
                .arg(out)
                .args(["--axis", case.axis_name(), "--join", case.join()])
                .args([
                    "--device",
                    if tool == Tool::AdcatGpu { "gpu" } else { "cpu" },
                ])
                .arg("--report-json")
                .arg(&report);
            adcat_flags(&mut cmd);
            let mut s = measure(cmd)?;
            s.phases = RunPhases::from_report(&report);
            s
        }
        Tool::Limit => {
            // Every input converted in turn, in one process, as concat reads them.
            let mut cmd = Command::new(&setup.adcat);
            cmd.arg("bench-limit")
                .args(inputs)
                .arg("--out-dir")
                .arg(scratch)
                .args(["--suffix", &suffix_of(out)]);
            adcat_flags(&mut cmd);
            measure(cmd)?
        }
        Tool::OnDisk | Tool::InMemory => {
            let (python, script) = setup
                .python
                .as_ref()
                .map_err(|why| Error::Usage(format!("anndata peers cannot run: {why}")))?;
            let mut cmd = Command::new(python);
            cmd.arg(script)
                .arg(if tool == Tool::OnDisk {
                    "on_disk"
                } else {
                    "in_memory"
                })
                .arg(case.axis.to_string())
                .arg(case.join())
                .arg(out)
                .args(inputs);
            let mut s = measure(cmd)?;
            // anndata is timed from inside: interpreter start-up and imports excluded.
            if let Some(t) = peer_seconds(&s.stdout) {
                s.seconds = t;
            }
            s
        }
    };
    fresh_dir(scratch)?;
    Ok(sample)
}

fn suffix_of(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn peer_seconds(stdout: &str) -> Option<f64> {
    let line = stdout.lines().rev().find(|l| l.starts_with('{'))?;
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("seconds")?.as_f64()
}

/// Removes the scratch directory of this run, whatever happened.
pub fn cleanup(opts: &BenchOptions) {
    let scratch = opts.data.join(format!("scratch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(scratch);
}

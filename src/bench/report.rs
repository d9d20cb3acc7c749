//! The benchmark's outputs: a Markdown table with ratios and target checks, the same
//! figures as JSON, and a chart.

use std::fmt::Write as _;
use std::path::Path;

use super::{BenchOptions, CaseResult, Setup, Tool, ToolResult};
use crate::error::{Error, Result};

#[derive(Clone, Debug, serde::Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub os: String,
    pub adcat: String,
    pub gpu: String,
    pub anndata: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Target {
    pub what: String,
    /// `None` when the run has nothing to judge it by (a peer missing or failing).
    pub met: Option<bool>,
    pub measured: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub machine: Machine,
    pub size: u64,
    pub repeat: u32,
    pub results: Vec<CaseResult>,
    pub targets: Vec<Target>,
}

fn first_line_of(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

fn machine(setup: &Setup) -> Machine {
    let memory_kib: f64 = first_line_of("/proc/meminfo", "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let anndata = match &setup.python {
        Ok((python, _)) => std::process::Command::new(python)
            .args(["-c", "import anndata; print(anndata.__version__)"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default(),
        Err(why) => format!("not run: {why}"),
    };
    Machine {
        cpu: first_line_of("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gib: memory_kib / (1u64 << 20) as f64,
        os: std::env::consts::OS.into(),
        adcat: env!("CARGO_PKG_VERSION").into(),
        gpu: match &setup.gpu {
            Ok(name) => name.clone(),
            Err(why) => format!("not run: {why}"),
        },
        anndata,
    }
}

impl CaseResult {
    pub fn tool(&self, tool: Tool) -> Option<&ToolResult> {
        self.tools.iter().find(|t| t.tool == tool)
    }
    pub fn median(&self, tool: Tool) -> Option<f64> {
        self.tool(tool)?.median_seconds
    }
    /// `a`'s median over `b`'s.
    pub fn ratio(&self, a: Tool, b: Tool) -> Option<f64> {
        Some(self.median(a)? / self.median(b)?)
    }
    fn rss(&self, tool: Tool) -> Option<u64> {
        self.tool(tool)?.peak_rss_bytes
    }
}

fn targets(results: &[CaseResult], gpu_is_hardware: bool) -> Vec<Target> {
    let mut out = Vec::new();
    let speedups: Vec<(String, f64)> = results
        .iter()
        .filter_map(|r| Some((label(r), r.ratio(Tool::OnDisk, Tool::AdcatCpu)?)))
        .collect();
    let mut sorted: Vec<f64> = speedups.iter().map(|(_, s)| *s).collect();
    sorted.sort_by(f64::total_cmp);
    let judged = |met: bool, measured: String| (Some(met), measured);
    let (met, measured) = if sorted.is_empty() {
        (
            None,
            "concat_on_disk did not run or failed everywhere".into(),
        )
    } else {
        let m = super::median(&sorted);
        judged(
            m >= 10.0,
            format!("median {m:.1}× over {} cases", sorted.len()),
        )
    };
    out.push(Target {
        what: "adcat CPU ≥ 10× faster than concat_on_disk on the median case".into(),
        met,
        measured,
    });
    let worst = speedups.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    out.push(Target {
        what: "adcat CPU ≥ 3× faster than concat_on_disk wherever it works".into(),
        met: worst.map(|(_, s)| *s >= 3.0),
        measured: worst.map_or("no case to judge".into(), |(c, s)| {
            format!("lowest {s:.1}× ({c})")
        }),
    });
    let rss: Vec<(String, f64)> = results
        .iter()
        .filter_map(|r| {
            let a = r.rss(Tool::AdcatCpu)? as f64;
            let b = r.rss(Tool::OnDisk)? as f64;
            Some((label(r), a / b))
        })
        .collect();
    let worst = rss.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    out.push(Target {
        what: "adcat CPU peak RSS ≤ ½ of concat_on_disk's".into(),
        met: worst.map(|(_, r)| *r <= 0.5),
        measured: worst.map_or("no case to judge".into(), |(c, r)| {
            format!("highest {r:.2} ({c})")
        }),
    });
    let limit: Vec<(String, f64)> = results
        .iter()
        .filter_map(|r| Some((label(r), r.ratio(Tool::AdcatCpu, Tool::Limit)?)))
        .collect();
    let worst = limit.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    out.push(Target {
        what: "adcat CPU within 1.3× of the limit on every case".into(),
        met: worst.map(|(_, r)| *r <= 1.3),
        measured: worst.map_or("no case to judge".into(), |(c, r)| {
            format!("highest {r:.2}× ({c})")
        }),
    });
    let gpu: Vec<(String, f64)> = results
        .iter()
        .filter(|r| r.case.starts_with("dense") || r.case.ends_with("outer"))
        .filter_map(|r| Some((label(r), r.ratio(Tool::AdcatGpu, Tool::AdcatCpu)?)))
        .collect();
    let worst = gpu.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    out.push(Target {
        what: "on a hardware GPU, GPU no slower than CPU on the dense and outer cases".into(),
        met: worst.filter(|_| gpu_is_hardware).map(|(_, r)| *r <= 1.0),
        measured: match worst {
            None => "GPU not run".into(),
            Some((c, r)) if gpu_is_hardware => format!("highest GPU/CPU {r:.2} ({c})"),
            Some((c, r)) => {
                format!("software adapter only: highest GPU/CPU {r:.2} ({c}); not judged")
            }
        },
    });
    out
}

fn label(r: &CaseResult) -> String {
    format!("{} {}", r.case, r.format.name())
}

impl Report {
    pub(super) fn new(opts: &BenchOptions, setup: &Setup, results: Vec<CaseResult>) -> Report {
        let machine = machine(setup);
        let hardware = setup
            .gpu
            .as_ref()
            .is_ok_and(|g| !g.contains("CPU (software)"));
        Report {
            machine,
            size: opts.size,
            repeat: opts.repeat,
            targets: targets(&results, hardware),
            results,
        }
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::Output {
                path,
                reason: format!("writing the benchmark results: {e}"),
            })
        };
        write("bench.md", self.markdown())?;
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Usage(format!("cannot encode the results: {e}")))?;
        write("bench.json", json + "\n")?;
        super::chart::draw(self, &dir.join("bench.svg"))
    }

    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "adcat bench, size {}, median of {} (min in brackets); {}; {} cores, {:.0} GiB; GPU: {}; anndata {}",
            self.size, self.repeat, m.cpu, m.cores, m.memory_gib, m.gpu, m.anndata
        );
        s.push('\n');
        s.push_str(
            "| case | fmt | payload MB | adcat CPU s | RSS MiB | MB/s | limit s | adcat/limit \
             | adcat GPU s | GPU/CPU | concat_on_disk s | RSS MiB | speedup | anndata.concat s | RSS MiB | speedup |\n",
        );
        s.push_str(&"|---".repeat(16));
        s.push_str("|\n");
        for r in &self.results {
            let cpu = r.tool(Tool::AdcatCpu);
            let mbs = r
                .median(Tool::AdcatCpu)
                .map(|t| r.payload_bytes as f64 / 1e6 / t);
            let cells = [
                r.case.clone(),
                r.format.name().into(),
                format!("{:.0}", r.payload_bytes as f64 / 1e6),
                time_cell(cpu),
                rss_cell(cpu),
                opt(mbs, 0),
                time_cell(r.tool(Tool::Limit)),
                ratio_cell(r.ratio(Tool::AdcatCpu, Tool::Limit)),
                time_cell(r.tool(Tool::AdcatGpu)),
                ratio_cell(r.ratio(Tool::AdcatGpu, Tool::AdcatCpu)),
                time_cell(r.tool(Tool::OnDisk)),
                rss_cell(r.tool(Tool::OnDisk)),
                ratio_cell(r.ratio(Tool::OnDisk, Tool::AdcatCpu)),
                time_cell(r.tool(Tool::InMemory)),
                rss_cell(r.tool(Tool::InMemory)),
                ratio_cell(r.ratio(Tool::InMemory, Tool::AdcatCpu)),
            ];
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        }
        s.push_str(
            "\nspeedup: the peer's median time over adcat CPU's. limit: each input converted \
             to the output format in turn, in one process (decode and encode only). anndata is timed inside \
             Python (start-up excluded); adcat as a whole process. Every time runs until the \
             output is on disk: adcat fsyncs it before moving it into place, and the peers' \
             output is fsynced the same way before their clock stops.\n",
        );
        self.phase_table(&mut s);
        let failures: Vec<String> = self
            .results
            .iter()
            .flat_map(|r| {
                r.tools
                    .iter()
                    .filter(|t| !t.samples.is_empty())
                    .filter_map(move |t| {
                        Some(format!(
                            "- {} {} {}: {}",
                            r.case,
                            r.format.name(),
                            t.tool.label(),
                            t.failure.as_ref()?
                        ))
                    })
            })
            .collect();
        if !failures.is_empty() {
            s.push_str("\nFailed runs:\n");
            for f in failures {
                let _ = writeln!(s, "{f}");
            }
        }
        s.push_str("\nTargets:\n");
        for t in &self.targets {
            let mark = match t.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not judged",
            };
            let _ = writeln!(s, "- {}: {mark} ({})", t.what, t.measured);
        }
        s
    }
}

impl Report {
    /// Where adcat's time went in its median run of each case, on each device.
    fn phase_table(&self, s: &mut String) {
        let rows: Vec<String> = self
            .results
            .iter()
            .flat_map(|r| {
                [Tool::AdcatCpu, Tool::AdcatGpu]
                    .into_iter()
                    .filter_map(move |tool| {
                        let t = r.tool(tool)?;
                        let med = t.median_seconds?;
                        let sample = t.samples.iter().min_by(|a, b| {
                            (a.seconds - med).abs().total_cmp(&(b.seconds - med).abs())
                        })?;
                        let p = sample.phases.as_ref()?;
                        let d = p.device;
                        let cells = [
                            r.case.clone(),
                            r.format.name().into(),
                            tool.label().into(),
                            format!("{:.2}", sample.seconds),
                            format!("{:.2}", p.plan),
                            format!("{:.2}", p.reading),
                            format!("{:.2}", p.assembling),
                            format!("{:.2}", p.kernels),
                            opt(d.map(|d| d.seconds_upload), 2),
                            opt(d.map(|d| d.seconds_compute), 2),
                            opt(d.map(|d| d.seconds_readback), 2),
                            format!("{:.2}", p.writing),
                        ];
                        Some(format!("| {} |", cells.join(" | ")))
                    })
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        s.push_str(
            "\nWhere adcat's time goes (the run nearest the median, seconds of busy time):\n\n\
             | case | fmt | run | wall | plan | read+decode | assemble | kernels | upload | compute | readback | encode+write |\n",
        );
        s.push_str(&"|---".repeat(12));
        s.push_str("|\n");
        for row in rows {
            let _ = writeln!(s, "{row}");
        }
        s.push_str(
            "\nread+decode, assemble (reindexing, filling, interleaving; the kernel calls are most of \
             it) and encode+write run on threads of their own, so the parts can add up to more \
             than the wall; where inputs are written as read, assembling follows reading on its \
             thread. upload, compute (submit until the device is done) and readback split the \
             GPU's kernel time.\n",
        );
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn time_cell(t: Option<&ToolResult>) -> String {
    match t {
        None => "–".into(),
        Some(t) => match (t.median_seconds, t.min_seconds) {
            (Some(med), Some(min)) => format!("{med:.2} ({min:.2})"),
            _ if t.samples.is_empty() => "–".into(),
            _ => "fails".into(),
        },
    }
}

fn rss_cell(t: Option<&ToolResult>) -> String {
    opt(
        t.and_then(|t| t.peak_rss_bytes)
            .map(|b| b as f64 / (1u64 << 20) as f64),
        0,
    )
}

fn ratio_cell(r: Option<f64>) -> String {
    r.map_or("–".into(), |r| format!("{r:.2}×"))
}

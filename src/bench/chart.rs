//! A horizontal bar chart of median times per case and tool (log scale: the tools
//! differ by orders of magnitude).

use std::path::Path;

use plotters::prelude::*;

use super::report::Report;
use super::Tool;
use crate::error::{Error, Result};

const TOOLS: [(Tool, RGBColor); 5] = [
    (Tool::AdcatCpu, RGBColor(31, 119, 180)),
    (Tool::AdcatGpu, RGBColor(44, 160, 44)),
    (Tool::Limit, RGBColor(150, 150, 150)),
    (Tool::OnDisk, RGBColor(214, 39, 40)),
    (Tool::InMemory, RGBColor(255, 127, 14)),
];

/// Slots per case: one bar per tool and a gap.
const SLOTS: i32 = TOOLS.len() as i32 + 1;

pub fn draw(report: &Report, path: &Path) -> Result<()> {
    let fail = |e: String| Error::Output {
        path: path.to_path_buf(),
        reason: format!("drawing the chart: {e}"),
    };
    let rows = report.results.len() as i32;
    let times: Vec<f64> = report
        .results
        .iter()
        .flat_map(|r| TOOLS.iter().filter_map(|(t, _)| r.median(*t)))
        .collect();
    let hi = times.iter().copied().fold(1.0f64, f64::max) * 2.0;
    let lo = times.iter().copied().fold(hi, f64::min).min(0.1) / 2.0;
    let height = (rows * SLOTS * 9 + 140).max(300) as u32;
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let title = format!(
        "adcat bench, size {} ({} cores{})",
        report.size,
        report.machine.cores,
        if report.machine.gpu.starts_with("not run") {
            String::new()
        } else {
            format!(", GPU {}", report.machine.gpu)
        }
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(170)
        .build_cartesian_2d((lo..hi).log_scale(), 0..rows * SLOTS)
        .map_err(|e| fail(e.to_string()))?;
    let names: Vec<String> = report
        .results
        .iter()
        .map(|r| format!("{} {}", r.case, r.format.name()))
        .collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels((rows * SLOTS) as usize + 1)
        .y_label_formatter(&|y| {
            // One label per case, beside the middle of its bars (cases run top down).
            let slot = rows * SLOTS - 1 - *y;
            if slot % SLOTS == SLOTS / 2 {
                names
                    .get((slot / SLOTS) as usize)
                    .cloned()
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc("median seconds (log scale)")
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    for (k, (tool, color)) in TOOLS.iter().enumerate() {
        let bars: Vec<(i32, f64)> = report
            .results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i as i32, r.median(*tool)?)))
            .collect();
        let color = *color;
        chart
            .draw_series(bars.into_iter().map(|(i, t)| {
                let top = rows * SLOTS - i * SLOTS - k as i32;
                Rectangle::new([(lo, top - 1), (t, top)], color.filled())
            }))
            .map_err(|e| fail(e.to_string()))?
            .label(tool.label())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

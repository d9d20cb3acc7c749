//! A progress bar on stderr, drawn only when stderr is a terminal and not silenced.

use std::io::IsTerminal;

pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// `enabled` is the user's choice (`--quiet` turns it off); the bar also stays
    /// hidden when stderr is not a terminal, so logs of batch runs stay clean.
    pub fn new(enabled: bool, total_bytes: u64, message: &'static str) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = indicatif::ProgressBar::new(total_bytes);
        let style = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(message);
        Progress { bar: Some(bar) }
    }

    pub fn add(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

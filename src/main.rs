use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    adcat::heap::reuse_freed_blocks();
    adcat::output::install_signal_cleanup();
    adcat::store::raise_open_file_limit();
    let cli = adcat::cli::Cli::parse();
    match adcat::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, whatever the underlying library put in its message.
            let text = err.to_string().replace(['\n', '\r'], " ");
            eprintln!("adcat: error: {text}");
            ExitCode::from(err.exit_code())
        }
    }
}

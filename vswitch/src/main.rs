//! `vswitch --config FILE`: runs the appliance.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use vswitch::config::Config;

/// The DPDK virtual switch appliance.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Configuration file (TOML); `VSWITCH_CFG__...` environment variables override it.
    #[arg(long, short)]
    config: PathBuf,
    /// Validate the configuration, print the EAL arguments, and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vswitch: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!(
            "configuration ok; EAL arguments: {}",
            cfg.eal_argv().join(" ")
        );
        return ExitCode::SUCCESS;
    }
    match vswitch::app::run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vswitch: error: {e}");
            ExitCode::FAILURE
        }
    }
}

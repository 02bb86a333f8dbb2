//! `imps`: the IMPS server (`imps serve`), record replay (`imps replay`) and its codec tools
//! (`imps codec roundtrip`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use imps_host::serve::{EngineKind, ServeOptions};
use imps_host::wasm::GuestLimits;

/// An OMA IMPS (Wireless Village) server.
#[derive(Parser)]
#[command(name = "imps", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve CSP over HTTP (`POST /imps`).
    Serve {
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Data directory (SQLite store, generated server key).
        #[arg(long)]
        data: PathBuf,
        /// TOML configuration file (see imps.example.toml); defaults apply without one.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Let a 2-way login of an unknown user create the account.
        #[arg(long)]
        open_registration: bool,
        /// How the engine runs.
        #[arg(long, value_enum, default_value_t = Engine::Wasm)]
        engine: Engine,
        /// Record every engine input (with times and seeds) to FILE for `imps replay`. The
        /// file holds passwords and messages; it is created with mode 0600.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// Keep the raw input of a guest trap under DATA/trap-inputs (it may hold
        /// credentials); by default only a redacted description is logged.
        #[arg(long)]
        keep_trap_inputs: bool,
        #[command(flatten)]
        guest: GuestArgs,
    },
    /// Replay a file written by `imps serve --record` and check that every input gives the
    /// recorded outputs, byte for byte.
    Replay {
        /// The record file.
        file: PathBuf,
        /// How the engine runs.
        #[arg(long, value_enum, default_value_t = Engine::Wasm)]
        engine: Engine,
        #[command(flatten)]
        guest: GuestArgs,
    },
    /// CSP codec tools.
    Codec {
        #[command(subcommand)]
        command: CodecCommand,
    },
}

#[derive(Subcommand)]
enum CodecCommand {
    /// Decode each file and print it re-encoded in the same CSP version.
    Roundtrip {
        /// CSP XML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    /// The embedded WebAssembly guest under wasmtime (memory cap, time limit).
    Wasm,
    /// The engine linked into this binary.
    Native,
}

impl From<Engine> for EngineKind {
    fn from(e: Engine) -> EngineKind {
        match e {
            Engine::Wasm => EngineKind::Wasm,
            Engine::Native => EngineKind::Native,
        }
    }
}

/// Options of the wasm guest.
#[derive(clap::Args)]
struct GuestArgs {
    /// Memory cap of the engine guest, MiB (the host warns at 80%).
    #[arg(long, default_value_t = 512)]
    guest_memory_mib: usize,
    /// Longest one input may run in the guest before it is interrupted, ms.
    #[arg(long, default_value_t = 10_000)]
    guest_time_limit_ms: u64,
    /// Run this guest .wasm instead of the embedded one (tests).
    #[arg(long, value_name = "FILE", hide = true)]
    guest: Option<PathBuf>,
    /// Keep the compiled guest (.cwasm) in DIR instead of the data directory (tests share one).
    #[arg(long, value_name = "DIR", hide = true)]
    guest_cache: Option<PathBuf>,
}

impl GuestArgs {
    fn limits(&self) -> GuestLimits {
        GuestLimits {
            memory_bytes: self.guest_memory_mib.saturating_mul(1 << 20),
            time_limit: std::time::Duration::from_millis(self.guest_time_limit_ms),
        }
    }
}

fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            listen,
            data,
            config,
            open_registration,
            engine,
            record,
            keep_trap_inputs,
            guest,
        } => {
            init_logs("info");
            match imps_host::serve::serve(ServeOptions {
                listen,
                data,
                config,
                open_registration,
                engine: engine.into(),
                record,
                keep_trap_inputs,
                guest_limits: guest.limits(),
                guest: guest.guest,
                guest_cache: guest.guest_cache,
            }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("imps: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Replay {
            file,
            engine,
            guest,
        } => {
            init_logs("warn");
            let limits = guest.limits();
            let result = imps_host::record::replay(&file, |config, seed| {
                imps_host::serve::make_core(
                    engine.into(),
                    config,
                    seed,
                    guest.guest.as_deref(),
                    guest.guest_cache.as_deref(),
                    limits,
                )
            });
            match result {
                Ok(r) => {
                    println!(
                        "replayed {} input(s) in {} engine start(s): {} output(s), all identical; digest {}",
                        r.inputs, r.starts, r.outputs, r.digest
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("imps replay: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Codec {
            command: CodecCommand::Roundtrip { files },
        } => {
            init_logs("warn");
            let ok = imps_host::codec_tool::roundtrip(
                &files,
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            );
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

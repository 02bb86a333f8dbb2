//! `imps`: the IMPS server (`imps serve`) and its codec tools (`imps codec roundtrip`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use imps_engine::codec::Encoding;
use imps_host::serve::{EngineKind, ServeOptions};

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
        #[arg(long, value_enum, default_value_t = Engine::Native)]
        engine: Engine,
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
    /// Convert a CSP XML message to WBXML (in its own version).
    Xml2wbxml {
        /// The XML message.
        input: PathBuf,
        /// Where to write the WBXML (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Convert a CSP WBXML message to XML (in its own version).
    Wbxml2xml {
        /// The WBXML message.
        input: PathBuf,
        /// Where to write the XML (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    /// The engine linked into this binary.
    Native,
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
        } => {
            init_logs("info");
            let engine = match engine {
                Engine::Native => EngineKind::Native,
            };
            match imps_host::serve::serve(ServeOptions {
                listen,
                data,
                config,
                open_registration,
                engine,
            }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("imps: {e}");
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
        Command::Codec {
            command: CodecCommand::Xml2wbxml { input, output },
        } => convert(&input, output.as_deref(), Encoding::Xml, Encoding::Wbxml),
        Command::Codec {
            command: CodecCommand::Wbxml2xml { input, output },
        } => convert(&input, output.as_deref(), Encoding::Wbxml, Encoding::Xml),
    }
}

/// `imps codec xml2wbxml|wbxml2xml`: one message converted, or one line on stderr.
fn convert(
    input: &std::path::Path,
    output: Option<&std::path::Path>,
    from: Encoding,
    to: Encoding,
) -> ExitCode {
    init_logs("warn");
    let converted = imps_host::codec_tool::convert_file(input, from, to);
    let written = converted.and_then(|bytes| match output {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| format!("{}: cannot write: {e}", path.display())),
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|e| format!("writing the output: {e}"))
        }
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("imps: {}", line.replace(['\n', '\r'], " "));
            ExitCode::FAILURE
        }
    }
}

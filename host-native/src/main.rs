//! `imps`: the IMPS server (`imps serve`), its operator commands (`imps user …`,
//! `imps group create --public`, `imps logout`), record replay (`imps replay`) and codec tools
//! (`imps codec …`).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use imps_engine::codec::Encoding;
use imps_engine::server::{AdminCommand, ProfileUpdate};
use imps_host::admin::{self, Target};
use imps_host::serve::{EngineKind, ServeOptions};
use imps_host::wasm::GuestLimits;

// The engine allocates per message (its typed model owns its strings); mimalloc serves those
// small, short-lived allocations faster than the system allocator.
#[global_allocator]
static ALLOCATOR: imps_alloc::Allocator = imps_alloc::Allocator;

/// An OMA IMPS (Wireless Village) server.
#[derive(Parser)]
#[command(name = "imps", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve CSP over HTTP (`POST /imps`), wake-up channels, `/metrics`, the admin endpoint.
    Serve {
        /// Address to listen on; port 0 picks a free one (default: `[host] listen`,
        /// 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
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
    /// Accounts (on a running server through its admin endpoint, else on the data directory).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Groups.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Ends every session of a user (Disconnect 601).
    Logout {
        /// User id (`alice`, `wv:alice`, `wv:alice@domain`).
        user: String,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// CSP codec tools.
    Codec {
        #[command(subcommand)]
        command: CodecCommand,
    },
}

/// Which server a command acts on.
#[derive(Args)]
struct TargetArgs {
    /// The server's data directory.
    #[arg(long)]
    data: PathBuf,
    /// The server's configuration file (used when the server is stopped).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Creates an account (the password is read from stdin without --password).
    Add {
        /// User id.
        user: String,
        /// Password (visible to other local users in the process list: prefer stdin).
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Sets a new password of an existing account.
    Passwd {
        /// User id.
        user: String,
        /// Password (prefer stdin).
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Deletes an account and its data; its sessions end (601).
    Remove {
        /// User id.
        user: String,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Lists the accounts, one id a line.
    List {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Creates or updates accounts from a CSV file of `user,password` lines, with progress.
    Import {
        /// The CSV file.
        file: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Sets a user's public profile.
    Profile {
        /// User id.
        user: String,
        /// First name.
        #[arg(long)]
        first_name: Option<String>,
        /// Last name.
        #[arg(long)]
        last_name: Option<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Alias.
        #[arg(long)]
        alias: Option<String>,
        /// Mobile number.
        #[arg(long)]
        mobile: Option<String>,
        /// Friendly name.
        #[arg(long)]
        friendly_name: Option<String>,
        /// Whether search finds the user at all.
        #[arg(long)]
        searchable: Option<bool>,
        /// Whether search finds the user by e-mail address.
        #[arg(long)]
        find_by_email: Option<bool>,
        /// Whether search finds the user by mobile number.
        #[arg(long)]
        find_by_mobile: Option<bool>,
        #[command(flatten)]
        target: TargetArgs,
    },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Creates a group owned by the operator.
    Create {
        /// Group id, `wv:<name>/<group>` (on this server's domain).
        group: String,
        /// A public group (the only kind the operator creates).
        #[arg(long, required = true)]
        public: bool,
        /// Its Name property.
        #[arg(long)]
        name: Option<String>,
        /// Its Topic property.
        #[arg(long)]
        topic: Option<String>,
        #[command(flatten)]
        target: TargetArgs,
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
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("imps: {e}");
    ExitCode::FAILURE
}

/// The password from `--password`, else the first line of stdin.
fn password(given: Option<String>) -> Result<String, String> {
    if let Some(p) = given {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password: {e}"))?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    if p.is_empty() {
        return Err("empty password".into());
    }
    Ok(p)
}

fn open(target: &TargetArgs) -> Result<Target, String> {
    admin::open(&target.data, target.config.as_deref())
}

/// Runs one command and prints its result.
fn one(target: &TargetArgs, command: AdminCommand) -> ExitCode {
    match open(target).and_then(|mut t| t.run(command)) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Whether `user` names an existing account of `target`.
fn exists(t: &mut Target, user: &str) -> Result<bool, String> {
    let users = t.users()?;
    let wanted = user.trim_start_matches("wv:").to_ascii_lowercase();
    Ok(users.iter().any(|u| {
        let id = u.trim_start_matches("wv:");
        id == wanted || id.split('@').next() == Some(wanted.as_str())
    }))
}

fn user_command(command: UserCommand) -> ExitCode {
    match command {
        UserCommand::Add {
            user,
            password: given,
            target,
        } => provision(user, given, &target, false),
        UserCommand::Passwd {
            user,
            password: given,
            target,
        } => provision(user, given, &target, true),
        UserCommand::Remove { user, target } => {
            one(&target, AdminCommand::DeleteUser { user_id: user })
        }
        UserCommand::List { target } => match open(&target).and_then(|mut t| t.users()) {
            Ok(users) => {
                for u in users {
                    println!("{u}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        UserCommand::Import { file, target } => import(&file, &target),
        UserCommand::Profile {
            user,
            first_name,
            last_name,
            email,
            alias,
            mobile,
            friendly_name,
            searchable,
            find_by_email,
            find_by_mobile,
            target,
        } => one(
            &target,
            AdminCommand::SetProfile {
                user_id: user,
                profile: ProfileUpdate {
                    first_name,
                    last_name,
                    email,
                    alias,
                    mobile,
                    friendly_name,
                    searchable,
                    find_by_email,
                    find_by_mobile,
                },
            },
        ),
    }
}

fn provision(user: String, given: Option<String>, target: &TargetArgs, existing: bool) -> ExitCode {
    let result = (|| {
        let mut t = open(target)?;
        let found = exists(&mut t, &user)?;
        if found != existing {
            return Err(if existing {
                format!("no account {user}")
            } else {
                format!("account {user} exists (use imps user passwd)")
            });
        }
        let password = password(given)?;
        t.run(AdminCommand::ProvisionUser {
            user_id: user.clone(),
            password,
        })
    })();
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn import(file: &std::path::Path, target: &TargetArgs) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    let commands = match admin::parse_csv(&text) {
        Ok(c) => c,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    let mut t = match open(target) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let total = commands.len();
    let started = std::time::Instant::now();
    let mut progress = |done: usize, total: usize| {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        eprintln!("imported {done}/{total} ({pct}%)");
    };
    match t.run_many(commands, &mut progress) {
        Ok(results) => {
            let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
            for e in &failed {
                eprintln!("imps: {e}");
            }
            println!(
                "{} of {total} account(s) imported in {:.1} s{}",
                total - failed.len(),
                started.elapsed().as_secs_f64(),
                if t.is_running() {
                    " (running server)"
                } else {
                    ""
                }
            );
            if failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(e),
    }
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
                Err(e) => fail(e),
            }
        }
        Command::User { command } => {
            init_logs("warn");
            user_command(command)
        }
        Command::Group {
            command:
                GroupCommand::Create {
                    group,
                    public: _,
                    name,
                    topic,
                    target,
                },
        } => {
            init_logs("warn");
            one(
                &target,
                AdminCommand::CreatePublicGroup {
                    group_id: group,
                    name,
                    topic,
                },
            )
        }
        Command::Logout { user, target } => {
            init_logs("warn");
            one(&target, AdminCommand::ForceLogout { user_id: user })
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

//! `cargo xtask build|test|demo|setup`: every build step of the workspace, in Rust.
//!
//! Each command first runs [`setup`], which installs what the step needs, idempotently: a
//! check decides, and the installer runs only for what is missing. For now nothing is
//! needed beyond cargo; later issues add rustup targets (wasm32) and Debian packages
//! (chromium) to [`RUSTUP_TARGETS`] and [`APT_PACKAGES`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Rustup targets the steps need.
const RUSTUP_TARGETS: &[&str] = &[];

/// Debian packages the steps need, each with a file whose presence shows it is installed.
const APT_PACKAGES: &[(&str, &str)] = &[];

/// Where the demo listens; `xtask demo` prints this URL.
const DEMO_LISTEN: &str = "127.0.0.1:8080";

const USAGE: &str = "usage: cargo xtask <command>

commands:
  build   release build of the server: target/release/imps
  test    every test of the workspace
  demo    build, then serve on http://127.0.0.1:8080/ with open registration (./demo-data)
  setup   install what the other commands need (idempotent)";

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => setup().and_then(|()| build()),
        Some("test") => setup().and_then(|()| test()),
        Some("demo") => setup().and_then(|()| build()).and_then(|()| demo()),
        Some("setup") => setup(),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or(manifest.clone(), Path::to_path_buf)
}

/// The cargo that runs us (`CARGO`), else `cargo` from PATH.
fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs `cmd`, failing with its exit status.
fn run(mut cmd: Command) -> Result {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

/// Whether `cmd` runs and exits 0 (output discarded).
fn succeeds(mut cmd: Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---- setup ---------------------------------------------------------------------------------

/// Installs what is missing, and only that.
fn setup() -> Result {
    let missing_targets: Vec<&str> = RUSTUP_TARGETS
        .iter()
        .copied()
        .filter(|t| !rustup_target_installed(t))
        .collect();
    if !missing_targets.is_empty() {
        rustup_target_add(&missing_targets)?;
    }
    let missing_packages: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, marker)| !Path::new(marker).exists())
        .map(|(p, _)| *p)
        .collect();
    if !missing_packages.is_empty() {
        apt_install(&missing_packages)?;
    }
    Ok(())
}

fn rustup_target_installed(target: &str) -> bool {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    out.is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.trim() == target)
    })
}

/// `rustup target add TARGET...`.
fn rustup_target_add(targets: &[&str]) -> Result {
    let mut c = Command::new("rustup");
    c.args(["target", "add"]).args(targets);
    run(c).map_err(|e| format!("{e}\nxtask needs rustup to add the targets {targets:?}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `apt-get install -y PACKAGE...` as root, else through `sudo -n`; fails loudly when
/// neither is possible rather than skipping.
fn apt_install(packages: &[&str]) -> Result {
    let apt = |args: &[&str]| -> Command {
        let mut c = if is_root() {
            Command::new("apt-get")
        } else {
            let mut s = Command::new("sudo");
            s.args(["-n", "apt-get"]);
            s
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    if !is_root() {
        let mut probe = Command::new("sudo");
        probe.args(["-n", "true"]);
        if !succeeds(probe) {
            return Err(format!(
                "the Debian packages {packages:?} are missing and installing them needs root: \
                 run as root, allow passwordless sudo, or install them by hand"
            ));
        }
    }
    // The package lists may be missing or stale on a fresh machine.
    run(apt(&["update"]))?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    run(apt(&args))
}

// ---- build, test, demo ---------------------------------------------------------------------

/// `cargo build --release -p imps-host` → `target/release/imps`.
fn build() -> Result {
    let mut c = cargo();
    c.args(["build", "--release", "-p", "imps-host", "--bin", "imps"]);
    run(c)?;
    let bin = imps_binary();
    if !bin.exists() {
        return Err(format!("the build did not leave {}", bin.display()));
    }
    eprintln!("xtask: built {}", bin.display());
    Ok(())
}

fn imps_binary() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("release").join("imps")
}

/// Every test: all targets of every crate, then the doctests. Ends with one summary line,
/// `xtask: N passed, N failed, N skipped`, over every `cargo test` run.
fn test() -> Result {
    let mut total = Counts::default();
    let mut all = cargo();
    all.args(["test", "--workspace", "--all-targets"]);
    let first = run_tests(all, &mut total);
    let second = first.as_ref().ok().map(|()| {
        let mut doc = cargo();
        doc.args(["test", "--workspace", "--doc"]);
        run_tests(doc, &mut total)
    });
    println!(
        "xtask: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.ignored
    );
    first?;
    second.unwrap_or(Ok(()))
}

/// Test counts summed over `test result:` lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

/// Adds the counts of a libtest closing line
/// (`test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; ...`).
fn count_line(line: &str, total: &mut Counts) {
    let Some(rest) = line.trim().strip_prefix("test result:") else {
        return;
    };
    for part in rest.split(['.', ';']) {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        match what {
            "passed" => total.passed += n,
            "failed" => total.failed += n,
            "ignored" => total.ignored += n,
            _ => {}
        }
    }
}

/// Runs a `cargo test` command, echoing its stdout and counting its results.
fn run_tests(mut cmd: Command, total: &mut Counts) -> Result {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{line}");
            count_line(&line, total);
        }
    }
    let status = child.wait().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

/// Runs the release server with open registration on [`DEMO_LISTEN`] until Ctrl-C.
fn demo() -> Result {
    let mut child = Command::new(imps_binary())
        .args([
            "serve",
            "--listen",
            DEMO_LISTEN,
            "--data",
            "./demo-data",
            "--open-registration",
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", imps_binary().display()))?;
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        // The server prints one line once it listens; then the demo is reachable.
        if let Some(Ok(line)) = lines.next() {
            eprintln!("xtask: {line}");
            println!("IMPS demo: open http://{DEMO_LISTEN}/");
        }
        for line in lines.map_while(std::result::Result::ok) {
            println!("{line}");
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("imps serve ended: {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_libtest_closing_lines() {
        let mut c = Counts::default();
        count_line(
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.44s",
            &mut c,
        );
        count_line(
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            &mut c,
        );
        count_line("running 4 tests", &mut c);
        assert_eq!(
            c,
            Counts {
                passed: 15,
                failed: 2,
                ignored: 1
            }
        );
    }
}

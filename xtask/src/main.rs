//! `cargo xtask build|test|demo|setup|bench|fuzz`: every build step of the workspace, in Rust.
//!
//! Each command first runs [`setup`], which installs what the step needs, idempotently: a
//! check decides, and the installer runs only for what is missing. For now nothing is
//! needed beyond cargo; later issues add rustup targets (wasm32) and Debian packages
//! (chromium) to [`RUSTUP_TARGETS`] and [`APT_PACKAGES`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Rustup targets the steps need: the engine guest that `imps` embeds is built for
/// wasm32-unknown-unknown by `host-native/build.rs`.
const RUSTUP_TARGETS: &[&str] = &["wasm32-unknown-unknown"];

/// Debian packages the steps need, each with a file whose presence shows it is installed.
const APT_PACKAGES: &[(&str, &str)] = &[];

/// The cargo-fuzz targets of `fuzz/` (its own workspace, built with nightly).
const FUZZ_TARGETS: &[&str] = &["decode", "engine_inputs"];

/// The sanitizer of fuzz builds. The engine and the targets are safe Rust (`unsafe_code` is
/// denied), so AddressSanitizer finds little here and costs 5x: 305 against 1544 exec/s on
/// `engine_inputs`. Overflow checks and debug assertions stay on (cargo-fuzz's default).
const FUZZ_SANITIZER: &str = "none";

/// Seconds each target runs when `xtask fuzz` is given none.
const FUZZ_DEFAULT_SECONDS: u64 = 60;

/// Where the demo listens; `xtask demo` prints this URL.
const DEMO_LISTEN: &str = "127.0.0.1:8080";

const USAGE: &str = "usage: cargo xtask <command>

commands:
  build   release build of the server: target/release/imps
  test    every test of the workspace
  demo    build, then serve on http://127.0.0.1:8080/ with open registration (./demo-data)
  setup   install what the other commands need (idempotent)
  bench [FILTER]
          the criterion benchmarks (codec decode+encode of every sample, KeepAlive transaction)
  fuzz [TARGET] [SECONDS] [-- LIBFUZZER-FLAGS]
          run the cargo-fuzz targets (decode, engine_inputs; default all) for SECONDS each
          (default 60) on nightly; not part of `test`. See fuzz/README.md";

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => setup().and_then(|()| build()),
        Some("test") => setup().and_then(|()| test()),
        Some("demo") => setup().and_then(|()| build()).and_then(|()| demo()),
        Some("setup") => setup(),
        Some("bench") => setup().and_then(|()| bench(args.get(1..).unwrap_or_default())),
        Some("fuzz") => setup().and_then(|()| fuzz(args.get(1..).unwrap_or_default())),
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

/// `cargo bench -p imps-engine [-- FILTER]`: figures for issue notes (not a timed test).
fn bench(args: &[String]) -> Result {
    let mut c = cargo();
    c.args(["bench", "-p", "imps-engine", "--bench", "codec"]);
    if !args.is_empty() {
        c.arg("--").args(args);
    }
    run(c)
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
    // The host's integration tests ran against the wasm guest (their default); run them again
    // against the native engine: every scenario must pass in both modes.
    let third = second.as_ref().and_then(|r| r.as_ref().ok()).map(|()| {
        let mut native = cargo();
        native
            .args(["test", "-p", "imps-host", "--test", "*"])
            .env("IMPS_TEST_ENGINE", "native");
        run_tests(native, &mut total)
    });
    println!(
        "xtask: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.ignored
    );
    first?;
    second.unwrap_or(Ok(()))?;
    third.unwrap_or(Ok(()))
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

// ---- fuzz ----------------------------------------------------------------------------------

/// `cargo xtask fuzz [TARGET] [SECONDS] [-- LIBFUZZER-FLAGS]`: installs cargo-fuzz and
/// nightly when missing, then runs each target for SECONDS from `fuzz/`, with the committed
/// seeds as extra corpus. New crash inputs are copied to `fuzz/regressions/<target>/` (commit
/// them, after minimising with `cargo +nightly fuzz tmin`).
fn fuzz(args: &[String]) -> Result {
    let (ours, flags) = match args.iter().position(|a| a == "--") {
        Some(i) => (
            args.get(..i).unwrap_or_default(),
            args.get(i + 1..).unwrap_or_default(),
        ),
        None => (args, &[][..]),
    };
    let (targets, seconds) = fuzz_args(ours)?;
    fuzz_setup()?;
    let mut failed = Vec::new();
    for target in targets {
        if let Err(e) = fuzz_run(target, seconds, flags) {
            eprintln!("xtask: {e}");
            failed.push(target);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzz targets failed: {failed:?}"))
    }
}

/// Parses `[TARGET] [SECONDS]` (either may be left out; `all` names every target).
fn fuzz_args(args: &[String]) -> Result<(Vec<&'static str>, u64)> {
    let mut targets: Vec<&'static str> = FUZZ_TARGETS.to_vec();
    let mut seconds = FUZZ_DEFAULT_SECONDS;
    let mut rest = args.iter().map(String::as_str);
    let mut next = rest.next();
    if let Some(name) = next.filter(|a| a.parse::<u64>().is_err()) {
        if name != "all" {
            let target = FUZZ_TARGETS.iter().find(|t| **t == name).ok_or_else(|| {
                format!("unknown fuzz target {name:?}; targets: {FUZZ_TARGETS:?}")
            })?;
            targets = vec![*target];
        }
        next = rest.next();
    }
    if let Some(s) = next {
        seconds = s
            .parse()
            .map_err(|_| format!("SECONDS must be a number, not {s:?}"))?;
    }
    if let Some(extra) = rest.next() {
        return Err(format!("unexpected argument {extra:?}\n\n{USAGE}"));
    }
    Ok((targets, seconds))
}

/// Installs cargo-fuzz and the nightly toolchain, each only when missing.
fn fuzz_setup() -> Result {
    let mut version = cargo();
    version.args(["fuzz", "--version"]);
    if !succeeds(version) {
        // Without --locked: the registry copy may lack a locked dependency (TOOLCHAIN.md).
        let mut install = cargo();
        install.args(["install", "cargo-fuzz"]);
        run(install)?;
    }
    let toolchains = Command::new("rustup").args(["toolchain", "list"]).output();
    let has_nightly = toolchains.is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.starts_with("nightly"))
    });
    if !has_nightly {
        let mut c = Command::new("rustup");
        c.args(["toolchain", "install", "nightly", "--profile", "minimal"]);
        run(c).map_err(|e| format!("{e}\nxtask needs rustup to install the nightly toolchain"))?;
    }
    Ok(())
}

/// `cargo +nightly fuzz run --sanitizer none TARGET corpus/TARGET seeds/TARGET --
/// -max_total_time=SECONDS [-dict=dicts/TARGET.dict] FLAGS...` in `fuzz/`. libFuzzer writes new inputs to the first (ignored) corpus directory
/// only; the seeds are read. The regressions are not corpus: open ones (`open-*`) still crash,
/// and `engine/tests/fuzz_regressions.rs` replays them all anyway.
fn fuzz_run(target: &str, seconds: u64, flags: &[String]) -> Result {
    let dir = root().join("fuzz");
    let corpus = dir.join("corpus").join(target);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let mut inputs = vec![corpus];
    let seeds = dir.join("seeds").join(target);
    if seeds.is_dir() {
        inputs.push(seeds);
    }
    let dict = dir.join("dicts").join(format!("{target}.dict"));
    let artifacts = dir.join("artifacts").join(target);
    let before = list_files(&artifacts);
    // `rustup run nightly` rather than `cargo +nightly`: the cargo running xtask is not the
    // rustup proxy, and the toolchain it sets in the environment must not leak into nightly.
    let mut c = Command::new("rustup");
    c.args([
        "run",
        "nightly",
        "cargo",
        "fuzz",
        "run",
        "--sanitizer",
        FUZZ_SANITIZER,
    ])
    .arg(target)
    .args(&inputs)
    .arg("--")
    .arg(format!("-max_total_time={seconds}"))
    .arg("-timeout=10")
    .arg("-print_final_stats=1")
    .args(dict.is_file().then(|| format!("-dict={}", dict.display())))
    .args(flags)
    .current_dir(&dir)
    .env_remove("RUSTUP_TOOLCHAIN")
    .env_remove("CARGO");
    let outcome = run(c);
    let found: Vec<PathBuf> = list_files(&artifacts)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let regressions = dir.join("regressions").join(target);
    for p in &found {
        let Some(name) = p.file_name() else { continue };
        let to = regressions.join(name);
        std::fs::create_dir_all(&regressions)
            .and_then(|()| std::fs::copy(p, &to))
            .map_err(|e| format!("copying {} to {}: {e}", p.display(), to.display()))?;
        eprintln!(
            "xtask: {target} found {}; saved as {} (minimise: cd fuzz && cargo +nightly fuzz tmin {target} {})",
            p.display(),
            to.display(),
            p.display()
        );
    }
    outcome
}

/// The files directly in `dir` (none when it does not exist).
fn list_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default()
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

    #[test]
    fn fuzz_arguments() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(fuzz_args(&[]), Ok((FUZZ_TARGETS.to_vec(), 60)));
        assert_eq!(fuzz_args(&args(&["decode"])), Ok((vec!["decode"], 60)));
        assert_eq!(
            fuzz_args(&args(&["engine_inputs", "300"])),
            Ok((vec!["engine_inputs"], 300))
        );
        assert_eq!(fuzz_args(&args(&["120"])), Ok((FUZZ_TARGETS.to_vec(), 120)));
        assert_eq!(
            fuzz_args(&args(&["all", "5"])),
            Ok((FUZZ_TARGETS.to_vec(), 5))
        );
        assert!(fuzz_args(&args(&["nope"])).is_err());
        assert!(fuzz_args(&args(&["decode", "x"])).is_err());
        assert!(fuzz_args(&args(&["decode", "1", "2"])).is_err());
    }
}

//! Builds the engine guest (crate `imps-guest`) for `wasm32-unknown-unknown` so `imps` can
//! embed it (`include_bytes!`): one binary, no extra files. Two variants: the production guest
//! (embedded) and the `test-hooks` guest the host's tests load with `--guest`.
//!
//! The guest gets its own target directory (`<target>/guest`) and a release profile tuned by
//! environment (no debug info, abort on panic), so it never fights the outer build for a lock
//! and never inherits the outer build's flags or clippy wrapper.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.parent().unwrap_or(&manifest).to_path_buf();
    for watched in [
        "engine/src",
        "engine/Cargo.toml",
        "guest/src",
        "guest/Cargo.toml",
        "native-alloc/src",
        "native-alloc/Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("guest");
    let prod = out.join("imps_guest.wasm");
    let test = out.join("imps_guest_test_hooks.wasm");
    build(&root, &target_dir, false, &prod);
    build(&root, &target_dir, true, &test);
    println!("cargo:rustc-env=IMPS_GUEST_WASM={}", prod.display());
    // The `.cwasm` cache is named by the guest's digest; computing it here spares every start.
    let digest = match std::fs::read(&prod) {
        Ok(bytes) => {
            use sha1::{Digest, Sha1};
            Sha1::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        }
        Err(e) => {
            eprintln!("reading {}: {e}", prod.display());
            std::process::exit(1);
        }
    };
    println!("cargo:rustc-env=IMPS_GUEST_SHA1={digest}");
    println!("cargo:rustc-env=IMPS_TEST_GUEST_WASM={}", test.display());
}

fn build(root: &Path, target_dir: &Path, test_hooks: bool, dest: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--quiet",
            "-p",
            "imps-guest",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--target-dir",
        ])
        .arg(target_dir);
    if test_hooks {
        cmd.args(["--features", "test-hooks"]);
    }
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    // Whole-program optimisation (fat LTO, one codegen unit): the guest is one closed module,
    // so inlining across crates makes it both faster and smaller (fewer functions also load
    // faster from the `.cwasm`).
    // 128-bit SIMD, which wasmtime compiles on every host it runs on: memchr and the
    // vectorised loops (escaping, scanning) use it (11% fewer instructions per message).
    cmd.env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+simd128");
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    let status = cmd.status();
    let built = target_dir
        .join("wasm32-unknown-unknown")
        .join("release")
        .join("imps_guest.wasm");
    match status {
        Ok(s) if s.success() => {}
        Ok(_) | Err(_) => {
            println!(
                "cargo:warning=building the wasm guest failed ({status:?}); run `cargo xtask build` \
                 (it installs the wasm32-unknown-unknown target with `cargo xtask setup` first)"
            );
            eprintln!(
                "imps-host needs the engine guest built for wasm32-unknown-unknown. \
                 Run `cargo xtask build` (or `rustup target add wasm32-unknown-unknown`) and retry."
            );
            std::process::exit(1);
        }
    }
    if let Err(e) = std::fs::copy(&built, dest) {
        eprintln!("copying {} to {}: {e}", built.display(), dest.display());
        std::process::exit(1);
    }
}

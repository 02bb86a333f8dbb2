//! The engine through wasmtime against the same engine linked natively, in one run:
//!
//! - `im/{native,wasm}`: the IM steady state of the engine's `im` bench (alice's 100-byte
//!   SendMessage, bob's MessageDelivered whose reply brings the next message);
//! - `login/{native,wasm}`: a 2-way password Login (cheap hashing) then Logout;
//! - `startup/cached_cwasm_to_ready_instance`: the compiled guest loaded from its `.cwasm`,
//!   pre-instantiated, instantiated and initialised with a configuration;
//!
//! then a summary line per pair with the ratio (wasm throughput / native), and the guest's
//! `.wasm` size raw and gzipped (`gzip -9`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    dead_code,
    missing_docs
)]

mod cores;
#[path = "../../engine/benches/support/mod.rs"]
mod support;

use cores::{login_logout, native, wasm};
use support::Conversation;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use imps_host::wasm::{EMBEDDED_GUEST, GuestLimits, GuestModule, WasmCore};

fn module(cache: &std::path::Path) -> Arc<GuestModule> {
    Arc::new(GuestModule::load(EMBEDDED_GUEST, Some(cache), GuestLimits::default()).unwrap())
}

/// Mean time per call of `f` over `n` calls.
fn mean(n: u32, mut f: impl FnMut() -> Duration) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..n {
        total += f();
    }
    total / n
}

fn main() {
    let cache = tempfile::tempdir().unwrap();
    let module = module(cache.path());
    let mut c = Criterion::default().configure_from_args();

    let mut group = c.benchmark_group("im");
    group.throughput(Throughput::Elements(1));
    for (name, make) in [("native", None), ("wasm", Some(&module))] {
        let mut talk = Conversation::on(make.map_or_else(native, wasm));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| talk.step()).sum())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("login");
    group.throughput(Throughput::Elements(1));
    for (name, make) in [("native", None), ("wasm", Some(&module))] {
        let mut server = make.map_or_else(native, wasm);
        support::provision(&mut server, 0, "alice");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| login_logout(&mut server)).sum())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("startup");
    group.bench_function("cached_cwasm_to_ready_instance", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let m = Arc::new(
                    GuestModule::load(EMBEDDED_GUEST, Some(cache.path()), GuestLimits::default())
                        .unwrap(),
                );
                let core = WasmCore::new(m.clone(), support::cheap_config(), [1; 32]).unwrap();
                total += start.elapsed();
                assert!(matches!(m.source, imps_host::wasm::ModuleSource::Cached(_)));
                drop(core);
                drop(m);
            }
            total
        })
    });
    group.bench_function("fresh_instance_from_loaded_module", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let core = WasmCore::new(module.clone(), support::cheap_config(), [1; 32]).unwrap();
                total += start.elapsed();
                drop(core);
            }
            total
        })
    });
    group.finish();
    c.final_summary();

    // The summary, measured once more in one place so the ratios come from the same run.
    let mut native_talk = Conversation::on(native());
    let mut wasm_talk = Conversation::on(wasm(&module));
    let (n_im, w_im) = (
        mean(20_000, || native_talk.step()),
        mean(20_000, || wasm_talk.step()),
    );
    let mut n_server = native();
    let mut w_server = wasm(&module);
    support::provision(&mut n_server, 0, "alice");
    support::provision(&mut w_server, 0, "alice");
    let (n_login, w_login) = (
        mean(2_000, || login_logout(&mut n_server)),
        mean(2_000, || login_logout(&mut w_server)),
    );
    let start = mean(50, || {
        let t = Instant::now();
        let m = Arc::new(
            GuestModule::load(EMBEDDED_GUEST, Some(cache.path()), GuestLimits::default()).unwrap(),
        );
        let core = WasmCore::new(m, support::cheap_config(), [1; 32]).unwrap();
        let took = t.elapsed();
        drop(core);
        took
    });
    let gz = gzip_len(EMBEDDED_GUEST);
    let mut out = std::io::stdout().lock();
    let ratio = |n: Duration, w: Duration| n.as_secs_f64() / w.as_secs_f64();
    writeln!(
        out,
        "summary: im native {n_im:?} wasm {w_im:?} per send+ack, wasm/native throughput {:.2}x",
        ratio(n_im, w_im)
    )
    .unwrap();
    writeln!(
        out,
        "summary: login+logout native {n_login:?} wasm {w_login:?}, wasm/native throughput {:.2}x",
        ratio(n_login, w_login)
    )
    .unwrap();
    writeln!(
        out,
        "summary: start-up from the cached .cwasm to a ready instance {start:?}"
    )
    .unwrap();
    writeln!(
        out,
        "summary: guest .wasm {} bytes, gzipped {}",
        EMBEDDED_GUEST.len(),
        gz.map_or_else(|| "? (no gzip)".to_owned(), |n| format!("{n} bytes"))
    )
    .unwrap();
}

fn gzip_len(bytes: &[u8]) -> Option<usize> {
    let mut child = std::process::Command::new("gzip")
        .arg("-9c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    Some(out.stdout.len())
}

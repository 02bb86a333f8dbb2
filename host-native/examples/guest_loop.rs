//! Runs N steps of the IM conversation (alice's SendMessage, bob's acknowledgement) through
//! the engine as a wasmtime guest, for instruction counts under callgrind, which counts the
//! compiled guest's instructions too:
//! `valgrind --tool=callgrind --toggle-collect='*WasmCore*handle*' target/release/examples/guest_loop 5000 [GUEST.wasm]`
//! (the embedded guest by default; another `.wasm` compares two builds with the same host).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../benches/cores/mod.rs"]
mod cores;
#[path = "../../engine/benches/support/mod.rs"]
mod support;

use std::sync::Arc;

use imps_host::wasm::{EMBEDDED_GUEST, GuestLimits, GuestModule, WasmCore};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let bytes = args
        .next()
        .map(|p| std::fs::read(&p).expect("the guest file"));
    let guest = bytes.as_deref().unwrap_or(EMBEDDED_GUEST);
    let module = Arc::new(GuestModule::load(guest, None, GuestLimits::default()).unwrap());
    let core = WasmCore::new(module, support::cheap_config(), [9; 32]).unwrap();
    let mut talk = support::Conversation::on(Box::new(core) as Box<dyn imps_host::driver::Core>);
    let start = std::time::Instant::now();
    for _ in 0..n {
        talk.step();
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("{n} messages, {per:.2} µs per step");
}

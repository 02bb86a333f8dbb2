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

#[path = "../../engine/benches/support/mod.rs"]
mod support;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use imps_engine::client::{Client, ClientConfig, ClientInput, ClientOutput, Command, LoginScheme};
use imps_engine::codec::Version;
use imps_engine::server::{AdminCommand, Input, Output, Server};
use imps_host::driver::Core;
use imps_host::wasm::{EMBEDDED_GUEST, GuestLimits, GuestModule, WasmCore};

fn run<C: Core + ?Sized>(server: &mut C, input: Input) -> Vec<u8> {
    server.handle(0, input).map_err(|t| t.reason).unwrap();
    let mut body = Vec::new();
    while let Some(o) = server.poll_output() {
        if let Output::Reply(r) = o {
            body = r.body;
        }
    }
    body
}

/// `support::drive` over any [`Core`].
fn drive<C: Core + ?Sized>(server: &mut C, client: &mut Client) {
    let mut inbox = VecDeque::new();
    loop {
        while let Some(o) = client.poll_output() {
            if let ClientOutput::Send(out) = o {
                let body = run(server, support::request(out.request_id, out.body));
                inbox.push_back((out.request_id, body));
            }
        }
        let Some((request_id, body)) = inbox.pop_front() else {
            return;
        };
        client.handle(0, ClientInput::Response { request_id, body });
    }
}

fn provision<C: Core + ?Sized>(server: &mut C, users: &[&str]) {
    for (i, u) in users.iter().enumerate() {
        run(
            server,
            Input::Admin {
                id: i as u64,
                command: AdminCommand::ProvisionUser {
                    user_id: (*u).into(),
                    password: "pw".into(),
                },
            },
        );
    }
}

fn login<C: Core + ?Sized>(server: &mut C, user: &str) -> Client {
    let mut c = Client::new(
        ClientConfig::new(Version::V1_2, user, "pw", LoginScheme::Password),
        [7; 32],
    );
    c.handle(0, ClientInput::Command(Command::Login));
    drive(server, &mut c);
    assert!(c.is_ready(), "{user} logged in");
    c
}

/// `support::Conversation` over any [`Core`].
struct Conversation {
    server: Box<dyn Core>,
    sends: Vec<Vec<u8>>,
    bob: String,
    pending: (String, String),
    i: usize,
}

impl Conversation {
    fn new(mut server: Box<dyn Core>) -> Conversation {
        provision(&mut *server, &["alice", "bob"]);
        let alice = login(&mut *server, "alice")
            .session_id()
            .unwrap()
            .to_owned();
        let bob = login(&mut *server, "bob").session_id().unwrap().to_owned();
        let sends: Vec<Vec<u8>> = (0..4096).map(|i| support::send_body(&alice, i)).collect();
        run(&mut *server, support::request(1, sends[0].clone()));
        let reply = run(&mut *server, support::request(2, support::poll_body(&bob)));
        let pending = support::delivered(&reply).expect("bob got the first message");
        Conversation {
            server,
            sends,
            bob,
            pending,
            i: 1,
        }
    }

    /// One send and one acknowledgement; the time the server took.
    fn step(&mut self) -> Duration {
        let send = support::request(3, self.sends[self.i % self.sends.len()].clone());
        let ack = support::request(
            4,
            support::ack_body(&self.bob, &self.pending.0, &self.pending.1),
        );
        self.i += 1;
        let start = Instant::now();
        let answer = run(&mut *self.server, send);
        let reply = run(&mut *self.server, ack);
        let took = start.elapsed();
        assert!(!answer.is_empty());
        self.pending = support::delivered(&reply).expect("the next message rides on the ack");
        took
    }
}

/// Login then Logout of alice through a client; the time the server took.
fn login_logout(server: &mut dyn Core) -> Duration {
    let mut c = Client::new(
        ClientConfig::new(Version::V1_2, "alice", "pw", LoginScheme::Password),
        [7; 32],
    );
    let start = Instant::now();
    c.handle(0, ClientInput::Command(Command::Login));
    drive(server, &mut c);
    c.handle(0, ClientInput::Command(Command::Logout));
    drive(server, &mut c);
    let took = start.elapsed();
    assert!(!c.is_ready(), "logged out");
    took
}

fn module(cache: &std::path::Path) -> Arc<GuestModule> {
    Arc::new(GuestModule::load(EMBEDDED_GUEST, Some(cache), GuestLimits::default()).unwrap())
}

fn wasm(module: &Arc<GuestModule>) -> Box<dyn Core> {
    Box::new(WasmCore::new(module.clone(), support::cheap_config(), [9; 32]).unwrap())
}

fn native() -> Box<dyn Core> {
    Box::new(Server::new(support::cheap_config(), [9; 32]))
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
        let mut talk = Conversation::new(make.map_or_else(native, wasm));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| talk.step()).sum())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("login");
    group.throughput(Throughput::Elements(1));
    for (name, make) in [("native", None), ("wasm", Some(&module))] {
        let mut server = make.map_or_else(native, wasm);
        provision(&mut *server, &["alice"]);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| login_logout(&mut *server)).sum())
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
    let mut native_talk = Conversation::new(native());
    let mut wasm_talk = Conversation::new(wasm(&module));
    let (n_im, w_im) = (
        mean(20_000, || native_talk.step()),
        mean(20_000, || wasm_talk.step()),
    );
    let mut n_server = native();
    let mut w_server = wasm(&module);
    provision(&mut *n_server, &["alice"]);
    provision(&mut *w_server, &["alice"]);
    let (n_login, w_login) = (
        mean(2_000, || login_logout(&mut *n_server)),
        mean(2_000, || login_logout(&mut *w_server)),
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

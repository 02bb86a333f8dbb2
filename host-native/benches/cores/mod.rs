//! The engine's bench helpers (`support`) over the engine as a wasmtime guest too, shared by
//! the `guest` bench and the `guest_loop` example.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use imps_engine::client::{Client, ClientConfig, ClientInput, Command, LoginScheme};
use imps_engine::codec::Version;
use imps_engine::server::{Input, Output, Server};
use imps_host::driver::Core;
use imps_host::wasm::{GuestModule, WasmCore};

use super::support::{self, Serve};

impl Serve for Box<dyn Core> {
    fn serve(&mut self, input: Input) -> Option<Vec<u8>> {
        self.handle(0, input).map_err(|t| t.reason).unwrap();
        let mut body = None;
        while let Some(o) = self.poll_output() {
            if let Output::Reply(r) = o {
                body = Some(r.body);
            }
        }
        body
    }
}

/// Login then Logout of alice through a client; the time the server took.
pub fn login_logout(server: &mut Box<dyn Core>) -> Duration {
    let mut c = Client::new(
        ClientConfig::new(Version::V1_2, "alice", "pw", LoginScheme::Password),
        [7; 32],
    );
    let start = Instant::now();
    c.handle(0, ClientInput::Command(Command::Login));
    support::drive(server, &mut c);
    c.handle(0, ClientInput::Command(Command::Logout));
    support::drive(server, &mut c);
    let took = start.elapsed();
    assert!(!c.is_ready(), "logged out");
    took
}

/// The engine as a guest of `module`, with cheap password hashing.
pub fn wasm(module: &Arc<GuestModule>) -> Box<dyn Core> {
    Box::new(WasmCore::new(module.clone(), support::cheap_config(), [9; 32]).unwrap())
}

/// The engine linked natively, with cheap password hashing.
pub fn native() -> Box<dyn Core> {
    Box::new(Server::new(support::cheap_config(), [9; 32]))
}

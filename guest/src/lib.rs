//! The IMPS server engine as an import-free WebAssembly guest (DESIGN §1, §3.9).
//!
//! Built for `wasm32-unknown-unknown` as a core module that imports nothing: time, entropy,
//! requests and restored records all arrive through the exports below, in the encoding of
//! [`imps_engine::abi`], which documents the calls. The ABI version is both exported
//! ([`imps_abi_version`]) and stored in the custom section `imps_abi`, so a host can check it
//! before compiling the module.
//!
//! With the cargo feature `test-hooks` (tests only), a request whose body starts with
//! `IMPS-TEST-HOOK spin` loops forever and one starting with `IMPS-TEST-HOOK grow` allocates
//! until memory runs out, so the host's fuel/epoch and memory limits can be tested through
//! the wire.

// The ABI boundary: the host writes the input buffer and reads the output buffer in this
// module's linear memory through the pointers exchanged below; `no_mangle` and
// `link_section` are how a core module names its exports and custom sections.
#![allow(unsafe_code)]

use std::cell::RefCell;

use imps_engine::abi::{self, ABI_VERSION, Status};
#[cfg(feature = "test-hooks")]
use imps_engine::server::Input;
use imps_engine::server::Server;

/// The allocator: free lists per size class in front of talc (see `imps_alloc::pooled`).
/// Growing linear memory past the host's cap fails the allocation, which aborts (traps).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: imps_alloc::pooled::Wasm = imps_alloc::pooled::wasm();

/// [`ABI_VERSION`] as 4 little-endian bytes in the custom section `imps_abi`.
#[unsafe(link_section = "imps_abi")]
#[used]
pub static IMPS_ABI: [u8; 4] = ABI_VERSION.to_le_bytes();

/// The guest's state: the server once initialised, the buffer the host writes the next input
/// into and the buffer it reads the outputs from.
struct Guest {
    server: Option<Server>,
    input: Vec<u8>,
    output: Vec<u8>,
}

thread_local! {
    static GUEST: RefCell<Guest> = const {
        RefCell::new(Guest { server: None, input: Vec::new(), output: Vec::new() })
    };
}

/// The ABI version of this guest.
#[unsafe(no_mangle)]
pub extern "C" fn imps_abi_version() -> u32 {
    ABI_VERSION
}

/// A buffer of `len` bytes for the next input; returns its address.
#[unsafe(no_mangle)]
pub extern "C" fn imps_alloc(len: u32) -> u32 {
    GUEST.with_borrow_mut(|g| {
        g.input.clear();
        g.input.resize(len as usize, 0);
        g.input.as_mut_ptr() as usize as u32
    })
}

/// Starts a server from [`abi::encode_init`] bytes in the input buffer. Returns the outputs
/// as `imps_handle` does (none yet, only the status), or 0 if the bytes do not decode.
#[unsafe(no_mangle)]
pub extern "C" fn imps_init(ptr: u32, len: u32) -> u64 {
    GUEST.with_borrow_mut(|g| {
        let Guest {
            server,
            input,
            output,
        } = g;
        if !is_input(input, ptr, len) {
            return 0;
        }
        let Ok((config, seed)) = abi::decode_init(input) else {
            return 0;
        };
        let s = server.insert(Server::new(config, seed));
        drain(s, output)
    })
}

/// Feeds the [`abi::encode_input`] bytes in the input buffer to the server and drains it.
/// Returns `(ptr << 32) | len` of the [`abi::encode_outputs`] bytes, or 0 if the input does
/// not decode or no server was initialised.
#[unsafe(no_mangle)]
pub extern "C" fn imps_handle(ptr: u32, len: u32) -> u64 {
    with_server(ptr, len, |server, input, output| {
        let (now, decoded) = abi::decode_input(input).ok()?;
        #[cfg(feature = "test-hooks")]
        test_hooks::run(&decoded);
        server.handle(now, decoded);
        Some(drain(server, output))
    })
}

/// Answers the [`abi::encode_query`] bytes in the input buffer. Returns `(ptr << 32) | len`
/// of the [`abi::encode_answer`] bytes, or 0 if the query does not decode or no server was
/// initialised.
#[unsafe(no_mangle)]
pub extern "C" fn imps_query(ptr: u32, len: u32) -> u64 {
    with_server(ptr, len, |server, input, output| {
        let query = abi::decode_query(input).ok()?;
        abi::encode_answer(&abi::answer(server, &query), output);
        Some(packed(output))
    })
}

/// Runs `f` on the initialised server, the input buffer the host filled (`ptr`/`len`) and the
/// output buffer; 0 when there is no server, the buffer is not the one given, or `f` fails.
fn with_server(
    ptr: u32,
    len: u32,
    f: impl FnOnce(&mut Server, &[u8], &mut Vec<u8>) -> Option<u64>,
) -> u64 {
    GUEST.with_borrow_mut(|g| {
        let Guest {
            server,
            input,
            output,
        } = g;
        match server.as_mut() {
            Some(server) if is_input(input, ptr, len) => f(server, input, output).unwrap_or(0),
            _ => 0,
        }
    })
}

/// `(ptr << 32) | len` of `output`, as the exports return it.
fn packed(output: &[u8]) -> u64 {
    ((output.as_ptr() as usize as u64) << 32) | output.len() as u64
}

/// Whether `ptr`/`len` name the input buffer the host was given.
fn is_input(input: &[u8], ptr: u32, len: u32) -> bool {
    input.as_ptr() as usize == ptr as usize && input.len() == len as usize
}

fn drain(server: &mut Server, output: &mut Vec<u8>) -> u64 {
    abi::start_outputs(output);
    let mut count: u32 = 0;
    while let Some(o) = server.poll_output() {
        if abi::put_output(output, &o).is_err() {
            return 0;
        }
        count = count.saturating_add(1);
    }
    let status = Status {
        timeout: server.poll_timeout(),
        sessions: server.session_count() as u64,
        accounts: server.account_count() as u64,
    };
    abi::finish_outputs(output, count, status);
    packed(output)
}

#[cfg(feature = "test-hooks")]
mod test_hooks {
    use super::Input;

    /// Spins or exhausts memory when the request asks for it (see the crate doc).
    pub fn run(input: &Input) {
        let Input::Request(r) = input else {
            return;
        };
        if r.body.starts_with(b"IMPS-TEST-HOOK spin") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        if r.body.starts_with(b"IMPS-TEST-HOOK grow") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
            }
        }
    }
}

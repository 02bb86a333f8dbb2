//! `imps-host`: the native host of the IMPS engine (DESIGN §1).
//!
//! It owns everything the sans-IO engine must not touch: sockets ([`http`]), the clock, the
//! OS entropy, files ([`config`], [`sqlite`]) and the thread that drives the engine
//! ([`driver`]), which runs the engine natively or as a wasm guest ([`wasm`]), the wake-up
//! channels ([`cir`]), the admin endpoint and offline admin ([`admin`]) and `/metrics`
//! ([`metrics`]). The binary `imps` ([`serve`], [`codec_tool`]) is a thin command line over it.

pub mod admin;
pub mod cir;
pub mod codec_tool;
pub mod config;
pub mod driver;
pub mod http;
pub mod metrics;
pub mod record;
pub mod redact;
pub mod serve;
pub mod sqlite;
pub mod trap;
pub mod wasm;

pub use sqlite::SqliteStore;

/// A CSP message carrying one `Status` with `code` and `text`, as the host answers by itself
/// (body over the hard cap, engine gone, storage failure). Returns the content type and body.
pub fn csp_status(
    version: imps_engine::codec::Version,
    code: u16,
    text: &str,
) -> (&'static str, Vec<u8>) {
    use imps_engine::codec::{self, Message};
    let msg = Message::status(version, None, code, text);
    (version.xml_content_type(), codec::encode(&msg))
}

/// Best-effort CSP version of a message from the first bytes of its body (for answers the
/// host builds itself); CSP 1.2 when nothing names another version.
pub fn sniff_version(head: &[u8]) -> imps_engine::codec::Version {
    imps_engine::codec::sniff(head).0
}

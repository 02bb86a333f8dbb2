//! `imps-engine`: a sans-IO OMA IMPS (Wireless Village) engine.
//!
//! The [`codec`] turns CSP 1.1/1.2/1.3 XML into a typed model and back. The server and client
//! state machines take bytes, time and entropy as inputs and give replies, storage batches and
//! wake-ups as outputs; they never touch a socket, a file or a clock (DESIGN §1).

pub mod abi;
pub mod address;
pub(crate) mod boxmap;
pub mod client;
pub mod codec;
pub mod datetime;
pub mod server;
pub mod store;
pub mod vecmap;

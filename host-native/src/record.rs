//! `imps serve --record FILE` and `imps replay FILE`: every input the engine gets, with its
//! time and the seed of every engine instance, so a run replays to byte-identical outputs in
//! the native engine and in the wasm guest (DESIGN §1: "our strongest test").
//!
//! The file holds credentials (login passwords arrive as inputs): it is created with mode
//! 0600 and recording is opt-in.
//!
//! Layout: `IMPSREC1`, then frames `kind: u8, len: u32 LE, payload`:
//! - kind 1, an engine start: [`abi::encode_init`] bytes (configuration and seed);
//! - kind 2, one input: the SHA-1 of the outputs it produced (20 bytes, see [`digest`]), then
//!   its [`abi::encode_input`] bytes (time and input, with wall clock and peer).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use imps_engine::abi::{self, Status};
use imps_engine::server::{Config, Input, Millis, Output};
use sha1::{Digest, Sha1};

use crate::driver::{Core, Trapped};

const MAGIC: &[u8; 8] = b"IMPSREC1";
const FRAME_INIT: u8 = 1;
const FRAME_INPUT: u8 = 2;

/// The SHA-1 of the ABI encoding of `outputs` with the deadline and account count after them.
pub fn digest(
    outputs: &[Output],
    timeout: Option<Millis>,
    accounts: usize,
) -> Result<[u8; 20], String> {
    let status = Status {
        timeout,
        sessions: 0,
        accounts: accounts as u64,
    };
    let bytes = abi::encode_outputs(outputs, status).map_err(|e| e.to_string())?;
    Ok(Sha1::digest(&bytes).into())
}

/// A [`Core`] that writes every input and the digest of its outputs to a record file.
pub struct Recorder<C> {
    inner: C,
    config: Config,
    file: Option<BufWriter<File>>,
    buffered: VecDeque<Output>,
}

impl<C: Core> Recorder<C> {
    /// Records `inner`, which was just built from `config` and `seed`, into `path` (created or
    /// truncated, mode 0600).
    pub fn create(inner: C, path: &Path, config: Config, seed: [u8; 32]) -> Result<Self, String> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // An existing file keeps its mode on open: narrow it too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut w = BufWriter::new(file);
        w.write_all(MAGIC).map_err(|e| e.to_string())?;
        let mut rec = Recorder {
            inner,
            config,
            file: Some(w),
            buffered: VecDeque::new(),
        };
        rec.frame(
            FRAME_INIT,
            &[],
            &abi::encode_init(&rec.config, &seed).map_err(|e| e.to_string())?,
        );
        Ok(rec)
    }

    fn frame(&mut self, kind: u8, head: &[u8], body: &[u8]) {
        let Some(w) = self.file.as_mut() else {
            return;
        };
        let len = u32::try_from(head.len() + body.len()).unwrap_or(u32::MAX);
        let written = w
            .write_all(&[kind])
            .and_then(|()| w.write_all(&len.to_le_bytes()))
            .and_then(|()| w.write_all(head))
            .and_then(|()| w.write_all(body))
            .and_then(|()| w.flush());
        if let Err(e) = written {
            tracing::error!("recording stopped: {e}");
            self.file = None;
        }
    }
}

impl<C: Core> Core for Recorder<C> {
    fn handle(&mut self, now: Millis, input: Input) -> Result<(), Trapped> {
        let encoded = if self.file.is_some() {
            abi::encode_input(now, &input).ok()
        } else {
            None
        };
        // A trapping input is not recorded: its effects are gone, the restart that follows is.
        self.inner.handle(now, input)?;
        while let Some(o) = self.inner.poll_output() {
            self.buffered.push_back(o);
        }
        if let Some(encoded) = encoded {
            let outputs: Vec<Output> = self.buffered.iter().cloned().collect();
            match digest(
                &outputs,
                self.inner.poll_timeout(),
                self.inner.account_count(),
            ) {
                Ok(d) => self.frame(FRAME_INPUT, &d, &encoded),
                Err(e) => tracing::error!("recording: {e}"),
            }
        }
        Ok(())
    }
    fn poll_output(&mut self) -> Option<Output> {
        self.buffered.pop_front()
    }
    fn poll_timeout(&self) -> Option<Millis> {
        self.inner.poll_timeout()
    }
    fn account_count(&self) -> usize {
        self.inner.account_count()
    }
    fn query(&mut self, query: &abi::Query) -> Result<abi::Answer, String> {
        // Read-only: nothing to record.
        self.inner.query(query)
    }
    fn reset(&mut self, seed: [u8; 32]) -> Result<(), String> {
        self.inner.reset(seed)?;
        self.buffered.clear();
        let init = abi::encode_init(&self.config, &seed).map_err(|e| e.to_string())?;
        self.frame(FRAME_INIT, &[], &init);
        Ok(())
    }
}

/// What a replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Engine starts replayed.
    pub starts: usize,
    /// Inputs replayed.
    pub inputs: usize,
    /// Outputs they produced.
    pub outputs: usize,
    /// SHA-1 over every replayed output (the same in every engine for the same file).
    pub digest: String,
}

/// Replays `path` through engines made by `make(config, seed)`; fails at the first input
/// whose outputs differ from the recorded ones.
pub fn replay(
    path: &Path,
    mut make: impl FnMut(Config, [u8; 32]) -> Result<Box<dyn Core>, String>,
) -> Result<ReplayReport, String> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| format!("{}: not an imps record file", path.display()))?;
    let mut report = ReplayReport::default();
    let mut all = Sha1::new();
    let mut core: Option<Box<dyn Core>> = None;
    while !rest.is_empty() {
        let (&kind, tail) = rest.split_first().ok_or("truncated frame")?;
        let (len, tail) = tail.split_at_checked(4).ok_or("truncated frame")?;
        let len = u32::from_le_bytes(len.try_into().map_err(|_| "truncated frame")?) as usize;
        let Some((payload, tail)) = tail.split_at_checked(len) else {
            // A frame cut by a crash while recording: the inputs before it still replay.
            tracing::warn!("the record ends in a partial frame; ignoring it");
            break;
        };
        rest = tail;
        match kind {
            FRAME_INIT => {
                let (config, seed) = abi::decode_init(payload).map_err(|e| e.to_string())?;
                core = Some(make(config, seed)?);
                report.starts += 1;
            }
            FRAME_INPUT => {
                let c = core.as_mut().ok_or("an input before any engine start")?;
                let (want, input) = payload.split_at_checked(20).ok_or("short input frame")?;
                let (now, input) = abi::decode_input(input).map_err(|e| e.to_string())?;
                report.inputs += 1;
                c.handle(now, input).map_err(|t| {
                    format!("input {}: the engine trapped: {}", report.inputs, t.reason)
                })?;
                let mut outputs = Vec::new();
                while let Some(o) = c.poll_output() {
                    outputs.push(o);
                }
                let got = digest(&outputs, c.poll_timeout(), c.account_count())?;
                if got.as_slice() != want {
                    return Err(format!(
                        "input {} (at {now} ms): the outputs differ from the recorded ones",
                        report.inputs
                    ));
                }
                all.update(got);
                report.outputs += outputs.len();
            }
            other => return Err(format!("unknown frame kind {other}")),
        }
    }
    report.digest = all.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(report)
}

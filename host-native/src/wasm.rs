//! The engine as a WebAssembly guest under wasmtime (DESIGN §1): the embedded `.wasm`, its
//! ABI check, the `.cwasm` cache in the data directory, the memory cap and the epoch limit.
//!
//! One [`GuestModule`] per process (one wasmtime `Engine`, one pre-instantiated module);
//! [`WasmServer`] is one running instance with the same driving surface as the native
//! `Server` (see [`crate::driver::Core`]).

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imps_engine::abi::{self, ABI_SECTION, ABI_VERSION, Status};
use imps_engine::server::{Config, Input, Millis, Output};
use wasmtime::{
    Engine, InstancePre, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, Trap,
    TypedFunc,
};

/// The production guest, built by `build.rs` and embedded in the binary. A `static`, not a
/// `const`: one address in every crate, by which [`GuestModule::load`] recognises it.
pub static EMBEDDED_GUEST: &[u8] = include_bytes!(env!("IMPS_GUEST_WASM"));

/// SHA-1 of [`EMBEDDED_GUEST`] in hex, computed by `build.rs`: hashing the guest takes longer
/// than the rest of start-up together.
pub const EMBEDDED_GUEST_SHA1: &str = env!("IMPS_GUEST_SHA1");

/// How often the epoch advances; the time limit is counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits of one guest instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestLimits {
    /// Largest linear memory, bytes. Growing past it fails inside the guest, which traps.
    pub memory_bytes: usize,
    /// Longest a single input may run before the guest is interrupted.
    pub time_limit: Duration,
}

impl Default for GuestLimits {
    fn default() -> Self {
        GuestLimits {
            memory_bytes: 512 << 20,
            time_limit: Duration::from_secs(10),
        }
    }
}

/// Reads the ABI version from the `imps_abi` custom section of a `.wasm`, without compiling
/// it; also refuses a module that imports anything (the guest must be import-free).
pub fn guest_abi_version(wasm: &[u8]) -> Result<u32, String> {
    let mut rest = wasm
        .strip_prefix(b"\0asm\x01\0\0\0")
        .ok_or("not a WebAssembly core module")?;
    let mut version = None;
    while let Some((&id, tail)) = rest.split_first() {
        let (size, tail) = leb(tail).ok_or("truncated section header")?;
        let (body, tail) = tail
            .split_at_checked(size as usize)
            .ok_or("truncated section")?;
        match id {
            0 => {
                let (name_len, b) = leb(body).ok_or("bad custom section")?;
                let (name, payload) = b
                    .split_at_checked(name_len as usize)
                    .ok_or("bad custom section")?;
                if name == ABI_SECTION.as_bytes() {
                    let bytes: [u8; 4] = payload
                        .try_into()
                        .map_err(|_| "the imps_abi section is not 4 bytes")?;
                    version = Some(u32::from_le_bytes(bytes));
                }
            }
            2 => {
                let (count, _) = leb(body).ok_or("bad import section")?;
                if count > 0 {
                    return Err(format!(
                        "the guest imports {count} item(s); it must import nothing"
                    ));
                }
            }
            _ => {}
        }
        rest = tail;
    }
    version.ok_or_else(|| format!("no `{ABI_SECTION}` section: not an IMPS engine guest"))
}

fn leb(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, bytes.get(i + 1..)?));
        }
    }
    None
}

/// What each store carries: its memory limiter.
pub struct GuestState {
    limits: StoreLimits,
}

/// The compiled guest: one wasmtime engine and the pre-instantiated module, shared by every
/// instance of the process. Dropping it stops the epoch ticker.
pub struct GuestModule {
    engine: Engine,
    pre: InstancePre<GuestState>,
    limits: GuestLimits,
    ticker: Option<std::thread::JoinHandle<()>>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    /// Where the compiled module came from (for logs).
    pub source: ModuleSource,
}

/// How [`GuestModule::load`] got its machine code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSource {
    /// Loaded from this cached `.cwasm`.
    Cached(PathBuf),
    /// Compiled now and written to this `.cwasm`.
    Compiled(PathBuf),
    /// Compiled now, not cached (no cache directory).
    Uncached,
}

impl std::fmt::Debug for GuestModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestModule")
            .field("limits", &self.limits)
            .field("source", &self.source)
            .finish()
    }
}

/// The wasmtime configuration every guest runs under.
pub fn engine() -> Result<Engine, String> {
    let mut cfg = wasmtime::Config::new();
    // Epochs rather than fuel: a load and compare at loop heads and calls, much cheaper than
    // counting fuel, and enough to stop a runaway input.
    cfg.epoch_interruption(true);
    cfg.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // The guest is built with 128-bit SIMD (wasmtime's default; said here because the guest
    // needs it).
    cfg.wasm_simd(true);
    // `IMPS_GUEST_PERFMAP=1` writes /tmp/perf-PID.map so `perf report` names guest frames.
    if std::env::var_os("IMPS_GUEST_PERFMAP").is_some_and(|v| v == "1") {
        cfg.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&cfg).map_err(|e| format!("wasmtime: {e}"))
}

/// The `.cwasm` name for `wasm` under `engine`: changes with the guest's bytes and with the
/// wasmtime version and settings (which decide whether a `.cwasm` loads at all).
pub fn cache_name(engine: &Engine, wasm: &[u8]) -> String {
    let digest = guest_sha1(wasm);
    // SipHash with fixed keys: stable across runs of the same build.
    #[allow(deprecated)]
    let mut sip = std::hash::SipHasher::new();
    engine.precompile_compatibility_hash().hash(&mut sip);
    let hex = digest.get(..24).unwrap_or(&digest);
    format!("guest-{hex}-{:016x}.cwasm", sip.finish())
}

/// SHA-1 of `wasm` in hex; the build-time digest when `wasm` is the embedded guest itself.
fn guest_sha1(wasm: &[u8]) -> String {
    if std::ptr::eq(wasm, EMBEDDED_GUEST) {
        return EMBEDDED_GUEST_SHA1.to_owned();
    }
    use sha1::{Digest, Sha1};
    Sha1::digest(wasm)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl GuestModule {
    /// Checks the guest's ABI version, then loads its machine code from `cache_dir` (the data
    /// directory) or compiles it and caches it there. Stale `.cwasm` files are removed.
    pub fn load(
        wasm: &[u8],
        cache_dir: Option<&Path>,
        limits: GuestLimits,
    ) -> Result<GuestModule, String> {
        let version = guest_abi_version(wasm)?;
        if version != ABI_VERSION {
            return Err(format!(
                "the guest speaks ABI version {version}, this host speaks {ABI_VERSION}: \
                 rebuild them together (`cargo xtask build`)"
            ));
        }
        let engine = engine()?;
        let (module, source) = match cache_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = dir.join(cache_name(&engine, wasm));
                match load_cached(&engine, &path) {
                    Some(m) => (m, ModuleSource::Cached(path)),
                    None => {
                        let bytes = engine
                            .precompile_module(wasm)
                            .map_err(|e| format!("compiling the guest: {e}"))?;
                        remove_stale(dir, &path);
                        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
                        let written = std::fs::write(&tmp, &bytes)
                            .and_then(|()| std::fs::rename(&tmp, &path));
                        if let Err(e) = written {
                            tracing::warn!("cannot cache the guest in {}: {e}", path.display());
                        }
                        (deserialize(&engine, &bytes)?, ModuleSource::Compiled(path))
                    }
                }
            }
            None => (
                Module::new(&engine, wasm).map_err(|e| format!("compiling the guest: {e}"))?,
                ModuleSource::Uncached,
            ),
        };
        if module.imports().len() != 0 {
            return Err("the guest imports something; it must import nothing".into());
        }
        let linker = Linker::new(&engine);
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| format!("pre-instantiating the guest: {e}"))?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let ticker = {
            let engine = engine.clone();
            std::thread::Builder::new()
                .name("imps-epoch".into())
                .spawn(move || {
                    // Ticks until the module is dropped (the sender goes away).
                    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                        stopped.recv_timeout(EPOCH_TICK)
                    {
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| format!("cannot start the epoch thread: {e}"))?
        };
        Ok(GuestModule {
            engine,
            pre,
            limits,
            ticker: Some(ticker),
            stop: Some(stop),
            source,
        })
    }

    /// The limits every instance gets.
    pub fn limits(&self) -> GuestLimits {
        self.limits
    }

    /// A fresh instance running `Server::new(config, seed)`.
    pub fn instantiate(
        self: &Arc<Self>,
        config: &Config,
        seed: [u8; 32],
    ) -> Result<WasmServer, GuestError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(1)
            .build();
        let mut store = Store::new(&self.engine, GuestState { limits });
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.ticks());
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| GuestError::Setup(format!("instantiating the guest: {e}")))?;
        let func = |name: &str| GuestError::Setup(format!("the guest lacks `{name}`"));
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| func("memory"))?;
        let alloc = instance
            .get_typed_func::<u32, u32>(&mut store, "imps_alloc")
            .map_err(|_| func("imps_alloc"))?;
        let init = instance
            .get_typed_func::<(u32, u32), u64>(&mut store, "imps_init")
            .map_err(|_| func("imps_init"))?;
        let handle = instance
            .get_typed_func::<(u32, u32), u64>(&mut store, "imps_handle")
            .map_err(|_| func("imps_handle"))?;
        let query = instance
            .get_typed_func::<(u32, u32), u64>(&mut store, "imps_query")
            .map_err(|_| func("imps_query"))?;
        let version = instance
            .get_typed_func::<(), u32>(&mut store, "imps_abi_version")
            .map_err(|_| func("imps_abi_version"))?
            .call(&mut store, ())
            .map_err(|e| GuestError::Setup(format!("imps_abi_version: {e}")))?;
        if version != ABI_VERSION {
            return Err(GuestError::Setup(format!(
                "the guest reports ABI version {version}, this host speaks {ABI_VERSION}"
            )));
        }
        let mut server = WasmServer {
            module: self.clone(),
            store,
            memory,
            alloc,
            handle,
            query,
            outputs: VecDeque::new(),
            status: Status::default(),
            warned_memory: false,
        };
        let bytes =
            abi::encode_init(config, &seed).map_err(|e| GuestError::Setup(e.to_string()))?;
        server.call(&init, &bytes)?;
        Ok(server)
    }

    fn ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_millis().max(1);
        u64::try_from(self.limits.time_limit.as_millis() / tick)
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

impl Drop for GuestModule {
    fn drop(&mut self) {
        self.stop = None;
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Module, String> {
    // SAFETY: the bytes come from `Engine::precompile_module` of this very engine just now.
    #[allow(unsafe_code)]
    let module = unsafe { Module::deserialize(engine, bytes) };
    module.map_err(|e| format!("loading the compiled guest: {e}"))
}

fn load_cached(engine: &Engine, path: &Path) -> Option<Module> {
    if !path.exists() {
        return None;
    }
    // SAFETY: the file is one this host wrote into its own data directory (mode 0700) under a
    // name that encodes the guest's hash and wasmtime's compatibility hash; wasmtime itself
    // also checks the version and configuration recorded in the file.
    #[allow(unsafe_code)]
    let module = unsafe { Module::deserialize_file(engine, path) };
    match module {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!("ignoring the cached guest {}: {e}", path.display());
            None
        }
    }
}

/// Removes other `guest-*.cwasm` files (older guests or wasmtime builds) from `dir`.
fn remove_stale(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if p != keep && name.starts_with("guest-") && name.ends_with(".cwasm") {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// Why a call into the guest failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestError {
    /// The guest trapped (ran out of time or memory, or hit a bug); its state is gone.
    Trap(String),
    /// The guest could not be set up or refused its input (a host/guest mismatch).
    Setup(String),
}

impl std::fmt::Display for GuestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuestError::Trap(t) => write!(f, "guest trap: {t}"),
            GuestError::Setup(t) => write!(f, "guest: {t}"),
        }
    }
}

/// One guest instance running a server.
pub struct WasmServer {
    module: Arc<GuestModule>,
    store: Store<GuestState>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    handle: TypedFunc<(u32, u32), u64>,
    query: TypedFunc<(u32, u32), u64>,
    outputs: VecDeque<Output>,
    status: Status,
    warned_memory: bool,
}

impl WasmServer {
    /// Feeds one input; the outputs are then available from [`WasmServer::poll_output`].
    pub fn handle(&mut self, now: Millis, input: &Input) -> Result<(), GuestError> {
        let bytes = abi::encode_input(now, input).map_err(|e| GuestError::Setup(e.to_string()))?;
        let f = self.handle.clone();
        self.call(&f, &bytes)
    }

    /// The next output of the last input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The engine's next deadline.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.status.timeout
    }

    /// Status after the last input (deadline, sessions, accounts).
    pub fn status(&self) -> Status {
        self.status
    }

    /// Bytes of linear memory in use.
    pub fn memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    /// Answers a read-only question (no state changes, nothing to drain).
    pub fn query(&mut self, query: &abi::Query) -> Result<abi::Answer, GuestError> {
        let f = self.query.clone();
        let range = self.invoke(&f, &abi::encode_query(query))?;
        abi::decode_answer(guest_bytes(&self.memory, &self.store, range)?)
            .map_err(|e| GuestError::Setup(e.to_string()))
    }

    fn call(&mut self, f: &TypedFunc<(u32, u32), u64>, bytes: &[u8]) -> Result<(), GuestError> {
        let range = self.invoke(f, bytes)?;
        let data = guest_bytes(&self.memory, &self.store, range)?;
        self.status = abi::decode_outputs(data, &mut self.outputs)
            .map_err(|e| GuestError::Setup(e.to_string()))?;
        self.check_memory();
        Ok(())
    }

    /// Writes `bytes` into the guest, calls `f` on them and returns where in the guest's
    /// memory its answer is.
    fn invoke(
        &mut self,
        f: &TypedFunc<(u32, u32), u64>,
        bytes: &[u8],
    ) -> Result<std::ops::Range<usize>, GuestError> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| GuestError::Setup("input larger than 4 GiB".into()))?;
        self.store.set_epoch_deadline(self.module.ticks());
        let ptr = self.alloc.call(&mut self.store, len).map_err(trap)?;
        self.memory
            .write(&mut self.store, ptr as usize, bytes)
            .map_err(|e| GuestError::Setup(format!("writing the input: {e}")))?;
        let packed = f.call(&mut self.store, (ptr, len)).map_err(trap)?;
        let (out_ptr, out_len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        if out_len == 0 {
            return Err(GuestError::Setup("the guest refused its input".into()));
        }
        Ok(out_ptr..out_ptr.saturating_add(out_len))
    }

    fn check_memory(&mut self) {
        let used = self.memory_bytes();
        let cap = self.module.limits.memory_bytes;
        let high = used.saturating_mul(5) >= cap.saturating_mul(4);
        if high && !self.warned_memory {
            tracing::warn!(
                "the engine guest uses {} MiB of its {} MiB memory cap (80% or more): lower the \
                 configured limits or raise --guest-memory-mib before it traps",
                used >> 20,
                cap >> 20
            );
        }
        self.warned_memory = high;
    }
}

/// The guest's answer bytes at `range` of its memory.
fn guest_bytes<'a>(
    memory: &Memory,
    store: &'a Store<GuestState>,
    range: std::ops::Range<usize>,
) -> Result<&'a [u8], GuestError> {
    memory
        .data(store)
        .get(range)
        .ok_or_else(|| GuestError::Setup("outputs outside the guest's memory".into()))
}

fn trap(e: wasmtime::Error) -> GuestError {
    let what = match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => "time limit exceeded (epoch interrupt)".to_owned(),
        Some(Trap::UnreachableCodeReached) => {
            "the guest aborted (out of memory or an engine bug)".to_owned()
        }
        Some(t) => t.to_string(),
        None => format!("{e:#}"),
    };
    GuestError::Trap(what)
}

/// Time since `start`, for start-up logs.
pub fn elapsed_us(start: Instant) -> u128 {
    start.elapsed().as_micros()
}

/// A [`WasmServer`] as a [`crate::driver::Core`]: knows its configuration so it can rebuild
/// itself after a trap.
pub struct WasmCore {
    module: Arc<GuestModule>,
    config: Config,
    server: WasmServer,
}

impl WasmCore {
    /// A guest instance running `Server::new(config, seed)`.
    pub fn new(
        module: Arc<GuestModule>,
        config: Config,
        seed: [u8; 32],
    ) -> Result<WasmCore, String> {
        let server = module
            .instantiate(&config, seed)
            .map_err(|e| e.to_string())?;
        Ok(WasmCore {
            module,
            config,
            server,
        })
    }

    /// The running instance.
    pub fn server(&self) -> &WasmServer {
        &self.server
    }
}

impl crate::driver::Core for WasmCore {
    fn handle(&mut self, now: Millis, input: Input) -> Result<(), crate::driver::Trapped> {
        self.server
            .handle(now, &input)
            .map_err(|e| crate::driver::Trapped {
                reason: e.to_string(),
                input: Box::new(input),
            })
    }
    fn poll_output(&mut self) -> Option<Output> {
        self.server.poll_output()
    }
    fn poll_timeout(&self) -> Option<Millis> {
        self.server.poll_timeout()
    }
    fn account_count(&self) -> usize {
        usize::try_from(self.server.status().accounts).unwrap_or(usize::MAX)
    }
    fn query(&mut self, query: &abi::Query) -> Result<abi::Answer, String> {
        self.server.query(query).map_err(|e| e.to_string())
    }
    fn guest_memory(&self) -> Option<(usize, usize)> {
        Some((self.server.memory_bytes(), self.module.limits.memory_bytes))
    }
    fn reset(&mut self, seed: [u8; 32]) -> Result<(), String> {
        self.server = self
            .module
            .instantiate(&self.config, seed)
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_embedded_guest_is_import_free_and_speaks_this_abi() {
        assert_eq!(guest_abi_version(EMBEDDED_GUEST), Ok(ABI_VERSION));
    }

    /// The embedded guest with its `imps_abi` section rewritten to `version`.
    fn with_abi(version: u32) -> Vec<u8> {
        let mut wasm = EMBEDDED_GUEST.to_vec();
        let name = ABI_SECTION.as_bytes();
        let at = wasm
            .windows(name.len() + 1)
            .position(|w| w.first() == Some(&(name.len() as u8)) && w.get(1..) == Some(name))
            .unwrap();
        let payload = at + 1 + name.len();
        wasm[payload..payload + 4].copy_from_slice(&version.to_le_bytes());
        wasm
    }

    #[test]
    fn a_guest_of_another_abi_version_is_refused_before_compiling() {
        let err = GuestModule::load(&with_abi(ABI_VERSION + 1), None, GuestLimits::default())
            .unwrap_err();
        let (theirs, ours) = (ABI_VERSION + 1, ABI_VERSION);
        assert!(err.contains(&format!("ABI version {theirs}")), "{err}");
        assert!(err.contains(&format!("this host speaks {ours}")), "{err}");
        let err = GuestModule::load(b"\0asm\x01\0\0\0", None, GuestLimits::default()).unwrap_err();
        assert!(err.contains("not an IMPS engine guest"), "{err}");
        assert!(guest_abi_version(b"garbage").is_err());
    }

    #[test]
    fn the_build_time_digest_is_the_embedded_guests() {
        // A copy is hashed at run time; the embedded bytes themselves use the build's digest.
        let copy = EMBEDDED_GUEST.to_vec();
        assert_eq!(guest_sha1(&copy), EMBEDDED_GUEST_SHA1);
        assert_eq!(guest_sha1(EMBEDDED_GUEST), EMBEDDED_GUEST_SHA1);
        assert_eq!(EMBEDDED_GUEST_SHA1.len(), 40);
    }

    #[test]
    fn the_cwasm_is_cached_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("guest-stale-0.cwasm"), b"old").unwrap();
        let m =
            GuestModule::load(EMBEDDED_GUEST, Some(dir.path()), GuestLimits::default()).unwrap();
        let ModuleSource::Compiled(path) = m.source.clone() else {
            panic!("{:?}", m.source)
        };
        assert!(path.exists());
        assert!(!dir.path().join("guest-stale-0.cwasm").exists());
        drop(m);
        let m =
            GuestModule::load(EMBEDDED_GUEST, Some(dir.path()), GuestLimits::default()).unwrap();
        assert_eq!(m.source, ModuleSource::Cached(path.clone()));
        // A corrupt cache file is replaced, not fatal.
        drop(m);
        std::fs::write(&path, b"corrupt").unwrap();
        let m =
            GuestModule::load(EMBEDDED_GUEST, Some(dir.path()), GuestLimits::default()).unwrap();
        assert_eq!(m.source, ModuleSource::Compiled(path));
    }
}

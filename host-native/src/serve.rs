//! `imps serve`: configuration, key, store, engine thread, HTTP listener, clean shutdown.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;

use imps_engine::server::{Config, Server};

use crate::config::{self, KeySource};
use crate::driver::{Core, DriverOptions};
use crate::wasm::{GuestLimits, GuestModule, WasmCore};
use crate::{driver, http, record, sqlite};

/// How the engine runs inside the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// The embedded wasm guest under wasmtime (memory cap, time limit, rebuilt on a trap).
    #[default]
    Wasm,
    /// Linked into the binary.
    Native,
}

/// Builds the engine of `kind` from `config` and `seed`. `guest` replaces the embedded guest
/// (tests load one with test hooks); `cache` is where the compiled `.cwasm` is kept.
pub fn make_core(
    kind: EngineKind,
    config: Config,
    seed: [u8; 32],
    guest: Option<&std::path::Path>,
    cache: Option<&std::path::Path>,
    limits: GuestLimits,
) -> Result<Box<dyn Core>, String> {
    match kind {
        EngineKind::Native => Ok(Box::new(Server::new(config, seed))),
        EngineKind::Wasm => {
            let wasm = match guest {
                Some(p) => std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?,
                None => crate::wasm::EMBEDDED_GUEST.to_vec(),
            };
            let start = std::time::Instant::now();
            let module = Arc::new(GuestModule::load(&wasm, cache, limits)?);
            let core = WasmCore::new(module.clone(), config, seed)?;
            tracing::info!(
                "engine guest ready in {} µs ({:?}; {} KiB wasm, memory cap {} MiB, time limit {} ms)",
                crate::wasm::elapsed_us(start),
                module.source,
                wasm.len() >> 10,
                limits.memory_bytes >> 20,
                limits.time_limit.as_millis()
            );
            Ok(Box::new(core))
        }
    }
}

/// Options of `imps serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Data directory (created if missing).
    pub data: PathBuf,
    /// TOML configuration file.
    pub config: Option<PathBuf>,
    /// Sets `login.open_registration`.
    pub open_registration: bool,
    /// How the engine runs.
    pub engine: EngineKind,
    /// Record every engine input to this file (`--record`; it holds credentials).
    pub record: Option<PathBuf>,
    /// Keep the raw input of a guest trap under `DATA/trap-inputs` (`--keep-trap-inputs`).
    pub keep_trap_inputs: bool,
    /// Load this guest `.wasm` instead of the embedded one.
    pub guest: Option<PathBuf>,
    /// Memory cap and time limit of the guest.
    pub guest_limits: GuestLimits,
    /// Where the compiled guest is cached (default: the data directory).
    pub guest_cache: Option<PathBuf>,
}

/// Runs the server until SIGINT or SIGTERM. Prints `listening on http://ADDR` on stdout once
/// bound; logs go to stderr.
pub fn serve(opts: ServeOptions) -> Result<(), String> {
    let mut config = config::load(opts.config.as_deref())?;
    if opts.open_registration {
        config.login.open_registration = true;
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&opts.data)
        .map_err(|e| format!("{}: {e}", opts.data.display()))?;
    match config::ensure_server_key(&mut config, &opts.data)? {
        KeySource::Configured => tracing::info!("server key from the configuration"),
        KeySource::File => tracing::info!(
            "server key from {}",
            opts.data.join(config::KEY_FILE).display()
        ),
        KeySource::Generated => tracing::warn!(
            "generated a server key in {}; configure server_key for a key kept apart from the data",
            opts.data.join(config::KEY_FILE).display()
        ),
    }
    let store = sqlite::SqliteStore::open_in(&opts.data)
        .map_err(|e| format!("{}: {e}", opts.data.display()))?;
    tracing::info!(
        "domain {}, data in {}, open registration {}, engine {:?}",
        config.domain,
        store.path().display(),
        config.login.open_registration,
        opts.engine
    );
    let seed = config::os_seed()?;
    let core = make_core(
        opts.engine,
        config.clone(),
        seed,
        opts.guest.as_deref(),
        Some(opts.guest_cache.as_deref().unwrap_or(&opts.data)),
        opts.guest_limits,
    )?;
    let core: Box<dyn Core> = match &opts.record {
        Some(path) => {
            tracing::warn!(
                "recording every engine input to {} (it holds passwords: keep it private)",
                path.display()
            );
            Box::new(record::Recorder::create(core, path, config, seed)?)
        }
        None => core,
    };
    let options = DriverOptions {
        keep_trap_inputs: opts.keep_trap_inputs.then(|| opts.data.join("trap-inputs")),
    };
    let (client, engine_thread) = driver::spawn_with(core, store, options)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&opts.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{addr}")
                .and_then(|()| out.flush())
                .map_err(|e| e.to_string())?;
        }
        tracing::info!("CSP endpoint http://{addr}/imps");
        let app = http::router(client).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("server: {e}"))
    });
    // Shut down the runtime (and with it the last engine clients) before joining the engine.
    drop(runtime);
    if engine_thread.join().is_err() {
        return Err("the engine thread panicked".into());
    }
    tracing::info!("stopped");
    result
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

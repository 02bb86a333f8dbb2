//! `imps serve`: configuration, key, store, engine thread, listeners (CSP over HTTP with
//! `/metrics`, `/healthz` and the SHTTP/WebSocket wake-up routes; STCP; the admin endpoint),
//! clean shutdown.
//!
//! Shutdown on SIGTERM or SIGINT: the listeners stop accepting, requests in flight are
//! answered, the wake-up channels are closed, then the engine thread ends after its last
//! turn's commit (every acknowledged change is already durable: replies are released only
//! after their commit), and the admin endpoint's files are removed.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use imps_engine::server::{Config, Server};

use crate::config::{self, KeySource};
use crate::driver::Core;
use crate::wasm::{GuestLimits, GuestModule, WasmCore};
use crate::{admin, cir, driver, http, metrics, record, sqlite};

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
            // Borrowed when embedded, so `GuestModule::load` recognises it and uses the digest
            // computed at build time instead of hashing 2 MB on every start.
            let wasm: std::borrow::Cow<'static, [u8]> = match guest {
                Some(p) => std::fs::read(p)
                    .map_err(|e| format!("{}: {e}", p.display()))?
                    .into(),
                None => crate::wasm::EMBEDDED_GUEST.into(),
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
    /// Address to listen on (`127.0.0.1:0` picks a free port); `[host] listen` when `None`.
    pub listen: Option<String>,
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

fn say(line: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

/// Runs the server until SIGINT or SIGTERM. Prints `listening on http://ADDR` on stdout once
/// bound, then `stcp listening on ADDR` and `admin listening on http://ADDR` for the other
/// listeners it runs; logs go to stderr.
pub fn serve(opts: ServeOptions) -> Result<(), String> {
    let (mut config, host) = config::load_full(opts.config.as_deref())?;
    if opts.open_registration {
        config.login.open_registration = true;
    }
    let Some(_lock) = admin::try_lock(&opts.data)? else {
        return Err(format!(
            "another imps serve runs on {} (it holds {})",
            opts.data.display(),
            admin::LOCK_FILE
        ));
    };
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

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let listen = opts.listen.clone().unwrap_or_else(|| host.listen.clone());
    let bind = |addr: String, what: &'static str| {
        runtime.block_on(async move {
            let l = tokio::net::TcpListener::bind(&addr)
                .await
                .map_err(|e| format!("cannot listen on {addr} ({what}): {e}"))?;
            let bound = l.local_addr().map_err(|e| e.to_string())?;
            Ok::<_, String>((l, bound))
        })
    };
    let (listener, addr) = bind(listen, "CSP")?;
    let stcp = match &host.stcp_listen {
        Some(a) => Some(bind(a.clone(), "STCP")?),
        None => None,
    };
    let admin_listener = if host.admin {
        let parsed: Option<SocketAddr> = host.admin_listen.parse().ok();
        match parsed {
            Some(a) => admin::check_loopback(&a)?,
            None => {
                return Err(format!(
                    "admin_listen must be a loopback IP address and port, not {:?}",
                    host.admin_listen
                ));
            }
        }
        Some(bind(host.admin_listen.clone(), "admin")?)
    } else {
        None
    };
    // The channels are offered from the addresses actually bound unless configured.
    if let Some((_, a)) = &stcp
        && config.cir.stcp.is_none()
    {
        config.cir.stcp = Some((a.ip().to_string(), a.port()));
    }
    if host.shttp && config.cir.shttp_base.is_none() {
        config.cir.shttp_base = Some(format!("http://{addr}/cir"));
    }

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
    let metrics = Arc::new(metrics::Metrics::default());
    let hub = cir::Hub::new(Some(Arc::clone(&metrics)));
    let hooks = driver::Hooks {
        cir: Some(hub.clone()),
        metrics: Some(Arc::clone(&metrics)),
        keep_trap_inputs: opts.keep_trap_inputs.then(|| opts.data.join("trap-inputs")),
    };
    let (client, engine_thread) = driver::spawn_with(core, store, hooks)?;

    let admin_token = match &admin_listener {
        Some((_, a)) => Some(admin::publish_endpoint(&opts.data, *a)?),
        None => None,
    };
    say(&format!("listening on http://{addr}"))?;
    if let Some((_, a)) = &stcp {
        say(&format!("stcp listening on {a}"))?;
    }
    if let Some((_, a)) = &admin_listener {
        say(&format!("admin listening on http://{a}"))?;
    }
    tracing::info!("CSP endpoint http://{addr}/imps");

    let result = runtime.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let mut tasks = Vec::new();
        if let Some((l, _)) = stcp {
            tasks.push(tokio::spawn(cir::serve_stcp(
                l,
                client.clone(),
                hub.clone(),
            )));
        }
        if let (Some((l, _)), Some(token)) = (admin_listener, admin_token) {
            let app = admin::router(client.clone(), token);
            let stop = stopped(stop_rx.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(l, app).with_graceful_shutdown(stop).await {
                    tracing::error!("admin endpoint: {e}");
                }
            }));
        }
        let app = http::router_with(client.clone(), Some(Arc::clone(&metrics)))
            .merge(metrics::router(client.clone(), Arc::clone(&metrics)))
            .merge(cir::router(client.clone(), hub.clone()))
            .merge(crate::web::router(
                host.web_root.as_deref().map(std::path::Path::new),
            ))
            .into_make_service_with_connect_info::<SocketAddr>();
        drop(client);
        let hub_at_stop = hub.clone();
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                // Wake-up connections are long-lived: closing them lets the graceful
                // shutdown finish.
                hub_at_stop.close();
                stop_tx.send_replace(true);
            })
            .await
            .map_err(|e| format!("server: {e}"));
        hub.close();
        for t in tasks {
            let _ = t.await;
        }
        result
    });
    // Shut down the runtime (and with it the last engine clients) before joining the engine.
    drop(runtime);
    if engine_thread.join().is_err() {
        return Err("the engine thread panicked".into());
    }
    admin::unpublish_endpoint(&opts.data);
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

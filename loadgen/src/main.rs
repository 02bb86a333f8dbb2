//! `imps-bench`: the IMPSB-1 load generator. It provisions a fresh data directory, starts
//! `imps serve` on loopback, and drives it over HTTP with many simulated CSP clients (the
//! engine's own client state machine), wake-ups over STCP, through the IMPSB-1 phases: login
//! ramp, steady state, offline phase, big-group storm, logout. Every message carries a
//! sequence number and its send time, so losses, duplicates and latencies are exact. Exits
//! non-zero when anything was lost, duplicated or answered with an error.

mod server;
mod sim;
mod stats;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;

use sim::{Action, Pool, Shared, big_group_id, group_id, password, user_name};
use stats::{Kind, Percentiles, Stats, Totals};

/// Contacts per user (IMPSB-1).
const CONTACTS: u32 = 18;
/// Members of an ordinary group.
const GROUP_SIZE: u32 = 20;
/// Members of the big group.
const BIG_GROUP: u32 = 200;

/// IMPSB-1 load generator for `imps serve`.
#[derive(Parser, Debug, Clone)]
#[command(name = "imps-bench", version, about)]
struct Cli {
    /// Registered users (a multiple of 20 is best: groups have 20 members).
    #[arg(long, default_value_t = 2000)]
    users: u32,
    /// Rate factor: presence every 300/S s, a message to a contact every 60/S s, to a group
    /// every 120/S s.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Length of the steady state, seconds.
    #[arg(long, default_value_t = 300.0)]
    steady_secs: f64,
    /// Logins started per second during the ramp.
    #[arg(long, default_value_t = 100.0)]
    login_rate: f64,
    /// Seconds over which the 200 big-group members join in the storm.
    #[arg(long, default_value_t = 10.0)]
    storm_secs: f64,
    /// Message size, bytes.
    #[arg(long, default_value_t = 100)]
    message_bytes: usize,
    /// Worker threads carrying the clients' HTTP requests.
    #[arg(long, default_value_t = 32)]
    workers: u32,
    /// Seed of the contact graph and the schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The `imps` binary (default: `imps` next to this one).
    #[arg(long)]
    imps: Option<PathBuf>,
    /// `imps serve --engine` value (e.g. native, wasm), passed through; a comma-separated
    /// list runs once per engine, each on a fresh server, and compares them side by side.
    #[arg(long)]
    engine: Option<String>,
    /// Also write the figures as a Markdown table (one column per engine) to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Keep the server's default Argon2 cost (the bench lowers it so logins measure the
    /// protocol, not the password hash).
    #[arg(long)]
    real_hash: bool,
    /// Seconds to wait for outstanding deliveries at the end of each phase.
    #[arg(long, default_value_t = 30.0)]
    drain_secs: f64,
    /// Print the report as JSON on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
}

/// The figures of one run.
#[derive(Debug, Serialize)]
struct Report {
    users: u32,
    scale: f64,
    steady_secs: f64,
    engine: String,
    provision_secs: f64,
    setup_secs: f64,
    login_rate_per_s: f64,
    login_latency: Percentiles,
    presence_fan_out: Percentiles,
    presence_fan_outs_incomplete: u64,
    latency: Vec<(Kind, Percentiles)>,
    steady_delivered_per_s: f64,
    delivered_items: u64,
    server_cpu_secs: f64,
    server_cpu_secs_per_1000_items: f64,
    server_rss_bytes: u64,
    server_rss_per_online_user_bytes: f64,
    server_rss_growth_per_online_user_bytes: f64,
    wire_bytes_per_delivered_message: f64,
    wire_bytes_total: u64,
    http_requests: u64,
    transport_retries: u64,
    wakeups: u64,
    group_notices: u64,
    errors: u64,
    first_errors: Vec<String>,
    totals: Totals,
    lost: u64,
    duplicated: u64,
    missing: std::collections::BTreeMap<Kind, u64>,
    clean_shutdown: bool,
    total_secs: f64,
    /// Nothing lost, duplicated or answered with an error, and a clean shutdown.
    passed: bool,
}

/// The contact graph: a random circulant 18-regular graph (users placed on a ring in seeded
/// random order, each linked to the 9 nearest on each side), so every link is mutual.
fn contact_graph(n: u32, rng: &mut ChaCha20Rng) -> Vec<Vec<u32>> {
    let mut order: Vec<u32> = (0..n).collect();
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut contacts = vec![Vec::new(); n as usize];
    let half = (CONTACTS / 2).min(n.saturating_sub(1) / 2);
    for (pos, u) in order.iter().enumerate() {
        for d in 1..=half as usize {
            for p in [
                (pos + d) % order.len(),
                (pos + order.len() - d) % order.len(),
            ] {
                if let (Some(c), Some(list)) = (order.get(p), contacts.get_mut(*u as usize)) {
                    list.push(*c);
                }
            }
        }
    }
    contacts
}

/// Waits for `count` completions on `rx`.
fn wait(rx: &Receiver<()>, count: usize) {
    for _ in 0..count {
        if rx.recv().is_err() {
            return;
        }
    }
}

/// Waits until no delivery is outstanding, at most `secs`.
fn drain(stats: &Stats, secs: f64) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    while stats.totals().outstanding > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Run {
    cli: Cli,
    pool: Pool,
    tx: Sender<()>,
    rx: Receiver<()>,
    phase: Arc<Mutex<String>>,
    rng: ChaCha20Rng,
}

impl Run {
    fn phase(&self, p: &str) {
        if let Ok(mut g) = self.phase.lock() {
            *g = p.to_owned();
        }
    }

    fn act(&self, u: u32, a: Action) {
        self.pool.act(u, a, &self.tx);
    }

    /// Dispatches one action per user of `users` at `rate` per second, then waits for all.
    fn paced(&self, users: &[u32], rate: f64, action: impl Fn(u32) -> Action) {
        let started = Instant::now();
        for (k, u) in users.iter().enumerate() {
            let at = started + Duration::from_secs_f64(k as f64 / rate.max(0.001));
            if let Some(d) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            self.act(*u, action(*u));
        }
        wait(&self.rx, users.len());
    }

    fn groups_of(&self, u: u32) -> Vec<String> {
        let mut g = vec![group_id(u / GROUP_SIZE, GROUP_SIZE)];
        if u < self.big_n() {
            g.push(big_group_id());
        }
        g
    }

    fn big_n(&self) -> u32 {
        self.cli.users.min(BIG_GROUP)
    }

    fn group_members(&self, u: u32) -> u32 {
        let first = u / GROUP_SIZE * GROUP_SIZE;
        (self.cli.users - first).min(GROUP_SIZE)
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        if v.is_empty() {
            return None;
        }
        v.get((self.rng.next_u64() % v.len() as u64) as usize)
            .copied()
    }

    /// The steady state: each user's presence, direct and group timers, at random phases.
    fn steady(&mut self, contacts: &[Vec<u32>]) -> usize {
        let s = self.cli.scale.max(0.001);
        let periods = [300.0 / s, 60.0 / s, 120.0 / s];
        let mut heap = BinaryHeap::new();
        for u in 0..self.cli.users {
            for (what, p) in periods.iter().enumerate() {
                let first = (self.rng.next_u64() as f64 / u64::MAX as f64) * p;
                heap.push(Reverse(((first * 1000.0) as u64, u, what)));
            }
        }
        let started = Instant::now();
        let end_ms = (self.cli.steady_secs * 1000.0) as u64;
        let mut dispatched = 0;
        while let Some(Reverse((at, u, what))) = heap.pop() {
            if at >= end_ms {
                break;
            }
            let due = started + Duration::from_millis(at);
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            let action = match what {
                0 => Action::Presence {
                    watchers: contacts.get(u as usize).map_or(0, |c| c.len() as u32),
                },
                1 => match contacts.get(u as usize).and_then(|c| self.pick(c)) {
                    Some(to) => Action::Direct {
                        to,
                        kind: Kind::Direct,
                    },
                    None => continue,
                },
                _ => {
                    if u < self.big_n() && self.chance(0.05) {
                        Action::Group {
                            group: big_group_id(),
                            kind: Kind::Big,
                            expected: self.big_n() - 1,
                        }
                    } else {
                        Action::Group {
                            group: group_id(u / GROUP_SIZE, GROUP_SIZE),
                            kind: Kind::Group,
                            expected: self.group_members(u) - 1,
                        }
                    }
                }
            };
            self.act(u, action);
            dispatched += 1;
            let p = periods.get(what).copied().unwrap_or(60.0);
            heap.push(Reverse((at + (p * 1000.0) as u64, u, what)));
        }
        wait(&self.rx, dispatched);
        dispatched
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run_all(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("imps-bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// One run per engine asked for; prints the tables (and the comparison), the JSON and the
/// Markdown. True when every run passed.
fn run_all(cli: &Cli) -> Result<bool, String> {
    let engines: Vec<Option<String>> = match &cli.engine {
        Some(list) => list.split(',').map(|e| Some(e.trim().to_owned())).collect(),
        None => vec![None],
    };
    let mut reports = Vec::new();
    for engine in engines {
        let report = run(cli, engine)?;
        let table = table(&report);
        if cli.json {
            eprintln!("{table}");
        } else {
            println!("{table}");
        }
        reports.push(report);
    }
    if reports.len() > 1 && !cli.json {
        println!("{}", markdown(&reports));
    }
    if cli.json {
        let json = match reports.as_slice() {
            [one] => serde_json::to_string_pretty(one),
            all => serde_json::to_string_pretty(all),
        };
        println!("{}", json.map_err(|e| e.to_string())?);
    }
    if let Some(path) = &cli.markdown {
        std::fs::write(path, markdown(&reports)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(reports.iter().all(|r| r.passed))
}

/// One IMPSB-1 run against a fresh `imps serve --engine ENGINE`.
fn run(cli: &Cli, engine: Option<String>) -> Result<Report, String> {
    if cli.users < 2 * GROUP_SIZE {
        return Err(format!("--users must be at least {}", 2 * GROUP_SIZE));
    }
    let imps = match &cli.imps {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("imps"),
    };
    let total_started = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("imps.toml"), server::config(cli.real_hash))
        .map_err(|e| e.to_string())?;
    let accounts: Vec<(String, String)> = (0..cli.users)
        .map(|i| (user_name(i), password(i)))
        .collect();
    eprintln!("provisioning {} users with imps user import …", cli.users);
    let provision_secs = server::provision(&imps, dir.path(), &accounts)?;
    let mut extra = Vec::new();
    if let Some(e) = &engine {
        extra.push("--engine".to_owned());
        extra.push(e.clone());
    }
    let srv = server::Server::start(&imps, dir.path(), &extra)?;
    let pid = srv.pid();
    eprintln!(
        "imps serve (pid {pid}) on {}, STCP {}; log {}",
        srv.base,
        srv.stcp,
        srv.log.display()
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let shared = Arc::new(Shared {
        stats: Stats::new(),
        base: srv.base.clone(),
        stcp: srv.stcp.clone(),
        message_bytes: cli.message_bytes,
        rt: rt.handle().clone(),
    });
    // The STCP connections' runtime runs on its own thread until the run ends.
    let stop_rt = Arc::new(AtomicBool::new(false));
    let rt_thread = {
        let stop = Arc::clone(&stop_rt);
        std::thread::spawn(move || {
            rt.block_on(async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        })
    };
    let mut rng = ChaCha20Rng::seed_from_u64(cli.seed);
    let contacts = contact_graph(cli.users, &mut rng);
    let pool = Pool::start(&shared, cli.users, cli.workers.max(1), cli.seed);
    let (tx, rx) = mpsc::channel();
    let phase = Arc::new(Mutex::new(String::from("setup")));
    let progress_stop = Arc::new(AtomicBool::new(false));
    let progress = {
        let (shared, phase, stop) = (
            Arc::clone(&shared),
            Arc::clone(&phase),
            Arc::clone(&progress_stop),
        );
        std::thread::spawn(move || {
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() < Duration::from_secs(2) {
                    continue;
                }
                last = Instant::now();
                let t = shared.stats.totals();
                let p = phase.lock().map(|p| p.clone()).unwrap_or_default();
                eprintln!(
                    "[{:6.1} s] {p:<14} sent {:>7}  delivered {:>8}/{:<8} presence {:>7}  requests {:>8}  errors {}",
                    shared.stats.start.elapsed().as_secs_f64(),
                    t.sent,
                    t.delivered,
                    t.expected,
                    t.presence_notes,
                    shared.stats.requests.load(Ordering::Relaxed),
                    shared.stats.error_count.load(Ordering::Relaxed),
                );
            }
        })
    };
    let mut r = Run {
        cli: cli.clone(),
        pool,
        tx,
        rx,
        phase,
        rng,
    };
    let n = cli.users;
    let all: Vec<u32> = (0..n).collect();
    let stats = &shared.stats;

    // Setup (not measured): contact lists, grants, groups.
    let t = Instant::now();
    for u in 0..n {
        let mut creates = Vec::new();
        if u % GROUP_SIZE == 0 {
            creates.push(group_id(u / GROUP_SIZE, GROUP_SIZE));
        }
        if u == 0 {
            creates.push(big_group_id());
        }
        r.act(
            u,
            Action::Setup {
                contacts: contacts.get(u as usize).cloned().unwrap_or_default(),
                creates,
            },
        );
    }
    wait(&r.rx, n as usize);
    let setup_secs = t.elapsed().as_secs_f64();
    let setup_errors = stats.error_count.load(Ordering::Relaxed);
    if setup_errors > 0 {
        eprintln!(
            "setup had {setup_errors} error(s): {:?}",
            stats.error_texts()
        );
    }

    // Measured from here.
    let cpu0 = server::cpu_seconds(pid).unwrap_or(0.0);
    let rss0 = server::rss_bytes(pid).unwrap_or(0);
    let bytes0 = stats.wire_bytes.load(Ordering::Relaxed);

    r.phase("login ramp");
    let t = Instant::now();
    r.paced(&all, cli.login_rate, |u| Action::Login {
        groups: r.groups_of(u),
    });
    let login_secs = t.elapsed().as_secs_f64();
    // Let the presence notifications of the ramp settle.
    std::thread::sleep(Duration::from_millis(1500));
    let rss_online = server::rss_bytes(pid).unwrap_or(0);

    r.phase("steady state");
    let before = stats.totals();
    let steady_bytes0 = stats.wire_bytes.load(Ordering::Relaxed);
    let t = Instant::now();
    r.steady(&contacts);
    drain(stats, cli.drain_secs);
    let steady_elapsed = t.elapsed().as_secs_f64();
    let after = stats.totals();
    let steady_bytes = stats.wire_bytes.load(Ordering::Relaxed) - steady_bytes0;
    let steady_messages = after.delivered.saturating_sub(before.delivered);
    let steady_delivered = (after.delivered + after.presence_notes)
        .saturating_sub(before.delivered + before.presence_notes);

    r.phase("offline");
    let mut order = all.clone();
    for i in (1..order.len()).rev() {
        let j = (r.rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let away: Vec<u32> = order.iter().copied().take((n / 10) as usize).collect();
    r.paced(&away, cli.login_rate * 4.0, |_| Action::Logout);
    let mut sends = 0;
    for o in &away {
        for c in contacts.get(*o as usize).into_iter().flatten() {
            if away.contains(c) {
                continue;
            }
            for _ in 0..5 {
                r.act(
                    *c,
                    Action::Direct {
                        to: *o,
                        kind: Kind::Offline,
                    },
                );
                sends += 1;
            }
        }
    }
    wait(&r.rx, sends);
    r.paced(&away, cli.login_rate, |u| Action::Login {
        groups: r.groups_of(u),
    });
    r.paced(&away, f64::MAX, |_| Action::Poll);
    drain(stats, cli.drain_secs);

    r.phase("big-group storm");
    let big: Vec<u32> = (0..r.big_n()).collect();
    r.paced(&big, f64::MAX, |_| Action::Leave {
        group: big_group_id(),
    });
    r.paced(&big, f64::from(r.big_n()) / cli.storm_secs.max(0.1), |_| {
        Action::Join {
            group: big_group_id(),
        }
    });
    // Notices are coalesced per group: let the last batch go out.
    std::thread::sleep(Duration::from_millis(2500));
    r.paced(&[0], 1.0, |_| Action::Group {
        group: big_group_id(),
        kind: Kind::Storm,
        expected: r.big_n() - 1,
    });
    drain(stats, cli.drain_secs);

    r.phase("logout");
    r.paced(&all, cli.login_rate * 4.0, |_| Action::Logout);
    drain(stats, 1.0);
    let cpu1 = server::cpu_seconds(pid).unwrap_or(cpu0);
    let bytes = stats.wire_bytes.load(Ordering::Relaxed) - bytes0;

    progress_stop.store(true, Ordering::Relaxed);
    let _ = progress.join();
    let Run { pool, .. } = r;
    pool.stop();
    stop_rt.store(true, Ordering::Relaxed);
    let _ = rt_thread.join();
    let clean_shutdown = srv.stop();

    let totals = stats.totals();
    let notices = stats.notices.load(Ordering::Relaxed);
    let items = totals.delivered + totals.presence_notes + notices;
    let cpu = cpu1 - cpu0;
    let errors = stats.error_count.load(Ordering::Relaxed);
    let mut report = Report {
        users: n,
        scale: cli.scale,
        steady_secs: cli.steady_secs,
        engine: engine.unwrap_or_else(|| "default".into()),
        provision_secs,
        setup_secs,
        login_rate_per_s: f64::from(n) / login_secs,
        login_latency: stats.login_latency(),
        presence_fan_out: stats.fan_out(),
        presence_fan_outs_incomplete: stats.fan_outs_incomplete(),
        latency: stats.latencies(),
        steady_delivered_per_s: steady_delivered as f64 / steady_elapsed,
        delivered_items: items,
        server_cpu_secs: cpu,
        server_cpu_secs_per_1000_items: cpu * 1000.0 / (items.max(1) as f64),
        server_rss_bytes: rss_online,
        server_rss_per_online_user_bytes: rss_online as f64 / f64::from(n),
        server_rss_growth_per_online_user_bytes: rss_online.saturating_sub(rss0) as f64
            / f64::from(n),
        wire_bytes_per_delivered_message: steady_bytes as f64 / steady_messages.max(1) as f64,
        wire_bytes_total: bytes,
        http_requests: stats.requests.load(Ordering::Relaxed),
        transport_retries: stats.retries.load(Ordering::Relaxed),
        wakeups: stats.wakeups.load(Ordering::Relaxed),
        group_notices: notices,
        errors,
        first_errors: stats.error_texts(),
        totals,
        lost: totals.outstanding,
        duplicated: totals.duplicates + totals.strays,
        missing: stats.missing_by_kind(),
        clean_shutdown,
        total_secs: total_started.elapsed().as_secs_f64(),
        passed: false,
    };
    report.passed =
        report.lost == 0 && report.duplicated == 0 && report.errors == 0 && report.clean_shutdown;
    Ok(report)
}

fn table(r: &Report) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| s.push_str(&format!("{k:<42} {v}\n"));
    let pct = |p: &Percentiles| {
        format!(
            "p50 {:8.1} ms  p95 {:8.1} ms  p99 {:8.1} ms  max {:8.1} ms  (n={})",
            p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms, p.count
        )
    };
    line(
        "IMPSB-1",
        format!(
            "{} users, scale {}, steady {} s, engine {}",
            r.users, r.scale, r.steady_secs, r.engine
        ),
    );
    line(
        "provisioning (imps user import)",
        format!("{:.1} s", r.provision_secs),
    );
    line(
        "setup (lists, grants, groups)",
        format!("{:.1} s", r.setup_secs),
    );
    line("login rate", format!("{:.1} /s", r.login_rate_per_s));
    line("login sequence latency", pct(&r.login_latency));
    line(
        "presence fan-out (publish → last watcher)",
        pct(&r.presence_fan_out),
    );
    for (k, p) in &r.latency {
        line(&format!("delivery latency {k:?}"), pct(p));
    }
    line(
        "steady-state delivered items",
        format!("{:.1} /s", r.steady_delivered_per_s),
    );
    line(
        "delivered items (messages+presence+notices)",
        r.delivered_items.to_string(),
    );
    line(
        "server CPU",
        format!(
            "{:.2} s, {:.3} s per 1,000 delivered items",
            r.server_cpu_secs, r.server_cpu_secs_per_1000_items
        ),
    );
    line(
        "server RSS (all online)",
        format!(
            "{:.1} MiB, {:.1} KiB per online user ({:.1} KiB growth over the login ramp)",
            r.server_rss_bytes as f64 / 1048576.0,
            r.server_rss_per_online_user_bytes / 1024.0,
            r.server_rss_growth_per_online_user_bytes / 1024.0
        ),
    );
    line(
        "wire bytes per delivered message",
        format!(
            "{:.0} (steady state: CSP bodies of all requests and answers, presence and polls \
             included, per message delivery); {:.1} MiB in all",
            r.wire_bytes_per_delivered_message,
            r.wire_bytes_total as f64 / 1_048_576.0
        ),
    );
    line(
        "HTTP requests / retries / wake-ups",
        format!(
            "{} / {} / {}",
            r.http_requests, r.transport_retries, r.wakeups
        ),
    );
    line("group change notices", r.group_notices.to_string());
    line(
        "messages sent / deliveries",
        format!(
            "{} / {} of {}",
            r.totals.sent, r.totals.delivered, r.totals.expected
        ),
    );
    line("LOST", format!("{} {:?}", r.lost, r.missing));
    line("DUPLICATED", r.duplicated.to_string());
    line(
        "server redeliveries (dropped by MessageID)",
        r.totals.redeliveries.to_string(),
    );
    line("ERRORS", r.errors.to_string());
    for e in &r.first_errors {
        line("  error", e.clone());
    }
    line("clean shutdown", r.clean_shutdown.to_string());
    line("total time", format!("{:.1} s", r.total_secs));
    s
}

/// The figures of `reports` as a Markdown table, one column per run.
fn markdown(reports: &[Report]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&Report) -> String| {
        rows.push((name.to_owned(), reports.iter().map(f).collect()));
    };
    let pct = |p: &Percentiles| format!("{:.1} / {:.1} / {:.1}", p.p50_ms, p.p95_ms, p.p99_ms);
    row("users, scale, steady state", &|r| {
        format!("{}, ×{}, {} s", r.users, r.scale, r.steady_secs)
    });
    row("login rate (/s)", &|r| format!("{:.1}", r.login_rate_per_s));
    row("login sequence p50 / p95 / p99 (ms)", &|r| {
        pct(&r.login_latency)
    });
    row("presence fan-out p50 / p95 / p99 (ms)", &|r| {
        pct(&r.presence_fan_out)
    });
    for (i, k) in Kind::ALL.iter().enumerate() {
        row(&format!("{k:?} delivery p50 / p95 / p99 (ms)"), &move |r| {
            r.latency.get(i).map(|(_, p)| pct(p)).unwrap_or_default()
        });
    }
    row("steady-state delivered items (/s)", &|r| {
        format!("{:.0}", r.steady_delivered_per_s)
    });
    row("delivered items (messages, presence, notices)", &|r| {
        r.delivered_items.to_string()
    });
    row("server CPU s per 1,000 delivered items", &|r| {
        format!("{:.3}", r.server_cpu_secs_per_1000_items)
    });
    row("server RSS, all online (MiB)", &|r| {
        format!("{:.1}", r.server_rss_bytes as f64 / 1_048_576.0)
    });
    row("server RSS per online user (KiB)", &|r| {
        format!("{:.1}", r.server_rss_per_online_user_bytes / 1024.0)
    });
    row("wire bytes per delivered message (steady state)", &|r| {
        format!("{:.0}", r.wire_bytes_per_delivered_message)
    });
    row("HTTP requests / wake-ups", &|r| {
        format!("{} / {}", r.http_requests, r.wakeups)
    });
    row("messages sent / deliveries", &|r| {
        format!("{} / {}", r.totals.sent, r.totals.delivered)
    });
    row("errors / transport retries", &|r| {
        format!("{} / {}", r.errors, r.transport_retries)
    });
    row("lost / duplicated", &|r| {
        format!("{} / {}", r.lost, r.duplicated)
    });
    row("total time (s)", &|r| format!("{:.0}", r.total_secs));
    let mut s = String::from("| IMPSB-1 |");
    for r in reports {
        s.push_str(&format!(" {} |", r.engine));
    }
    s.push_str("\n|---|");
    for _ in reports {
        s.push_str("---:|");
    }
    s.push('\n');
    for (name, cells) in rows {
        s.push_str(&format!("| {name} |"));
        for c in cells {
            s.push_str(&format!(" {c} |"));
        }
        s.push('\n');
    }
    s
}

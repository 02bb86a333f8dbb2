//! `GET /metrics` in the Prometheus text format (version 0.0.4) and the counters behind it.
//!
//! Transactions are counted per request primitive and CSP status code from the request and
//! reply bodies, on the HTTP task (off the engine thread), by a byte scan rather than a
//! decode: the primitive is the first element inside the first `TransactionContent`, the code
//! the first `<Code>` of the reply (200 for an empty reply or one without a `Code`, such as a
//! `Login-Response` of 1.3 carrying only data). Messages with several transactions are counted
//! once, by their first. The engine's own counts (sessions, accounts, queue depths) are read
//! from the engine thread at each scrape. Guest gauges (fuel, memory) are filled by the
//! host that runs a guest through [`Metrics::set_gauge`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::driver::EngineStats;

/// Upper bounds (seconds) of the storage commit latency histogram.
pub const COMMIT_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Longest primitive label kept; longer names (not CSP) count as `other`.
const MAX_LABEL: usize = 40;

/// Most distinct (primitive, code) pairs kept; further ones count as `other`.
const MAX_SERIES: usize = 500;

/// The host's counters; shared by the HTTP tasks and the engine thread.
#[derive(Debug, Default)]
pub struct Metrics {
    transactions: Mutex<BTreeMap<(String, u16), u64>>,
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len()],
    commit_count: AtomicU64,
    commit_micros: AtomicU64,
    batches: AtomicU64,
    cir_connections: AtomicU64,
    wakeups: AtomicU64,
    gauges: Mutex<BTreeMap<String, f64>>,
}

impl Metrics {
    /// Counts one CSP request (by its [`primitive_name`]) and its reply.
    pub fn count_transaction(&self, primitive: &str, reply: &[u8]) {
        let code = first_code(reply).unwrap_or(200);
        let Ok(mut map) = self.transactions.lock() else {
            return;
        };
        let key = (primitive.to_owned(), code);
        if map.len() >= MAX_SERIES && !map.contains_key(&key) {
            *map.entry(("other".to_owned(), code)).or_default() += 1;
        } else {
            *map.entry(key).or_default() += 1;
        }
    }

    /// Records one storage commit of `batches` batches that took `took`.
    pub fn observe_commit(&self, took: Duration, batches: usize) {
        let secs = took.as_secs_f64();
        for (i, bound) in COMMIT_BUCKETS.iter().enumerate() {
            if secs <= *bound
                && let Some(b) = self.commit_buckets.get(i)
            {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.commit_count.fetch_add(1, Ordering::Relaxed);
        self.commit_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.batches.fetch_add(batches as u64, Ordering::Relaxed);
    }

    /// A CIR connection (STCP or WebSocket) opened (`+1`) or closed (`-1`).
    pub fn cir_connection(&self, opened: bool) {
        if opened {
            self.cir_connections.fetch_add(1, Ordering::Relaxed);
        } else {
            self.cir_connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Counts one wake-up sent to a client.
    pub fn wakeup_sent(&self) {
        self.wakeups.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets a gauge such as `imps_guest_fuel_consumed` or `imps_guest_memory_bytes` (the
    /// hook for hosts that run the engine as a guest). Names must be Prometheus metric names.
    pub fn set_gauge(&self, name: &str, value: f64) {
        if let Ok(mut g) = self.gauges.lock() {
            g.insert(name.to_owned(), value);
        }
    }

    /// The exposition text, with the engine's counts when it answered.
    pub fn render(&self, engine: Option<EngineStats>) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            &mut out,
            "imps_up",
            "1 when the engine answered this scrape.",
            u64::from(engine.is_some()),
        );
        if let Some(e) = engine {
            gauge(
                &mut out,
                "imps_sessions_online",
                "Open CSP sessions.",
                e.sessions as u64,
            );
            gauge(&mut out, "imps_accounts", "Accounts.", e.accounts as u64);
            gauge(
                &mut out,
                "imps_queued_transactions",
                "Server-initiated transactions waiting in all session queues.",
                e.queued as u64,
            );
            gauge(
                &mut out,
                "imps_queue_depth_max",
                "Transactions waiting in the longest session queue.",
                e.max_queue as u64,
            );
        }
        gauge(
            &mut out,
            "imps_cir_connections",
            "Open wake-up connections (STCP and WebSocket).",
            self.cir_connections.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP imps_wakeups_total Wake-ups sent to clients.\n# TYPE imps_wakeups_total counter\nimps_wakeups_total {}",
            self.wakeups.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP imps_transactions_total CSP requests by primitive and status code.\n# TYPE imps_transactions_total counter"
        );
        if let Ok(map) = self.transactions.lock() {
            for ((p, code), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "imps_transactions_total{{primitive=\"{p}\",code=\"{code}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP imps_storage_commit_seconds Latency of one durable storage commit (a turn's batches).\n# TYPE imps_storage_commit_seconds histogram"
        );
        for (bound, b) in COMMIT_BUCKETS.iter().zip(&self.commit_buckets) {
            let _ = writeln!(
                out,
                "imps_storage_commit_seconds_bucket{{le=\"{bound}\"}} {}",
                b.load(Ordering::Relaxed)
            );
        }
        let count = self.commit_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "imps_storage_commit_seconds_bucket{{le=\"+Inf\"}} {count}\nimps_storage_commit_seconds_sum {}\nimps_storage_commit_seconds_count {count}",
            self.commit_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# HELP imps_storage_batches_total Storage batches committed.\n# TYPE imps_storage_batches_total counter\nimps_storage_batches_total {}",
            self.batches.load(Ordering::Relaxed)
        );
        if let Ok(g) = self.gauges.lock() {
            for (name, v) in g.iter() {
                let _ = writeln!(out, "# TYPE {name} gauge\n{name} {v}");
            }
        }
        out
    }
}

/// Routes `GET /metrics` and `GET /healthz` (200 `ok` when the engine thread answers within
/// [`HEALTH_WAIT`], else 503).
pub fn router(engine: crate::driver::EngineClient, metrics: Arc<Metrics>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .with_state((engine, metrics))
}

/// How long `/healthz` and `/metrics` wait for the engine thread.
pub const HEALTH_WAIT: Duration = Duration::from_secs(2);

type OpsState = axum::extract::State<(crate::driver::EngineClient, Arc<Metrics>)>;

async fn engine_stats(engine: &crate::driver::EngineClient) -> Option<EngineStats> {
    match tokio::time::timeout(HEALTH_WAIT, engine.query(crate::driver::Query::Stats)).await {
        Ok(Some(crate::driver::Answer::Stats(s))) => Some(s),
        _ => None,
    }
}

async fn scrape(
    axum::extract::State((engine, metrics)): OpsState,
) -> impl axum::response::IntoResponse {
    let text = metrics.render(engine_stats(&engine).await);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

async fn healthz(
    axum::extract::State((engine, _)): OpsState,
) -> (axum::http::StatusCode, &'static str) {
    if engine_stats(&engine).await.is_some() {
        (axum::http::StatusCode::OK, "ok\n")
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "engine not answering\n",
        )
    }
}

/// The local name of the first element inside the first `TransactionContent`.
pub fn primitive_name(body: &[u8]) -> Option<&str> {
    let at = find(body, b"TransactionContent")?;
    let rest = body.get(at..)?;
    let close = rest.iter().position(|&b| b == b'>')?;
    let mut rest = rest.get(close + 1..)?;
    loop {
        let open = rest.iter().position(|&b| b == b'<')?;
        rest = rest.get(open + 1..)?;
        // Skip comments and processing instructions.
        if rest.first().is_some_and(|b| *b == b'!' || *b == b'?') {
            continue;
        }
        let end = rest
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')?;
        let name = std::str::from_utf8(rest.get(..end)?).ok()?;
        let local = name.rsplit(':').next()?;
        let ok = !local.is_empty()
            && local.len() <= MAX_LABEL
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        return ok.then_some(local);
    }
}

/// The first `<Code>NNN</Code>` of a reply.
pub fn first_code(body: &[u8]) -> Option<u16> {
    let at = find(body, b"<Code>")? + b"<Code>".len();
    let rest = body.get(at..)?;
    let end = rest.iter().position(|&b| b == b'<')?;
    std::str::from_utf8(rest.get(..end)?)
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_and_code_are_found_by_scanning() {
        let req = b"<WV-CSP-Message><Session><Transaction><TransactionContent xmlns=\"x\">\
                    <!-- c --><Login-Request><UserID>a</UserID></Login-Request>";
        assert_eq!(primitive_name(req), Some("Login-Request"));
        assert_eq!(
            primitive_name(b"<TransactionContent><p:Polling-Request/>"),
            Some("Polling-Request")
        );
        assert_eq!(primitive_name(b"<TransactionContent><\xff\xfe>"), None);
        assert_eq!(primitive_name(b"garbage"), None);
        assert_eq!(first_code(b"<Result><Code> 409 </Code>"), Some(409));
        assert_eq!(first_code(b"<Code>x</Code>"), None);
        assert_eq!(first_code(b""), None);
    }

    #[test]
    fn rendering_has_counters_histogram_and_gauges() {
        let m = Metrics::default();
        m.count_transaction("Login-Request", b"<Code>200</Code>");
        m.count_transaction("Login-Request", b"<Code>409</Code>");
        m.count_transaction("Login-Request", b"<Code>409</Code>");
        m.observe_commit(Duration::from_micros(700), 3);
        m.set_gauge("imps_guest_memory_bytes", 65536.0);
        let text = m.render(Some(EngineStats {
            sessions: 2,
            accounts: 3,
            queued: 4,
            max_queue: 4,
        }));
        for line in [
            "imps_up 1",
            "imps_sessions_online 2",
            "imps_queued_transactions 4",
            "imps_transactions_total{primitive=\"Login-Request\",code=\"409\"} 2",
            "imps_transactions_total{primitive=\"Login-Request\",code=\"200\"} 1",
            "imps_storage_commit_seconds_bucket{le=\"0.0005\"} 0",
            "imps_storage_commit_seconds_bucket{le=\"0.001\"} 1",
            "imps_storage_commit_seconds_count 1",
            "imps_storage_batches_total 3",
            "imps_guest_memory_bytes 65536",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(m.render(None).contains("imps_up 0"));
    }
}

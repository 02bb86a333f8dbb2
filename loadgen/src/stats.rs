//! Accounting shared by every simulated client: the ledger of sent messages (who must
//! receive each one, who did, how often), latency samples, presence publications, counters.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

/// What a message was, for separate latency figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Kind {
    /// One user to one contact, both online.
    Direct,
    /// To the sender's group of 20.
    Group,
    /// To the big group.
    Big,
    /// To a contact who is offline; delivered at its next login.
    Offline,
    /// The one message of the big-group storm.
    Storm,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 5] = [
        Kind::Direct,
        Kind::Group,
        Kind::Big,
        Kind::Offline,
        Kind::Storm,
    ];
}

/// One sent message: how many must receive it.
struct Sent {
    kind: Kind,
    at_us: u64,
    expected: u32,
    received: u32,
    duplicates: u32,
}

/// One presence publication.
struct Published {
    at_us: u64,
    /// Watchers that must be told (0: not tracked, e.g. the login's publication, whose
    /// watchers come online at any later time).
    watchers: u32,
    /// Watchers told so far.
    notified: BTreeSet<u32>,
    /// When the last of `watchers` was told.
    complete_us: Option<u64>,
}

#[derive(Default)]
struct Ledger {
    sent: BTreeMap<u64, Sent>,
    /// (sequence number, recipient) pairs seen.
    seen: BTreeSet<(u64, u32)>,
    /// (sequence number, recipient) pairs pushed by the server (before client deduplication).
    pushed: BTreeSet<(u64, u32)>,
    /// Pushes of a message a recipient had already been pushed.
    redeliveries: u64,
    /// Messages that arrived bearing a sequence number nobody sent (or not to that user).
    strays: u64,
    latencies: BTreeMap<Kind, Vec<u64>>,
    published: BTreeMap<u64, Published>,
    presence_notes: u64,
    login_us: Vec<u64>,
    errors: Vec<String>,
}

/// The accounting of one run.
pub struct Stats {
    /// Time zero of every timestamp.
    pub start: Instant,
    ledger: Mutex<Ledger>,
    next_seq: AtomicU64,
    /// HTTP requests made.
    pub requests: AtomicU64,
    /// Bytes of CSP request and answer bodies.
    pub wire_bytes: AtomicU64,
    /// Transport failures retried (same body, same TransactionID).
    pub retries: AtomicU64,
    /// Error count (CSP status ≥ 400, client errors, transport failures given up).
    pub error_count: AtomicU64,
    /// Wake-ups received on STCP.
    pub wakeups: AtomicU64,
    /// GroupChangeNotices received.
    pub notices: AtomicU64,
}

/// Percentiles of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    /// Sample size.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// Percentiles of `v` (microseconds), sorted in place.
pub fn percentiles(v: &mut [u64]) -> Percentiles {
    v.sort_unstable();
    let at = |q: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        v.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    Percentiles {
        count: v.len(),
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

/// Totals of the ledger at one moment.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Totals {
    /// Messages sent (accepted by the server).
    pub sent: u64,
    /// Deliveries expected (a group message counts once per recipient).
    pub expected: u64,
    /// Deliveries seen (first copy only).
    pub delivered: u64,
    /// Deliveries still missing.
    pub outstanding: u64,
    /// Copies seen more than once by the same recipient.
    pub duplicates: u64,
    /// Messages that nobody sent to that recipient.
    pub strays: u64,
    /// Presence notifications received.
    pub presence_notes: u64,
    /// Server pushes of a message the recipient had already been pushed (the client drops
    /// them by MessageID; legitimate only after a lost acknowledgement).
    pub redeliveries: u64,
}

impl Stats {
    /// Fresh accounting; time zero is now.
    pub fn new() -> Stats {
        Stats {
            start: Instant::now(),
            ledger: Mutex::new(Ledger::default()),
            next_seq: AtomicU64::new(1),
            requests: AtomicU64::new(0),
            wire_bytes: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            error_count: AtomicU64::new(0),
            wakeups: AtomicU64::new(0),
            notices: AtomicU64::new(0),
        }
    }

    /// Microseconds since time zero.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        // A poisoned lock means a worker panicked; its counts are still the best we have.
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A fresh sequence number.
    pub fn seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a message accepted by the server: `expected` recipients must receive it.
    /// Called before the request goes out, so a fast delivery finds its entry.
    pub fn sent(&self, seq: u64, kind: Kind, at_us: u64, expected: u32) {
        self.ledger().sent.insert(
            seq,
            Sent {
                kind,
                at_us,
                expected,
                received: 0,
                duplicates: 0,
            },
        );
    }

    /// Forgets a message the server refused (the refusal is counted as an error).
    pub fn unsent(&self, seq: u64) {
        self.ledger().sent.remove(&seq);
    }

    /// `recipient` received message `seq`.
    pub fn received(&self, seq: u64, recipient: u32) {
        let now = self.now_us();
        let mut l = self.ledger();
        let first = l.seen.insert((seq, recipient));
        let Some(s) = l.sent.get_mut(&seq) else {
            l.strays += 1;
            return;
        };
        if !first {
            s.duplicates += 1;
            return;
        }
        s.received += 1;
        let (kind, at) = (s.kind, s.at_us);
        l.latencies
            .entry(kind)
            .or_default()
            .push(now.saturating_sub(at));
    }

    /// The server pushed message `seq` to `recipient` (a NewMessage as received, before the
    /// client drops repeats of a MessageID).
    pub fn pushed(&self, seq: u64, recipient: u32) {
        let mut l = self.ledger();
        if !l.pushed.insert((seq, recipient)) {
            l.redeliveries += 1;
        }
    }

    /// A presence publication `pseq` went out at `at_us`; `watchers` must be told of it.
    pub fn published(&self, pseq: u64, at_us: u64, watchers: u32) {
        self.ledger().published.insert(
            pseq,
            Published {
                at_us,
                watchers,
                notified: BTreeSet::new(),
                complete_us: None,
            },
        );
    }

    /// `watcher` was told of publication `pseq`. Later copies (a re-subscription shows the
    /// current presence again) do not move the fan-out time.
    pub fn presence_note(&self, pseq: u64, watcher: u32) {
        let now = self.now_us();
        let mut l = self.ledger();
        l.presence_notes += 1;
        if let Some(p) = l.published.get_mut(&pseq).filter(|p| p.watchers > 0)
            && p.notified.insert(watcher)
            && p.notified.len() == p.watchers as usize
            && p.complete_us.is_none()
        {
            p.complete_us = Some(now);
        }
    }

    /// Tracked publications not every watcher was told of.
    pub fn fan_outs_incomplete(&self) -> u64 {
        let l = self.ledger();
        l.published
            .values()
            .filter(|p| p.watchers > 0 && p.complete_us.is_none())
            .count() as u64
    }

    /// A login sequence took `us`.
    pub fn login(&self, us: u64) {
        self.ledger().login_us.push(us);
    }

    /// Counts an error; keeps the first few texts.
    pub fn error(&self, what: String) {
        self.error_count.fetch_add(1, Ordering::Relaxed);
        let mut l = self.ledger();
        if l.errors.len() < 20 {
            l.errors.push(what);
        }
    }

    /// The first error texts.
    pub fn error_texts(&self) -> Vec<String> {
        self.ledger().errors.clone()
    }

    /// Current totals.
    pub fn totals(&self) -> Totals {
        let l = self.ledger();
        let mut t = Totals {
            strays: l.strays,
            presence_notes: l.presence_notes,
            redeliveries: l.redeliveries,
            ..Default::default()
        };
        for s in l.sent.values() {
            t.sent += 1;
            t.expected += u64::from(s.expected);
            t.delivered += u64::from(s.received.min(s.expected));
            t.outstanding += u64::from(s.expected.saturating_sub(s.received));
            t.duplicates += u64::from(s.duplicates);
        }
        t
    }

    /// Delivery latency percentiles per kind.
    pub fn latencies(&self) -> Vec<(Kind, Percentiles)> {
        let mut l = self.ledger();
        Kind::ALL
            .iter()
            .map(|k| {
                let v = l.latencies.entry(*k).or_default();
                (*k, percentiles(v))
            })
            .collect()
    }

    /// Login sequence latency percentiles.
    pub fn login_latency(&self) -> Percentiles {
        percentiles(&mut self.ledger().login_us)
    }

    /// Presence fan-out latency: publication → last watcher notified, for every tracked
    /// publication all its watchers were told of.
    pub fn fan_out(&self) -> Percentiles {
        let l = self.ledger();
        let mut v: Vec<u64> = l
            .published
            .values()
            .filter_map(|p| p.complete_us.map(|t| t.saturating_sub(p.at_us)))
            .collect();
        percentiles(&mut v)
    }

    /// Sent messages whose deliveries are still missing, per kind (for the failure report).
    pub fn missing_by_kind(&self) -> BTreeMap<Kind, u64> {
        let l = self.ledger();
        let mut m = BTreeMap::new();
        for s in l.sent.values() {
            let missing = u64::from(s.expected.saturating_sub(s.received));
            if missing > 0 {
                *m.entry(s.kind).or_insert(0) += missing;
            }
        }
        m
    }
}

/// The text of a benchmark message: `#<seq> <send µs> ` padded to `size` bytes.
pub fn message_text(seq: u64, at_us: u64, size: usize) -> String {
    let mut t = format!("#{seq} {at_us} ");
    while t.len() < size {
        t.push('x');
    }
    t
}

/// The sequence number in a benchmark message's text.
pub fn message_seq(text: &str) -> Option<u64> {
    text.strip_prefix('#')?.split(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_round_trips_and_has_the_size() {
        let t = message_text(42, 123_456, 100);
        assert_eq!(t.len(), 100);
        assert_eq!(message_seq(&t), Some(42));
        assert_eq!(message_seq("hello"), None);
    }

    #[test]
    fn ledger_counts_loss_and_duplicates() {
        let s = Stats::new();
        s.sent(1, Kind::Group, 0, 3);
        s.received(1, 10);
        s.received(1, 11);
        s.received(1, 11);
        s.received(99, 10);
        let t = s.totals();
        assert_eq!(
            (
                t.expected,
                t.delivered,
                t.outstanding,
                t.duplicates,
                t.strays
            ),
            (3, 2, 1, 1, 1)
        );
        let p = percentiles(&mut [1000, 2000, 3000, 4000]);
        assert_eq!((p.count, p.max_ms), (4, 4.0));
    }
}

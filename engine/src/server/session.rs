//! Per-session state (CSP-REFERENCE §1.4–§1.5, §10.4): version and content type of the
//! login, keep-alive, negotiated capabilities and services, the queue of server-initiated
//! transactions awaiting acknowledgement, and the cache of recent replies by TransactionID.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::codec::Primitive;
use crate::codec::Version;
use crate::codec::capability::{CirMethod, DeliveryMethod};

use super::Millis;

/// A server-initiated transaction waiting for the client's acknowledgement.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    /// Server-chosen TransactionID.
    pub tid: String,
    /// What is delivered (shared by every session a fan-out reaches).
    pub primitive: Arc<Primitive>,
    /// `primitive` already encoded, when the same encoding serves every version (a pushed
    /// message: written once for storage and for every delivery).
    pub xml: Option<Arc<str>>,
    /// Times delivered so far (redelivered until acknowledged).
    pub deliveries: u32,
    /// When it was last delivered.
    pub delivered_at: Millis,
    /// The mailbox item (its seq) this delivers, if any.
    pub origin: Option<u64>,
}

/// What capability negotiation agreed.
#[derive(Debug, Clone)]
pub(crate) struct Agreed {
    pub delivery_method: DeliveryMethod,
    pub multi_trans: u32,
    pub server_poll_min: u32,
    pub accepted_content_length: Option<u32>,
    pub cir_methods: Vec<CirMethod>,
    /// Content types the client accepts (empty: any).
    pub accepted_types: Vec<String>,
}

impl Default for Agreed {
    fn default() -> Self {
        Agreed {
            delivery_method: DeliveryMethod::Push,
            multi_trans: 1,
            server_poll_min: 0,
            accepted_content_length: None,
            cir_methods: Vec::new(),
            accepted_types: Vec::new(),
        }
    }
}

/// One logged-in session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The SessionID given to the client (128 random bits, hex).
    pub id: String,
    /// Canonical user id.
    pub user: String,
    /// CSP version of the login; every reply and queued message is shaped for it.
    pub version: Version,
    /// Content type replies carry.
    pub content_type: &'static str,
    /// Granted KeepAliveTime, seconds.
    pub keep_alive_secs: u32,
    /// When the session expires without traffic.
    pub expires_at: Millis,
    /// Client's SessionCookie (echoed in SMS CIR).
    pub cookie: Option<String>,
    /// Per-session token for the SHTTP CIR URL.
    pub cir_token: String,
    /// Capability negotiation result (None until ClientCapability or a 1.3 login with it).
    pub agreed: Option<Agreed>,
    /// Agreed function codes (None until Service negotiation).
    pub services: Option<Vec<&'static str>>,
    /// Server-initiated transactions not yet acknowledged, oldest first.
    pub queue: VecDeque<Queued>,
    /// Whether the mailbox has been offered to this session (after capability agreement).
    pub mailbox_ready: bool,
    /// Delivery methods set per group (SetDeliveryMethod with GroupID).
    pub group_methods: crate::vecmap::VecMap<String, DeliveryMethod>,
    /// TransactionIDs of the last acknowledged server transactions (a repeated
    /// acknowledgement is accepted quietly).
    pub acked: VecDeque<String>,
    /// Recent replies by client TransactionID, oldest first.
    pub replies: ReplyCache,
}

/// Recent replies by client TransactionID, oldest first. The hashes of the ids are kept
/// apart, to be compared all at once: almost every request is new.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplyCache {
    hashes: VecDeque<u64>,
    replies: VecDeque<(String, Vec<u8>)>,
}

impl Session {
    /// The reply remembered for client transaction `tid`.
    pub fn cached_reply(&self, tid: &str) -> Option<&[u8]> {
        let cache = &self.replies;
        let h = fnv1a(tid);
        // Without early exit, so that it vectorises.
        let (older, newer) = cache.hashes.as_slices();
        let seen = |hashes: &[u64]| hashes.iter().fold(false, |seen, &x| seen | (x == h));
        if !seen(older) && !seen(newer) {
            return None;
        }
        cache
            .hashes
            .iter()
            .zip(&cache.replies)
            .rev()
            .find(|(th, (t, _))| **th == h && t == tid)
            .map(|(_, (_, r))| r.as_slice())
    }

    /// Remembers `reply` for `tid`, keeping at most `limit`.
    pub fn remember(&mut self, tid: String, reply: &[u8], limit: usize) {
        if limit == 0 {
            return;
        }
        let cache = &mut self.replies;
        while cache.replies.len() >= limit {
            cache.replies.pop_front();
            cache.hashes.pop_front();
        }
        cache.hashes.push_back(fnv1a(&tid));
        cache.replies.push_back((tid, reply.to_vec()));
    }

    /// Removes the queued transaction `tid` and returns it.
    /// (Its TransactionID moves to the acknowledged ones: the returned one is empty.)
    pub fn acknowledge(&mut self, tid: &str) -> Option<Queued> {
        let i = self.queue.iter().position(|q| q.tid == tid)?;
        let mut q = self.queue.remove(i)?;
        self.remember_ack(std::mem::take(&mut q.tid));
        Some(q)
    }

    fn remember_ack(&mut self, tid: String) {
        if self.acked.len() >= 32 {
            self.acked.pop_front();
        }
        self.acked.push_back(tid);
    }

    /// Drops the queued deliveries of mailbox item `seq` (delivered through another session,
    /// rejected or expired); a late acknowledgement of them is then accepted quietly.
    pub fn withdraw(&mut self, seq: u64) {
        let gone: Vec<String> = self
            .queue
            .iter()
            .filter(|q| q.origin == Some(seq))
            .map(|q| q.tid.clone())
            .collect();
        self.queue.retain(|q| q.origin != Some(seq));
        for tid in gone {
            self.remember_ack(tid);
        }
    }

    /// Whether `tid` was acknowledged lately.
    pub fn recently_acknowledged(&self, tid: &str) -> bool {
        self.acked.iter().any(|t| t == tid)
    }

    /// Transactions per message the client agreed to (at least 1).
    pub fn multi_trans(&self) -> usize {
        self.agreed
            .as_ref()
            .map_or(1, |a| a.multi_trans.max(1) as usize)
    }
}

/// FNV-1a: a fixed (not randomly seeded) hash, so behaviour is the same in every host.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

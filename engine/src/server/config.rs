//! Server configuration. Every field has a default, so an empty configuration runs a
//! working server on domain `localhost`; hosts read it from TOML (see `imps.example.toml`).

use serde::{Deserialize, Serialize};

/// Everything an operator can set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This server's domain: `wv:alice` means `wv:alice@<domain>`.
    pub domain: String,
    /// 32-byte key (64 hex digits) that seals stored passwords for digest login. Hosts
    /// generate one at first start when none is configured.
    pub server_key: Option<String>,
    /// Login policies.
    pub login: LoginConfig,
    /// Session policies.
    pub session: SessionConfig,
    /// Message and parser limits.
    pub limits: LimitsConfig,
    /// What `GetSPInfo` answers.
    pub service_provider: ServiceProviderInfo,
    /// Communication Initiation Request channels the host offers (CSP-REFERENCE §5.3).
    pub cir: CirConfig,
    /// Contact list limits.
    pub contact_lists: ContactListConfig,
    /// Presence notification policy and limits.
    pub presence: PresenceConfig,
    /// Block and grant list limits.
    pub block_lists: BlockListConfig,
    /// Instant messaging limits.
    pub im: ImConfig,
    /// Group limits.
    pub groups: GroupConfig,
    /// Invitation limits.
    pub invite: InviteConfig,
    /// Search limits.
    pub search: SearchConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            domain: "localhost".into(),
            server_key: None,
            login: LoginConfig::default(),
            session: SessionConfig::default(),
            limits: LimitsConfig::default(),
            service_provider: ServiceProviderInfo::default(),
            cir: CirConfig::default(),
            contact_lists: ContactListConfig::default(),
            presence: PresenceConfig::default(),
            block_lists: BlockListConfig::default(),
            im: ImConfig::default(),
            groups: GroupConfig::default(),
            invite: InviteConfig::default(),
            search: SearchConfig::default(),
        }
    }
}

/// Login policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// Whether 4-way digest login (MD5, SHA-1) is offered; when off a digest request gets 543.
    pub digest: bool,
    /// Whether a 2-way login of an unknown user creates the account.
    pub open_registration: bool,
    /// Most accounts open registration creates per minute (server-wide).
    pub registrations_per_minute: u32,
    /// Argon2id memory cost in KiB for password hashes.
    pub hash_memory_kib: u32,
    /// Argon2id passes.
    pub hash_iterations: u32,
    /// Failed logins for one account (or from one client) within `failure_window_secs`
    /// before further attempts are refused for `lockout_secs`.
    pub max_failures: u32,
    /// Window in which failures are counted, seconds.
    pub failure_window_secs: u32,
    /// How long a throttled account or client is refused, seconds.
    pub lockout_secs: u32,
    /// How long a digest challenge (nonce) stays valid, seconds.
    pub nonce_validity_secs: u32,
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            digest: true,
            open_registration: false,
            registrations_per_minute: 30,
            // 4 MiB, 3 passes: tens of milliseconds natively and within the wasm guest's
            // memory cap; raise it on servers with room.
            hash_memory_kib: 4096,
            hash_iterations: 3,
            max_failures: 5,
            failure_window_secs: 300,
            lockout_secs: 60,
            nonce_validity_secs: 120,
        }
    }
}

/// Session policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Sessions one user may hold at once; a login beyond it ends the oldest (601).
    pub max_per_user: u32,
    /// Smallest KeepAliveTime granted, seconds.
    pub keep_alive_min_secs: u32,
    /// Largest KeepAliveTime granted, seconds.
    pub keep_alive_max_secs: u32,
    /// KeepAliveTime when the client asks for none, seconds.
    pub keep_alive_default_secs: u32,
    /// Grace after KeepAliveTime before a silent session expires (network delays), seconds.
    pub keep_alive_grace_secs: u32,
    /// Smallest polling interval a client may use (`ServerPollMin`), seconds.
    pub server_poll_min_secs: u32,
    /// Replies remembered per session for repeated TransactionIDs.
    pub transaction_cache: u32,
    /// Server-initiated transactions that may wait for one session.
    pub queue_limit: u32,
    /// Transactions the server puts in one message at most (MultiTrans ceiling).
    pub max_multi_trans: u32,
    /// A poll delivers again a transaction delivered this long ago without acknowledgement,
    /// seconds (its reply was probably lost); sooner, the acknowledgement may be on its way.
    pub redelivery_secs: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_per_user: 5,
            keep_alive_min_secs: 60,
            keep_alive_max_secs: 1800,
            keep_alive_default_secs: 300,
            keep_alive_grace_secs: 10,
            server_poll_min_secs: 10,
            transaction_cache: 64,
            queue_limit: 1000,
            max_multi_trans: 10,
            redelivery_secs: 5,
        }
    }
}

/// Message and parser limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body the engine reads, bytes; larger ones get a CSP status 400.
    pub max_message_bytes: u32,
    /// Deepest XML nesting accepted.
    pub max_depth: u32,
    /// Most XML elements in one message.
    pub max_elements: u32,
    /// Longest text of one element, bytes.
    pub max_text_bytes: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_message_bytes: 1 << 20,
            max_depth: 48,
            max_elements: 20_000,
            max_text_bytes: 1 << 20,
        }
    }
}

/// What `GetSPInfo` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceProviderInfo {
    /// Provider name.
    pub name: String,
    /// Provider description.
    pub description: Option<String>,
    /// Provider web address.
    pub url: Option<String>,
}

impl Default for ServiceProviderInfo {
    fn default() -> Self {
        ServiceProviderInfo {
            name: "IMPS".into(),
            description: Some("An open OMA IMPS / Wireless Village server".into()),
            url: None,
        }
    }
}

/// CIR channels the host offers (it fills these in; the engine only negotiates them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CirConfig {
    /// Standalone TCP: address and port clients connect to (`STCP`).
    pub stcp: Option<(String, u16)>,
    /// Standalone HTTP: base URL; the session's CIR URL is this plus a per-session token (`SHTTP`).
    pub shttp_base: Option<String>,
}

/// Contact list limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactListConfig {
    /// Lists one user may own (753 beyond).
    pub max_lists: u32,
    /// Contacts one list may hold (754 beyond).
    pub max_contacts: u32,
}

impl Default for ContactListConfig {
    fn default() -> Self {
        ContactListConfig {
            max_lists: 20,
            max_contacts: 500,
        }
    }
}

/// Presence notification policy and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceConfig {
    /// Least time between two notifications about one user, milliseconds; changes in between
    /// are coalesced into one notification carrying only the changed attributes.
    pub notify_interval_ms: u64,
    /// Attribute lists (per-user plus per-contact-list entries) one user may keep (755 beyond).
    pub max_attribute_lists: u32,
    /// Largest published presence of one user, in bytes of its CSP encoding (751 beyond).
    pub max_published_bytes: u32,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            notify_interval_ms: 1000,
            max_attribute_lists: 1000,
            max_published_bytes: 16 * 1024,
        }
    }
}

/// Block and grant list limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockListConfig {
    /// Entries (users, groups, screen names, contact lists, applications) one block list or
    /// one grant list may hold; a BlockEntity-Request that would exceed it gets 754.
    pub max_entries: u32,
}

impl Default for BlockListConfig {
    fn default() -> Self {
        BlockListConfig { max_entries: 500 }
    }
}

/// Instant messaging limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImConfig {
    /// Largest ContentData of one message, bytes (400 beyond).
    pub max_content_bytes: u32,
    /// Longest a message waits for its recipient, seconds (a shorter Validity wins).
    pub max_retention_secs: u32,
    /// Most messages and reports waiting for one user (507 for further messages).
    pub max_stored_per_user: u32,
}

impl Default for ImConfig {
    fn default() -> Self {
        ImConfig {
            max_content_bytes: 64 * 1024,
            max_retention_secs: 7 * 24 * 3600,
            max_stored_per_user: 1000,
        }
    }
}

/// Group limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupConfig {
    /// Users joined to one group at once (817 beyond); also the largest `MaxActiveUsers` a
    /// group may set, and its default.
    pub max_joined_users: u32,
    /// Groups one user may own (814 beyond).
    pub max_groups_per_user: u32,
    /// Groups on the server (815 beyond).
    pub max_groups: u32,
    /// Least time between two GroupChangeNotices about one group, milliseconds; changes in
    /// between go out together in one notice per session (0: each change at once).
    pub notice_interval_ms: u64,
    /// How long an AutoDelete group stays after its last joined user left, seconds (0: it is
    /// deleted at once).
    pub auto_delete_after_secs: u32,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            max_joined_users: 500,
            max_groups_per_user: 10,
            max_groups: 10_000,
            notice_interval_ms: 1000,
            auto_delete_after_secs: 0,
        }
    }
}

/// Invitation limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InviteConfig {
    /// Invite-Requests one user may send per minute (503 beyond).
    pub per_minute: u32,
    /// Longest an invitation stays open, seconds (a shorter Validity wins).
    pub max_validity_secs: u32,
    /// Open invitations (and shares) one user may have (507 beyond).
    pub max_open_per_user: u32,
}

impl Default for InviteConfig {
    fn default() -> Self {
        InviteConfig {
            per_minute: 30,
            max_validity_secs: 7 * 24 * 3600,
            max_open_per_user: 100,
        }
    }
}

/// Search limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Most findings one search may have (536 beyond).
    pub max_findings: u32,
    /// Results per page when the request names no SearchLimit, and the largest page.
    pub max_page: u32,
    /// Searches one session keeps open for paging (the oldest is dropped beyond).
    pub max_open_per_session: u32,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            max_findings: 1000,
            max_page: 50,
            max_open_per_session: 4,
        }
    }
}

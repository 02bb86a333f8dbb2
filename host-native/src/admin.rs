//! Operator commands (`imps user …`, `imps group create --public`, `imps logout`) on a
//! running server or on a stopped server's data directory.
//!
//! `imps serve` holds an exclusive lock on `DIR/imps.lock` while it runs, and serves an admin
//! endpoint on a loopback address only (`[host] admin_listen`, default `127.0.0.1:0`; a
//! non-loopback address is refused). It writes the bound address to `DIR/admin.addr` and a
//! fresh bearer token to `DIR/admin.token` (mode 0600; the data directory is 0700), so only
//! the user who may read the data directory may administer the server. The endpoint:
//! `POST /admin/command` with an [`AdminCommand`] in JSON (200 and the result text, 422 and
//! the error text), `GET /admin/users` (one account id a line).
//!
//! A command first tries the lock: when it gets it, no server runs, and it opens the SQLite
//! store itself, runs the engine on the restored records, feeds the command and commits the
//! storage batches before it reports success (the lock is held meanwhile, so no server
//! starts on the directory). When the lock is held, it reads `admin.addr`/`admin.token` and
//! calls the endpoint.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use imps_engine::server::{AdminCommand, Input, Output, Server};
use imps_engine::store::{StorageBatch, Store};

use crate::config::{self, KeySource};
use crate::driver::{Answer, EngineClient, Query};
use crate::sqlite::SqliteStore;

/// Lock file `imps serve` holds while it runs.
pub const LOCK_FILE: &str = "imps.lock";
/// Where a running server writes its admin endpoint's address.
pub const ADDR_FILE: &str = "admin.addr";
/// Where a running server writes its admin bearer token.
pub const TOKEN_FILE: &str = "admin.token";

/// The outcome of one admin command: success text or error text.
pub type AdminResult = Result<String, String>;

/// Commits at most this many commands' batches at once in a stopped-server import.
const IMPORT_GROUP: usize = 64;

/// Creates the data directory (mode 0700) if needed and takes its lock; `Ok(None)` when a
/// server holds it.
pub fn try_lock(data: &Path) -> Result<Option<File>, String> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data)
        .map_err(|e| format!("{}: {e}", data.display()))?;
    let path = data.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the admin endpoint's address and a fresh token into `data`; returns the token.
pub fn publish_endpoint(data: &Path, addr: SocketAddr) -> Result<String, String> {
    let token = {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| format!("no OS randomness: {e}"))?;
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    for (name, text) in [(TOKEN_FILE, token.as_str()), (ADDR_FILE, &addr.to_string())] {
        let path = data.join(name);
        let tmp = data.join(format!("{name}.tmp"));
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        f.write_all(text.as_bytes())
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(token)
}

/// Removes the files of [`publish_endpoint`] (clean shutdown).
pub fn unpublish_endpoint(data: &Path) {
    let _ = fs::remove_file(data.join(ADDR_FILE));
    let _ = fs::remove_file(data.join(TOKEN_FILE));
}

/// Refuses an admin address that is not loopback.
pub fn check_loopback(addr: &SocketAddr) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "the admin endpoint listens on loopback addresses only, not {addr}"
        ))
    }
}

// ---- the endpoint -----------------------------------------------------------------------

#[derive(Clone)]
struct Admin {
    engine: EngineClient,
    token: String,
}

/// The admin endpoint's routes.
pub fn router(engine: EngineClient, token: String) -> Router {
    Router::new()
        .route("/admin/command", post(command))
        .route("/admin/users", get(users))
        .with_state(Admin { engine, token })
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(got) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    // Compared without stopping at the first difference.
    got.len() == token.len()
        && got
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn command(State(admin): State<Admin>, headers: HeaderMap, body: String) -> Response {
    if !authorized(&headers, &admin.token) {
        return (StatusCode::UNAUTHORIZED, "bad or missing admin token").into_response();
    }
    let command: AdminCommand = match serde_json::from_str(&body) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad command: {e}")).into_response(),
    };
    match admin.engine.admin(command).await {
        Some(Ok(text)) => (StatusCode::OK, text).into_response(),
        Some(Err(text)) => (StatusCode::UNPROCESSABLE_ENTITY, text).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "the engine is not running").into_response(),
    }
}

async fn users(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !authorized(&headers, &admin.token) {
        return (StatusCode::UNAUTHORIZED, "bad or missing admin token").into_response();
    }
    match admin.engine.query(Query::Accounts).await {
        Some(Answer::Accounts(ids)) => {
            let mut text = ids.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            (StatusCode::OK, text).into_response()
        }
        _ => (StatusCode::SERVICE_UNAVAILABLE, "the engine is not running").into_response(),
    }
}

// ---- the command side -------------------------------------------------------------------

/// Where commands go.
pub enum Target {
    /// A running server's admin endpoint.
    Running {
        /// Its address.
        addr: SocketAddr,
        /// Its bearer token.
        token: String,
    },
    /// The engine run here on a stopped server's store.
    Stopped(Box<Offline>),
}

/// The engine on a stopped server's data directory (holding its lock).
pub struct Offline {
    server: Server,
    store: SqliteStore,
    _lock: File,
}

/// Opens `data`: the running server's endpoint, or the store itself.
pub fn open(data: &Path, config_file: Option<&Path>) -> Result<Target, String> {
    match try_lock(data)? {
        Some(lock) => {
            let mut config = config::load_full(config_file)?.0;
            if config::ensure_server_key(&mut config, data)? == KeySource::Generated {
                eprintln!(
                    "generated a server key in {}",
                    data.join(config::KEY_FILE).display()
                );
            }
            let store =
                SqliteStore::open_in(data).map_err(|e| format!("{}: {e}", data.display()))?;
            let records = store
                .load()
                .map_err(|e| format!("loading the store: {e:?}"))?;
            let mut server = Server::new(config, config::os_seed()?);
            server.handle(0, Input::Restore(records));
            let mut offline = Offline {
                server,
                store,
                _lock: lock,
            };
            offline.drain_and_commit()?;
            Ok(Target::Stopped(Box::new(offline)))
        }
        None => {
            let read = |name: &str| -> Result<String, String> {
                fs::read_to_string(data.join(name))
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| {
                        format!(
                            "a server runs on {} but its admin endpoint is unknown ({name}: {e})",
                            data.display()
                        )
                    })
            };
            let addr = read(ADDR_FILE)?
                .parse()
                .map_err(|e| format!("{ADDR_FILE}: {e}"))?;
            Ok(Target::Running {
                addr,
                token: read(TOKEN_FILE)?,
            })
        }
    }
}

impl Offline {
    /// Drains the engine, commits its batches; returns the admin results seen.
    fn drain_and_commit(&mut self) -> Result<Vec<(u64, AdminResult)>, String> {
        let mut batches: Vec<StorageBatch> = Vec::new();
        let mut results = Vec::new();
        while let Some(out) = self.server.poll_output() {
            match out {
                Output::Storage(b) => batches.push(b),
                Output::AdminResult { id, result } => results.push((id, result)),
                Output::Event(e) => crate::driver::log_event(&e),
                Output::Reply(_) | Output::WakeUp(_) => {}
            }
        }
        if !batches.is_empty() {
            self.store
                .apply_all(&batches)
                .map_err(|e| format!("storage failed: {e:?}"))?;
        }
        Ok(results)
    }

    /// Feeds commands and commits once; results in order.
    fn run_all(
        &mut self,
        commands: Vec<AdminCommand>,
    ) -> Result<Vec<Result<String, String>>, String> {
        let n = commands.len();
        for (id, command) in commands.into_iter().enumerate() {
            self.server.handle(
                0,
                Input::Admin {
                    id: id as u64,
                    command,
                },
            );
        }
        let mut results = self.drain_and_commit()?;
        results.sort_by_key(|(id, _)| *id);
        if results.len() != n {
            return Err("the engine did not answer every command".into());
        }
        Ok(results.into_iter().map(|(_, r)| r).collect())
    }
}

fn http(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let err = |e: std::io::Error| format!("admin endpoint {addr}: {e}");
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(err)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(err)?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(err)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(err)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("admin endpoint {addr}: malformed answer"))?;
    let status = head
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("admin endpoint {addr}: malformed status line"))?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 {
            break;
        }
        let Some(chunk) = rest.get(..n) else { break };
        out.push_str(chunk);
        body = rest.get(n + 2..).unwrap_or("");
    }
    out
}

impl Target {
    /// Runs one command.
    pub fn run(&mut self, command: AdminCommand) -> Result<String, String> {
        self.run_many(vec![command], &mut |_, _| {})
            .and_then(|mut r| r.pop().ok_or_else(|| "no result".to_owned())?)
    }

    /// Runs commands in order, calling `progress(done, total)` as they complete; the
    /// per-command results in order (an `Err` overall when nothing could be done).
    pub fn run_many(
        &mut self,
        commands: Vec<AdminCommand>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Result<String, String>>, String> {
        let total = commands.len();
        let mut results = Vec::with_capacity(total);
        match self {
            Target::Stopped(offline) => {
                let mut commands = commands.into_iter().peekable();
                while commands.peek().is_some() {
                    let group: Vec<AdminCommand> = commands.by_ref().take(IMPORT_GROUP).collect();
                    results.extend(offline.run_all(group)?);
                    progress(results.len(), total);
                }
            }
            Target::Running { addr, token } => {
                for command in commands {
                    let body = serde_json::to_string(&command).map_err(|e| e.to_string())?;
                    let (status, text) = http(*addr, token, "POST", "/admin/command", &body)?;
                    results.push(match status {
                        200 => Ok(text),
                        422 => Err(text),
                        _ => return Err(format!("admin endpoint: HTTP {status}: {text}")),
                    });
                    if results.len() % IMPORT_GROUP == 0 || results.len() == total {
                        progress(results.len(), total);
                    }
                }
            }
        }
        Ok(results)
    }

    /// Every account id.
    pub fn users(&mut self) -> Result<Vec<String>, String> {
        match self {
            Target::Stopped(offline) => {
                Ok(offline.server.account_ids().map(str::to_owned).collect())
            }
            Target::Running { addr, token } => {
                let (status, text) = http(*addr, token, "GET", "/admin/users", "")?;
                if status != 200 {
                    return Err(format!("admin endpoint: HTTP {status}: {text}"));
                }
                Ok(text.lines().map(str::to_owned).collect())
            }
        }
    }

    /// Whether the command went to a running server.
    pub fn is_running(&self) -> bool {
        matches!(self, Target::Running { .. })
    }
}

/// Reads `user,password` lines (a `#` starts a comment line; a first line `user,password`
/// is a header) into ProvisionUser commands; errors name the line.
pub fn parse_csv(text: &str) -> Result<Vec<AdminCommand>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if i == 0 && line.trim().eq_ignore_ascii_case("user,password") {
            continue;
        }
        let Some((user, password)) = line.split_once(',') else {
            return Err(format!("line {}: expected user,password", i + 1));
        };
        if user.trim().is_empty() || password.is_empty() {
            return Err(format!("line {}: empty user or password", i + 1));
        }
        out.push(AdminCommand::ProvisionUser {
            user_id: user.trim().to_owned(),
            password: password.to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csv_lines_become_provisioning() {
        let cmds =
            parse_csv("user,password\n# staff\nalice,pw,with,commas\r\n\nwv:bob,x\n").unwrap();
        assert_eq!(
            cmds,
            vec![
                AdminCommand::ProvisionUser {
                    user_id: "alice".into(),
                    password: "pw,with,commas".into()
                },
                AdminCommand::ProvisionUser {
                    user_id: "wv:bob".into(),
                    password: "x".into()
                },
            ]
        );
        assert!(parse_csv("alice\n").unwrap_err().contains("line 1"));
        assert!(parse_csv("ok,1\n,pw\n").unwrap_err().contains("line 2"));
    }

    #[test]
    fn only_loopback_admin_addresses() {
        assert!(check_loopback(&"127.0.0.1:0".parse().unwrap()).is_ok());
        assert!(check_loopback(&"[::1]:9".parse().unwrap()).is_ok());
        assert!(check_loopback(&"0.0.0.0:9".parse().unwrap()).is_err());
        assert!(check_loopback(&"192.168.1.2:9".parse().unwrap()).is_err());
    }

    #[test]
    fn bearer_tokens_must_match() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "abc"));
        h.insert(header::AUTHORIZATION, "Bearer abd".parse().unwrap());
        assert!(!authorized(&h, "abc"));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(authorized(&h, "abc"));
    }
}

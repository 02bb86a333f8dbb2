//! Helpers for the tests that run the real `imps` binary: spawn `imps serve` on a free port,
//! post CSP messages over HTTP, read the CSP result codes of the replies.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use imps_engine::codec::{self, Limits, Message, Primitive};

pub mod peer;

pub const NS_CSP12: &str = "http://www.openmobilealliance.org/DTD/WV-CSP1.2";
pub const NS_TRC12: &str = "http://www.openmobilealliance.org/DTD/WV-TRC1.2";
pub const CT_XML: &str = "application/vnd.wv.csp.xml";

/// Configuration with a cheap password hash, so logins in tests take microseconds.
pub const CHEAP_CONFIG: &str = "[login]\nhash_memory_kib = 8\nhash_iterations = 1\n";

/// The engine mode the host tests run `imps serve` in: `IMPS_TEST_ENGINE` (`wasm` or
/// `native`), the wasm guest when unset. `cargo xtask test` runs the host tests once in each.
pub fn test_engine() -> String {
    std::env::var("IMPS_TEST_ENGINE").unwrap_or_else(|_| "wasm".to_owned())
}

/// Arguments that put `imps serve` or `imps replay` in `engine` mode, sharing one compiled-guest
/// cache between the tests (so the guest is compiled once, not once per test).
pub fn engine_args(engine: &str) -> Vec<String> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("guest-cache");
    vec![
        "--engine".to_owned(),
        engine.to_owned(),
        "--guest-cache".to_owned(),
        cache.display().to_string(),
    ]
}

/// A running `imps serve`, killed when dropped.
pub struct ImpsServer {
    child: Option<Child>,
    pub base: String,
    pub data: PathBuf,
    log: PathBuf,
    /// stdout lines after the first (the other listeners' addresses).
    lines: Arc<Mutex<Vec<String>>>,
}

impl ImpsServer {
    /// Writes [`CHEAP_CONFIG`] followed by `extra_config` to `dir/imps.toml` and starts the
    /// server with open registration (the scenario tests' users register by logging in).
    pub fn start_open(dir: &Path, extra_config: &str) -> ImpsServer {
        std::fs::write(
            dir.join("imps.toml"),
            format!("{CHEAP_CONFIG}{extra_config}"),
        )
        .unwrap();
        ImpsServer::start(dir, &["--open-registration"])
    }

    /// Starts `imps serve --listen 127.0.0.1:0 --data <dir>/data --config <dir>/imps.toml`
    /// with `extra` arguments, in the [`test_engine`] mode unless `extra` names `--engine`;
    /// `dir` holds the data, the config and the server's log.
    pub fn start(dir: &Path, extra: &[&str]) -> ImpsServer {
        let mut args: Vec<String> = Vec::new();
        if !extra.contains(&"--engine") {
            args = engine_args(&test_engine());
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let config = dir.join("imps.toml");
        if !config.exists() {
            std::fs::write(&config, CHEAP_CONFIG).unwrap();
        }
        let data = dir.join("data");
        let log = dir.join(format!("server-{}.log", std::process::id()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_imps"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .args(&args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("spawn imps serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let more = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&more);
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let _ = tx.send(first);
            // Only the listeners' addresses may follow.
            for line in lines.map_while(Result::ok) {
                if !(line.starts_with("stcp listening on ")
                    || line.starts_with("admin listening on "))
                {
                    eprintln!("unexpected stdout line from imps: {line}");
                }
                kept.lock().unwrap().push(line);
            }
        });
        let mut server = ImpsServer {
            child: Some(child),
            base: String::new(),
            data,
            log,
            lines: more,
        };
        let line = rx.recv_timeout(Duration::from_secs(60)).ok().flatten();
        let Some(line) = line else {
            panic!(
                "imps serve printed no address; its log:\n{}",
                server.log_text()
            );
        };
        let addr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        assert!(addr.starts_with("127.0.0.1:"), "{line}");
        server.base = format!("http://{addr}");
        server
    }

    /// The rest of the stdout line starting with `prefix` (waits up to 10 s for it).
    pub fn stdout_line(&self, prefix: &str) -> String {
        for _ in 0..200 {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
            {
                return l.to_owned();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no stdout line {prefix:?}; log:\n{}", self.log_text());
    }

    /// Sends SIGKILL and waits for the process to end.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM and waits for a clean exit; returns whether it exited with status 0.
    pub fn terminate(mut self) -> bool {
        let mut child = self.child.take().unwrap();
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM failed");
        for _ in 0..200 {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// POSTs `body` to `path`; returns HTTP status, content type and body.
    pub fn post(&self, path: &str, content_type: &str, body: &[u8]) -> HttpReply {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let mut resp = agent
            .post(&url)
            .header("Content-Type", content_type)
            .send(body)
            .unwrap_or_else(|e| {
                panic!("POST {url} failed: {e}; server log:\n{}", self.log_text());
            });
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap();
        HttpReply {
            status,
            content_type,
            body,
        }
    }

    /// POSTs a CSP XML message to `/imps`.
    pub fn csp(&self, body: &str) -> HttpReply {
        self.post("/imps", CT_XML, body.as_bytes())
    }

    pub fn get(&self, path: &str) -> (u16, String, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent.get(&format!("{}{path}", self.base)).call().unwrap();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut text = String::new();
        resp.body_mut()
            .as_reader()
            .read_to_string(&mut text)
            .unwrap();
        (resp.status().as_u16(), ct, text)
    }

    /// Logs in with a 2-way Login-Request (open registration creates the account); returns
    /// the result code and the SessionID.
    pub fn login(&self, user: &str, password: &str) -> (u32, Option<String>) {
        let prim = format!(
            "<Login-Request><UserID>{user}</UserID><ClientID><URL>imps-host-tests</URL></ClientID>\
             <Password>{password}</Password><TimeToLive>300</TimeToLive></Login-Request>"
        );
        let reply = self.csp(&message(None, "Request", Some("login-1"), &prim));
        assert_eq!(reply.status, 200);
        let msg = reply.decode();
        match msg.primitive() {
            Some(Primitive::LoginResponse(r)) => (
                r.result.as_ref().map_or(0, |r| r.code()),
                r.session_id.clone(),
            ),
            other => panic!("expected a Login-Response, got {other:?}"),
        }
    }
}

impl Drop for ImpsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- imps serve log ---\n{}", self.log_text());
        }
    }
}

pub struct HttpReply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl HttpReply {
    /// Decodes the body as a CSP message; panics with the body when it is not one.
    pub fn decode(&self) -> Message {
        codec::decode(&self.body, Limits::default()).unwrap_or_else(|e| {
            panic!(
                "reply is not a well-formed CSP message ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts HTTP 200, a CSP content type and a well-formed reply; returns its result code.
    pub fn code(&self) -> u32 {
        assert_eq!(
            self.status,
            200,
            "HTTP status; body {:?}",
            String::from_utf8_lossy(&self.body)
        );
        assert!(
            self.content_type.starts_with("application/vnd.wv.csp"),
            "content type {:?}",
            self.content_type
        );
        let msg = self.decode();
        let p = msg
            .primitive()
            .unwrap_or_else(|| panic!("reply has no primitive: {msg:?}"));
        p.result_code()
            .unwrap_or_else(|| panic!("reply primitive carries no Result: {p:?}"))
    }
}

/// A CSP 1.2 message with one transaction; Inband when `session_id` is given.
pub fn message(session_id: Option<&str>, mode: &str, tid: Option<&str>, primitive: &str) -> String {
    let descriptor = match session_id {
        Some(id) => format!("<SessionType>Inband</SessionType><SessionID>{id}</SessionID>"),
        None => "<SessionType>Outband</SessionType>".to_owned(),
    };
    let tid = tid
        .map(|t| format!("<TransactionID>{t}</TransactionID>"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<WV-CSP-Message xmlns=\"{NS_CSP12}\"><Session>\
         <SessionDescriptor>{descriptor}</SessionDescriptor><Transaction><TransactionDescriptor>\
         <TransactionMode>{mode}</TransactionMode>{tid}</TransactionDescriptor>\
         <TransactionContent xmlns=\"{NS_TRC12}\">{primitive}</TransactionContent></Transaction>\
         </Session></WV-CSP-Message>"
    )
}

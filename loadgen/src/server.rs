//! The server under test: a temporary data directory provisioned with `imps user import`
//! while no server runs, then `imps serve` on loopback port 0 with an STCP listener; its CPU
//! time and RSS read from /proc.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux).
const CLOCK_TICKS: f64 = 100.0;

/// A running `imps serve`, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The STCP listener's `ADDR:PORT`.
    pub stcp: String,
    /// Server log file.
    pub log: PathBuf,
}

/// The configuration the bench runs the server with: the STCP wake-up listener, and a
/// cheap password hash so the login figures measure the protocol, not Argon2.
pub fn config(real_hash: bool) -> String {
    let hash = if real_hash {
        ""
    } else {
        "hash_memory_kib = 8\nhash_iterations = 1\n"
    };
    format!("[login]\n{hash}\n[host]\nstcp_listen = \"127.0.0.1:0\"\n")
}

/// Writes `users` (`name,password` lines) and imports them into `dir/data` with the stopped
/// server's `imps user import`.
pub fn provision(imps: &Path, dir: &Path, users: &[(String, String)]) -> Result<f64, String> {
    let csv = dir.join("users.csv");
    let mut text = String::from("user,password\n");
    for (u, p) in users {
        text.push_str(&format!("{u},{p}\n"));
    }
    std::fs::write(&csv, text).map_err(|e| format!("{}: {e}", csv.display()))?;
    let started = Instant::now();
    let out = Command::new(imps)
        .args(["user", "import"])
        .arg(&csv)
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("imps.toml"))
        .output()
        .map_err(|e| format!("{}: {e}", imps.display()))?;
    if !out.status.success() {
        return Err(format!(
            "imps user import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(started.elapsed().as_secs_f64())
}

impl Server {
    /// Starts `imps serve` on `dir/data` with `dir/imps.toml` and `extra` arguments.
    pub fn start(imps: &Path, dir: &Path, extra: &[String]) -> Result<Server, String> {
        let log = dir.join("server.log");
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut child = Command::new(imps)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.join("data"))
            .arg("--config")
            .arg(dir.join("imps.toml"))
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("{}: {e}", imps.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut base, mut stcp) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while base.is_none() || stcp.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                return Err(format!(
                    "imps serve did not print its addresses; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            };
            if let Some(a) = line.strip_prefix("listening on ") {
                base = Some(a.to_owned());
            } else if let Some(a) = line.strip_prefix("stcp listening on ") {
                stcp = Some(a.to_owned());
            }
        }
        Ok(Server {
            child,
            base: base.unwrap_or_default(),
            stcp: stcp.unwrap_or_default(),
            log,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM (clean shutdown), SIGKILL after 10 s.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU seconds (user + system) process `pid` has used.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields after it are fixed.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS)
}

/// Resident set size of process `pid`, bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

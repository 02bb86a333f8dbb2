//! What the host says about an input that made the engine guest trap: a redacted description
//! for the log, and (only with `--keep-trap-inputs`) the raw input on disk for debugging.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use imps_engine::abi;
use imps_engine::server::{Input, Millis};

use crate::redact;

/// The input's kind, session (redacted), transaction id and size; never its content.
pub fn describe(input: &Input) -> String {
    match input {
        Input::Request(r) => {
            let session =
                element(&r.body, "SessionID").map_or_else(|| "-".to_owned(), |s| redact::token(&s));
            let tid = element(&r.body, "TransactionID")
                .map(|t| {
                    t.chars()
                        .take(32)
                        .filter(|c| !c.is_control())
                        .collect::<String>()
                })
                .unwrap_or_else(|| "-".to_owned());
            format!(
                "request conn={} session={session} transaction={tid} size={} bytes",
                r.conn,
                r.body.len()
            )
        }
        Input::Timeout => "timeout".to_owned(),
        Input::Restore(records) => format!("restore of {} record(s)", records.len()),
        Input::Admin { id, .. } => format!("admin command {id}"),
    }
}

/// The text of the first `<name>…</name>` in the first 8 KiB of `body` (prefixes allowed).
fn element(body: &[u8], name: &str) -> Option<String> {
    let head = String::from_utf8_lossy(body.get(..body.len().min(8192)).unwrap_or(body));
    let open = format!("{name}>");
    let start = head.find(&open)? + open.len();
    let rest = head.get(start..)?;
    let end = rest.find('<')?;
    Some(rest.get(..end)?.trim().to_owned())
}

/// Writes the ABI encoding of `input` to `dir/trap-<now>-<pid>-<n>.bin` (mode 0600): it may
/// hold passwords and messages.
pub fn keep(dir: &Path, now: Millis, input: &Input) -> Result<PathBuf, String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let bytes = abi::encode_input(now, input).map_err(|e| e.to_string())?;
    for n in 0..1000u32 {
        let path = dir.join(format!("trap-{now}-{}-{n}.bin", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(&bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Err("too many kept trap inputs".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use imps_engine::server::Request;

    use super::*;

    #[test]
    fn a_trapping_request_is_described_without_its_content() {
        let input = Input::Request(Request {
            conn: 4,
            content_type: String::new(),
            body: b"<Session><SessionID>abcdef123</SessionID><TransactionID>77</TransactionID>\
                    <Password>hunter2</Password>"
                .to_vec(),
            wall_clock_ms: 0,
            peer: None,
        });
        let text = describe(&input);
        assert!(text.contains("session=abcd…"), "{text}");
        assert!(text.contains("transaction=77"), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("abcdef"),
            "{text}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = keep(&dir.path().join("traps"), 5, &input).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (now, back) = abi::decode_input(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!((now, format!("{back:?}")), (5, format!("{input:?}")));
    }
}

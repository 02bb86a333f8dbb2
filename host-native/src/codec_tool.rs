//! `imps codec roundtrip FILE...`: decode each file and print it re-encoded in its own CSP
//! version; a file that does not decode gets one line naming it, the element and the reason.
//! `imps codec xml2wbxml|wbxml2xml IN [-o OUT]`: convert one message between the XML and the
//! WBXML encoding (CSP-REFERENCE §6) through the typed model, in the message's own version.

use std::io::Write;
use std::path::Path;

use imps_engine::codec::{self, DecodeError, Encoding, Limits};

/// One line naming `path` and why it did not decode.
fn decode_failure(path: &Path, e: &DecodeError) -> String {
    if e.element.is_empty() {
        format!("{}: (document): {}", path.display(), e.reason)
    } else {
        format!("{}: {e}", path.display())
    }
}

/// Converts the message in `path` from encoding `from` to `to`, or says in one line why not.
pub fn convert_file(path: &Path, from: Encoding, to: Encoding) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let msg = from
        .decode(&bytes, Limits::default())
        .map_err(|e| decode_failure(path, &e))?;
    Ok(to.encode(&msg))
}

/// Re-encodes one file, or says in one line why not.
pub fn roundtrip_file(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let msg = codec::decode(&bytes, Limits::default()).map_err(|e| decode_failure(path, &e))?;
    Ok(codec::encode(&msg))
}

/// Runs the round trip over `files`, writing documents to `out` and one line per failure to
/// `err`. Returns whether every file succeeded.
pub fn roundtrip(files: &[impl AsRef<Path>], out: &mut impl Write, err: &mut impl Write) -> bool {
    let mut ok = true;
    for f in files {
        match roundtrip_file(f.as_ref()) {
            Ok(doc) => {
                let written = out.write_all(&doc).and_then(|()| {
                    if doc.last() != Some(&b'\n') {
                        out.write_all(b"\n")
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = written {
                    let _ = writeln!(err, "imps: writing the output: {e}");
                    return false;
                }
            }
            Err(line) => {
                ok = false;
                let _ = writeln!(err, "imps: {}", line.replace(['\n', '\r'], " "));
            }
        }
    }
    let _ = out.flush();
    ok
}

//! The web demo's static files on the CSP listener: `GET /` and `GET /<path>` from the
//! directory `[host] web_root` names (the chat client of `web-demo/` and the npm package it
//! imports; `cargo xtask demo` sets it up). Without a web root, `GET /` shows a page saying
//! where the CSP endpoint is.
//!
//! Only plain relative paths are served: a segment that is empty, `.`, `..`, hidden, or holds
//! a backslash or a percent sign is refused with 404, so nothing outside the root is reachable
//! (symbolic links inside the root are followed: the operator put them there).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

/// The page `GET /` shows when no web root is configured.
pub const PLACEHOLDER_HTML: &str = include_str!("placeholder.html");

/// Routes `GET /` and `GET /<path>`: files under `root`, or the placeholder page when `None`.
pub fn router(root: Option<&Path>) -> Router {
    let root = root.map(|r| Arc::new(r.to_path_buf()));
    Router::new()
        .route("/", get(file))
        .route("/{*path}", get(file))
        .with_state(root)
}

async fn file(State(root): State<Option<Arc<PathBuf>>>, req: Request) -> Response {
    let Some(root) = root else {
        return if req.uri().path() == "/" {
            Html(PLACEHOLDER_HTML).into_response()
        } else {
            StatusCode::NOT_FOUND.into_response()
        };
    };
    let Some(relative) = safe_relative(req.uri().path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut path = root.join(relative);
    // Small files read on the blocking pool (the host's tokio has no `fs` feature).
    let read = tokio::task::spawn_blocking(move || {
        if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            path.push("index.html");
        }
        std::fs::read(&path).map(|bytes| (path, bytes))
    })
    .await;
    match read {
        Ok(Ok((path, bytes))) => {
            let mut res = bytes.into_response();
            let headers = res.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&path)),
            );
            // A demo under development: the browser revalidates rather than running stale
            // modules next to a fresh wasm.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            res
        }
        Ok(Err(_)) | Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The request path as a path relative to the root, or `None` when it is not a plain one.
fn safe_relative(uri_path: &str) -> Option<PathBuf> {
    let trimmed = uri_path.strip_prefix('/')?;
    let mut out = PathBuf::new();
    if trimmed.is_empty() {
        return Some(out);
    }
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    for segment in trimmed.split('/') {
        if segment.is_empty()
            || segment.starts_with('.')
            || segment.contains('\\')
            || segment.contains('%')
            || segment.contains('\0')
        {
            return None;
        }
        out.push(segment);
    }
    Some(out)
}

/// The Content-Type of a served file, by its extension (module scripts and wasm need theirs).
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "webmanifest" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" | "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_served() {
        assert_eq!(safe_relative("/"), Some(PathBuf::new()));
        assert_eq!(safe_relative("/app.js"), Some(PathBuf::from("app.js")));
        assert_eq!(
            safe_relative("/imps-engine/browser.js"),
            Some(PathBuf::from("imps-engine/browser.js"))
        );
        for bad in [
            "/../etc/passwd",
            "/a/../../b",
            "/.git/config",
            "/a//b",
            "/%2e%2e/x",
            "/a\\..\\b",
            "relative",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn module_scripts_and_wasm_have_their_types() {
        assert!(content_type(Path::new("a/app.js")).starts_with("text/javascript"));
        assert_eq!(content_type(Path::new("x.wasm")), "application/wasm");
        assert!(content_type(Path::new("index.html")).starts_with("text/html"));
    }
}

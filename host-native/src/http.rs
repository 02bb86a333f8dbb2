//! The CSP HTTP binding (CSP-REFERENCE §5.1) on axum: `POST /imps` (and `POST /`) carry CSP
//! messages; every answer is HTTP 200 with a CSP message (a non-200 status is a transport
//! failure in CSP). `GET /` is the web demo's ([`crate::web`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::BodyExt;

use crate::driver::{EngineClient, HostReply};
use crate::metrics::{self, Metrics};

/// Hard cap on a request body: bodies up to it are read in full and handed to the engine
/// (which applies the configured, smaller limit); larger ones are answered by the host.
pub const BODY_CAP: usize = 8 << 20;

/// An oversize body is read and thrown away up to this many bytes so the client, still
/// sending, gets to read the answer; past it the connection is answered and closed.
pub const DRAIN_LIMIT: usize = 64 << 20;

/// How long reading one body may take.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// The application's routes.
pub fn router(engine: EngineClient) -> Router {
    router_with(engine, None)
}

/// [`router`] counting transactions into `metrics`.
pub fn router_with(engine: EngineClient, metrics: Option<Arc<Metrics>>) -> Router {
    Router::new()
        .route("/", post(csp))
        .route("/imps", post(csp))
        .with_state(Csp { engine, metrics })
}

#[derive(Clone)]
struct Csp {
    engine: EngineClient,
    metrics: Option<Arc<Metrics>>,
}

enum BodyError {
    TooLarge,
    Unreadable,
}

/// Reads a body up to [`BODY_CAP`]; keeps the first bytes of an oversize one (for the version).
async fn read_body(body: Body, head: &mut Vec<u8>) -> Result<Vec<u8>, BodyError> {
    let mut body = body;
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Unreadable)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= BODY_CAP {
            buf.extend_from_slice(&data);
        } else {
            if !buf.is_empty() {
                buf.truncate(4096);
                *head = std::mem::take(&mut buf);
            }
            if total > DRAIN_LIMIT {
                return Err(BodyError::TooLarge);
            }
        }
    }
    if total > BODY_CAP {
        Err(BodyError::TooLarge)
    } else {
        Ok(buf)
    }
}

fn reply(r: HostReply) -> Response {
    let ct = HeaderValue::from_str(&r.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/vnd.wv.csp.xml"));
    (StatusCode::OK, [(header::CONTENT_TYPE, ct)], r.body).into_response()
}

fn host_status(head: &[u8], code: u16, text: &str) -> Response {
    let (ct, body) = crate::csp_status(crate::sniff_version(head), code, text);
    reply(HostReply {
        content_type: ct.to_owned(),
        body,
    })
}

async fn csp(State(Csp { engine, metrics }): State<Csp>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return host_status(&[], 400, "message too large");
    }
    let mut head = Vec::new();
    let body = match tokio::time::timeout(BODY_TIMEOUT, read_body(body, &mut head)).await {
        Ok(Ok(b)) => b,
        Ok(Err(BodyError::TooLarge)) => return host_status(&head, 400, "message too large"),
        Ok(Err(BodyError::Unreadable)) => {
            return host_status(&head, 400, "the request body could not be read");
        }
        Err(_) => return host_status(&head, 400, "the request body took too long"),
    };
    // Only needed if the engine is gone, but the body moves into the call.
    let version = crate::sniff_version(&body);
    let primitive = metrics
        .as_ref()
        .map(|_| metrics::primitive_name(&body).unwrap_or("other").to_owned());
    match engine.call(content_type, body, peer).await {
        Some(r) => {
            if let (Some(m), Some(p)) = (&metrics, &primitive) {
                m.count_transaction(p, &r.body);
            }
            reply(r)
        }
        None => {
            let (ct, body) = crate::csp_status(
                version,
                500,
                "internal server error: the engine is not running",
            );
            reply(HostReply {
                content_type: ct.to_owned(),
                body,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use imps_engine::codec::{self, Limits, Primitive};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_gone_engine_is_answered_with_csp_500_over_http_200() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(EngineClient::disconnected())
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let (status, body) = tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut resp = agent
                .post(&format!("http://{addr}/imps"))
                .header("Content-Type", "application/vnd.wv.csp+xml")
                .send(
                    "<WV-CSP-Message xmlns=\"http://www.openmobilealliance.org/DTD/IMPS-CSP1.3\"/>",
                )
                .unwrap();
            (
                resp.status().as_u16(),
                resp.body_mut().read_to_vec().unwrap(),
            )
        })
        .await
        .unwrap();
        assert_eq!(status, 200);
        let msg = codec::decode(&body, Limits::default()).unwrap();
        assert_eq!(msg.version, imps_engine::codec::Version::V1_3);
        match msg.primitive().unwrap() {
            Primitive::Status(s) => assert_eq!(s.code(), 500),
            other => panic!("unexpected {other:?}"),
        }
    }
}

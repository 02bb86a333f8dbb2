//! Wake-up (CIR) channels (CSP-REFERENCE §5.3): standalone TCP (STCP), standalone HTTP
//! (SHTTP) and a WebSocket channel for browsers. All three carry the same "poll now" signal,
//! the CIR text `WVCI <version> <SessionCookie>`.
//!
//! The engine emits a wake-up when the first unseen transaction is queued for a session (in
//! the same drain as the output that queued it); the engine thread hands it to the [`Hub`]
//! after the turn's commit. The hub sends it on every STCP and WebSocket connection open for
//! the session; when none is open it keeps it (per session, [`PENDING_TTL`]) and sends it as
//! soon as one says `HELO` (as Baraza does: "a WVCI line at once if messages are pending").
//! For SHTTP it marks the session's CIR token: the next `GET /cir/<token>` answers 200 with
//! the CIR text and clears the mark; otherwise 204 with no body. A woken client polls until
//! Poll=F.
//!
//! - **STCP** (`[host] stcp_listen`): the client sends `HELO <SessionID>`; an open session is
//!   answered `OK`, an unknown one has its connection closed. `PING` (or any other line) is
//!   answered `OK`. Lines are at most [`MAX_LINE`] bytes; a connection silent for
//!   [`STCP_IDLE`] is closed (clients ping every 20 minutes).
//! - **SHTTP** (`[host] shttp`): `GET /cir/<token>` on the CSP listener; the engine hands out
//!   the URL (`[cir] shttp_base` plus the session's token) in the agreed capabilities.
//! - **WebSocket** (`GET /cir/ws?session=<SessionID>`, always on): upgraded for an open
//!   session (404 otherwise); each wake-up is one text frame with the CIR text. Not a CSP CIR
//!   method, so not negotiated: a browser client opens it after login.
//!
//! At shutdown [`Hub::close`] ends every connection.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use imps_engine::codec::capability::CirMethod;
use imps_engine::server::WakeUp;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::driver::{Answer, EngineClient, Query};
use crate::metrics::Metrics;
use crate::redact;

/// Longest STCP line accepted from a client.
pub const MAX_LINE: usize = 512;

/// An STCP connection silent this long is closed.
pub const STCP_IDLE: Duration = Duration::from_secs(3600);

/// Time a new STCP connection has to send its `HELO`.
pub const HELO_WAIT: Duration = Duration::from_secs(30);

/// How long a wake-up nobody received is kept for the session's next connection (or SHTTP
/// request).
pub const PENDING_TTL: Duration = Duration::from_secs(900);

/// The CIR text of a wake-up: `WVCI <version> <SessionCookie>`.
pub fn cir_text(w: &WakeUp) -> String {
    match &w.cookie {
        Some(c) => format!("WVCI {} {c}", w.version),
        None => format!("WVCI {}", w.version),
    }
}

#[derive(Default)]
struct State_ {
    next_id: u64,
    /// Open STCP and WebSocket connections by session id.
    conns: BTreeMap<String, Vec<(u64, mpsc::UnboundedSender<String>)>>,
    /// Wake-ups no connection received, by session id.
    pending: BTreeMap<String, (String, Instant)>,
    /// SHTTP tokens with a wake-up waiting.
    shttp: BTreeMap<String, (String, Instant)>,
    last_purge: Option<Instant>,
    closed: bool,
}

/// Routes wake-ups to the connections of their sessions; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    state: Arc<Mutex<State_>>,
    closed: watch::Sender<bool>,
    metrics: Option<Arc<Metrics>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new(None)
    }
}

impl Hub {
    /// A hub counting into `metrics`.
    pub fn new(metrics: Option<Arc<Metrics>>) -> Hub {
        Hub {
            state: Arc::default(),
            closed: watch::channel(false).0,
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State_> {
        // A panic while holding the lock leaves consistent maps; go on with them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a wake-up to the session's connections, or keeps it for the next one; marks its
    /// SHTTP token when SHTTP was agreed.
    pub fn wake(&self, w: &WakeUp) {
        let text = cir_text(w);
        let now = Instant::now();
        let mut st = self.lock();
        if st.closed {
            return;
        }
        if st
            .last_purge
            .is_none_or(|t| now.duration_since(t) > Duration::from_secs(60))
        {
            st.pending
                .retain(|_, (_, at)| now.duration_since(*at) < PENDING_TTL);
            st.shttp
                .retain(|_, (_, at)| now.duration_since(*at) < PENDING_TTL);
            st.last_purge = Some(now);
        }
        if w.methods.contains(&CirMethod::Shttp) {
            st.shttp.insert(w.cir_token.clone(), (text.clone(), now));
        }
        let mut sent = 0;
        if let Some(list) = st.conns.get_mut(&w.session_id) {
            list.retain(|(_, tx)| tx.send(text.clone()).is_ok());
            sent = list.len();
        }
        if sent == 0 {
            st.pending.insert(w.session_id.clone(), (text, now));
        } else if let Some(m) = &self.metrics {
            for _ in 0..sent {
                m.wakeup_sent();
            }
        }
        tracing::debug!(session = %redact::token(&w.session_id), connections = sent, "wake-up");
    }

    /// Registers a connection for `session`: returns its id and the receiver of its
    /// wake-ups (a kept one arrives at once); `None` after [`Hub::close`].
    pub fn register(&self, session: &str) -> Option<(u64, mpsc::UnboundedReceiver<String>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.lock();
        if st.closed {
            return None;
        }
        st.next_id += 1;
        let id = st.next_id;
        if let Some((text, at)) = st.pending.remove(session)
            && at.elapsed() < PENDING_TTL
        {
            let _ = tx.send(text);
            if let Some(m) = &self.metrics {
                m.wakeup_sent();
            }
        }
        st.conns
            .entry(session.to_owned())
            .or_default()
            .push((id, tx));
        if let Some(m) = &self.metrics {
            m.cir_connection(true);
        }
        Some((id, rx))
    }

    /// Forgets connection `id` of `session`.
    pub fn unregister(&self, session: &str, id: u64) {
        let mut st = self.lock();
        if let Some(list) = st.conns.get_mut(session) {
            let before = list.len();
            list.retain(|(i, _)| *i != id);
            if list.len() != before
                && let Some(m) = &self.metrics
            {
                m.cir_connection(false);
            }
            if list.is_empty() {
                st.conns.remove(session);
            }
        }
    }

    /// Takes the wake-up waiting for SHTTP token `token`.
    pub fn take_shttp(&self, token: &str) -> Option<String> {
        let (text, at) = self.lock().shttp.remove(token)?;
        (at.elapsed() < PENDING_TTL).then_some(text)
    }

    /// Ends every connection and refuses new ones (shutdown).
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.conns.clear();
        drop(st);
        self.closed.send_replace(true);
    }

    fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }
}

/// Returns once the hub is closed.
async fn until_closed(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|c| *c).await.is_err() {
        // The hub is gone: nothing will ever close it, so this never completes.
        std::future::pending::<()>().await;
    }
}

async fn session_open(engine: &EngineClient, sid: &str) -> bool {
    !sid.is_empty()
        && sid.len() <= 256
        && matches!(
            engine.query(Query::Session(sid.to_owned())).await,
            Some(Answer::Session(true))
        )
}

// ---- STCP -------------------------------------------------------------------------------

/// Accepts STCP connections until the hub closes.
pub async fn serve_stcp(listener: TcpListener, engine: EngineClient, hub: Hub) {
    let mut closed = hub.closed();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (engine, hub) = (engine.clone(), hub.clone());
                    tokio::spawn(async move { stcp_connection(stream, engine, hub).await });
                }
                Err(e) => {
                    tracing::warn!("STCP accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = until_closed(&mut closed) => break,
        }
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes; `None` at end of stream or on a longer line.
async fn read_line(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut limited = (&mut *reader).take(MAX_LINE as u64 + 1);
    let n = limited.read_until(b'\n', &mut buf).await.ok()?;
    if n == 0 || (buf.len() > MAX_LINE && !buf.ends_with(b"\n")) {
        return None;
    }
    Some(String::from_utf8_lossy(&buf).trim().to_owned())
}

async fn stcp_connection(stream: TcpStream, engine: EngineClient, hub: Hub) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    // Lines are read by their own task: a read cut short by a wake-up would lose bytes.
    let (line_tx, mut lines) = mpsc::channel::<Option<String>>(4);
    let reader_task = tokio::spawn(async move {
        let mut reader = BufReader::new(read);
        loop {
            let line = read_line(&mut reader).await;
            let end = line.is_none();
            if line_tx.send(line).await.is_err() || end {
                break;
            }
        }
    });
    let mut closed = hub.closed();
    let mut session: Option<(String, u64, mpsc::UnboundedReceiver<String>)> = None;
    loop {
        let wait = if session.is_some() {
            STCP_IDLE
        } else {
            HELO_WAIT
        };
        let next = async {
            match session.as_mut() {
                Some((_, _, rx)) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            line = tokio::time::timeout(wait, lines.recv()) => {
                let Ok(Some(Some(line))) = line else { break };
                let mut words = line.split_ascii_whitespace();
                let verb = words.next().unwrap_or("");
                if verb.eq_ignore_ascii_case("HELO") && session.is_none() {
                    let sid = words.next().unwrap_or("").to_owned();
                    if !session_open(&engine, &sid).await {
                        tracing::debug!(session = %redact::token(&sid), "STCP HELO for no open session");
                        break;
                    }
                    if write.write_all(b"OK\r\n").await.is_err() {
                        break;
                    }
                    let Some((id, rx)) = hub.register(&sid) else { break };
                    tracing::debug!(session = %redact::token(&sid), "STCP channel open");
                    session = Some((sid, id, rx));
                } else if write.write_all(b"OK\r\n").await.is_err() {
                    break;
                }
            }
            text = next => {
                let Some(text) = text else { break };
                if write.write_all(format!("{text}\r\n").as_bytes()).await.is_err() {
                    break;
                }
            }
            () = until_closed(&mut closed) => break,
        }
    }
    reader_task.abort();
    if let Some((sid, id, _)) = session {
        hub.unregister(&sid, id);
    }
    let _ = write.shutdown().await;
}

// ---- SHTTP and WebSocket ----------------------------------------------------------------

#[derive(Clone)]
struct Cir {
    engine: EngineClient,
    hub: Hub,
}

/// Routes `GET /cir/<token>` (SHTTP) and `GET /cir/ws?session=<SessionID>` (WebSocket).
pub fn router(engine: EngineClient, hub: Hub) -> Router {
    Router::new()
        .route("/cir/ws", get(websocket))
        .route("/cir/{token}", get(shttp).post(shttp))
        .with_state(Cir { engine, hub })
}

async fn shttp(State(cir): State<Cir>, Path(token): Path<String>) -> Response {
    match cir.hub.take_shttp(&token) {
        Some(text) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
        }
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct WsParams {
    session: String,
}

async fn websocket(
    State(cir): State<Cir>,
    UrlQuery(params): UrlQuery<WsParams>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !session_open(&cir.engine, &params.session).await {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    }
    upgrade
        .max_message_size(4096)
        .on_upgrade(move |socket| ws_connection(socket, cir.hub, params.session))
}

async fn ws_connection(mut socket: WebSocket, hub: Hub, sid: String) {
    let Some((id, mut rx)) = hub.register(&sid) else {
        let _ = socket.send(Message::Close(None)).await;
        return;
    };
    tracing::debug!(session = %redact::token(&sid), "WebSocket CIR channel open");
    let mut closed = hub.closed();
    loop {
        tokio::select! {
            text = rx.recv() => {
                let Some(text) = text else { break };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                // Pings are answered by the WebSocket layer; text from the client is ignored.
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            () = until_closed(&mut closed) => break,
        }
    }
    hub.unregister(&sid, id);
    let _ = socket.send(Message::Close(None)).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use imps_engine::codec::Version;

    use super::*;

    fn wake(session: &str, methods: Vec<CirMethod>) -> WakeUp {
        WakeUp {
            session_id: session.into(),
            version: Version::V1_2,
            cookie: Some("c00kie".into()),
            cir_token: format!("tok-{session}"),
            methods,
        }
    }

    #[tokio::test]
    async fn a_wake_up_reaches_open_connections_or_waits_for_the_next() {
        let hub = Hub::default();
        hub.wake(&wake("s1", vec![]));
        let (id, mut rx) = hub.register("s1").unwrap();
        assert_eq!(
            rx.recv().await.unwrap(),
            "WVCI 1.2 c00kie",
            "kept until HELO"
        );
        hub.wake(&wake("s1", vec![CirMethod::Shttp]));
        assert_eq!(rx.recv().await.unwrap(), "WVCI 1.2 c00kie");
        assert_eq!(hub.take_shttp("tok-s1").as_deref(), Some("WVCI 1.2 c00kie"));
        assert_eq!(hub.take_shttp("tok-s1"), None, "taken once");
        assert_eq!(hub.take_shttp("tok-s2"), None);
        hub.unregister("s1", id);
        hub.close();
        assert!(rx.recv().await.is_none());
        assert!(hub.register("s1").is_none());
    }
}

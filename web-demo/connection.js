// How the demo reaches an IMPS server: *remote* (CSP over HTTP to `imps serve`, wake-ups
// over its WebSocket) or *local* (the server engine in a SharedWorker of this origin, its data
// in IndexedDB, shared by every tab).

/** A connection to `imps serve` at `base` (the page's origin by default). */
export function remote(base = location.origin) {
  const root = new URL(base, location.href);
  const ws = new URL('/cir/ws', root);
  ws.protocol = root.protocol === 'https:' ? 'wss:' : 'ws:';
  return {
    mode: 'remote',
    label: root.origin,
    url: new URL('/imps', root).href,
    // One WebSocket per session: each text frame is a CIR; reopened while the session lives.
    wakeUps(sessionId, nudge) {
      let socket;
      let stopped = false;
      let retry = 500;
      const open = () => {
        if (stopped) return;
        socket = new WebSocket(`${ws.href}?session=${encodeURIComponent(sessionId)}`);
        socket.onopen = () => {
          retry = 500;
          nudge(); // anything that came before the channel was up
        };
        socket.onmessage = () => nudge();
        socket.onclose = () => {
          if (!stopped) setTimeout(open, (retry = Math.min(retry * 2, 15000)));
        };
      };
      open();
      return () => {
        stopped = true;
        socket?.close();
      };
    },
  };
}

let worker = null;

/** The in-browser server's port: a SharedWorker, or a dedicated Worker where there is none. */
function serverPort() {
  if (worker) return worker;
  const url = new URL('./local-server.js', import.meta.url);
  let port;
  let sharedWorker;
  if (typeof SharedWorker === 'function') {
    sharedWorker = new SharedWorker(url, { type: 'module', name: 'imps-local-server' });
    port = sharedWorker.port;
    port.start();
  } else {
    // Without SharedWorker (some mobile browsers) the first tab runs the server in a worker
    // of its own; a Web Lock in the worker keeps it the only one on the database.
    const dedicated = new Worker(url, { type: 'module', name: 'imps-local-server' });
    port = dedicated;
  }
  const pending = new Map();
  const wakeListeners = new Set();
  let next = 1;
  // The worker's script failed to load or run: every waiting request fails with it.
  const failed = (e) => {
    for (const p of pending.values()) p.reject(Object.assign(new Error(`the in-browser server failed: ${e?.message ?? 'cannot start'}`), { code: 503 }));
    pending.clear();
    worker = null;
  };
  (typeof SharedWorker === 'function' ? sharedWorker : port).addEventListener('error', failed);
  port.onmessage = (e) => {
    const m = e.data;
    if (m.type === 'reply' || m.type === 'error') {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (!p) return;
      if (m.type === 'reply') p.resolve({ body: m.body, contentType: m.contentType });
      else p.reject(Object.assign(new Error(m.message), { code: m.code }));
    } else if (m.type === 'wakeUp') {
      for (const l of wakeListeners) l(m.sessionId);
    }
  };
  // A closing tab says so, so the worker stops posting wake-ups to it.
  addEventListener('pagehide', () => port.postMessage({ type: 'bye' }));
  worker = {
    request(body, contentType) {
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        port.postMessage({ type: 'request', id, body, contentType });
      });
    },
    onWakeUp(listener) {
      wakeListeners.add(listener);
      return () => wakeListeners.delete(listener);
    },
  };
  return worker;
}

/** A connection to the server engine running in this browser. */
export function local() {
  const port = serverPort();
  const conn = {
    mode: 'local',
    label: 'this browser',
    /** The worker's last refusal (the client itself only reports a transport failure). */
    lastError: null,
    transport: ({ body, contentType }) =>
      port.request(body, contentType).catch((e) => {
        conn.lastError = e;
        throw e;
      }),
    pollIntervalSecs: 30,
    wakeUps(sessionId, nudge) {
      return port.onWakeUp((id) => {
        if (id === sessionId) nudge();
      });
    },
  };
  return conn;
}

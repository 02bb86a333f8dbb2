// The IMPS server of local mode: the imps-engine server in a SharedWorker (one for every tab
// of this origin), its data in IndexedDB, so tabs chat with no server and the data outlives
// them. Tabs talk to it over their port: `{ type: 'request', id, body, contentType }` in,
// `{ type: 'reply', id, body, contentType }` or `{ type: 'error', id, code, message }` out;
// wake-ups go to every tab as `{ type: 'wakeUp', sessionId }` (each client keeps its own).
//
// The package is imported dynamically: its entry compiles the wasm with a top-level await, and
// a static import would hold up this module's evaluation past the `connect` events of the
// first tabs, which would be lost.

/** The IndexedDB database of the in-browser server. */
const DATABASE = 'imps-web-demo';

// Open registration: a first login creates the account, as `cargo xtask demo` does. Lighter
// password hashing than a server's: this runs in a tab, on the user's own device.
const CONFIG = { login: { open_registration: true, hash_memory_kib: 1024, hash_iterations: 2 } };

const ports = new Set();
let serverPromise = null;

/** Holds the Web Lock that makes this the only server on the database; false if another has it. */
function exclusive() {
  if (!self.navigator?.locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    self.navigator.locks.request(`${DATABASE}-server`, { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      // Held for the worker's life: the lock goes when the worker does.
      return lock ? new Promise(() => {}) : undefined;
    });
  });
}

function server() {
  serverPromise ??= (async () => {
    // Two servers on one database would each trust their own memory: where tabs cannot share
    // one (no SharedWorker), the first tab's runs and the others are told so.
    if (!(await exclusive())) {
      throw Object.assign(new Error('the in-browser server already runs in another tab of this browser'), { code: 503 });
    }
    const { ImpsServer, IndexedDbStore } = await import('./imps-engine/browser.js');
    const s = await ImpsServer.open(CONFIG, await IndexedDbStore.open(DATABASE));
    s.on('wakeUp', (w) => {
      for (const p of ports) p.postMessage({ type: 'wakeUp', sessionId: w.sessionId });
    });
    return s;
  })();
  return serverPromise;
}

function attach(port) {
  ports.add(port);
  port.onmessage = async (e) => {
    const m = e.data;
    if (m?.type === 'bye') {
      ports.delete(port);
      return;
    }
    if (m?.type !== 'request') return;
    try {
      const s = await server();
      const reply = await s.handle({ body: m.body, contentType: m.contentType, peer: 'local' });
      // The body may be a view of a pooled buffer: post a copy of just its bytes.
      port.postMessage({ type: 'reply', id: m.id, body: reply.body.slice(), contentType: reply.contentType });
    } catch (err) {
      port.postMessage({ type: 'error', id: m.id, code: err?.code ?? 500, message: String(err?.message ?? err) });
    }
  };
  port.start?.();
}

if (typeof SharedWorkerGlobalScope !== 'undefined' && self instanceof SharedWorkerGlobalScope) {
  self.onconnect = (e) => {
    for (const p of e.ports) attach(p);
  };
} else {
  // A dedicated worker: the worker itself is the one port.
  attach(self);
}

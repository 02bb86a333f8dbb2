// The host side of the imps-engine package, shared by the Node and browser entries: it owns
// time (timers), entropy, transports and durability; the engine (wasm) owns the protocol.
import * as wasm from './imps_wasm.js';

/** Errors of the package: `{ code, message, details }`, `code` a CSP status code where one fits. */
export class ImpsError extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = 'ImpsError';
    this.code = code;
    this.details = details;
  }
}

// Set once a panic ended the module: wasm32 aborts on panic, so the instance's memory may be
// half-updated. Every later call says so instead of running on broken state.
let deadBecause = null;

function toImpsError(e) {
  if (e instanceof ImpsError) return e;
  if (e && typeof e === 'object' && typeof e.code === 'number' && typeof e.message === 'string') {
    return new ImpsError(e.code, e.message, e.details);
  }
  return new ImpsError(500, String(e && e.message ? e.message : e), undefined);
}

/** Calls into the engine; turns traps into a dead instance and engine errors into ImpsError. */
function call(fn) {
  if (deadBecause !== null) {
    throw new ImpsError(500, `the imps-engine instance is dead after a panic: ${deadBecause}`, {
      panic: deadBecause,
    });
  }
  try {
    return fn();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      let why = e.message;
      try {
        why = wasm.lastPanic() ?? why;
      } catch {
        // The instance may be too broken to answer; the trap's own message stays.
      }
      deadBecause = why;
      throw new ImpsError(500, `the imps-engine module panicked: ${why}`, { panic: why });
    }
    throw toImpsError(e);
  }
}

/** Whether a panic ended the module (every call then throws). */
export function isDead() {
  return deadBecause !== null;
}

/** Version information: the crate version, the host interface version, the storage schema. */
export function versions() {
  return call(() => ({
    package: wasm.version(),
    interface: wasm.interfaceVersion(),
    schema: wasm.schemaVersion(),
  }));
}

/** Makes the next engine call panic (tests of the panic path only). */
export function __panicForTests() {
  return call(() => wasm.__panicForTests());
}

function randomHex(bytes) {
  const b = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function seed() {
  const s = new Uint8Array(32);
  globalThis.crypto.getRandomValues(s);
  return s;
}

// Monotonic milliseconds for the engine (it never reads a clock itself).
const now = () => Math.floor(globalThis.performance.now());

const encoder = new TextEncoder();
const asBytes = (b) =>
  typeof b === 'string' ? encoder.encode(b) : b instanceof Uint8Array ? b : new Uint8Array(b);

// Module-private members of Emitter: whether anything listens to a type, and the hook a
// subclass has called with the type after every change of its listeners.
const listening = Symbol('listening');
const listenersChanged = Symbol('listenersChanged');

/** A minimal listener registry (works the same in browsers, workers and Node). */
class Emitter {
  #listeners = new Map();
  /** Calls `listener` for every event `type` (`'*'`: every event). Returns an unsubscriber. */
  on(type, listener) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(listener);
    this[listenersChanged]?.(type);
    return () => this.off(type, listener);
  }
  off(type, listener) {
    this.#listeners.get(type)?.delete(listener);
    this[listenersChanged]?.(type);
  }
  [listening](type) {
    return this.#listeners.get(type)?.size > 0 || this.#listeners.get('*')?.size > 0;
  }
  /** The next event `type` for which `predicate` holds, or an ImpsError 408 after `timeoutMs`. */
  next(type, predicate = () => true, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new ImpsError(408, `no ${type} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(type, (e) => {
        if (predicate(e)) {
          clearTimeout(timer);
          off();
          resolve(e);
        }
      });
    });
  }
  emit(type, value) {
    for (const t of [type, '*']) {
      for (const l of this.#listeners.get(t) ?? []) {
        try {
          l(value);
        } catch (e) {
          // A listener's bug must not break the engine's pump.
          queueMicrotask(() => {
            throw e;
          });
        }
      }
    }
  }
}

// A deadline already due runs on the next macrotask rather than through setTimeout(0), which
// browsers and Node clamp to 1 ms or more: the engine often asks for "now" (a poll right
// after a message, an acknowledgement).
const soon = globalThis.setImmediate
  ? (f) => ({ immediate: globalThis.setImmediate(f) })
  : (f) => ({ timeout: setTimeout(f, 0) });

/** Runs `f` at monotonic time `at`; returns a handle for {@link cancel}. */
function at(when, f) {
  const delay = when - now();
  if (delay <= 0) return soon(f);
  return { timeout: unref(setTimeout(f, delay)) };
}

function cancel(handle) {
  if (!handle) return;
  if (handle.immediate !== undefined) globalThis.clearImmediate(handle.immediate);
  if (handle.timeout !== undefined) clearTimeout(handle.timeout);
}

function unref(timer) {
  if (timer && typeof timer.unref === 'function') timer.unref();
  return timer;
}

/**
 * One timer kept at the earliest deadline asked for, for a server or a client: a later
 * deadline leaves it as it is (when it rings, the engine is asked again), so a request that
 * only moves a deadline forward costs no timer churn — re-arming a timer on every request was
 * a good part of a message's cost. `due()` gives the engine's next deadline; `fire(t)` runs
 * the engine's timeout at monotonic time `t`.
 */
class Deadline {
  #timer = null;
  #at = Infinity;
  #stopped = false;
  #due;
  #fire;

  constructor(due, fire) {
    this.#due = due;
    this.#fire = fire;
  }

  /** Makes sure the timer rings by `when` (nothing for no deadline). */
  arm(when) {
    if (this.#stopped || when === undefined || when === null || Number.isNaN(when)) return;
    if (this.#timer !== null && this.#at <= when) return;
    cancel(this.#timer);
    this.#at = when;
    this.#timer = at(when, () => this.#ring());
  }

  /** Stops the timer for good. */
  stop() {
    this.#stopped = true;
    cancel(this.#timer);
    this.#timer = null;
  }

  #ring() {
    this.#timer = null;
    this.#at = Infinity;
    if (this.#stopped || deadBecause !== null) return;
    const due = call(this.#due);
    if (due === undefined || due === null) return;
    const t = now();
    if (due > t) this.arm(due);
    else this.#fire(t);
  }
}

// ---- stores ----------------------------------------------------------------------------------

// The records of a MemoryStore, for ImpsServer (module-private).
const memoryRecords = Symbol('memoryRecords');

/**
 * A store in memory: `{ load(), apply(batch) }` like every store. Its records live in the
 * engine module's memory, where a server attached to it applies its batches itself.
 */
export class MemoryStore {
  // Made on first use: the module may not be initialised yet when the store is constructed.
  #records = null;
  #key = null;
  /** The server key (sealed passwords for digest login): random, for this store's life. */
  async serverKey() {
    this.#key ??= randomHex(32);
    return this.#key;
  }
  async load() {
    return call(() => this[memoryRecords]().load());
  }
  async apply(batch) {
    call(() => this[memoryRecords]().apply(batch.ops));
  }
  [memoryRecords]() {
    return (this.#records ??= new wasm.MemoryRecords());
  }
}

// `bytes` alone in its buffer: as it is when it is, else a copy.
const compact = (bytes) =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();

/** The IndexedDB layout version of {@link IndexedDbStore}. */
export const INDEXED_DB_VERSION = 1;

// Migrations of the IndexedDB layout, by the version they bring the database to. Each runs in
// the versionchange transaction, so a failed upgrade leaves the old layout whole.
const MIGRATIONS = {
  1(db) {
    // Records keyed by [table, key]: one object store keeps the engine's tables in order.
    db.createObjectStore('records');
    db.createObjectStore('meta');
  },
};

const request = (r) =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

/**
 * The built-in browser store: IndexedDB, one readwrite transaction per batch, committed
 * explicitly; a batch's promise resolves only once its transaction completed (durable).
 */
export class IndexedDbStore {
  #db;
  constructor(db) {
    this.#db = db;
  }

  /** Opens (creating or migrating) the database `name`. */
  static async open(name = 'imps-engine', indexedDB = globalThis.indexedDB) {
    if (!indexedDB) throw new ImpsError(500, 'IndexedDB is not available here (in Node, import fake-indexeddb/auto or bring a store)');
    const open = indexedDB.open(name, INDEXED_DB_VERSION);
    open.onupgradeneeded = (e) => {
      const db = open.result;
      for (let v = e.oldVersion + 1; v <= INDEXED_DB_VERSION; v++) MIGRATIONS[v](db, open.transaction);
      open.transaction.objectStore('meta').put(wasm.schemaVersion(), 'engineSchema');
    };
    let db;
    try {
      db = await request(open);
    } catch (e) {
      throw new ImpsError(500, `cannot open IndexedDB ${name}: ${e?.message ?? e}`);
    }
    return new IndexedDbStore(db);
  }

  /** Every record, ordered by table then key. */
  async load() {
    const tx = this.#db.transaction('records', 'readonly');
    const store = tx.objectStore('records');
    const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
    return keys.map(([table, key], i) => ({ table, key, value: new Uint8Array(values[i]) }));
  }

  /**
   * The server key that seals passwords for digest login, generated at first use and kept
   * with the data (like `imps serve`'s `server.key`; configure `server_key` to keep it apart).
   */
  async serverKey() {
    const read = this.#db.transaction('meta', 'readonly');
    const existing = await request(read.objectStore('meta').get('serverKey'));
    if (typeof existing === 'string') return existing;
    const key = randomHex(32);
    const tx = this.#db.transaction('meta', 'readwrite', { durability: 'strict' });
    tx.objectStore('meta').add(key, 'serverKey');
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('aborted'));
      if (typeof tx.commit === 'function') tx.commit();
    });
    return key;
  }

  /** Applies one batch in one transaction; resolves once it is committed. */
  apply(batch) {
    return new Promise((resolve, reject) => {
      let tx;
      try {
        tx = this.#db.transaction('records', 'readwrite', { durability: 'strict' });
        const store = tx.objectStore('records');
        for (const op of batch.ops) {
          // A copy of just the value: the structured clone of a view takes its whole buffer.
          if (op.op === 'put') store.put(compact(op.value), [op.table, op.key]);
          else store.delete([op.table, op.key]);
        }
      } catch (e) {
        reject(new ImpsError(500, `storage batch ${batch.id}: ${e?.message ?? e}`));
        return;
      }
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(new ImpsError(500, `storage batch ${batch.id}: ${tx.error?.message ?? 'failed'}`));
      tx.onabort = () => reject(new ImpsError(500, `storage batch ${batch.id}: aborted`));
      // Explicit commit: nothing else is awaited inside this transaction.
      if (typeof tx.commit === 'function') tx.commit();
    });
  }

  /** Closes the database. */
  close() {
    this.#db.close();
  }
}

// ---- packed outputs ----------------------------------------------------------------------------

// Tags of the packed outputs that `ServerCore.drain` writes (`Packed` in src/lib.rs).
const REPLY = 1;
const STORAGE = 2;
const WAKE_UP = 4;
const PUT = 1;

const utf8 = new TextDecoder();

// Views of the module's memory, renewed when a growth detached them.
let memory = null;
let mem8 = new Uint8Array(0);
let memView = new DataView(new ArrayBuffer(0));
function views() {
  memory ??= wasm.wasmMemory();
  if (mem8.buffer !== memory.buffer) {
    mem8 = new Uint8Array(memory.buffer);
    memView = new DataView(memory.buffer);
  }
}

// Bytes copied out of the module's memory (reply bodies, stored values) are views of a shared
// pool, as Node's own small Buffers are: V8 allocates every ArrayBuffer outside its heap, for
// about 2 µs whatever its size (three per IM step were a quarter of the step), while a view of
// an existing one costs a tenth of that. A drain's data area is copied into the pool at once
// and each value is a view of it. A pool is never reused: it lives while a view of it does. A
// larger area gets a buffer per value, so a kept value never holds a large reply alive.
const POOL_SIZE = 16 * 1024;
let pool = new Uint8Array(0);
let pooled = 0;

/**
 * The byte strings of a drain's data area (`len` bytes at `at` in memory), taken in order:
 * `take(n)` gives the next `n` bytes as a view no later call into the module can change.
 */
function dataArea(at, len) {
  let pos = 0;
  if (len > POOL_SIZE >>> 2) {
    return (n) => {
      const b = mem8.slice(at + pos, at + pos + n);
      pos += n;
      return b;
    };
  }
  if (pooled + len > pool.length) {
    pool = new Uint8Array(POOL_SIZE);
    pooled = 0;
  }
  pool.set(mem8.subarray(at, at + len), pooled);
  const base = pooled;
  pooled += len;
  return (n) => {
    const b = pool.subarray(base + pos, base + pos + n);
    pos += n;
    return b;
  };
}

let tables = null;
// The usual CSP content types; a request or reply names one by its position plus one.
let contentTypeNames = null;
let contentTypeCodes = null;
const contentTypeList = () => (contentTypeNames ??= call(() => wasm.contentTypes()));
// The number `ServerCore.request` takes for a usual CSP content type, else 0 (the string then).
const contentTypeCode = (t) => {
  contentTypeCodes ??= new Map(contentTypeList().map((name, i) => [name, i + 1]));
  return contentTypeCodes.get(t) ?? 0;
};
// The content type of a code in a packed reply.
const contentTypeName = (code) => contentTypeList()[code - 1];
const tableName = (i) => (tables ??= call(() => wasm.tableNames()))[i];

// ---- server ----------------------------------------------------------------------------------

/**
 * The server engine in this JS host: requests in, replies out once every storage batch before
 * them is durable (the durability contract); timers driven here; wake-ups and audit events
 * as events.
 */
export class ImpsServer extends Emitter {
  #core;
  #store;
  // The MemoryStore's records when the engine applies batches to them itself.
  #memory = null;
  // What the engine was last told about wake-up listeners (it starts packing them).
  #wakeUps = true;
  #nextConn = 1;
  #nextAdmin = 1;
  #waiting = new Map();
  #admins = new Map();
  // Durability: batches handed to the store and not yet settled (at most one at a time, in
  // order), and what waits behind them in emission order: batches to apply and releases of
  // replies and admin results (functions given the store failure or null).
  #inflight = 0;
  #queue = [];
  #idle = [];
  #storeFailure = null;
  #deadline = new Deadline(
    () => this.#core.pollTimeout(),
    (t) => {
      call(() => this.#core.timeout(t));
      this.#pump();
    },
  );
  #pumping = false;
  #again = false;
  #started = false;
  #ready;
  #closed = false;

  /**
   * `config`: the TOML configuration's fields (`{}` for the defaults); `store`: `{ load(),
   * apply(batch), serverKey()? }`. Without `server_key` in `config`, the store's
   * `serverKey()` gives it (digest login needs one).
   */
  constructor(config = {}, store = new MemoryStore()) {
    super();
    this.#store = store;
    // A MemoryStore that keeps its own load and apply: the engine applies its batches to
    // the store's records inside the module (memory is durable at once), and no key or
    // value crosses into JS on a request.
    if (store instanceof MemoryStore && store.apply === MemoryStore.prototype.apply && store.load === MemoryStore.prototype.load) {
      this.#memory = store[memoryRecords];
    }
    this.#ready = (async () => {
      let cfg = config ?? {};
      if (!cfg.server_key && typeof store.serverKey === 'function') {
        cfg = { ...cfg, server_key: await store.serverKey() };
      }
      this.#core = call(() => new wasm.ServerCore(cfg, seed()));
      this.#syncWakeUps();
      const records = await store.load();
      call(() => this.#core.restore(now(), records));
      if (this.#memory) call(() => this.#core.attachMemory(this.#memory.call(store)));
      this.#pump();
      this.#started = true;
    })();
    // The rejection surfaces through `ready` and every `handle`; do not report it twice.
    this.#ready.catch(() => {});
  }

  /** A server whose stored records are restored. */
  static async open(config, store) {
    const s = new ImpsServer(config, store);
    await s.ready;
    return s;
  }

  /** Settles once the stored records are restored. */
  get ready() {
    return this.#ready;
  }

  /** One CSP request `{ body, contentType, peer? }` → `{ contentType, body }`, released after durability. */
  handle(req) {
    // Not `async`: once started, the reply's own promise is returned, with no extra hops.
    if (!this.#started) return this.#ready.then(() => this.handle(req));
    return new Promise((resolve, reject) => {
      if (this.#closed) throw new ImpsError(503, 'the server is closed');
      if (this.#storeFailure) throw this.#storeFailure;
      const conn = this.#nextConn++;
      const body = asBytes(req.body ?? new Uint8Array());
      const type = req.contentType ?? 'application/vnd.wv.csp.xml';
      const code = contentTypeCode(type);
      call(() => this.#core.request(now(), conn, code, code === 0 ? type : undefined, body, Date.now(), req.peer ?? undefined));
      // The reply comes out of the drain below.
      this.#waiting.set(conn, { resolve, reject });
      this.#pump();
    });
  }

  /** An operator command (`provisionUser`, `deleteUser`, `forceLogout`, `systemMessage`): its result text. */
  async admin(command) {
    await this.#ready;
    const id = this.#nextAdmin++;
    const result = new Promise((resolve, reject) => this.#admins.set(id, { resolve, reject }));
    call(() => this.#core.admin(now(), id, command));
    this.#pump();
    return result;
  }

  /** Numbers for dashboards: open sessions and accounts. */
  stats() {
    this.#startedOrThrow();
    return call(() => ({ sessions: this.#core.sessionCount(), accounts: this.#core.accountCount() }));
  }

  /** Whether `userId` has an account. */
  hasAccount(userId) {
    this.#startedOrThrow();
    return call(() => this.#core.hasAccount(userId));
  }

  // The engine packs wake-ups only while something listens to them.
  [listenersChanged](type) {
    if (type === 'wakeUp' || type === '*') this.#syncWakeUps();
  }

  #syncWakeUps() {
    const on = this[listening]('wakeUp');
    if (!this.#core || deadBecause !== null || on === this.#wakeUps) return;
    this.#wakeUps = on;
    this.#core.setWakeUps(on);
  }

  #startedOrThrow() {
    if (!this.#core) throw new ImpsError(503, 'the server is still starting: await server.ready');
  }

  /** Stops the timers; settles once every batch handed to the store is durable. */
  async close() {
    this.#closed = true;
    this.#deadline.stop();
    if (this.#inflight > 0 || this.#queue.length > 0) await new Promise((resolve) => this.#idle.push(resolve));
  }

  // Drains the engine until it is quiet. A listener or a store that calls `handle` from inside
  // only feeds the engine: its outputs are drained by the loop here, after the ones before
  // them, so batches stay in the engine's order.
  #pump() {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        this.#drain();
      } while (this.#again);
    } finally {
      this.#pumping = false;
    }
  }

  // One drain: batches go to the store in order and each reply or admin result is released
  // after the batches before it settled. The packed outputs are read out of the module's
  // memory first (bodies and values copied), then acted on: a listener or store calling into
  // the module may grow its memory.
  #drain() {
    const start = call(() => this.#core.drain());
    views();
    const objects = memView.getUint32(start + 4, true) > 0 ? call(() => this.#core.drainObjects()) : null;
    if (objects) views();
    const deadline = memView.getFloat64(start + 8, true);
    // The text area decoded at once; each string is a slice of it, in UTF-16 units.
    const textAt = start + memView.getUint32(start + 16, true);
    const textLen = memView.getUint32(start + 20, true);
    const text = textLen === 0 ? '' : utf8.decode(mem8.subarray(textAt, textAt + textLen));
    const take = dataArea(start + memView.getUint32(start + 24, true), memView.getUint32(start + 28, true));
    const outputs = [];
    let next = 0;
    let at = start + 32;
    let pos = 0;
    const str = () => {
      const n = memView.getUint32(at, true);
      at += 4;
      return text.substring(pos, (pos += n));
    };
    const bytes = () => {
      const n = memView.getUint32(at, true);
      at += 4;
      return take(n);
    };
    // The tagged outputs end where the text area starts.
    while (at < textAt) {
      const tag = mem8[at++];
      if (tag === REPLY) {
        const conn = memView.getFloat64(at, true);
        at += 8;
        const code = mem8[at++];
        const contentType = code > 0 ? contentTypeName(code) : str();
        outputs.push({ type: 'reply', conn, contentType, body: bytes() });
      } else if (tag === STORAGE) {
        const id = memView.getFloat64(at, true);
        const count = memView.getUint32(at + 8, true);
        at += 12;
        const ops = new Array(count);
        for (let i = 0; i < count; i++) {
          const put = mem8[at] === PUT;
          const table = tableName(mem8[at + 1]);
          at += 2;
          const key = str();
          ops[i] = put ? { op: 'put', table, key, value: bytes() } : { op: 'delete', table, key };
        }
        outputs.push({ type: 'storage', id, ops });
      } else if (tag === WAKE_UP) {
        const sessionId = str();
        const version = str();
        const cookie = mem8[at++] === 1 ? str() : undefined;
        const cirToken = str();
        const methods = new Array(memView.getUint32(at, true));
        at += 4;
        for (let i = 0; i < methods.length; i++) methods[i] = str();
        const w = { type: 'wakeUp', sessionId, version };
        if (cookie !== undefined) w.cookie = cookie;
        w.cirToken = cirToken;
        w.methods = methods;
        outputs.push(w);
      } else {
        outputs.push(objects[next++]);
      }
    }
    for (const o of outputs) this.#output(o);
    this.#deadline.arm(deadline);
  }

  #output(o) {
    switch (o.type) {
      case 'reply': {
        const w = this.#waiting.get(o.conn);
        this.#waiting.delete(o.conn);
        if (w) {
          const reply = { contentType: o.contentType, body: o.body };
          this.#release((failure) => (failure ? w.reject(failure) : w.resolve(reply)));
        }
        break;
      }
      case 'storage':
        this.#batch(o);
        break;
      case 'adminResult': {
        const w = this.#admins.get(o.id);
        this.#admins.delete(o.id);
        if (w) {
          this.#release((failure) =>
            failure ? w.reject(failure) : o.ok ? w.resolve(o.text) : w.reject(new ImpsError(400, o.text)),
          );
        }
        break;
      }
      case 'wakeUp':
        this.emit('wakeUp', o);
        break;
      case 'event':
        this.emit('event', o.event);
        break;
    }
  }

  // A reply or admin result: released now when no batch is pending, else behind them.
  #release(settle) {
    if (this.#inflight === 0 && this.#queue.length === 0) settle(this.#storeFailure);
    else this.#queue.push(settle);
  }

  #batch(batch) {
    if (this.#inflight === 0 && this.#queue.length === 0) this.#apply(batch);
    else this.#queue.push(batch);
  }

  // Hands one batch to the store; a promise from it holds everything queued until it settles.
  #apply(batch) {
    // The engine's memory is ahead of the store after a failure: nothing more is written.
    if (this.#storeFailure) return;
    let done;
    try {
      done = this.#store.apply(batch);
    } catch (e) {
      this.#failed(batch, e);
      return;
    }
    if (done && typeof done.then === 'function') {
      this.#inflight++;
      Promise.resolve(done).then(
        () => this.#settled(),
        (e) => {
          this.#failed(batch, e);
          this.#settled();
        },
      );
    }
  }

  #failed(batch, e) {
    if (this.#storeFailure) return;
    // The engine's memory is now ahead of the store: refuse to answer from it.
    this.#storeFailure = new ImpsError(500, `storage failed; the server stops answering: ${e?.message ?? e}`, {
      batch: batch.id,
    });
    this.emit('storageError', this.#storeFailure);
  }

  #settled() {
    this.#inflight--;
    while (this.#inflight === 0 && this.#queue.length > 0) {
      const next = this.#queue.shift();
      if (typeof next === 'function') next(this.#storeFailure);
      else this.#apply(next);
    }
    if (this.#inflight === 0 && this.#queue.length === 0) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }
}

// ---- client ----------------------------------------------------------------------------------

/** The default transport: HTTP POST of the CSP message to `url` with fetch. */
export function fetchTransport(url) {
  return async ({ body, contentType }) => {
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': contentType }, body });
    if (!res.ok) throw new ImpsError(503, `HTTP ${res.status} from ${url}`);
    return { contentType: res.headers.get('Content-Type') ?? '', body: new Uint8Array(await res.arrayBuffer()) };
  };
}

/** Wake-ups over a WebSocket: every message received nudges the client. */
export function webSocketWakeUp(url) {
  return (nudge) => {
    const ws = new WebSocket(url);
    ws.onmessage = () => nudge();
    return () => ws.close();
  };
}

const successful = (code) => code === undefined || (code >= 200 && code < 300);

// Element trees of the typed client helpers. Children that are false, null or undefined are
// left out, so optional parts read inline; numbers become text; anything else that is neither
// text nor an element is refused here, naming the element, rather than by the codec with a
// less telling message.
const node = (name, ...children) => ({
  name,
  attributes: {},
  children: children
    .filter((c) => c !== false && c !== null && c !== undefined)
    .map((c) => {
      if (typeof c === 'string' || (typeof c === 'object' && typeof c.name === 'string')) return c;
      if (typeof c === 'number') return String(c);
      throw new ImpsError(400, `${name}: ${JSON.stringify(c)} is neither text nor an element`);
    }),
});
const flag = (b) => (b ? 'T' : 'F');
const userIds = (ids) => ids.map((u) => node('UserID', u));
const userNodes = (ids) => ids.map((u) => node('User', node('UserID', u)));
const userList = (ids) => node('UserList', ...userNodes(ids));
// `ScreenName (SName, GroupID?)`.
const screenNameOf = (name, groupId) =>
  node('ScreenName', node('SName', name), groupId !== undefined && node('GroupID', groupId));
// A contact list entry: a user id, or `{ userId, nickname }`.
const nickName = (u) =>
  typeof u === 'string'
    ? node('NickName', node('UserID', u))
    : node('NickName', u.nickname !== undefined && node('Name', u.nickname), node('UserID', u.userId));
// CSP properties from `{ Name: 'x', Searchable: true, MaxActiveUsers: 10 }`.
const propertyNodes = (props) =>
  Object.entries(props).map(([k, v]) => node('Property', node('Name', k), node('Value', typeof v === 'boolean' ? flag(v) : String(v))));
const listProperties = (displayName, defaultList) =>
  (displayName !== undefined || defaultList !== undefined) &&
  node(
    'ContactListProperties',
    ...propertyNodes({
      ...(displayName !== undefined ? { DisplayName: displayName } : {}),
      ...(defaultList !== undefined ? { Default: defaultList } : {}),
    }),
  );
const groupProperties = (props, welcomeNote) =>
  node(
    'GroupProperties',
    ...propertyNodes(props),
    welcomeNote !== undefined &&
      node('WelcomeNote', node('ContentType', 'text/plain'), node('ContentData', welcomeNote)),
  );

// The client event types, each with its bit in `ClientCore.setEvents`'s mask.
let clientEventBits = null;

/**
 * A CSP client: login (both schemes), presence, messaging and any primitive as an element
 * tree, over a transport (default: fetch to `url`). Wake-ups: polling by the engine's own
 * schedule, plus `wakeUp` (a function given a nudge) or `wakeUpUrl` (a WebSocket).
 */
export class ImpsClient extends Emitter {
  #core;
  #transport;
  #deadline = new Deadline(
    () => this.#core.pollTimeout(),
    (t) => this.#run(() => this.#core.timeout(t)),
  );
  #stopWakeUp = null;
  #closed = false;
  #userId;
  // The event bits the engine was last given (it starts with all).
  #events = -1;

  constructor(options) {
    super();
    const { url, transport, wakeUp, wakeUpUrl, ...engine } = options ?? {};
    this.#userId = engine.userId;
    if (!transport && !url) throw new ImpsError(400, 'ImpsClient needs `url` or `transport`');
    this.#core = call(() => new wasm.ClientCore(engine, seed()));
    this.#syncEvents();
    this.#transport = transport ?? fetchTransport(url);
    const channel = wakeUp ?? (wakeUpUrl ? webSocketWakeUp(wakeUpUrl) : null);
    if (channel) this.#stopWakeUp = channel(() => this.wakeUp());
  }

  /** The CSP version spoken. */
  get version() {
    return call(() => this.#core.version);
  }
  /** The session id once logged in. */
  get sessionId() {
    return call(() => this.#core.sessionId) ?? null;
  }
  /** Whether the session is negotiated and ready. */
  get isReady() {
    return call(() => this.#core.isReady);
  }

  /** Logs in and negotiates; resolves with the `ready` event, rejects with the refusal's code. */
  async login() {
    const outcome = new Promise((resolve, reject) => {
      const off = this.on('*', (e) => {
        if (e.type === 'ready') {
          off();
          resolve(e);
        } else if (e.type === 'loginFailed') {
          off();
          reject(new ImpsError(e.code, e.description || `login refused (${e.code})`, e));
        } else if (e.type === 'error' && !this.sessionId) {
          off();
          reject(new ImpsError(503, `login failed: ${e.message}`, e));
        }
      });
    });
    this.#run(() => this.#core.login(now()));
    return outcome;
  }

  /** Logs out; resolves with the `disconnected` event. */
  async logout() {
    const done = this.next('disconnected', () => true, 60000);
    this.#run(() => this.#core.logout(now()));
    return done;
  }

  /** Polls now (the engine also polls on its own schedule). */
  poll() {
    this.#run(() => this.#core.poll(now()));
  }
  /** Sends a keep-alive now. */
  keepAlive() {
    this.#run(() => this.#core.keepAlive(now()));
  }
  /** A wake-up (CIR) arrived: the client polls. */
  wakeUp() {
    if (!this.#closed) this.#run(() => this.#core.wakeUp(now()));
  }

  /** Publishes presence: `{ OnlineStatus: true, UserAvailability: 'AVAILABLE', StatusText: '…' }`. */
  updatePresence(attributes) {
    return this.#request((t) => this.#core.updatePresence(t, attributes));
  }
  /** Subscribes to users' and contact lists' presence (attribute names; all when left out). */
  subscribePresence({ users = [], contactLists = [], attributes, autoSubscribe } = {}) {
    return this.#request((t) => this.#core.subscribePresence(t, users, contactLists, attributes, autoSubscribe));
  }
  /** Ends presence subscriptions. */
  unsubscribePresence({ users = [], contactLists = [] } = {}) {
    return this.#request((t) => this.#core.unsubscribePresence(t, users, contactLists));
  }
  /** Asks for presence now. */
  getPresence({ users = [], contactLists = [], attributes } = {}) {
    return this.#request((t) => this.#core.getPresence(t, users, contactLists, attributes));
  }
  /** Grants attributes proactively (attribute list) to users, contact lists or everyone. */
  createAttributeList({ attributes, users = [], contactLists = [], defaultList = false }) {
    return this.#request((t) => this.#core.createAttributeList(t, attributes, users, contactLists, defaultList));
  }
  /** Answers an `authorizationRequest` event. */
  authorize(userId, accept, attributes) {
    return this.#request((t) => this.#core.authorize(t, userId, accept, attributes));
  }
  /** The merged presence of a contact, as a `PresenceSubList` tree, or null. */
  presenceOf(userId) {
    return call(() => this.#core.presenceOf(userId));
  }

  /** Sends a text message to users, contact lists or groups. */
  sendText({ users = [], contactLists = [], groups = [], text, deliveryReport = false }) {
    return this.#request((t) => this.#core.sendText(t, users, contactLists, groups, text, deliveryReport));
  }
  /** Fetches a waiting message (its `message` event follows). */
  getMessage(messageId) {
    return this.#request((t) => this.#core.getMessage(t, messageId));
  }
  /** Confirms a message (MessageDelivered). */
  messageDelivered(messageId) {
    return this.#request((t) => this.#core.messageDelivered(t, messageId));
  }
  /** Rejects waiting messages. */
  rejectMessages(messageIds) {
    return this.#request((t) => this.#core.rejectMessages(t, messageIds));
  }
  /** Push (`'P'`) or notify (`'N'`) delivery, for the session or one group. */
  setDeliveryMethod(method, { acceptedContentLength, group } = {}) {
    return this.#request((t) => this.#core.setDeliveryMethod(t, method, acceptedContentLength, group));
  }
  /** The envelopes of waiting messages. */
  getMessageList({ group, count } = {}) {
    return this.#request((t) => this.#core.getMessageList(t, group, count));
  }

  // ---- contact lists, block and grant lists (element trees the codec checks before sending)

  /** The contact lists (GetList-Request): their ids and the default one. */
  getContactLists() {
    return this.#build(() => node('GetList-Request'));
  }
  /** Creates contact list `listId` (`wv:you/name@domain`) with users (ids or `{ userId, nickname }`). */
  createContactList(listId, { users = [], displayName, defaultList } = {}) {
    return this.#build(() =>
      node(
        'CreateList-Request',
        node('ContactList', listId),
        users.length > 0 && node('NickList', ...users.map(nickName)),
        listProperties(displayName, defaultList),
      ),
    );
  }
  /** Deletes a contact list. */
  deleteContactList(listId) {
    return this.#build(() => node('DeleteList-Request', node('ContactList', listId)));
  }
  /** Adds or removes users of a contact list, or changes its properties; resolves with its members. */
  manageContactList(listId, { add = [], remove = [], displayName, defaultList, receiveList = true } = {}) {
    return this.#build(() =>
      node(
        'ListManage-Request',
        node('ContactList', listId),
        add.length > 0 && node('AddNickList', ...add.map(nickName)),
        remove.length > 0 && node('RemoveNickList', ...userIds(remove)),
        listProperties(displayName, defaultList),
        this.version !== '1.1' && node('ReceiveList', flag(receiveList)),
      ),
    );
  }
  /** The block and grant lists (GetBlockedList-Request). */
  getBlockedList() {
    return this.#build(() => node('GetBlockedList-Request'));
  }
  /**
   * Changes the block and grant lists (BlockEntity-Request): users to add to or remove from
   * each, and whether each list is applied.
   */
  blockUsers({ block = [], unblock = [], blockListInUse, grant = [], ungrant = [], grantListInUse } = {}) {
    const v13 = this.version === '1.3';
    const list = (name, add, remove, inUse) =>
      (add.length > 0 || remove.length > 0 || (!v13 && inUse !== undefined)) &&
      node(
        name,
        !v13 && inUse !== undefined && node('InUse', flag(inUse)),
        add.length > 0 && node('AddList', ...userIds(add)),
        remove.length > 0 && node('RemoveList', ...userIds(remove)),
      );
    return this.#build(() =>
      node(
        'BlockEntity-Request',
        list('BlockList', block, unblock, blockListInUse),
        v13 && blockListInUse !== undefined && node('BlockListInUse', flag(blockListInUse)),
        list('GrantList', grant, ungrant, grantListInUse),
        v13 && grantListInUse !== undefined && node('GrantListInUse', flag(grantListInUse)),
      ),
    );
  }

  // ---- groups

  /**
   * Creates group `groupId` (`wv:you/name@domain`): `properties` are CSP group properties
   * (`{ Name, Topic, AccessType: 'Open', Searchable: true, … }`); `join` joins it at once.
   */
  createGroup(groupId, { properties = {}, welcomeNote, join = false, screenName, subscribe = false } = {}) {
    return this.#build(() =>
      node(
        'CreateGroup-Request',
        node('GroupID', groupId),
        groupProperties(properties, welcomeNote),
        node('JoinGroup', flag(join)),
        join && screenName !== undefined && screenNameOf(screenName, groupId),
        node('SubscribeNotification', flag(subscribe)),
      ),
    );
  }
  /** Deletes a group (its administrators only). */
  deleteGroup(groupId) {
    return this.#build(() => node('DeleteGroup-Request', node('GroupID', groupId)));
  }
  /**
   * Joins a group under `screenName`; `joinedUsers` asks for the joined users in the answer;
   * `own` sets own properties (`{ AutoJoin: true }`).
   */
  joinGroup(groupId, { screenName, joinedUsers = false, subscribe = false, own } = {}) {
    return this.#build(() =>
      node(
        'JoinGroup-Request',
        node('GroupID', groupId),
        screenName !== undefined && screenNameOf(screenName, groupId),
        node('JoinedRequest', flag(joinedUsers)),
        node('SubscribeNotification', flag(subscribe)),
        own !== undefined && node('OwnProperties', ...propertyNodes(own)),
      ),
    );
  }
  /** Leaves a group. */
  leaveGroup(groupId) {
    return this.#build(() => node('LeaveGroup-Request', node('GroupID', groupId)));
  }
  /** The members of a group by privilege level. */
  getGroupMembers(groupId) {
    return this.#build(() => node('GetGroupMembers-Request', node('GroupID', groupId)));
  }
  /** The users joined to a group now (CSP 1.2 and later). */
  getJoinedUsers(groupId) {
    return this.#build(() => node('GetJoinedUsers-Request', node('GroupID', groupId)));
  }
  /** Makes users members of a group. */
  addGroupMembers(groupId, users) {
    return this.#build(() => node('AddGroupMembers-Request', node('GroupID', groupId), this.#memberList(users)));
  }
  /** Ends users' membership of a group. */
  removeGroupMembers(groupId, users) {
    return this.#build(() => node('RemoveGroupMembers-Request', node('GroupID', groupId), this.#memberList(users)));
  }
  /** Changes members' privilege levels: administrators, moderators, ordinary users. */
  memberAccess(groupId, { admins = [], moderators = [], users = [] } = {}) {
    const level = (name, ids) => ids.length > 0 && node(name, userList(ids));
    return this.#build(() =>
      node(
        'MemberAccess-Request',
        node('GroupID', groupId),
        level('Admin', admins),
        level('Mod', moderators),
        users.length > 0 && (this.version === '1.3' ? userList(users) : node('Users', userList(users))),
      ),
    );
  }
  /** The group's properties and the caller's own properties in it. */
  getGroupProps(groupId) {
    return this.#build(() => node('GetGroupProps-Request', node('GroupID', groupId)));
  }
  /** Changes group properties (administrators) and the caller's own properties (`IsMember`, …). */
  setGroupProps(groupId, { properties, welcomeNote, own } = {}) {
    return this.#build(() =>
      node(
        'SetGroupProps-Request',
        node('GroupID', groupId),
        (properties !== undefined || welcomeNote !== undefined) && groupProperties(properties ?? {}, welcomeNote),
        own !== undefined && node('OwnProperties', ...propertyNodes(own)),
      ),
    );
  }
  /** Bans users from a group or lifts bans; resolves with the banned users. */
  rejectFromGroup(groupId, { add = [], remove = [] } = {}) {
    return this.#build(() =>
      node(
        'RejectList-Request',
        node('GroupID', groupId),
        add.length > 0 && node('AddList', ...userIds(add)),
        remove.length > 0 && node('RemoveList', ...userIds(remove)),
      ),
    );
  }
  /** GroupChangeNotice subscription: `'S'` subscribes, `'U'` ends it, `'G'` asks its state. */
  subscribeGroupNotice(groupId, type = 'S') {
    return this.#build(() => node('SubscribeGroupNotice-Request', node('GroupID', groupId), node('SubscribeType', type)));
  }

  // ---- invitations and search

  /**
   * Invites users (InviteType `GR` to a group, `IM`, `PR` presence, `SC` shared content with
   * `urls`, …; `attributes` names the presence attributes a `PR` invitation offers); resolves
   * with the server's Status. The answers arrive as `serverRequest` events (`Invite-Response`).
   * `inviteId` defaults to a random one; it is in the answer.
   */
  invite({ inviteId = randomHex(8), type, users = [], groupId, attributes = [], urls = [], note, validity, screenName } = {}) {
    return this.#build(() =>
      node(
        'Invite-Request',
        node('InviteID', inviteId),
        node('InviteType', type),
        node('Recipient', ...userNodes(users)),
        groupId !== undefined && node('GroupID', groupId),
        attributes.length > 0 && node('PresenceSubList', ...attributes.map((a) => node(a))),
        urls.length > 0 && node('URLList', ...urls.map((u) => node('URL', u))),
        note !== undefined && node('InviteNote', note),
        screenName !== undefined && screenNameOf(screenName, groupId),
        validity !== undefined && node('Validity', String(validity)),
      ),
    ).then((answer) => ({ ...answer, inviteId }));
  }
  /** Answers an invitation (an `InviteUser-Request` in a `serverRequest` event). */
  answerInvitation(inviteId, accept, { note, screenName, groupId } = {}) {
    return this.#build(() =>
      node(
        'InviteUser-Response',
        node('InviteID', inviteId),
        node('Acceptance', flag(accept)),
        node('Sender', ...userNodes([this.#userId])),
        note !== undefined && node('ResponseNote', note),
        screenName !== undefined && screenNameOf(screenName, groupId),
      ),
    );
  }
  /** Withdraws an invitation, from every invitee or from `users`. */
  cancelInvitation(inviteId, { users = [], note } = {}) {
    return this.#build(() =>
      node(
        'CancelInvite-Request',
        node('InviteID', inviteId),
        users.length > 0 && node('Recipient', ...userNodes(users)),
        note !== undefined && node('InviteNote', note),
      ),
    );
  }
  /**
   * Searches users or groups: `criteria` maps SearchElement names to what to look for
   * (`{ USER_LAST_NAME: 'Smith' }`); the answer carries `SearchID` for `searchMore`.
   */
  search(criteria, { limit } = {}) {
    const pairs = Object.entries(criteria ?? {}).map(([k, v]) => [node('SearchElement', k), node('SearchString', String(v))]);
    const lists =
      this.version === '1.3'
        ? [node('SearchPairList', ...pairs.map((p) => node('SearchPair', ...p)))]
        : pairs.map((p) => node('SearchPairList', ...p));
    return this.#build(() => node('Search-Request', ...lists, limit !== undefined && node('SearchLimit', String(limit))));
  }
  /** A page of search `searchId` from result `index` (counted from 1; an answer's `SearchIndex` is its last). */
  searchMore(searchId, index) {
    return this.#build(() => node('Search-Request', node('SearchID', String(searchId)), node('SearchIndex', String(index))));
  }
  /** Ends search `searchId` on the server. */
  stopSearch(searchId) {
    return this.#build(() => node('StopSearch-Request', node('SearchID', String(searchId))));
  }

  // Sends the tree `make` builds; a bad argument (a user id that is not text, a list that is
  // not an array, …) rejects the returned promise like a refusal does, with code 400.
  #build(make) {
    let tree;
    try {
      tree = make();
    } catch (e) {
      return Promise.reject(e instanceof ImpsError ? e : new ImpsError(400, `bad argument: ${e?.message ?? e}`));
    }
    return this.send(tree);
  }

  // ≤ 1.2 name users in `UserList (User (UserID))`, 1.3 in `UserIDList (UserID)`.
  #memberList(users) {
    return this.version === '1.3' ? node('UserIDList', ...userIds(users)) : userList(users);
  }

  /** Any request primitive as an element tree (groups, contact lists, …); resolves with its answer. */
  send(tree) {
    return this.#request((t) => this.#core.sendPrimitive(t, tree));
  }

  /** Stops timers and the wake-up channel. */
  close() {
    this.#closed = true;
    this.#deadline.stop();
    this.#stopWakeUp?.();
  }

  // The engine writes only the events something listens to (the package's own waits on
  // answers listen too): a change of one type's listeners moves that type's bit only.
  [listenersChanged](type) {
    this.#syncEvents(type);
  }

  // `type`: the one type whose listeners changed; none or '*': every type.
  #syncEvents(type = '*') {
    if (!this.#core || deadBecause !== null) return;
    clientEventBits ??= new Map(call(() => wasm.clientEventTypes()).map((t, i) => [t, 1 << i]));
    let mask = this.#events;
    if (type === '*') {
      mask = 0;
      for (const [t, bit] of clientEventBits) if (this[listening](t)) mask |= bit;
    } else {
      const bit = clientEventBits.get(type);
      if (bit === undefined) return;
      mask = this[listening](type) ? mask | bit : mask & ~bit;
    }
    if (mask === this.#events) return;
    this.#events = mask;
    this.#core.setEvents(mask);
  }

  // Sends a request built by `build(now)`; resolves with the answer's primitive when its
  // result is a success, else rejects with its code.
  #request(build) {
    let tid;
    const answer = new Promise((resolve, reject) => {
      const off = this.on('response', (e) => {
        if (e.transactionId !== tid) return;
        off();
        if (successful(e.primitive.code)) resolve(e.primitive);
        else reject(new ImpsError(e.primitive.code, `${e.primitive.name}: status ${e.primitive.code}`, e.primitive));
      });
      try {
        tid = call(() => build(now()));
      } catch (err) {
        off();
        reject(err);
      }
    });
    this.#pump();
    return answer;
  }

  #run(fn) {
    call(fn);
    this.#pump();
  }

  #pump() {
    // One JSON text and one area of bodies per drain (see `ClientCore.drain`), both taken
    // before any listener runs: a listener may call in and drain again.
    const outputs = JSON.parse(call(() => this.#core.drain()));
    let total = 0;
    for (const o of outputs) if (o.type === 'send') total += o.body;
    let take = null;
    if (total > 0) {
      const at = call(() => this.#core.bodies());
      views();
      take = dataArea(at, total);
    }
    for (const o of outputs) {
      if (o.type === 'send') {
        const body = take ? take(o.body) : new Uint8Array(0);
        Promise.resolve()
          .then(() => this.#transport({ body, contentType: o.contentType }))
          .then(
            (res) => this.#run(() => this.#core.response(now(), o.requestId, asBytes(res.body ?? new Uint8Array()))),
            () => this.#run(() => this.#core.transportError(now(), o.requestId)),
          )
          .catch((e) => this.emit('error', { type: 'error', message: String(e?.message ?? e) }));
      } else {
        this.emit(o.event.type, o.event);
      }
    }
    if (!this.#closed) this.#deadline.arm(call(() => this.#core.pollTimeout()));
  }
}

// ---- codec -----------------------------------------------------------------------------------

/** Decodes a CSP message (XML or WBXML, by `contentType`) to `{ version, sessionId?, transactions, tree }`. */
export function decode(bytes, contentType = 'application/vnd.wv.csp.xml') {
  return call(() => wasm.decodeMessage(asBytes(bytes), contentType));
}

/**
 * Encodes a decoded message (or its `tree`) back to `{ body, contentType }` through the codec,
 * in `encoding` `'xml'` (default) or `'wbxml'`.
 */
export function encode(message, encoding = 'xml') {
  return call(() => wasm.encodeMessage(message && message.tree ? message.tree : message, encoding));
}

/** The values of a `PresenceSubList` tree's value attributes: `{ OnlineStatus: 'T', … }`. */
export function presenceValues(tree) {
  const out = {};
  for (const attr of tree?.children ?? []) {
    if (typeof attr === 'string') continue;
    const value = attr.children.find((c) => typeof c !== 'string' && c.name === 'PresenceValue');
    if (value) out[attr.name] = value.children.filter((c) => typeof c === 'string').join('');
  }
  return out;
}

// The Node half of `cargo xtask bench-wasm` (wasm-bindings/examples/bench_native.rs is the
// native half): the same two workloads through the npm package.
//
// * im_step — the engine's IM benchmark (engine/benches/im.rs): one steady-state step of a
//   conversation, alice's SendMessage-Request (100 bytes of text) and bob's MessageDelivered
//   for the previous message, whose reply carries the next NewMessage. Server work only, the
//   request bodies encoded before the clock starts (byte for byte what the native bench's
//   support module encodes), through the public `ImpsServer.handle` on a `MemoryStore`.
// * im_step_engine — the same steps through the module's raw exports only (`ServerCore.request`
//   and `drain`, the calls `ImpsServer.handle` makes), none of the package's JS: what V8's code
//   for the engine costs against native, the floor any JS around it could reach.
// * two_clients — ImpsServer and two ImpsClients with in-process transports: alice sends a
//   message to bob, who polls for it (every layer of the package).
//
// Each figure is printed as `figure NAME PER_SECOND` for xtask after a line for people.
import { ImpsClient, ImpsServer } from 'imps-engine';
// The same module instance the package's entry initialised (Node resolves the link).
import { ServerCore, wasmMemory } from '../../node_modules/imps-engine/imps_wasm.js';

const STEPS = 20000; // equal to the native side's
const MESSAGES = 2000; // equal to the native side's

// Cheap password hashing: logins are not measured (the native support module does the same).
const CONFIG = { login: { hash_memory_kib: 8, hash_iterations: 1 } };
const CSP12 = 'http://www.openmobilealliance.org/DTD/WV-CSP1.2';
const TRC12 = 'http://www.openmobilealliance.org/DTD/WV-TRC1.2';
const utf8 = new TextEncoder();
const text = new TextDecoder();

// The bodies of engine/benches/support/mod.rs, as the engine's codec writes them.
const message = (sid, mode, tid, content) =>
  utf8.encode(
    `<?xml version="1.0" encoding="UTF-8"?>\n<WV-CSP-Message xmlns="${CSP12}"><Session><SessionDescriptor>` +
      `<SessionType>Inband</SessionType><SessionID>${sid}</SessionID></SessionDescriptor><Transaction>` +
      `<TransactionDescriptor><TransactionMode>${mode}</TransactionMode>` +
      (tid === null ? '' : `<TransactionID>${tid}</TransactionID>`) +
      `</TransactionDescriptor><TransactionContent xmlns="${TRC12}">${content}</TransactionContent>` +
      `</Transaction></Session></WV-CSP-Message>`,
  );
const sendBody = (sid, i) => {
  const content = `${String(i).padStart(6, '0')} ${'x'.repeat(93)}`;
  return message(
    sid,
    'Request',
    `m${i}`,
    `<SendMessage-Request><DeliveryReport>F</DeliveryReport><MessageInfo><ContentType>text/plain</ContentType>` +
      `<ContentSize>${content.length}</ContentSize><Recipient><User><UserID>wv:bob@localhost</UserID></User>` +
      `</Recipient></MessageInfo><ContentData>${content}</ContentData></SendMessage-Request>`,
  );
};
const ackBody = (sid, tid, id) =>
  message(sid, 'Response', tid, `<MessageDelivered><MessageID>${id}</MessageID></MessageDelivered>`);
const pollBody = (sid) => message(sid, 'Request', null, '<Polling-Request/>');

// The server-initiated TransactionID and the MessageID of the NewMessage in a reply.
function delivered(body) {
  const xml = text.decode(body);
  const m = /<TransactionID>([^<]*)<\/TransactionID><\/TransactionDescriptor><TransactionContent[^>]*><NewMessage>.*?<MessageID>([^<]*)<\/MessageID>/s.exec(xml);
  if (!m) throw new Error(`no NewMessage in the reply: ${xml}`);
  return { tid: m[1], id: m[2] };
}

async function imStep() {
  const server = await ImpsServer.open(CONFIG);
  const sids = [];
  for (const userId of ['alice', 'bob']) {
    await server.admin({ type: 'provisionUser', userId, password: 'pw' });
    const c = new ImpsClient({ transport: (r) => server.handle(r), userId, password: 'pw', version: '1.2' });
    await c.login();
    sids.push(c.sessionId);
    // The session stays open on the server; the client's own polls would take the messages.
    c.close();
  }
  const [alice, bob] = sids;
  const sends = Array.from({ length: 4096 }, (_, i) => sendBody(alice, i));
  const req = (body) => ({ contentType: 'application/vnd.wv.csp.xml', body });
  await server.handle(req(sends[0]));
  let pending = delivered((await server.handle(req(pollBody(bob)))).body);
  let i = 1;
  async function run(n) {
    let total = 0;
    for (let k = 0; k < n; k++) {
      const send = req(sends[i % sends.length]);
      const ack = req(ackBody(bob, pending.tid, pending.id));
      i++;
      const start = performance.now();
      const answer = await server.handle(send);
      const reply = await server.handle(ack);
      total += performance.now() - start;
      if (answer.body.length === 0) throw new Error('SendMessage got no answer');
      pending = delivered(reply.body);
    }
    return total;
  }
  // Warm-up (untimed): V8 runs a new wasm module in its baseline compiler first and optimises
  // the hot functions as they run.
  await run(STEPS);
  const cpu = process.cpuUsage();
  const ms = await run(STEPS);
  // CPU time of the whole process (every thread) over the timed run, untimed work included:
  // steadier than the clock on a busy machine.
  const cpuUs = process.cpuUsage(cpu);
  const us = (ms * 1000) / STEPS;
  const cpuPerStep = (cpuUs.user + cpuUs.system) / STEPS;
  console.log(
    `node im_step: ${STEPS} steps, ${us.toFixed(2)} µs per step (server only, ImpsServer.handle on MemoryStore; process CPU ${cpuPerStep.toFixed(2)} µs per step with the untimed work)`,
  );
  console.log(`figure node_im_step ${(1e6 / us).toFixed(1)}`);
  await server.close();
}

// The reply bodies in one packed drain of `ServerCore` (the layout `#drain` in core.js reads:
// a 32-byte header, tagged outputs whose strings and byte strings are lengths, then the text
// and data areas); storage batches and wake-ups are stepped over, objects dropped.
function replies(core, start) {
  if (new DataView(wasmMemory().buffer).getUint32(start + 4, true) > 0) core.drainObjects();
  const mem = new Uint8Array(wasmMemory().buffer);
  const view = new DataView(mem.buffer);
  const end = start + view.getUint32(start + 16, true);
  let data = start + view.getUint32(start + 24, true);
  const out = [];
  let at = start + 32;
  const skip = () => (at += 4);
  const bytes = () => {
    const n = view.getUint32(at, true);
    at += 4;
    data += n;
    return mem.slice(data - n, data);
  };
  while (at < end) {
    const tag = mem[at++];
    if (tag === 1) {
      at += 8;
      if (mem[at++] === 0) skip();
      out.push(bytes());
    } else if (tag === 2) {
      const count = view.getUint32(at + 8, true);
      at += 12;
      for (let i = 0; i < count; i++) {
        const put = mem[at] === 1;
        at += 2;
        skip();
        if (put) bytes();
      }
    } else if (tag === 4) {
      skip();
      skip();
      if (mem[at++] === 1) skip();
      skip();
      const methods = view.getUint32(at, true);
      at += 4 + 4 * methods;
    } else if (tag !== 3) {
      throw new Error(`im_step_engine: unexpected output tag ${tag}`);
    }
  }
  return out;
}

async function imStepEngine() {
  const core = new ServerCore(CONFIG, crypto.getRandomValues(new Uint8Array(32)));
  core.restore(0, []);
  let conn = 1;
  let clock = 0;
  const handle = (body) => {
    core.request(clock, conn++, 1, undefined, body, Date.now(), undefined);
    return core.drain();
  };
  const sids = [];
  for (const [id, userId] of ['alice', 'bob'].entries()) {
    core.admin(clock, id + 1, { type: 'provisionUser', userId, password: 'pw' });
    replies(core, core.drain());
    const transport = async (r) => {
      const [body] = replies(core, handle(r.body));
      return { contentType: 'application/vnd.wv.csp.xml', body };
    };
    const c = new ImpsClient({ transport, userId, password: 'pw', version: '1.2' });
    await c.login();
    sids.push(c.sessionId);
    c.close();
  }
  const [alice, bob] = sids;
  const sends = Array.from({ length: 4096 }, (_, i) => sendBody(alice, i));
  handle(sends[0]);
  let pending = delivered(replies(core, handle(pollBody(bob)))[0]);
  let i = 1;
  function run(n) {
    let total = 0;
    for (let k = 0; k < n; k++) {
      const send = sends[i % sends.length];
      const ack = ackBody(bob, pending.tid, pending.id);
      i++;
      clock++;
      // Each drain's packing lives until the next drain: the answer is read before the ack
      // goes in, off the clock.
      let start = performance.now();
      const answer = handle(send);
      total += performance.now() - start;
      if (replies(core, answer).length !== 1) throw new Error('SendMessage got no answer');
      start = performance.now();
      const reply = handle(ack);
      total += performance.now() - start;
      pending = delivered(replies(core, reply)[0]);
    }
    return total;
  }
  run(STEPS);
  const us = (run(STEPS) * 1000) / STEPS;
  console.log(`node im_step_engine: ${STEPS} steps, ${us.toFixed(2)} µs per step (ServerCore.request + drain, no package JS)`);
  console.log(`figure node_im_step_engine ${(1e6 / us).toFixed(1)}`);
  core.free();
}

async function twoClients() {
  const server = await ImpsServer.open(CONFIG);
  for (const user of ['alice', 'bob']) await server.admin({ type: 'provisionUser', userId: user, password: 'pw' });
  const client = (userId) => new ImpsClient({ transport: (r) => server.handle(r), userId, password: 'pw', version: '1.2' });
  const alice = client('alice');
  const bob = client('bob');
  await alice.login();
  await bob.login();
  async function round(from, count) {
    for (let i = from; i < from + count; i++) {
      const text = `message ${i}`;
      await alice.sendText({ users: ['bob'], text });
      const got = bob.next('message', (m) => m.content === text, 5000);
      bob.poll();
      await got;
    }
  }
  await round(0, MESSAGES);
  const start = performance.now();
  await round(MESSAGES, MESSAGES);
  const ms = performance.now() - start;
  console.log(`node two_clients: ${MESSAGES} messages in ${ms.toFixed(1)} ms (client + server, alice sends, bob polls)`);
  console.log(`figure node_two_clients ${((MESSAGES / ms) * 1000).toFixed(1)}`);
  alice.close();
  bob.close();
  await server.close();
}

const only = process.argv[2];
if (!only || only === 'im_step') await imStep();
if (!only || only === 'im_step_engine') await imStepEngine();
if (!only || only === 'two_clients') await twoClients();

// The Node half of `cargo xtask bench-wasm` (see wasm-bindings/examples/bench_native.rs):
// the same workload through the npm package — ImpsServer on a MemoryStore, two ImpsClients
// with in-process transports; alice sends N messages to bob, who polls for each.
import { ImpsClient, ImpsServer } from 'imps-engine';

const MESSAGES = 2000;
const WARM_UP = 1000;

const server = await ImpsServer.open();
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

// Warm-up (untimed): V8 runs a new wasm module in its baseline compiler first and optimises
// the hot functions as they run; the native side needs no such start.
await round(0, WARM_UP);
const start = performance.now();
await round(WARM_UP, MESSAGES);
const ms = performance.now() - start;
console.log(`node (imps-engine package): ${MESSAGES} messages in ${ms.toFixed(1)} ms (${((MESSAGES / ms) * 1000).toFixed(0)} msg/s)`);
alice.close();
bob.close();
await server.close();

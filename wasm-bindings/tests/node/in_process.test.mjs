// ImpsServer and several ImpsClients in one Node process, on IndexedDB (fake-indexeddb).
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ImpsClient,
  ImpsError,
  ImpsServer,
  IndexedDbStore,
  MemoryStore,
  decode,
  encode,
  presenceValues,
  versions,
} from 'imps-engine';
import { connect, el, pollWhile, until } from './helpers.mjs';

// A store whose apply returns nothing (synchronous), showing each batch to `seen` first.
const syncStore = (inner, seen) => ({
  load: () => inner.load(),
  apply(batch) {
    seen(batch);
    inner.apply(batch);
  },
});

async function openServer(name) {
  return ImpsServer.open({}, await IndexedDbStore.open(name));
}

test('version information names the crate, the interface and the schema', () => {
  const v = versions();
  assert.match(v.package, /^\d+\.\d+\.\d+/);
  assert.equal(v.interface, '1');
  assert.equal(v.schema, 2, 'engine record schema (bumped for groups v2)');
});

test('logins in both schemes and all versions; a wrong password is refused with 409', async () => {
  const server = await openServer('logins');
  for (const user of ['alice', 'bob', 'carol']) {
    await server.admin({ type: 'provisionUser', userId: user, password: `${user}-pw` });
  }
  const alice = connect(server, { userId: 'alice', password: 'alice-pw', version: '1.2' });
  const bob = connect(server, { userId: 'bob', password: 'bob-pw', version: '1.3', scheme: 'digest' });
  const carol = connect(server, { userId: 'carol', password: 'carol-pw', version: '1.1', scheme: 'digest' });
  for (const c of [alice, bob, carol]) {
    const ready = await c.login();
    assert.ok(ready.agreed.length > 0, 'services agreed');
    assert.ok(c.isReady);
    assert.match(c.sessionId, /./);
  }
  assert.equal(server.stats().sessions, 3);
  const mallory = connect(server, { userId: 'alice', password: 'wrong' });
  await assert.rejects(mallory.login(), (e) => e instanceof ImpsError && e.code === 409);
  for (const c of [alice, bob, carol]) {
    assert.equal((await c.logout()).code, 200);
    c.close();
  }
  assert.equal(server.stats().sessions, 0);
  await server.close();
});

test('presence, messages and groups between clients of one in-process server', async () => {
  const server = await openServer('scenario');
  await server.admin({ type: 'provisionUser', userId: 'alice', password: 'a' });
  await server.admin({ type: 'provisionUser', userId: 'bob', password: 'b' });
  const alice = connect(server, { userId: 'alice', password: 'a', version: '1.2' });
  const bob = connect(server, { userId: 'bob', password: 'b', version: '1.2', scheme: 'digest' });
  await alice.login();
  await bob.login();

  // Presence: alice grants everyone OnlineStatus and StatusText; bob subscribes and sees changes.
  await alice.createAttributeList({ attributes: ['OnlineStatus', 'StatusText'], defaultList: true });
  await bob.subscribePresence({ users: ['wv:alice@localhost'] });
  const seen = until(bob, 'presence', (e) => presenceValues(e.changed).StatusText === 'at lunch');
  await alice.updatePresence({ StatusText: 'at lunch' });
  const p = await seen;
  assert.equal(p.userId, 'wv:alice@localhost');
  assert.equal(presenceValues(bob.presenceOf('wv:alice@localhost')).StatusText, 'at lunch');

  // Messages: alice writes, bob receives it once.
  const got = until(bob, 'message', (m) => m.content === 'hello bob');
  const sent = await alice.sendText({ users: ['bob'], text: 'hello bob' });
  assert.equal(sent.name, 'SendMessage-Response');
  const m = await got;
  assert.equal(m.sender, 'wv:alice@localhost');
  assert.match(m.messageId, /./);

  // A refused request rejects with its CSP code (unknown recipient).
  await assert.rejects(alice.sendText({ users: ['nobody'], text: 'x' }), (e) => e instanceof ImpsError && e.code >= 400);

  // Groups through element trees: alice creates and joins, bob joins, alice writes to the group.
  const g = 'wv:alice/chat@localhost';
  await alice.send(
    el(
      'CreateGroup-Request',
      el('GroupID', g),
      el('GroupProperties', el('Property', el('Name', 'Accesstype'), el('Value', 'Open'))),
      el('JoinGroup', 'F'),
      el('SubscribeNotification', 'F'),
    ),
  );
  const join = (c, name) =>
    c.send(
      el(
        'JoinGroup-Request',
        el('GroupID', g),
        el('ScreenName', el('SName', name), el('GroupID', g)),
        el('JoinedRequest', 'F'),
        el('SubscribeNotification', 'F'),
      ),
    );
  await join(alice, 'Alice');
  await join(bob, 'Bob');
  const inGroup = until(bob, 'message', (e) => e.content === 'hello group');
  await alice.sendText({ groups: [g], text: 'hello group' });
  assert.equal((await inGroup).content, 'hello group');
  // A primitive the codec does not know is refused before it is sent.
  await assert.rejects(alice.send(el('NoSuch-Request')), (e) => e instanceof ImpsError && e.code === 400);

  await alice.logout();
  await bob.logout();
  alice.close();
  bob.close();
  await server.close();
});

test('a WBXML client and an XML client talk through one server, each answered in its encoding', async () => {
  const server = await openServer('wbxml');
  await server.admin({ type: 'provisionUser', userId: 'wendy', password: 'w' });
  await server.admin({ type: 'provisionUser', userId: 'xavier', password: 'x' });
  const types = [];
  const wendy = new ImpsClient({
    transport: async (req) => {
      const reply = await server.handle(req);
      types.push([req.contentType, reply.contentType, reply.body[0]]);
      return reply;
    },
    userId: 'wendy',
    password: 'w',
    version: '1.2',
    encoding: 'wbxml',
  });
  server.on('wakeUp', (e) => {
    if (e.sessionId === wendy.sessionId) wendy.wakeUp();
  });
  const xavier = connect(server, { userId: 'xavier', password: 'x', version: '1.3' });
  await wendy.login();
  await xavier.login();
  const toXavier = until(xavier, 'message', (e) => e.content === 'from wbxml');
  await wendy.sendText({ users: ['xavier'], text: 'from wbxml' });
  assert.equal((await toXavier).sender, 'wv:wendy@localhost');
  const toWendy = until(wendy, 'message', (e) => e.content === 'from xml');
  await xavier.sendText({ users: ['wendy'], text: 'from xml' });
  assert.equal((await toWendy).sender, 'wv:xavier@localhost');
  assert.ok(types.length > 3);
  for (const [sent, got, first] of types) {
    assert.equal(sent, 'application/vnd.wv.csp.wbxml');
    assert.equal(got, 'application/vnd.wv.csp.wbxml');
    assert.ok(first <= 3, 'a WBXML version byte');
  }
  await wendy.logout();
  await xavier.logout();
  wendy.close();
  xavier.close();
  await server.close();
});

// The same restart on IndexedDB and on one MemoryStore shared by both servers (whose records
// the engine keeps in the module's memory).
for (const [kind, open] of [
  ['IndexedDB', () => openServer('restart')],
  ['a MemoryStore', ((store) => () => ImpsServer.open({}, store))(new MemoryStore())],
]) {
  test(`accounts and an offline message survive a restart on ${kind}`, async () => {
    let server = await open();
    await server.admin({ type: 'provisionUser', userId: 'alice', password: 'a' });
    await server.admin({ type: 'provisionUser', userId: 'dave', password: 'd' });
    const alice = connect(server, { userId: 'alice', password: 'a' });
    await alice.login();
    await alice.sendText({ users: ['dave'], text: 'while you were away' });
    await alice.logout();
    alice.close();
    await server.close();

    server = await open();
    assert.ok(server.hasAccount('dave'));
    assert.equal(server.stats().accounts, 2);
    const dave = connect(server, { userId: 'dave', password: 'd', scheme: 'digest' });
    // Registered before the login: the stored message may come with the first poll.
    const got = dave.next('message', (e) => e.content === 'while you were away', 15000);
    await dave.login();
    const m = await pollWhile(dave, got);
    assert.equal(m.sender, 'wv:alice@localhost');
    await dave.logout();
    dave.close();
    await server.close();
  });
}

test('a MemoryStore gives the records its server stored, and takes batches of its own', async () => {
  const store = new MemoryStore();
  const server = await ImpsServer.open({}, store);
  await server.admin({ type: 'provisionUser', userId: 'vera', password: 'pw' });
  const records = await store.load();
  const account = records.find((r) => r.table === 'accounts');
  assert.ok(account?.key.includes('vera'), JSON.stringify(records.map((r) => [r.table, r.key])));
  assert.ok(account.value instanceof Uint8Array && account.value.length > 0);
  await server.close();
  // A batch applied from JS: a put lands, a delete removes, and a bad op is refused whole.
  const value = new Uint8Array([1, 2, 3]);
  await store.apply({ id: 1, ops: [{ op: 'put', table: 'meta', key: 'extra', value }] });
  assert.deepEqual((await store.load()).find((r) => r.key === 'extra')?.value, value);
  await assert.rejects(
    store.apply({ id: 2, ops: [{ op: 'delete', table: 'meta', key: 'extra' }, { op: 'put', table: 'nope', key: 'k', value }] }),
    (e) => e instanceof ImpsError && e.code === 400,
  );
  assert.ok((await store.load()).some((r) => r.key === 'extra'), 'nothing of the refused batch applied');
  await store.apply({ id: 3, ops: [{ op: 'delete', table: 'meta', key: 'extra' }] });
  assert.ok(!(await store.load()).some((r) => r.key === 'extra'));
});

test('wake-ups reach a listener added after traffic began, and again after one was removed', async () => {
  const server = await ImpsServer.open();
  for (const user of ['wes', 'xia']) await server.admin({ type: 'provisionUser', userId: user, password: 'pw' });
  // No listeners yet (plain clients): the engine drops wake-ups unpacked meanwhile.
  const client = (userId) => new ImpsClient({ transport: (r) => server.handle(r), userId, password: 'pw', version: '1.2' });
  const wes = client('wes');
  const xia = client('xia');
  await wes.login();
  await xia.login();
  // Each message is fetched before the next: the engine wakes a session once per new arrival.
  const exchange = async (text) => {
    const got = until(xia, 'message', (m) => m.content === text, 5000);
    await wes.sendText({ users: ['xia'], text });
    await got;
  };
  await exchange('unheard');
  const heard = [];
  const off = server.on('*', (w) => heard.push(w));
  await exchange('one');
  assert.ok(heard.some((w) => w.type === 'wakeUp' && w.sessionId === xia.sessionId), 'a "*" listener hears wake-ups');
  off();
  const before = heard.length;
  await exchange('two');
  assert.equal(heard.length, before, 'a removed listener hears nothing');
  const again = new Promise((resolve) => server.on('wakeUp', resolve));
  await exchange('three');
  assert.equal((await again).sessionId, xia.sessionId);
  wes.close();
  xia.close();
  await server.close();
});

test('a client writes only the events something listens to, and every one a listener asks for', async () => {
  const server = await ImpsServer.open();
  for (const user of ['yan', 'zoe']) await server.admin({ type: 'provisionUser', userId: user, password: 'pw' });
  const yan = connect(server, { userId: 'yan', password: 'pw' });
  const zoe = connect(server, { userId: 'zoe', password: 'pw' });
  await yan.login();
  await zoe.login();
  // First with 'message' listened to only, then with 'serverRequest' and '*' too.
  let got = until(zoe, 'message', (m) => m.content === 'quiet', 5000);
  await yan.sendText({ users: ['zoe'], text: 'quiet' });
  await got;
  const requests = [];
  const all = [];
  zoe.on('serverRequest', (e) => requests.push(e));
  zoe.on('*', (e) => all.push(e.type));
  got = until(zoe, 'message', (m) => m.content === 'loud', 5000);
  await yan.sendText({ users: ['zoe'], text: 'loud' });
  await got;
  assert.ok(requests.some((e) => e.primitive.name === 'NewMessage'), 'the NewMessage as a serverRequest');
  assert.ok(all.includes('serverRequest') && all.includes('message'), all.join());
  yan.close();
  zoe.close();
  await server.close();
});

test('a custom store sees every batch before the reply is released', async () => {
  const applied = [];
  let release;
  const gate = new Promise((r) => (release = r));
  const inner = new MemoryStore();
  const store = {
    load: () => inner.load(),
    async apply(batch) {
      await gate;
      applied.push(batch.id);
      await inner.apply(batch);
    },
  };
  const server = await ImpsServer.open({}, store);
  let done = false;
  const result = server.admin({ type: 'provisionUser', userId: 'erin', password: 'e' }).then((r) => {
    done = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(done, false, 'the result waits for the store');
  release();
  await result;
  assert.ok(applied.length >= 1);
  const records = await inner.load();
  assert.ok(records.some((r) => r.table === 'accounts'));
  await server.close();
});

test('a failing store fails the reply and every later one with 500', async () => {
  const store = { load: () => [], apply: async () => Promise.reject(new Error('disk full')) };
  const server = await ImpsServer.open({}, store);
  await assert.rejects(server.admin({ type: 'provisionUser', userId: 'f', password: 'f' }), (e) => e.code === 500 && /disk full/.test(e.message));
  await assert.rejects(server.handle({ body: '<x/>' }), (e) => e.code === 500);
  await server.close();
});

test('bad requests get CSP status codes, never exceptions', async () => {
  const server = await ImpsServer.open();
  const reply = await server.handle({ body: 'not xml at all' });
  const message = decode(reply.body, reply.contentType);
  const status = message.transactions[0].primitives[0];
  assert.equal(status.code, 400);
  await server.close();
});

test('codec helpers decode and encode, errors carry CSP codes', () => {
  const xml =
    '<WV-CSP-Message xmlns="http://www.openmobilealliance.org/DTD/WV-CSP1.2"><Session><SessionDescriptor><SessionType>Inband</SessionType><SessionID>s1</SessionID></SessionDescriptor><Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode><TransactionID>t1</TransactionID></TransactionDescriptor><TransactionContent xmlns="http://www.openmobilealliance.org/DTD/WV-TRC1.2"><KeepAlive-Request><KeepAliveTime>120</KeepAliveTime></KeepAlive-Request></TransactionContent></Transaction></Session></WV-CSP-Message>';
  const m = decode(xml);
  assert.equal(m.version, '1.2');
  assert.equal(m.sessionId, 's1');
  assert.equal(m.transactions[0].transactionId, 't1');
  assert.equal(m.transactions[0].primitives[0].name, 'KeepAlive-Request');
  const again = encode(m);
  assert.equal(again.contentType, 'application/vnd.wv.csp.xml');
  assert.deepEqual(decode(again.body).transactions, m.transactions);
  assert.throws(() => decode('<a>'), (e) => e instanceof ImpsError && e.code === 400 && typeof e.message === 'string');
  // The same message in WBXML: a binary body of its own content type, read back equal.
  const w = encode(m, 'wbxml');
  assert.equal(w.contentType, 'application/vnd.wv.csp.wbxml');
  assert.ok(w.body.length < again.body.length, `WBXML ${w.body.length} B, XML ${again.body.length} B`);
  assert.deepEqual(decode(w.body, w.contentType).transactions, m.transactions);
  assert.throws(() => decode(xml, 'application/vnd.wv.csp.wbxml'), (e) => e instanceof ImpsError && e.code === 400);
  assert.throws(() => decode(xml, 'text/plain'), (e) => e.code === 415);
  assert.throws(() => encode(m, 'json'), (e) => e.code === 400);
  assert.throws(() => encode({ name: '', attributes: {}, children: [] }), (e) => e.code === 400);
});

test('bad client options are ImpsErrors', () => {
  assert.throws(() => new ImpsClient({ userId: 'a', password: 'b' }), (e) => e instanceof ImpsError && e.code === 400);
  assert.throws(
    () => new ImpsClient({ url: 'http://x', userId: 'a', password: 'b', version: '2.0' }),
    (e) => e instanceof ImpsError && e.code === 505,
  );
});

test('an unknown or mistyped configuration field is refused with 400 and names the field', async () => {
  await assert.rejects(ImpsServer.open({ nonsense: 1 }), (e) => e instanceof ImpsError && e.code === 400 && /nonsense/.test(e.message));
  await assert.rejects(ImpsServer.open({ login: { nope: true } }), (e) => e.code === 400 && /login\.nope/.test(e.message));
  // A wrong type or range names the field and what it takes.
  await assert.rejects(ImpsServer.open({ login: { digest: 'yes' } }), (e) => e.code === 400 && /login\.digest.*true or false/.test(e.message));
  await assert.rejects(ImpsServer.open({ im: { max_content_bytes: -1 } }), (e) => e.code === 400 && /im\.max_content_bytes/.test(e.message));
  await assert.rejects(ImpsServer.open({ cir: 'on' }), (e) => e.code === 400 && /`cir` must be an object/.test(e.message));
  // Every kind of field is read: the server answers with what was configured.
  const configured = await ImpsServer.open({
    domain: 'example.org',
    service_provider: { name: 'Example IM', url: null },
    cir: { stcp: ['im.example.org', 3717] },
    presence: { notify_interval_ms: 0 },
  });
  await configured.admin({ type: 'provisionUser', userId: 'ann', password: 'pw' });
  assert.ok(configured.hasAccount('wv:ann@example.org'));
  await configured.close();
  const s = await ImpsServer.open({ domain: 'example.org', login: { open_registration: false } });
  await s.close();
});

test('a pluggable wake-up channel makes the client poll; closing it stops the channel', async () => {
  const server = await ImpsServer.open();
  await server.admin({ type: 'provisionUser', userId: 'alice', password: 'a' });
  await server.admin({ type: 'provisionUser', userId: 'bob', password: 'b' });
  let nudge = null;
  let stopped = false;
  const channel = (n) => {
    nudge = n;
    return () => {
      stopped = true;
    };
  };
  // A long poll interval: without a wake-up bob would not fetch for a minute.
  const bob = connect(server, { userId: 'bob', password: 'b', wakeUp: channel, pollIntervalSecs: 60 });
  const alice = connect(server, { userId: 'alice', password: 'a' });
  await bob.login();
  await alice.login();
  const got = bob.next('message', (m) => m.content === 'wake up', 5000);
  await alice.sendText({ users: ['bob'], text: 'wake up' });
  assert.equal(typeof nudge, 'function');
  nudge();
  assert.equal((await got).sender, 'wv:alice@localhost');
  bob.close();
  alice.close();
  assert.equal(stopped, true);
  await server.close();
});

test('text with quotes, backslashes, line breaks and non-ASCII arrives unchanged in the message event', async () => {
  const server = await ImpsServer.open();
  for (const user of ['quinn', 'rita']) await server.admin({ type: 'provisionUser', userId: user, password: 'pw' });
  const quinn = connect(server, { userId: 'quinn', password: 'pw' });
  const rita = connect(server, { userId: 'rita', password: 'pw' });
  await quinn.login();
  await rita.login();
  const text = 'say "hi" \\ back\nslash\ttab é 😀 <&> \u2028 end';
  const got = until(rita, 'message', (m) => m.content === text, 5000);
  const sent = await quinn.sendText({ users: ['rita'], text });
  assert.equal(sent.name, 'SendMessage-Response');
  const message = await got;
  assert.equal(message.content, text);
  assert.equal(message.info.name, 'MessageInfo');
  quinn.close();
  rita.close();
  await server.close();
});

test('a store whose apply returns nothing is applied before each reply, in order', async () => {
  const inner = new MemoryStore();
  const applied = [];
  const store = syncStore(inner, (batch) => applied.push(batch.id));
  const server = await ImpsServer.open({}, store);
  const text = await server.admin({ type: 'provisionUser', userId: 'sam', password: 'pw' });
  assert.match(text, /./);
  assert.ok(applied.length >= 1, 'the batch was applied before the result');
  assert.deepEqual(applied, [...applied].sort((a, b) => a - b), 'batches in the engine order');
  assert.ok((await inner.load()).some((r) => r.table === 'accounts' && r.key.includes('sam')));
  await server.close();
});

test('a request made by a listener while the server drains is answered, and in order', async () => {
  const server = await ImpsServer.open();
  for (const user of ['tess', 'uma']) await server.admin({ type: 'provisionUser', userId: user, password: 'pw' });
  const tess = connect(server, { userId: 'tess', password: 'pw' });
  const uma = connect(server, { userId: 'uma', password: 'pw' });
  await tess.login();
  await uma.login();
  // The wake-up for uma is emitted while the server drains tess's SendMessage; the request
  // this listener makes is fed to the engine from inside that drain.
  const nested = [];
  server.on('wakeUp', () => {
    if (nested.length === 0) nested.push(server.handle({ body: 'not xml' }));
  });
  const got = until(uma, 'message', (m) => m.content === 'nested', 5000);
  const sent = await tess.sendText({ users: ['uma'], text: 'nested' });
  assert.equal(sent.code, 200);
  assert.equal(nested.length, 1, 'the listener ran inside the drain');
  const reply = await nested[0];
  assert.equal(decode(reply.body, reply.contentType).transactions[0].primitives[0].code, 400);
  assert.equal((await got).content, 'nested');
  tess.close();
  uma.close();
  await server.close();
});

test('non-ASCII text crosses the packed outputs intact, and the strings and values after it', async () => {
  // A drain slices one decoded text area in UTF-16 units and one copied data area: a session
  // cookie with non-ASCII (and non-BMP) characters must come out whole in the wake-up, and
  // the token, stored value and reply after it unshifted.
  const ops = [];
  const store = syncStore(new MemoryStore(), (batch) => ops.push(...batch.ops));
  const server = await ImpsServer.open({}, store);
  for (const user of ['tom', 'ula']) await server.admin({ type: 'provisionUser', userId: user, password: 'pw' });
  const utf8 = new TextEncoder();
  const text = new TextDecoder();
  let cookie;
  const transport = (r) => {
    const xml = text.decode(r.body).replace(/<SessionCookie>([^<]*)<\/SessionCookie>/, (_, c) => {
      cookie = `ñü😀-${c}`;
      return `<SessionCookie>${cookie}</SessionCookie>`;
    });
    return server.handle({ ...r, body: utf8.encode(xml) });
  };
  const ula = new ImpsClient({ transport, userId: 'ula', password: 'pw', version: '1.2' });
  await ula.login();
  assert.ok(cookie, 'the login carried a cookie');
  const tom = connect(server, { userId: 'tom', password: 'pw' });
  await tom.login();
  const wake = new Promise((resolve) => server.on('wakeUp', (w) => w.sessionId === ula.sessionId && resolve(w)));
  const message = 'for ula, é 😀';
  const sent = await tom.sendText({ users: ['ula'], text: message });
  assert.equal(sent.name, 'SendMessage-Response');
  const w = await wake;
  assert.equal(w.cookie, cookie);
  assert.equal(w.version, '1.2');
  assert.match(w.cirToken, /^[0-9a-f]+$/, `the token after the cookie: ${w.cirToken}`);
  const put = ops.find((o) => o.table === 'mailbox' && o.op === 'put');
  assert.ok(put.key.startsWith('wv:ula@localhost/'), put.key);
  assert.ok(text.decode(put.value).includes(message), 'the stored value holds the message');
  const got = until(ula, 'message', (m) => m.content === message, 5000);
  ula.poll();
  assert.equal((await got).content, message);
  ula.close();
  tom.close();
  await server.close();
});

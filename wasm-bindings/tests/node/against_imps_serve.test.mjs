// ImpsClient (default fetch transport) against a running `imps serve` over HTTP.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ImpsClient, ImpsError, presenceValues } from 'imps-engine';
import { startImps, until } from './helpers.mjs';

let imps;
before(async () => {
  imps = await startImps(['--open-registration']);
});
after(async () => {
  await imps?.stop();
});

test('two clients register, publish presence and exchange messages over HTTP', async () => {
  const url = `${imps.url}/imps`;
  const alice = new ImpsClient({ url, userId: 'alice', password: 'alice-pw', version: '1.2' });
  const bob = new ImpsClient({ url, userId: 'bob', password: 'bob-pw', version: '1.3' });
  await alice.login();
  await bob.login();

  await alice.createAttributeList({ attributes: ['OnlineStatus', 'StatusText'], defaultList: true });
  await bob.subscribePresence({ users: ['wv:alice@localhost'] });
  const seen = until(bob, 'presence', (e) => presenceValues(e.changed).StatusText === 'coding');
  await alice.updatePresence({ StatusText: 'coding' });
  assert.equal((await seen).userId, 'wv:alice@localhost');

  const got = until(bob, 'message', (m) => m.content === 'over http');
  await alice.sendText({ users: ['wv:bob@localhost'], text: 'over http' });
  const m = await got;
  assert.equal(m.sender, 'wv:alice@localhost');

  assert.equal((await alice.logout()).code, 200);
  assert.equal((await bob.logout()).code, 200);
  alice.close();
  bob.close();
});

test('digest login to imps serve after registration; a wrong password gets 409', async () => {
  const url = `${imps.url}/imps`;
  const first = new ImpsClient({ url, userId: 'carol', password: 'carol-pw' });
  await first.login();
  await first.logout();
  first.close();
  const digest = new ImpsClient({ url, userId: 'carol', password: 'carol-pw', scheme: 'digest', version: '1.1' });
  await digest.login();
  assert.ok(digest.isReady);
  await digest.logout();
  digest.close();
  const wrong = new ImpsClient({ url, userId: 'carol', password: 'nope', scheme: 'digest' });
  await assert.rejects(wrong.login(), (e) => e instanceof ImpsError && e.code === 409);
  wrong.close();
});

test('a server that cannot be reached fails the login with an ImpsError', async () => {
  const client = new ImpsClient({ url: 'http://127.0.0.1:9/imps', userId: 'x', password: 'y' });
  await assert.rejects(client.login(), (e) => e instanceof ImpsError);
  client.close();
});

// The server engine in a browser page (headless Debian Chromium via playwright-core) on the
// built-in IndexedDB store: data survives a page reload. And a client page talking to
// `imps serve`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startImps } from '../node/helpers.mjs';

let imps;
let context;
let profile;

before(async () => {
  imps = await startImps(['--open-registration']);
  profile = mkdtempSync(join(tmpdir(), 'imps-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // Serve the built package and a bare page from the imps origin, so the page, the package
  // and the CSP endpoint share one origin (no CORS needed).
  const pkg = join(process.cwd(), 'node_modules', 'imps-engine');
  const { readFile } = await import('node:fs/promises');
  await context.route(`${imps.url}/pkg/**`, async (route) => {
    const file = new URL(route.request().url()).pathname.replace(/^\/pkg\//, '');
    const type = file.endsWith('.wasm') ? 'application/wasm' : file.endsWith('.js') ? 'text/javascript' : 'text/plain';
    route.fulfill({ status: 200, contentType: type, body: await readFile(join(pkg, file)) });
  });
  await context.route(`${imps.url}/test.html`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>imps-engine test</title>' }),
  );
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await imps?.stop();
});

async function freshPage() {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${imps.url}/test.html`);
  return page;
}

test('the server in a page keeps its accounts in IndexedDB across a reload', async () => {
  const page = await freshPage();
  const first = await page.evaluate(async () => {
    const { ImpsServer, IndexedDbStore, ImpsClient } = await import('/pkg/browser.js');
    const server = await ImpsServer.open({}, await IndexedDbStore.open('page-server'));
    await server.admin({ type: 'provisionUser', userId: 'alice', password: 'a' });
    await server.admin({ type: 'provisionUser', userId: 'bob', password: 'b' });
    const alice = new ImpsClient({ transport: (r) => server.handle(r), userId: 'alice', password: 'a' });
    await alice.login();
    await alice.sendText({ users: ['bob'], text: 'kept in IndexedDB' });
    await alice.logout();
    alice.close();
    await server.close();
    return server.stats().accounts;
  });
  assert.equal(first, 2);
  await page.reload();
  const second = await page.evaluate(async () => {
    const { ImpsServer, IndexedDbStore, ImpsClient } = await import('/pkg/browser.js');
    const server = await ImpsServer.open({}, await IndexedDbStore.open('page-server'));
    const bob = new ImpsClient({ transport: (r) => server.handle(r), userId: 'bob', password: 'b', scheme: 'digest' });
    const message = bob.next('message', () => true, 15000);
    await bob.login();
    const poller = setInterval(() => bob.poll(), 50);
    const m = await message;
    clearInterval(poller);
    await bob.logout();
    bob.close();
    return { accounts: server.stats().accounts, hasAlice: server.hasAccount('alice'), text: m.content, sender: m.sender };
  });
  assert.deepEqual(second, { accounts: 2, hasAlice: true, text: 'kept in IndexedDB', sender: 'wv:alice@localhost' });
  await page.close();
});

test('a client page talks to imps serve with fetch', async () => {
  const page = await freshPage();
  const result = await page.evaluate(async (url) => {
    const { ImpsClient, presenceValues } = await import('/pkg/browser.js');
    const alice = new ImpsClient({ url, userId: 'pagealice', password: 'pw', version: '1.3' });
    const bob = new ImpsClient({ url, userId: 'pagebob', password: 'pw', version: '1.2', scheme: 'password' });
    await alice.login();
    await bob.login();
    const got = bob.next('message', (m) => m.content === 'from a page', 15000);
    await alice.sendText({ users: ['pagebob'], text: 'from a page' });
    const poller = setInterval(() => bob.poll(), 50);
    const m = await got;
    clearInterval(poller);
    await alice.updatePresence({ OnlineStatus: true });
    await alice.logout();
    await bob.logout();
    return { sender: m.sender, values: presenceValues({ name: 'x', attributes: {}, children: [] }) };
  }, `${imps.url}/imps`);
  assert.equal(result.sender, 'wv:pagealice@localhost');
  await page.close();
});

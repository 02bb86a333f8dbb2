// The web demo in headless Debian Chromium (playwright-core), in both modes:
// - remote: `imps serve` serves the demo and the package; alice and bob in two browser contexts;
// - local: the server engine in the page's SharedWorker on IndexedDB; alice and bob in two
//   pages of one persistent context (contexts share no worker and no IndexedDB).
// Alice and bob log in, add each other and authorize, see presence change, write both ways;
// bob goes offline and gets alice's messages on return; alice creates a group, invites bob,
// they chat in it. Screenshots of the main screens go to target/demo-screenshots/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '..', '..');
const WEB_ROOT = process.env.WEB_ROOT ?? join(ROOT, 'web-demo');
const SHOTS = process.env.SCREENSHOTS ?? join(ROOT, 'target', 'demo-screenshots');
mkdirSync(SHOTS, { recursive: true });

const LAUNCH = {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};
const T = 20000; // ms for anything that crosses the server

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((e) => console.error('cleanup:', e));
});

/** `imps serve` on a free port serving the demo, with open registration and cheap hashes. */
async function startImps() {
  const bin = process.env.IMPS_BIN;
  if (!bin) throw new Error('IMPS_BIN must name the imps binary (cargo xtask test sets it)');
  const dir = mkdtempSync(join(tmpdir(), 'imps-demo-'));
  const config = join(dir, 'imps.toml');
  writeFileSync(
    config,
    `[host]\nweb_root = ${JSON.stringify(WEB_ROOT)}\n[login]\nhash_memory_kib = 8\nhash_iterations = 1\n[presence]\nnotify_interval_ms = 100\n`,
  );
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', join(dir, 'data'), '--config', config, '--open-registration'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((res, rej) => {
    child.once('exit', (code) => rej(new Error(`imps serve exited with ${code}`)));
    lines.once('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) res(m[1]);
      else rej(new Error(`unexpected first line: ${line}`));
    });
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function watch(page, who) {
  page.on('pageerror', (e) => console.error(`${who} page error:`, e));
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`${who} console:`, m.text());
  });
}

async function login(page, user, mode) {
  if (mode === 'local') await page.getByRole('radio', { name: /In this browser/ }).check();
  // By keyboard: the user field has the focus, Tab moves on, Enter logs in.
  await page.getByLabel('User', { exact: true }).fill('');
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(`${user}-pw`);
  await page.keyboard.press('Enter');
  await page.locator('#chat-screen').waitFor({ state: 'visible', timeout: T });
  assert.equal(await page.locator('#me-name').textContent(), user);
}

async function logout(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.locator('#login-screen').waitFor({ state: 'visible', timeout: T });
}

const contact = (page, user) => page.locator(`#contacts button[data-user="wv:${user}@localhost"]`);

/** Waits until `user`'s entry in `page`'s contact list has an accessible name matching `re`. */
async function contactSays(page, user, re) {
  await page.waitForFunction(
    ([sel, source]) => new RegExp(source).test(document.querySelector(sel)?.getAttribute('aria-label') ?? ''),
    [`#contacts button[data-user="wv:${user}@localhost"]`, re.source],
    { timeout: T },
  );
}

async function open(page, user) {
  await page.getByRole('tab', { name: /Contacts/ }).click();
  await contact(page, user).click();
}

async function say(page, text) {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
}

/** Opens a folded section (`<details>`) unless it is open already. */
async function unfold(page, id) {
  if (!(await page.locator(`#${id}`).evaluate((d) => d.open))) await page.locator(`#${id} summary`).click();
}

const message = (page, text) => page.locator('#messages li', { hasText: text });

async function seen(page, text) {
  await message(page, text).first().waitFor({ timeout: T });
}

async function stateOf(page, text, state) {
  await page.locator(`#messages li[data-state="${state}"]`, { hasText: text }).first().waitFor({ timeout: T });
}

// Local mode drives two tabs of one window, and only the front tab gets animation frames,
// which Playwright's actions wait for: each action on a page first brings its tab to the front
// (as a user switching tabs would).
const ACTIONS = new Set(['click', 'fill', 'press', 'selectOption', 'check', 'focus', 'evaluate', 'waitFor', 'textContent', 'screenshot', 'setViewportSize', 'waitForFunction']);
const LOCATING = new Set(['locator', 'getByRole', 'getByLabel', 'getByText', 'first']);
function inFront(target, page = target) {
  return new Proxy(target, {
    get(t, k) {
      const v = Reflect.get(t, k);
      if (typeof v !== 'function') return v;
      if (ACTIONS.has(k)) {
        return async (...args) => {
          await page.bringToFront();
          return v.apply(t, args);
        };
      }
      if (LOCATING.has(k)) return (...args) => inFront(v.apply(t, args), page);
      return v.bind(t);
    },
  });
}

const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

/** The whole scenario; `mode` picks how the pages reach a server. */
async function scenario(alice, bob, mode) {
  const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${mode}-${name}.png`) });
  await login(alice, 'alice', mode);
  await login(bob, 'bob', mode);
  await shot(alice, 'empty');

  // Alice adds bob; bob allows and adds her back; alice allows.
  await alice.getByLabel('Contact to add').fill('bob');
  await alice.getByRole('button', { name: 'Add', exact: true }).click();
  await contact(alice, 'bob').waitFor({ timeout: T });
  const request = bob.locator('#requests li[data-user="wv:alice@localhost"]');
  await request.waitFor({ timeout: T });
  await shot(bob, 'authorization-request');
  await request.getByRole('button', { name: 'Allow and add' }).click();
  const back = alice.locator('#requests li[data-user="wv:bob@localhost"]');
  await back.waitFor({ timeout: T });
  await back.getByRole('button', { name: 'Allow', exact: true }).click();

  // Each sees the other online; bob's presence change reaches alice.
  await contactSays(alice, 'bob', /Available/);
  await contactSays(bob, 'alice', /Available/);
  await bob.getByLabel('Availability').selectOption('NOT_AVAILABLE');
  await bob.getByLabel('Status text').fill('at lunch');
  await bob.getByLabel('Mood').selectOption('HAPPY');
  await bob.getByRole('button', { name: 'Set', exact: true }).click();
  await contactSays(alice, 'bob', /Away, at lunch · feeling happy/);
  await shot(alice, 'contacts');

  // Messages both ways, with delivery reports.
  await open(alice, 'bob');
  await say(alice, 'hello bob');
  await stateOf(alice, 'hello bob', 'delivered');
  await open(bob, 'alice');
  await seen(bob, 'hello bob');
  assert.equal(await bob.locator('#announce').textContent(), 'alice: hello bob', 'announced to screen readers');
  await say(bob, 'hi alice, back soon');
  await seen(alice, 'hi alice, back soon');
  await stateOf(bob, 'hi alice, back soon', 'delivered');
  await shot(alice, 'conversation');

  // Shared content: alice shares a link; bob's inbox shows it as a link; alice hears he took it.
  await unfold(alice, 'share-box');
  await alice.getByLabel('Link to share').fill('https://example.org/holiday.jpg');
  await alice.getByRole('button', { name: 'Share link' }).click();
  await bob.getByRole('tab', { name: /Invitations/ }).click();
  const shared = bob.locator('#invitations li.invitation', { hasText: 'shared content' });
  await shared.waitFor({ timeout: T });
  assert.equal(await shared.getByRole('link').getAttribute('href'), 'https://example.org/holiday.jpg');
  await shared.getByRole('button', { name: 'Accept' }).click();
  await shared.getByText('accepted').waitFor({ timeout: T });
  await alice.getByRole('tab', { name: /Invitations/ }).click();
  await alice.locator('#notices li', { hasText: 'bob accepted your invitation' }).waitFor({ timeout: T });

  // Bob goes offline: alice sees it, writes, and bob gets it when he returns.
  await logout(bob);
  await contactSays(alice, 'bob', /Offline/);
  await say(alice, 'while you were out');
  await stateOf(alice, 'while you were out', 'sent');
  await login(bob, 'bob', mode);
  await contactSays(bob, 'alice', /Available/);
  await open(bob, 'alice');
  await seen(bob, 'while you were out');
  await stateOf(alice, 'while you were out', 'delivered');
  await contactSays(alice, 'bob', /Away, at lunch/);

  // A group: alice creates it, invites bob, bob accepts under a screen name, they chat.
  await alice.getByRole('tab', { name: /Groups/ }).click();
  await alice.getByLabel('Group name').fill('Team');
  await alice.getByLabel('Topic').fill('the demo');
  await alice.getByLabel('Your screen name').fill('Ali');
  await alice.getByRole('button', { name: 'Create group' }).click();
  await alice.locator('#conv-title', { hasText: 'Team' }).waitFor({ timeout: T });
  await unfold(alice, 'members-box');
  await alice.locator('#members li[data-member="Ali"]').waitFor({ timeout: T });
  await alice.getByLabel('Invite user').fill('bob');
  await alice.getByRole('button', { name: 'Invite', exact: true }).click();
  await bob.getByRole('tab', { name: /Invitations/ }).click();
  const invitation = bob.locator('#invitations li.invitation', { hasText: 'alice/team' });
  await invitation.waitFor({ timeout: T });
  await shot(bob, 'invitation');
  await invitation.getByLabel('Screen name for the group').fill('Bobby');
  await invitation.getByRole('button', { name: 'Accept' }).click();
  await bob.locator('#conv-title', { hasText: 'Team' }).waitFor({ timeout: T });
  await alice.locator('#members li[data-member="Bobby"]').waitFor({ timeout: T });
  await alice.locator('#members li[data-member="Ali"] .role', { hasText: 'admin' }).waitFor({ timeout: T });
  await say(alice, 'welcome to the team');
  await seen(bob, 'welcome to the team');
  assert.equal(await message(bob, 'welcome to the team').locator('.who').textContent(), 'Ali');
  await say(bob, 'glad to be here');
  await seen(alice, 'glad to be here');
  assert.equal(await message(alice, 'glad to be here').locator('.who').textContent(), 'Bobby');
  await shot(alice, 'group');

  // Search: users by id, groups by name.
  await bob.getByRole('tab', { name: /Search/ }).click();
  await bob.getByLabel('Search for').selectOption('GROUP_NAME');
  await bob.getByLabel('Search text').fill('tea');
  await bob.getByRole('button', { name: 'Search', exact: true }).click();
  await bob.getByRole('button', { name: 'Join alice/team' }).waitFor({ timeout: T });
  await bob.getByLabel('Search for').selectOption('USER_ID');
  await bob.getByLabel('Search text').fill('ali');
  await bob.getByRole('button', { name: 'Search', exact: true }).click();
  await bob.locator('#search-results li', { hasText: 'alice' }).getByText('contact').waitFor({ timeout: T });
  await shot(bob, 'search');

  // Bob leaves the group: alice's member list loses him.
  await bob.getByRole('button', { name: 'Leave group' }).click();
  await bob.getByText('Pick a contact or a group.').waitFor({ timeout: T });
  await alice.locator('#members li[data-member="Bobby"]').waitFor({ state: 'detached', timeout: T });

  // A phone-sized window shows one pane at a time.
  await alice.setViewportSize({ width: 390, height: 760 });
  await shot(alice, 'phone-group');
  await alice.getByRole('button', { name: 'Back to lists' }).click();
  await alice.getByRole('tab', { name: /Contacts/ }).click();
  await contact(alice, 'bob').waitFor({ state: 'visible', timeout: T });
  await shot(alice, 'phone-contacts');

  await logout(alice);
  await logout(bob);
}

test('remote mode: two browser contexts against imps serve', async () => {
  const imps = await startImps();
  cleanups.push(() => imps.stop());
  const browser = await chromium.launch(LAUNCH);
  cleanups.push(() => browser.close());
  const pages = [];
  for (const who of ['alice', 'bob']) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const page = await context.newPage();
    watch(page, who);
    await page.goto(`${imps.url}/`);
    pages.push(page);
  }
  await scenario(pages[0], pages[1], 'remote');

  // A presence invitation: alice offers carol her presence; carol accepts and sees alice
  // online without alice answering an authorization request.
  const [alice] = pages;
  const carolContext = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const carol = await carolContext.newPage();
  watch(carol, 'carol');
  await carol.goto(`${imps.url}/`);
  await login(alice, 'alice', 'remote');
  await login(carol, 'carol', 'remote');
  await alice.getByLabel('Contact to add').fill('carol');
  await alice.getByRole('button', { name: 'Add', exact: true }).click();
  await open(alice, 'carol');
  await unfold(alice, 'share-box');
  await alice.getByRole('button', { name: 'Invite to see my presence' }).click();
  await carol.getByRole('tab', { name: /Invitations/ }).click();
  const offer = carol.locator('#invitations li.invitation', { hasText: '(presence)' });
  await offer.waitFor({ timeout: T });
  await offer.getByRole('button', { name: 'Accept' }).click();
  await carol.getByRole('tab', { name: /Contacts/ }).click();
  await contactSays(carol, 'alice', /Available/);
  assert.equal(await alice.locator('#requests li[data-user="wv:carol@localhost"]').count(), 0, 'alice was not asked');
  await shot(carol, 'remote-presence-invitation');
});

test('local mode: two pages of one browser, the server in a SharedWorker on IndexedDB', async () => {
  // The pages still need an origin: imps serve only serves the files here, nothing else.
  const imps = await startImps();
  cleanups.push(() => imps.stop());
  const profile = mkdtempSync(join(tmpdir(), 'imps-demo-chromium-'));
  let context = await chromium.launchPersistentContext(profile, { ...LAUNCH, viewport: { width: 1100, height: 720 } });
  cleanups.push(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  const csp = [];
  context.on('request', (r) => {
    if (new URL(r.url()).pathname === '/imps') csp.push(r.url());
  });
  const pages = [];
  for (const who of ['alice', 'bob']) {
    const page = await context.newPage();
    watch(page, who);
    await page.goto(`${imps.url}/`);
    pages.push(inFront(page));
  }
  await scenario(pages[0], pages[1], 'local');
  assert.deepEqual(csp, [], 'local mode sends nothing to a server');

  // A tab without SharedWorker runs the server in its own worker, but not while another
  // server has the database: it is told so.
  const noShared = () => {
    delete globalThis.SharedWorker;
  };
  const solo = await context.newPage();
  await solo.addInitScript(noShared);
  await solo.goto(`${imps.url}/`);
  await solo.getByRole('radio', { name: /In this browser/ }).check();
  await solo.getByLabel('User', { exact: true }).fill('carol');
  await solo.getByLabel('Password').fill('carol-pw');
  await solo.getByRole('button', { name: 'Log in' }).click();
  await solo.getByText(/already runs in another tab/).waitFor({ timeout: T });

  // The data outlives the tabs: close every page and the browser, then log in again, this
  // time in a tab without SharedWorker (the server in a dedicated worker, on the same data).
  await context.close();
  context = await chromium.launchPersistentContext(profile, { ...LAUNCH, viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  await page.addInitScript(noShared);
  watch(page, 'alice again');
  await page.goto(`${imps.url}/`);
  await login(page, 'alice', 'local');
  await contact(page, 'bob').waitFor({ timeout: T });
  await page.getByRole('tab', { name: /Groups/ }).click();
  await page.locator('#groups button[data-group="wv:alice/team@localhost"]').waitFor({ timeout: T });
  // A wrong password for a stored account is refused by the in-browser server.
  await logout(page);
  await page.getByLabel('User', { exact: true }).fill('bob');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText(/Login failed.*409/).waitFor({ timeout: T });
});

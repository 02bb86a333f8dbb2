// Shared by the Node tests of the imps-engine package.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ImpsClient } from 'imps-engine';

/** A client talking to `server` in process; wake-ups routed to it by session id. */
export function connect(server, options) {
  const client = new ImpsClient({ transport: (req) => server.handle(req), ...options });
  server.on('wakeUp', (w) => {
    if (w.sessionId === client.sessionId) client.wakeUp();
  });
  return client;
}

/** An element tree: `el('GroupID', 'wv:a/g')`, `el('JoinGroup-Request', el(...), ...)`. */
export const el = (name, ...children) => ({ name, attributes: {}, children });

/**
 * The next `type` event of `client` that satisfies `predicate`, polling every 50 ms while
 * waiting (the default configuration offers no CIR channel, so clients poll).
 */
export async function until(client, type, predicate = () => true, timeoutMs = 15000) {
  return pollWhile(client, client.next(type, predicate, timeoutMs));
}

/** Awaits `event` (an earlier `client.next(...)`), polling every 50 ms meanwhile. */
export async function pollWhile(client, event) {
  const timer = setInterval(() => {
    if (client.isReady) client.poll();
  }, 50);
  try {
    return await event;
  } finally {
    clearInterval(timer);
  }
}

/** Starts `imps serve` (IMPS_BIN) on a free port with a fresh data directory. */
export async function startImps(extraArgs = []) {
  const bin = process.env.IMPS_BIN;
  if (!bin) throw new Error('IMPS_BIN must name the imps binary (cargo xtask test sets it)');
  const data = mkdtempSync(join(tmpdir(), 'imps-npm-'));
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', data, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`imps serve exited with ${code}`)));
    lines.once('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]);
      else reject(new Error(`unexpected first line: ${line}`));
    });
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(data, { recursive: true, force: true });
    },
  };
}

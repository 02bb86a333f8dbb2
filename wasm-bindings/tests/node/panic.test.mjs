// A Rust panic must not poison the module silently: a clear error, then every call says the
// instance is dead. (Its own file: node --test runs each file in its own process.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImpsError, ImpsServer, __panicForTests, isDead, versions } from 'imps-engine';

test('a panic is a clear ImpsError and leaves the instance marked dead', async () => {
  const server = await ImpsServer.open();
  assert.equal(isDead(), false);
  assert.throws(
    () => __panicForTests(),
    (e) => e instanceof ImpsError && e.code === 500 && /deliberate panic/.test(e.message) && /panicked/.test(e.message),
  );
  assert.equal(isDead(), true);
  assert.throws(() => versions(), (e) => e instanceof ImpsError && /dead after a panic/.test(e.message));
  await assert.rejects(server.handle({ body: '<x/>' }), (e) => e instanceof ImpsError && /dead/.test(e.message));
});

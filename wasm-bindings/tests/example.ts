// Type-checked by `cargo xtask test` (tsc --noEmit): the README's quick start, against the
// package's curated declarations. Never run.
import {
  ImpsClient,
  ImpsError,
  ImpsServer,
  IndexedDbStore,
  decode,
  encode,
  presenceValues,
  versions,
  type ClientEvent,
  type Store,
  type StorageBatch,
} from 'imps-engine';

export async function quickStart(): Promise<void> {
  const server = await ImpsServer.open({ domain: 'example.org' }, await IndexedDbStore.open('imps'));
  await server.admin({ type: 'provisionUser', userId: 'alice', password: 'secret' });
  server.on('wakeUp', (w) => console.log(w.sessionId, w.methods.join()));
  server.on('event', (e) => {
    if (e.type === 'loginFailed') console.log(e.user, e.code);
  });

  const alice = new ImpsClient({
    transport: (req) => server.handle(req),
    userId: 'alice',
    password: 'secret',
    version: '1.3',
    scheme: 'digest',
  });
  const ready = await alice.login();
  console.log(ready.agreed.length);
  alice.on('message', (m) => console.log(m.sender ?? '?', m.content, m.messageId));
  alice.on('*', (e: ClientEvent) => {
    switch (e.type) {
      case 'presence':
        console.log(e.userId, presenceValues(e.changed));
        break;
      case 'disconnected':
        console.log(e.code);
        break;
    }
  });
  await alice.updatePresence({ OnlineStatus: true, StatusText: 'here' });
  await alice.subscribePresence({ users: ['bob'], attributes: ['OnlineStatus'] });
  const sent = await alice.sendText({ users: ['bob'], text: 'hi' });
  console.log(sent.name, sent.code);
  await alice.send({ name: 'GetGroupMembers-Request', attributes: {}, children: [] });
  await alice.createContactList('wv:alice/friends@example.org', {
    users: ['wv:bob@example.org', { userId: 'wv:carol@example.org', nickname: 'Caz' }],
    displayName: 'Friends',
  });
  await alice.blockUsers({ block: ['wv:mallory@example.org'], blockListInUse: true });
  await alice.createGroup('wv:alice/chat@example.org', {
    properties: { Name: 'Chat', Searchable: true },
    join: true,
    screenName: 'Al',
  });
  const invited = await alice.invite({ type: 'GR', users: ['wv:bob@example.org'], groupId: 'wv:alice/chat@example.org' });
  console.log(invited.inviteId);
  alice.on('serverRequest', (e) => {
    if (e.primitive.name === 'InviteUser-Request') void alice.answerInvitation('id', false, { note: 'busy' });
  });
  const found = await alice.search({ GROUP_NAME: 'Chat' }, { limit: 10 });
  console.log(found.tree?.name);

  try {
    decode('<not-csp/>');
  } catch (e) {
    if (e instanceof ImpsError) console.log(e.code, e.message, e.details);
  }
  const message = decode(new Uint8Array(), 'application/vnd.wv.csp.xml');
  const { body, contentType }: { body: Uint8Array; contentType: string } = encode(message);
  console.log(body.length, contentType, versions().interface);
  await alice.logout();
  alice.close();
  await server.close();
}

// A store of one's own.
export class MapStore implements Store {
  rows = new Map<string, Uint8Array>();
  load() {
    return [...this.rows].map(([k, value]) => {
      const [table, key] = k.split('\u0000') as [string, string];
      return { table, key, value };
    });
  }
  async apply(batch: StorageBatch) {
    for (const op of batch.ops) {
      if (op.op === 'put') this.rows.set(`${op.table}\u0000${op.key}`, op.value);
      else this.rows.delete(`${op.table}\u0000${op.key}`);
    }
  }
}

// The typed ImpsClient helpers (contact lists, block and grant lists, groups, invitations,
// search) against an ImpsServer in process, in every CSP version each primitive exists in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImpsError, ImpsServer } from 'imps-engine';
import { connect, until } from './helpers.mjs';

/** Every element named `name` in `tree`, depth first. */
function all(tree, name, out = []) {
  if (!tree || typeof tree === 'string') return out;
  if (tree.name === name) out.push(tree);
  for (const c of tree.children) all(c, name, out);
  return out;
}

/** The first element named `name` in `tree`, or undefined. */
const find = (tree, name) => all(tree, name)[0];

/** The text of an element. */
const text = (e) => (e ? e.children.filter((c) => typeof c === 'string').join('') : undefined);
/** The texts of every element named `name` in `tree`. */
const texts = (tree, name) => all(tree, name).map(text);

async function setUp(version, users) {
  const server = await ImpsServer.open({});
  const clients = {};
  for (const userId of users) {
    await server.admin({ type: 'provisionUser', userId, password: 'pw' });
    const c = connect(server, { userId, password: 'pw', version });
    await c.login();
    clients[userId] = c;
  }
  return {
    server,
    clients,
    async close() {
      for (const c of Object.values(clients)) {
        await c.logout();
        c.close();
      }
      await server.close();
    },
  };
}

const refusedWith = (code) => (e) => e instanceof ImpsError && e.code === code;

for (const version of ['1.1', '1.2', '1.3']) {
  test(`contact lists and block lists through the typed helpers (CSP ${version})`, async () => {
    const { clients, close } = await setUp(version, ['alice', 'bob', 'carol']);
    const { alice, bob } = clients;
    const list = 'wv:alice/friends@localhost';

    await alice.createContactList(list, {
      users: ['wv:bob@localhost', { userId: 'wv:carol@localhost', nickname: 'Caz' }],
      displayName: 'Friends',
    });
    // The first list is the default one, named in DefaultContactList (and ContactList in 1.1).
    const listed = async () => {
      const { tree } = await alice.getContactLists();
      return [...texts(tree, 'ContactList'), ...texts(tree, 'DefaultContactList')];
    };
    assert.ok((await listed()).includes(list));
    // A second list of the same name is refused.
    await assert.rejects(alice.createContactList(list), (e) => e instanceof ImpsError && e.code >= 400);

    await alice.manageContactList(list, { remove: ['wv:carol@localhost'] });
    const members = await alice.manageContactList(list, { add: [{ userId: 'wv:carol@localhost', nickname: 'C' }] });
    if (version !== '1.1') {
      // ReceiveList: the answer carries the members, carol back under her new nickname.
      assert.deepEqual(texts(members.tree, 'UserID').sort(), ['wv:bob@localhost', 'wv:carol@localhost']);
      assert.ok(texts(members.tree, 'Name').includes('C'));
    }
    await alice.deleteContactList(list);
    assert.ok(!(await listed()).includes(list));
    await assert.rejects(alice.deleteContactList(list), (e) => e instanceof ImpsError && e.code >= 400);

    // alice blocks bob: the list says so and bob's messages no longer reach her.
    await alice.blockUsers({ block: ['wv:bob@localhost'], blockListInUse: true });
    const blocked = await alice.getBlockedList();
    assert.deepEqual(texts(find(blocked.tree, 'BlockList'), 'UserID'), ['wv:bob@localhost']);
    const inUse = version === '1.3' ? text(find(blocked.tree, 'BlockListInUse')) : text(find(find(blocked.tree, 'BlockList'), 'InUse'));
    assert.equal(inUse, 'T');
    await assert.rejects(bob.sendText({ users: ['alice'], text: 'let me in' }), (e) => e instanceof ImpsError && e.code >= 400);
    await alice.blockUsers({ unblock: ['wv:bob@localhost'] });
    assert.deepEqual(texts(find((await alice.getBlockedList()).tree, 'BlockList'), 'UserID'), []);
    await bob.sendText({ users: ['alice'], text: 'thanks' });
    await close();
  });
}

for (const version of ['1.2', '1.3']) {
  test(`groups, invitations and search through the typed helpers (CSP ${version})`, async () => {
    const { clients, close } = await setUp(version, ['alice', 'bob', 'carol']);
    const { alice, bob, carol } = clients;
    const g = 'wv:alice/chat@localhost';

    await alice.createGroup(g, {
      properties: { Name: 'Chat room', Topic: 'weather', AccessType: 'Open', Searchable: true },
      welcomeNote: 'welcome',
      join: true,
      screenName: 'Al',
    });
    const joined = await bob.joinGroup(g, { screenName: 'Bo', joinedUsers: true });
    assert.ok(texts(joined.tree, 'SName').includes('Al'), JSON.stringify(joined.tree));
    assert.equal(text(find(joined.tree, 'ContentData')), 'welcome');
    assert.deepEqual(texts((await alice.getJoinedUsers(g)).tree, 'SName').sort(), ['Al', 'Bo']);

    // Properties: read, changed by the owner, refused to a non-administrator.
    const props = (p) => Object.fromEntries(all(find(p.tree, 'GroupProperties'), 'Property').map((e) => [text(find(e, 'Name')), text(find(e, 'Value'))]));
    assert.equal(props(await bob.getGroupProps(g)).Topic, 'weather');
    await alice.setGroupProps(g, { properties: { Topic: 'sunshine' } });
    assert.equal(props(await bob.getGroupProps(g)).Topic, 'sunshine');
    await assert.rejects(bob.setGroupProps(g, { properties: { Topic: 'rain' } }), (e) => e instanceof ImpsError && e.code >= 400);

    // Members and privileges.
    await alice.addGroupMembers(g, ['wv:carol@localhost']);
    let members = await alice.getGroupMembers(g);
    assert.ok(texts(members.tree, 'UserID').includes('wv:carol@localhost'), JSON.stringify(members.tree));
    await alice.memberAccess(g, { moderators: ['wv:carol@localhost'] });
    members = await alice.getGroupMembers(g);
    assert.deepEqual(texts(find(members.tree, 'Mod'), 'UserID'), ['wv:carol@localhost']);
    await alice.removeGroupMembers(g, ['wv:carol@localhost']);
    assert.ok(!texts((await alice.getGroupMembers(g)).tree, 'UserID').includes('wv:carol@localhost'));

    // Notices subscription.
    await bob.subscribeGroupNotice(g, 'S');
    assert.equal(text(find((await bob.subscribeGroupNotice(g, 'G')).tree, 'Value')), 'T');

    // A ban keeps carol out; lifting it lets her in.
    const banned = await alice.rejectFromGroup(g, { add: ['wv:carol@localhost'] });
    assert.deepEqual(texts(banned.tree, 'UserID'), ['wv:carol@localhost']);
    await assert.rejects(carol.joinGroup(g, { screenName: 'Ca' }), (e) => e instanceof ImpsError && e.code >= 400);
    await alice.rejectFromGroup(g, { remove: ['wv:carol@localhost'] });

    // An invitation to the group: carol is asked, accepts, and alice hears the answer.
    const asked = until(carol, 'serverRequest', (e) => e.primitive.name === 'InviteUser-Request');
    const sent = await alice.invite({ type: 'GR', users: ['wv:carol@localhost'], groupId: g, note: 'come' });
    const request = (await asked).primitive.tree;
    assert.equal(text(find(request, 'InviteID')), sent.inviteId);
    assert.equal(text(find(request, 'InviteNote')), 'come');
    const answered = until(alice, 'serverRequest', (e) => e.primitive.name === 'Invite-Response');
    await carol.answerInvitation(sent.inviteId, true, { note: 'on my way' });
    const answer = (await answered).primitive.tree;
    assert.equal(text(find(answer, 'Acceptance')), 'T');
    assert.equal(text(find(answer, 'InviteID')), sent.inviteId);
    await carol.joinGroup(g, { screenName: 'Ca' });

    // A withdrawn invitation reaches its invitee as CancelInviteUser-Request.
    const cancelled = until(bob, 'serverRequest', (e) => e.primitive.name === 'CancelInviteUser-Request');
    const second = await alice.invite({ type: 'IM', users: ['wv:bob@localhost'], note: 'chat?' });
    await alice.cancelInvitation(second.inviteId, { note: 'never mind' });
    assert.equal(text(find((await cancelled).primitive.tree, 'InviteID')), second.inviteId);
    await assert.rejects(bob.answerInvitation(second.inviteId, true), (e) => e instanceof ImpsError && e.code >= 400);

    // Search: two searchable groups, one per page; the next page; the search stopped.
    await alice.createGroup('wv:alice/chat2@localhost', { properties: { Name: 'Chat room two', Searchable: true } });
    const first = await bob.search({ GROUP_NAME: 'Chat room' }, { limit: 1 });
    const searchId = text(find(first.tree, 'SearchID'));
    assert.equal(text(find(first.tree, 'SearchFindings')), '2');
    const found = texts(first.tree, 'GroupID');
    assert.equal(found.length, 1, 'one finding per page');
    // Results are counted from 1; an answer's SearchIndex is its last one.
    assert.equal(text(find(first.tree, 'SearchIndex')), '1');
    const more = await bob.searchMore(searchId, Number(text(find(first.tree, 'SearchIndex'))) + 1);
    found.push(...texts(more.tree, 'GroupID'));
    assert.deepEqual(found.sort(), ['wv:alice/chat2@localhost', g]);
    await bob.stopSearch(searchId);
    await assert.rejects(bob.searchMore(searchId, 3), (e) => e instanceof ImpsError && e.code >= 400);
    const users = await bob.search({ USER_ID: 'carol' });
    assert.ok(texts(users.tree, 'UserID').includes('wv:carol@localhost'), JSON.stringify(users.tree));

    // Only an administrator deletes the group.
    await assert.rejects(bob.deleteGroup(g), (e) => e instanceof ImpsError && e.code >= 400);
    await bob.leaveGroup(g);
    await alice.deleteGroup(g);
    await assert.rejects(bob.getGroupProps(g), refusedWith(800));
    await close();
  });
}

test('bad arguments to the typed helpers are refused with CSP codes, and the session goes on', async () => {
  const { clients, close } = await setUp('1.2', ['alice']);
  const { alice } = clients;
  // Caught before sending: not text, not an element.
  await assert.rejects(alice.addGroupMembers('wv:alice/g@localhost', [{}]), (e) => e instanceof ImpsError && e.code === 400 && /UserID/.test(e.message));
  await assert.rejects(alice.removeGroupMembers('wv:alice/g@localhost', 'wv:bob@localhost'), refusedWith(400));
  // Caught by the codec: a SearchID must be a number.
  await assert.rejects(alice.searchMore('abc', 1), refusedWith(400));
  // Refused by the server: a missing InviteType, an unknown search, an empty search, a group
  // that does not exist, a contact list id that is not one.
  await assert.rejects(alice.invite({ users: ['wv:bob@localhost'] }), refusedWith(402));
  await assert.rejects(alice.searchMore(77, 1), refusedWith(424));
  await assert.rejects(alice.search({}), refusedWith(402));
  await assert.rejects(alice.joinGroup('wv:alice/none@localhost', { screenName: 'a' }), refusedWith(800));
  await assert.rejects(alice.createContactList('not a list'), refusedWith(402));
  // The session still works.
  assert.equal((await alice.getBlockedList()).name, 'GetBlockedList-Response');
  await close();
});

// The chat screens: login, own presence, contacts with authorization requests, groups,
// invitations, search and conversations. State lives in a ChatSession; this file draws it.
import { local, remote } from './connection.js';
import { AVAILABILITY, ChatSession, MOODS, short } from './session.js';

const $ = (id) => document.getElementById(id);

/** A DOM element: `h('button', { class: 'x', onclick }, 'text', child)`. */
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return e;
}

let session = null;
let current = null; // the open conversation's key (user id or group id)

const AVAILABILITY_LABEL = { AVAILABLE: 'Available', DISCREET: 'Busy', NOT_AVAILABLE: 'Away' };
const moodLabel = (m) => (m ? m.toLowerCase().replace('_', ' ') : '');

/** Dot class, words and detail line for a presence. */
function presenceView(p = {}) {
  const online = p.OnlineStatus === 'T';
  const availability = p.UserAvailability || '';
  const dot = !online ? 'offline' : availability === 'NOT_AVAILABLE' ? 'away' : availability === 'DISCREET' ? 'busy' : 'online';
  const words = !online ? 'Offline' : AVAILABILITY_LABEL[availability] ?? 'Online';
  const detail = [p.StatusText, p.StatusMood && `feeling ${moodLabel(p.StatusMood)}`].filter(Boolean).join(' · ');
  return { dot, words, detail, online };
}

// ---- login -------------------------------------------------------------------------------------

function showLogin(message = '') {
  $('chat-screen').hidden = true;
  $('login-screen').hidden = false;
  $('login-error').textContent = message;
  $('login-password').value = '';
  $('login-user').focus();
}

$('login-server').value = location.origin;
for (const r of document.querySelectorAll('input[name=mode]')) {
  r.addEventListener('change', () => ($('login-server').disabled = r.value === 'local' && r.checked));
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const mode = form.get('mode');
  const button = e.target.querySelector('button[type=submit]');
  button.disabled = true;
  $('login-error').textContent = '';
  try {
    const connection = mode === 'local' ? local() : remote($('login-server').value || location.origin);
    const user = String(form.get('user')).trim();
    const s = new ChatSession({
      userId: user,
      password: String(form.get('password')),
      connection,
      storageKey: `imps-web-demo:${mode}:${connection.label}:${user.toLowerCase()}`,
    });
    await s.login();
    start(s);
  } catch (err) {
    $('login-error').textContent = `Login failed: ${err?.message ?? err}${err?.code ? ` (${err.code})` : ''}`;
  } finally {
    button.disabled = false;
  }
});

function start(s) {
  session = s;
  current = null;
  $('login-screen').hidden = true;
  $('chat-screen').hidden = false;
  $('me-name').textContent = short(s.userId);
  $('me-mode').textContent = s.connection.mode === 'local' ? '(in this browser)' : `(${s.connection.label})`;
  document.title = `${short(s.userId)} — IMPS chat`;
  s.addEventListener('change', (e) => render(e.detail));
  // Screen readers hear each new message once (the list itself is redrawn, not announced).
  s.addEventListener('incoming', (e) => {
    const { key, name, text, group } = e.detail;
    const where = group ? ` in ${s.groups.get(key)?.name ?? short(key)}` : '';
    $('announce').textContent = `${name}${where}: ${text}`;
  });
  s.addEventListener('ended', (e) => {
    if (session === s) {
      session = null;
      showLogin(e.detail === 200 ? '' : `Disconnected (${e.detail}).`);
    }
  });
  renderOwn();
  $('create-group-box').open = s.groups.size === 0;
  selectTab('contacts');
  render('all');
}

$('logout').addEventListener('click', async () => {
  const s = session;
  session = null;
  showLogin();
  await s?.logout().catch(() => {});
});

// ---- own presence ------------------------------------------------------------------------------

for (const a of AVAILABILITY) $('me-availability').append(h('option', { value: a }, AVAILABILITY_LABEL[a]));
$('me-mood').append(h('option', { value: '' }, 'No mood'), ...MOODS.map((m) => h('option', { value: m }, moodLabel(m))));

function renderOwn() {
  const own = session.own;
  $('me-availability').value = own.UserAvailability || 'AVAILABLE';
  $('me-status').value = own.StatusText || '';
  $('me-mood').value = own.StatusMood || '';
  $('me-dot').className = `dot ${presenceView({ OnlineStatus: 'T', UserAvailability: own.UserAvailability }).dot}`;
}

$('presence-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  await guard(() =>
    session.updateOwn({ UserAvailability: $('me-availability').value, StatusText: $('me-status').value, StatusMood: $('me-mood').value }),
  );
});

// ---- tabs --------------------------------------------------------------------------------------

const TABS = ['contacts', 'groups', 'invitations', 'search'];
function selectTab(name) {
  for (const t of TABS) {
    const on = t === name;
    $(`tab-${t}`).setAttribute('aria-selected', String(on));
    $(`tab-${t}`).tabIndex = on ? 0 : -1;
    $(`panel-${t}`).hidden = !on;
  }
}
for (const t of TABS) $(`tab-${t}`).addEventListener('click', () => selectTab(t));
document.querySelector('[role=tablist]').addEventListener('keydown', (e) => {
  const i = TABS.findIndex((t) => $(`tab-${t}`).getAttribute('aria-selected') === 'true');
  const j = e.key === 'ArrowRight' ? (i + 1) % TABS.length : e.key === 'ArrowLeft' ? (i + TABS.length - 1) % TABS.length : -1;
  if (j < 0) return;
  selectTab(TABS[j]);
  $(`tab-${TABS[j]}`).focus();
});

// ---- errors --------------------------------------------------------------------------------------

async function guard(fn) {
  try {
    return await fn();
  } catch (err) {
    notice(`${err?.message ?? err}${err?.code ? ` (CSP ${err.code})` : ''}`);
    return undefined;
  }
}

function notice(text) {
  session?.notices.push(text);
  render('invitations');
  $('toast').textContent = text;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => ($('toast').textContent = ''), 5000);
}

// ---- contacts ----------------------------------------------------------------------------------

$('add-contact').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('add-contact-user');
  const ok = await guard(() => session.addContact(input.value));
  if (ok) input.value = '';
});

function renderContacts() {
  const list = $('contacts');
  const contacts = [...session.contacts.values()].sort(
    (a, b) => presenceView(b.presence).online - presenceView(a.presence).online || a.nick.localeCompare(b.nick),
  );
  list.replaceChildren(
    ...contacts.map((c) => {
      const p = presenceView(c.presence);
      const unread = session.unread.get(c.userId);
      return h(
        'li',
        {},
        h(
          'button',
          {
            class: 'item contact',
            'data-user': c.userId,
            'aria-current': current === c.userId ? 'true' : 'false',
            'aria-label': `${c.nick}, ${p.words}${p.detail ? `, ${p.detail}` : ''}${unread ? `, ${unread} unread` : ''}`,
            onclick: () => openConversation(c.userId),
          },
          h('span', { class: `dot ${p.dot}`, 'aria-hidden': 'true' }),
          h('span', { class: 'name' }, c.nick),
          h('span', { class: 'state' }, unread ? h('span', { class: 'badge' }, String(unread)) : p.words),
          p.detail ? h('span', { class: 'detail' }, p.detail) : null,
        ),
      );
    }),
  );
  if (!contacts.length) list.append(h('li', { class: 'muted' }, 'No contacts yet: add one by user id.'));
}

function renderRequests() {
  $('requests').replaceChildren(
    ...[...session.requests.keys()].map((userId) =>
      h(
        'li',
        { 'data-user': userId },
        h('span', {}, h('strong', {}, short(userId)), ' wants to see your presence.'),
        h(
          'div',
          { class: 'buttons' },
          h('button', { onclick: () => guard(() => session.answerRequest(userId, true, true)) }, 'Allow and add'),
          h('button', { class: 'secondary', onclick: () => guard(() => session.answerRequest(userId, true)) }, 'Allow'),
          h('button', { class: 'secondary', onclick: () => guard(() => session.answerRequest(userId, false)) }, 'Deny'),
        ),
      ),
    ),
  );
}

// ---- groups ------------------------------------------------------------------------------------

$('create-group').addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = await guard(() => session.createGroup($('group-name').value, $('group-screen-name').value || undefined, $('group-topic').value));
  if (id) {
    e.target.reset();
    $('create-group-box').open = false;
    openConversation(id);
  }
});

$('join-group').addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = await guard(() => session.joinGroup($('join-group-id').value.trim(), $('join-screen-name').value || undefined));
  if (id) {
    e.target.reset();
    openConversation(id);
  }
});

function renderGroups() {
  const groups = [...session.groups.values()];
  $('groups').replaceChildren(
    ...groups.map((g) => {
      const unread = session.unread.get(g.groupId);
      return h(
        'li',
        {},
        h(
          'button',
          {
            class: 'item group',
            'data-group': g.groupId,
            'aria-current': current === g.groupId ? 'true' : 'false',
            onclick: () => openConversation(g.groupId),
          },
          h('span', { class: `dot ${g.joined ? 'online' : 'offline'}`, 'aria-hidden': 'true' }),
          h('span', { class: 'name' }, g.name),
          h('span', {}, unread ? h('span', { class: 'badge' }, String(unread)) : `${g.members.length} in`),
          h('span', { class: 'detail' }, `${short(g.groupId)} · as ${g.screenName ?? '?'}${g.myRole ? ` · ${g.myRole}` : ''}`),
        ),
      );
    }),
  );
  if (!groups.length) $('groups').append(h('li', { class: 'muted' }, 'No groups yet.'));
}

// ---- invitations -------------------------------------------------------------------------------

const INVITE_TYPES = { GR: 'group', GM: 'group membership', PR: 'presence', SC: 'shared content', IM: 'conversation', US: 'user', AP: 'application', EC: 'conversation', EG: 'group' };

function renderInvitations() {
  const open = session.invitations.filter((i) => i.state === 'open').length;
  $('invite-count').hidden = open === 0;
  $('invite-count').textContent = String(open);
  $('notices').replaceChildren(...session.notices.slice(-5).map((n) => h('li', {}, n)));
  $('invitations').replaceChildren(
    ...session.invitations.map((i) => {
      const screenName = h('input', { 'aria-label': 'Screen name for the group', placeholder: 'Screen name', value: session.local });
      const isGroup = i.groupId && ['GR', 'GM', 'EG'].includes(i.type);
      return h(
        'li',
        { class: 'invitation', 'data-invite': i.inviteId },
        h(
          'span',
          {},
          h('strong', {}, short(i.sender)),
          ` invites you (${INVITE_TYPES[i.type] ?? i.type})`,
          i.groupId ? [' to ', h('strong', {}, short(i.groupId))] : null,
        ),
        i.note ? h('q', {}, i.note) : null,
        ...i.urls.map((u) => (/^https?:\/\//i.test(u) ? h('a', { href: u, target: '_blank', rel: 'noopener noreferrer' }, u) : h('code', {}, u))),
        i.state === 'open'
          ? h(
              'div',
              { class: 'buttons' },
              isGroup ? screenName : null,
              h(
                'button',
                {
                  onclick: async () => {
                    await guard(() => session.answerInvitation(i.inviteId, true, { screenName: screenName.value }));
                    if (isGroup && session.groups.has(i.groupId)) openConversation(i.groupId);
                  },
                },
                'Accept',
              ),
              h('button', { class: 'secondary', onclick: () => guard(() => session.answerInvitation(i.inviteId, false)) }, 'Decline'),
            )
          : h('span', { class: 'muted' }, i.state),
      );
    }),
  );
  if (!session.invitations.length) $('invitations').append(h('li', { class: 'muted' }, 'No invitations.'));
}

// ---- search ------------------------------------------------------------------------------------

$('search-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('search-status').textContent = 'Searching…';
  const what = $('search-what').value;
  const found = await guard(() => session.search(what, $('search-text').value));
  if (!found) {
    $('search-status').textContent = 'Search failed.';
    return;
  }
  const items = [
    ...found.users.map((u) =>
      h('li', { class: 'row' }, h('span', { class: 'name' }, short(u)), session.contacts.has(u) ? h('span', { class: 'muted' }, 'contact') : h('button', { onclick: () => guard(() => session.addContact(u)) }, `Add ${short(u)}`)),
    ),
    ...found.groups.map((g) =>
      h('li', { class: 'row' }, h('span', { class: 'name' }, short(g)), h('button', { onclick: async () => (await guard(() => session.joinGroup(g))) && openConversation(g) }, `Join ${short(g)}`)),
    ),
  ];
  $('search-results').replaceChildren(...items);
  $('search-status').textContent = items.length ? `${items.length} found` : 'Nothing found.';
});

// ---- conversation ------------------------------------------------------------------------------

function openConversation(key) {
  current = key;
  session.markRead(key);
  $('chat-screen').classList.add('in-conversation');
  $('empty-conversation').hidden = true;
  $('conversation-body').hidden = false;
  render('all');
  $('composer-text').focus();
}

$('back').addEventListener('click', () => {
  $('chat-screen').classList.remove('in-conversation');
  current = null;
  render('all');
});

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('composer-text');
  const text = input.value;
  if (!text.trim() || !current) return;
  input.value = '';
  await session.send(current, text);
});

$('invite-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const user = $('invite-user').value;
  const ok = await guard(() => session.invite({ user, type: 'GR', groupId: current, note: `Join ${session.groups.get(current)?.name ?? 'us'}` }));
  if (ok) {
    $('invite-user').value = '';
    notice(`Invited ${short(user)}.`);
  }
});

$('share-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const url = $('share-url').value;
  const ok = await guard(() => session.invite({ user: current, type: 'SC', url, note: 'Have a look' }));
  if (ok) {
    $('share-url').value = '';
    notice(`Shared ${url} with ${short(current)}.`);
  }
});

$('offer-presence').addEventListener('click', async () => {
  const ok = await guard(() => session.invite({ user: current, type: 'PR', note: 'See when I am around' }));
  if (ok) notice(`Offered ${short(current)} your presence.`);
});

const STATE_LABEL = { sending: 'sending…', sent: 'sent', delivered: 'delivered', failed: 'not delivered' };

function renderConversation() {
  if (!current) {
    $('empty-conversation').hidden = false;
    $('conversation-body').hidden = true;
    return;
  }
  const group = session.groups.get(current);
  const contact = session.contacts.get(current);
  $('conv-title').textContent = group ? group.name : contact?.nick ?? short(current);
  if (group) {
    $('conv-sub').textContent = `${short(group.groupId)}${group.topic ? ` · ${group.topic}` : ''} · ${group.joined ? `joined as ${group.screenName}` : 'not joined'}`;
  } else {
    const p = presenceView(contact?.presence);
    $('conv-sub').textContent = [p.words, p.detail].filter(Boolean).join(' · ');
  }
  const actions = group
    ? [
        group.joined
          ? h('button', { class: 'secondary', onclick: async () => { await guard(() => session.leaveGroup(group.groupId)); current = null; render('all'); } }, 'Leave group')
          : h('button', { onclick: () => guard(() => session.joinGroup(group.groupId, group.screenName)) }, 'Join again'),
      ]
    : contact
      ? [h('button', { class: 'secondary', onclick: async () => { await guard(() => session.removeContact(contact.userId)); } }, 'Remove contact')]
      : [];
  $('conv-actions').replaceChildren(...actions);
  $('members-box').hidden = !group;
  $('share-box').hidden = !contact;
  if (group) {
    $('members').replaceChildren(
      ...group.members.map((m) =>
        h('li', { 'data-member': m.name }, m.name, m.userId ? h('span', { class: 'muted' }, ` (${short(m.userId)})`) : null, m.role ? h('span', { class: 'role' }, m.role) : null),
      ),
    );
  }
  const list = session.chats.get(current) ?? [];
  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(
    ...list.map((m) =>
      h(
        'li',
        { class: `msg ${m.mine ? 'mine' : ''}`, 'data-state': m.state ?? 'received' },
        !m.mine && group ? h('div', { class: 'who' }, m.name ?? short(m.from)) : null,
        h('div', { class: 'text' }, m.text),
        h(
          'div',
          { class: 'meta' },
          new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
          m.mine ? h('span', { class: `state state-${m.state}` }, ` · ${STATE_LABEL[m.state] ?? m.state}${m.error ? ` (${m.error})` : ''}`) : null,
        ),
      ),
    ),
  );
  if (atBottom || list.at(-1)?.mine) box.scrollTop = box.scrollHeight;
  session.markRead(current);
}

// ---- drawing -------------------------------------------------------------------------------------

function render(what) {
  if (!session) return;
  if (what === 'all' || what === 'contacts' || what === 'chat' || what === 'status') renderContacts();
  if (what === 'all' || what === 'requests') renderRequests();
  if (what === 'all' || what === 'groups' || what === 'chat' || what === 'status') renderGroups();
  if (what === 'all' || what === 'invitations') renderInvitations();
  if (what === 'all' || what === 'self') renderOwn();
  if (what === 'all' || what === 'chat' || what === 'contacts' || what === 'groups') renderConversation();
}

// Closing the tab ends the session when it can (else it ends when its keep-alive runs out),
// so contacts see us go offline.
addEventListener('pagehide', () => {
  session?.logout().catch(() => {});
});

showLogin();

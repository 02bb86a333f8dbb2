// One logged-in user of the demo: an ImpsClient of the imps-engine package and what the chat
// screens show (contacts with presence, conversations, groups, invitations, search), kept up
// to date from the client's events. Knows CSP; knows nothing of the DOM.
import { ImpsClient, presenceValues } from './imps-engine/browser.js';
import { child, deep, readProps, text } from './tree.js';

/** The presence attributes the demo shows, asks for and grants. */
export const ATTRIBUTES = ['OnlineStatus', 'UserAvailability', 'StatusText', 'StatusMood', 'Alias'];

/** StatusMood values (CSP-REFERENCE §4). */
export const MOODS = ['HAPPY', 'SAD', 'ANGRY', 'ANXIOUS', 'ASHAMED', 'BORED', 'EXCITED', 'IN_LOVE', 'INVINCIBLE', 'JEALOUS', 'SLEEPY', 'OTHER'];

/** UserAvailability values. */
export const AVAILABILITY = ['AVAILABLE', 'DISCREET', 'NOT_AVAILABLE'];

const CSP_VERSION = '1.2';

/** `alice`, `wv:alice`, `WV:Alice@localhost` → `wv:alice@localhost`. */
export function canonical(id, domain) {
  let s = String(id).trim().toLowerCase();
  if (!s.startsWith('wv:')) s = `wv:${s}`;
  if (!s.includes('@') && domain) s = `${s}@${domain}`;
  return s;
}

/** `wv:alice@localhost` → `alice`; `wv:alice/chat@localhost` → `alice/chat`. */
export const short = (id) => String(id ?? '').replace(/^wv:/, '').replace(/@.*$/, '');

const newId = () => Math.random().toString(36).slice(2, 10);

/**
 * A chat session. `transport`: how CSP messages travel (`{ url }` for `imps serve`, or
 * `{ transport, wakeUp }` for the in-browser server). Emits `change` (what changed: 'contacts',
 * 'requests', 'chat', 'groups', 'invitations', 'self', 'status') and `ended`.
 */
export class ChatSession extends EventTarget {
  constructor({ userId, password, connection, storageKey }) {
    super();
    this.userId = canonical(userId);
    this.local = short(this.userId);
    this.password = password;
    this.connection = connection;
    this.domain = null;
    this.listId = null;
    /** userId → { userId, nick, presence: { OnlineStatus, … }, authorized } */
    this.contacts = new Map();
    /** Pending "X wants to see your presence" requests: userId → attributes asked. */
    this.requests = new Map();
    /** Conversation key (user id or group id) → [{ id, from, text, at, mine, state }]. */
    this.chats = new Map();
    this.unread = new Map();
    /** groupId → { groupId, name, screenName, members: [{ name, userId, role }], joined, myRole } */
    this.groups = new Map();
    /** [{ inviteId, type, sender, groupId, note, urls, state }] */
    this.invitations = [];
    this.notices = [];
    this.own = { UserAvailability: 'AVAILABLE', StatusText: '', StatusMood: '' };
    this.storageKey = storageKey;
    this.#restoreLocal();
  }

  /** The domain part of our own id, from the server's answers. */
  #learnDomain(id) {
    const m = /@([^@/]+)$/.exec(id ?? '');
    if (m && !this.domain) {
      this.domain = m[1];
      this.userId = canonical(this.local, this.domain);
    }
  }

  id(user) {
    return canonical(user, this.domain ?? 'localhost');
  }

  #emit(what) {
    this.dispatchEvent(new CustomEvent('change', { detail: what }));
  }

  // ---- start and end ----------------------------------------------------------------------------

  /** Logs in, publishes availability, loads the contact list and rejoins kept groups. */
  async login() {
    const c = this.connection;
    this.client = new ImpsClient({
      ...(c.url ? { url: c.url } : { transport: c.transport }),
      wakeUp: (nudge) => {
        this.nudge = nudge;
        return () => this.stopWakeUps?.();
      },
      userId: this.local,
      password: this.password,
      version: CSP_VERSION,
      pollIntervalSecs: c.pollIntervalSecs ?? 15,
      clientId: 'imps-web-demo',
    });
    const cl = this.client;
    cl.on('message', (m) => this.#onMessage(m));
    cl.on('deliveryReport', (r) => this.#onDeliveryReport(r));
    cl.on('presence', (p) => this.#onPresence(p.userId));
    cl.on('authorizationRequest', (r) => {
      this.requests.set(r.userId, r.attributes);
      this.#emit('requests');
    });
    cl.on('serverRequest', (e) => this.#onServerRequest(e.primitive));
    cl.on('disconnected', (e) => {
      this.stopWakeUps?.();
      this.dispatchEvent(new CustomEvent('ended', { detail: e.code }));
    });
    try {
      await cl.login();
    } catch (e) {
      cl.close(); // no timers or channel left behind by a refused login
      throw c.lastError ?? e; // the in-browser server's own reason, when it gave one
    }
    this.stopWakeUps = c.wakeUps?.(cl.sessionId, () => this.nudge?.());
    await cl.updatePresence({ UserAvailability: this.own.UserAvailability }).catch(() => {});
    await this.#loadContacts();
    await this.#rejoinGroups();
    this.#emit('self');
  }

  /** Logs out (the server tells watchers we went offline). */
  async logout() {
    try {
      await this.client?.logout();
    } finally {
      this.stopWakeUps?.();
      this.client?.close();
    }
  }

  // ---- contacts and presence ----------------------------------------------------------------

  async #loadContacts() {
    const lists = await this.client.getContactLists();
    const ids = deep(lists.tree, 'ContactList').map((t) => text(t));
    const def = text(lists.tree, 'DefaultContactList');
    ids.forEach((id) => this.#learnDomain(id));
    this.#learnDomain(def);
    this.listId = def || ids[0] || null;
    if (!this.listId) {
      const made = await this.client.createContactList(`wv:${this.local}/contacts`, {
        displayName: 'Contacts',
        defaultList: true,
      });
      this.listId = text(made.tree, 'ContactList') || canonical(`${this.local}/contacts`, this.domain ?? 'localhost');
      if (!text(made.tree, 'ContactList')) {
        const again = await this.client.getContactLists();
        this.listId = text(again.tree, 'DefaultContactList') || deep(again.tree, 'ContactList').map((t) => text(t))[0] || this.listId;
      }
      this.#learnDomain(this.listId);
    }
    const managed = await this.client.manageContactList(this.listId);
    for (const nick of deep(managed.tree, 'NickName')) {
      const userId = text(nick, 'UserID');
      if (userId) this.contacts.set(userId, { userId, nick: text(nick, 'Name') || short(userId), presence: {} });
    }
    if (this.contacts.size) {
      await this.client.subscribePresence({ users: [...this.contacts.keys()], attributes: ATTRIBUTES }).catch(() => {});
      for (const id of this.contacts.keys()) this.#onPresence(id, false);
    }
    this.#emit('contacts');
  }

  /** Adds `user` to the contact list and asks to see their presence (they authorize it). */
  async addContact(user, nick) {
    const userId = this.id(user);
    if (userId === this.userId) throw new Error('that is you');
    await this.client.manageContactList(this.listId, {
      add: [{ userId, nickname: nick || short(userId) }],
      receiveList: false,
    });
    this.contacts.set(userId, { userId, nick: nick || short(userId), presence: {} });
    this.#emit('contacts');
    await this.client.subscribePresence({ users: [userId], attributes: ATTRIBUTES });
    return userId;
  }

  /** Takes `userId` off the contact list and stops watching them. */
  async removeContact(userId) {
    await this.client.manageContactList(this.listId, { remove: [userId], receiveList: false });
    await this.client.unsubscribePresence({ users: [userId] }).catch(() => {});
    this.contacts.delete(userId);
    this.#emit('contacts');
  }

  /** Answers a presence authorization request; `addBack` also adds them as a contact. */
  async answerRequest(userId, accept, addBack = false) {
    await this.client.authorize(userId, accept, ATTRIBUTES);
    this.requests.delete(userId);
    this.#emit('requests');
    if (accept && addBack && !this.contacts.has(userId)) await this.addContact(userId);
  }

  #onPresence(userId, emit = true) {
    this.#learnDomain(userId);
    const values = presenceValues(this.client.presenceOf(userId));
    if (userId === this.userId) return;
    const c = this.contacts.get(userId);
    if (c) {
      c.presence = values;
      if (emit) this.#emit('contacts');
    }
  }

  /** Publishes our own presence: availability, status text, mood. */
  async updateOwn({ UserAvailability, StatusText, StatusMood }) {
    const attrs = {};
    if (UserAvailability) attrs.UserAvailability = UserAvailability;
    attrs.StatusText = StatusText ?? '';
    if (StatusMood) attrs.StatusMood = StatusMood;
    await this.client.updatePresence(attrs);
    this.own = { UserAvailability, StatusText: StatusText ?? '', StatusMood: StatusMood ?? '' };
    this.#saveLocal();
    this.#emit('self');
  }

  // ---- messages ---------------------------------------------------------------------------

  #push(key, entry) {
    if (!this.chats.has(key)) this.chats.set(key, []);
    const list = this.chats.get(key);
    list.push(entry);
    if (list.length > 200) list.splice(0, list.length - 200);
    this.#saveLocal();
  }

  /** Sends `text` to a user (with a delivery report) or to a group. */
  async send(key, body) {
    const group = this.groups.has(key);
    const entry = { id: newId(), from: this.userId, text: body, at: Date.now(), mine: true, state: 'sending' };
    this.#push(key, entry);
    this.#emit('chat');
    try {
      const r = await this.client.sendText(group ? { groups: [key], text: body } : { users: [key], text: body, deliveryReport: true });
      entry.messageId = text(r.tree, 'MessageID') || undefined;
      entry.state = 'sent';
      // The report may have come before the answer that names the message.
      const early = this.#earlyReports.get(entry.messageId);
      if (early !== undefined) this.#applyReport(entry, early);
    } catch (e) {
      entry.state = 'failed';
      entry.error = e.code;
    }
    this.#saveLocal();
    this.#emit('chat');
  }

  #onMessage(m) {
    const info = m.info;
    const groupId = text(child(info, 'Recipient', 'Group'), 'GroupID');
    const senderUser = text(child(info, 'Sender', 'User'), 'UserID');
    const senderName = text(child(info, 'Sender', 'Group', 'ScreenName'), 'SName');
    const from = senderUser || m.sender || '';
    if (senderUser) this.#learnDomain(senderUser);
    const key = groupId || from;
    const shown = groupId ? senderName || short(senderUser || from) : short(from);
    this.#push(key, { id: m.messageId || newId(), from, name: shown, text: m.content, at: Date.now(), mine: false });
    this.unread.set(key, (this.unread.get(key) ?? 0) + 1);
    this.dispatchEvent(new CustomEvent('incoming', { detail: { key, name: shown, text: m.content, group: Boolean(groupId) } }));
    this.#emit('chat');
  }

  #earlyReports = new Map();

  #applyReport(e, code) {
    e.state = code === 200 ? 'delivered' : 'failed';
    if (code !== 200) e.error = code;
  }

  #onDeliveryReport(r) {
    for (const list of this.chats.values()) {
      const e = list.find((x) => x.mine && x.messageId && x.messageId === r.messageId);
      if (e) {
        this.#applyReport(e, r.code);
        this.#saveLocal();
        this.#emit('chat');
        return;
      }
    }
    if (r.messageId) this.#earlyReports.set(r.messageId, r.code);
  }

  markRead(key) {
    if (this.unread.delete(key)) this.#emit('status');
  }

  // ---- groups -----------------------------------------------------------------------------

  /** Creates a group under our own id and joins it with `screenName`. */
  async createGroup(name, screenName, topic = '') {
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'group';
    const groupId = canonical(`${this.local}/${slug}`, this.domain ?? 'localhost');
    const properties = { Name: name, AccessType: 'Open', Searchable: true };
    if (topic) properties.Topic = topic;
    await this.client.createGroup(groupId, { properties, subscribe: true });
    await this.joinGroup(groupId, screenName);
    return groupId;
  }

  /** Joins `groupId` as `screenName` (rejoined at the next login: AutoJoin). */
  async joinGroup(group, screenName) {
    const groupId = group.includes('/') ? this.id(group) : group;
    const sname = screenName || this.local;
    let answer;
    try {
      answer = await this.client.joinGroup(groupId, {
        screenName: sname,
        joinedUsers: true,
        subscribe: true,
        own: { AutoJoin: true },
      });
    } catch (e) {
      if (e.code !== 807) throw e; // 807: already joined (AutoJoin did it at login)
    }
    const g = this.groups.get(groupId) ?? { groupId, name: short(groupId), members: [] };
    g.screenName = sname;
    g.joined = true;
    this.groups.set(groupId, g);
    if (answer) g.members = this.#mappings(answer.tree);
    this.#saveLocal();
    this.#emit('groups');
    await this.refreshGroup(groupId).catch(() => {});
    return groupId;
  }

  #mappings(tree) {
    const out = [];
    const add = (t, role) => {
      for (const m of deep(t, 'Mapping')) out.push({ name: text(m, 'SName'), userId: text(m, 'UserID') || null, role });
    };
    const admin = deep(tree, 'AdminMapList')[0];
    if (admin) {
      add(child(admin, 'AdminMapping'), 'admin');
      add(child(admin, 'ModMapping'), 'moderator');
      add(child(admin, 'UserMapping'), 'member');
    } else {
      // Only administrators and moderators are told everyone's role.
      add(tree, null);
      for (const u of deep(tree, 'UserList').flatMap((l) => deep(l, 'SName'))) {
        if (!out.some((x) => x.name === text(u))) out.push({ name: text(u), userId: null, role: null });
      }
    }
    return out;
  }

  /** Reads a group's name, our role and who is joined. */
  async refreshGroup(groupId) {
    const g = this.groups.get(groupId);
    if (!g) return;
    const p = await this.client.getGroupProps(groupId);
    const gp = readProps(child(p.tree, 'GroupProperties'));
    const own = readProps(child(p.tree, 'OwnProperties'));
    g.name = gp.Name || g.name;
    g.topic = gp.Topic || '';
    g.myRole = { Admin: 'admin', Mod: 'moderator', User: 'member' }[own.PrivilegeLevel] ?? own.PrivilegeLevel ?? '';
    if (g.joined) {
      const j = await this.client.getJoinedUsers(groupId);
      g.members = this.#mappings(j.tree);
      for (const m of g.members) if (m.name === g.screenName && !m.role) m.role = g.myRole || null;
    }
    this.#saveLocal();
    this.#emit('groups');
  }

  /** Leaves a group (and forgets it here). */
  async leaveGroup(groupId) {
    try {
      await this.client.leaveGroup(groupId);
    } finally {
      this.groups.delete(groupId);
      this.#saveLocal();
      this.#emit('groups');
    }
  }

  async #rejoinGroups() {
    for (const g of [...this.groups.values()]) {
      g.joined = false;
      await this.joinGroup(g.groupId, g.screenName).catch(() => {
        g.joined = false;
      });
    }
  }

  // ---- server requests: group notices, invitations ----------------------------------------

  #onServerRequest(p) {
    const t = p.tree;
    switch (p.name) {
      case 'GroupChangeNotice': {
        const gid = text(t, 'GroupID');
        if (this.groups.has(gid)) this.refreshGroup(gid).catch(() => {});
        break;
      }
      case 'LeaveGroup-Response': {
        const gid = text(t, 'GroupID');
        const g = this.groups.get(gid);
        if (g) {
          g.joined = false;
          g.members = [];
          this.notices.push(`You left ${g.name} (${p.code ?? 'ended'})`);
          this.#emit('groups');
        }
        break;
      }
      case 'InviteUser-Request': {
        const sender = text(child(t, 'Sender', 'User'), 'UserID') || text(child(t, 'Sender', 'Group', 'ScreenName'), 'SName');
        this.invitations.unshift({
          inviteId: text(t, 'InviteID'),
          type: text(t, 'InviteType'),
          sender,
          groupId: text(t, 'GroupID'),
          note: text(t, 'InviteNote'),
          urls: deep(t, 'URL').map((u) => text(u)),
          state: 'open',
        });
        this.#emit('invitations');
        break;
      }
      case 'Invite-Response': {
        const who = text(child(t, 'Sender', 'User'), 'UserID') || text(t, 'Sender');
        const ok = text(t, 'Acceptance') === 'T';
        const note = text(t, 'ResponseNote') || text(t, 'InviteNote');
        this.notices.push(`${short(who)} ${ok ? 'accepted' : 'declined'} your invitation${note ? `: ${note}` : ''}`);
        this.#emit('invitations');
        break;
      }
      case 'CancelInviteUser-Request': {
        const id = text(t, 'InviteID');
        for (const i of this.invitations) if (i.inviteId === id) i.state = 'cancelled';
        this.#emit('invitations');
        break;
      }
      default:
        break;
    }
  }

  /** Invites `user` into a group (`GR`), to see our presence (`PR`) or to shared content (`SC`). */
  async invite({ user, type = 'GR', groupId, url, note }) {
    const recipient = this.id(user);
    const inviteId = `inv-${newId()}`;
    await this.client.invite({
      inviteId,
      type,
      users: [recipient],
      groupId: groupId || undefined,
      attributes: type === 'PR' ? ATTRIBUTES : [],
      urls: url ? [url] : [],
      note: note || undefined,
    });
    return inviteId;
  }

  /** Accepts or declines an invitation; an accepted group invitation joins the group. */
  async answerInvitation(inviteId, accept, { screenName, note } = {}) {
    const inv = this.invitations.find((i) => i.inviteId === inviteId);
    if (!inv) return;
    await this.client.answerInvitation(inviteId, accept, { note: note || undefined });
    inv.state = accept ? 'accepted' : 'declined';
    this.#emit('invitations');
    if (accept && inv.groupId && ['GR', 'GM', 'EG'].includes(inv.type)) await this.joinGroup(inv.groupId, screenName);
    if (accept && inv.type === 'PR' && !this.contacts.has(inv.sender)) await this.addContact(inv.sender);
  }

  // ---- search -----------------------------------------------------------------------------

  /** Searches users or groups: `element` a SearchElement (`USER_ID`, `GROUP_NAME`, …). */
  async search(element, value) {
    const r = await this.client.search({ [element]: value }, { limit: 20 });
    const result = child(r.tree, 'SearchResult') ?? r.tree;
    const users = deep(result, 'UserID').map((u) => text(u));
    const groups = deep(result, 'GroupID').map((g) => text(g));
    if (text(r.tree, 'SearchID') && text(r.tree, 'CompletionFlag') !== 'T') {
      this.client.stopSearch(text(r.tree, 'SearchID')).catch(() => {});
    }
    return { users: [...new Set(users)], groups: [...new Set(groups)] };
  }

  // ---- kept in the browser ----------------------------------------------------------------

  #saveLocal() {
    if (!this.storageKey) return;
    try {
      const groups = [...this.groups.values()].map(({ groupId, name, screenName }) => ({ groupId, name, screenName }));
      localStorage.setItem(this.storageKey, JSON.stringify({ chats: [...this.chats], groups, own: this.own }));
    } catch {
      // Storage full or unavailable: the chat still works, it is only not kept.
    }
  }

  #restoreLocal() {
    if (!this.storageKey) return;
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) ?? 'null');
      if (!saved) return;
      this.chats = new Map(saved.chats ?? []);
      for (const list of this.chats.values()) for (const e of list) if (e.state === 'sending') e.state = 'failed';
      for (const g of saved.groups ?? []) this.groups.set(g.groupId, { ...g, members: [], joined: false });
      this.own = { ...this.own, ...(saved.own ?? {}) };
    } catch {
      // A damaged record starts afresh.
    }
  }
}


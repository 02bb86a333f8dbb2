// Curated types of the imps-engine package (hand-written: wasm-bindgen's generated ones
// describe the internal core, not this surface).

/** Initialises the module. Both entries do it on import; this resolves once it is done. */
export function initAsync(): Promise<void>;

/** Version information. */
export interface Versions {
  /** The crate (and engine) version, also the package version. */
  package: string;
  /** The version of the host interface (shapes of inputs and outputs). */
  interface: string;
  /** The storage schema version of the records the engine writes. */
  schema: number;
}
export function versions(): Versions;

/** Whether a panic ended the module (every call then throws an ImpsError 500). */
export function isDead(): boolean;

/** Every error of the package: `code` is a CSP status code where one fits (400, 415, 505, …). */
export class ImpsError extends Error {
  readonly name: 'ImpsError';
  readonly code: number;
  readonly details: unknown;
  constructor(code: number, message: string, details?: unknown);
}

// ---- element trees ----------------------------------------------------------------------------

/** An XML element as the codec writes it; used for primitives and structured values. */
export interface CspElement {
  name: string;
  attributes: Record<string, string>;
  children: Array<CspElement | string>;
}

/** A primitive: its element name, its result code if it carries one, its tree. */
export interface PrimitiveValue {
  name: string;
  code?: number;
  tree: CspElement | null;
}

// ---- codec ------------------------------------------------------------------------------------

export type CspVersion = '1.1' | '1.2' | '1.3';

export interface DecodedTransaction {
  mode?: 'Request' | 'Response';
  transactionId?: string;
  primitives: PrimitiveValue[];
}

export interface DecodedMessage {
  version: CspVersion;
  sessionId?: string;
  transactions: DecodedTransaction[];
  /** The whole message, as the codec re-encodes it. */
  tree: CspElement | null;
}

export interface EncodedMessage {
  body: Uint8Array;
  contentType: string;
}

/** Decodes a CSP message, XML or WBXML by `contentType`; throws ImpsError 400 (malformed), 415 (neither) or 505. */
export function decode(bytes: Uint8Array | string, contentType?: string): DecodedMessage;
/** Encodes a decoded message (or its tree) back through the codec. */
export function encode(
  message: DecodedMessage | CspElement,
  encoding?: 'xml' | 'wbxml',
): EncodedMessage;
/** The values of a PresenceSubList tree's value attributes (`{ OnlineStatus: 'T' }`). */
export function presenceValues(tree: CspElement | null): Record<string, string>;

// ---- events -----------------------------------------------------------------------------------

export type Unsubscribe = () => void;

declare class Emitter<Events extends { type: string }> {
  /** Calls `listener` for every event of `type` (`'*'` for all). */
  on<T extends Events['type']>(type: T, listener: (event: Extract<Events, { type: T }>) => void): Unsubscribe;
  on(type: '*', listener: (event: Events) => void): Unsubscribe;
  off(type: string, listener: (event: never) => void): void;
  /** The next event of `type` that satisfies `predicate`; ImpsError 408 after `timeoutMs` (10 s). */
  next<T extends Events['type']>(
    type: T,
    predicate?: (event: Extract<Events, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<Events, { type: T }>>;
}

// ---- stores -----------------------------------------------------------------------------------

export type TableName =
  | 'meta'
  | 'accounts'
  | 'contact_lists'
  | 'presence'
  | 'subscriptions'
  | 'authorizations'
  | 'block_lists'
  | 'mailbox'
  | 'groups'
  | (string & {});

/**
 * `value` may be a view into a buffer shared with other outputs (as Node's small Buffers are):
 * the package never writes to it again; store `value.slice()` to keep a compact copy (a
 * structured clone, as IndexedDB or postMessage make, copies the whole buffer of a view).
 */
export type StorageOp =
  | { op: 'put'; table: TableName; key: string; value: Uint8Array }
  | { op: 'delete'; table: TableName; key: string };

/** Changes to apply atomically and durably, in order. */
export interface StorageBatch {
  type: 'storage';
  id: number;
  ops: StorageOp[];
}

export interface StoredRecord {
  table: TableName;
  key: string;
  value: Uint8Array;
}

/** What a JS app implements to keep the server's data in its own database. */
export interface Store {
  /** Every stored record (any order; the engine sorts nothing out of it). */
  load(): Promise<StoredRecord[]> | StoredRecord[];
  /** Applies a batch atomically; resolves only once it is durable. */
  apply(batch: StorageBatch): Promise<void> | void;
}

/** The default store: records in the engine module's memory, applied there by its server. */
export class MemoryStore implements Store {
  load(): Promise<StoredRecord[]>;
  apply(batch: StorageBatch): Promise<void>;
}

/** The IndexedDB layout version of IndexedDbStore (migrations run from v1). */
export const INDEXED_DB_VERSION: number;

export class IndexedDbStore implements Store {
  /** Opens (creates, migrates) the database `name` (default `imps-engine`). */
  static open(name?: string, indexedDB?: IDBFactory): Promise<IndexedDbStore>;
  load(): Promise<StoredRecord[]>;
  apply(batch: StorageBatch): Promise<void>;
  close(): void;
}

// ---- server -----------------------------------------------------------------------------------

/** The server configuration: the fields of `imps.example.toml` (all optional). */
export interface ServerConfig {
  domain?: string;
  server_key?: string;
  login?: Record<string, string | number | boolean>;
  session?: Record<string, string | number | boolean>;
  limits?: Record<string, number>;
  service_provider?: Record<string, string | number | boolean | string[]>;
  cir?: Record<string, string | number | boolean | string[]>;
  contact_lists?: Record<string, number>;
  presence?: Record<string, number | boolean>;
  block_lists?: Record<string, number>;
  im?: Record<string, number | boolean>;
  groups?: Record<string, number | boolean>;
}

export interface CspRequest {
  body: Uint8Array | string;
  /** Default `application/vnd.wv.csp.xml`. */
  contentType?: string;
  /** The peer's address (login throttling per client). */
  peer?: string;
}

export interface CspReply {
  contentType: string;
  /**
   * Empty when nothing needs saying (a poll with nothing waiting). May be a view into a buffer
   * shared with other outputs, never written again (see {@link StorageOp}).
   */
  body: Uint8Array;
}

/** Nudge this session's client (CIR): it then polls. */
export interface WakeUp {
  type: 'wakeUp';
  sessionId: string;
  version: CspVersion;
  cookie?: string;
  cirToken: string;
  methods: string[];
}

/** Audit and metrics events. */
export type ServerEvent =
  | { type: 'loggedIn'; user: string; session: string; version: CspVersion }
  | { type: 'loginFailed'; user: string; code: number }
  | { type: 'registered'; user: string }
  | { type: 'sessionEnded'; user: string; session: string; code: number }
  | { type: 'restoreSkipped'; table: TableName; key: string };

export type ServerEvents =
  | WakeUp
  | { type: 'event'; event: ServerEvent }
  | { type: 'storageError'; error: ImpsError };

export type AdminCommand =
  | { type: 'provisionUser'; userId: string; password: string }
  | { type: 'deleteUser'; userId: string }
  | { type: 'forceLogout'; userId: string }
  | { type: 'systemMessage'; userId?: string; text: string };

/** Listeners of ImpsServer: `wakeUp` (a WakeUp), `event` (a ServerEvent), `storageError`. */
export interface ServerListeners {
  on(type: 'wakeUp', listener: (w: WakeUp) => void): Unsubscribe;
  on(type: 'event', listener: (e: ServerEvent) => void): Unsubscribe;
  on(type: 'storageError', listener: (e: ImpsError) => void): Unsubscribe;
  next(type: 'wakeUp', predicate?: (w: WakeUp) => boolean, timeoutMs?: number): Promise<WakeUp>;
  next(type: 'event', predicate?: (e: ServerEvent) => boolean, timeoutMs?: number): Promise<ServerEvent>;
  off(type: string, listener: (event: never) => void): void;
}

export class ImpsServer implements ServerListeners {
  /** Starts restoring from `store` at once (`ready` settles when done). */
  constructor(config?: ServerConfig, store?: Store);
  /** A server whose records are restored. */
  static open(config?: ServerConfig, store?: Store): Promise<ImpsServer>;
  readonly ready: Promise<void>;
  /** One CSP request; the reply is released after every storage batch before it is durable. */
  handle(request: CspRequest): Promise<CspReply>;
  /** An operator command; resolves with its result text, rejects with ImpsError 400. */
  admin(command: AdminCommand): Promise<string>;
  stats(): { sessions: number; accounts: number };
  hasAccount(userId: string): boolean;
  /** Stops timers; resolves once every batch given to the store is durable. */
  close(): Promise<void>;
  on(type: 'wakeUp', listener: (w: WakeUp) => void): Unsubscribe;
  on(type: 'event', listener: (e: ServerEvent) => void): Unsubscribe;
  on(type: 'storageError', listener: (e: ImpsError) => void): Unsubscribe;
  next(type: 'wakeUp', predicate?: (w: WakeUp) => boolean, timeoutMs?: number): Promise<WakeUp>;
  next(type: 'event', predicate?: (e: ServerEvent) => boolean, timeoutMs?: number): Promise<ServerEvent>;
  off(type: string, listener: (event: never) => void): void;
}

// ---- client -----------------------------------------------------------------------------------

/** Posts one CSP message and resolves with the HTTP body (reject for a transport failure). */
export type Transport = (request: { body: Uint8Array; contentType: string }) => Promise<{
  body: Uint8Array;
  contentType?: string;
}>;

/** A wake-up channel: call `nudge` on every CIR; return a function that stops it. */
export type WakeUpChannel = (nudge: () => void) => Unsubscribe;

export interface ClientOptions {
  /** The server's CSP endpoint (fetch transport), unless `transport` is given. */
  url?: string;
  transport?: Transport;
  /** A WebSocket URL whose messages are wake-ups; without it (or `wakeUp`) the client polls. */
  wakeUpUrl?: string;
  wakeUp?: WakeUpChannel;
  userId: string;
  password: string;
  /** Default 1.2. */
  version?: CspVersion;
  /** 2-way `password` (default) or 4-way `digest`. */
  scheme?: 'password' | 'digest';
  clientId?: string;
  /** Keep-alive wish, seconds. */
  timeToLive?: number;
  /** Seconds between polls when nothing better is agreed. */
  pollIntervalSecs?: number;
  /** Fetch and confirm announced messages by itself (notify delivery). */
  autoFetch?: boolean;
  /** Wire encoding of requests: `xml` (default) or `wbxml`; replies are read either way. */
  encoding?: 'xml' | 'wbxml';
}

/** Presence attributes: value attributes as booleans or strings, structured ones as trees. */
export type PresenceAttributes = Record<string, boolean | string | CspElement>;
/** Attribute names (`OnlineStatus`, `UserAvailability`, …). */
export type AttributeNames = string[];

export type ClientEvent =
  | { type: 'loggedIn'; sessionId: string; keepAliveSecs: number }
  | { type: 'ready'; agreed: string[]; notAvailable: string[] }
  | { type: 'loginFailed'; code: number; description: string }
  | { type: 'disconnected'; code: number }
  | { type: 'serverRequest'; primitive: PrimitiveValue }
  | { type: 'response'; transactionId: string; primitive: PrimitiveValue }
  | { type: 'keptAlive'; code: number; keepAliveSecs: number }
  | { type: 'error'; message: string }
  | { type: 'presence'; userId: string; changed: CspElement | null }
  | { type: 'authorizationRequest'; userId: string; attributes: CspElement | null }
  | {
      type: 'message';
      messageId: string;
      sender?: string;
      contentType?: string;
      info: CspElement | null;
      /** ContentData as received (still BASE64 when the envelope says so). */
      content: string;
    }
  | { type: 'messageWaiting'; messageId?: string; info: CspElement | null }
  | { type: 'deliveryReport'; messageId?: string; code: number; info: CspElement | null };

/** A contact list entry: a user id, or a user id with a nickname. */
export type ContactListEntry = string | { userId: string; nickname?: string };
/** CSP properties by name (`Name`, `Topic`, `AccessType`, `Searchable`, …); booleans are T/F. */
export type GroupPropertyValues = Record<string, string | number | boolean>;
/** What an invitation is for: group, IM, presence, shared content, …. */
export type InviteType = 'GR' | 'IM' | 'PR' | 'SC' | 'GM' | 'US' | 'AP' | 'EC' | 'EG';
/** What a search looks at. */
export type SearchElement =
  | 'USER_ID'
  | 'USER_FIRST_NAME'
  | 'USER_LAST_NAME'
  | 'USER_EMAIL_ADDRESS'
  | 'USER_ALIAS'
  | 'USER_ONLINE_STATUS'
  | 'USER_MOBILE_NUMBER'
  | 'USER_CITY'
  | 'USER_COUNTRY'
  | 'USER_FRIENDLY_NAME'
  | 'USER_GENDER'
  | 'USER_INTENTION'
  | 'USER_INTERESTS_HOBBIES'
  | 'USER_MARITAL_STATUS'
  | 'USER_AGE_MAX'
  | 'USER_AGE_MIN'
  | 'GROUP_ID'
  | 'GROUP_NAME'
  | 'GROUP_TOPIC'
  | 'GROUP_USER_ID_JOINED'
  | 'GROUP_USER_ID_OWNER'
  | 'GROUP_USER_ID_AUTOJOIN';

export class ImpsClient extends Emitter<ClientEvent> {
  constructor(options: ClientOptions);
  readonly version: CspVersion;
  readonly sessionId: string | null;
  readonly isReady: boolean;
  /** Logs in and negotiates; rejects with the refusal's CSP code (e.g. 409). */
  login(): Promise<Extract<ClientEvent, { type: 'ready' }>>;
  logout(): Promise<Extract<ClientEvent, { type: 'disconnected' }>>;
  poll(): void;
  keepAlive(): void;
  /** A CIR arrived by some other channel: the client polls. */
  wakeUp(): void;
  updatePresence(attributes: PresenceAttributes): Promise<PrimitiveValue>;
  subscribePresence(target: {
    users?: string[];
    contactLists?: string[];
    attributes?: AttributeNames;
    autoSubscribe?: boolean;
  }): Promise<PrimitiveValue>;
  unsubscribePresence(target: { users?: string[]; contactLists?: string[] }): Promise<PrimitiveValue>;
  getPresence(target: { users?: string[]; contactLists?: string[]; attributes?: AttributeNames }): Promise<PrimitiveValue>;
  createAttributeList(grant: {
    attributes: AttributeNames | PresenceAttributes;
    users?: string[];
    contactLists?: string[];
    defaultList?: boolean;
  }): Promise<PrimitiveValue>;
  authorize(userId: string, accept: boolean, attributes?: AttributeNames): Promise<PrimitiveValue>;
  /** The merged presence of a contact (PresenceSubList tree), or null. */
  presenceOf(userId: string): CspElement | null;
  sendText(message: {
    users?: string[];
    contactLists?: string[];
    groups?: string[];
    text: string;
    deliveryReport?: boolean;
  }): Promise<PrimitiveValue>;
  getMessage(messageId: string): Promise<PrimitiveValue>;
  messageDelivered(messageId: string): Promise<PrimitiveValue>;
  rejectMessages(messageIds: string[]): Promise<PrimitiveValue>;
  setDeliveryMethod(
    method: 'P' | 'N',
    options?: { acceptedContentLength?: number; group?: string },
  ): Promise<PrimitiveValue>;
  getMessageList(options?: { group?: string; count?: number }): Promise<PrimitiveValue>;
  // Contact lists, block and grant lists. Each helper builds the request's element tree for
  // the session's CSP version; the codec checks it before it is sent.
  /** The contact lists (GetList-Request): `ContactList` and `DefaultContactList` in the answer. */
  getContactLists(): Promise<PrimitiveValue>;
  /** Creates contact list `listId` (`wv:you/name@domain`). */
  createContactList(
    listId: string,
    options?: { users?: ContactListEntry[]; displayName?: string; defaultList?: boolean },
  ): Promise<PrimitiveValue>;
  deleteContactList(listId: string): Promise<PrimitiveValue>;
  /** Adds or removes users or changes properties; from CSP 1.2 the answer lists the members. */
  manageContactList(
    listId: string,
    changes?: {
      add?: ContactListEntry[];
      remove?: string[];
      displayName?: string;
      defaultList?: boolean;
      /** Ask for the members in the answer (CSP 1.2 and later; default true). */
      receiveList?: boolean;
    },
  ): Promise<PrimitiveValue>;
  /** The block and grant lists (GetBlockedList-Request). */
  getBlockedList(): Promise<PrimitiveValue>;
  /** Changes the block and grant lists and whether each is applied (BlockEntity-Request). */
  blockUsers(changes: {
    block?: string[];
    unblock?: string[];
    blockListInUse?: boolean;
    grant?: string[];
    ungrant?: string[];
    grantListInUse?: boolean;
  }): Promise<PrimitiveValue>;

  // Groups.
  /** Creates group `groupId` (`wv:you/name@domain`); `join` joins it at once under `screenName`. */
  createGroup(
    groupId: string,
    options?: {
      properties?: GroupPropertyValues;
      welcomeNote?: string;
      join?: boolean;
      screenName?: string;
      subscribe?: boolean;
    },
  ): Promise<PrimitiveValue>;
  /** Deletes a group (administrators only). */
  deleteGroup(groupId: string): Promise<PrimitiveValue>;
  /** Joins a group; `joinedUsers` asks for the joined users in the answer. */
  joinGroup(
    groupId: string,
    options?: { screenName?: string; joinedUsers?: boolean; subscribe?: boolean; own?: GroupPropertyValues },
  ): Promise<PrimitiveValue>;
  leaveGroup(groupId: string): Promise<PrimitiveValue>;
  /** Members by privilege level (`Admin`, `Mod`, `Users`/`UserList`). */
  getGroupMembers(groupId: string): Promise<PrimitiveValue>;
  /** The users joined now (CSP 1.2 and later). */
  getJoinedUsers(groupId: string): Promise<PrimitiveValue>;
  addGroupMembers(groupId: string, users: string[]): Promise<PrimitiveValue>;
  removeGroupMembers(groupId: string, users: string[]): Promise<PrimitiveValue>;
  /** Sets members' privilege levels. */
  memberAccess(
    groupId: string,
    levels: { admins?: string[]; moderators?: string[]; users?: string[] },
  ): Promise<PrimitiveValue>;
  /** `GroupProperties` and the caller's `OwnProperties`. */
  getGroupProps(groupId: string): Promise<PrimitiveValue>;
  setGroupProps(
    groupId: string,
    changes: { properties?: GroupPropertyValues; welcomeNote?: string; own?: GroupPropertyValues },
  ): Promise<PrimitiveValue>;
  /** Bans users from a group or lifts bans; the answer lists the banned users. */
  rejectFromGroup(groupId: string, changes: { add?: string[]; remove?: string[] }): Promise<PrimitiveValue>;
  /** GroupChangeNotice subscription: `S` subscribes, `U` ends it, `G` asks its state (`Value`). */
  subscribeGroupNotice(groupId: string, type?: 'G' | 'S' | 'U'): Promise<PrimitiveValue>;

  // Invitations and search.
  /**
   * Invites users; the invitees' answers arrive as `serverRequest` events (`Invite-Response`).
   * The result carries the invitation's id (random unless given).
   */
  invite(invitation: {
    type: InviteType;
    users?: string[];
    inviteId?: string;
    groupId?: string;
    /** Presence attributes a `PR` invitation offers. */
    attributes?: string[];
    urls?: string[];
    note?: string;
    validity?: number;
    screenName?: string;
  }): Promise<PrimitiveValue & { inviteId: string }>;
  /** Answers an `InviteUser-Request` (a `serverRequest` event). */
  answerInvitation(
    inviteId: string,
    accept: boolean,
    options?: { note?: string; screenName?: string; groupId?: string },
  ): Promise<PrimitiveValue>;
  /** Withdraws an invitation from every invitee or from `users`. */
  cancelInvitation(inviteId: string, options?: { users?: string[]; note?: string }): Promise<PrimitiveValue>;
  /** Searches users or groups: `{ USER_LAST_NAME: 'Smith' }`; the answer carries `SearchID`. */
  search(criteria: Partial<Record<SearchElement, string>>, options?: { limit?: number }): Promise<PrimitiveValue>;
  /** A page of a search from result `index` (counted from 1; an answer's `SearchIndex` is its last). */
  searchMore(searchId: string | number, index: number): Promise<PrimitiveValue>;
  stopSearch(searchId: string | number): Promise<PrimitiveValue>;
  /** Any request primitive as a tree (groups, contact lists, …); resolves with the answer. */
  send(primitive: CspElement): Promise<PrimitiveValue>;
  close(): void;
}

/** The default transport: POST to `url` with fetch. */
export function fetchTransport(url: string): Transport;
/** Wake-ups over a WebSocket. */
export function webSocketWakeUp(url: string): WakeUpChannel;

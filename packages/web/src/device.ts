/**
 * This browser as one of my devices, for end-to-end encrypted direct messages. Its keys live in
 * this browser's IndexedDB and never leave it; the site only ever sees ciphertext. This module and
 * the crypto behind it load only when messages are used, keeping the first page load small.
 */
import { del, get, set } from 'idb-keyval';
import type { BatchCrypto, DmApi, DmListResult, ListedDm, MyDevice, PeerKeys, PinStore } from '@hearth/protocol/dm';
import { bySentAt, forgetHistories, historyScope, HistoryStore, messageKey, takeEarly, type HistoryChunk, type StoredHistory } from './history-store';
import { api, DEVICE_ID_KEY, session } from './api';
import { deviceKey, takeDeviceEarly } from './device-record';

const pinKey = (address: string) => `hearth.pin.${location.host}.${address}`;

/**
 * The DM code and its crypto (the largest part of Messages), loaded when first needed: a
 * conversation this browser kept is on screen before it has even been evaluated.
 */
const dm = () => import('@hearth/protocol/dm');

export const dmApi: DmApi = {
  get: (path) => api('GET', path),
  post: (path, body) => api('POST', path, body),
  put: (path, body) => api('PUT', path, body),
};

export const pins: PinStore = {
  get: (address) => get<string>(pinKey(address)),
  set: (address, key) => set(pinKey(address), key),
};

/** Called right after a login or the first-run setup, while the password is at hand. */
export async function ensureDevice(password: string): Promise<MyDevice> {
  const username = session.username!;
  const existing = await get<MyDevice>(deviceKey(username));
  if (existing) {
    localStorage.setItem(DEVICE_ID_KEY, existing.device.id);
    known = { username, device: existing };
    return existing;
  }
  const id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
  const device = await (await dm()).enrolDevice(dmApi, { password, deviceName: `Browser: ${navigator.userAgent.split(') ')[0]?.split(' (')[1] ?? 'web'}`.slice(0, 100), deviceId: id });
  await set(deviceKey(username), device);
  known = { username, device };
  localStorage.setItem(DEVICE_ID_KEY, device.device.id);
  return device;
}

/**
 * At logout: this browser stops being one of my devices. The site forgets it (no new messages
 * are encrypted to it) and its keys leave this browser; logging in again makes a new device.
 */
export async function forgetThisDevice(): Promise<void> {
  const username = session.username;
  if (!username) return;
  const mine = await myDevice();
  await reading;
  await history?.saving;
  history = undefined;
  known = undefined;
  // The kept conversations go first: they are readable only with this browser, which stays.
  await forgetHistories(location.host, username).catch(() => undefined);
  if (!mine) return;
  await api('DELETE', `/api/devices/${encodeURIComponent(mine.device.id)}`).catch(() => undefined);
  await del(deviceKey(username));
  localStorage.removeItem(DEVICE_ID_KEY);
}


/** This browser's device, read from IndexedDB once per page (every new message asks for it). */
export async function myDevice(): Promise<MyDevice | undefined> {
  const username = session.username;
  if (!username) return undefined;
  if (known?.username === username) return known.device;
  // Started as the app loaded when it opened on Messages (main.tsx), else now.
  const device = await (takeDeviceEarly(username)?.catch(() => get<MyDevice>(deviceKey(username))) ?? get<MyDevice>(deviceKey(username)));
  if (device) known = { username, device };
  return device;
}
let known: { username: string; device: MyDevice } | undefined;

/** The browser's own Ed25519 and X25519, about ten times faster than JS, where it has them. */
const batchCrypto = (() => {
  let made: Promise<BatchCrypto | undefined> | undefined;
  return () => (made ??= dm().then((m) => m.webCryptoBatch()).catch(() => undefined));
})();

export interface Conversations extends DmListResult {
  /**
   * How the home vault's history went: not paired, offline (only this browser's own messages),
   * offline but read before (its history as this browser kept it), or merged in.
   */
  vault: 'none' | 'offline' | 'kept' | 'merged';
}

/**
 * My conversations: what this browser can decrypt itself, plus the history my home vault keeps
 * (sealed end to end through my site), so a new browser sees messages from before it existed.
 *
 * Kept in this browser, encrypted at rest (history-store.ts): a page opened later shows the kept
 * copy at once (`early`), then reads only the messages stored after the last one it has (the
 * site's `lastSeq`, which a new message's live event also carries) and asks the vault, once per
 * page, only for what it has not read from it. People's keys are kept too, for an hour.
 */
export function conversations(me: MyDevice, options: { opening?: boolean; early?: (kept: Conversations) => void } = {}): Promise<Conversations> {
  // One at a time: a live event during the first read waits for it, then asks only for what is newer.
  const next = reading.then(() => readConversations(me, options));
  reading = next.catch(() => undefined);
  return next;
}
let reading: Promise<unknown> = Promise.resolve();

interface History {
  token: string;
  deviceId: string;
  keys: Map<string, PeerKeys | Error>;
  /** When each of `keys` was looked up: kept keys are trusted for an hour from then. */
  keyTimes: Map<string, number>;
  lastSeq: number;
  /** Keyed by sender, signed send time and text rather than id: a vault paired before messages were kept by their inner id holds them under their envelope id. */
  byKey: Map<string, ListedDm>;
  rejected: DmListResult['rejected'];
  vault: Conversations['vault'];
  /** How far the vault's history has been read, and whose numbering that is. */
  vaultRead?: { id: string; seq: number };
  /** Where it is kept; none when this browser will not keep it (IndexedDB refused). */
  store?: HistoryStore;
  /** Writes to the store, in order, after each read has answered. */
  saving: Promise<unknown>;
}
let history: History | undefined;

async function readConversations(me: MyDevice, options: { opening?: boolean; early?: (kept: Conversations) => void }): Promise<Conversations> {
  const token = session.token ?? '';
  let firstRead = false;
  if (!history || history.token !== token || history.deviceId !== me.device.id) {
    history = await readKept(me.device.id, token);
    if (history.byKey.size > 0) options.early?.(asConversations(history));
    firstRead = true;
  }
  const h = history;
  const from = h.lastSeq;
  const keysBefore = new Map(h.keys);
  const newer = await (await dm()).listDms(dmApi, pins, me, undefined, { after: from, keys: h.keys, batch: await batchCrypto() });
  h.lastSeq = newer.lastSeq;
  h.rejected = [...h.rejected, ...newer.rejected];
  const chunk: HistoryChunk = { messages: addAll(h, newer.messages), rejected: newer.rejected, site: { from, to: h.lastSeq }, keys: [] };
  // The vault is asked once per page, and again when Messages is opened anew after it was offline.
  if (firstRead || (options.opening && (h.vault === 'offline' || h.vault === 'kept'))) {
    const read = await askVault(h, me);
    if (read) {
      chunk.messages.push(...addAll(h, read.messages));
      chunk.vault = read.stretch;
    }
  }
  const now = Date.now();
  for (const [address, keys] of h.keys) {
    if (keys instanceof Error || keysBefore.get(address) === keys) continue;
    h.keyTimes.set(address, now);
    chunk.keys.push({ address, keys, at: now });
  }
  if (h.store && (chunk.messages.length > 0 || chunk.rejected.length > 0 || chunk.vault || chunk.keys.length > 0 || h.lastSeq !== from)) {
    const store = h.store;
    // After the answer: the page shows the message without waiting for the disk.
    h.saving = h.saving.then(() => store.add(chunk, () => asStored(h))).catch(() => undefined);
  }
  return asConversations(h);
}

/** The history this browser kept for this login and device, or an empty one. */
async function readKept(deviceId: string, token: string): Promise<History> {
  const h: History = { token, deviceId, keys: new Map(), keyTimes: new Map(), lastSeq: 0, byKey: new Map(), rejected: [], vault: 'none', saving: Promise.resolve() };
  try {
    const scope = historyScope(location.host, session.username ?? '', deviceId);
    // Started as the app loaded when it opened on Messages (main.tsx), else now.
    const { store, kept } = await (takeEarly(scope)?.catch(() => HistoryStore.open(scope)) ?? HistoryStore.open(scope));
    h.store = store;
    if (kept) {
      addAll(h, kept.messages);
      h.rejected = kept.rejected;
      h.lastSeq = kept.siteSeq;
      if (kept.vault) h.vaultRead = kept.vault;
      for (const k of kept.keys) {
        h.keys.set(k.address, k.keys);
        h.keyTimes.set(k.address, k.at);
      }
    }
  } catch {
    h.store = undefined; // no IndexedDB here (a private window may refuse it): read everything each time
  }
  return h;
}

function asConversations(h: History): Conversations {
  return { messages: [...h.byKey.values()].sort(bySentAt), rejected: h.rejected, lastSeq: h.lastSeq, vault: h.vault };
}

function asStored(h: History): StoredHistory {
  const keys: StoredHistory['keys'] = [];
  for (const [address, k] of h.keys) if (!(k instanceof Error)) keys.push({ address, keys: k, at: h.keyTimes.get(address) ?? 0 });
  return { messages: [...h.byKey.values()].sort(bySentAt), rejected: h.rejected, siteSeq: h.lastSeq, ...(h.vaultRead ? { vault: h.vaultRead } : {}), keys };
}

/** Adds messages; returns those that were not there yet. */
function addAll(into: History, messages: ListedDm[]): ListedDm[] {
  const added: ListedDm[] = [];
  for (const m of messages) {
    const key = messageKey(m);
    if (!into.byKey.has(key)) added.push(m);
    into.byKey.set(key, m);
  }
  return added;
}

/** What the vault has that this history has not read from it yet (and the stretch of its numbering that is). */
async function askVault(into: History, me: MyDevice): Promise<{ messages: ListedDm[]; stretch: NonNullable<HistoryChunk['vault']> } | undefined> {
  const offline = () => void (into.vault = into.vaultRead ? 'kept' : 'offline');
  const status = await api<{ paired: boolean; online?: boolean }>('GET', '/api/vault');
  if (!status.paired) return void (into.vault = 'none');
  if (!status.online) return offline();
  try {
    const read = await (await dm()).vaultHistory(dmApi, me, { after: into.vaultRead?.seq, vaultId: into.vaultRead?.id });
    const from = into.vaultRead && read.vaultId === into.vaultRead.id ? into.vaultRead.seq : 0;
    into.vaultRead = { id: read.vaultId, seq: read.lastSeq };
    into.vault = 'merged';
    return { messages: read.messages, stretch: { id: read.vaultId, from, to: read.lastSeq } };
  } catch {
    return offline();
  }
}

export async function send(me: MyDevice, to: string, text: string): Promise<void> {
  await (await dm()).sendDm(dmApi, pins, me, to, text);
}

export async function safetyNumber(me: MyDevice, with_: string): Promise<string> {
  return (await dm()).safetyNumberWith(dmApi, pins, me, with_);
}

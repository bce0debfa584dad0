/**
 * This browser as one of my devices, for end-to-end encrypted direct messages. Its keys live in
 * this browser's IndexedDB and never leave it; the site only ever sees ciphertext. This module and
 * the crypto behind it load only when messages are used, keeping the first page load small.
 */
import { del, get, set } from 'idb-keyval';
import { enrolDevice, historyFromVault, listDms, safetyNumberWith, sendDm, type DmApi, type DmListResult, type ListedDm, type MyDevice, type PeerKeys, type PinStore } from '@hearth/protocol/dm';
import { api, DEVICE_ID_KEY, session } from './api';

const deviceKey = (username: string) => `hearth.device.${location.host}.${username}`;
const pinKey = (address: string) => `hearth.pin.${location.host}.${address}`;

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
    return existing;
  }
  const id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
  const device = await enrolDevice(dmApi, { password, deviceName: `Browser: ${navigator.userAgent.split(') ')[0]?.split(' (')[1] ?? 'web'}`.slice(0, 100), deviceId: id });
  await set(deviceKey(username), device);
  localStorage.setItem(DEVICE_ID_KEY, device.device.id);
  return device;
}

/**
 * At logout: this browser stops being one of my devices. The site forgets it (no new messages
 * are encrypted to it) and its keys leave this browser; logging in again makes a new device.
 */
export async function forgetThisDevice(): Promise<void> {
  const mine = await myDevice();
  if (!mine || !session.username) return;
  await api('DELETE', `/api/devices/${encodeURIComponent(mine.device.id)}`).catch(() => undefined);
  await del(deviceKey(session.username));
  localStorage.removeItem(DEVICE_ID_KEY);
  history = undefined;
}


export async function myDevice(): Promise<MyDevice | undefined> {
  return session.username ? get<MyDevice>(deviceKey(session.username)) : undefined;
}

export interface Conversations extends DmListResult {
  /** How the home vault's history went: not paired, offline (only this browser's own messages), or merged in. */
  vault: 'none' | 'offline' | 'merged';
}

/**
 * My conversations as this page has them for the session (until logout or reload): what this
 * browser can decrypt itself, plus the history my home vault keeps (sealed end to end through my
 * site), so a new browser sees messages from before it existed. The first call reads everything
 * and asks the vault once; later calls fetch only the messages stored after the last one read
 * (`lastSeq`, which a new message's live event also carries), with people's keys kept from before.
 */
export function conversations(me: MyDevice, options: { opening?: boolean } = {}): Promise<Conversations> {
  // One at a time: a live event during the first read waits for it, then asks only for what is newer.
  const next = reading.then(() => readConversations(me, options));
  reading = next.catch(() => undefined);
  return next;
}
let reading: Promise<unknown> = Promise.resolve();

async function readConversations(me: MyDevice, options: { opening?: boolean }): Promise<Conversations> {
  const token = session.token ?? '';
  if (!history || history.token !== token || history.deviceId !== me.device.id) {
    const keys = new Map<string, PeerKeys | Error>();
    const own = await listDms(dmApi, pins, me, undefined, { keys });
    history = { token, deviceId: me.device.id, keys, lastSeq: own.lastSeq, byKey: new Map(), rejected: own.rejected, vault: 'none' };
    addAll(history, own.messages);
    await askVault(history, me);
  } else {
    const newer = await listDms(dmApi, pins, me, undefined, { after: history.lastSeq, keys: history.keys });
    history.lastSeq = newer.lastSeq;
    history.rejected = [...history.rejected, ...newer.rejected];
    addAll(history, newer.messages);
    // A vault that was offline is asked again when the messages are opened anew, not at each message.
    if (options.opening && history.vault === 'offline') await askVault(history, me);
  }
  const messages = [...history.byKey.values()].sort((a, b) => a.sentAt.localeCompare(b.sentAt));
  return { messages, rejected: history.rejected, lastSeq: history.lastSeq, vault: history.vault };
}

interface History {
  token: string;
  deviceId: string;
  keys: Map<string, PeerKeys | Error>;
  lastSeq: number;
  /** Keyed by sender, signed send time and text rather than id: a vault paired before messages were kept by their inner id holds them under their envelope id. */
  byKey: Map<string, ListedDm>;
  rejected: DmListResult['rejected'];
  vault: Conversations['vault'];
}
let history: History | undefined;

function addAll(into: History, messages: ListedDm[]): void {
  for (const m of messages) into.byKey.set(`${m.from}\n${m.sentAt}\n${m.text}`, m);
}

async function askVault(into: History, me: MyDevice): Promise<void> {
  const status = await api<{ paired: boolean; online?: boolean }>('GET', '/api/vault');
  if (!status.paired) return void (into.vault = 'none');
  if (!status.online) return void (into.vault = 'offline');
  try {
    addAll(into, await historyFromVault(dmApi, me));
    into.vault = 'merged';
  } catch {
    into.vault = 'offline';
  }
}

export async function send(me: MyDevice, to: string, text: string): Promise<void> {
  await sendDm(dmApi, pins, me, to, text);
}

export async function safetyNumber(me: MyDevice, with_: string): Promise<string> {
  return safetyNumberWith(dmApi, pins, me, with_);
}

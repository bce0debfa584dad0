/**
 * This browser as one of my devices, for end-to-end encrypted direct messages. Its keys live in
 * this browser's IndexedDB and never leave it; the site only ever sees ciphertext. This module and
 * the crypto behind it load only when messages are used, keeping the first page load small.
 */
import { del, get, set } from 'idb-keyval';
import { enrolDevice, historyFromVault, listDms, safetyNumberWith, sendDm, type DmApi, type DmListResult, type MyDevice, type PinStore } from '@hearth/protocol/dm';
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
}


export async function myDevice(): Promise<MyDevice | undefined> {
  return session.username ? get<MyDevice>(deviceKey(session.username)) : undefined;
}

export interface Conversations extends DmListResult {
  /** How the home vault's history went: not paired, offline (only this browser's own messages), or merged in. */
  vault: 'none' | 'offline' | 'merged';
}

/**
 * What this browser can decrypt itself, plus the history my home vault keeps (sealed end to end
 * through my site), so a new browser sees messages from before it existed.
 */
export async function conversations(me: MyDevice): Promise<Conversations> {
  const own = await listDms(dmApi, pins, me);
  const status = await api<{ paired: boolean; online?: boolean }>('GET', '/api/vault');
  if (!status.paired) return { ...own, vault: 'none' };
  if (!status.online) return { ...own, vault: 'offline' };
  try {
    const history = await historyFromVault(dmApi, me);
    // Keyed by sender, signed send time and text rather than id: a vault paired before messages were
    // kept by their inner id holds them under their envelope id.
    const byId = new Map([...history, ...own.messages].map((m) => [`${m.from}\n${m.sentAt}\n${m.text}`, m]));
    return { messages: [...byId.values()].sort((a, b) => a.sentAt.localeCompare(b.sentAt)), rejected: own.rejected, vault: 'merged' };
  } catch {
    return { ...own, vault: 'offline' };
  }
}

export async function send(me: MyDevice, to: string, text: string): Promise<void> {
  await sendDm(dmApi, pins, me, to, text);
}

export async function safetyNumber(me: MyDevice, with_: string): Promise<string> {
  return safetyNumberWith(dmApi, pins, me, with_);
}

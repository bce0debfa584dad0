/**
 * This browser as one of my devices, for end-to-end encrypted direct messages. Its keys live in
 * this browser's IndexedDB and never leave it; the site only ever sees ciphertext. This module and
 * the crypto behind it load only when messages are used, keeping the first page load small.
 */
import { get, set } from 'idb-keyval';
import { enrolDevice, listDms, safetyNumberWith, sendDm, type DmApi, type DmListResult, type MyDevice, type PinStore } from '@hearth/protocol/dm';
import { api, session } from './api';

const deviceKey = (username: string) => `hearth.device.${location.host}.${username}`;
const pinKey = (address: string) => `hearth.pin.${location.host}.${address}`;

const dmApi: DmApi = {
  get: (path) => api('GET', path),
  post: (path, body) => api('POST', path, body),
  put: (path, body) => api('PUT', path, body),
};

const pins: PinStore = {
  get: (address) => get<string>(pinKey(address)),
  set: (address, key) => set(pinKey(address), key),
};

/** Called right after a login or the first-run setup, while the password is at hand. */
export async function ensureDevice(password: string): Promise<MyDevice> {
  const username = session.username!;
  const existing = await get<MyDevice>(deviceKey(username));
  if (existing) return existing;
  const id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
  const device = await enrolDevice(dmApi, { password, deviceName: `Browser: ${navigator.userAgent.split(') ')[0]?.split(' (')[1] ?? 'web'}`.slice(0, 100), deviceId: id });
  await set(deviceKey(username), device);
  return device;
}

export async function myDevice(): Promise<MyDevice | undefined> {
  return session.username ? get<MyDevice>(deviceKey(session.username)) : undefined;
}

export async function conversations(me: MyDevice): Promise<DmListResult> {
  return listDms(dmApi, pins, me);
}

export async function send(me: MyDevice, to: string, text: string): Promise<void> {
  await sendDm(dmApi, pins, me, to, text);
}

export async function safetyNumber(me: MyDevice, with_: string): Promise<string> {
  return safetyNumberWith(dmApi, pins, me, with_);
}

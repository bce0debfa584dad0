/**
 * Where this browser keeps its device (keys and certificate) for a login, and an early read of it:
 * a small module, so the app opened on Messages can start reading the device while the DM code
 * (device.ts and the crypto behind it) is still loading.
 */
import { get } from 'idb-keyval';
import type { MyDevice } from '@hearth/protocol/dm';

export const deviceKey = (username: string) => `hearth.device.${location.host}.${username}`;

let early: { username: string; read: Promise<MyDevice | undefined> } | undefined;

/** Starts reading the device of `username` now, for `takeDeviceEarly` to pick up. */
export function readDeviceEarly(username: string): void {
  const read = get<MyDevice>(deviceKey(username));
  read.catch(() => undefined); // its taker reads again
  early = { username, read };
}

/** The read `readDeviceEarly` started for `username`, once; undefined when there is none. */
export function takeDeviceEarly(username: string): Promise<MyDevice | undefined> | undefined {
  const taken = early?.username === username ? early.read : undefined;
  early = undefined;
  return taken;
}

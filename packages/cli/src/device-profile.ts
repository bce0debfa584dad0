import type { ApiResponse } from '@hearth/protocol/api';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { enrolDevice, type DeviceSecrets, type SigningKeyPair } from '@hearth/protocol';
import { ApiClient } from './api-client.js';
import { CliError } from './errors.js';

/**
 * A CLI device's profile folder: its own device keys, the person's identity key, the session
 * token, and the identity keys it has pinned for contacts (trust on first use). Files are 0600.
 */
export interface Profile {
  version: 1;
  site: string;
  username: string;
  address: string;
  token: string;
  identity: SigningKeyPair;
  device: DeviceSecrets;
}

const PROFILE_FILE = 'profile.json';
const CONTACTS_FILE = 'contacts.json';

export function loadProfile(dir: string): Profile {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, PROFILE_FILE), 'utf8')) as Profile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`no profile in ${dir}: run "hearth login --profile ${dir} ..." first`);
    throw new CliError(`profile in ${dir} could not be read: ${(error as Error).message}`);
  }
}

function writeSecretFile(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function loadContacts(dir: string): Record<string, string> {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, CONTACTS_FILE), 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

export function saveContacts(dir: string, contacts: Record<string, string>): void {
  writeSecretFile(path.join(dir, CONTACTS_FILE), contacts);
}

/**
 * Logs in and makes this folder a device of the account: new device keys, certified by the
 * identity key. The first device creates the identity key and leaves a backup encrypted
 * under the password; later devices restore the identity from that backup.
 */
export async function login(options: { dir: string; site: string; username: string; password: string }): Promise<Profile> {
  const site = options.site.replace(/\/+$/, '');
  const anon = new ApiClient(site);
  const { token } = await anon.post<ApiResponse<'login'>>('/api/auth/login', { username: options.username, password: options.password });
  const api = anon.withToken(token);
  const me = await api.get<ApiResponse<'me'>>('/api/me');
  let existing: Profile | undefined;
  try {
    existing = loadProfile(options.dir);
  } catch {
    existing = undefined;
  }
  if (existing && existing.address === me.address && existing.site === site) {
    const profile = { ...existing, token };
    writeSecretFile(path.join(options.dir, PROFILE_FILE), profile);
    return profile;
  }
  if (existing) throw new CliError(`${options.dir} already holds the device of ${existing.address}; use another --profile folder`);

  const enrolled = await enrolDevice(api, { password: options.password, deviceName: `CLI on ${osName()}`, deviceId: crypto.randomBytes(12).toString('base64url') });
  const { identity, device } = enrolled;
  const profile: Profile = { version: 1, site, username: me.username, address: me.address, token, identity, device };
  writeSecretFile(path.join(options.dir, PROFILE_FILE), profile);
  return profile;
}

function osName(): string {
  return `${process.platform} (${process.env.HOSTNAME ?? 'host'})`.slice(0, 80);
}

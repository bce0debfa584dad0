import {
  certifiedDevices,
  checkDmSender,
  decryptDm,
  encryptDm,
  fingerprint,
  formatAddress,
  newEnvelopeId,
  parseAddress,
  signDmPlaintext,
  type DeviceRecord,
  type DmCiphertext,
  type PeerKeys,
} from '@hearth/protocol';
import { ApiClient } from './api-client.js';
import { loadContacts, saveContacts, type Profile } from './device-profile.js';
import { CliError } from './errors.js';

interface ProfileDoc {
  address: string;
  identityKey: string | null;
  devices: DeviceRecord[];
}

/**
 * Fetches a person's keys through my own site and checks them against the identity key this
 * device pinned the first time (trust on first use). A changed identity key is refused: the
 * person, or their site, changed it, and only comparing safety numbers can tell which.
 */
export async function peerKeys(api: ApiClient, profileDir: string, profile: Profile, address: string): Promise<PeerKeys> {
  const doc =
    address === profile.address
      ? { address, identityKey: profile.identity.publicKey, devices: (await api.get<ProfileDoc>('/api/me')).devices }
      : await api.get<ProfileDoc>(`/api/lookup?address=${encodeURIComponent(address)}`);
  if (!doc.identityKey) throw new CliError(`${address} has no device for direct messages yet`);
  if (address !== profile.address) {
    const contacts = loadContacts(profileDir);
    const pinned = contacts[address];
    if (pinned && pinned !== doc.identityKey) {
      throw new CliError(
        `the identity key of ${address} has changed (safety number was ${fingerprint(address, pinned)}, now ${fingerprint(address, doc.identityKey)}). ` +
          'Compare safety numbers with them before trusting it; remove the entry from contacts.json to accept the new key.',
      );
    }
    if (!pinned) saveContacts(profileDir, { ...contacts, [address]: doc.identityKey });
  }
  return { address, identityKey: doc.identityKey, devices: doc.devices };
}

export async function sendDm(profileDir: string, profile: Profile, toText: string, text: string): Promise<{ id: string; devices: number }> {
  const to = formatAddress(parseAddress(toText));
  if (to === profile.address) throw new CliError('you cannot send a direct message to yourself');
  if (!text.trim()) throw new CliError('the message is empty');
  const api = new ApiClient(profile.site, profile.token);
  const recipient = await peerKeys(api, profileDir, profile, to);
  const mine = await peerKeys(api, profileDir, profile, profile.address);
  const recipientDevices = certifiedDevices(recipient);
  if (recipientDevices.length === 0) throw new CliError(`${to} has no verified device to receive messages`);
  const targets = [...recipientDevices, ...certifiedDevices(mine).filter((d) => d.id !== profile.device.id), { id: profile.device.id, dhKey: profile.device.dh.publicKey }];
  const plain = signDmPlaintext(profile.device, { id: newEnvelopeId(), from: profile.address, to, sentAt: new Date().toISOString(), text });
  const message = encryptDm(plain, targets);
  const sent = await api.post<{ id: string }>('/api/dms', { to, message });
  return { id: sent.id, devices: targets.length };
}

export interface ListedDm {
  id: string;
  from: string;
  to: string;
  sentAt: string;
  text: string;
}

export interface DmListResult {
  messages: ListedDm[];
  rejected: Array<{ id: string; peer: string; reason: string }>;
}

interface DmItem {
  seq: number;
  id: string;
  direction: 'in' | 'out';
  peer: string;
  message: DmCiphertext;
}

/** Fetches every stored ciphertext for my account, decrypts what was encrypted to this device, and verifies each sender. */
export async function listDms(profileDir: string, profile: Profile, withAddress?: string): Promise<DmListResult> {
  const api = new ApiClient(profile.site, profile.token);
  const only = withAddress ? formatAddress(parseAddress(withAddress)) : undefined;
  const keys = new Map<string, PeerKeys | Error>();
  const keysOf = async (address: string) => {
    if (!keys.has(address)) keys.set(address, await peerKeys(api, profileDir, profile, address).catch((error: Error) => error));
    return keys.get(address)!;
  };
  const result: DmListResult = { messages: [], rejected: [] };
  let after = 0;
  for (;;) {
    const page = await api.get<{ items: DmItem[]; next: number | null }>(`/api/dms?after=${after}&limit=500`);
    for (const item of page.items) {
      if (only && item.peer !== only) continue;
      if (!item.message.recipients.some((r) => r.device === profile.device.id)) continue; // sent before this device existed
      const from = item.direction === 'in' ? item.peer : profile.address;
      const to = item.direction === 'in' ? profile.address : item.peer;
      try {
        const plain = decryptDm(item.message, profile.device);
        const sender = await keysOf(from);
        if (sender instanceof Error) throw sender;
        const problem = checkDmSender(plain, sender, { from, to });
        if (problem) throw new Error(`message ${problem}`);
        result.messages.push({ id: item.id, from, to, sentAt: plain.sentAt, text: plain.text });
      } catch (error) {
        result.rejected.push({ id: item.id, peer: item.peer, reason: (error as Error).message });
      }
    }
    if (page.next === null) break;
    after = page.next;
  }
  result.messages.sort((a, b) => a.sentAt.localeCompare(b.sentAt));
  return result;
}

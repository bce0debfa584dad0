import { historyFromVault, listDms as listWith, sendDm as sendWith, sendDms as sendManyWith, type BatchSendResult, type DmListResult, type MyDevice, type PinStore } from '@hearth/protocol';
import { ApiClient } from './api-client.js';
import { loadContacts, saveContacts, type Profile } from './device-profile.js';

export type { DmListResult, ListedDm } from '@hearth/protocol';

/** Contacts' pinned identity keys live in the profile folder's contacts.json (0600). */
function filePins(profileDir: string): PinStore {
  return {
    get: async (address) => loadContacts(profileDir)[address],
    set: async (address, key) => saveContacts(profileDir, { ...loadContacts(profileDir), [address]: key }),
  };
}

function device(profile: Profile): MyDevice {
  return { address: profile.address, identity: profile.identity, device: profile.device };
}

export function sendDm(profileDir: string, profile: Profile, to: string, text: string): Promise<{ id: string; devices: number }> {
  return sendWith(new ApiClient(profile.site, profile.token), filePins(profileDir), device(profile), to, text);
}

/** Several messages to one person, in batches (see sendDms in @hearth/protocol). */
export function sendDms(profileDir: string, profile: Profile, to: string, texts: string[], onProgress?: (done: number, total: number) => void): Promise<{ devices: number; results: BatchSendResult[] }> {
  return sendManyWith(new ApiClient(profile.site, profile.token), filePins(profileDir), device(profile), to, texts, onProgress);
}

export function listDms(profileDir: string, profile: Profile, withAddress?: string): Promise<DmListResult> {
  return listWith(new ApiClient(profile.site, profile.token), filePins(profileDir), device(profile), withAddress);
}

/** The history kept by my home vault, relayed sealed through my site (see historyFromVault). */
export async function vaultHistory(profile: Profile, withAddress?: string): Promise<Omit<DmListResult, 'lastSeq'>> {
  return { messages: await historyFromVault(new ApiClient(profile.site, profile.token), device(profile), { with: withAddress }), rejected: [] };
}

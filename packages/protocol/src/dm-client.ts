import type { ApiResponse } from './api-contract.js';
import { formatAddress, parseAddress } from './address.js';
import {
  certifiedDevices,
  certifyDevice,
  checkDmSender,
  decryptKeyBackup,
  encryptKeyBackup,
  decryptDm,
  deviceSignedParts,
  encryptDm,
  fingerprint,
  safetyNumber,
  signDmPlaintext,
  type DeviceRecord,
  type DeviceSecrets,
  type DmPlaintext,
  type KeyBackup,
  type PeerKeys,
} from './e2e.js';
import { newEnvelopeId } from './envelope.js';
import { HearthError } from './errors.js';
import { LIMITS } from './limits.js';
import { fromBase64url, toBase64url } from './encoding.js';
import { generateAgreementKeyPair, generateSigningKeyPair, isAcceptableSigningKey, signingPublicKey, type SigningKeyPair } from './keys.js';
import type { DmCiphertext } from './messages.js';
import { HistoryResponseSchema, openFromDevice, sealForDevice, type HistoryRequest } from './vault.js';
import { preparedVerify, preparedX25519, type BatchCrypto, type SignatureCheck } from './batch-crypto.js';

/**
 * The device side of direct messages, shared by every device (CLI, browser): look up keys
 * through my own site, pin each contact's identity key on first use, encrypt to every certified
 * device, decrypt and verify what arrives. Pure logic: the two kinds of I/O it needs are passed in.
 */
export interface DmApi {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  put<T>(path: string, body: unknown): Promise<T>;
}

/** Where a device remembers contacts' identity keys (a file for the CLI, IndexedDB in a browser). */
export interface PinStore {
  get(address: string): Promise<string | undefined>;
  set(address: string, identityKey: string): Promise<void>;
}

export interface MyDevice {
  address: string;
  identity: SigningKeyPair;
  device: DeviceSecrets;
}

export class DmError extends HearthError {
  constructor(code: string, message: string) {
    super(code, message, { status: 400 });
  }
}

interface ProfileDoc {
  address: string;
  identityKey: string | null;
  devices: DeviceRecord[];
}

export async function peerKeys(api: DmApi, pins: PinStore, me: MyDevice, address: string): Promise<PeerKeys> {
  const doc = address === me.address ? { ...(await api.get<ProfileDoc>('/api/me')), identityKey: me.identity.publicKey } : await api.get<ProfileDoc>(`/api/lookup?address=${encodeURIComponent(address)}`);
  if (!doc.identityKey) throw new DmError('no_devices', `${address} has no device for direct messages yet`);
  // A small-order key would "verify" certificates it never made (PROTOCOL.md §3).
  if (!isAcceptableSigningKey(doc.identityKey)) throw new DmError('invalid_key', `${address} publishes an identity key that is not an acceptable Ed25519 key`);
  if (address !== me.address) {
    const pinned = await pins.get(address);
    if (pinned && pinned !== doc.identityKey) {
      throw new DmError(
        'identity_changed',
        `the identity key of ${address} has changed (safety number was ${fingerprint(address, pinned)}, now ${fingerprint(address, doc.identityKey)}). ` +
          'Compare safety numbers with them before trusting it.',
      );
    }
    if (!pinned) await pins.set(address, doc.identityKey);
  }
  return { address, identityKey: doc.identityKey, devices: doc.devices.filter((d) => isAcceptableSigningKey(d.signKey)) };
}

/** The safety number of my conversation with `address` (both fingerprints), to compare out of band. */
export async function safetyNumberWith(api: DmApi, pins: PinStore, me: MyDevice, address: string): Promise<string> {
  const peer = await peerKeys(api, pins, me, address);
  return safetyNumber({ address: me.address, identityKey: me.identity.publicKey }, { address: peer.address, identityKey: peer.identityKey });
}

export async function sendDm(api: DmApi, pins: PinStore, me: MyDevice, toText: string, text: string): Promise<{ id: string; devices: number }> {
  const { to, targets } = await sealingFor(api, pins, me, toText, [text]);
  const sent = await api.post<ApiResponse<'sendDm'>>('/api/dms', { to, message: sealDm(me, to, targets, text) });
  return { id: sent.id, devices: targets.length };
}

/** One message of `sendDms`: sent (with its id) or refused by my site (with why). */
export type BatchSendResult = { text: string; id: string } | { text: string; error: { code: string; message: string } };

/**
 * Sends several messages to one person, in as few requests as the batch limits allow
 * (`POST /api/dms/batch`): what a script or a device with messages waiting would send. Each is
 * sealed and signed on its own, as `sendDm` seals one; `onProgress` is told after each request.
 */
export async function sendDms(
  api: DmApi,
  pins: PinStore,
  me: MyDevice,
  toText: string,
  texts: string[],
  onProgress?: (done: number, total: number) => void,
): Promise<{ devices: number; results: BatchSendResult[] }> {
  const { to, targets } = await sealingFor(api, pins, me, toText, texts);
  const results: BatchSendResult[] = [];
  for (const batch of dmBatches(texts.map((text) => ({ text, message: sealDm(me, to, targets, text) })))) {
    const answer = await api.post<ApiResponse<'sendDms'>>('/api/dms/batch', { messages: batch.map((m) => ({ to, message: m.message })) });
    answer.items.forEach((item, i) => results.push('id' in item ? { text: batch[i]!.text, id: item.id } : { text: batch[i]!.text, error: item.error }));
    onProgress?.(results.length, texts.length);
  }
  return { devices: targets.length, results };
}

/** Splits sealed messages into requests within LIMITS.dmBatch messages and LIMITS.dmBatchBytes bytes. */
export function dmBatches<T extends { message: DmCiphertext }>(messages: T[]): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  // Room for the request's own JSON around the messages (the address, brackets, commas).
  const budget = LIMITS.dmBatchBytes - 4096;
  for (const m of messages) {
    const size = JSON.stringify(m.message).length + 400;
    if (current.length > 0 && (current.length === LIMITS.dmBatch || bytes + size > budget)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Checks a send before anything is sealed, and finds the devices to seal for: the recipient's and my own. */
async function sealingFor(api: DmApi, pins: PinStore, me: MyDevice, toText: string, texts: string[]): Promise<{ to: string; targets: Array<{ id: string; dhKey: string }> }> {
  const to = formatAddress(parseAddress(toText));
  if (to === me.address) throw new DmError('dm_to_self', 'you cannot send a direct message to yourself');
  if (texts.length === 0 || texts.some((text) => !text.trim())) throw new DmError('empty_message', 'the message is empty');
  const recipient = await peerKeys(api, pins, me, to);
  const mine = await peerKeys(api, pins, me, me.address);
  const recipientDevices = certifiedDevices(recipient);
  if (recipientDevices.length === 0) throw new DmError('no_devices', `${to} has no verified device to receive messages`);
  return { to, targets: [...recipientDevices, ...certifiedDevices(mine).filter((d) => d.id !== me.device.id), { id: me.device.id, dhKey: me.device.dh.publicKey }] };
}

function sealDm(me: MyDevice, to: string, targets: Array<{ id: string; dhKey: string }>, text: string): DmCiphertext {
  return encryptDm(signDmPlaintext(me.device, { id: newEnvelopeId(), from: me.address, to, sentAt: new Date().toISOString(), text }), targets);
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
  /** The site's sequence number of the last stored message read: ask `after` it next time for only what is new. */
  lastSeq: number;
}

export interface ListDmsOptions {
  /** Only the messages stored after this sequence number (a page that has the rest already). */
  after?: number;
  /**
   * People's keys already looked up (kept by the caller between calls, so a new message does not
   * mean a lookup across sites). A message from a device these do not know looks its sender up again.
   */
  keys?: Map<string, PeerKeys | Error>;
  /** Faster crypto for a whole page at once where the runtime has it (a browser's WebCrypto). */
  batch?: BatchCrypto;
}

// A person's certified devices, checked once per lookup rather than once per message.
const certified = new WeakMap<PeerKeys, DeviceRecord[]>();
function certifiedOnce(peer: PeerKeys): DeviceRecord[] {
  let devices = certified.get(peer);
  if (!devices) certified.set(peer, (devices = certifiedDevices(peer)));
  return devices;
}

/** What checkDmSender will verify for this message, when its device is certified. */
function signatureCheck(plain: DmPlaintext, sender: PeerKeys): SignatureCheck | undefined {
  const device = certifiedOnce(sender).find((d) => d.id === plain.fromDevice);
  if (!device) return undefined;
  try {
    return { ...deviceSignedParts(plain), publicKey: device.signKey };
  } catch {
    return undefined;
  }
}

interface DmItem {
  seq: number;
  id: string;
  direction: 'in' | 'out';
  peer: string;
  message: DmCiphertext;
}

/** Every stored ciphertext for my account that was encrypted to this device, decrypted and verified, oldest first. */
export async function listDms(api: DmApi, pins: PinStore, me: MyDevice, withAddress?: string, options: ListDmsOptions = {}): Promise<DmListResult> {
  const only = withAddress ? formatAddress(parseAddress(withAddress)) : undefined;
  const keys = options.keys ?? new Map<string, PeerKeys | Error>();
  const fresh = new Set<string>();
  const keysOf = async (address: string, refresh = false) => {
    // Looked up again: on request (once per call), and when an earlier call could not (an error is not kept).
    if (!keys.has(address) || (!fresh.has(address) && (refresh || keys.get(address) instanceof Error))) {
      fresh.add(address);
      keys.set(address, await peerKeys(api, pins, me, address).catch((error: Error) => error));
    }
    return keys.get(address)!;
  };
  let after = options.after ?? 0;
  const result: DmListResult = { messages: [], rejected: [], lastSeq: after };
  // A message is known by its own id, inside the signed plaintext; a backend that replays it in
  // another envelope cannot make it show twice.
  const shown = new Set<string>();
  const reject = (item: DmItem, error: unknown) => result.rejected.push({ id: item.id, peer: item.peer, reason: (error as Error).message });
  for (;;) {
    const page = await api.get<{ items: DmItem[]; next: number | null }>(`/api/dms?after=${after}&limit=500`);
    const items = page.items.filter((item) => {
      result.lastSeq = Math.max(result.lastSeq, item.seq);
      if (only && item.peer !== only) return false;
      return item.message.recipients.some((r) => r.device === me.device.id); // not: sent before this device existed
    });
    // The page's agreements at once, where the runtime can (BatchCrypto); @noble otherwise.
    const x = options.batch
      ? preparedX25519(await options.batch.sharedSecrets(fromBase64url(me.device.dh.secretKey), fromBase64url(me.device.dh.publicKey), items.map((item) => item.message.ephemeralKey)))
      : undefined;
    const opened: Array<{ item: DmItem; plain: DmPlaintext; sender: PeerKeys; from: string; to: string }> = [];
    for (const item of items) {
      const from = item.direction === 'in' ? item.peer : me.address;
      const to = item.direction === 'in' ? me.address : item.peer;
      try {
        const plain = decryptDm(item.message, me.device, x);
        let sender = await keysOf(from);
        // Keys kept from before may lack a device added since: look the sender up once more.
        if (!(sender instanceof Error) && !sender.devices.some((d) => d.id === plain.fromDevice)) sender = await keysOf(from, true);
        if (sender instanceof Error) throw sender;
        opened.push({ item, plain, sender, from, to });
      } catch (error) {
        reject(item, error);
      }
    }
    // The same for the signatures: each message's check is prepared for exactly its bytes.
    const checks = options.batch ? opened.map(({ plain, sender }) => signatureCheck(plain, sender)) : [];
    const passed = options.batch ? await options.batch.verifyAll(checks.filter((c): c is SignatureCheck => c !== undefined)) : [];
    let at = 0;
    opened.forEach(({ item, plain, sender, from, to }, i) => {
      const check = checks[i];
      const verify = check ? preparedVerify({ ...check, ok: passed[at++]! }) : undefined;
      const problem = checkDmSender(plain, sender, { from, to }, verify, certifiedOnce(sender));
      if (problem) return reject(item, new Error(`message ${problem}`));
      if (shown.has(plain.id)) return;
      shown.add(plain.id);
      result.messages.push({ id: plain.id, from, to, sentAt: plain.sentAt, text: plain.text });
    });
    if (page.next === null) break;
    after = page.next;
  }
  result.messages.sort(bySentAt);
  return result;
}

/**
 * Makes this device one of the account's devices, right after a login (while the password is at
 * hand): new device keys, certified by the identity key. The account's first device creates the
 * identity key and leaves a backup encrypted under the password; later devices restore it.
 */
export async function enrolDevice(api: DmApi, options: { password: string; deviceName: string; deviceId: string }): Promise<MyDevice> {
  const me = await api.get<ApiResponse<'me'>>('/api/me');
  let identity: SigningKeyPair;
  if (me.identityKey) {
    const { backup } = await api.get<ApiResponse<'keyBackup'>>('/api/key-backup').catch(() => {
      throw new DmError('no_key_backup', 'this account has an identity key but no key backup on its site: add this device from one that has the key');
    });
    const secret = toBase64url(decryptKeyBackup(backup, options.password));
    identity = { secretKey: secret, publicKey: signingPublicKey(secret) };
    if (identity.publicKey !== me.identityKey) throw new DmError('backup_mismatch', 'the key backup does not match the account identity key');
  } else {
    identity = generateSigningKeyPair();
    await api.put('/api/key-backup', { backup: encryptKeyBackup(fromBase64url(identity.secretKey), options.password) });
  }
  const device: DeviceSecrets = { id: options.deviceId, sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
  const record = certifyDevice(identity, me.address, { id: device.id, signKey: device.sign.publicKey, dhKey: device.dh.publicKey });
  await api.post('/api/devices', { ...record, name: options.deviceName, identityKey: identity.publicKey });
  return { address: me.address, identity, device };
}

/**
 * My history as my home vault keeps it, fetched through my site: each page is asked for in a
 * request sealed to the vault's device key and signed by this device, and comes back sealed to
 * this device and signed by the vault, whose certificate this device checks under my identity
 * key. The site relays both and reads neither. A new device gets the old messages this way.
 */
export async function historyFromVault(api: DmApi, me: MyDevice, options: { with?: string } = {}): Promise<ListedDm[]> {
  return (await vaultHistory(api, me, options)).messages;
}

export interface VaultHistory {
  messages: ListedDm[];
  /** The vault that answered (a newly paired vault numbers its messages afresh). */
  vaultId: string;
  /** The vault's sequence number of the last message read: ask `after` it for only what is new. */
  lastSeq: number;
}

/** The vault's history after its sequence number `after` (all of it by default), oldest first. */
export async function vaultHistory(api: DmApi, me: MyDevice, options: { with?: string; after?: number; vaultId?: string } = {}): Promise<VaultHistory> {
  const status = await api.get<ApiResponse<'vault'>>('/api/vault');
  if (!status.paired) throw new DmError('no_vault', 'you have no home vault paired: pair one first (hearth vault pair)');
  const mine = await api.get<ProfileDoc>('/api/me');
  const vault = certifiedDevices({ address: me.address, identityKey: me.identity.publicKey, devices: mine.devices }).find((d) => d.id === status.deviceId);
  if (!vault) throw new DmError('vault_not_certified', 'the vault your site names is not certified by your identity key');
  const withAddress = options.with === undefined ? undefined : formatAddress(parseAddress(options.with));
  const messages: ListedDm[] = [];
  // A place in another vault's numbering means nothing to this one.
  let after = options.vaultId === undefined || options.vaultId === vault.id ? (options.after ?? 0) : 0;
  let lastSeq = after;
  for (;;) {
    const rid = newEnvelopeId();
    const request: HistoryRequest = { kind: 'history', after, limit: 200, ...(withAddress ? { with: withAddress } : {}) };
    const { sealed } = await api.post<ApiResponse<'vaultRequest'>>('/api/vault/request', { sealed: sealForDevice(me.device, vault, rid, request) });
    const page = openFromDevice(sealed, me.device, HistoryResponseSchema, (id) => (id === vault.id ? vault.signKey : undefined));
    if (page.rid !== rid) throw new DmError('vault_mismatch', 'the vault answered another request');
    for (const { seq, ...message } of page.body.messages) {
      messages.push(message);
      lastSeq = Math.max(lastSeq, seq);
    }
    if (page.body.next === null) break;
    after = page.body.next;
  }
  return { messages: messages.sort(bySentAt), vaultId: vault.id, lastSeq };
}

/** Oldest first. Send times are ISO 8601 in UTC, whose text order is time order (no locale collation). */
export function bySentAt(a: { sentAt: string }, b: { sentAt: string }): number {
  return a.sentAt < b.sentAt ? -1 : a.sentAt > b.sentAt ? 1 : 0;
}

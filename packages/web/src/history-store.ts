/**
 * This browser's copy of my decrypted conversations, kept in IndexedDB so that Messages opens at
 * once after a reload instead of fetching and decrypting everything again.
 *
 * Encrypted at rest: AES-GCM (the browser's WebCrypto) under a key made in this browser as
 * non-extractable, so no script, ours included, can read it out; it can only be used here. It is
 * bound to one login on one device (the "scope"), and goes at logout with the device's own keys.
 *
 * Stored as chunks, each one the messages one read brought plus the stretch of the site's (and the
 * vault's) numbering it covers. Adding a chunk is a single put, never a read-modify-write, so two
 * tabs cannot lose each other's; folding chunks into one deletes only the chunks that were read.
 * A stretch is trusted only where the chunks join up from the start (`covered`), so a chunk that
 * is missing for whatever reason means those messages are fetched again, never silently skipped.
 */
import { createStore, delMany, get, keys as storedNames, promisifyRequest, set, type UseStore } from 'idb-keyval';
import type { DmListResult, ListedDm, PeerKeys } from '@hearth/protocol/dm';

/** How long people's keys read from a stored history are used before they are looked up again. */
export const KEYS_KEPT_MS = 60 * 60 * 1000;
/** More chunks than this are folded into one when the history is next opened or written. */
export const MAX_CHUNKS = 16;

/** A stretch of a numbering: the messages after `from` up to and including `to`. */
export interface Stretch {
  from: number;
  to: number;
}

export interface HistoryChunk {
  messages: ListedDm[];
  rejected: DmListResult['rejected'];
  /** The stretch of the site's DM numbering these messages are all of. */
  site?: Stretch;
  /** The same for the home vault's numbering, with the vault it belongs to. */
  vault?: Stretch & { id: string };
  /** People's keys as looked up, with when (ms since the epoch). */
  keys: Array<{ address: string; keys: PeerKeys; at: number }>;
}

export interface StoredHistory {
  /** Deduplicated, oldest first. */
  messages: ListedDm[];
  rejected: DmListResult['rejected'];
  /** Every message of the site's numbering up to here is in `messages` (0: none). */
  siteSeq: number;
  /** The same for the vault, when one was read. */
  vault?: { id: string; seq: number };
  keys: HistoryChunk['keys'];
}

/**
 * Oldest first, as the DM client sorts (ISO 8601 times in UTC: text order is time order). Kept
 * here rather than imported, so that this module loads without the DM crypto: the app reads the
 * kept history while that larger code is still loading (see `readEarly`).
 */
export const bySentAt = (a: ListedDm, b: ListedDm) => (a.sentAt < b.sentAt ? -1 : a.sentAt > b.sentAt ? 1 : 0);

/** One message's identity across sources: a vault may hold a message under another id. */
export const messageKey = (m: ListedDm) => `${m.from}\n${m.sentAt}\n${m.text}`;

/** How far stretches join up from `start`: the end of the run of stretches that touch it. */
export function covered(stretches: Stretch[], start = 0): number {
  let reach = start;
  for (const s of [...stretches].sort((a, b) => a.from - b.from)) {
    if (s.from > reach) break;
    reach = Math.max(reach, s.to);
  }
  return reach;
}

/** Chunks (in the order they were written) as one history. Pure. */
export function mergeChunks(chunks: HistoryChunk[], now = Date.now()): StoredHistory {
  const byKey = new Map<string, ListedDm>();
  const rejected = new Map<string, DmListResult['rejected'][number]>();
  const keys = new Map<string, HistoryChunk['keys'][number]>();
  for (const chunk of chunks) {
    for (const m of chunk.messages) byKey.set(messageKey(m), m);
    for (const r of chunk.rejected) rejected.set(r.id, r);
    for (const k of chunk.keys) if (now - k.at < KEYS_KEPT_MS && k.at >= (keys.get(k.address)?.at ?? 0)) keys.set(k.address, k);
  }
  // The vault last written about is the one paired now, as far as this history knows.
  const vaultId = chunks.findLast((c) => c.vault)?.vault?.id;
  const vaultStretches = chunks.flatMap((c) => (c.vault && c.vault.id === vaultId ? [c.vault] : []));
  return {
    messages: [...byKey.values()].sort(bySentAt),
    rejected: [...rejected.values()],
    siteSeq: covered(chunks.flatMap((c) => (c.site ? [c.site] : []))),
    ...(vaultId ? { vault: { id: vaultId, seq: covered(vaultStretches) } } : {}),
    keys: [...keys.values()],
  };
}

/** A whole history as the one chunk that stands for all of it. */
export function asChunk(history: StoredHistory): HistoryChunk {
  return {
    messages: history.messages,
    rejected: history.rejected,
    site: { from: 0, to: history.siteSeq },
    ...(history.vault ? { vault: { id: history.vault.id, from: 0, to: history.vault.seq } } : {}),
    keys: history.keys,
  };
}

interface SealedChunk {
  iv: Uint8Array<ArrayBuffer>;
  data: ArrayBuffer;
}

/** AES-GCM with a fresh 96-bit IV per chunk; the scope is bound in as additional data. */
export async function sealChunk(key: CryptoKey, scope: string, chunk: HistoryChunk): Promise<SealedChunk> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(scope) }, key, new TextEncoder().encode(JSON.stringify(chunk)));
  return { iv, data };
}

/** The chunk, or undefined when it does not open under this key and scope (tampered with, or another login's). */
export async function openChunk(key: CryptoKey, scope: string, sealed: SealedChunk): Promise<HistoryChunk | undefined> {
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv, additionalData: new TextEncoder().encode(scope) }, key, sealed.data);
    return JSON.parse(new TextDecoder().decode(plain)) as HistoryChunk;
  } catch {
    return undefined;
  }
}

export function newHistoryKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

// Chunks are kept under [scope, time, random]: one login's chunks are one key range, in writing order.
let chunkStore: UseStore | undefined;
const chunks = () => (chunkStore ??= createStore('hearth-history', 'chunks'));
const scopeRange = (scope: string) => IDBKeyRange.bound([scope], [scope, []]);
const atRestKeyName = (scope: string) => `hearth.historyKey.${scope}`;

/** The stored history of one login on this device. */
export class HistoryStore {
  private written = 0;

  private constructor(
    readonly scope: string,
    private readonly key: CryptoKey,
  ) {}

  /**
   * Opens (or starts) the history of `scope`, making its at-rest key on first use, and reads what
   * is kept: everything, merged. Chunks that do not open are dropped (their messages are fetched again).
   */
  static async open(scope: string): Promise<{ store: HistoryStore; kept: StoredHistory | undefined }> {
    // The key and the chunks are in two databases: both are read at once.
    const rows = chunks()('readonly', (store) => Promise.all([promisifyRequest(store.getAllKeys(scopeRange(scope))), promisifyRequest(store.getAll(scopeRange(scope)) as IDBRequest<SealedChunk[]>)]));
    let key = await get<CryptoKey>(atRestKeyName(scope));
    if (!key) {
      key = await newHistoryKey();
      await set(atRestKeyName(scope), key);
    }
    const store = new HistoryStore(scope, key);
    const [keys, values] = await rows;
    if (keys.length === 0) return { store, kept: undefined };
    const opened = await Promise.all(values.map((v) => openChunk(key, scope, v)));
    const kept = mergeChunks(opened.filter((c): c is HistoryChunk => c !== undefined));
    // Folded after the page has what it needs; a chunk another tab adds meanwhile is not touched.
    if (keys.length > MAX_CHUNKS || opened.includes(undefined)) void store.replace(keys, kept).catch(() => undefined);
    return { store, kept };
  }

  /** Adds what one read brought; `whole` gives the full history when it is time to fold the chunks. */
  async add(chunk: HistoryChunk, whole: () => StoredHistory): Promise<void> {
    const sealed = await sealChunk(this.key, this.scope, chunk);
    await chunks()('readwrite', (store) => promisifyRequest(store.put(sealed, this.newChunkKey())));
    if (++this.written >= MAX_CHUNKS) {
      this.written = 0;
      // Folds only the chunks there are now, read in one transaction: one another tab adds meanwhile stays.
      const present = await chunks()('readonly', (store) => promisifyRequest(store.getAllKeys(scopeRange(this.scope))));
      const folded = mergeChunks([...(await this.openAll(present)), asChunk(whole())]);
      await this.replace(present, folded);
    }
  }

  private async openAll(keys: IDBValidKey[]): Promise<HistoryChunk[]> {
    const values = await chunks()('readonly', (store) => Promise.all(keys.map((k) => promisifyRequest(store.get(k) as IDBRequest<SealedChunk | undefined>))));
    const opened = await Promise.all(values.map((v) => (v ? openChunk(this.key, this.scope, v) : undefined)));
    return opened.filter((c): c is HistoryChunk => c !== undefined);
  }

  /** One chunk for all of `history` in place of the chunks `keys`, in one transaction. */
  private async replace(keys: IDBValidKey[], history: StoredHistory): Promise<void> {
    const sealed = await sealChunk(this.key, this.scope, asChunk(history));
    await chunks()('readwrite', (store) => {
      for (const k of keys) store.delete(k);
      store.put(sealed, this.newChunkKey());
      return promisifyRequest(store.transaction);
    });
  }

  private newChunkKey(): IDBValidKey {
    return [this.scope, Date.now(), crypto.getRandomValues(new Uint32Array(1))[0]!];
  }
}

let early: { scope: string; opened: ReturnType<typeof HistoryStore.open> } | undefined;

/** Starts reading the history of `scope` now, for `takeEarly` to pick up (the app, opened on Messages). */
export function readEarly(scope: string): void {
  if (early?.scope === scope) return;
  const opened = HistoryStore.open(scope);
  opened.catch(() => undefined); // its taker opens again
  early = { scope, opened };
}

/** The read `readEarly` started for `scope`, once; undefined when there is none. */
export function takeEarly(scope: string): ReturnType<typeof HistoryStore.open> | undefined {
  const taken = early?.scope === scope ? early.opened : undefined;
  early = undefined;
  return taken;
}

/** The scope of one login on one device: its history is nobody else's. */
export const historyScope = (host: string, username: string, deviceId: string) => `${host}\n${username}\n${deviceId}`;

/** At logout: every stored history of `username` on this site leaves this browser, with its keys. */
export async function forgetHistories(host: string, username: string): Promise<void> {
  const prefix = historyScope(host, username, '');
  await chunks()('readwrite', (store) => promisifyRequest(store.delete(IDBKeyRange.bound([prefix], [`${prefix}\uffff`, []]))));
  const names = (await storedNames<string>()).filter((k) => typeof k === 'string' && k.startsWith(atRestKeyName(prefix)));
  await delMany(names);
}

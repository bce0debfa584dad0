import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * An answer read once per transaction and kept for the rest of it: a group commit runs a hundred
 * DMs in one transaction (storage/commit-batcher.ts), and each asked the same question again (the
 * sender's current site key, whether the user has a vault, whether the sender is muted). Inside
 * one transaction the answer cannot change unless that transaction changes it, and the callers
 * below never do. Outside a transaction nothing is kept: every call reads again, as before.
 */
export function perTransaction<A, V>(key: (args: A) => string, read: (executor: Kysely<Database>, args: A) => Promise<V>): (executor: Kysely<Database>, args: A) => Promise<V> {
  // Keyed by the transaction object, which Kysely makes anew for each transaction: the entries go
  // with it once it is done.
  const answers = new WeakMap<Kysely<Database>, Map<string, Promise<V>>>();
  return (executor, args) => {
    if (!executor.isTransaction) return read(executor, args);
    let known = answers.get(executor);
    if (!known) answers.set(executor, (known = new Map()));
    const k = key(args);
    let answer = known.get(k);
    if (!answer) {
      answer = read(executor, args);
      known.set(k, answer);
      // A failed read is not kept: the transaction fails with it anyway, and nothing should reuse it.
      answer.catch(() => known!.delete(k));
    }
    return answer;
  };
}

/**
 * Whether a key comes up for the first time in this transaction: true once per transaction and
 * key, and every time outside a transaction. For what a burst should do once (one notification
 * for the DMs that arrive together).
 */
export function firstInTransaction(): (executor: Kysely<Database>, key: string) => boolean {
  const seen = new WeakMap<Kysely<Database>, Set<string>>();
  return (executor, key) => {
    if (!executor.isTransaction) return true;
    let keys = seen.get(executor);
    if (!keys) seen.set(executor, (keys = new Set()));
    if (keys.has(key)) return false;
    keys.add(key);
    return true;
  };
}

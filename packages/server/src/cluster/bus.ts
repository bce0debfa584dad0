/**
 * What instances of one site share besides the database (docs/SCALING.md): a message bus that
 * only wakes and routes. Nothing is kept in it: the database is the source of truth, so a bus
 * that restarts loses nothing, and every instance falls back to what it holds itself.
 * Subjects are relative to the site (`live.alice`); the implementation scopes them.
 */
export interface ClusterBus {
  /** Fire and forget, to every instance subscribed (this one included). */
  publish(subject: string, data: unknown): void;
  /** `subject` may end in `*` (one token). Returns the unsubscribe. */
  subscribe(subject: string, handler: (data: unknown, subject: string) => void): () => void;
  /** Asks whichever instance answers `subject`; rejects with NoResponderError when none does. */
  request(subject: string, data: unknown, timeoutMs: number): Promise<unknown>;
  /** Answers requests on `subject` (one instance at a time should). Returns the unsubscribe. */
  respond(subject: string, answer: (data: unknown) => Promise<unknown>): () => void;
  /** For /healthz: is the bus reachable now. */
  state(): 'connected' | 'reconnecting' | 'closed';
  close(): Promise<void>;
}

/** No instance answers the request (the vault is not linked anywhere, say). */
export class NoResponderError extends Error {}

import { lazy, Suspense, useCallback, useEffect, useState } from 'react';
import { session } from './api';
import { useLiveEvents, type LiveEvent } from './live';

/** The call screen and WebRTC code load only when a call starts or rings. */
const CallScreen = lazy(() => import('./call').then((m) => ({ default: m.CallScreen })));
const openers = new Set<() => void>();

/**
 * Loads the call code and what a call needs (calls.warmUp) while the browser is idle, so a click
 * on "Call" or a ring does not wait for them. `peer`: the person whose conversation is open.
 */
export function warmUpCalls(peer?: string): Promise<void> {
  return new Promise((resolve) => {
    const run = () =>
      import('./call')
        .then(({ calls }) => calls.warmUp(peer))
        .catch(() => undefined) // only ahead of time: a call fetches whatever this could not
        .finally(resolve);
    if ('requestIdleCallback' in window) window.requestIdleCallback(run, { timeout: 2_000 });
    else setTimeout(run, 500);
  });
}

/** Starts a call from anywhere in the app. */
export async function startCall(peer: string, video: boolean): Promise<void> {
  const { calls } = await import('./call');
  for (const open of openers) open();
  await calls.start(peer, video);
}

/** On every page: hears rings from my site's live events and shows the call screen. */
export function CallManager() {
  const [open, setOpen] = useState(false);
  // Once warmed up, the (empty) call screen is mounted: React shows a lazy component only after
  // it first suspends and reveals it up to 300 ms later, which a ring must not wait for.
  useEffect(() => {
    if (session.token) void warmUpCalls().then(() => setOpen(true));
  }, []);
  useEffect(() => {
    const show = () => setOpen(true);
    openers.add(show);
    return () => void openers.delete(show);
  }, []);
  useLiveEvents(
    useCallback((event: LiveEvent) => {
      if (event.type !== 'call' || !event.from || !event.callId) return;
      const ring = { from: event.from, callId: event.callId, sealed: event.sealed as never };
      void import('./call')
        .then(({ calls }) => {
          setOpen(true);
          return calls.receive(ring);
        })
        .catch((error: unknown) => console.warn('call signal dropped:', (error as Error).message)); // one that does not open or verify
    }, []),
  );
  if (!open || !session.token) return null;
  return (
    <Suspense fallback={null}>
      <CallScreen />
    </Suspense>
  );
}

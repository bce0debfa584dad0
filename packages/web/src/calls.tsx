import { useCallback, useEffect, useState, type ComponentType } from 'react';
import { session } from './api';
import { useLiveEvents, type LiveEvent } from './live';

/**
 * The call screen and WebRTC code load only when a call starts or rings. The screen is held as a
 * plain component once its code is in, not as React.lazy: a lazy component suspends at its first
 * render even when its code has loaded, and React then reveals it up to 300 ms later. A ring that
 * came before the idle-time warm-up mounted it waited that long for its "Answer" button (35-155 ms
 * in 7 of 10 calls of the bench).
 */
type Screen = ComponentType;
const openers = new Set<(screen: Screen) => void>();

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

/** Starts a call from anywhere in the app. Its setup time counts from here: the click. */
export async function startCall(peer: string, video: boolean): Promise<void> {
  const clickedAt = performance.now();
  const { calls, CallScreen } = await import('./call');
  for (const open of openers) open(CallScreen);
  await calls.start(peer, video, clickedAt);
}

/** On every page: hears rings from my site's live events and shows the call screen. */
export function CallManager() {
  const [Screen, setScreen] = useState<Screen>();
  // The setter's function form: a component is a function, which useState would call.
  const show = useCallback((screen: Screen) => setScreen(() => screen), []);
  // Once warmed up, the (empty) call screen is mounted, ready for a ring.
  useEffect(() => {
    if (session.token) void warmUpCalls().then(() => import('./call').then((m) => show(m.CallScreen)));
  }, [show]);
  useEffect(() => {
    openers.add(show);
    return () => void openers.delete(show);
  }, [show]);
  useLiveEvents(
    useCallback(
      (event: LiveEvent) => {
        if (event.type !== 'call' || !event.from || !event.callId) return;
        const ring = { from: event.from, callId: event.callId, sealed: event.sealed as never };
        void import('./call')
          .then(({ calls, CallScreen }) => {
            show(CallScreen);
            return calls.receive(ring);
          })
          .catch((error: unknown) => console.warn('call signal dropped:', (error as Error).message)); // one that does not open or verify
      },
      [show],
    ),
  );
  if (!Screen || !session.token) return null;
  return <Screen />;
}

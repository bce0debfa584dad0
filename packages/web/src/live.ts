import { useEffect, useState } from 'react';
import type { LiveEvent } from '@hearth/protocol/api';
import { BACKEND, session } from './api';

export type { LiveEvent };

type Listener = (event: LiveEvent) => void;

/**
 * One live socket for the whole app (/api/live): every page, the call manager and the nav's
 * unread badge subscribe to it. The token goes in the first message, not the URL, so it never
 * lands in a log. It reconnects with backoff; its state drives the "offline" notice.
 */
class LiveConnection {
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<(online: boolean) => void>();
  private socket: WebSocket | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  online = true;

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    this.open();
    return () => {
      this.listeners.delete(listener);
    };
  }

  onState(listener: (online: boolean) => void): () => void {
    this.stateListeners.add(listener);
    return () => void this.stateListeners.delete(listener);
  }

  /** At logout: nothing more for this browser. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    socket?.close();
    this.setOnline(true);
  }

  private open(): void {
    if (this.socket || this.timer || !session.token) return;
    const origin = BACKEND ? new URL(BACKEND) : location;
    const socket = new WebSocket(`${origin.protocol === 'https:' ? 'wss' : 'ws'}://${origin.host}/api/live`);
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ token: session.token }));
    socket.onmessage = (message) => {
      let event: LiveEvent;
      try {
        event = JSON.parse(String(message.data)) as LiveEvent;
      } catch {
        return; // a malformed event: ignore it
      }
      if (event.type === 'ready') {
        this.attempt = 0;
        this.setOnline(true);
      }
      for (const listener of this.listeners) listener(event);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return; // closed on purpose
      this.socket = undefined;
      // A first failure may be a blip: say "offline" from the second one on.
      if (this.attempt >= 1) this.setOnline(false);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.open();
      }, Math.min(30_000, 500 * 2 ** this.attempt++));
    };
  }

  private setOnline(online: boolean): void {
    if (this.online === online) return;
    this.online = online;
    for (const listener of this.stateListeners) listener(online);
  }
}

export const live = new LiveConnection();

/** Calls `onEvent` for each live event while the component is mounted. Pass a stable callback. */
export function useLiveEvents(onEvent: Listener): void {
  useEffect(() => live.subscribe(onEvent), [onEvent]);
}

/** Whether my site answers on the live socket (false after it failed to reconnect). */
export function useSiteOnline(): boolean {
  const [online, setOnline] = useState(live.online);
  useEffect(() => live.onState(setOnline), []);
  return online;
}

import { useEffect } from 'react';
import { BACKEND, session } from './api';

export interface LiveEvent {
  type: 'feed' | 'notification' | 'call';
  kind?: string;
  /** call: who, which call, and the sealed signal (opened by the call module). */
  from?: string;
  callId?: string;
  sealed?: unknown;
}

/**
 * Live events from my own site over a WebSocket: new posts in my feed, new notifications.
 * The token goes in the first message, not the URL, so it never lands in a log. Reconnects with backoff.
 */
export function useLiveEvents(onEvent: (event: LiveEvent) => void): void {
  useEffect(() => {
    if (!session.token) return;
    let socket: WebSocket | undefined;
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      const origin = BACKEND ? new URL(BACKEND) : location;
      const url = `${origin.protocol === 'https:' ? 'wss' : 'ws'}://${origin.host}/api/live`;
      socket = new WebSocket(url);
      socket.onopen = () => {
        attempt = 0;
        socket?.send(JSON.stringify({ token: session.token }));
      };
      socket.onmessage = (message) => {
        try {
          onEvent(JSON.parse(String(message.data)) as LiveEvent);
        } catch {
          /* ignore a malformed event */
        }
      };
      socket.onclose = () => {
        if (stopped) return;
        timer = setTimeout(connect, Math.min(30_000, 500 * 2 ** attempt++));
      };
    };
    connect();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket?.close();
    };
  }, [onEvent]);
}

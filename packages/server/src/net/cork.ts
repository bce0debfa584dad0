import type { Socket } from 'node:net';
import type WebSocket from 'ws';

/**
 * The TCP socket under a WebSocket, to cork for a burst of frames (each frame is otherwise a
 * system call of its own). ws 8 keeps it as `_socket`; undefined when there is none to cork, and
 * frames then go one by one.
 */
export function corkableSocket(socket: WebSocket): Socket | undefined {
  const tcp = (socket as unknown as { _socket?: Socket | null })._socket;
  return tcp && typeof tcp.cork === 'function' && !tcp.destroyed ? tcp : undefined;
}

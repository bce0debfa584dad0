// Baseline peer for the bench: a bare `ws` server that acknowledges each envelope frame by id.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ port: Number(process.argv[2]), host: '127.0.0.1' });
wss.on('connection', (ws) =>
  ws.on('message', (data) => {
    const frame = JSON.parse(data);
    ws.send(JSON.stringify({ t: 'ack', id: frame.env.id, ok: true }));
  }),
);
wss.on('listening', () => process.send('ready'));

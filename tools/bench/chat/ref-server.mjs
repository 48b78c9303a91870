// The reference server of the chat fan-out benchmark: a plain socket.io 4 server
// with Souk Live's stream:join / stream:chat / chat:message events, default settings
// (perMessageDeflate off, polling and websocket). Usage: node ref-server.mjs PORT
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node ref-server.mjs PORT');
  process.exit(2);
}

const httpServer = createServer();
const io = new Server(httpServer, { cors: { origin: '*' } });

io.on('connection', (socket) => {
  // Any token signs in (the reference has no accounts); without one a socket only watches.
  const token = socket.handshake.auth?.token;
  const user = typeof token === 'string' && token ? { id: `user-${token.slice(0, 12)}`, name: `u_${token.slice(0, 8)}` } : null;
  const reply = (ack, body) => typeof ack === 'function' && ack(body);

  socket.on('stream:join', (p, ack) => {
    if (typeof p?.stream_id !== 'string') return reply(ack, { ok: false, error: { code: 'invalid_payload' } });
    socket.join(p.stream_id);
    reply(ack, { ok: true });
  });

  socket.on('stream:chat', (p, ack) => {
    if (!user) return reply(ack, { ok: false, error: { code: 'unauthorized' } });
    const message = typeof p?.message === 'string' ? p.message.trim() : '';
    if (typeof p?.stream_id !== 'string' || message.length < 1 || message.length > 200) {
      return reply(ack, { ok: false, error: { code: 'invalid_message' } });
    }
    // The same fields (and so about the same bytes) as Souk Live's chat:message.
    const m = {
      id: randomUUID(),
      streamId: p.stream_id,
      userId: user.id,
      username: user.name,
      avatarUrl: null,
      message,
      timestamp: new Date().toISOString(),
    };
    io.to(p.stream_id).emit('chat:message', m);
    reply(ack, { ok: true, id: m.id });
  });
});

httpServer.listen(port, '127.0.0.1', () => console.log(`ref-server listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

// better-sse used the way its README shows: one session per request,
// registered with a channel, `channel.broadcast(data, name)` per event.
import { createChannel, createSession } from 'better-sse';
import { closeServer, eventsServer, listen } from './util.mjs';

export async function start() {
  const channel = createChannel();
  const server = eventsServer(async (req, res) => {
    const session = await createSession(req, res);
    channel.register(session);
  });
  const port = await listen(server);
  return {
    port,
    info: { sse: '/events' },
    publish(data) {
      channel.broadcast(data, 'tick');
    },
    count: () => channel.sessionCount,
    close: () => closeServer(server),
  };
}

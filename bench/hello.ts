import Fastify from 'fastify';
import { randomBytes } from 'node:crypto';

// The baselines: bare Fastify on the same machine, measured in the same run as Relais. `/bytes/N` sends N
// incompressible bytes marked as compressed HTML: what moving a page of that size costs, with no work behind it.
const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));
const payloads = new Map<number, Buffer>();
app.get<{ Params: { size: string } }>('/bytes/:size', async (request, reply) => {
  const size = Math.min(Number(request.params.size) || 0, 1_000_000);
  let payload = payloads.get(size);
  if (!payload) payloads.set(size, (payload = randomBytes(size)));
  return reply.type('text/html; charset=utf-8').header('content-encoding', 'br').send(payload);
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.send?.({ address });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));

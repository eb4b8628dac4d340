// What the alert tests share: waiting for something the alert pass does by itself, and an administrator who opted in.
import type { FastifyInstance } from 'fastify';
import { Client, createAccount, signIn } from './helper.js';

/** Resolves with the first truthy value of `fn`, polled every 50 ms; throws after `timeoutMs`. */
export async function eventually<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An administrator who asked for alerts through the account page (in that language), signed in. */
export async function optedInAdmin(app: FastifyInstance, email: string, lang: 'fr' | 'en' = 'fr'): Promise<Client> {
  const user = await createAccount(app, 'admin', { email });
  const client = new Client(app);
  await signIn(client, user.email);
  if (lang === 'en') await client.get('/language?lang=en&next=/account/alerts');
  const res = await client.post('/account/alerts', { optIn: 'on' });
  if (res.statusCode !== 303) throw new Error(`opt-in answered ${res.statusCode}`);
  return client;
}

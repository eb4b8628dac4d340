import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';

type Test = { teardown: (fn: () => unknown) => void };

export interface WebhookCall {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: { source: string; events: { kind: string; subject: string; summary: string; [key: string]: unknown }[] };
  /** Whether X-Relais-Signature is the HMAC-SHA256 of "<X-Relais-Timestamp>.<body>" under the shared secret. */
  signatureValid: boolean;
}

/** A real HTTP server on 127.0.0.1 that records each POST and checks its signature as a receiver would. */
export async function startWebhookPeer(t: Test, secret: string, options: { status?: () => number } = {}) {
  const calls: WebhookCall[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const timestamp = String(request.headers['x-relais-timestamp'] ?? '');
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`);
      const given = Buffer.from(String(request.headers['x-relais-signature'] ?? ''));
      const signatureValid = given.length === expected.length && timingSafeEqual(given, expected);
      let json: WebhookCall['json'];
      try {
        json = JSON.parse(body) as WebhookCall['json'];
      } catch {
        json = { source: '', events: [] };
      }
      calls.push({ headers: request.headers, body, json, signatureValid });
      response.statusCode = options.status?.() ?? 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${port}/hooks/relais`, calls };
}

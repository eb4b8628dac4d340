import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { resolveDestination, type DestinationPolicy } from '../smtp/destination.js';
import { summaryOf } from './mail.js';
import type { AlertEvent } from './store.js';

/** `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>"): what X-Relais-Signature carries. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookBody(events: AlertEvent[], publicUrl: string, now: Date): string {
  return JSON.stringify({
    source: 'relais',
    url: publicUrl,
    sentAt: now.toISOString(),
    events: events.map((event) => ({ id: event.id, at: event.at.toISOString(), kind: event.kind, subject: event.subject, summary: summaryOf(event), ...event.params })),
  });
}

export class WebhookFailure extends Error {}

/**
 * One POST, to the address the destination policy allowed (the name looked up once, kept for TLS and the Host header),
 * as SMTP connections do: the webhook cannot reach loopback or metadata addresses unless RELAIS_SMTP_ALLOWED_NETWORKS says so.
 */
export async function postWebhook(
  url: string,
  body: string,
  options: { secret: string; timeoutMs: number; destinations: DestinationPolicy; now: Date },
): Promise<number> {
  const target = new URL(url);
  const { address } = await resolveDestination(target.hostname, options.destinations);
  const family = net.isIP(address);
  const timestamp = String(Math.floor(options.now.getTime() / 1000));
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<number>((resolve, reject) => {
    const request = client.request(
      target,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'Relais alerts',
          'x-relais-timestamp': timestamp,
          'x-relais-signature': webhookSignature(options.secret, timestamp, body),
        },
        timeout: options.timeoutMs,
        lookup: ((_host: string, lookupOptions: { all?: boolean }, callback: (...args: unknown[]) => void) => {
          if (lookupOptions?.all) callback(null, [{ address, family }]);
          else callback(null, address, family);
        }) as unknown as net.LookupFunction,
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(status);
          else reject(new WebhookFailure(`the webhook answered ${status}`));
        });
      },
    );
    request.on('timeout', () => request.destroy(new WebhookFailure(`no answer within ${options.timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

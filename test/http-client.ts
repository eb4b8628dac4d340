import { spawn, type ChildProcess } from 'node:child_process';
import { Client, type Response } from './helper.js';

/** The Client of test/helper.ts over real HTTP, to an app running in another process. */
export class HttpClient extends Client {
  constructor(public baseUrl: string) {
    // No app in this process: every request goes through request() below.
    super(null as never);
  }

  protected override async request(method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: string | Buffer): Promise<Response> {
    const res = await fetch(this.baseUrl + url, { method, headers, body: typeof payload === 'string' || payload === undefined ? payload : new Uint8Array(payload), redirect: 'manual' });
    const out: Response['headers'] = Object.fromEntries(res.headers);
    out['set-cookie'] = res.headers.getSetCookie();
    return { statusCode: res.status, headers: out, body: await res.text() };
  }
}

export interface RelaisProcess {
  child: ChildProcess;
  url: string;
  /** Every log line the process wrote, parsed. */
  log: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** Starts `node --import tsx src/server.ts` with `env` on a free port and waits for « Relais is ready ». */
export function startRelaisProcess(env: Record<string, string>): Promise<RelaisProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', RELAIS_HEALTH_CHECK_MINUTES: '0', RELAIS_ALERT_INTERVAL_SECONDS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onLine = (line: string) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      log.push(entry);
      if (entry.msg === 'Relais is ready') resolve({ child, url: String(entry.address), log, exited });
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        lines.forEach(onLine);
      });
    }
    void exited.then((code) => reject(new Error(`Relais exited (${code}) before it was ready: ${JSON.stringify(log.slice(-3))}`)));
  });
}

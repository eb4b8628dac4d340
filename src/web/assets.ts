import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const publicDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'public');
export const htmxDir = path.dirname(require.resolve('htmx.org/dist/htmx.min.js'));

/** URLs with a content hash, so browsers may cache static files for a year and still get each new version. */
export function assetUrls(): (name: string) => string {
  const urls = new Map<string, string>();
  const hashOf = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 10);
  for (const name of fs.readdirSync(publicDir, { recursive: true }) as string[]) {
    const file = path.join(publicDir, name);
    if (fs.statSync(file).isFile()) urls.set(name.split(path.sep).join('/'), `/public/${name.split(path.sep).join('/')}?v=${hashOf(file)}`);
  }
  urls.set('htmx.min.js', `/vendor/htmx.min.js?v=${hashOf(path.join(htmxDir, 'htmx.min.js'))}`);
  return (name) => {
    const url = urls.get(name);
    if (!url) throw new Error(`Unknown asset ${name}`);
    return url;
  };
}

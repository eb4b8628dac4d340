import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** DejaVu (npm package dejavu-fonts-ttf): Latin with accents, Greek, Cyrillic and more, embedded so every PDF reader shows them. */
const files = {
  regular: 'dejavu-fonts-ttf/ttf/DejaVuSansCondensed.ttf',
  bold: 'dejavu-fonts-ttf/ttf/DejaVuSansCondensed-Bold.ttf',
} as const;

export type FontWeight = keyof typeof files;

const cache = new Map<FontWeight, Buffer>();

/** The font file, read once per process. */
export function fontData(weight: FontWeight): Buffer {
  let data = cache.get(weight);
  if (!data) {
    data = fs.readFileSync(require.resolve(files[weight]));
    cache.set(weight, data);
  }
  return data;
}

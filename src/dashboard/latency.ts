// Delivery latencies (accepted → sent) are counted in log-scale buckets: bucket b holds [e^(b/20), e^((b+1)/20)) ms.
// Each bucket is 5 % wider than the last, so a percentile read at a bucket's middle is off by 2.5 % at most.

export const bucketsPerE = 20;
export const hourMs = 3_600_000;
export const dayMs = 86_400_000;

/** The same formula the stores write in SQL (floor(ln(max(ms, 1)) * 20)). */
export function bucketOf(latencyMs: number): number {
  return Math.floor(Math.log(Math.max(latencyMs, 1)) * bucketsPerE);
}

/** The middle of a bucket (geometric), in milliseconds. */
export function bucketMiddle(bucket: number): number {
  return Math.exp((bucket + 0.5) / bucketsPerE);
}

/** The q-quantile (0 < q ≤ 1) of a histogram { bucket → count }; null when it is empty. */
export function quantileOf(histogram: ReadonlyMap<number, number>, q: number): number | null {
  const bucket = quantileBucketOf(histogram, q);
  return bucket === null ? null : bucketMiddle(bucket);
}

/** The bucket holding the q-quantile: the first (in order) at which the running count reaches ceil(q × total). */
export function quantileBucketOf(histogram: ReadonlyMap<number, number>, q: number): number | null {
  const buckets = [...histogram.entries()].filter(([, n]) => n > 0).sort(([a], [b]) => a - b);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const [bucket, n] of buckets) {
    seen += n;
    if (seen >= rank) return bucket;
  }
  return buckets[buckets.length - 1]![0];
}

/**
 * quantileBucketOf for each q, over a histogram already in bucket order (parallel arrays): one pass to count, one to
 * walk, no map nor sort.
 */
export function quantileBucketsOfSorted(buckets: readonly number[], counts: readonly number[], qs: readonly number[]): (number | null)[] {
  let total = 0;
  for (const n of counts) if (n > 0) total += n;
  if (total === 0) return qs.map(() => null);
  return qs.map((q) => {
    const rank = Math.ceil(q * total);
    let seen = 0;
    let last: number | null = null;
    for (let i = 0; i < buckets.length; i++) {
      const n = counts[i]!;
      if (n <= 0) continue;
      seen += n;
      last = buckets[i]!;
      if (seen >= rank) return last;
    }
    return last;
  });
}

export function hourOf(at: Date | number): number {
  const ms = typeof at === 'number' ? at : at.getTime();
  return ms - (ms % hourMs);
}

export function dayOf(at: Date | number): number {
  const ms = typeof at === 'number' ? at : at.getTime();
  return ms - (ms % dayMs);
}

// Latency histogram with ~1.1% relative precision that merges across generator threads.
// Hand-written on purpose: node:perf_hooks' RecordableHistogram cannot be combined across threads
// (histogram.add() takes only a histogram of the same thread), and the benchmark must not add a
// dependency just for this. Values are microseconds; buckets are 64 per power of two.

const SUB_BUCKETS = 64;
const MAX_EXPONENT = 40; // 2^40 µs is about 12.7 days: nothing in a bounded run comes near
const BUCKETS = SUB_BUCKETS * MAX_EXPONENT;

/** Plain-object form, cloneable through postMessage. */
export interface HistogramData {
  counts: number[];
  count: number;
  max: number;
  sum: number;
}

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;
  sum = 0;

  /** Records one value in microseconds (values below 1 µs count as 1 µs). */
  record(us: number): void {
    const v = Math.max(1, us);
    const b = Math.min(BUCKETS - 1, Math.floor(Math.log2(v) * SUB_BUCKETS));
    this.counts[b] = (this.counts[b] ?? 0) + 1;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = this.max = this.sum = 0;
  }

  merge(other: HistogramData | LatencyHistogram): void {
    const counts = other.counts;
    for (let i = 0; i < BUCKETS; i++) {
      const c = counts[i] ?? 0;
      if (c !== 0) this.counts[i] = (this.counts[i] ?? 0) + c;
    }
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  /** The value at quantile q (0..1): the upper edge of the bucket holding it, capped by the max seen. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(this.max, 2 ** ((i + 1) / SUB_BUCKETS));
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  toData(): HistogramData {
    return { counts: Array.from(this.counts), count: this.count, max: this.max, sum: this.sum };
  }

  static from(data: HistogramData): LatencyHistogram {
    const h = new LatencyHistogram();
    h.merge(data);
    return h;
  }
}

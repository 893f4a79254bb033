// `direct`: one-to-one chat between online users. P pairs (2P connections); in each pair both users
// send to the other, so there are 2P message streams. Closed loop: each stream keeps W messages in
// flight. Open loop (--rate R): R messages per second in total, spread evenly over the streams.
// Measures delivered msgs/s, latency (send → delivery), losses, and the server's CPU per message.
import { Placement } from '../../src/shard/placement.ts';
import type { ClientParams, DirectParams } from '../loadgen/protocol.ts';
import { BENCH_DOMAIN } from '../targets/waddle.ts';

export interface DirectOptions {
  pairs: number;
  window: number;
  /** 0 = closed loop */
  rate: number;
  bodyBytes: number;
}

export function directUsers(o: DirectOptions): number {
  return o.pairs * 2;
}

/** Pair i is (u<2i>, u<2i+1>); whether its users share a home shard is whatever placement gives. */
export function pairsOf(o: DirectOptions): [number, number][] {
  return Array.from({ length: o.pairs }, (_, i) => [2 * i, 2 * i + 1] as [number, number]);
}

/** Pairs whose two users are homed on different shards (each message then crosses a ring at least once). */
export function crossShardPairs(pairs: readonly [number, number][], workers: number): number {
  const placement = new Placement(workers);
  const home = (u: number) => placement.shardOf(`u${u}@${BENCH_DOMAIN}`);
  return pairs.filter(([a, b]) => home(a) !== home(b)).length;
}

/** Splits the pairs over `threads` generator threads (both users of a pair stay in one thread). */
export function directShares(o: DirectOptions, client: ClientParams, threads: number): DirectParams[] {
  const pairs = pairsOf(o);
  const n = Math.max(1, Math.min(threads, pairs.length));
  return Array.from({ length: n }, (_, t) => {
    const mine = pairs.filter((_, i) => i % n === t);
    return {
      ...client,
      scenario: 'direct',
      pairs: mine,
      window: o.window,
      ratePerSec: o.rate > 0 ? (o.rate * mine.length) / pairs.length : 0,
      maxOutstanding: Math.max(64, o.window),
      bodyBytes: o.bodyBytes,
      connectConcurrency: 32,
    };
  });
}

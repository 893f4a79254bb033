// XEP-0045 §6.3: disco#items of conference.<domain> lists the public rooms, which live on every shard (each
// room on the shard of its realm). The shard answering asks every shard for its own (one rpc each).
import type { MucEnv } from './env.ts';
import { type PublicRoom, publicRoomsHere } from './disco.ts';

const METHOD = 'muc.public-rooms';

export function registerPublicRoomsRpc(env: MucEnv): void {
  env.ctx.rpc(METHOD, (params) => {
    const domain = (params as { domain?: unknown }).domain;
    return typeof domain === 'string' ? publicRoomsHere(env, domain) : [];
  });
}

/**
 * ctx.call reaches the shard owning a key: one key per shard is found by probing names of the service's
 * domain (the same keys on every call; placement is a pure function of the key).
 */
function keyPerShard(env: MucEnv): string[] {
  const shards = env.ctx.config.workers;
  const keys = new Map<number, string>();
  for (let i = 0; keys.size < shards && i < 100_000; i++) {
    const key = `probe-${i}@${env.conference}`;
    const owner = env.ctx.ownerOf(key);
    if (!keys.has(owner)) keys.set(owner, key);
  }
  return [...keys.values()];
}

export async function publicRoomsEverywhere(env: MucEnv, domain: string): Promise<PublicRoom[]> {
  const answers = await Promise.all(
    keyPerShard(env).map((key) =>
      env.ctx.ownerOf(key) === env.ctx.shard
        ? publicRoomsHere(env, domain)
        : (env.ctx.call(key, METHOD, { domain }) as Promise<PublicRoom[]>),
    ),
  );
  return answers.flat();
}

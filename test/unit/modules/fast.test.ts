// XEP-0484 token rpcs of the fast module, called across shards as the SASL2 edge will call them.
import t from 'tap';
import fast, { FAST_TOKEN_ROTATE_AFTER_MS, FAST_TOKEN_TTL_MS, fastTokenDueForRotation } from '../../../src/modules/fast/index.ts';
import type { FastToken } from '../../../src/storage/ports.ts';
import { createTestCluster } from '../../helpers/test-shard.ts';

const JULIET = 'juliet@localhost';

t.test('issue, valid, used, revoke over rpc from another shard', async (t) => {
  const c = await createTestCluster({ modules: [fast], shards: 2 });
  t.teardown(() => c.stop());
  const home = c.placement.shardOf(JULIET);
  const edge = c.shards[1 - home];
  if (!edge) throw new Error('no edge shard');
  const call = (method: string, params: unknown) => edge.call(JULIET, method, params);

  const before = Date.now();
  const issued = (await call('fast.issue', { jid: JULIET, userAgentId: 'ua-1', mechanism: 'HT-SHA-256-NONE' })) as FastToken;
  t.match(issued, { jid: JULIET, userAgentId: 'ua-1', mechanism: 'HT-SHA-256-NONE', token: /^secret-token:fast-/ });
  t.ok(issued.expiresAt - issued.createdAt === FAST_TOKEN_TTL_MS && issued.createdAt >= before, 'valid for FAST_TOKEN_TTL_MS');
  t.same(await call('fast.valid', { jid: JULIET }), [issued], 'crosses the mesh as JSON unchanged');
  t.same(await call('fast.valid', { jid: JULIET, userAgentId: 'ua-2' }), []);

  t.same(await call('fast.used', { jid: JULIET, userAgentId: 'ua-1', token: issued.token }), { rotate: false }, 'a fresh token');
  const second = (await call('fast.issue', { jid: JULIET, userAgentId: 'ua-1', mechanism: 'HT-SHA-256-EXPR' })) as FastToken;
  t.equal(((await call('fast.valid', { jid: JULIET, userAgentId: 'ua-1' })) as FastToken[]).length, 2, 'rotation keeps the used one');
  await call('fast.used', { jid: JULIET, userAgentId: 'ua-1', token: second.token });
  t.same(await call('fast.valid', { jid: JULIET }), [second]);

  t.same(await call('fast.revoke', { jid: JULIET, userAgentId: 'ua-1' }), { ok: true });
  t.same(await call('fast.valid', { jid: JULIET }), []);
});

t.test('old tokens are due for rotation', async (t) => {
  const c = await createTestCluster({ modules: [fast] });
  t.teardown(() => c.stop());
  const store = c.stores[0]?.fast;
  if (!store) throw new Error('no store');
  const old = await store.issue(JULIET, 'ua-1', 'HT-SHA-256-NONE', FAST_TOKEN_TTL_MS, Date.now() - FAST_TOKEN_ROTATE_AFTER_MS);
  t.same(await c.shards[0]?.call(JULIET, 'fast.used', { jid: JULIET, userAgentId: 'ua-1', token: old.token }), { rotate: true });
  t.same(await c.shards[0]?.call(JULIET, 'fast.used', { jid: JULIET, userAgentId: 'ua-1', token: 'unknown' }), { rotate: false });
  t.equal(fastTokenDueForRotation({ createdAt: 0 }, FAST_TOKEN_ROTATE_AFTER_MS - 1), false);
  t.equal(fastTokenDueForRotation({ createdAt: 0 }, FAST_TOKEN_ROTATE_AFTER_MS), true);
});

t.test('bad params are refused', async (t) => {
  const c = await createTestCluster({ modules: [fast] });
  t.teardown(() => c.stop());
  const shard = c.shards[0];
  if (!shard) throw new Error('no shard');
  const call = (method: string, params: unknown) => shard.call(JULIET, method, params);
  await t.rejects(call('fast.issue', { jid: JULIET, userAgentId: 'ua-1', mechanism: 'SCRAM-SHA-1' }), /ERR_FAST_MECHANISM/);
  await t.rejects(call('fast.issue', { jid: JULIET, userAgentId: 'ua-1', mechanism: 'HT-SHA-256-UNIQ' }), /ERR_FAST_MECHANISM/);
  await t.rejects(call('fast.issue', { jid: JULIET, mechanism: 'HT-SHA-256-NONE' }), /ERR_RPC_PARAMS: userAgentId/);
  await t.rejects(call('fast.valid', null), /ERR_RPC_PARAMS/);
  await t.rejects(call('fast.valid', { jid: 42 }), /ERR_RPC_PARAMS: jid/);
  await t.rejects(call('fast.used', { jid: JULIET, userAgentId: 'ua-1' }), /ERR_RPC_PARAMS: token/);
  t.same(await call('fast.valid', { jid: JULIET, userAgentId: null }), [], 'null means every client');
});

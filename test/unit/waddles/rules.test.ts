// XEP-0045 §9-§10 affiliation rules as pure functions.
import t from 'tap';
import type { Affiliation } from '../../../src/waddles/model.ts';
import { authorizeAffiliationChange, authorizeChannelChange, directAffiliations, strongest } from '../../../src/waddles/rules.ts';

const outcome = (fn: () => void): string => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
};

t.test('who may change what at one level', async (t) => {
  const cases: [Affiliation | 'operator', Affiliation, Affiliation, string][] = [
    ['operator', 'owner', 'none', 'ok'],
    ['owner', 'admin', 'outcast', 'ok'],
    ['owner', 'none', 'owner', 'ok'],
    ['admin', 'none', 'member', 'ok'],
    ['admin', 'member', 'outcast', 'ok'],
    ['admin', 'outcast', 'none', 'ok'],
    ['admin', 'owner', 'outcast', 'not-allowed'], // §9.1
    ['admin', 'admin', 'member', 'not-allowed'],
    ['admin', 'member', 'admin', 'forbidden'], // §10: owners grant admin
    ['admin', 'none', 'owner', 'forbidden'],
    ['member', 'none', 'member', 'forbidden'],
    ['none', 'none', 'member', 'forbidden'],
    ['outcast', 'none', 'outcast', 'forbidden'],
  ];
  for (const [actor, target, next, expected] of cases) {
    t.equal(
      outcome(() => authorizeAffiliationChange({ actor, target, next })),
      expected,
      `${actor}: ${target} → ${next}`,
    );
  }
});

t.test('channel changes protect the Waddle staff', async (t) => {
  const base = { actor: 'owner', target: 'owner', next: 'outcast' } as const;
  t.equal(
    outcome(() => authorizeChannelChange({ ...base, actorInWaddle: 'operator', targetInWaddle: 'owner' })),
    'not-allowed',
    'a Waddle owner cannot be banned from a channel, even by the operator',
  );
  t.equal(
    outcome(() => authorizeChannelChange({ ...base, target: 'admin', actorInWaddle: 'member', targetInWaddle: 'admin' })),
    'not-allowed',
    'a channel owner may not touch a Waddle admin',
  );
  t.equal(
    outcome(() => authorizeChannelChange({ ...base, target: 'admin', actorInWaddle: 'owner', targetInWaddle: 'admin' })),
    'ok',
    'a Waddle owner may',
  );
  t.equal(
    outcome(() => authorizeChannelChange({ ...base, target: 'member', next: 'admin', actorInWaddle: 'member', targetInWaddle: 'member' })),
    'ok',
    'a channel owner may make a plain member channel admin',
  );
});

t.test('one affiliation out of several stored relations', async (t) => {
  t.equal(strongest(['member', 'admin']), 'admin');
  t.equal(strongest(['member', 'outcast']), 'outcast', 'banned wins over member');
  t.equal(strongest(['outcast', 'owner']), 'owner', 'an owner cannot be banned');
  t.equal(strongest([]), 'none');
  const m = directAffiliations([
    { object: 'waddle:w', relation: 'member', subject: 'user:a@x' },
    { object: 'waddle:w', relation: 'admin', subject: 'user:a@x' },
    { object: 'waddle:w', relation: 'banned', subject: 'user:b@x' },
    { object: 'waddle:w', relation: 'member', subject: 'channel:w/c#member' },
  ]);
  t.same(
    [...m],
    [
      ['a@x', 'admin'],
      ['b@x', 'outcast'],
    ],
  );
});

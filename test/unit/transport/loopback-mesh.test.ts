// loopback-mesh (src/transport/loopback-mesh.ts): the same Channel and Mesh contracts as the SAB mesh.
import t from 'tap';
import { createLoopbackMeshes, MemoryChannel } from '../../../src/transport/loopback-mesh.ts';
import { channelContract, meshContract } from './channel.contract.ts';

t.test('MemoryChannel: Channel contract', (t) => {
  channelContract(t, (capacity) => {
    const ch = new MemoryChannel(0, 1, capacity);
    return { producer: ch, consumer: ch };
  });
  t.end();
});

t.test('loopback mesh: Mesh contract', (t) => {
  meshContract(t, (shards, ringBytes) => createLoopbackMeshes(shards, ringBytes));
  t.end();
});

t.test('one shard has no peers', (t) => {
  const [m] = createLoopbackMeshes(1);
  t.equal(m?.inbound().length, 0);
  t.throws(() => createLoopbackMeshes(0), RangeError);
  t.end();
});

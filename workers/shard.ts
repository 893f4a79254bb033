// Worker thread entry: wires one shard from workerData and the control port. No logic here.
import { parentPort, workerData } from 'node:worker_threads';
import { createShard } from '../src/shard/boot.ts';
import { parseShardInit, type ToShard } from '../src/shard/control.ts';

if (!parentPort) throw new Error('workers/shard.ts must run inside a worker thread');
const port = parentPort;
const init = parseShardInit(workerData);
const shard = await createShard(init);
port.on('message', (msg: ToShard) => void shard.control(msg, (reply) => port.postMessage(reply)));
await shard.start();
port.postMessage({ type: 'ready', shardId: init.shardId });

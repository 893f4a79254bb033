// Load-generator worker thread: runs one scenario driver on its share of the connections and
// follows the main thread's phase messages (bench/loadgen/protocol.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { DirectDriver } from './direct-driver.ts';
import { LoginDriver } from './login-driver.ts';
import { MucDriver } from './muc-driver.ts';
import type { Driver, FromWorker, ToWorker, WorkerInit } from './protocol.ts';

if (!parentPort) throw new Error('bench/loadgen/worker.ts runs only as a worker thread');
const port = parentPort;
const init = workerData as WorkerInit;
const post = (msg: FromWorker) => port.postMessage(msg);

function driverFor(params: WorkerInit['params']): Driver {
  if (params.scenario === 'direct') return new DirectDriver(init.target, params);
  if (params.scenario === 'muc') return new MucDriver(init.target, params);
  return new LoginDriver(init.target, params);
}

const driver: Driver = driverFor(init.params);

port.on('message', (msg: ToWorker) => {
  const fail = (err: unknown) => post({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  switch (msg.type) {
    case 'go':
      return driver.go();
    case 'mark':
      return driver.mark();
    case 'stop':
      return void driver.stop(msg.graceMs).then((report) => post({ type: 'report', report }), fail);
    case 'close':
      return void driver.close().then(() => {
        post({ type: 'closed' });
        port.close();
      }, fail);
  }
});

driver.setup().then(
  (info) => post({ type: 'ready', info }),
  (err: unknown) => post({ type: 'fatal', message: String(err) }),
);

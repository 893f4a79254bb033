// The servers `npm run bench -- --target NAME` can measure, behind one shape: bulk account creation
// before the runs, and a fresh server per run (FACTS.md: costs drift with uptime).
import type { Mechanism } from '../loadgen/xmpp-login.ts';
import { provisionEjabberdUsers, startEjabberd } from './ejabberd.ts';
import { provisionProsodyUsers, startProsody } from './prosody.ts';
import { provisionUsers, type RunningTarget, startWaddle, type TargetOptions } from './waddle.ts';

export interface BenchTarget {
  name: string;
  provision(dataDir: string, workers: number, users: readonly string[], password: string): Promise<number>;
  start(o: TargetOptions): Promise<RunningTarget>;
  /** SASL mechanism over plain TCP when --mech is not given (Prosody 0.12 has no SCRAM-SHA-256). */
  plainMechanism: Mechanism;
}

export const TARGETS: Readonly<Record<string, BenchTarget>> = {
  waddle: { name: 'waddle', provision: provisionUsers, start: startWaddle, plainMechanism: 'SCRAM-SHA-256' },
  prosody: {
    name: 'prosody',
    provision: (dataDir, _workers, users, password) => provisionProsodyUsers(dataDir, users, password),
    start: startProsody,
    plainMechanism: 'SCRAM-SHA-1',
  },
  ejabberd: {
    name: 'ejabberd',
    provision: (dataDir, _workers, users, password) => provisionEjabberdUsers(dataDir, users, password),
    start: startEjabberd,
    plainMechanism: 'SCRAM-SHA-256',
  },
};

export function targetNamed(name: string): BenchTarget {
  const t = Object.hasOwn(TARGETS, name) ? TARGETS[name] : undefined;
  if (t === undefined) throw new Error(`unknown --target '${name}' (one of ${Object.keys(TARGETS).join(', ')})`);
  return t;
}

// `waddle user add|passwd|del|list`: account administration straight on the libSQL files. The files
// are in WAL mode with a busy timeout, so this is safe while the server runs; the server reads
// credentials from the file at each login, so a changed password applies to the next login.
import { createInterface } from 'node:readline';
import type { Config } from '../config/schema.ts';
import { Placement } from '../shard/placement.ts';
import type { UserStores } from '../storage/ports.ts';
import { openUserStores } from '../storage/user-stores.ts';
import { deriveCredentials } from '../stream/sasl/credentials.ts';
import { bareOf, parseJid } from '../xmpp/jid.ts';

export async function runUser(config: Config, args: string[], password: string | undefined): Promise<number> {
  const [action, target] = args;
  const stores = openUserStores({ dataDir: config.dataDir, placement: new Placement(config.workers), shard: 'all' });
  try {
    if (action === 'list') {
      for (const jid of await stores.accounts.list()) console.log(jid);
      return 0;
    }
    if (!target || !['add', 'passwd', 'del', 'retention'].includes(action ?? '')) {
      console.error('usage: waddle user add|passwd|del JID | waddle user retention JID DAYS|forever|default | waddle user list');
      return 2;
    }
    const jid = parseJid(target.includes('@') ? target : `${target}@${config.domain}`);
    if (!jid.local || jid.resource) throw new Error(`'${target}' is not a bare user JID`);
    if (jid.domain !== config.domain) throw new Error(`'${target}' is not on this server's domain (${config.domain})`);
    const bare = bareOf(jid);
    if (action === 'del') {
      if (!(await stores.accounts.delete(bare))) return fail(`no account ${bare}`);
      console.log(`deleted ${bare}`);
      return 0;
    }
    if (action === 'retention') return await setRetention(stores, bare, args[2], config.archive.retentionDays);
    const secret = password ?? (await readPassword());
    if (!secret) return fail('empty password');
    const credentials = await deriveCredentials(secret);
    if (action === 'add') {
      if (!(await stores.accounts.create({ jid: bare, credentials, createdAt: Date.now() }))) return fail(`${bare} already exists`);
      console.log(`created ${bare}`);
    } else {
      if (!(await stores.accounts.setCredentials(bare, credentials))) return fail(`no account ${bare}`);
      console.log(`changed the password of ${bare}`);
    }
    return 0;
  } finally {
    await stores.close();
  }
}

/**
 * The user's own archive retention, overriding [archive] retention_days. The server's sweep reads it from the
 * file each time, so no live path is needed: it applies at the next sweep.
 */
async function setRetention(stores: UserStores, bare: string, value: string | undefined, serverDays: number): Promise<number> {
  if (!(await stores.accounts.get(bare))) return fail(`no account ${bare}`);
  if (value === undefined) {
    const days = await stores.mamPrefs.retention(bare);
    console.log(`${bare}: ${describe(days ?? serverDays)}${days === undefined ? ' (server default)' : ''}`);
    return 0;
  }
  const days = value === 'forever' ? 0 : value === 'default' ? null : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isNaN(days)) {
    console.error(`'${value}' is not a number of days, 'forever' or 'default'`);
    return 2;
  }
  await stores.mamPrefs.setRetention(bare, days);
  console.log(`${bare}: archive kept ${days === null ? `as the server default (${describe(serverDays)})` : describe(days)}`);
  return 0;
}

function describe(days: number): string {
  return days === 0 ? 'forever' : `${days} days`;
}

function fail(message: string): number {
  console.error(message);
  return 1;
}

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  return '';
}

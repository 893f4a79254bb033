// `waddle user add|passwd|del|list`: account administration straight on the libSQL files. The files
// are in WAL mode with a busy timeout, so this is safe while the server runs; the server reads
// credentials from the file at each login, so a changed password applies to the next login.
import { createInterface } from 'node:readline';
import type { Config } from '../config/schema.ts';
import { Placement } from '../shard/placement.ts';
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
    if (!target || !['add', 'passwd', 'del'].includes(action ?? '')) {
      console.error('usage: waddle user add|passwd|del JID | waddle user list');
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

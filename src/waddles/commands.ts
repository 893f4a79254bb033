// Operator commands on Waddles (`waddle waddle …`), independent of where they run: the CLI runs them on the
// files when no server runs; with a server running, mutating commands run inside the worker owning the
// Waddle (rpc `admin.waddle`, see src/cli/admin-client.ts), so its permission cache and live rooms see them.
import { existsSync } from 'node:fs';
import { isWaddleId, waddleDbPath } from '../shard/realm.ts';
import { type Affiliation, OPERATOR, WaddleError } from './model.ts';
import type { WaddleService } from './service.ts';

export interface WaddleCommandOptions {
  name?: string | undefined;
  owner?: string | undefined;
  role?: string | undefined;
  channel?: string | undefined;
  title?: string | undefined;
  restricted?: boolean | undefined;
}

export const WADDLE_USAGE = `  waddle create ID --name NAME --owner JID
  waddle list | show ID | delete ID
  waddle member ID JID --role owner|admin|member|banned|none [--channel CHANNEL]
  waddle channel ID create CHANNEL [--title T] [--restricted] | channel ID delete CHANNEL
  waddle retention ID DAYS|forever|default`;

/** Wrong arguments: exit code 2 with the usage. */
export class Usage extends Error {}

/** What a command printed and its exit code (0 done, 1 refused, 2 usage), whichever process ran it. */
export interface CommandResult {
  code: number;
  out: string[];
  err: string[];
}

/** Commands that change a Waddle: with a server running they run in the worker owning the Waddle. */
export const MUTATING_COMMANDS: ReadonlySet<string> = new Set(['create', 'delete', 'member', 'channel', 'retention']);

const ROLES: Readonly<Record<string, Affiliation>> = {
  owner: 'owner',
  admin: 'admin',
  member: 'member',
  banned: 'outcast',
  outcast: 'outcast',
  none: 'none',
};

export interface CommandContext {
  svc: WaddleService;
  dataDir: string;
  domain: string;
}

/** Runs one `waddle waddle …` command against a WaddleService (in the CLI, or in the owning worker). */
export async function executeWaddleCommand(c: CommandContext, args: readonly string[], opts: WaddleCommandOptions): Promise<CommandResult> {
  const { svc } = c;
  const out: string[] = [];
  const err: string[] = [];
  const log = (line: string): void => {
    out.push(line);
  };
  /** Opening a file creates it: look before touching a Waddle that should already exist. */
  const requireFile = (id: string | undefined): string => {
    if (!id) throw new Usage('missing Waddle id');
    if (!isWaddleId(id) || !existsSync(waddleDbPath(c.dataDir, id))) throw new WaddleError('item-not-found', `no Waddle ${id}`);
    return id;
  };
  const user = (text: string | undefined): string => {
    if (!text) throw new Usage('missing JID');
    return text.includes('@') ? text : `${text}@${c.domain}`;
  };
  try {
    const [action, id, ...rest] = args;
    switch (action) {
      case 'create': {
        if (!id || !opts.name || !opts.owner) throw new Usage('create needs ID, --name and --owner');
        const w = await svc.createWaddle({ id, name: opts.name, owner: user(opts.owner) }, OPERATOR);
        log(`created Waddle ${w.id} (${w.name}) at ${svc.waddleJid(w.id)}, owner ${user(opts.owner).toLowerCase()}`);
        return { code: 0, out, err };
      }
      case 'list':
        for (const w of await svc.listWaddles()) log(`${w.id}\t${w.name}`);
        return { code: 0, out, err };
      case 'show':
        await show(svc, requireFile(id), log);
        return { code: 0, out, err };
      case 'delete':
        await svc.deleteWaddle(requireFile(id), OPERATOR);
        log(`deleted Waddle ${id}`);
        return { code: 0, out, err };
      case 'member': {
        const waddle = requireFile(id);
        const role = ROLES[opts.role ?? ''];
        if (role === undefined) throw new Usage('--role must be owner, admin, member, banned or none');
        const jid = user(rest[0]);
        if (opts.channel === undefined) await svc.setWaddleAffiliation(waddle, jid, role, OPERATOR);
        else await svc.setChannelAffiliation(waddle, opts.channel, jid, role, OPERATOR);
        const where = opts.channel === undefined ? `Waddle ${waddle}` : `channel ${svc.channelJid(waddle, opts.channel)}`;
        log(`${jid.toLowerCase()} is now ${roleName(role)} in ${where}`);
        return { code: 0, out, err };
      }
      case 'channel': {
        const waddle = requireFile(id);
        const [op, name] = rest;
        if (!name || (op !== 'create' && op !== 'delete')) throw new Usage('channel ID create|delete CHANNEL');
        if (op === 'create') {
          const input = { name, restricted: opts.restricted === true, ...(opts.title === undefined ? {} : { title: opts.title }) };
          const c = await svc.createChannel(waddle, input, OPERATOR);
          log(`created channel ${svc.channelJid(waddle, c.name)}${c.restricted ? ' (restricted)' : ''}`);
        } else {
          await svc.deleteChannel(waddle, name, OPERATOR);
          log(`deleted channel ${svc.channelJid(waddle, name)}`);
        }
        return { code: 0, out, err };
      }
      case 'retention': {
        const waddle = requireFile(id);
        const value = rest[0];
        if (!value) throw new Usage('retention ID DAYS|forever|default');
        const days = value === 'forever' ? 0 : value === 'default' ? null : /^\d+$/.test(value) ? Number(value) : Number.NaN;
        if (Number.isNaN(days)) throw new Usage(`'${value}' is not a number of days, 'forever' or 'default'`);
        const w = await svc.setRetention(waddle, days, OPERATOR);
        log(`retention of ${waddle}: ${retention(w.retentionDays)}`);
        return { code: 0, out, err };
      }
      default:
        throw new Usage(action ? `unknown waddle command '${action}'` : 'missing waddle command');
    }
  } catch (e) {
    if (e instanceof Usage) {
      err.push(`${e.message}\nusage:\n${WADDLE_USAGE.replace(/^ {2}/gm, '  waddle ')}`);
      return { code: 2, out, err };
    }
    if (e instanceof WaddleError) {
      err.push(e.message);
      return { code: 1, out, err };
    }
    throw e;
  }
}

async function show(svc: WaddleService, id: string, log: (line: string) => void): Promise<void> {
  const w = await svc.getWaddle(id);
  if (w === undefined) throw new WaddleError('item-not-found', `no Waddle ${id}`);
  log(`id: ${w.id}\nname: ${w.name}\naddress: ${svc.waddleJid(w.id)}`);
  log(`created: ${new Date(w.createdAt).toISOString()} by ${w.createdBy}\nretention: ${retention(w.retentionDays)}`);
  log('channels:');
  for (const c of await svc.listChannels(id)) {
    log(`  ${svc.channelJid(id, c.name)}${c.title ? ` "${c.title}"` : ''}${c.restricted ? ' (restricted)' : ''}`);
    for (const e of await svc.listAffiliations(id, c.name)) if (e.via === 'channel') log(`    ${roleName(e.affiliation)} ${e.user}`);
  }
  log('affiliations:');
  for (const e of await svc.listAffiliations(id)) log(`  ${roleName(e.affiliation)} ${e.user}`);
}

/** The CLI says 'banned' for XEP-0045's 'outcast'. */
function roleName(a: Affiliation): string {
  return a === 'outcast' ? 'banned' : a;
}

function retention(days: number | null): string {
  return days === null ? 'server default' : days === 0 ? 'forever' : `${days} days`;
}

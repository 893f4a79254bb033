// `waddle waddle ...`: operator administration of Waddles through the same WaddleService the server uses
// (actor 'operator': all rights, but still the service's invariants such as "a Waddle keeps at least one
// owner"). With a server running on this data directory, commands that change a Waddle are sent to the
// worker owning it (src/cli/admin-client.ts), so its permission cache and live rooms apply them at once
// (a ban removes the user from the channels they sit in). Otherwise they run on the files directly.
import type { Config } from '../config/schema.ts';
import { Placement } from '../shard/placement.ts';
import { waddleDomain } from '../shard/realm.ts';
import { GroupDbs } from '../storage/group-dbs.ts';
import { WaddleRepo } from '../storage/waddle-repo.ts';
import { type CommandResult, executeWaddleCommand, MUTATING_COMMANDS, type WaddleCommandOptions } from '../waddles/commands.ts';
import { WaddleService } from '../waddles/service.ts';
import { AdminError, findRunningServer } from './admin-client.ts';

export { WADDLE_USAGE } from '../waddles/commands.ts';
export type WaddleCliOptions = WaddleCommandOptions;

export async function runWaddle(config: Config, args: string[], opts: WaddleCliOptions): Promise<number> {
  const [action, id] = args;
  const running =
    action !== undefined && id !== undefined && MUTATING_COMMANDS.has(action) ? await findRunningServer(config.dataDir) : undefined;
  let result: CommandResult;
  if (running) {
    try {
      result = (await running.call(waddleDomain(id ?? '', config.domain), 'admin.waddle', { args, opts })) as CommandResult;
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      result = { code: 1, out: [], err: [`the running server refused: ${err.message}`] };
    }
  } else {
    const placement = new Placement(config.workers);
    const dbs = new GroupDbs({ dataDir: config.dataDir, domain: config.domain, placement, shard: 'all' });
    try {
      const svc = new WaddleService({ store: new WaddleRepo(dbs), domain: config.domain });
      result = await executeWaddleCommand({ svc, dataDir: config.dataDir, domain: config.domain }, args, opts);
    } finally {
      await dbs.close();
    }
  }
  for (const line of result.out) console.log(line);
  for (const line of result.err) console.error(line);
  return result.code;
}

// Retention of room archives: each Waddle's channels keep messages for the Waddle's retention
// (`waddle waddle retention ID DAYS`), or the server's [archive] retention_days when the Waddle has none;
// ad-hoc rooms follow the server's setting. Run in bounded batches per room (sweepArchive), so a sweep
// never stalls the shard.
import { sweepArchive } from '../mam/retention.ts';
import type { MucEnv } from './env.ts';
import type { WaddleService } from '../../waddles/service.ts';

export async function sweepRoomArchives(env: MucEnv, waddles: WaddleService, now = Date.now()): Promise<number> {
  const serverDays = env.ctx.config.archive.retentionDays;
  let deleted = 0;
  for (const w of await waddles.listWaddles()) {
    const days = w.retentionDays ?? serverDays;
    if (!(days > 0)) continue;
    for (const room of await env.store.list(waddles.waddleJid(w.id))) {
      deleted += await sweepArchive(env.archive, { retentionDays: days, now, owner: room });
    }
  }
  if (serverDays > 0) {
    for (const room of await env.store.list(env.conference)) {
      deleted += await sweepArchive(env.archive, { retentionDays: serverDays, now, owner: room });
    }
  }
  return deleted;
}

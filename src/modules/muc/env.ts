// What every part of the muc module works with: the module context, the room registry and the sends
// that keep the module's metrics.
import type { ArchiveStore, ModuleContext } from '../../router/module.ts';
import type { RoomStore } from '../../storage/ports-rooms.ts';
import type { Element } from '../../xmpp/xml.ts';
import type { MucMetrics } from './metrics.ts';
import type { RoomRegistry } from './room-registry.ts';
import type { WaddleGlue } from './waddle-rooms.ts';

export interface MucEnv {
  readonly ctx: ModuleContext;
  /** conference.<domain> */
  readonly conference: string;
  /** config.muc.historyMessages: the most history any room keeps or sends (§7.2.15 historylength cap). */
  readonly historyCap: number;
  readonly store: RoomStore;
  readonly archive: ArchiveStore;
  readonly rooms: RoomRegistry;
  readonly metrics: MucMetrics;
  /** Set once the Waddle service is wired (channels of <waddle>.groups.<domain>). */
  waddles: WaddleGlue | undefined;
  /** Runs `fn` in the serial queue of `key` (a room bare JID or a service domain): room state never races. */
  serial<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** One copy per recipient, one mesh frame per destination shard (ctx.fanout), counted. */
  fanout(stanza: Element, recipients: readonly string[]): void;
}

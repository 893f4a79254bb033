// Glue between Waddle channels (chan@<waddle>.groups.<domain>) and XEP-0045 rooms: affiliations come from the
// Waddle service's permission tuples (src/waddles/service.ts), not from the room's own lists, and change live:
// each committed change re-evaluates the occupants of the live rooms it touches (§9 status codes 301/321).
import { StanzaError, type StanzaErrorType } from '../../xmpp/errors.ts';
import { bareOf, parseJid, tryParseJid } from '../../xmpp/jid.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import { executeWaddleCommand, type WaddleCommandOptions } from '../../waddles/commands.ts';
import { type WaddleChange, WaddleError, WaddleService } from '../../waddles/index.ts';
import { affiliationChanged } from './admin.ts';
import { defaultConfig } from './config-form.ts';
import type { MucEnv } from './env.ts';
import { MUC } from './ns.ts';
import { destroyRoom } from './owner.ts';
import { sweepRoomArchives } from './retention.ts';
import type { Affiliation, Room } from './room.ts';

export interface WaddleGlue {
  /** The user's affiliation with the channel from the Waddle service, also set in the room's memory. */
  refreshAffiliation(room: Room, bare: string): Promise<Affiliation>;
  /** A join to a channel that has no room yet: creates the channel (and the Waddle) if allowed. */
  createChannelRoom(roomJid: string, waddle: string, channel: string, bare: string): Promise<Room>;
  /** A muc#admin affiliation change on a channel, authorised and written by the Waddle service. */
  setChannelAffiliation(room: Room, bare: string, affiliation: Affiliation, actor: string): Promise<void>;
  /** One retention sweep of every room archive of this shard (Waddle retention, else the server's). */
  sweepArchives(now?: number): Promise<number>;
  /** Every user with an affiliation in the channel (Waddle-level ones included), from the tuples. */
  channelAffiliations(room: Room): Promise<{ user: string; affiliation: Affiliation }[]>;
  /** muc#admin to the Waddle's own address: Waddle-level affiliations (get: lists, set: changes). */
  waddleAdmin(waddle: string, real: string, type: 'get' | 'set', payload: Element): Promise<Element | undefined>;
}

const TYPE_OF: Record<WaddleError['code'], StanzaErrorType> = {
  forbidden: 'auth',
  'not-allowed': 'cancel',
  'item-not-found': 'cancel',
  conflict: 'cancel',
  'bad-request': 'modify',
};

/** The service's errors carry stanza error conditions already (model.ts). */
async function mapped<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof WaddleError) throw new StanzaError(TYPE_OF[err.code], err.code, err.message);
    throw err;
  }
}

export function createWaddleGlue(env: MucEnv): WaddleGlue {
  const { ctx } = env;
  const service = new WaddleService({ store: ctx.groupStores.waddles, domain: ctx.domain, log: ctx.log, registry: ctx.metrics.registry });

  const channelOf = (room: Room): { waddle: string; channel: string } => {
    if (room.kind.kind !== 'channel') throw new Error(`${room.jid} is not a Waddle channel`);
    return room.kind;
  };

  async function refreshAffiliation(room: Room, bare: string): Promise<Affiliation> {
    const { waddle, channel } = channelOf(room);
    // Viewers of a channel are its members (affiliationOf); anyone else is kept out of the members-only room.
    const affiliation = await service.affiliationOf(waddle, channel, bare);
    room.setAffiliation(bare, affiliation);
    return affiliation;
  }

  /** Re-reads the affiliations of `users` (all occupants when undefined) and applies what changed. */
  async function reevaluate(room: Room, users: readonly string[] | undefined): Promise<void> {
    const bares = users ?? [...new Set([...room.occupants.values()].map((o) => o.bare))];
    for (const bare of bares) {
      const before = room.affiliationOf(bare);
      const after = await refreshAffiliation(room, bare);
      if (after !== before) await affiliationChanged(env, room, bare);
    }
  }

  function onChange(change: WaddleChange): void {
    for (const room of [...env.rooms.live()]) {
      if (room.kind.kind !== 'channel' || room.kind.waddle !== change.waddle) continue;
      if (change.channel !== undefined && room.kind.channel !== change.channel) continue;
      const work = async (): Promise<void> => {
        if (env.rooms.peek(room.jid) !== room) return; // gone meanwhile
        if (change.kind === 'waddle-deleted' || change.kind === 'channel-deleted') {
          await destroyRoom(env, room, xml('destroy', {}, xml('reason', {}, 'the channel was deleted')));
        } else if (change.kind === 'affiliation' || change.kind === 'channel-updated') {
          await reevaluate(room, change.user === undefined ? undefined : [change.user]);
        }
      };
      env
        .serial(room.jid, work)
        .catch((err: unknown) => ctx.log.error({ err, room: room.jid, change }, 'live Waddle re-evaluation failed'));
    }
    if (change.kind === 'waddle-deleted' || change.kind === 'channel-deleted') {
      purgeStoredRooms(change).catch((err: unknown) => ctx.log.error({ err, change }, 'purging deleted rooms failed'));
    }
  }
  service.onChange(onChange);

  // Operator commands (`waddle waddle …` while the server runs) arrive here, on the Waddle's worker.
  ctx.rpc('admin.waddle', (params) => {
    const { args, opts } = params as { args: string[]; opts: WaddleCommandOptions };
    return executeWaddleCommand({ svc: service, dataDir: ctx.config.dataDir, domain: ctx.domain }, args, opts ?? {});
  });

  /**
   * Rooms of a deleted Waddle or channel that are not live still have their configuration and archive in
   * the Waddle's file: remove them, so a Waddle or channel created later under the same name starts empty.
   */
  async function purgeStoredRooms(change: WaddleChange): Promise<void> {
    const domain = service.waddleJid(change.waddle);
    const rooms = change.channel === undefined ? await env.store.list(domain) : [`${change.channel}@${domain}`];
    for (const jid of rooms) {
      await env.serial(jid, async () => {
        const live = env.rooms.peek(jid);
        if (live) return; // a live room is destroyed (and its archive removed) by the work queued above
        await env.store.remove(jid);
        await env.archive.removeOwner(jid);
      });
    }
  }

  async function createChannelRoom(roomJid: string, waddle: string, channel: string, bare: string): Promise<Room> {
    if ((await service.getWaddle(waddle)) === undefined) {
      // A join to a room of a Waddle that does not exist creates the Waddle, if this user may create rooms.
      if (ctx.config.muc.createRooms === 'admins' && !ctx.config.admins.includes(bare))
        throw new StanzaError('cancel', 'not-allowed', 'only administrators may create Waddles');
      await mapped(service.createWaddle({ id: waddle, name: waddle, owner: bare }));
      ctx.log.info({ waddle, jid: bare }, 'Waddle created by a join');
    }
    let record = await service.getChannel(waddle, channel);
    if (!record) {
      // Only the Waddle's owners and admins create channels (the service checks it too).
      const affiliation = await service.affiliationOf(waddle, undefined, bare);
      if (affiliation !== 'owner' && affiliation !== 'admin') throw new StanzaError('cancel', 'item-not-found', 'no such channel');
      record = await mapped(service.createChannel(waddle, { name: channel }, bare));
      ctx.log.info({ room: roomJid, jid: bare }, 'channel created by a join');
    }
    // A channel is a persistent room, members-only by default (its viewers are its members).
    const config = {
      ...defaultConfig(env.historyCap),
      persistent: true,
      membersOnly: true,
      public: !record.restricted,
      name: record.title || channel,
    };
    const room = env.rooms.create(roomJid, config, false);
    await env.rooms.save(room);
    return room;
  }

  async function setChannelAffiliation(room: Room, bare: string, affiliation: Affiliation, actor: string): Promise<void> {
    const { waddle, channel } = channelOf(room);
    // The live re-evaluation (onChange) follows under the room's queue and tells the occupants.
    await mapped(service.setChannelAffiliation(waddle, channel, bare, affiliation, actor));
  }

  async function waddleAdmin(waddle: string, real: string, type: 'get' | 'set', payload: Element): Promise<Element | undefined> {
    const actor = bareOf(parseJid(real));
    if (type === 'get') {
      const want = payload.getChild('item')?.attrs.affiliation;
      const q = xml('query', { xmlns: MUC.ADMIN });
      const mine = await service.affiliationOf(waddle, undefined, actor);
      if (mine !== 'owner' && mine !== 'admin') throw new StanzaError('auth', 'forbidden', 'only admins and owners see the lists');
      for (const e of await mapped(service.listAffiliations(waddle)))
        if (want === undefined || e.affiliation === want) q.append(xml('item', { affiliation: e.affiliation, jid: e.user }));
      return q;
    }
    const items = payload.getChildren('item');
    if (items.length === 0) throw new StanzaError('modify', 'bad-request', 'no items');
    for (const it of items) {
      const jid = tryParseJid(it.attrs.jid as string | undefined);
      const affiliation = it.attrs.affiliation as string | undefined;
      if (!jid || affiliation === undefined) throw new StanzaError('modify', 'bad-request', 'items need jid and affiliation');
      await mapped(service.setWaddleAffiliation(waddle, bareOf(jid), affiliation as Affiliation, actor));
    }
    return undefined;
  }

  async function channelAffiliations(room: Room): Promise<{ user: string; affiliation: Affiliation }[]> {
    const { waddle, channel } = channelOf(room);
    return mapped(service.listAffiliations(waddle, channel));
  }

  const sweepArchives = (now?: number): Promise<number> => sweepRoomArchives(env, service, now);

  return { refreshAffiliation, createChannelRoom, setChannelAffiliation, channelAffiliations, waddleAdmin, sweepArchives };
}

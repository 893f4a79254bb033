// Schema of a group chat file: <data>/waddles/<id>.db (one Waddle and its channels) and
// <data>/rooms/group-NN.db (ad-hoc conference rooms of one slot group). Both kinds share it.
// Each feature keeps its tables in its own file; they are applied together as one migration per version.
// Forward-only: never edit or reorder a shipped entry, append a new one.
import { GROUP_ARCHIVE_SQL } from './groups-archive.ts';
import { GROUP_ROOMS_SQL } from './groups-rooms.ts';
import { GROUP_WADDLES_SQL } from './groups-waddles.ts';

export const GROUP_MIGRATIONS: readonly string[] = [
  // 1: room archives, persistent rooms and affiliations, Waddles, channels and permission tuples.
  [GROUP_ARCHIVE_SQL, GROUP_ROOMS_SQL, GROUP_WADDLES_SQL].join('\n'),
];

// Waddles: communities, their channels and Zanzibar-style permissions (service.ts is the entry point).
export type { ChannelRecord, Tuple, WaddleRecord, WaddleStore } from '../storage/ports-waddles.ts';
export {
  type Actor,
  AFFILIATIONS,
  type Affiliation,
  Conflict,
  InvalidArgument,
  NotFound,
  OPERATOR,
  PermissionDenied,
  WaddleError,
  type WaddleErrorCode,
} from './model.ts';
export { NAMESPACES, PermissionChecker, type Rewrite, type TupleSource } from './permissions.ts';
export {
  type AffiliationEntry,
  type NewChannel,
  type WaddleChange,
  type WaddleChangeKind,
  WaddleService,
  type WaddleServiceOptions,
} from './service.ts';

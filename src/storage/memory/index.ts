// In-memory fakes of the storage ports (tests, single-process experiments).
export { createMemoryUserStores } from './memory-user-stores.ts';
export { MemoryArchiveStore, MemoryMamPrefsStore } from './memory-archive.ts';

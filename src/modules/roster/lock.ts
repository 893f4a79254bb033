// Runs async tasks one at a time per key (a user's bare JID), so a roster read-modify-write is never
// interleaved with another for the same user (a roster set racing an inbound subscription would
// otherwise lose one of the two updates). Hand-written because the project has no keyed-mutex
// dependency and this is a dozen lines: a promise chain per key, dropped when it drains.
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether `key` has work queued or running (a caller may then skip the lock for synchronous work). */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Keys with work queued or running (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}

// Serialise per key, parallelise across keys (STYLE §4.1): a Waddle's changes run one at a time, so a
// change's reads (current affiliation, owner count) and its write cannot interleave with another change.
export class KeyedQueue {
  /** The tail of each key's queue; removed when the queue drains, so idle keys cost nothing. */
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier task of the same key has settled; resolves or rejects with its outcome. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(fn);
    const tail = result.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Keys with a task queued or running. */
  get busy(): number {
    return this.#tails.size;
  }
}

/**
 * A bounded map that drops its least recently used key first, and takes memory only for the
 * keys it holds. (lru-cache allocates its whole capacity at construction: 2.8 MiB for a table
 * of 100,000 keys that may never see one.) A Map keeps insertion order, so "used" is "moved to
 * the end" and the least recently used key is the first one.
 */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  private readonly max: number;
  private readonly onRemove: ((value: V, key: K) => void) | undefined;

  /** `onRemove` is called for a value that leaves: evicted, deleted or replaced by `set`. */
  constructor(max: number, onRemove?: (value: V, key: K) => void) {
    if (!(max >= 1)) throw new RangeError("LruMap needs room for at least one key");
    this.max = max;
    this.onRemove = onRemove;
  }

  get size(): number {
    return this.map.size;
  }

  /** The value, and the key becomes the most recently used. */
  get(key: K): V | undefined {
    if (!this.map.has(key)) return undefined;
    const value = this.map.get(key) as V;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Stores the value as the most recently used; the least recently used key leaves if the map is full. */
  set(key: K, value: V): this {
    if (this.map.has(key)) {
      const old = this.map.get(key) as V;
      this.map.delete(key);
      this.map.set(key, value);
      if (old !== value) this.onRemove?.(old, key);
      return this;
    }
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next().value as K;
      const evicted = this.map.get(oldest) as V;
      this.map.delete(oldest);
      this.onRemove?.(evicted, oldest);
    }
    this.map.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    if (!this.map.has(key)) return false;
    const value = this.map.get(key) as V;
    this.map.delete(key);
    this.onRemove?.(value, key);
    return true;
  }

  /** Entries from the most recently used to the least, as a copy (the map may change meanwhile). */
  entries(): [K, V][] {
    return [...this.map].reverse();
  }
}

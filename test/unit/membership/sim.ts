import { Membership, type Member, type MembershipOptions } from "../../../src/cluster/membership/membership.js";
import type { MembershipConfig } from "../../../src/cluster/membership/config.js";
import { Keyring } from "../../../src/security/keyring.js";
import { MemoryNetwork, type LinkOptions } from "../../../src/transport/memory.js";
import { FakeClock } from "../../../src/util/clock.js";
import { SeededRandom } from "../../../src/util/random.js";

/** A deterministic cluster on a FakeClock and a MemoryNetwork, for tests and the bench. */
export interface SimOptions {
  seed?: number;
  secret?: string;
  config?: Partial<MembershipConfig>;
  link?: Partial<LinkOptions>;
  maxPacketSize?: number;
  /** Simulated time at start (ms): the wall clock members stamp packets with (default 0). */
  startAt?: number;
}

export interface Drops {
  [reason: string]: number;
}

export class SimCluster {
  readonly clock: FakeClock;
  readonly random: SeededRandom;
  readonly net: MemoryNetwork;
  readonly nodes = new Map<string, Membership>();
  readonly drops = new Map<string, Drops>();
  readonly keyring: Keyring;
  /**
   * Per member, how many members it currently sees alive (kept by onChange, so that checks
   * are cheap: a set of names per member would hold N² entries, gigabytes at N = 5,000).
   */
  readonly aliveCounts = new Map<string, { alive: number }>();
  messages = 0;

  constructor(private readonly options: SimOptions = {}) {
    this.clock = new FakeClock(options.startAt ?? 0);
    this.random = new SeededRandom(options.seed ?? 1);
    this.net = new MemoryNetwork(this.clock, this.random, { link: options.link, maxPacketSize: options.maxPacketSize });
    this.keyring = Keyring.fromSecret(options.secret);
  }

  static address(name: string): string {
    return `${name}:7946`;
  }

  add(
    name: string,
    extra: { keyring?: Keyring; meta?: Uint8Array; address?: string; config?: Partial<MembershipConfig>; options?: Pick<MembershipOptions, "validMeta" | "onNameConflict" | "proofs"> } = {},
  ): Membership {
    const address = extra.address ?? SimCluster.address(name);
    const drops: Drops = {};
    this.drops.set(name, drops);
    const node = new Membership({
      name,
      transport: this.net.transport(address),
      keyring: extra.keyring ?? this.keyring,
      meta: extra.meta ?? new Uint8Array(),
      ...extra.options,
      clock: this.net.clockFor(address),
      random: new SeededRandom(Math.floor(this.random.next() * 2 ** 32)),
      config: { ...this.options.config, ...extra.config },
      metrics: {
        message: () => {
          this.messages++;
        },
        dropped: (reason) => {
          drops[reason] = (drops[reason] ?? 0) + 1;
        },
        probeRtt: () => {},
      },
    });
    this.nodes.set(name, node);
    const view = { alive: 1 }; // its own (a restarted member gets a new one)
    this.aliveCounts.set(name, view);
    node.onChange((m, previous) => {
      view.alive += (m.state === "alive" ? 1 : 0) - (previous?.state === "alive" ? 1 : 0);
    });
    node.start();
    return node;
  }

  /** Advances simulated time in steps, letting promise chains (exchanges) settle between steps. */
  async run(ms: number, step = 20): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(Math.min(step, ms - t));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Runs until `done()` or `limitMs`; returns the simulated ms it took (or -1). */
  async runUntil(done: () => boolean, limitMs: number, step = 20): Promise<number> {
    const start = this.clock.now();
    while (this.clock.now() - start < limitMs) {
      if (done()) return this.clock.now() - start;
      await this.run(step, step);
    }
    return done() ? this.clock.now() - start : -1;
  }

  view(name: string, of: string): Member | undefined {
    return this.nodes.get(name)!.member(of);
  }

  /** Every listed member sees exactly `expected` as alive. */
  converged(names: Iterable<string>, expected: Set<string>): boolean {
    const list = [...names];
    for (const name of list) if (this.aliveCounts.get(name)!.alive !== expected.size) return false;
    // As many alive as expected: exactly the expected ones?
    for (const name of list) {
      const node = this.nodes.get(name)!;
      for (const m of expected) if (node.member(m)?.state !== "alive") return false;
    }
    return true;
  }

  totalDrops(reason?: string): number {
    let n = 0;
    for (const d of this.drops.values()) for (const [r, c] of Object.entries(d)) if (!reason || r === reason) n += c;
    return n;
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.shutdown()));
  }
}

/** Starts `n` members named n0..n(n-1); each joins a random earlier one (n0 is the seed). */
export async function buildCluster(sim: SimCluster, n: number, joinSpacingMs = 10): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `n${i}`;
    const node = sim.add(name);
    if (i > 0) {
      const seed = names[Math.floor(sim.random.next() * names.length)]!;
      void node.join([SimCluster.address(seed)]);
    }
    names.push(name);
    if (joinSpacingMs > 0) await sim.run(joinSpacingMs, joinSpacingMs);
  }
  return names;
}

import { describe, expect, it } from "vitest";
import { HostAddresses, plainIp } from "../../src/transport/host-addresses.js";
import { FakeClock } from "../../src/util/clock.js";

function counting(answers: Record<string, string[] | Error>) {
  const calls: string[] = [];
  const lookup = async (host: string): Promise<string[]> => {
    calls.push(host);
    const answer = answers[host];
    if (answer === undefined || answer instanceof Error) throw answer ?? new Error("ENOTFOUND");
    return answer;
  };
  return { calls, lookup };
}

describe("HostAddresses", () => {
  it("an IP literal is itself (IPv4-mapped written as IPv4), without a lookup", async () => {
    const { calls, lookup } = counting({});
    const hosts = new HostAddresses({ clock: new FakeClock(), lookup });
    expect(await hosts.of("10.1.2.3")).toEqual(["10.1.2.3"]);
    expect(await hosts.of("::ffff:10.1.2.3")).toEqual(["10.1.2.3"]);
    expect(await hosts.of("fe80::1")).toEqual(["fe80::1"]);
    expect(calls).toEqual([]);
    expect(plainIp("::ffff:127.0.0.1")).toBe("127.0.0.1");
  });

  it("looks a name up once, then again only after the TTL; concurrent askers share one lookup", async () => {
    const answers: Record<string, string[]> = { "node-a.internal": ["10.0.0.5", "::ffff:10.0.0.6"] };
    const { calls, lookup } = counting(answers);
    const clock = new FakeClock();
    const hosts = new HostAddresses({ clock, lookup, ttlMs: 60_000 });
    const [x, y] = await Promise.all([hosts.of("node-a.internal"), hosts.of("NODE-A.internal")]);
    expect(x).toEqual(["10.0.0.5", "10.0.0.6"]);
    expect(y).toEqual(x);
    expect(calls).toHaveLength(1);
    clock.advance(59_000);
    await hosts.of("node-a.internal");
    expect(calls).toHaveLength(1);
    answers["node-a.internal"] = ["10.0.0.9"]; // the name moved
    clock.advance(2_000);
    expect(await hosts.of("node-a.internal")).toEqual(["10.0.0.9"]);
    expect(calls).toHaveLength(2);
  });

  it("keeps the last good answer when a lookup fails; a name never resolved has no addresses", async () => {
    const answers: Record<string, string[] | Error> = { good: ["10.0.0.1"] };
    const { lookup } = counting(answers);
    const clock = new FakeClock();
    const hosts = new HostAddresses({ clock, lookup, ttlMs: 1_000 });
    expect(await hosts.of("good")).toEqual(["10.0.0.1"]);
    answers.good = new Error("SERVFAIL");
    clock.advance(5_000);
    expect(await hosts.of("good")).toEqual(["10.0.0.1"]);
    expect(await hosts.of("nowhere")).toEqual([]);
  });

  it("a lookup that never answers gives up after the timeout", async () => {
    const clock = new FakeClock();
    const hosts = new HostAddresses({ clock, lookup: () => new Promise(() => {}), timeoutMs: 2_000 });
    const pending = hosts.of("slow.example");
    clock.advance(2_000);
    expect(await pending).toEqual([]);
  });
});

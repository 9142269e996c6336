import { describe, expect, it } from "vitest";
import { gunzipSync, gzipSync } from "node:zlib";
import { readTarGz, writeTarGz, ArchiveError } from "../../../src/deploy/tar.js";
import { rawTarGz } from "../../helpers/archives.js";

const MiB = 1024 * 1024;

describe("tar reader", () => {
  it("reads back what the writer wrote, including long paths", async () => {
    const long = `${"d".repeat(120)}/${"f".repeat(90)}.js`;
    const archive = await writeTarGz([
      { path: "main.js", data: Buffer.from("export default 1;") },
      { path: "lib/util.js", data: Buffer.from("x".repeat(1000)) },
      { path: long, data: Buffer.from("long") },
    ]);
    const entries = await readTarGz(archive, MiB);
    expect(entries.map((e) => [e.path, e.data.toString().length])).toEqual([["main.js", 17], ["lib/util.js", 1000], [long, 4]]);
  });

  it("normalises ./ prefixes and accepts folders", async () => {
    const entries = await readTarGz(rawTarGz([{ path: "./", type: "5" }, { path: "./lib/", type: "5" }, { path: "./main.js", data: "1" }]), MiB);
    expect(entries.map((e) => [e.path, e.type])).toEqual([["lib", "dir"], ["main.js", "file"]]);
  });

  const refused: [string, Parameters<typeof rawTarGz>[0], RegExp][] = [
    ["a .. path", [{ path: "../evil.js", data: "x" }], /"\.\." is not allowed/],
    ["a nested .. path", [{ path: "lib/../../evil.js", data: "x" }], /"\.\." is not allowed/],
    ["an absolute path", [{ path: "/etc/evil", data: "x" }], /absolute paths/],
    ["a symbolic link", [{ path: "main.js", type: "2", link: "/etc/passwd" }], /symbolic link not allowed/],
    ["a hard link", [{ path: "main.js", type: "1", link: "/etc/passwd" }], /hard link not allowed/],
    ["a character device", [{ path: "dev", type: "3" }], /character device not allowed/],
    ["a block device", [{ path: "dev", type: "4" }], /block device not allowed/],
    ["a FIFO", [{ path: "fifo", type: "6" }], /FIFO not allowed/],
    ["a duplicate entry", [{ path: "main.js", data: "1" }, { path: "./main.js", data: "2" }], /appears twice/],
  ];
  for (const [what, entries, message] of refused) {
    it(`refuses ${what}`, async () => {
      await expect(readTarGz(rawTarGz(entries), MiB)).rejects.toThrow(message);
    });
  }

  it("refuses archives that unpack beyond the limit (a compression bomb stops early)", async () => {
    const bomb = rawTarGz([{ path: "main.js", data: Buffer.alloc(3 * MiB) }]);
    expect(bomb.length).toBeLessThan(100_000);
    await expect(readTarGz(bomb, 2 * MiB)).rejects.toThrow(/unpacks beyond/);
    const many = rawTarGz([{ path: "a", data: Buffer.alloc(MiB) }, { path: "b", data: Buffer.alloc(MiB + 1) }]);
    await expect(readTarGz(many, 2 * MiB)).rejects.toThrow(/unpacks beyond/);
  });

  it("refuses what is not a tar.gz", async () => {
    await expect(readTarGz(Buffer.from("hello"), MiB)).rejects.toThrow(ArchiveError);
    await expect(readTarGz(gzipSync(Buffer.alloc(600, 7)), MiB)).rejects.toThrow(/checksum/);
    const tar = gunzipSync(rawTarGz([{ path: "main.js", data: "x".repeat(2000) }]));
    await expect(readTarGz(gzipSync(tar.subarray(0, 1024)), MiB)).rejects.toThrow(/truncated/);
  });
});

import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { ustarHeader } from "../../src/deploy/tar.js";

export interface RawEntry {
  path: string;
  data?: string | Buffer;
  /** tar typeflag: "0" file, "5" dir, "1" hard link, "2" symlink, "3"/"4" devices, "6" FIFO. */
  type?: string;
  link?: string;
}

/** A .tar.gz built entry by entry, including entries a safe writer would refuse (for attack tests). */
export function rawTarGz(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    const header = ustarHeader("x", data.length, e.type ?? "0", e.link ?? "");
    // Write the raw name after the fact so "../x" and "/etc/x" reach the reader unchanged.
    header.fill(0, 0, 100);
    header.write(e.path, 0, 100, "utf8");
    header.fill(32, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += header[i]!;
    header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks), { level: 1 });
}

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export const MINIMAL_MAIN = `export default class {}\n`;

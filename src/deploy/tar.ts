/**
 * A small, strict tar reader and writer for service artifacts. Only regular files and
 * directories are accepted; paths must stay inside the archive's folder (no absolute paths,
 * no `..`, no links, devices or FIFOs). ustar, pax (`path` only) and GNU long names are read.
 */
import { gunzip, gzip } from "node:zlib";
import { promisify } from "node:util";

const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);

const BLOCK = 512;
const MAX_ENTRIES = 10_000;
const MAX_PATH = 1024;
/** Room for headers and padding beyond the files' own bytes. */
const HEADER_SLACK = 16 * 1024 * 1024;

export interface TarEntry {
  /** Normalised relative path ("a/b.js"), never absolute, never with "..". */
  path: string;
  type: "file" | "dir";
  /** File contents (a view into the unpacked archive). */
  data: Buffer;
}

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveError";
  }
}

/** Unpacks a .tar.gz in memory; throws ArchiveError for anything unsafe or malformed. */
export async function readTarGz(archive: Buffer, maxUnpackedBytes: number): Promise<TarEntry[]> {
  let tar: Buffer;
  try {
    // The bound stops decompression bombs before they take the memory.
    tar = await gunzipAsync(archive, { maxOutputLength: maxUnpackedBytes + HEADER_SLACK });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) throw new ArchiveError(`archive unpacks beyond ${maxUnpackedBytes} bytes`);
    throw new ArchiveError("body is not a gzip archive");
  }
  return readTar(tar, maxUnpackedBytes);
}

export function readTar(tar: Buffer, maxUnpackedBytes: number): TarEntry[] {
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  let offset = 0;
  let total = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break; // end of archive
    checkChecksum(header);
    const size = octal(header, 124, 12, "size");
    const typeflag = String.fromCharCode(header[156]!);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) throw new ArchiveError("archive is truncated");
    const data = tar.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === "x") {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (typeflag === "g") continue; // global pax header: nothing we use
    if (typeflag === "L") {
      longName = cString(data, 0, data.length);
      continue;
    }
    const name = longName ?? ustarName(header);
    longName = undefined;
    const path = safePath(name);
    let type: TarEntry["type"];
    if (typeflag === "0" || typeflag === "\0" || typeflag === "7") type = "file";
    else if (typeflag === "5") type = "dir";
    else throw new ArchiveError(`entry "${name}": ${describeType(typeflag)} not allowed (only files and folders)`);
    if (path === "") {
      if (type === "dir") continue; // "./"
      throw new ArchiveError(`entry "${name}" has an empty path`);
    }
    total += size;
    if (total > maxUnpackedBytes) throw new ArchiveError(`archive unpacks beyond ${maxUnpackedBytes} bytes`);
    if (seen.has(path)) throw new ArchiveError(`entry "${path}" appears twice`);
    seen.add(path);
    if (entries.length >= MAX_ENTRIES) throw new ArchiveError(`more than ${MAX_ENTRIES} entries`);
    entries.push({ path, type, data });
  }
  return entries;
}

function describeType(flag: string): string {
  const names: Record<string, string> = { "1": "hard link", "2": "symbolic link", "3": "character device", "4": "block device", "6": "FIFO" };
  return names[flag] ?? `entry type "${flag}"`;
}

function checkChecksum(header: Buffer): void {
  const stored = octal(header, 148, 8, "checksum");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  if (sum !== stored) throw new ArchiveError("archive header checksum mismatch (not a tar archive?)");
}

function octal(buf: Buffer, start: number, length: number, what: string): number {
  const text = cString(buf, start, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new ArchiveError(`archive header: bad ${what} field`);
  return parseInt(text, 8);
}

function cString(buf: Buffer, start: number, length: number): string {
  const slice = buf.subarray(start, start + length);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? slice.length : nul).toString("utf8");
}

function ustarName(header: Buffer): string {
  const name = cString(header, 0, 100);
  const magic = cString(header, 257, 6);
  const prefix = magic.startsWith("ustar") ? cString(header, 345, 155) : "";
  return prefix ? `${prefix}/${name}` : name;
}

/** The `path` record of a pax extended header, if any ("<len> path=<value>\n" records). */
function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const len = Number(data.subarray(pos, space).toString("ascii"));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length) throw new ArchiveError("malformed pax header");
    const record = data.subarray(space + 1, pos + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (record.slice(0, eq) === "path") path = record.slice(eq + 1);
    pos += len;
  }
  return path;
}

/** A relative path inside the archive folder, or ArchiveError. */
export function safePath(name: string): string {
  if (name.length > MAX_PATH) throw new ArchiveError("entry path too long");
  if (name.includes("\0") || name.includes("\\")) throw new ArchiveError(`entry "${name}": invalid characters in path`);
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) throw new ArchiveError(`entry "${name}": absolute paths are not allowed`);
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw new ArchiveError(`entry "${name}": ".." is not allowed`);
  return parts.join("/");
}

/** Writes a .tar.gz of regular files (ustar; paths ≤ 255 bytes, split into prefix/name). */
export async function writeTarGz(files: { path: string; data: Buffer }[]): Promise<Buffer> {
  const blocks: Buffer[] = [];
  for (const file of files) {
    blocks.push(ustarHeader(safePath(file.path), file.data.length, "0"));
    blocks.push(file.data);
    const pad = (BLOCK - (file.data.length % BLOCK)) % BLOCK;
    if (pad) blocks.push(Buffer.alloc(pad));
  }
  blocks.push(Buffer.alloc(BLOCK * 2));
  return gzipAsync(Buffer.concat(blocks));
}

/** One ustar header block (exported so tests can build hostile archives). */
export function ustarHeader(path: string, size: number, typeflag: string, linkname = ""): Buffer {
  const h = Buffer.alloc(BLOCK);
  let name = path;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = path.lastIndexOf("/", 155);
    if (cut <= 0 || Buffer.byteLength(path.slice(cut + 1)) > 100) throw new ArchiveError(`path too long for ustar: ${path}`);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  h.write(name, 0, 100, "utf8");
  h.write(typeflag === "5" ? "0000755\0" : "0000644\0", 100, "ascii");
  h.write("0000000\0", 108, "ascii");
  h.write("0000000\0", 116, "ascii");
  h.write(size.toString(8).padStart(11, "0") + "\0", 124, "ascii");
  h.write("00000000000\0", 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(typeflag, 156, "ascii");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  return h;
}

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import pino, { type Logger } from "pino";
import type { LogLevel } from "./config/config.js";

export type { Logger };

/** JSON logs to stdout and to the log file, one line per event; never secrets or tokens. */
export function createLogger(options: { nodeId: string; level: LogLevel; file: string | null; stdout?: boolean }): Logger {
  const streams: pino.StreamEntry[] = [];
  if (options.stdout !== false) streams.push({ level: options.level, stream: pino.destination({ dest: 1, sync: false }) });
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    streams.push({ level: options.level, stream: pino.destination({ dest: options.file, sync: false, mkdir: true }) });
  }
  return pino(
    { level: options.level, base: { node: options.nodeId }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
}

/** Flushes buffered log lines (before exit). */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}

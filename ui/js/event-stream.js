// GET /cluster/events through fetch streaming (EventSource cannot send the Authorization
// header), reconnecting with Last-Event-ID so no event is missed across a drop.
import { authHeader } from "./api.js";

/** Incremental text/event-stream parser: feed() chunks, get complete events back. */
export function createSseParser() {
  let buffer = "";
  let data = [];
  let type = "";
  let id = null;
  return {
    feed(chunk) {
      buffer += chunk;
      const events = [];
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (data.length > 0) events.push({ id, type: type || "message", data: data.join("\n") });
          data = [];
          type = "";
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "event") type = value;
        else if (field === "id" && !value.includes("\0")) id = value;
      }
      return events;
    },
  };
}

const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 8000;

/**
 * Keeps one live stream open. onEvent({id, type, data}) gets each event (data parsed as JSON);
 * onState("connecting" | "live" | "retrying" | "unauthorized") follows the connection.
 */
export class EventStream {
  constructor(path, onEvent, onState) {
    this.path = path;
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastId = null;
    this.stopped = false;
    this.controller = null;
    this.retryMs = MIN_RETRY_MS;
  }

  start() {
    this.stopped = false;
    if (!this.running) this.loop();
    return this;
  }

  /** Closes the connection; start() again resumes from the last event seen. */
  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async loop() {
    this.running = true;
    try {
      await this.run();
    } finally {
      this.running = false;
    }
  }

  async run() {
    while (!this.stopped) {
      this.onState("connecting");
      const status = await this.once().catch(() => 0);
      if (this.stopped) return;
      if (status === 401 || status === 403) {
        this.onState("unauthorized");
        return;
      }
      this.onState("retrying");
      await new Promise((r) => setTimeout(r, this.retryMs));
      this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    }
  }

  /** One connection, read until it ends; resolves with the HTTP status. */
  async once() {
    this.controller = new AbortController();
    const headers = { ...authHeader(), accept: "text/event-stream" };
    if (this.lastId !== null) headers["last-event-id"] = this.lastId;
    const res = await fetch(this.path, { headers, signal: this.controller.signal, cache: "no-store" });
    if (!res.ok || !res.body) return res.status;
    this.onState("live");
    this.retryMs = MIN_RETRY_MS;
    const parser = createSseParser();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return res.status;
      for (const event of parser.feed(value)) {
        if (event.id !== null) this.lastId = event.id;
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          data = event.data;
        }
        this.onEvent({ id: event.id, type: event.type, data });
      }
    }
  }
}

/** A small Server-Sent Events reader over fetch streaming (what the dashboard does too). */
export interface SseFrame {
  id?: number;
  event: string;
  data: unknown;
}

export class SseClient {
  readonly frames: SseFrame[] = [];
  private buffer = "";
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(
    private readonly controller: AbortController,
    readonly status: number,
  ) {}

  static async open(url: string, token: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const controller = new AbortController();
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers }, signal: controller.signal });
    const client = new SseClient(controller, res.status);
    if (res.body) void client.pump(res.body);
    else client.closed = true;
    return client;
  }

  /** Waits until a frame matching `match` arrives (after `from`), or throws after timeoutMs. */
  async waitFor(match: (f: SseFrame) => boolean, timeoutMs = 20_000, from = 0): Promise<SseFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found) return found;
      if (this.closed) throw new Error(`stream closed; frames: ${JSON.stringify(this.frames.map((f) => [f.id, f.event]))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; frames: ${JSON.stringify(this.frames.map((f) => [f.id, f.event]))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.controller.abort();
    this.closed = true;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) {
        this.buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf("\n\n")) >= 0) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          this.parse(block);
        }
        this.wake();
      }
    } catch {
      // aborted or reset
    }
    this.closed = true;
    this.wake();
  }

  private parse(block: string): void {
    let id: number | undefined;
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const idx = line.indexOf(":");
      const field = idx < 0 ? line : line.slice(0, idx);
      const value = idx < 0 ? "" : line.slice(idx + 1).replace(/^ /, "");
      if (field === "id") id = Number(value);
      else if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length === 0) return;
    this.frames.push({ ...(id === undefined ? {} : { id }), event, data: JSON.parse(data.join("\n")) as unknown });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

import type { FastifyInstance } from "fastify";
import { P2PError } from "../../errors.js";
import { SseStream } from "../../events/sse-stream.js";
import type { ApiContext } from "../context.js";
import { authErrors, bearer, errorSchema } from "../schemas.js";
import { clusterStatus } from "./cluster.js";

/** Bytes queued for one client before it counts as too slow and is dropped. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Streams open at once on this node; more are refused (503) so memory stays bounded. */
const MAX_STREAMS = 256;
const HEARTBEAT_MS = 15_000;

/** The resume point: `Last-Event-ID` header (what EventSource sends) or `?last_event_id=`. */
function resumeFrom(header: unknown, query: unknown): number | null {
  const raw = typeof header === "string" && header !== "" ? header : typeof query === "string" && query !== "" ? query : null;
  if (raw === null) return null;
  if (!/^\d{1,15}$/.test(raw.trim())) throw new P2PError("BAD_REQUEST", "Last-Event-ID must be a non-negative integer");
  return Number(raw.trim());
}

export function eventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const streams = new Set<SseStream>();
  // Open streams never end by themselves: end them so the server can close.
  app.addHook("preClose", async () => {
    for (const s of [...streams]) s.close("node stopping");
  });

  app.get(
    "/cluster/events",
    {
      config: { access: "client" },
      schema: {
        tags: ["cluster"],
        summary: "Live cluster events (Server-Sent Events)",
        description:
          "A text/event-stream of frames `id: N`, `event: <type>`, `data: <json>`. The first frame is `hello` " +
          "(`{node_id, cluster, last_event_id, resumed}`, where `cluster` is the /cluster/status body). Then: `member` " +
          "(`{node_id, state, previous, role, address}`), `leader` (`{leader, previous}`), `service` " +
          "(`{node_id, service, status, error?}`), `deployment` progress, and `metrics` (the /cluster/metrics body) every " +
          "second. To resume after a disconnect send the last id seen as the `Last-Event-ID` header (or `?last_event_id=N`): " +
          "the events missed are replayed first; when they are too old, `hello.resumed` is false and the client should " +
          "rebuild its state from the greeting. Metrics snapshots are not replayed. A client that does not read fast " +
          "enough is disconnected.",
        security: bearer,
        querystring: { type: "object", properties: { last_event_id: { type: "string" } } },
        response: { 200: { description: "text/event-stream", type: "string" }, 400: errorSchema, ...authErrors, 503: errorSchema },
      },
    },
    async (request, reply) => {
      const lastId = resumeFrom(request.headers["last-event-id"], (request.query as { last_event_id?: unknown }).last_event_id);
      if (streams.size >= MAX_STREAMS) throw new P2PError("UNAVAILABLE", "too many event streams open on this node");
      const { events } = ctx;
      const replay = lastId === null ? null : events.since(lastId);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "x-accel-buffering": "no",
        "x-p2p-node": ctx.config.nodeId,
      });
      res.socket?.setNoDelay(true);
      let unsubscribe = () => {};
      const stream = new SseStream(res, {
        maxBufferedBytes: MAX_BUFFERED_BYTES,
        heartbeatMs: HEARTBEAT_MS,
        clock: ctx.clock,
        onClose: (reason) => {
          unsubscribe();
          streams.delete(stream);
          if (reason === "client too slow") ctx.logger.warn({ client: request.caller?.sub }, "event stream dropped: client too slow");
        },
      });
      streams.add(stream);
      // Greeting, replay and subscription happen in one synchronous step: no event falls between.
      const hello = { node_id: ctx.config.nodeId, cluster: clusterStatus(ctx), last_event_id: events.lastId, resumed: replay !== null };
      stream.send({ type: "hello", data: hello, ...(replay === null ? { id: events.lastId } : {}) });
      for (const event of replay ?? []) stream.send(event);
      if (!stream.isClosed) unsubscribe = events.subscribe((event) => stream.send(event));
    },
  );
}

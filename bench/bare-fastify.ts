/** Baseline for bench/http-rpc.ts: a bare Fastify route answering the same JSON as /rpc/example_service/add. */
import Fastify from "fastify";

const port = Number(process.argv[2]);
const app = Fastify({ logger: false });
app.post<{ Body: { id?: unknown; params?: { a?: number; b?: number } } }>("/bare", async (request) => ({
  id: request.body?.id ?? null,
  result: { sum: (request.body?.params?.a ?? 0) + (request.body?.params?.b ?? 0) },
}));
await app.listen({ host: "127.0.0.1", port });
process.stdout.write("ready\n");
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));

/** Files of `p2p new service NAME --template postgres`. */
import type { ServiceNames } from "./names.js";

export function postgresService(n: ServiceNames): Record<string, string> {
  const table = `${n.service.replace(/-/g, "_").toLowerCase()}_items`;
  return {
    "schemas.ts": `import type { JsonSchema } from "p2p-core";

export const putItemParams = {
  type: "object",
  properties: { sku: { type: "string", minLength: 1, maxLength: 64 }, count: { type: "integer", minimum: 0 } },
  required: ["sku", "count"],
  additionalProperties: false,
} satisfies JsonSchema;

export interface PutItemParams {
  sku: string;
  count: number;
}

export const skuParams = {
  type: "object",
  properties: { sku: { type: "string", minLength: 1, maxLength: 64 } },
  required: ["sku"],
  additionalProperties: false,
} satisfies JsonSchema;

export interface SkuParams {
  sku: string;
}
`,
    "migrations.ts": `import type pg from "pg";
import type { ServiceLogger } from "p2p-core";

/** Append only: a migration that ran is never edited, a new one gets the next id. */
export const MIGRATIONS: { id: number; sql: string }[] = [
  { id: 1, sql: "CREATE TABLE ${table} (sku text PRIMARY KEY, count integer NOT NULL CHECK (count >= 0), updated_at timestamptz NOT NULL DEFAULT now())" },
];

/** One lock id per service: every node of the cluster migrates at start, one at a time. */
const LOCK_ID = ${lockId(n.service)};

/** Applies pending migrations inside one transaction holding an advisory lock, so concurrent nodes never race. */
export async function migrate(pool: pg.Pool, logger: ServiceLogger): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [LOCK_ID]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS p2p_migrations (service text NOT NULL, id integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (service, id))",
    );
    const done = await client.query<{ id: number }>("SELECT id FROM p2p_migrations WHERE service = $1", ["${n.service}"]);
    const applied = new Set(done.rows.map((row) => row.id));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.id)) continue;
      await client.query(migration.sql);
      await client.query("INSERT INTO p2p_migrations (service, id) VALUES ($1, $2)", ["${n.service}", migration.id]);
      logger.info({ migration: migration.id }, "migration applied");
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
`,
    "main.ts": `import pg from "pg";
import { BaseService, P2PError, serviceMethod } from "p2p-core";
import { migrate } from "./migrations.js";
import { putItemParams, skuParams, type PutItemParams, type SkuParams } from "./schemas.js";

/** ${n.service}: items in PostgreSQL (DATABASE_URL), one pool per node. */
export default class ${n.className} extends BaseService {
  static SERVICE_NAME = "${n.service}";
  static VERSION = "0.1.0";
  static DESCRIPTION = "Items stored in PostgreSQL";

  private pool: pg.Pool | null = null;

  async initialize(): Promise<void> {
    const connectionString = process.env.DATABASE_URL;
    if (!connectionString) throw new Error("DATABASE_URL is not set (e.g. postgres://user:password@127.0.0.1:5432/app)");
    this.pool = new pg.Pool({ connectionString, max: 5 });
    // An idle client's error (database restart) must not crash the node; the next query reconnects.
    this.pool.on("error", (err) => this.logger.warn({ err: err.message }, "idle database client failed"));
    await migrate(this.pool, this.logger);
  }

  async cleanup(): Promise<void> {
    await this.pool?.end();
    this.pool = null;
  }

  private get db(): pg.Pool {
    if (!this.pool) throw new P2PError("UNAVAILABLE", "the database pool is closed");
    return this.pool;
  }

  @serviceMethod({ description: "Set an item's count", public: true, idempotent: true, params: putItemParams })
  async put_item({ sku, count }: PutItemParams) {
    const { rows } = await this.db.query<{ sku: string; count: number }>(
      "INSERT INTO ${table} (sku, count) VALUES ($1, $2) ON CONFLICT (sku) DO UPDATE SET count = EXCLUDED.count, updated_at = now() RETURNING sku, count",
      [sku, count],
    );
    // Every node drops its cached get_item of this sku.
    await this.cache.invalidate({ tag: \`sku:\${sku}\` });
    return { ...rows[0]!, node: this.nodeId };
  }

  @serviceMethod({ description: "One item", public: true, idempotent: true, params: skuParams, cache: { ttl_s: 30, tags: ["sku:{sku}"] } })
  async get_item({ sku }: SkuParams) {
    const { rows } = await this.db.query<{ sku: string; count: number }>("SELECT sku, count FROM ${table} WHERE sku = $1", [sku]);
    if (rows.length === 0) throw new P2PError("NOT_FOUND", \`no item \${sku}\`);
    return rows[0]!;
  }

  @serviceMethod({ description: "Take one item; 409 CONFLICT when none is left", public: true, params: skuParams })
  async take_item({ sku }: SkuParams) {
    const { rows } = await this.db.query<{ count: number }>("UPDATE ${table} SET count = count - 1, updated_at = now() WHERE sku = $1 AND count > 0 RETURNING count", [sku]);
    if (rows.length === 0) throw new P2PError("CONFLICT", \`\${sku} is out of stock\`);
    await this.cache.invalidate({ tag: \`sku:\${sku}\` });
    return { sku, left: rows[0]!.count, node: this.nodeId };
  }

  @serviceMethod({ description: "Every item", public: true, idempotent: true })
  async list_items() {
    const { rows } = await this.db.query<{ sku: string; count: number }>("SELECT sku, count FROM ${table} ORDER BY sku");
    return { items: rows };
  }

  @serviceMethod({ description: "Database reachability from this node (this service's health)", public: true, idempotent: true })
  async health() {
    const started = Date.now();
    await this.db.query("SELECT 1");
    return { status: "ok", node: this.nodeId, database_ms: Date.now() - started, pool: { total: this.db.totalCount, idle: this.db.idleCount } };
  }
}
`,
    "main.test.ts": `import { test } from "node:test";
import assert from "node:assert/strict";
import { createTestBed } from "p2p-core/testing";
import ${n.className} from "./main.js";

// Runs against the database of DATABASE_URL (use a database made for tests).
test("${n.service} stores, reads, takes and caches items", async () => {
  const bed = await createTestBed({ services: [${n.className}] });
  try {
    await bed.call("${n.service}.put_item", { sku: "test-sku", count: 1 });
    assert.deepEqual(await bed.call("${n.service}.get_item", { sku: "test-sku" }), { sku: "test-sku", count: 1 });
    assert.equal((await bed.call<{ left: number }>("${n.service}.take_item", { sku: "test-sku" })).left, 0);
    assert.deepEqual(await bed.call("${n.service}.get_item", { sku: "test-sku" }), { sku: "test-sku", count: 0 });
    await assert.rejects(bed.call("${n.service}.take_item", { sku: "test-sku" }), { code: "CONFLICT" });
    await assert.rejects(bed.call("${n.service}.get_item", { sku: "missing" }), { code: "NOT_FOUND" });
    assert.equal((await bed.call<{ status: string }>("${n.service}.health")).status, "ok");
  } finally {
    await bed.close();
  }
});
`,
  };
}

/** A stable 31-bit advisory lock id from the service name. */
function lockId(name: string): number {
  let hash = 0x2f2;
  for (const ch of name) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) | 0;
  return hash & 0x7fffffff;
}

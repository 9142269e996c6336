import { Command } from "commander";
import { getJson, printJson, run, table, withClientOptions, type ClientOptions } from "../client.js";

interface Service {
  name: string;
  nodes: { node_id: string; version: string; status: string; error?: string }[];
  methods: { name: string; description: string; public: boolean; idempotent: boolean; cache: { ttl_s: number } | null }[];
}

/** `p2p services`: every service of the cluster, its methods, and where (and which version) it runs. */
export function servicesCommand(): Command {
  return withClientOptions(new Command("services").description("list every service of the cluster with its methods and where each runs")).action((options: ClientOptions) =>
    run(async () => {
      const { services } = await getJson<{ services: Service[] }>(options, "/cluster/services");
      if (options.json) return printJson({ services });
      const rows: string[][] = [];
      for (const s of services) {
        const where = s.nodes.map((n) => (n.status === "running" ? `${n.node_id}@${n.version}` : `${n.node_id}(${n.status})`)).join(",");
        if (s.methods.length === 0) rows.push([s.name, "-", "-", "-", "-", where, ""]);
        for (const m of s.methods) {
          rows.push([s.name, m.name, m.public ? "public" : "admin", m.idempotent ? "yes" : "no", m.cache ? `${m.cache.ttl_s}s` : "-", where, m.description]);
        }
      }
      process.stdout.write(table(["SERVICE", "METHOD", "ACCESS", "IDEMPOTENT", "CACHE", "RUNS ON", "DESCRIPTION"], rows));
      for (const s of services) for (const n of s.nodes) if (n.status === "failed") process.stdout.write(`${s.name} failed on ${n.node_id}: ${n.error ?? "unknown error"}\n`);
    }),
  );
}

import { Command, Option } from "commander";
import { relative } from "node:path";

/** `p2p new app DIR` and `p2p new service NAME [--template basic|postgres]`. */
export function newCommand(): Command {
  const cmd = new Command("new").description("scaffold an application or a service");
  cmd
    .command("app")
    .description("a new project: package.json with p2p-core, tsconfig, services/hello with its test")
    .argument("<dir>", "folder to create (must not exist or be empty)")
    .action(async (dir: string) => {
      const { newApp } = await import("../../scaffold/index.js");
      const out = run(() => newApp(dir));
      const rel = relative(process.cwd(), out.root);
      const where = rel === "" ? "." : rel.startsWith("..") ? out.root : rel;
      process.stdout.write(`created ${where}: ${out.files.join(", ")}\nnext: cd ${where} && npm install && npm test && npm start\n`);
    });
  cmd
    .command("service")
    .description("a new service folder: main.ts, schemas.ts and main.test.ts")
    .argument("<name>", "service name (letters, digits, _ and -)")
    .addOption(new Option("--template <name>", "basic, or postgres (a pg pool, migrations, a health method)").choices(["basic", "postgres"]).default("basic"))
    .option("--services-dir <dir>", "where service folders live (env P2P_SERVICES_DIR; default ./services)")
    .action(async (name: string, opts: { template: "basic" | "postgres"; servicesDir?: string }) => {
      const { newService } = await import("../../scaffold/index.js");
      const dir = opts.servicesDir ?? process.env.P2P_SERVICES_DIR ?? "./services";
      const out = run(() => newService(name, opts.template, dir));
      const rel = relative(process.cwd(), out.root);
      const lines = [`created ${rel.startsWith("..") ? out.root : rel}: ${out.files.join(", ")}`];
      if (out.packagesAdded.length > 0) lines.push(`added ${out.packagesAdded.join(", ")} to package.json: run npm install`);
      if (opts.template === "postgres") lines.push("the service reads DATABASE_URL (postgres://user:password@host:5432/db)");
      process.stdout.write(`${lines.join("\n")}\n`);
    });
  return cmd;
}

function run<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    process.stderr.write(`p2p: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

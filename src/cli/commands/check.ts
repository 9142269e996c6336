import { Command } from "commander";

/** `p2p check [--services-dir DIR]`: type errors of every service, exit 1 when there are any. */
export function checkCommand(): Command {
  return new Command("check")
    .description("type-check services against p2p-core's types (needs typescript in the project)")
    .option("--services-dir <dir>", "where service folders live (env P2P_SERVICES_DIR; default ./services)")
    .action(async (opts: { servicesDir?: string }) => {
      const { typecheckServices } = await import("../../services/typecheck.js");
      const dir = opts.servicesDir ?? process.env.P2P_SERVICES_DIR ?? "./services";
      let result;
      try {
        result = typecheckServices(dir);
      } catch (err) {
        process.stderr.write(`p2p: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      }
      for (const e of result.errors) process.stderr.write(`${e.text}\n`);
      if (result.errors.length > 0) {
        const services = [...new Set(result.errors.map((e) => e.service).filter(Boolean))];
        process.stderr.write(`p2p check: ${result.errors.length} type error(s) in ${services.join(", ") || dir}\n`);
        process.exit(1);
      }
      process.stdout.write(`p2p check: ${result.files} file(s) in ${dir}, no type errors\n`);
    });
}

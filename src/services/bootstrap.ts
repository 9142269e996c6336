import type { Logger } from "../log.js";
import type { ServiceContext, ServiceInfo } from "./base-service.js";
import { discoverServiceEntries, instantiate, loadServiceFile, withTimeout, type LoadOptions } from "./loader.js";
import { releaseCompiler } from "./compile.js";
import type { LocalServices } from "./local-services.js";
import { SystemService } from "./builtin/system.js";

/** A folder of the services dir and the service it holds (no name: it failed to load). */
export interface ServiceFolder {
  folder: string;
  file: string;
  name?: string;
}

/**
 * Loads the built-in services and every folder of the services dir; a failing one is logged and
 * skipped. Returns what each folder gave (hot reload maps a changed folder to its service).
 */
export async function loadAllServices(options: {
  local: LocalServices;
  servicesDir: string;
  /** Type-check the folder first; services with type errors are skipped. */
  strictLoad?: boolean;
  builtin: boolean;
  logger: Logger;
  lifecycleTimeoutMs: number;
  contextFor(info: ServiceInfo): ServiceContext;
}): Promise<ServiceFolder[]> {
  const { local, logger } = options;
  const folders: ServiceFolder[] = [];
  const loadOptions: LoadOptions = {
    logger,
    lifecycleTimeoutMs: options.lifecycleTimeoutMs,
    contextFor: options.contextFor,
  };
  const add = (service: Awaited<ReturnType<typeof instantiate>>) => {
    local.add(service);
    logger.info({ service: service.name, methods: [...service.methods.keys()] }, "service loaded");
  };
  if (options.builtin) add(await instantiate(SystemService, "system", loadOptions));
  const entries = await discoverServiceEntries(options.servicesDir);
  const refused = options.strictLoad && entries.length > 0 ? await typeErrorsByService(options.servicesDir) : new Map<string, string[]>();
  for (const { folder, file } of entries) {
    const errors = refused.get(folder) ?? refused.get("");
    folders.push({ folder, file });
    if (errors) {
      logger.error({ folder, file, type_errors: errors.slice(0, 20), count: errors.length }, "service has type errors (--strict-load); skipped");
      continue;
    }
    try {
      const service = await loadServiceFile(folder, file, loadOptions);
      if (local.get(service.name)) {
        await service.instance.cleanup().catch(() => undefined);
        throw new Error(`a service named "${service.name}" is already loaded`);
      }
      add(service);
      folders[folders.length - 1]!.name = service.name;
    } catch (err) {
      logger.error({ folder, file, err: err instanceof Error ? { message: err.message, stack: err.stack } : err }, "service failed to load; skipped");
      local.recordFailure(folder, err instanceof Error ? err.message : String(err));
    }
  }
  if (entries.length > 0) await releaseCompiler();
  return folders;
}

/** --strict-load: type errors by service folder ("" = errors that concern every service). */
async function typeErrorsByService(servicesDir: string): Promise<Map<string, string[]>> {
  const byService = new Map<string, string[]>();
  try {
    const { typecheckServices } = await import("./typecheck.js");
    for (const error of typecheckServices(servicesDir).errors) byService.set(error.service, [...(byService.get(error.service) ?? []), error.text]);
  } catch (err) {
    byService.set("", [`cannot check types: ${err instanceof Error ? err.message : String(err)}`]);
  }
  return byService;
}

/** Runs every service's cleanup(), each bounded; errors are logged, never thrown. */
export async function cleanupAllServices(local: LocalServices, logger: Logger, timeoutMs: number): Promise<void> {
  await Promise.all(
    local.list().map(async (s) => {
      s.status = "stopped";
      try {
        await withTimeout(s.instance.cleanup(), timeoutMs, `cleanup() of "${s.name}"`);
      } catch (err) {
        logger.error({ service: s.name, err: err instanceof Error ? err.message : String(err) }, "service cleanup failed");
      }
    }),
  );
}

import type { Logger } from "../log.js";
import type { ServiceContext, ServiceInfo } from "./base-service.js";
import { discoverServiceEntries, instantiate, loadServiceFile, withTimeout, type LoadOptions } from "./loader.js";
import { releaseCompiler } from "./compile.js";
import type { LocalServices } from "./local-services.js";
import { SystemService } from "./builtin/system.js";

/** Loads the built-in services and every folder of the services dir; a failing one is logged and skipped. */
export async function loadAllServices(options: {
  local: LocalServices;
  servicesDir: string;
  builtin: boolean;
  logger: Logger;
  lifecycleTimeoutMs: number;
  contextFor(info: ServiceInfo): ServiceContext;
}): Promise<void> {
  const { local, logger } = options;
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
  for (const { folder, file } of entries) {
    try {
      const service = await loadServiceFile(folder, file, loadOptions);
      if (local.get(service.name)) {
        await service.instance.cleanup().catch(() => undefined);
        throw new Error(`a service named "${service.name}" is already loaded`);
      }
      add(service);
    } catch (err) {
      logger.error({ folder, file, err: err instanceof Error ? { message: err.message, stack: err.stack } : err }, "service failed to load; skipped");
      local.recordFailure(folder, err instanceof Error ? err.message : String(err));
    }
  }
  if (entries.length > 0) await releaseCompiler();
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

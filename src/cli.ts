#!/usr/bin/env node
import { ConfigError } from "./config/errors.js";
import { loadConfig } from "./config/load.js";
import { createLogger, startExporter } from "./main.js";
import { stopOnSignals } from "./shutdown.js";

async function run(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const exporter = await startExporter(config, logger);

  stopOnSignals(exporter, { graceMs: config.shutdownGraceMs, logger, exit: (code) => process.exit(code) });
  // Run with --expose-gc, SIGUSR2 forces a full collection: the benchmark uses it so that memory
  // figures show live data rather than garbage not yet collected.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) process.on("SIGUSR2", () => gc());
}

run().catch((error: unknown) => {
  // Some settings are checked against the cluster at start (the pod's namespace, its StatefulSet).
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`gitlab-ci-k8s-exporter failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

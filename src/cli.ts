#!/usr/bin/env node
import { ConfigError } from "./config/errors.js";
import { loadConfig } from "./config/load.js";
import { createLogger, startExporter } from "./main.js";

/** Time allowed for in-flight scrapes and polls to finish after SIGTERM. */
const SHUTDOWN_GRACE_MS = 5000;

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

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.error("shutdown took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    exporter.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  // SIGHUP stops like SIGTERM rather than reloading: file secrets are re-read on every use
  // already, and settings from the environment cannot change in a running process, so a reload
  // would pretend to apply what it cannot. Node's default would exit at once, cutting scrapes.
  process.on("SIGHUP", () => stop("SIGHUP"));
  // Run with --expose-gc, SIGUSR2 forces a full collection: the benchmark uses it so that memory
  // figures show live data rather than garbage not yet collected.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) process.on("SIGUSR2", () => gc());
  process.on("SIGINT", () => stop("SIGINT"));
}

run().catch((error: unknown) => {
  process.stderr.write(`gitlab-ci-k8s-exporter failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

#!/usr/bin/env node
import type { Logger } from "pino";
import packageJson from "../package.json" with { type: "json" };
import { parseArgs } from "./config/args.js";
import { ConfigError } from "./config/errors.js";
import { helpText } from "./config/help.js";
import { loadConfig } from "./config/load.js";
import { SETTINGS } from "./config/settings.js";
import type { RunningExporter } from "./main.js";

/** Time allowed for in-flight scrapes and polls to finish after SIGTERM. */
const SHUTDOWN_GRACE_MS = 5000;

async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  const command = parseArgs(argv);
  if (command.kind === "help") return void process.stdout.write(helpText(SETTINGS, packageJson.version));
  if (command.kind === "version") return void process.stdout.write(`${packageJson.version}\n`);
  const config = loadConfig(process.env, argv);
  // Loaded only now: help, the version and a bad setting answer without loading the sources.
  const { createLogger, startExporter } = await import("./main.js");
  const logger = createLogger(config.logLevel);
  // Settings found wrong only while starting (a kubeconfig, the listen address) are ConfigErrors too.
  const exporter = await startExporter(config, logger);
  stopOnSignals(exporter, logger);
}

function stopOnSignals(exporter: RunningExporter, logger: Logger): void {
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

// A configuration error, found while loading or while starting, is one line and exit code 2;
// anything else that stops the start is exit code 1.
run().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`gitlab-ci-k8s-exporter failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

#!/usr/bin/env node
import packageJson from "../package.json" with { type: "json" };
import { parseArgs } from "./config/args.js";
import { ConfigError } from "./config/errors.js";
import { helpText } from "./config/help.js";
import { loadConfig } from "./config/load.js";
import { SETTINGS } from "./config/settings.js";

async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  const command = parseArgs(argv);
  if (command.kind === "help") return void process.stdout.write(helpText(SETTINGS, packageJson.version));
  if (command.kind === "version") return void process.stdout.write(`${packageJson.version}\n`);
  const config = loadConfig(process.env, argv);
  // Loaded only now: help, the version and a bad setting answer without loading the sources.
  const { createLogger, startExporter } = await import("./main.js");
  const { stopOnSignals } = await import("./shutdown.js");
  const logger = createLogger(config.logLevel);
  // Settings found wrong only while starting (a kubeconfig, the listen address) are ConfigErrors too.
  const exporter = await startExporter(config, logger);
  stopOnSignals(exporter, { graceMs: config.shutdownGraceMs, logger, exit: (code) => process.exit(code) });
  // Run with --expose-gc, SIGUSR2 forces a full collection: the benchmark uses it so that memory
  // figures show live data rather than garbage not yet collected.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) process.on("SIGUSR2", () => gc());
}

// A configuration error, found while loading or while starting, is one line and exit code 2;
// anything else that stops the start is exit code 1.
run().catch((error: unknown) => {
  // Some settings are checked against the cluster at start (the pod's namespace, its StatefulSet).
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`gitlab-ci-k8s-exporter failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

import type { Logger } from "pino";
import { ConfigError } from "../config/errors.js";
import type { Config } from "../config/load.js";
import { DEFAULT_PORT } from "../config/settings.js";
import { startExporter, type RunningExporter } from "../main.js";

/** The demo's port: `DEMO_PORT`, or the exporter's default port; `chosen` when set. */
export interface DemoPort {
  readonly port: number;
  readonly chosen: boolean;
}

/** Reads `DEMO_PORT`; a value that is no port stops the demo with one line (exit code 2). */
export function demoPort(value: string | undefined): DemoPort {
  if (value === undefined || value.trim() === "") return { port: DEFAULT_PORT, chosen: false };
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65535) exitWith(new ConfigError("DEMO_PORT", JSON.stringify(value), "a port number from 0 to 65535 (0: any free port)"));
  return { port, chosen: true };
}

/**
 * Starts the demo's exporter. When the default port is taken (a demo or an exporter
 * already running), it listens on a free port instead and says so in one line: `npm run demo`
 * always starts. A port chosen with `DEMO_PORT` is never swapped for another, as something may
 * be set to scrape it: taken, it stops the demo with one line naming `DEMO_PORT` (exit code 2).
 */
export async function startDemoExporter(config: Config, logger: Logger, { port, chosen }: DemoPort): Promise<RunningExporter> {
  try {
    return await startExporter(config, logger);
  } catch (error) {
    if (!(error instanceof ConfigError) || error.setting !== "LISTEN_ADDRESS") return exitWith(error);
    if (chosen) return exitWith(new ConfigError("DEMO_PORT", JSON.stringify(String(port)), error.expected));
    const exporter = await startExporter({ ...config, listen: { host: config.listen.host, port: 0 } }, logger).catch(exitWith);
    process.stderr.write(`demo: port ${port} is taken, so the exporter listens on ${exporter.url} instead (set DEMO_PORT to choose its port)\n`);
    return exporter;
  }
}

/** A configuration problem is one line and exit code 2; anything else is thrown on. */
function exitWith(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`demo: ${error.message}\n`);
  process.exit(2);
}

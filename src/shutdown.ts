import { constants } from "node:os";
import type { Logger } from "pino";
import { sleep } from "./lib/sleep.js";
import type { RunningExporter } from "./main.js";

/**
 * The longest wait for the requests in flight once the grace period is over. GitLab gives up on a
 * webhook delivery after 10 s (`webhook_timeout`) and Prometheus on a scrape after its 10 s
 * `scrape_timeout` by default: past that, no client with default settings still waits for the
 * answer. Polls in flight are abandoned at once.
 */
export const DRAIN_LIMIT_SECONDS = 10;

export const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

export interface ShutdownOptions {
  /** How long everything is still served, readiness failing, before the drain. */
  readonly graceMs: number;
  readonly logger: Logger;
  readonly exit: (code: number) => void;
}

/**
 * Stops the exporter on SIGTERM, SIGINT or SIGHUP without losing a webhook delivery:
 *
 * 1. Leave the Service: `/readyz` fails and answers close their connections, while webhooks,
 *    scrapes and the sources go on for `graceMs`, the time routers take to drop this instance.
 * 2. Drain: new connections are refused, the requests in flight are answered (for at most
 *    `DRAIN_LIMIT_SECONDS`, else exit 1), the sources stop; exit 0.
 *
 * A second signal exits at once, with 128 plus the signal's number as a shell reports it.
 *
 * SIGHUP stops like SIGTERM rather than reloading: file secrets are re-read on every use already,
 * and settings from the environment cannot change in a running process, so a reload would pretend
 * to apply what it cannot. Node's default would exit at once, cutting scrapes.
 */
export function stopOnSignals(exporter: RunningExporter, options: ShutdownOptions): void {
  let stopping = false;
  const stop = (signal: StopSignal) => {
    if (stopping) {
      options.logger.warn({ signal }, "second signal: exiting now, without draining");
      options.exit(128 + constants.signals[signal]);
      return;
    }
    stopping = true;
    void stopGracefully(exporter, signal, options);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => stop(signal));
}

async function stopGracefully(exporter: RunningExporter, signal: StopSignal, { graceMs, logger, exit }: ShutdownOptions): Promise<void> {
  exporter.leaveService();
  logger.info({ signal, graceSeconds: graceMs / 1000 }, "shutting down");
  if (graceMs > 0) {
    logger.info({ graceSeconds: graceMs / 1000 }, "/readyz fails; still serving while routers drop this instance (a second signal stops at once)");
    await sleep(graceMs);
  }
  logger.info({ drainLimitSeconds: DRAIN_LIMIT_SECONDS }, "refusing new connections; answering the requests in flight");
  setTimeout(() => {
    logger.error({ drainLimitSeconds: DRAIN_LIMIT_SECONDS }, "requests in flight outlasted the drain limit; exiting");
    exit(1);
  }, DRAIN_LIMIT_SECONDS * 1000).unref();
  try {
    await exporter.close();
    exit(0);
  } catch (error) {
    logger.error({ err: error }, "error during shutdown");
    exit(1);
  }
}

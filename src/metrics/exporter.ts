import packageJson from "../../package.json" with { type: "json" };
import type { WebhookOutcome } from "../domain/events.js";

export const VERSION: string = packageJson.version;


/**
 * Where the server reports webhook outcomes: the exporter's self-health state
 * (`state/self-health.ts`) is one. Its families are in `families/exporter-gitlab.ts`.
 */
export interface ExporterMetrics {
  webhookEvent(event: string, outcome: WebhookOutcome): void;
}

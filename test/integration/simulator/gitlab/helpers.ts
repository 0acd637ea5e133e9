import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** A documented payload from test/fixtures/gitlab. */
export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../../fixtures/gitlab/${name}`, import.meta.url), "utf8")) as T;
}

export interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** Status the receiver answers with. */
  status: number;
  /** Deliveries whose body this matches are held unanswered until `release`. */
  hold: ((body: Record<string, unknown>) => boolean) | null;
  /** Answers every delivery held so far. */
  release(): void;
  close(): Promise<void>;
}

/** A local webhook endpoint on 127.0.0.1 that records every delivery. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      received.push({ headers: request.headers, body });
      const answer = () => {
        response.writeHead(receiver.status, { "content-type": "application/json" });
        response.end("{}");
      };
      if (receiver.hold?.(body)) held.push(answer);
      else answer();
    });
  });
  const held: Array<() => void> = [];
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/gitlab`,
    received,
    status: 200,
    hold: null,
    release() {
      for (const answer of held.splice(0)) answer();
    },
    async close() {
      receiver.release();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
  return receiver;
}

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

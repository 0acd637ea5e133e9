import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inlineSecret } from "../../src/config/secret.js";
import type { Rejections } from "../../src/lib/rejections.js";
import { GitLabApi } from "../../src/sources/gitlab/api.js";
import { RequestBudget } from "../../src/sources/gitlab/budget.js";
import { createGitLabRequester, type TransportOptions } from "../../src/sources/gitlab/transport.js";

export const TOKEN = "glpat-loopback-0123456789abcdef";

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every request received, path and query as sent. */
  readonly requests: Array<{ url: string; headers: IncomingMessage["headers"] }>;
  close(): Promise<void>;
}

/** A real HTTP server on a loopback port, answering with `handler`. */
export async function serveLoopback(handler: (request: IncomingMessage, response: ServerResponse, url: URL) => void): Promise<LoopbackServer> {
  const requests: LoopbackServer["requests"] = [];
  const server = createServer((request, response) => {
    requests.push({ url: request.url ?? "", headers: request.headers });
    handler(request, response, new URL(request.url ?? "/", "http://loopback"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}

export interface RecordedRejection {
  readonly source: string;
  readonly reason: string;
  readonly detail: Readonly<Record<string, unknown>> | undefined;
}

/** A GitLabApi over the real requester, recording what it counts. */
export function loopbackApi(url: string, overrides: Partial<TransportOptions> = {}) {
  const rejected: RecordedRejection[] = [];
  const rejections: Rejections = { reject: (source, reason, detail) => rejected.push({ source, reason, detail }) };
  const codes: string[] = [];
  const waits: number[] = [];
  const requester = createGitLabRequester({
    budget: new RequestBudget(1000, 4),
    requestTimeoutMs: 10_000,
    maxResponseBytes: 1 << 20,
    rejections,
    onRequest: (_, code) => codes.push(code),
    onRateLimited: (_, waitMs) => waits.push(waitMs),
    ...overrides,
  });
  const api = new GitLabApi(url, inlineSecret("GITLAB_TOKEN", TOKEN), requester, rejections);
  return { api, rejected, codes, waits };
}

import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One request the proxy saw, as it arrived. */
export interface SeenRequest {
  readonly at: number;
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * Decides what happens to one request: return true after answering it yourself (the hostile
 * part), false to have it forwarded to the target unchanged. `rewrite` may change the target's
 * answer on its way back instead.
 */
export type Interceptor = (request: IncomingMessage, response: ServerResponse, seen: SeenRequest) => boolean;
export type AnswerRewriter = (seen: SeenRequest, status: number, headers: IncomingHttpHeaders, body: Buffer) => { status: number; headers: IncomingHttpHeaders; body: Buffer } | undefined;

export interface HostileProxy {
  readonly url: string;
  readonly requests: SeenRequest[];
  intercept: Interceptor | undefined;
  /** Applied to forwarded answers that are not watch streams (those are piped through untouched). */
  rewrite: AnswerRewriter | undefined;
  close(): Promise<void>;
}

/** Bounded: a scenario that sends thousands of requests must not fill the test runner's memory. */
const MAX_SEEN = 20_000;

/**
 * A plain node:http server on a loopback address that forwards to a real simulator (`target`) and
 * lets a scenario take over any request. The simulator behind it stays the ground truth.
 */
export async function startHostileProxy(target: string, host = "127.0.0.1"): Promise<HostileProxy> {
  const targetUrl = new URL(target);
  const sockets = new Set<Socket>();
  const proxy: HostileProxy = {
    url: "",
    requests: [],
    intercept: undefined,
    rewrite: undefined,
    close: async () => {},
  };

  const server = createServer((request, response) => {
    const seen: SeenRequest = { at: Date.now(), method: request.method ?? "GET", url: request.url ?? "/", headers: request.headers };
    if (proxy.requests.length >= MAX_SEEN) proxy.requests.splice(0, MAX_SEEN / 2);
    proxy.requests.push(seen);
    response.on("error", () => {});
    if (proxy.intercept?.(request, response, seen)) return;
    forward(request, response, seen);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  function forward(request: IncomingMessage, response: ServerResponse, seen: SeenRequest): void {
    const upstream = httpRequest(
      { host: targetUrl.hostname, port: targetUrl.port, method: seen.method, path: seen.url, headers: { ...request.headers, host: targetUrl.host } },
      (answer) => {
        const streaming = /[?&]watch=(true|1)/.test(seen.url);
        if (streaming || !proxy.rewrite) {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("end", () => {
          const original = { status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) };
          const changed = proxy.rewrite?.(seen, original.status, original.headers, original.body) ?? original;
          const headers = { ...changed.headers, "content-length": String(changed.body.length) };
          delete headers["transfer-encoding"];
          response.writeHead(changed.status, headers);
          response.end(changed.body);
        });
      },
    );
    upstream.on("error", () => response.destroy());
    response.on("close", () => upstream.destroy());
    request.pipe(upstream);
  }

  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    url: `http://${host}:${port}`,
    async close() {
      proxy.intercept = undefined;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  });
}

/**
 * Writes `chunk` `times` times, waiting for the socket to drain between writes, then ends the
 * answer; stops early when the client goes away. Never holds more than one chunk.
 */
export async function writeRepeated(response: ServerResponse, chunk: Buffer, times: number, end = true): Promise<number> {
  let written = 0;
  for (let i = 0; i < times && !response.destroyed; i++) {
    if (!response.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          response.off("drain", done);
          response.off("close", done);
          resolve();
        };
        response.on("drain", done);
        response.on("close", done);
      });
    }
    written += chunk.length;
  }
  if (end && !response.destroyed) response.end();
  return written;
}

import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the Service received, and what became of it. */
export interface Forwarded {
  /** Base URL of the backend it went to; null when no backend was ready. */
  readonly backend: string | null;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly receivedAtMs: number;
  /** The backend's status; 502 when it could not be reached or cut the connection; 503 when no backend was ready. */
  status: number;
  answeredAtMs: number | null;
}

export interface ReadinessService {
  /** `http://127.0.0.1:<port>`: send requests here. */
  readonly url: string;
  /** Puts a backend (a base URL) behind the Service; it takes traffic once its `/readyz` answers 200. */
  add(backend: string): void;
  /** The backends in rotation now. */
  ready(): readonly string[];
  /** Resolves once the rotation is exactly `backends` (in any order). */
  waitForRotation(backends: readonly string[], timeoutMs?: number): Promise<void>;
  /** Every request received, in arrival order. */
  readonly log: readonly Forwarded[];
  close(): Promise<void>;
}

/** Headers about one hop's connection, not the request or answer: neither forwarded nor returned. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"]);

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  return kept;
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

/**
 * A Kubernetes Service in miniature, in front of exporter processes on loopback: requests go
 * round-robin to the backends whose `/readyz` answered 200 at the last check, checked every
 * `probeIntervalMs` (200 ms by default) as an EndpointSlice follows readiness. Like an ingress
 * controller, it keeps connections to each backend alive between requests.
 *
 * It never retries and never hides a failure: a request sent to a backend that refuses it or cuts
 * the connection gets 502, one arriving while no backend is ready 503, as GitLab's delivery would
 * get a refused connection or an error from a real Service.
 */
export async function startReadinessService(options: { probeIntervalMs?: number } = {}): Promise<ReadinessService> {
  const probeIntervalMs = options.probeIntervalMs ?? 200;
  const backends: string[] = [];
  const agents = new Map<string, Agent>();
  let rotation: string[] = [];
  let next = 0;
  const log: Forwarded[] = [];
  let closed = false;

  async function probe(): Promise<void> {
    const results = await Promise.all(
      backends.map((backend) =>
        fetch(`${backend}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
          async (response) => (await response.arrayBuffer(), response.status === 200),
          () => false,
        ),
      ),
    );
    rotation = backends.filter((_, i) => results[i]);
  }
  let probing: NodeJS.Timeout | undefined;
  const probeLoop = async () => {
    await probe();
    if (!closed) probing = setTimeout(() => void probeLoop(), probeIntervalMs);
  };

  const forward = (entry: Forwarded, backend: string, response: ServerResponse) => {
    const target = new URL(entry.path, backend);
    const upstream = request(target, { method: entry.method, headers: { ...endToEnd(entry.headers), host: target.host, "content-length": String(entry.body.length) }, agent: agents.get(backend) }, (answer) => {
      readAll(answer).then(
        (body) => {
          entry.status = answer.statusCode ?? 502;
          entry.answeredAtMs = Date.now();
          response.writeHead(entry.status, { ...endToEnd(answer.headers), "content-length": String(body.length) });
          response.end(body);
        },
        () => fail(entry, response, 502),
      );
    });
    upstream.on("error", () => fail(entry, response, 502));
    upstream.end(entry.body);
  };
  const fail = (entry: Forwarded, response: ServerResponse, status: number) => {
    if (entry.answeredAtMs !== null) return;
    entry.status = status;
    entry.answeredAtMs = Date.now();
    if (!response.headersSent) response.writeHead(status, { "content-type": "text/plain" });
    response.end(status === 503 ? "no endpoint ready\n" : "upstream failed\n");
  };

  const server = createServer((incoming, response) => {
    const receivedAtMs = Date.now();
    void readAll(incoming).then((body) => {
      const backend = rotation.length === 0 ? null : rotation[next++ % rotation.length]!;
      const entry: Forwarded = { backend, method: incoming.method ?? "GET", path: incoming.url ?? "/", headers: incoming.headers, body, receivedAtMs, status: 0, answeredAtMs: null };
      log.push(entry);
      if (backend === null) fail(entry, response, 503);
      else forward(entry, backend, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  void probeLoop();

  return {
    url: `http://127.0.0.1:${port}`,
    log,
    add(backend) {
      backends.push(backend);
      agents.set(backend, new Agent({ keepAlive: true, maxSockets: 16 }));
    },
    ready: () => rotation,
    async waitForRotation(expected, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      const matches = () => rotation.length === expected.length && expected.every((b) => rotation.includes(b));
      while (!matches()) {
        if (Date.now() > deadline) throw new Error(`rotation is [${rotation.join(", ")}], not [${expected.join(", ")}]`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      closed = true;
      clearTimeout(probing);
      for (const agent of agents.values()) agent.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

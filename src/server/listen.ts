import type { FastifyInstance } from "fastify";
import { ConfigError } from "../config/errors.js";

/** What an address must be, by the system's reason for refusing one. */
const EXPECTED: Readonly<Record<string, string>> = {
  EADDRINUSE: "a free port, but another process listens there (EADDRINUSE): stop it or choose another port",
  EACCES: "a port this user may open (EACCES: ports below 1024 need privileges; the default is 9863)",
  EADDRNOTAVAIL: "an address of this machine (EADDRNOTAVAIL), or 0.0.0.0 for all of them",
  ENOTFOUND: "a host name that resolves (ENOTFOUND), or an IP address",
  EAI_AGAIN: "a host name that resolves (EAI_AGAIN: the lookup failed), or an IP address",
  EAFNOSUPPORT: "an address of a family this machine supports (EAFNOSUPPORT: no IPv6?)",
};

/**
 * Listens on the configured address. An address the system refuses (taken, privileged, not
 * this machine's) is the setting's fault, so it is a `ConfigError` naming the setting; the
 * server is closed first.
 */
export async function listenOn(app: FastifyInstance, address: { readonly host: string; readonly port: number }, setting = "LISTEN_ADDRESS"): Promise<string> {
  try {
    return await app.listen({ host: address.host, port: address.port });
  } catch (error) {
    const expected = EXPECTED[(error as NodeJS.ErrnoException).code ?? ""];
    if (expected === undefined) throw error;
    await app.close().catch(() => undefined);
    const host = address.host.includes(":") ? `[${address.host}]` : address.host;
    throw new ConfigError(setting, JSON.stringify(`${host}:${address.port}`), expected);
  }
}

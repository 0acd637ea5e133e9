import type { FastifyReply, FastifyRequest } from "fastify";
import type { WebConfig } from "../config/server-config.js";
import { tokenMatches } from "./webhooks.js";

/**
 * Guards `/metrics` with a bearer token or basic auth, as the Prometheus exporter toolkit's web
 * configuration does. Comparison is constant-time; nothing about the expected value leaks.
 */
export function metricsGuard(web: WebConfig): ((request: FastifyRequest, reply: FastifyReply) => Promise<void>) | undefined {
  const { bearerToken, basicAuth } = web;
  if (!bearerToken && !basicAuth) return undefined;
  return async (request, reply) => {
    const given = credentials(request.headers.authorization);
    if (bearerToken) {
      const token = given?.scheme === "bearer" ? given.value : undefined;
      if (tokenMatches(token, bearerToken.value())) return;
      await reply.code(401).header("www-authenticate", 'Bearer realm="metrics"').send({ error: "missing or wrong bearer token" });
      return;
    }
    const decoded = given?.scheme === "basic" ? Buffer.from(given.value, "base64").toString("utf8") : "";
    const colon = decoded.indexOf(":");
    const userOk = tokenMatches(colon >= 0 ? decoded.slice(0, colon) : undefined, basicAuth!.username);
    const passwordOk = tokenMatches(colon >= 0 ? decoded.slice(colon + 1) : undefined, basicAuth!.password.value());
    if (userOk && passwordOk) return;
    await reply.code(401).header("www-authenticate", 'Basic realm="metrics"').send({ error: "missing or wrong credentials" });
  };
}

/** The scheme (lower-cased: RFC 7235 makes it case-insensitive) and the credentials of an Authorization header. */
function credentials(header: string | undefined): { scheme: string; value: string } | undefined {
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(.*)$/.exec(header ?? "");
  return match ? { scheme: match[1]!.toLowerCase(), value: match[2]!.trim() } : undefined;
}

import type { FastifyReply, FastifyRequest } from "fastify";
import type { WebConfig } from "../config/load.js";
import { tokenMatches } from "./webhooks.js";

/**
 * Guards `/metrics` with a bearer token or basic auth, as the Prometheus exporter toolkit's web
 * configuration does. Comparison is constant-time; nothing about the expected value leaks.
 */
export function metricsGuard(web: WebConfig): ((request: FastifyRequest, reply: FastifyReply) => Promise<void>) | undefined {
  const { bearerToken, basicAuth } = web;
  if (!bearerToken && !basicAuth) return undefined;
  return async (request, reply) => {
    const header = request.headers.authorization ?? "";
    if (bearerToken) {
      const given = header.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined;
      if (tokenMatches(given, bearerToken.value())) return;
      await reply.code(401).header("www-authenticate", 'Bearer realm="metrics"').send({ error: "missing or wrong bearer token" });
      return;
    }
    const decoded = header.startsWith("Basic ") ? Buffer.from(header.slice("Basic ".length).trim(), "base64").toString("utf8") : "";
    const colon = decoded.indexOf(":");
    const userOk = tokenMatches(colon >= 0 ? decoded.slice(0, colon) : undefined, basicAuth!.username);
    const passwordOk = tokenMatches(colon >= 0 ? decoded.slice(colon + 1) : undefined, basicAuth!.password.value());
    if (userOk && passwordOk) return;
    await reply.code(401).header("www-authenticate", 'Basic realm="metrics"').send({ error: "missing or wrong credentials" });
  };
}

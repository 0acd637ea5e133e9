import { Transform, type TransformCallback } from "node:stream";
import type { FastifyReply, FastifyRequest, preParsingAsyncHookHandler } from "fastify";
import type { ByteBudget } from "../lib/byte-budget.js";

/** The error a chunked body raises when it outgrows the budget while being read. */
export const SHED_ERROR_CODE = "GITLAB_WEBHOOK_SHED";

/**
 * Holds each webhook body's bytes in the shared in-flight budget from the moment it is read until
 * its answer is sent. A body whose declared length does not fit is not read at all: `shed` answers
 * it. A body of unknown length (chunked) reserves chunk by chunk and fails with `SHED_ERROR_CODE`
 * when one does not fit; the route's error handler then answers it as shed. Either way the rest
 * of the body is drained and dropped, never buffered: a client that writes its whole body before
 * it reads the answer (GitLab does) still gets the answer.
 */
export function holdBodiesInBudget(
  budget: ByteBudget,
  maxBodyBytes: number,
  shed: (request: FastifyRequest, reply: FastifyReply) => FastifyReply,
): preParsingAsyncHookHandler {
  return async (request, reply, payload) => {
    let held = 0;
    // Once the answer is sent (or the client gone), the body and what was parsed from it are let go.
    reply.raw.once("close", () => {
      budget.release(held);
      held = 0;
    });
    const declared = declaredLength(request.headers["content-length"]);
    if (declared !== undefined) {
      // Past the body limit it is refused unread as too large: nothing to reserve.
      if (declared > maxBodyBytes) return payload;
      if (!budget.tryReserve(declared)) {
        request.raw.resume();
        return shed(request, reply);
      }
      held = declared;
      return payload;
    }
    const counted = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
        if (!budget.tryReserve(chunk.length)) return done(Object.assign(new Error("webhook bodies in flight over GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES"), { code: SHED_ERROR_CODE, statusCode: 503 }));
        held += chunk.length;
        done(null, chunk);
      },
    });
    payload.pipe(counted);
    return counted;
  };
}

function declaredLength(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d+$/.test(header.trim())) return undefined;
  const bytes = Number(header);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

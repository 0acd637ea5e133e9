import type { FastifyInstance } from "fastify";
import type { Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { HttpLimits } from "../config/load.js";

/** What a connection is doing; the order is the order in which connections are shed. */
type Phase = "idle" | "receiving" | "answering";

interface Connection {
  /** The TCP socket: destroying it also ends the TLS session on top. */
  readonly tcp: Socket;
  phase: Phase;
  /** Responses begun on it and not yet finished (more than one only when requests are pipelined). */
  answering: number;
}

export interface ShedReport {
  /** `at_cap`: closed to make room for a newcomer; `refused`: the newcomer, when every connection was being answered. */
  (reason: "at_cap" | "refused"): void;
}

/**
 * Keeps the number of open connections at `maxConnections` without letting a flood lock out the
 * kubelet's probes: a connection arriving at the cap closes the oldest connection that is not
 * being answered (idle ones first, then ones still sending their request), so a probe, which
 * sends its request at once and is answered in microseconds, always gets through. A connection
 * is refused only when every open one is being answered.
 *
 * On shutdown, every connection not being answered is closed at once and any newcomer is closed
 * on arrival; each answered one is closed when its response is written, so a slow client
 * cannot hold the exit while scrapes in flight still finish.
 */
export class ConnectionGuard {
  /** In the order they were opened, so the first match is the oldest. */
  private readonly open = new Map<Socket, Connection>();
  /** By the socket HTTP reads from: the TLS socket with TLS, else the TCP socket itself. */
  private readonly byHttpSocket = new WeakMap<Socket, Connection>();
  private readonly answered = new WeakSet<ServerResponse>();
  private closing = false;

  constructor(
    private readonly maxConnections: number,
    private readonly idleTimeoutMs: number,
    private readonly onShed: ShedReport = () => {},
  ) {}

  /** Starts tracking the server's connections; `tls`: the server speaks TLS on top of TCP. */
  watch(server: Server, tls: boolean): void {
    server.on("connection", (tcp: Socket) => this.opened(tcp));
    if (tls) {
      // The TLS socket is a new object over the TCP one; both show the same peer address and port.
      server.on("secureConnection", (secure: Socket) => {
        for (const [tcp, connection] of this.open) {
          if (tcp.remotePort === secure.remotePort && tcp.remoteAddress === secure.remoteAddress) {
            this.byHttpSocket.set(secure, connection);
            return;
          }
        }
      });
    }
  }

  /** A request's headers arrived; its body may still be on the way. */
  requestStarted(socket: Socket, response: ServerResponse): void {
    const connection = this.byHttpSocket.get(socket);
    if (!connection) return;
    if (connection.phase === "idle") connection.phase = "receiving";
    // Node clears a kept-alive socket's inactivity timeout when its next request starts: this
    // restores it, so a client that stops reading its response is cut on every request, not only the first.
    socket.setTimeout(this.idleTimeoutMs);
    response.once("close", () => {
      if (this.answered.delete(response)) connection.answering--;
      if (connection.answering > 0) return;
      connection.phase = "idle";
      // After the last byte: ending, not destroying, lets the kernel deliver what it still holds.
      if (this.closing) connection.tcp.destroySoon();
    });
  }

  /** The request has been read whole and its answer begins; the connection is not shed until it is written. */
  answering(socket: Socket, response: ServerResponse): void {
    const connection = this.byHttpSocket.get(socket);
    if (!connection || this.answered.has(response)) return;
    this.answered.add(response);
    connection.phase = "answering";
    connection.answering++;
  }

  /** Shutdown: closes every connection not being answered, now and on arrival. */
  closeUnanswered(): void {
    this.closing = true;
    for (const connection of this.open.values()) {
      if (connection.phase !== "answering") connection.tcp.destroy();
    }
  }

  private opened(tcp: Socket): void {
    if (this.closing) {
      tcp.destroy();
      return;
    }
    const connection: Connection = { tcp, phase: "idle", answering: 0 };
    this.open.set(tcp, connection);
    this.byHttpSocket.set(tcp, connection);
    tcp.once("close", () => this.open.delete(tcp));
    if (this.open.size <= this.maxConnections) return;
    const victim = this.oldestIn("idle", connection) ?? this.oldestIn("receiving", connection);
    if (victim) {
      this.onShed("at_cap");
      this.drop(victim);
    } else {
      this.onShed("refused");
      this.drop(connection);
    }
  }

  private oldestIn(phase: Phase, newcomer: Connection): Connection | undefined {
    for (const connection of this.open.values()) if (connection.phase === phase && connection !== newcomer) return connection;
    return undefined;
  }

  private drop(connection: Connection): void {
    // Counted out now, not when the close event comes: a burst of newcomers must each find the room.
    this.open.delete(connection.tcp);
    connection.tcp.destroy();
  }
}

export interface ShedLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Logs connections shed at the cap: the first at once, then one line a minute with the counts since. */
export function shedLog(log: ShedLog, maxConnections: number, now: () => number = Date.now): ShedReport {
  let lastLogMs = -Infinity;
  const counts = { at_cap: 0, refused: 0 };
  return (reason) => {
    counts[reason]++;
    if (now() - lastLogMs < 60_000) return;
    lastLogMs = now();
    log.warn({ maxConnections, closedAtCap: counts.at_cap, refused: counts.refused }, "HTTP connection cap reached; connections closed");
    counts.at_cap = 0;
    counts.refused = 0;
  };
}

/** Puts a guard on the app's connections: tracked from accept, through each request, to shutdown. */
export function guardConnections(app: FastifyInstance, limits: HttpLimits, options: { readonly tls: boolean; readonly log?: ShedLog }): ConnectionGuard {
  const guard = new ConnectionGuard(limits.maxConnections, limits.idleTimeoutMs, options.log ? shedLog(options.log, limits.maxConnections) : undefined);
  guard.watch(app.server, options.tls);
  app.addHook("onRequest", (request, reply, done) => {
    guard.requestStarted(request.raw.socket, reply.raw);
    done();
  });
  // After the body is read and before the handler runs: from here the request is being answered.
  app.addHook("preHandler", (request, reply, done) => {
    guard.answering(request.raw.socket, reply.raw);
    done();
  });
  return guard;
}

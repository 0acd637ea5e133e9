import type { FastifyInstance } from "fastify";
import type { Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { HttpLimits } from "../config/server-config.js";

/** What a connection is doing: `idle` before its first request or between kept-alive requests. */
type Phase = "idle" | "receiving" | "answering";

/**
 * A connection this young that has not sent a request yet is a client that just connected (a
 * probe whose request is in the kernel, not yet read): it is shed only when nothing older is left.
 */
const NEWCOMER_GRACE_MS = 1000;
/** How far a burst of fresh connections may overshoot the cap, as a multiple of it, while their grace runs. */
const BURST_ALLOWANCE = 4;

interface Connection {
  /** The TCP socket: destroying it also ends the TLS session on top. */
  readonly tcp: Socket;
  phase: Phase;
  /** Responses begun on it and not yet finished (more than one only when requests are pipelined). */
  answering: number;
  readonly openedAtMs: number;
  /** Whether a request was ever read on it: an idle connection that had one is a kept-alive one. */
  hadRequest: boolean;
}

export interface ShedReport {
  /** `at_cap`: closed to make room for a newcomer; `refused`: the newcomer, when every connection was being answered. */
  (reason: "at_cap" | "refused"): void;
}

/**
 * Keeps the number of open connections at `maxConnections` without letting a flood lock out the
 * kubelet's probes: a connection arriving at the cap closes the oldest connection that is not
 * being answered (slow clients first: still sending their request, or silent past a second; fresh
 * and kept-alive ones only past an allowance or the grace), so a probe, which sends its request at once and is answered in microseconds,
 * gets through even while a flood of slow clients keeps arriving. A connection is refused only
 * when every open one is being answered.
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
  private trimming = false;
  private regrace: NodeJS.Timeout | undefined;

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
    connection.hadRequest = true;
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
    const connection: Connection = { tcp, phase: "idle", answering: 0, openedAtMs: Date.now(), hadRequest: false };
    this.open.set(tcp, connection);
    this.byHttpSocket.set(tcp, connection);
    tcp.once("close", () => this.open.delete(tcp));
    if (this.open.size <= this.maxConnections) return;
    if (this.victim(connection) === undefined) {
      // Every other connection is being answered: there is no one to shed but the newcomer.
      this.onShed("refused");
      this.drop(connection);
      return;
    }
    this.trimSoon();
  }

  /**
   * Sheds down to the cap once the connections accepted in this burst had their first bytes read:
   * the event loop accepts a whole burst before it reads from any of them, so a probe accepted in
   * the middle of a flood has not said anything yet. A connection younger than the grace that has
   * said nothing is spared, up to `BURST_ALLOWANCE` times the cap, and looked at again when the
   * grace is over; by then a probe has been answered and a silent client is a slow one.
   */
  private trimSoon(): void {
    if (this.trimming) return;
    this.trimming = true;
    setImmediate(() =>
      setImmediate(() => {
        this.trimming = false;
        this.trim();
      }),
    );
  }

  private trim(afterGrace = false): void {
    while (this.open.size > this.maxConnections) {
      // Past the allowance, or once the grace is over, well-behaved and fresh connections go too.
      const victim = this.victim(undefined, afterGrace || this.open.size > this.maxConnections * BURST_ALLOWANCE);
      if (!victim) break;
      this.onShed("at_cap");
      this.drop(victim);
    }
    if (this.open.size > this.maxConnections && this.regrace === undefined) {
      this.regrace = setTimeout(() => {
        this.regrace = undefined;
        this.trim(true);
      }, NEWCOMER_GRACE_MS).unref();
    }
  }

  /**
   * Who makes room, oldest first within each kind: a slow client (still sending its request, or
   * connected past the grace without sending one); with `beyondSlow` also a fresh connection
   * that has said nothing yet, then a kept-alive idle one (a well-behaved client such as
   * Prometheus, which reconnects, or one holding connections open, which the idle timeout ends
   * anyway). Never one being answered.
   */
  private victim(except?: Connection, beyondSlow = true): Connection | undefined {
    const now = Date.now();
    let fresh: Connection | undefined;
    let keptAlive: Connection | undefined;
    for (const connection of this.open.values()) {
      if (connection === except || connection.phase === "answering") continue;
      if (connection.phase === "receiving") return connection;
      if (connection.hadRequest) keptAlive ??= connection;
      else if (now - connection.openedAtMs >= NEWCOMER_GRACE_MS) return connection;
      else fresh ??= connection;
    }
    return beyondSlow ? (fresh ?? keptAlive) : undefined;
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

import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { LeaseElector, leaseApi } from "../../src/sources/kube/lease.js";
import { KubeWorld, startKubeSimulator, type KubeSimulator } from "../../src/simulator/kube/index.js";
import { eventually } from "../helpers/prom.js";

/**
 * The Lease elector through client-node's CoordinationV1Api against the simulated API server,
 * which holds Leases with optimistic concurrency and refuses times that are not MicroTime.
 */
const DURATION_MS = 2000;

let kube: KubeSimulator | undefined;
const electors: LeaseElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
  await kube?.close();
  kube = undefined;
});

interface Replica {
  readonly elector: LeaseElector;
  readonly name: string;
  readonly events: Array<{ readonly at: number; readonly what: "started" | "stopped"; readonly sinceMs?: number | null }>;
}

async function replicas(names: string[]): Promise<Replica[]> {
  kube ??= await startKubeSimulator({ world: new KubeWorld() });
  const kc = new KubeConfig();
  kc.loadFromString(kube.kubeconfig());
  return names.map((name) => {
    const events: Replica["events"] = [];
    const elector = new LeaseElector({
      api: leaseApi(kc),
      namespace: "monitoring",
      name: "exporter-shard-0",
      identity: name,
      durationMs: DURATION_MS,
      log: pino({ level: "silent" }),
      onStartedLeading: (sinceMs) => events.push({ at: Date.now(), what: "started", sinceMs }),
      onStoppedLeading: () => events.push({ at: Date.now(), what: "stopped" }),
    });
    electors.push(elector);
    return { elector, name, events };
  });
}

const holder = () => kube!.objects.lease("monitoring", "exporter-shard-0")?.spec?.holderIdentity;

describe("the shard Lease", () => {
  it("elects one replica, and hands over within the Lease duration when it dies, from its last renewal", async () => {
    const all = await replicas(["exporter-0", "exporter-1", "exporter-2"]);
    for (const r of all) r.elector.start();
    const leader = await eventually(() => {
      const leading = all.filter((r) => r.elector.isLeader);
      expect(leading).toHaveLength(1);
      expect(holder()).toBe(leading[0]!.name);
      return leading[0]!;
    }, 5000);
    // It renews: the Lease stays its own over several durations, and nobody else leads meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 2 * DURATION_MS));
    expect(all.filter((r) => r.elector.isLeader)).toEqual([leader]);
    expect(leader.events.map((e) => e.what)).toEqual(["started"]);

    const lastRenewal = Date.parse(String(kube!.objects.lease("monitoring", "exporter-shard-0")!.spec!.renewTime));
    const killedAt = Date.now();
    await leader.elector.stop({ release: false });
    const others = all.filter((r) => r !== leader);
    const next = await eventually(() => {
      const leading = others.filter((r) => r.elector.isLeader);
      expect(leading).toHaveLength(1);
      return leading[0]!;
    }, 3 * DURATION_MS, 20);
    const started = next.events.find((e) => e.what === "started")!;
    console.log(`Lease handover: ${started.at - killedAt} ms after the holder died, ${started.at - lastRenewal} ms after its last renewal (duration ${DURATION_MS} ms)`);
    expect(started.at - lastRenewal).toBeLessThanOrEqual(DURATION_MS + 150);
    expect(started.at - killedAt).toBeLessThanOrEqual(DURATION_MS + 150);
    expect(started.sinceMs).toBeGreaterThanOrEqual(lastRenewal - DURATION_MS / 5);
    expect(started.sinceMs).toBeLessThanOrEqual(killedAt);
    expect(holder()).toBe(next.name);
    // Of the two standbys, one won; the other never led.
    expect(others.filter((r) => r.events.length > 0)).toEqual([next]);
    expect(kube!.objects.lease("monitoring", "exporter-shard-0")!.spec!.leaseTransitions).toBe(1);
  });

  it("is released on a graceful stop, so a standby takes over at its next reading", async () => {
    const [a, b] = await replicas(["exporter-0", "exporter-1"]);
    a!.elector.start();
    await eventually(() => expect(a!.elector.isLeader).toBe(true), 5000);
    b!.elector.start();
    await new Promise((resolve) => setTimeout(resolve, DURATION_MS / 2));
    const stoppedAt = Date.now();
    await a!.elector.stop();
    await eventually(() => expect(b!.elector.isLeader).toBe(true), DURATION_MS, 20);
    expect(Date.now() - stoppedAt).toBeLessThan(DURATION_MS / 2);
    expect(holder()).toBe("exporter-1");
  });

  it("stands down when it cannot renew, before a standby may take over", async () => {
    const [a, b] = await replicas(["exporter-0", "exporter-1"]);
    a!.elector.start();
    await eventually(() => expect(a!.elector.isLeader).toBe(true), 5000);
    b!.elector.start();
    kube!.objects.leasesFailing = true;
    const failingAt = Date.now();
    await eventually(() => expect(a!.events.map((e) => e.what)).toEqual(["started", "stopped"]), 2 * DURATION_MS, 20);
    const stoppedAt = a!.events[1]!.at;
    expect(stoppedAt - failingAt).toBeLessThan(DURATION_MS);
    expect(b!.elector.isLeader).toBe(false);
    kube!.objects.leasesFailing = false;
    await eventually(() => expect([a, b].filter((r) => r!.elector.isLeader)).toHaveLength(1), 3 * DURATION_MS);
  });

  it("is written with MicroTime stamps the API server parses", async () => {
    const [a] = await replicas(["exporter-0"]);
    a!.elector.start();
    await eventually(() => expect(a!.elector.isLeader).toBe(true), 5000);
    const spec = kube!.objects.lease("monitoring", "exporter-shard-0")!.spec!;
    expect(String(spec.renewTime)).toMatch(/\.\d{6}Z$/);
    expect(spec.leaseDurationSeconds).toBe(2);
  });
});

/**
 * The instance types the simulated cluster's nodes run on: their size, what EKS leaves pods of it
 * (`status.allocatable`), and an hourly price table in the shape of `KUBE_NODE_PRICES_FILE`. The
 * on-demand prices are AWS us-east-1 Linux list prices; the spot prices are a typical market
 * moment (spot prices move every few minutes), so the demo's and the tests' money is plausible,
 * not a quote.
 */
export interface InstanceType {
  readonly vcpu: number;
  readonly memoryGiB: number;
  /** Pods the VPC CNI gives the type (its ENIs × IPs per ENI − 1, + 2), which EKS reserves memory for. */
  readonly maxPods: number;
  readonly onDemand: number;
  readonly spot: number;
}

export const INSTANCE_TYPES: Readonly<Record<string, InstanceType>> = {
  "m5.large": { vcpu: 2, memoryGiB: 8, maxPods: 29, onDemand: 0.096, spot: 0.0374 },
  "m5.xlarge": { vcpu: 4, memoryGiB: 16, maxPods: 58, onDemand: 0.192, spot: 0.0751 },
  "m5.2xlarge": { vcpu: 8, memoryGiB: 32, maxPods: 58, onDemand: 0.384, spot: 0.1502 },
  "m6i.xlarge": { vcpu: 4, memoryGiB: 16, maxPods: 58, onDemand: 0.192, spot: 0.0721 },
  "m6i.2xlarge": { vcpu: 8, memoryGiB: 32, maxPods: 58, onDemand: 0.384, spot: 0.1442 },
  "c5a.2xlarge": { vcpu: 8, memoryGiB: 16, maxPods: 58, onDemand: 0.308, spot: 0.1201 },
  "c6i.xlarge": { vcpu: 4, memoryGiB: 8, maxPods: 58, onDemand: 0.17, spot: 0.0648 },
  "c6i.2xlarge": { vcpu: 8, memoryGiB: 16, maxPods: 58, onDemand: 0.34, spot: 0.1295 },
  "c6i.4xlarge": { vcpu: 16, memoryGiB: 32, maxPods: 234, onDemand: 0.68, spot: 0.259 },
  "c7i.4xlarge": { vcpu: 16, memoryGiB: 32, maxPods: 234, onDemand: 0.714, spot: 0.2869 },
  "r6i.2xlarge": { vcpu: 8, memoryGiB: 64, maxPods: 58, onDemand: 0.504, spot: 0.1848 },
};

const MI = 1024;

/**
 * A node's `status.capacity` and `status.allocatable` as EKS sets them: kube-reserved CPU of 6 %
 * of the first core, 1 % of the second, 0.5 % of the next two and 0.25 % of the rest; memory of
 * 255 MiB + 11 MiB per pod it may run, and 100 MiB kept for the kubelet's hard eviction.
 */
export function nodeResources(instanceType: string): { capacity: Record<string, string>; allocatable: Record<string, string> } | null {
  const shape = INSTANCE_TYPES[instanceType];
  if (!shape) return null;
  const cores = shape.vcpu;
  const reservedMillicores = 60 + (cores > 1 ? 10 : 0) + Math.min(2, Math.max(0, cores - 2)) * 5 + Math.max(0, cores - 4) * 2.5;
  const memoryKi = shape.memoryGiB * MI * MI;
  const reservedKi = (255 + 11 * shape.maxPods + 100) * MI;
  return {
    capacity: { cpu: String(cores), memory: `${memoryKi}Ki`, pods: String(shape.maxPods) },
    allocatable: { cpu: `${cores * 1000 - reservedMillicores}m`, memory: `${memoryKi - reservedKi}Ki`, pods: String(shape.maxPods) },
  };
}

/** `KUBE_NODE_PRICES_FILE` for the simulated cluster, every instance type of the catalogue priced. */
export function simulatedPricesYaml(currency = "USD"): string {
  const lines = [`currency: ${currency}`, "instanceTypes:"];
  for (const [type, shape] of Object.entries(INSTANCE_TYPES)) lines.push(`  ${type}: { onDemand: ${shape.onDemand}, spot: ${shape.spot} }`);
  return `${lines.join("\n")}\n`;
}

/**
 * The layering of src/, checked on every `npm test` (docs/architecture.md explains the layers).
 * Data flows one way: sources emit domain events into sinks, state applies them, families read
 * state, the server serves them; main.ts wires.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import circle means two files cannot be understood or changed apart.",
      from: {},
      to: { circular: true },
    },
    {
      name: "domain-is-pure",
      severity: "error",
      comment: "domain/ is pure logic: it imports only other domain files.",
      from: { path: "^src/domain/" },
      to: { path: "^src/", pathNot: "^src/domain/" },
    },
    {
      name: "lib-stands-alone",
      severity: "error",
      comment: "lib/ holds mechanisms (backoff, bounded memory, sleep): it knows nothing of the exporter.",
      from: { path: "^src/lib/" },
      to: { path: "^src/", pathNot: "^src/lib/" },
    },
    {
      name: "state-knows-only-domain",
      severity: "error",
      comment: "state/ applies domain events: it imports only domain/ and lib/.",
      from: { path: "^src/state/" },
      to: { path: "^src/", pathNot: "^src/(state|domain|lib)/" },
    },
    {
      name: "sources-emit-events",
      severity: "error",
      comment: "sources/ emit domain events into sinks they declare: they import neither state nor metrics.",
      from: { path: "^src/sources/" },
      to: { path: "^src/(state|metrics|server)/" },
    },
    {
      name: "metrics-read-state",
      severity: "error",
      comment: "metrics/ renders what state holds: no sources, no server.",
      from: { path: "^src/metrics/" },
      to: { path: "^src/(sources|server|config)/" },
    },
    {
      name: "simulator-is-a-world-apart",
      severity: "error",
      comment: "Production code never imports the simulator; only the demo, tests and the benchmark do.",
      from: { path: "^src/", pathNot: "^src/(simulator/|demo/|demo\\.ts$)" },
      to: { path: "^src/simulator/" },
    },
    {
      name: "the-demo-is-no-dependency",
      severity: "error",
      comment: "The demo (demo.ts and demo/) plays the simulator against the exporter; the exporter never imports it.",
      from: { path: "^src/", pathNot: "^src/(demo/|demo\\.ts$)" },
      to: { path: "^src/(demo/|demo\\.ts$)" },
    },
    {
      name: "production-imports-no-tests",
      severity: "error",
      comment: "Neither production code nor the benchmark imports a test helper.",
      from: { path: "^(src|bench)/" },
      to: { path: "^test/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".json"] },
  },
};

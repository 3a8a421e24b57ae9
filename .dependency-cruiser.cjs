// The layering greenlight keeps, checked in `npm test` (`npm run deps`). Folders, from the bottom up:
//   functions/contract                          the annotation contract and shared pure helpers
//   functions/deployment                        pure readings of a Deployment (progress, readiness, fingerprint)
//   functions/kube, functions/http,             adapters every part shares (Kubernetes clients and calls; the
//   functions/secrets                           HTTP core's message and its Node, Lambda and Web adapters; the
//                                               Lambda entries' secrets fetched by name from SSM/Secrets Manager)
//   functions/canary, bluegreen, rolling        the strategies: peers, each its pure core and its I/O
//   functions/flags                             feature flags (core, stores, HTTP)
//   functions/stepper                           the scheduled pass, which drives the strategies
//   webhooks/                                   the admission webhooks
//   scripts/                                    CLI, local stack, demo, bench, simulator
// Product code never imports test/. No cycles between folders.
const STRATEGIES = ["canary", "bluegreen", "rolling"];

const peerRules = STRATEGIES.map((strategy) => ({
  name: `${strategy}-is-a-peer`,
  comment: `functions/${strategy} must not import another strategy or the scheduled pass that drives it`,
  severity: "error",
  from: { path: `^functions/${strategy}/` },
  to: { path: `^functions/(${[...STRATEGIES.filter((other) => other !== strategy), "stepper"].join("|")})/` },
}));

module.exports = {
  forbidden: [
    {
      name: "no-test-in-product",
      comment: "product code (functions, webhooks, scripts) never imports test/",
      severity: "error",
      from: { path: "^(functions|webhooks|scripts)/" },
      to: { path: "^test/" },
    },
    {
      name: "contract-at-the-bottom",
      comment: "functions/contract imports nothing else of greenlight's",
      severity: "error",
      from: { path: "^functions/contract/" },
      to: { path: "^(functions/(?!contract/)|webhooks/|scripts/)" },
    },
    {
      name: "deployment-readings-are-pure",
      comment: "functions/deployment reads Deployments as data: only the contract below it",
      severity: "error",
      from: { path: "^functions/deployment/" },
      to: { path: "^(functions/(?!(contract|deployment)/)|webhooks/|scripts/)" },
    },
    {
      name: "judge-is-pure-statistics",
      comment:
        "functions/judge is shared by canaries and flag rollouts: plain numbers in, verdicts out (read.ts reads a window through a reader passed in)",
      severity: "error",
      from: { path: "^functions/judge/" },
      to: { path: "^(functions/(?!judge/)|webhooks/|scripts/)" },
    },
    {
      name: "shared-adapters-know-no-feature",
      comment: "functions/kube, http and secrets serve every feature, so they import none",
      severity: "error",
      from: { path: "^functions/(kube|http|secrets)/" },
      to: { path: "^(functions/(canary|bluegreen|rolling|flags|stepper)/|webhooks/|scripts/)" },
    },
    ...peerRules,
    {
      name: "flags-stand-alone",
      comment: "feature flags share nothing with the rollout strategies or the scheduled pass",
      severity: "error",
      from: { path: "^functions/flags/" },
      to: { path: "^functions/(canary|bluegreen|rolling|stepper|deployment|kube)/" },
    },
    {
      name: "flag-rollout-core-is-pure",
      comment:
        "a guarded rollout's decisions (functions/flags/rollout/ but step.ts and read.ts, its I/O) use plain data, the judge, the contract and the validators' messages (problems.ts): no store, no HTTP",
      severity: "error",
      from: { path: "^functions/flags/rollout/(?!(step|read)\\.ts$)" },
      to: {
        path: "^(functions/flags/(?!(rollout/|types\\.ts$|hash\\.ts$|problems\\.ts$))|functions/(?!(flags|judge|contract)/))",
      },
    },
    {
      name: "flag-rollout-core-needs-no-node",
      comment: "the rollout core runs wherever the flag validator does (the edge too): no Node built-in",
      severity: "error",
      from: { path: "^functions/flags/rollout/(?!(step|read)\\.ts$)" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "notify-knows-no-feature",
      comment:
        "functions/notify turns events into messages and sends them: the strategies and the flag store call it, never the reverse",
      severity: "error",
      from: { path: "^functions/notify/" },
      to: { path: "^functions/(canary|bluegreen|rolling|stepper|flags|deployment|judge)/" },
    },
    {
      name: "functions-below-webhooks-and-scripts",
      comment: "functions/ never imports webhooks/ or scripts/",
      severity: "error",
      from: { path: "^functions/" },
      to: { path: "^(webhooks|scripts)/" },
    },
    {
      name: "webhooks-below-scripts",
      comment: "webhooks/ never imports scripts/",
      severity: "error",
      from: { path: "^webhooks/" },
      to: { path: "^scripts/" },
    },
    {
      name: "no-folder-cycles",
      comment: "no cycle of imports between folders (cli -> local -> cli was one)",
      severity: "error",
      scope: "folder",
      from: { path: "^(functions|webhooks|scripts)/" },
      to: { circular: true },
    },
    {
      name: "cli-at-the-top",
      comment: "the CLI uses the local stack, the simulator and the demo; none of them uses the CLI",
      severity: "error",
      from: { path: "^scripts/(?!cli/)[^/]+/" },
      to: { path: "^scripts/cli/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|dist|\\.esbuild|\\.serverless)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".mts", ".mjs", ".js"] },
  },
};

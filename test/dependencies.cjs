// The import rules of gymgate, checked by dependency-cruiser in `npm test` (test/run.mjs):
// `npx depcruise --config test/dependencies.cjs core edge device`. Type-only imports count: a
// circle through types is still a circle for whoever reads or moves the code.
// The subsystems of edge/ (edge/README.md): each owns its tables and is imported through its index.ts.
// dev/ (Node-side tooling that runs the gym locally), lib/ and db/ are shared, not subsystems.
const SUBSYSTEM = '^edge/(organisation|auth|access|members|devices|checkins|entitlements|billing|payments|dunning|notifications)/';
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-import-cycle',
      severity: 'error',
      comment:
        'This import closes a circle of modules. Imports run one way (dunning → billing → payments → core; anything → notifications and the entitlement change writer); ' +
        'turn the call that goes back up into a callback or an event registered once in edge/wiring.ts.',
      from: { path: '^(core|edge|device)/' },
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment: 'core/ holds decisions as functions of data: it may import only core/ and zod (no I/O, no node: modules, nothing from edge/ or device/).',
      from: { path: '^core/' },
      to: { pathNot: ['^core/', '^node_modules/zod/'] },
    },
    {
      name: 'edge-not-device',
      severity: 'error',
      comment: 'The Worker (edge/) and the door agent (device/) share only core/: edge/ may not import device/.',
      from: { path: '^edge/' },
      to: { path: '^device/' },
    },
    {
      name: 'device-not-edge',
      severity: 'error',
      comment: 'The door agent (device/) and the Worker (edge/) share only core/: device/ may not import edge/.',
      from: { path: '^device/' },
      to: { path: '^edge/' },
    },
    {
      name: 'subsystem-through-index',
      severity: 'error',
      comment:
        'Another subsystem is reached only through its index.ts, which says what it offers (edge/README.md lists the subsystems). ' +
        'Export what you need from that index; if that closes a circle, the call goes the wrong way: turn it into a port or callback wired in edge/wiring.ts.',
      from: { path: '^edge/([^/]+)/', pathNot: ['^edge/dev/', '/tables\\.ts$', '^edge/db/schema\\.ts$'] },
      to: { path: SUBSYSTEM, pathNot: ['^edge/$1/', '^edge/[^/]+/index\\.ts$'] },
    },
    {
      name: 'composition-through-index',
      severity: 'error',
      comment: 'edge/app.ts, edge/index.ts and edge/wiring.ts compose the subsystems from what their index.ts files offer.',
      from: { path: '^edge/[^/]+\\.ts$' },
      to: { path: SUBSYSTEM, pathNot: ['^edge/[^/]+/index\\.ts$'] },
    },
    {
      name: 'tables-reference-tables',
      severity: 'error',
      comment: "A subsystem's tables.ts may reference another subsystem's tables (foreign keys) and nothing else of it.",
      from: { path: '^edge/([^/]+)/tables\\.ts$' },
      to: { path: SUBSYSTEM, pathNot: ['^edge/$1/', '^edge/[^/]+/tables\\.ts$'] },
    },
    {
      name: 'not-to-test',
      severity: 'error',
      comment: 'Shipped code may not import test code.',
      from: { path: '^(core|edge|device)/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.d\\.ts$' },
  },
};

// The import rules of gymgate, checked by dependency-cruiser in `npm test` (test/run.mjs):
// `npx depcruise --config test/dependencies.cjs core edge device`. Type-only imports count: a
// circle through types is still a circle for whoever reads or moves the code.
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

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests run against the TypeScript sources of the workspace packages, so `npm test` needs no build step.
export default defineConfig({
  resolve: {
    alias: {
      '@oppie/protocol': src('./protocol/src/index.ts'),
      '@oppie/relay': src('./server/src/index.ts'),
      '@oppie/test-kit': src('./test/src/index.ts'),
      '@oppie/client-sdk': src('./client-sdk/src/index.ts'),
      '@oppie/sidecar-sdk': src('./sidecar-sdk/src/index.ts'),
      '@oppie/sidecar-demo/messages': src('./examples/sidecar-demo/src/messages.ts'),
      '@oppie/sidecar-demo': src('./examples/sidecar-demo/src/index.ts'),
    },
  },
  test: {
    include: ['{protocol,server,client-sdk,sidecar-sdk,test,bench}/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Under CI a JSON report is written too; .ci/run prints its plain "N passed, N failed" line.
    reporters: process.env.CI === 'true' ? ['default', 'json'] : ['default'],
    outputFile: { json: '.vitest-artifacts/results.json' },
  },
});

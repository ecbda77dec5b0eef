/**
 * Vite config of the reference PWA. The SDK comes from its prebuilt single-file browser bundle (which already holds
 * the polyfills simple-peer needs), never from client-sdk sources. In dev, the relay's HTTP API and WebSocket
 * session are proxied so the app talks to `location.origin` exactly as it does behind the production reverse proxy.
 *
 *   OPPIE_RELAY_URL=http://127.0.0.1:8080 npx vite examples/pwa
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const at = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const relay = process.env.OPPIE_RELAY_URL ?? 'http://127.0.0.1:8080';

/**
 * Emits dist/sw.js from src/sw.js with the build's asset list and a version (a hash of that list) in front, so the
 * service worker precaches exactly this build and a new build replaces its cache.
 */
function serviceWorker(): Plugin {
  return {
    name: 'oppie-service-worker',
    apply: 'build',
    async generateBundle(_options, bundle) {
      const assets = Object.keys(bundle)
        .filter((f) => !f.endsWith('.map') && f !== 'index.html')
        .sort()
        .map((f) => `/${f}`);
      const version = createHash('sha256').update(assets.join('\n')).digest('hex').slice(0, 12);
      const source = await readFile(at('src/sw.js'), 'utf8');
      const build = `self.OPPIE_BUILD = ${JSON.stringify({ version, assets })};\n`;
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: build + source });
    },
  };
}

export default defineConfig({
  root: at('.'),
  base: '/',
  plugins: [serviceWorker()],
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: {
    alias: {
      'oppie-client': at('../../client-sdk/dist/browser/oppie-client.js'),
    },
  },
  build: {
    outDir: at('dist'),
    emptyOutDir: true,
    target: 'es2022',
    // The SDK bundle is ~750 KiB minified on its own (libsodium's WebAssembly inlined); it is one chunk by design.
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      output: {
        // The SDK in its own chunk: an app update does not make phones download it again.
        manualChunks: (id) => (id.includes('/client-sdk/dist/browser/') ? 'oppie-client' : undefined),
      },
    },
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: relay, changeOrigin: true },
      '/.well-known': { target: relay, changeOrigin: true },
      '/session': { target: relay, changeOrigin: true, ws: true },
    },
  },
  preview: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: relay, changeOrigin: true },
      '/.well-known': { target: relay, changeOrigin: true },
      '/session': { target: relay, changeOrigin: true, ws: true },
    },
  },
});

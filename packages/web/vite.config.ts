import { gzipSync } from "node:zlib";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

/**
 * After the build, one line for what a first visit downloads (the entry chunk, its static imports and the CSS)
 * and one for the whole bundle, raw and gzipped: pages with charts and graphs load their chunks lazily.
 */
function bundleSizeReport(): Plugin {
  return {
    name: "ring3-bundle-size",
    apply: "build",
    writeBundle(_options, bundle) {
      const sizes = new Map<string, { raw: number; gzip: number }>();
      for (const [name, item] of Object.entries(bundle)) {
        const bytes = item.type === "chunk" ? Buffer.from(item.code) : Buffer.from(item.source);
        sizes.set(name, { raw: bytes.length, gzip: gzipSync(bytes).length });
      }
      const initial = new Set<string>();
      const visit = (name: string): void => {
        const item = bundle[name];
        if (item === undefined || initial.has(name)) return;
        initial.add(name);
        if (item.type === "chunk") {
          item.imports.forEach(visit);
          item.viteMetadata?.importedCss.forEach(visit);
        }
      };
      for (const [name, item] of Object.entries(bundle)) if (item.type === "chunk" && item.isEntry) visit(name);
      const sum = (names: Iterable<string>) => {
        let raw = 0;
        let gzip = 0;
        for (const name of names) {
          raw += sizes.get(name)?.raw ?? 0;
          gzip += sizes.get(name)?.gzip ?? 0;
        }
        return `${(raw / 1024).toFixed(1)} kB (gzip ${(gzip / 1024).toFixed(1)} kB)`;
      };
      this.info(`first load ${sum(initial)}; whole bundle ${sum(sizes.keys())} in ${sizes.size} files`);
    },
  };
}

export default defineConfig({
  plugins: [react(), bundleSizeReport()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 800 },
  server: {
    // `npm run dev -w @ring3/web` against a running `ring3 up`: the API and the live stream are proxied.
    proxy: { "/api": { target: process.env["R3_DEV_API"] ?? "http://127.0.0.1:8443", changeOrigin: false } },
  },
});

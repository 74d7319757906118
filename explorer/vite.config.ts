import { defineConfig } from "vite";
import type { Plugin } from "vite";

// The drawing's chunk (cytoscape and fcose, most of the page's script) is imported on
// demand, so vite would only ask for it once the page's script runs, which is when the
// page also sends its queries, and one server answers both. Preloading it from index.html
// gets it in (and parsed) while the page's own script is still loading.
function preloadDrawing(): Plugin {
  return {
    name: "idgraph-preload-drawing",
    apply: "build",
    transformIndexHtml: {
      order: "post",
      handler(_html, ctx) {
        const chunk = Object.values(ctx.bundle ?? {}).find(
          (c) => c.type === "chunk" && c.facadeModuleId?.endsWith("/src/graph.ts"));
        if (!chunk) return [];
        return [{ tag: "link", attrs: { rel: "modulepreload", crossorigin: true, href: `/explorer/${chunk.fileName}` }, injectTo: "head" }];
      },
    },
  };
}

// The page is served by the idgraph app at /explorer/ (app/web/routes.py); the build goes
// into the Python package so that `pip install` alone serves it.
export default defineConfig({
  base: "/explorer/",
  plugins: [preloadDrawing()],
  build: {
    outDir: "../app/web/static",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1200,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev`: proxy the API of an `idgraph serve` on port 8000
    proxy: { "/graphql": "http://127.0.0.1:8000" },
  },
});

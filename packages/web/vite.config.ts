import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The backend serves dist/: index.html is its page template, assets/ its static files.
// For `npm run dev -w @hearth/web`, API calls go to a site running on HEARTH_DEV_SITE.
// HEARTH_BACKEND_URL builds the app for a separate front-end server or CDN: it then calls that
// backend instead of its own origin (docs/DEPLOY.md). Unset, the app talks to whoever serves it.
const backend = process.env.HEARTH_BACKEND_URL ?? '';

export default defineConfig({
  plugins: [
    react(),
    {
      name: 'hearth-backend-url',
      transformIndexHtml: (html) => html.replace('<meta name="hearth-backend" content="">', `<meta name="hearth-backend" content="${backend.replace(/"/g, '')}">`),
    },
  ],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
  server: { proxy: { '/api': process.env.HEARTH_DEV_SITE ?? 'http://127.0.0.1:4000' } },
});

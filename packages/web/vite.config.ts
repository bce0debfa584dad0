import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The backend serves dist/: index.html is its page template, assets/ its static files.
// For `npm run dev -w @hearth/web`, API calls go to a site running on HEARTH_DEV_SITE.
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
  server: { proxy: { '/api': process.env.HEARTH_DEV_SITE ?? 'http://127.0.0.1:4000' } },
});

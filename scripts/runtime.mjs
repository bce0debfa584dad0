// How a site process is started, in one place (`npm start`, the bench). The `hearth` shebang, the
// systemd unit (packages/server/src/service/systemd.ts) and docs/DEPLOY.md repeat these settings:
// a shebang cannot import them, and the unit is written for a machine without this repository.
//  - 2 MB young-generation semi-spaces instead of 16: less memory at rest. 1 MB cost 2 MB less
//    at rest but a sixth more CPU per DM (every request's objects outlived the tiny young
//    generation and had to be collected as old ones): in `bench/vault.mjs`, alternating, 1 MB
//    ingested 1,379-1,618 DMs/s and 2 MB 1,712-1,765; an idle site 72 MB against 74.
//  - the old generation grows by 20% of what is live before the next full collection, not V8's
//    own factor (up to 4x when collections are quick): a site after the bench's 20,000-envelope
//    delivery keeps about 95 MB instead of 120-130 MB, with no loss of speed that the bench shows
//    (delivery, DM ingest, a service's requests over 100 sites).
//  - at most two glibc malloc arenas: Node's worker threads otherwise each keep their own.
//  - a fixed malloc mmap threshold of 32 KB: glibc otherwise raises its threshold after the first
//    large block is freed, and the 32-64 KB blocks V8 uses while compiling the app at start then
//    come from the heap, where the freed ones stay resident behind later allocations: an idle
//    site kept 12 MB more (85 MB instead of 73 MB in `npm run bench`), one start in two or three.
export const NODE_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=20'];
export const NODE_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '32768' };

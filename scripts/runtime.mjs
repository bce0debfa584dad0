// How a site process is started, in one place (`npm start`, the bench). The `hearth` shebang
// repeats these two settings because a shebang cannot import them.
//  - 1 MB young-generation semi-spaces instead of 16: less memory at rest, little cost in speed.
//  - at most two glibc malloc arenas: Node's worker threads otherwise each keep their own.
export const NODE_FLAGS = ['--max-semi-space-size=1'];
export const NODE_ENV = { MALLOC_ARENA_MAX: '2' };

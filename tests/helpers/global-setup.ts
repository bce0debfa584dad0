import { startPostgres, type TestPostgres } from './postgres.js';

/**
 * With HEARTH_TEST_DATABASE=postgres (the second pass of `npm test`), one throwaway PostgreSQL
 * cluster serves the whole run: every site a test creates gets a schema of its own in it
 * (tests/helpers/sites.ts). The worker processes inherit its address through the environment.
 */
let cluster: TestPostgres | undefined;

export async function setup(): Promise<void> {
  if (process.env.HEARTH_TEST_DATABASE !== 'postgres') return;
  cluster = await startPostgres();
  process.env.HEARTH_TEST_PG_URL = cluster.url;
  process.env.HEARTH_TEST_PG_DIR = cluster.dir;
  console.log(`PostgreSQL for this run: ${cluster.url}`);
}

export async function teardown(): Promise<void> {
  cluster?.stop();
}

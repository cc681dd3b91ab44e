import { connect } from 'node:net';
import pg from 'pg';

/**
 * External services some suites need (PostgreSQL on 127.0.0.1:5432, Mosquitto on 127.0.0.1:1883).
 * Without one, those suites are skipped with a line saying so; under CI (CI=true) they must run,
 * and an unreachable server fails the run.
 */
export const PG_URL = process.env.JINYUN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MOSQUITTO = { host: '127.0.0.1', port: Number(process.env.JINYUN_TEST_MOSQUITTO_PORT ?? 1883) };

function tcpOpen(host: string, port: number, ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    const done = (ok: boolean): void => { s.destroy(); resolve(ok); };
    s.setTimeout(ms, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function pgReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function need(name: string, reachable: boolean, where: string): Promise<boolean> {
  if (reachable) return true;
  if (process.env.CI === 'true') throw new Error(`${name} is not reachable at ${where}; under CI=true the ${name} suites must run`);
  console.warn(`SKIPPED: ${name} suites: no ${name} at ${where} (they run under CI=true)`);
  return false;
}

export const havePostgres = async (): Promise<boolean> => need('PostgreSQL', await pgReachable(), PG_URL);
export const haveMosquitto = async (): Promise<boolean> => need('Mosquitto', await tcpOpen(MOSQUITTO.host, MOSQUITTO.port), `${MOSQUITTO.host}:${MOSQUITTO.port}`);

/** A unique schema name for one test file or run. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

export async function dropSchemas(schemas: Iterable<string>): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await c.end();
  }
}

import { describe } from 'vitest';
import { haveMosquitto, havePostgres } from '../helpers/services.js';
import { describeIngestBadInput } from './ingest-bad-input.js';
import { pgMosquittoRig } from './ingest-rigs.js';

const ok = (await havePostgres()) && (await haveMosquitto());

/** The same bad-input tests as bad-input.test.ts, with two ingest workers behind the machine's Mosquitto and PostgreSQL. */
describe.skipIf(!ok)('bad-input catalogue at the ingest: Mosquitto + PostgreSQL, two workers', () => {
  describeIngestBadInput(() => pgMosquittoRig({ gapTimeoutMs: 300 }));
});

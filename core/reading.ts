/** A sampled value. bigint carries exact 64-bit integers; null only for Bad readings. */
export type Value = number | boolean | string | bigint | null;

/** One sample of one tag, as produced by a driver. */
export interface Reading {
  /** Gateway-local tag id (stable for the life of the spool, see the catalog). */
  tagId: number;
  /** Source timestamp, ms since 1970-01-01 UTC. */
  ts: number;
  value: Value;
  /** OPC UA StatusCode (0 = Good). See core/quality.ts. */
  quality: number;
}

/** A reading with its place in the producer's sequence. */
export interface SequencedReading extends Reading {
  seq: number;
}

/**
 * A batch as the edge forms it and the ingest stores it: readings [seqFirst, seqFirst + n) of one
 * producer run, ordered by seq, without holes. seq and epoch are plain numbers: they are checked to be
 * safe integers (< 2^53) wherever they cross the wire.
 */
export interface BatchData {
  producerId: string;
  epoch: number;
  seqFirst: number;
  readings: SequencedReading[];
  historical: boolean;
}

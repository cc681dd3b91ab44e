import sqlite3 from 'sqlite3';
import { StorageError } from './errors.js';

export interface RunResult {
  changes: number;
  lastID: number;
}

export type SqlParam = number | string | bigint | boolean | null | Uint8Array;

/**
 * A promise wrapper around one node-sqlite3 connection (the callback API is wrapped here, once).
 * Writes that must not interleave go through `transaction`, which queues callers so that one
 * BEGIN IMMEDIATE ... COMMIT never mixes with another's statements.
 */
export class Sqlite {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly db: sqlite3.Database, readonly file: string) {}

  static open(file: string, opts: { readonly?: boolean } = {}): Promise<Sqlite> {
    const mode = opts.readonly ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE;
    return new Promise((resolve, reject) => {
      const db = new sqlite3.Database(file, mode, (err) => {
        if (err) reject(new StorageError('sqlite_open', `cannot open SQLite database ${file}: ${err.message}`, { cause: err }));
        else resolve(new Sqlite(db, file));
      });
    });
  }

  run(sql: string, params: SqlParam[] = []): Promise<RunResult> {
    return this.prepared(sql).then((stmt) => new Promise((resolve, reject) => {
      stmt.run(params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(wrap(err, sql));
        else resolve({ changes: this.changes, lastID: this.lastID });
      });
    }));
  }

  /**
   * Prepared statements of `run`, kept by SQL text (least recently used out beyond 64): the ingest
   * and the spool run the same few statements thousands of times a second, and preparing one costs
   * more than running it. A statement that fails to prepare is not kept (node-sqlite3 never calls
   * back a run on it, so the error comes from the prepare).
   */
  private readonly statements = new Map<string, Promise<sqlite3.Statement>>();

  private prepared(sql: string): Promise<sqlite3.Statement> {
    let p = this.statements.get(sql);
    if (p) {
      this.statements.delete(sql);
      this.statements.set(sql, p);
      return p;
    }
    p = new Promise((resolve, reject) => {
      const stmt = this.db.prepare(sql, (err: Error | null) => (err ? reject(wrap(err, sql)) : resolve(stmt)));
    });
    this.statements.set(sql, p);
    p.catch(() => { if (this.statements.get(sql) === p) this.statements.delete(sql); });
    if (this.statements.size > 64) {
      const [oldest, q] = this.statements.entries().next().value as [string, Promise<sqlite3.Statement>];
      this.statements.delete(oldest);
      void q.then((s) => s.finalize(), () => undefined);
    }
    return p;
  }

  all<T = Record<string, unknown>>(sql: string, params: SqlParam[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.db.all(sql, params, (err: Error | null, rows: T[]) => (err ? reject(wrap(err, sql)) : resolve(rows)));
    });
  }

  get<T = Record<string, unknown>>(sql: string, params: SqlParam[] = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      this.db.get(sql, params, (err: Error | null, row: T | undefined) => (err ? reject(wrap(err, sql)) : resolve(row)));
    });
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (err) => (err ? reject(wrap(err, sql)) : resolve())));
  }

  /** Runs fn inside BEGIN IMMEDIATE / COMMIT, serialized with every other transaction on this connection. */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      await this.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn();
        await this.exec('COMMIT');
        return result;
      } catch (err) {
        await this.exec('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    const cached = [...this.statements.values()];
    this.statements.clear();
    for (const p of cached) {
      const stmt = await p.catch(() => null);
      if (stmt) await new Promise<void>((resolve) => stmt.finalize(() => resolve()));
    }
    return new Promise((resolve, reject) => this.db.close((err) => (err ? reject(wrap(err, 'close')) : resolve())));
  }
}

/** SQLite result codes we act on, from the error's `code` ('SQLITE_FULL', 'SQLITE_BUSY', ...). */
export function sqliteCode(err: unknown): string | undefined {
  const cause = err instanceof StorageError ? err.cause : err;
  return (cause as { code?: string } | undefined)?.code;
}

function wrap(err: Error, sql: string): StorageError {
  const code = (err as { code?: string }).code ?? 'SQLITE_ERROR';
  return new StorageError(code.toLowerCase(), `${err.message} (in: ${sql.slice(0, 80)})`, { cause: err });
}

/** Builds "(?,?,?),(?,?,?)..." for a multi-row INSERT of `rows` rows of `cols` columns. */
export function placeholders(rows: number, cols: number): string {
  const one = `(${new Array(cols).fill('?').join(',')})`;
  return new Array(rows).fill(one).join(',');
}

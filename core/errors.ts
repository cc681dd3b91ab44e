/** Base class of Jinyun's typed errors; `code` is stable and machine-readable. */
export class JinyunError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export interface ConfigIssue {
  /** Path inside the document, e.g. ["devices", 0, "tags", 3, "address"]. */
  path: (string | number)[];
  /** 1-based line in the file where the offending value sits, when known. */
  line?: number;
  message: string;
}

/** A config file that cannot be used. The message names the file, the line, the path and what was expected. */
export class ConfigError extends JinyunError {
  readonly file: string;
  readonly issues: ConfigIssue[];
  constructor(file: string, issues: ConfigIssue[], options?: { cause?: unknown }) {
    super('config_invalid', formatIssues(file, issues), options);
    this.file = file;
    this.issues = issues;
  }
}

export function formatPath(path: (string | number)[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function formatIssues(file: string, issues: ConfigIssue[]): string {
  const lines = issues.map((i) => `  ${file}${i.line ? `:${i.line}` : ''}: ${formatPath(i.path)}: ${i.message}`);
  return `invalid config ${file} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** Bytes that are not a valid message; `reasonCode` is what the NACK carries. */
export class DecodeError extends JinyunError {
  readonly reasonCode: string;
  constructor(reasonCode: string, message: string, options?: { cause?: unknown }) {
    super('decode_failed', message, options);
    this.reasonCode = reasonCode;
  }
}

export class NotConnectedError extends JinyunError {
  constructor(message = 'not connected', options?: { cause?: unknown }) {
    super('not_connected', message, options);
  }
}

export class TimeoutError extends JinyunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('timeout', message, options);
  }
}

/** Spool or store trouble that puts data at risk (disk full, I/O error). */
export class StorageError extends JinyunError {}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A command line that cannot be run as written; the CLI prints it and exits 64 (EX_USAGE). */
export class UsageError extends Error {}

/** A registry change that breaks a rule (unknown tenant, duplicate id, revoked gateway). `code` says which. */
export class RegistryError extends JinyunError {}

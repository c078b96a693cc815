/**
 * Typed errors with a stable `code` and JSON-safe details. Commands throw these;
 * only cli/index.ts turns them into an exit code.
 */
export type ErrorCode =
  | 'config_syntax'
  | 'config_invalid'
  | 'config_not_found'
  | 'plan_stale'
  | 'plan_invalid'
  | 'plan_refused'
  | 'plan_errored'
  | 'apply_failed'
  | 'drift'
  | 'command_failed'
  | 'host_unreachable'
  | 'host_auth_failed'
  | 'tool_missing'
  | 'lock_held'
  /** Proxmox's cluster storage lock was lost or expired while lvchain held it. */
  | 'lock_lost'
  | 'lock_not_found'
  | 'not_found'
  | 'usage'
  | 'aborted'
  | 'image_in_use'
  | 'hook_failed'
  | 'vm_unreachable'
  | 'vm_failed'
  /** A Proxmox VE file (storage.cfg, .vmlist, a VM config) that cannot be read as Proxmox writes it. */
  | 'proxmox_invalid';

export interface Location {
  file: string;
  line: number;
  col: number;
}

export class LvchainError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  /** Extra lines shown under the message (hints, figures). */
  readonly hints: string[];

  constructor(
    code: ErrorCode,
    message: string,
    opts: { details?: Record<string, unknown>; hints?: string[]; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'LvchainError';
    this.code = code;
    this.details = opts.details ?? {};
    this.hints = opts.hints ?? [];
  }
}

/** One problem in a config file, located as precisely as the source allows. */
export interface ConfigIssue {
  location: Location;
  /** Dotted config path, e.g. `guests.web-401.disks.vm-401-disk-0.size`. */
  path: string;
  message: string;
}

export class ConfigError extends LvchainError {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[], code: 'config_syntax' | 'config_invalid' = 'config_invalid') {
    const first = issues[0];
    const head = first ? formatIssue(first) : 'invalid configuration';
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(code, `${head}${more}`, { details: { issues } });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.location.file}:${issue.location.line}:${issue.location.col}`;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

export function isLvchainError(e: unknown): e is LvchainError {
  return e instanceof LvchainError;
}

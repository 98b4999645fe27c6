import { errorCatalogue, type ErrorCode, type ErrorKind, type ErrorParams } from './catalogue.js';

/** An error from the catalogue: code, message, hint and kind, with the parameters that made it. */
export class VmbatchError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly params: ErrorParams<C>;
  readonly hint: string;
  readonly kind: ErrorKind;

  constructor(code: C, params: ErrorParams<C>, options?: { cause?: unknown }) {
    const e = errorCatalogue[code] as unknown as {
      kind: ErrorKind;
      message: (p: ErrorParams<C>) => string;
      hint: (p: ErrorParams<C>) => string;
    };
    super(e.message(params), options);
    this.name = 'VmbatchError';
    this.code = code;
    this.params = params;
    this.hint = e.hint(params);
    this.kind = e.kind;
  }
}

/** Renders an error for a person: `vmbatch: CODE: message` and a `hint:` line. */
export function formatError(error: unknown): string {
  if (error instanceof VmbatchError) return `vmbatch: ${error.code}: ${error.message}\n  hint: ${error.hint}`;
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `vmbatch: INTERNAL: ${text}\n  hint: this is a bug in vmbatch; please report it with the lines above`;
}

/** True when the error is a catalogue error with the given code. */
export function isVmbatchError<C extends ErrorCode>(error: unknown, code?: C): error is VmbatchError<C> {
  return error instanceof VmbatchError && (code === undefined || error.code === code);
}

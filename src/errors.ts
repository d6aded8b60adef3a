/** A problem with one field of a request, as listed in a 422 response. */
export interface FieldError {
  field: string;
  message: string;
  type: string | null;
}

/**
 * Herald's one error hierarchy. Services throw these; the HTTP layer maps them to
 * Knock's error shape `{code, message, status, type}` in one place (http/errors.ts).
 */
export class HeraldError extends Error {
  readonly status: number;
  readonly code: string;
  readonly type: string;
  readonly errors?: FieldError[];

  constructor(status: number, code: string, type: string, message: string, errors?: FieldError[]) {
    super(message);
    this.status = status;
    this.code = code;
    this.type = type;
    this.errors = errors;
  }
}

export class Unauthorized extends HeraldError {
  constructor(message = 'The API key or token is missing, invalid or revoked', code = 'authentication_error') {
    super(401, code, 'authentication_error', message);
  }
}

export class Forbidden extends HeraldError {
  constructor(message: string, code = 'forbidden') {
    super(403, code, 'authorization_error', message);
  }
}

export class NotFound extends HeraldError {
  constructor(what: string, id?: string) {
    super(404, 'resource_missing', 'invalid_request_error', id === undefined ? `${what} not found` : `${what} "${id}" not found`);
  }
}

export class Conflict extends HeraldError {
  constructor(message: string, code = 'conflict') {
    super(409, code, 'invalid_request_error', message);
  }
}

export class Invalid extends HeraldError {
  constructor(message: string, errors: FieldError[] = [], code = 'invalid_params') {
    super(422, code, 'invalid_params_error', message, errors);
  }

  /** One invalid field. */
  static field(field: string, message: string): Invalid {
    return new Invalid(`${field} ${message}`, [{ field, message, type: null }]);
  }
}

export class PayloadTooLarge extends HeraldError {
  constructor(message: string) {
    super(413, 'payload_too_large', 'invalid_request_error', message);
  }
}

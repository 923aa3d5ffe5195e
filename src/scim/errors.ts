import { DirsyncError } from '../errors.js';
import { ERROR_SCHEMA } from './schemas.js';

/** RFC 7644 3.12 scimType values dirsync answers with. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

/** A request the SCIM service refuses: answered as a SCIM Error with this status. */
export class ScimError extends DirsyncError {
  readonly status: number;
  readonly scimType: ScimType | undefined;

  constructor(status: number, detail: string, scimType?: ScimType) {
    super(detail);
    this.status = status;
    this.scimType = scimType;
  }

  toJSON(): Record<string, unknown> {
    return {
      schemas: [ERROR_SCHEMA],
      status: String(this.status),
      ...(this.scimType === undefined ? {} : { scimType: this.scimType }),
      detail: this.message,
    };
  }
}

export const badRequest = (detail: string, scimType: ScimType): ScimError =>
  new ScimError(400, detail, scimType);

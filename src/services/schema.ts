import { Ajv, type ValidateFunction, type ErrorObject } from "ajv";
import type { JsonSchema } from "./method-options.js";

const ajv = new Ajv({ allErrors: true, strict: false });

/** Most issues an INVALID_PARAMS answer lists: params with 60k bad keys get a short answer. */
export const MAX_LISTED_ISSUES = 10;

export type ParamsValidator = (params: Record<string, unknown>) => ParamsIssue[] | null;

export interface ParamsIssue {
  path: string;
  message: string;
}

/** Compiles a method's params schema once; throws on an invalid schema (the service is skipped). */
export function compileParamsSchema(schema: JsonSchema): ParamsValidator {
  const validate: ValidateFunction = ajv.compile(schema);
  return (params) => {
    if (validate(params)) return null;
    const errors = validate.errors ?? [];
    const issues = errors.slice(0, MAX_LISTED_ISSUES).map(toIssue);
    if (errors.length > MAX_LISTED_ISSUES) issues.push({ path: "/", message: `and ${errors.length - MAX_LISTED_ISSUES} more issues` });
    return issues;
  };
}

function toIssue(error: ErrorObject): ParamsIssue {
  const path = error.instancePath || "/";
  return { path, message: error.message ?? "invalid" };
}

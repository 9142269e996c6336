import { Ajv, type ValidateFunction, type ErrorObject } from "ajv";
import type { JsonSchema } from "./method-options.js";

const ajv = new Ajv({ allErrors: true, strict: false });

export type ParamsValidator = (params: Record<string, unknown>) => ParamsIssue[] | null;

export interface ParamsIssue {
  path: string;
  message: string;
}

/** Compiles a method's params schema once; throws on an invalid schema (the service is skipped). */
export function compileParamsSchema(schema: JsonSchema): ParamsValidator {
  const validate: ValidateFunction = ajv.compile(schema);
  return (params) => (validate(params) ? null : (validate.errors ?? []).map(toIssue));
}

function toIssue(error: ErrorObject): ParamsIssue {
  const path = error.instancePath || "/";
  return { path, message: error.message ?? "invalid" };
}

// Builds call params from a method's JSON schema and the form's text values. Kept free of the
// DOM so the rules are easy to see: empty fields are left out (the node validates, not the page).

/** How a property is edited: "string" | "number" | "integer" | "boolean" | "enum" | "json". */
export function fieldKind(prop) {
  if (!prop || typeof prop !== "object") return "json";
  if (Array.isArray(prop.enum) && prop.enum.every((v) => typeof v === "string" || typeof v === "number")) return "enum";
  const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== "null") : prop.type;
  if (type === "string" || type === "number" || type === "integer" || type === "boolean") return type;
  return "json";
}

/** The form's fields for a schema, or null when the params are edited as one JSON text. */
export function formFields(schema) {
  if (!schema || schema.type !== "object" || !schema.properties || typeof schema.properties !== "object") return null;
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  return Object.entries(schema.properties).map(([name, prop]) => ({
    name,
    kind: fieldKind(prop),
    required: required.has(name),
    description: prop?.description ?? "",
    options: Array.isArray(prop?.enum) ? prop.enum : null,
    placeholder: prop?.default !== undefined ? JSON.stringify(prop.default) : "",
  }));
}

export class FieldError extends Error {
  constructor(field, message) {
    super(field ? `${field}: ${message}` : message);
    this.field = field;
  }
}

function parseJson(text, field) {
  try {
    return JSON.parse(text);
  } catch {
    throw new FieldError(field, "not valid JSON");
  }
}

/** Params from the form's values (name → text or boolean choice). */
export function paramsFromForm(fields, values) {
  const params = {};
  for (const f of fields) {
    const raw = values[f.name];
    if (raw === undefined || raw === "") continue;
    switch (f.kind) {
      case "string":
        params[f.name] = raw;
        break;
      case "number":
      case "integer": {
        const n = Number(raw);
        if (!Number.isFinite(n)) throw new FieldError(f.name, "not a number");
        params[f.name] = n;
        break;
      }
      case "boolean":
        params[f.name] = raw === "true";
        break;
      case "enum":
        params[f.name] = f.options.find((o) => String(o) === raw) ?? raw;
        break;
      default:
        params[f.name] = parseJson(raw, f.name);
    }
  }
  return params;
}

/** Params from a raw JSON text (methods without an object schema). */
export function paramsFromText(text) {
  if (!text.trim()) return {};
  const value = parseJson(text, null);
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new FieldError(null, "params must be a JSON object");
  return value;
}

// Turnkey's API shapes and a small Swagger 2.0 validator, for swagger_shapes.test.mjs,
// scripts/extract-turnkey-shapes and scripts/compat-matrix.
//
// Turnkey's swagger (public_api.swagger.json) is not part of this repository. When it is
// available (next to the repository, or at $TURNKEY_SWAGGER) it is the reference; otherwise the
// facts extracted from it into turnkey-shapes.json are (scripts/extract-turnkey-shapes).

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, "../..");
export const FACTS_PATH = resolve(here, "turnkey-shapes.json");

export function swaggerPath() {
  return process.env.TURNKEY_SWAGGER || resolve(REPO_ROOT, "../shared/reference/public_api.swagger.json");
}

const KEEP = ["type", "format", "enum", "required", "properties", "items", "$ref", "additionalProperties"];

function refName(ref) {
  return ref.replace(/^#\/definitions\//, "");
}

/** A schema without its prose (descriptions, titles, examples). */
function bare(schema) {
  if (!schema || typeof schema !== "object") return schema;
  const out = {};
  for (const k of KEEP) {
    if (!(k in schema)) continue;
    if (k === "properties") {
      out.properties = Object.fromEntries(Object.entries(schema.properties).map(([p, s]) => [p, bare(s)]));
    } else if (k === "items" || (k === "additionalProperties" && typeof schema[k] === "object")) {
      out[k] = bare(schema[k]);
    } else {
      out[k] = schema[k];
    }
  }
  return out;
}

/** Every path of Turnkey's swagger: method, tag, request and response definitions. */
function pathFacts(swagger) {
  const paths = {};
  for (const [path, item] of Object.entries(swagger.paths).sort(([a], [b]) => a.localeCompare(b))) {
    for (const [method, op] of Object.entries(item)) {
      const body = (op.parameters || []).find((p) => p.in === "body");
      paths[path] = {
        method,
        tag: (op.tags || [])[0] || "",
        request: body?.schema?.$ref ? refName(body.schema.$ref) : null,
        response: op.responses?.["200"]?.schema?.$ref ? refName(op.responses["200"].schema.$ref) : null,
      };
    }
  }
  return paths;
}

/**
 * The facts the compatibility suite needs from Turnkey's swagger for what keyhold implements
 * (`ours`, keyhold's /openapi.json): every path (for the route comparison and the README matrix)
 * and the response definitions of the implemented paths, pruned to field names, types, required
 * lists and enums. `v1Result` and `v1Intent` keep only the keys keyhold's activities produce.
 */
export function extractFacts(swagger, ours) {
  const paths = pathFacts(swagger);
  const keep = {
    v1Result: new Set(Object.keys(ours.definitions.v1Result?.properties || {})),
    v1Intent: new Set(Object.keys(ours.definitions.v1Intent?.properties || {})),
  };
  const definitions = {};
  const visit = (name) => {
    if (definitions[name] || !swagger.definitions[name]) return;
    let schema = bare(swagger.definitions[name]);
    if (keep[name]) {
      schema = { ...schema, properties: Object.fromEntries(Object.entries(schema.properties || {}).filter(([k]) => keep[name].has(k))) };
    }
    definitions[name] = schema;
    const walk = (s) => {
      if (!s || typeof s !== "object") return;
      if (s.$ref) visit(refName(s.$ref));
      Object.values(s.properties || {}).forEach(walk);
      walk(s.items);
      if (typeof s.additionalProperties === "object") walk(s.additionalProperties);
    };
    walk(schema);
  };
  for (const path of Object.keys(ours.paths)) {
    if (paths[path]?.response) visit(paths[path].response);
  }
  return {
    tagGroups: (swagger["x-tagGroups"] || []).map((g) => ({ name: g.name, tags: g.tags })),
    paths,
    definitions: Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b))),
  };
}

export function factsHeader(swaggerText) {
  return {
    source: "Turnkey's public API swagger (public_api.swagger.json, Swagger 2.0), not included in this repository",
    sourceSha256: createHash("sha256").update(swaggerText).digest("hex"),
    extractedBy: "scripts/extract-turnkey-shapes (field names, types, required lists and enums only; rerun it when keyhold implements a new endpoint)",
  };
}

/**
 * Turnkey's shapes: `{from: "swagger"|"facts", paths, definitions, tagGroups, swagger?}`.
 * Throws when neither the swagger nor the facts file is there: nothing would be checked.
 */
export function loadTurnkey() {
  const path = swaggerPath();
  if (existsSync(path)) {
    const text = readFileSync(path, "utf8");
    const swagger = JSON.parse(text);
    return {
      from: "swagger",
      swaggerText: text,
      swagger,
      paths: pathFacts(swagger),
      definitions: swagger.definitions,
      tagGroups: swagger["x-tagGroups"] || [],
    };
  }
  if (!existsSync(FACTS_PATH)) {
    throw new Error(`neither Turnkey's swagger (${path}, or $TURNKEY_SWAGGER) nor ${FACTS_PATH} is available: nothing to compare against`);
  }
  const facts = JSON.parse(readFileSync(FACTS_PATH, "utf8"));
  return { from: "facts", ...facts };
}

// ---------------------------------------------------------------------------
// Validation

/**
 * Checks `value` against a Swagger 2.0 `schema` whose `$ref`s point into `definitions`:
 * required properties present, primitive types, enum values spelled exactly, and
 * `{seconds, nanos}` decimal strings for timestamp definitions. With `strict`, a property the
 * schema does not list is an error too (keyhold's own document must describe everything).
 * Returns `{errors, seen}`: `path: problem` strings (empty when it fits) and the definitions used.
 */
export function validate(value, schema, definitions, { strict = false, where = "$" } = {}) {
  const errors = [];
  const seen = new Set();
  const check = (v, s, at, defName) => {
    if (!s || typeof s !== "object") return;
    if (s.$ref) {
      const name = refName(s.$ref);
      const target = definitions[name];
      if (!target) {
        errors.push(`${at}: definition ${name} is unknown`);
        return;
      }
      seen.add(name);
      return check(v, target, at, name);
    }
    if (defName && /Timestamp$/.test(defName)) {
      const digits = (x) => typeof x === "string" && /^\d+$/.test(x);
      if (!v || typeof v !== "object" || !digits(v.seconds) || !digits(v.nanos)) {
        errors.push(`${at}: expected a {seconds, nanos} timestamp of decimal strings, got ${JSON.stringify(v)}`);
        return;
      }
    }
    const type = s.type || (s.properties ? "object" : undefined);
    switch (type) {
      case "object": {
        if (v === null || typeof v !== "object" || Array.isArray(v)) {
          errors.push(`${at}: expected an object${defName ? ` (${defName})` : ""}, got ${JSON.stringify(v)?.slice(0, 80)}`);
          return;
        }
        for (const r of s.required || []) {
          if (!(r in v)) errors.push(`${at}: required property "${r}"${defName ? ` of ${defName}` : ""} is missing`);
        }
        for (const [k, child] of Object.entries(v)) {
          const ps = s.properties?.[k];
          if (ps) check(child, ps, `${at}.${k}`);
          else if (typeof s.additionalProperties === "object") check(child, s.additionalProperties, `${at}.${k}`);
          else if (strict && s.properties) errors.push(`${at}: property "${k}" is not described${defName ? ` in ${defName}` : ""}`);
        }
        return;
      }
      case "array":
        if (!Array.isArray(v)) {
          errors.push(`${at}: expected an array, got ${JSON.stringify(v)?.slice(0, 80)}`);
          return;
        }
        v.forEach((item, i) => check(item, s.items, `${at}[${i}]`));
        return;
      case "string":
        if (typeof v !== "string") {
          errors.push(`${at}: expected a string, got ${JSON.stringify(v)?.slice(0, 80)}`);
          return;
        }
        if (s.enum && !s.enum.includes(v)) {
          errors.push(`${at}: "${v}" is not one of ${defName || "the enum"} (${s.enum.slice(0, 6).join(", ")}${s.enum.length > 6 ? ", …" : ""})`);
        }
        if (s.format === "int64" && !/^-?\d+$/.test(v)) errors.push(`${at}: expected an int64 string, got "${v}"`);
        return;
      case "integer":
        if (!Number.isInteger(v)) errors.push(`${at}: expected an integer, got ${JSON.stringify(v)}`);
        return;
      case "number":
        if (typeof v !== "number") errors.push(`${at}: expected a number, got ${JSON.stringify(v)}`);
        return;
      case "boolean":
        if (typeof v !== "boolean") errors.push(`${at}: expected a boolean, got ${JSON.stringify(v)}`);
        return;
      default:
        return; // free-form
    }
  };
  check(value, schema, where);
  return { errors, seen };
}

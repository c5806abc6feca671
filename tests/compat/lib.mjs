// Shared helpers for the keyhold compatibility suite.
//
// Everything here drives the server the way a Turnkey customer would: the real
// `@turnkey/http` TurnkeyClient with the real `@turnkey/api-key-stamper`. Only the
// negative tests (bad stamps, bad bodies) build requests by hand.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";

import { TurnkeyClient } from "@turnkey/http";
import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { computeActivityFingerprint } from "@turnkey/crypto";
import {
  getAddress,
  recoverAddress as viemRecoverAddress,
} from "viem";
import { recoverAddress as ethersRecoverAddress } from "ethers";

// ---------------------------------------------------------------------------
// Configuration (environment)

const PHASES = ["main", "restart"];
export const PHASE = process.env.KEYHOLD_PHASE || "main";
if (!PHASES.includes(PHASE)) {
  throw new Error(`KEYHOLD_PHASE must be one of ${PHASES.join(", ")} (got ${JSON.stringify(PHASE)})`);
}

/** `skip` option for node:test: run only in the given phase. */
export function onlyInPhase(phase) {
  return PHASE === phase ? false : `only runs when KEYHOLD_PHASE=${phase} (current: ${PHASE})`;
}

/** Per-test timeout so a hung server fails the test instead of hanging CI. */
export const TEST_TIMEOUT_MS = 30_000;
const FETCH_TIMEOUT_MS = 20_000;

let credentialsCache;
/**
 * Load `dev-credentials.json` from $KEYHOLD_CREDENTIALS:
 * {baseUrl, organizationId, userId, apiPublicKey, apiPrivateKey}.
 * Throws (so the calling test fails) when the variable is unset or the file is bad.
 */
export function loadCredentials() {
  if (credentialsCache) return credentialsCache;
  const path = process.env.KEYHOLD_CREDENTIALS;
  if (!path) {
    throw new Error(
      "KEYHOLD_CREDENTIALS is required: set it to the path of the keyhold server's dev-credentials.json " +
        "({baseUrl, organizationId, userId, apiPublicKey, apiPrivateKey}) and start the server first",
    );
  }
  let creds;
  try {
    creds = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`cannot read KEYHOLD_CREDENTIALS=${path}: ${e.message}`);
  }
  for (const k of ["baseUrl", "organizationId", "userId", "apiPublicKey", "apiPrivateKey"]) {
    assert.equal(typeof creds[k], "string", `${path}: field "${k}" must be a string`);
    assert.ok(creds[k].length > 0, `${path}: field "${k}" is empty`);
  }
  creds.baseUrl = creds.baseUrl.replace(/\/+$/, "");
  credentialsCache = creds;
  return creds;
}

/** Path of the state file shared between phase main and phase restart (may be undefined). */
export function statePath() {
  return process.env.KEYHOLD_STATE;
}

export function saveState(state) {
  const path = statePath();
  if (!path) return false;
  writeFileSync(path, JSON.stringify(state, null, 2) + "\n");
  return true;
}

export function loadState() {
  const path = statePath();
  if (!path) {
    throw new Error("KEYHOLD_STATE is required in phase restart: path of the JSON file written by phase main");
  }
  let state;
  try {
    state = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`cannot read KEYHOLD_STATE=${path} (did phase main run and pass?): ${e.message}`);
  }
  assert.equal(typeof state.walletId, "string", "state file lacks walletId");
  assert.equal(typeof state.address, "string", "state file lacks address");
  return state;
}

// ---------------------------------------------------------------------------
// Clients and stamping

/**
 * Wraps a stamper and remembers the exact body strings it stamped. TurnkeyClient
 * sends the stamped string byte-for-byte, so `lastBody` is the raw HTTP body of
 * the most recent request — used to recompute the activity fingerprint.
 */
export class RecordingStamper {
  constructor(inner) {
    this.inner = inner;
    this.lastBody = undefined;
  }
  async stamp(payload) {
    this.lastBody = payload;
    return this.inner.stamp(payload);
  }
}

export function makeStamper(creds = loadCredentials()) {
  return new ApiKeyStamper({ apiPublicKey: creds.apiPublicKey, apiPrivateKey: creds.apiPrivateKey });
}

/** `{creds, client, recorder}`: a real TurnkeyClient against the keyhold server. */
export function makeClient() {
  const creds = loadCredentials();
  const recorder = new RecordingStamper(makeStamper(creds));
  const client = new TurnkeyClient({ baseUrl: creds.baseUrl }, recorder);
  return { creds, client, recorder };
}

/** Build the X-Stamp header value for `body` with an arbitrary stamp object (negative tests). */
export function encodeStamp(stampObject) {
  return Buffer.from(JSON.stringify(stampObject), "utf8").toString("base64url");
}

/** Decode an X-Stamp header value into `{publicKey, scheme, signature}`. */
export function decodeStamp(headerValue) {
  return JSON.parse(Buffer.from(headerValue, "base64url").toString("utf8"));
}

/**
 * POST a raw body (string or Buffer) with the given extra headers, using node:http
 * rather than fetch: if the server answers early (e.g. 413 before reading a huge
 * body) and closes the socket, we still get to read its response.
 * Returns `{status, text, json}` (`json` undefined if the body isn't JSON).
 */
export function postRaw(url, body, headers = {}) {
  const u = new URL(url);
  const mod = u.protocol === "https:" ? https : http;
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  return new Promise((resolve, reject) => {
    let responded = false;
    const req = mod.request(
      u,
      {
        method: "POST",
        headers: { "Content-Type": "application/json", "Content-Length": payload.length, ...headers },
        timeout: FETCH_TIMEOUT_MS,
      },
      (res) => {
        responded = true;
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, text, json });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no response within ${FETCH_TIMEOUT_MS} ms`)));
    req.on("error", (e) => {
      // EPIPE/ECONNRESET while still uploading is fine once the server has answered.
      if (responded) return;
      reject(new Error(`POST ${url} failed: ${e.code || ""} ${e.message} — is the keyhold server running?`));
    });
    req.end(payload);
  });
}

/** Activity envelope (§3.1) with a fresh timestamp. */
export function activityBody(type, organizationId, parameters, timestampMs = String(Date.now())) {
  return { type, timestampMs, organizationId, parameters };
}

export function uniqueName(prefix) {
  return `${prefix}-${Date.now()}-${randomUUID().slice(0, 8)}`;
}

// ---------------------------------------------------------------------------
// Assertions on server responses

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FINGERPRINT_RE = /^sha256:[0-9a-f]{64}$/;

export function assertUuid(value, what) {
  assert.equal(typeof value, "string", `${what} must be a string`);
  assert.match(value, UUID_RE, `${what} must be a UUID`);
}

/** `{seconds: "<int>", nanos: "<int>"}` — proto3 JSON Timestamp with int64s as strings. */
export function assertTimestamp(ts, what) {
  assert.ok(ts && typeof ts === "object", `${what} must be an object {seconds, nanos}, got ${JSON.stringify(ts)}`);
  assert.equal(typeof ts.seconds, "string", `${what}.seconds must be a string`);
  assert.equal(typeof ts.nanos, "string", `${what}.nanos must be a string`);
  assert.match(ts.seconds, /^\d+$/, `${what}.seconds must be decimal digits`);
  assert.match(ts.nanos, /^\d+$/, `${what}.nanos must be decimal digits`);
  const secs = Number(ts.seconds);
  const now = Date.now() / 1000;
  // Sanity: not epoch 0 / milliseconds by mistake; within a year of now.
  assert.ok(Math.abs(secs - now) < 366 * 24 * 3600, `${what}.seconds=${ts.seconds} is not a plausible epoch-seconds value`);
  assert.ok(Number(ts.nanos) < 1e9, `${what}.nanos must be < 1e9`);
}

/**
 * Check a `v1ActivityResponse.activity` against §3.2.
 * opts: {organizationId, type, intentKey, resultKey, rawBody?}
 */
export function assertActivityEnvelope(activity, opts) {
  assert.ok(activity && typeof activity === "object", "response must contain an `activity` object");
  assertUuid(activity.id, "activity.id");
  assert.equal(activity.organizationId, opts.organizationId, "activity.organizationId");
  assert.equal(
    activity.status,
    "ACTIVITY_STATUS_COMPLETED",
    `activity.status (failure: ${JSON.stringify(activity.failure)})`,
  );
  assert.equal(activity.type, opts.type, "activity.type");

  assert.ok(activity.intent && typeof activity.intent === "object", "activity.intent must be an object");
  assert.deepEqual(Object.keys(activity.intent), [opts.intentKey], "activity.intent must have exactly one key");
  assert.ok(activity.result && typeof activity.result === "object", "activity.result must be an object");
  assert.ok(
    activity.result[opts.resultKey] && typeof activity.result[opts.resultKey] === "object",
    `activity.result.${opts.resultKey} must be present (got keys ${JSON.stringify(Object.keys(activity.result))})`,
  );

  assert.ok(Array.isArray(activity.votes), "activity.votes must be an array");
  assert.equal(typeof activity.fingerprint, "string", "activity.fingerprint must be a string");
  assert.match(activity.fingerprint, FINGERPRINT_RE, "activity.fingerprint must be sha256:<64 lowercase hex>");
  if (opts.rawBody !== undefined) {
    assert.equal(
      activity.fingerprint,
      computeActivityFingerprint(opts.rawBody),
      "activity.fingerprint must be sha256:hex(sha256(raw request body))",
    );
  }
  assert.equal(typeof activity.canApprove, "boolean", "activity.canApprove must be a boolean");
  assert.equal(typeof activity.canReject, "boolean", "activity.canReject must be a boolean");
  assertTimestamp(activity.createdAt, "activity.createdAt");
  assertTimestamp(activity.updatedAt, "activity.updatedAt");
}

/**
 * Check a non-2xx Turnkey-style error response (`rpcStatus`):
 * {code: number, message: string,
 *  details: [{"@type": "type.googleapis.com/errors.v1.TurnkeyErrorDetail", turnkeyErrorCode: string}]}
 *
 * expected: {status: number|number[], code?: number|number[], turnkeyErrorCode?: string|string[], message?: RegExp}
 * Returns the parsed body.
 */
export function assertTurnkeyError(res, expected, what = "") {
  const ctx = `${what ? what + ": " : ""}HTTP ${res.status} body=${res.text.slice(0, 500)}`;
  const oneOf = (v) => (Array.isArray(v) ? v : [v]);
  assert.ok(oneOf(expected.status).includes(res.status), `${ctx}\n  expected HTTP status ${oneOf(expected.status).join(" or ")}`);
  const body = res.json;
  assert.ok(body && typeof body === "object" && !Array.isArray(body), `${ctx}\n  error body must be a JSON object`);
  assert.equal(typeof body.code, "number", `${ctx}\n  error.code must be a number`);
  assert.equal(typeof body.message, "string", `${ctx}\n  error.message must be a string`);
  assert.ok(body.message.length > 0, `${ctx}\n  error.message must not be empty`);
  assert.ok(Array.isArray(body.details), `${ctx}\n  error.details must be an array`);
  const detail = body.details.find(
    (d) => d && d["@type"] === "type.googleapis.com/errors.v1.TurnkeyErrorDetail",
  );
  assert.ok(detail, `${ctx}\n  error.details must contain a type.googleapis.com/errors.v1.TurnkeyErrorDetail`);
  assert.equal(typeof detail.turnkeyErrorCode, "string", `${ctx}\n  turnkeyErrorCode must be a string`);
  if (expected.code !== undefined) {
    assert.ok(oneOf(expected.code).includes(body.code), `${ctx}\n  expected error.code ${oneOf(expected.code).join(" or ")}`);
  }
  if (expected.turnkeyErrorCode !== undefined) {
    assert.ok(
      oneOf(expected.turnkeyErrorCode).includes(detail.turnkeyErrorCode),
      `${ctx}\n  expected turnkeyErrorCode ${oneOf(expected.turnkeyErrorCode).join(" or ")}`,
    );
  }
  if (expected.message !== undefined) {
    assert.match(body.message, expected.message, `${ctx}\n  error.message should match ${expected.message}`);
  }
  return body;
}

// ---------------------------------------------------------------------------
// Ethereum signature helpers

// secp256k1 group order
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Check `{r, s, v}` is in the form @turnkey/viem and @turnkey/ethers need (§6). */
export function assertRsv(sig, what = "signature") {
  assert.ok(sig && typeof sig === "object", `${what} must be an object {r, s, v}`);
  assert.match(sig.r, /^[0-9a-f]{64}$/, `${what}.r must be 64 lowercase hex chars without 0x (got ${sig.r})`);
  assert.match(sig.s, /^[0-9a-f]{64}$/, `${what}.s must be 64 lowercase hex chars without 0x (got ${sig.s})`);
  assert.ok(sig.v === "00" || sig.v === "01", `${what}.v must be "00" or "01" (got ${JSON.stringify(sig.v)})`);
  const r = BigInt("0x" + sig.r);
  const s = BigInt("0x" + sig.s);
  assert.ok(r > 0n && r < SECP256K1_N, `${what}.r out of range`);
  assert.ok(s > 0n && s <= SECP256K1_N / 2n, `${what}.s must be low-S (<= n/2)`);
}

/** 65-byte signature exactly as @turnkey/viem's adapter assembles it. */
export function viemSignature({ r, s, v }) {
  return `0x${r}${s}${v === "00" ? "1b" : "1c"}`;
}

/** Recover with viem and with ethers; both must give `expectedAddress`. */
export async function assertRecovers(hash, sig, expectedAddress, what = "signature") {
  const byViem = await viemRecoverAddress({ hash, signature: viemSignature(sig) });
  assert.equal(byViem, getAddress(expectedAddress), `${what}: viem recoverAddress`);
  const byEthers = ethersRecoverAddress(hash, { r: "0x" + sig.r, s: "0x" + sig.s, v: parseInt(sig.v) + 27 });
  assert.equal(byEthers, getAddress(expectedAddress), `${what}: ethers recoverAddress`);
}

/** Throw a clear error when a test depends on state an earlier test did not produce. */
export function need(value, what) {
  if (value === undefined || value === null) {
    throw new Error(`prerequisite missing: ${what} (an earlier test in this file failed)`);
  }
  return value;
}

// Phase "main": rejected requests (bad stamps, bodies, activity types, organization ids, missing
// fields, misspelled enums, unsupported endpoints), mostly to /public/v1/submit/create_wallet,
// must come back as Turnkey-style errors (rpcStatus + TurnkeyErrorDetail) with a message naming
// the problem, and must not create anything.
// Requests are built by hand with raw fetch; stamps, where valid, come from ApiKeyStamper.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { generateP256KeyPair } from "@turnkey/crypto";

import {
  TEST_TIMEOUT_MS,
  activityBody,
  assertTurnkeyError,
  encodeStamp,
  decodeStamp,
  loadCredentials,
  makeClient,
  makeStamper,
  onlyInPhase,
  postRaw,
  uniqueName,
} from "../lib.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
// Every wallet name used below starts with this; none may exist afterwards.
const PREFIX = uniqueName("keyhold-compat-bad");
const namesTried = [];

function walletBody(tag, overrides = {}) {
  const creds = loadCredentials();
  const walletName = overrides.walletName ?? `${PREFIX}-${tag}`;
  if (walletName.startsWith(PREFIX)) namesTried.push(walletName);
  return activityBody(
    "ACTIVITY_TYPE_CREATE_WALLET",
    overrides.organizationId ?? creds.organizationId,
    {
      walletName,
      accounts: [
        {
          curve: "CURVE_SECP256K1",
          pathFormat: "PATH_FORMAT_BIP32",
          path: "m/44'/60'/0'/0/0",
          addressFormat: "ADDRESS_FORMAT_ETHEREUM",
        },
      ],
    },
    overrides.timestampMs,
  );
}

function url() {
  return `${loadCredentials().baseUrl}/public/v1/submit/create_wallet`;
}

/** Stamp `body` (string) with the org's real API key; returns the X-Stamp header value. */
async function realStamp(body) {
  return (await makeStamper().stamp(body)).stampHeaderValue;
}

const UNAUTHENTICATED = { status: 401, code: 16 };

describe("phase main: bad input to create_wallet", { skip: onlyInPhase("main") }, () => {
  test("no stamp header -> 401 SIGNATURE_MISSING", opts, async () => {
    const body = JSON.stringify(walletBody("nostamp"));
    const res = await postRaw(url(), body);
    assertTurnkeyError(res, { ...UNAUTHENTICATED, turnkeyErrorCode: "SIGNATURE_MISSING" });
  });

  test("stamp signed over a different body -> 401 SIGNATURE_INVALID", opts, async () => {
    const body = JSON.stringify(walletBody("otherbody"));
    const other = JSON.stringify({ organizationId: loadCredentials().organizationId });
    const res = await postRaw(url(), body, { "X-Stamp": await realStamp(other) });
    assertTurnkeyError(res, { ...UNAUTHENTICATED, turnkeyErrorCode: "SIGNATURE_INVALID" });
  });

  test("garbage signature in the stamp -> 401 SIGNATURE_INVALID", opts, async () => {
    const creds = loadCredentials();
    const body = JSON.stringify(walletBody("garbage"));
    const stamp = encodeStamp({
      publicKey: creds.apiPublicKey,
      scheme: "SIGNATURE_SCHEME_TK_API_P256",
      signature: "3045022100" + "ab".repeat(32) + "0220" + "cd".repeat(32),
    });
    const res = await postRaw(url(), body, { "X-Stamp": stamp });
    assertTurnkeyError(res, { ...UNAUTHENTICATED, turnkeyErrorCode: "SIGNATURE_INVALID" });
  });

  test("valid stamp from a P-256 key unknown to the org -> 401 PUBLIC_KEY_NOT_FOUND", opts, async () => {
    const kp = generateP256KeyPair(); // {privateKey, publicKey (compressed), publicKeyUncompressed}
    const stranger = new ApiKeyStamper({ apiPublicKey: kp.publicKey, apiPrivateKey: kp.privateKey });
    const body = JSON.stringify(walletBody("unknownkey"));
    const { stampHeaderValue } = await stranger.stamp(body);
    const res = await postRaw(url(), body, { "X-Stamp": stampHeaderValue });
    assertTurnkeyError(res, { ...UNAUTHENTICATED, turnkeyErrorCode: "PUBLIC_KEY_NOT_FOUND" });
  });

  test("body altered after stamping -> 401 SIGNATURE_INVALID", opts, async () => {
    const original = walletBody("altered-a");
    const stamp = await realStamp(JSON.stringify(original));
    const altered = { ...original, parameters: { ...original.parameters, walletName: `${PREFIX}-altered-b` } };
    namesTried.push(altered.parameters.walletName);
    const res = await postRaw(url(), JSON.stringify(altered), { "X-Stamp": stamp });
    assertTurnkeyError(res, { ...UNAUTHENTICATED, turnkeyErrorCode: "SIGNATURE_INVALID" });
  });

  test("malformed JSON, correctly stamped -> 400 REQUEST_INVALID", opts, async () => {
    const body = JSON.stringify(walletBody("malformed")).slice(0, -7) + ",,}";
    assert.throws(() => JSON.parse(body));
    const res = await postRaw(url(), body, { "X-Stamp": await realStamp(body) });
    assertTurnkeyError(res, { status: 400, code: 3, turnkeyErrorCode: "REQUEST_INVALID" });
  });

  test("2 MiB body, correctly stamped -> 413 REQUEST_INVALID", opts, async () => {
    const req = walletBody("oversized");
    req.parameters.padding = "x".repeat(2 * 1024 * 1024);
    const body = JSON.stringify(req);
    assert.ok(body.length > 2 * 1024 * 1024);
    const res = await postRaw(url(), body, { "X-Stamp": await realStamp(body) });
    assertTurnkeyError(res, { status: 413, code: 3, turnkeyErrorCode: "REQUEST_INVALID" });
  });

  test("unknown organizationId, correctly stamped -> 404 ORGANIZATION_NOT_FOUND", opts, async () => {
    const body = JSON.stringify(walletBody("unknownorg", { organizationId: randomUUID() }));
    const res = await postRaw(url(), body, { "X-Stamp": await realStamp(body) });
    if (res.status === 404) {
      assertTurnkeyError(res, { status: 404, code: 5, turnkeyErrorCode: "ORGANIZATION_NOT_FOUND" });
    } else {
      // Also acceptable: an authentication failure whose message says it's about the organization
      // (Turnkey: "could not find public key in organization or its parent organization").
      assertTurnkeyError(res, { status: 401, code: 16, message: /organi[sz]ation/i });
    }
  });

  test("timestampMs two hours old, correctly stamped -> 400/401 mentioning the timestamp", opts, async () => {
    const twoHoursAgo = String(Date.now() - 2 * 60 * 60 * 1000);
    const body = JSON.stringify(walletBody("stale", { timestampMs: twoHoursAgo }));
    const res = await postRaw(url(), body, { "X-Stamp": await realStamp(body) });
    assertTurnkeyError(res, { status: [400, 401], message: /time ?stamp/i });
  });

  test("the stamp helpers used above are sound (sanity)", opts, async () => {
    // Guards against false passes: the same helpers with a correct body must get past auth.
    // (Uses a real create_wallet; the name is outside PREFIX on purpose.)
    const creds = loadCredentials();
    const body = JSON.stringify(walletBody("control", { walletName: uniqueName("keyhold-compat-control") }));
    const stamp = await realStamp(body);
    assert.equal(decodeStamp(stamp).publicKey, creds.apiPublicKey);
    const res = await postRaw(url(), body, { "X-Stamp": stamp });
    assert.equal(res.status, 200, `control request: HTTP ${res.status} ${res.text.slice(0, 500)}`);
    assert.equal(res.json.activity.status, "ACTIVITY_STATUS_COMPLETED");
  });

  /** POST `body` (an object) to submit/create_wallet or another path, stamped by the org's key. */
  async function stamped(body, path = "submit/create_wallet") {
    const text = JSON.stringify(body);
    return postRaw(`${loadCredentials().baseUrl}/public/v1/${path}`, text, { "X-Stamp": await realStamp(text) });
  }
  const INVALID = { status: 400, code: 3, turnkeyErrorCode: "REQUEST_INVALID" };

  test("unknown activity type -> 400 naming it and the type the path expects", opts, async () => {
    const res = await stamped({ ...walletBody("unknowntype"), type: "ACTIVITY_TYPE_CREATE_WALLET_V9" });
    assertTurnkeyError(res, { ...INVALID, message: /ACTIVITY_TYPE_CREATE_WALLET_V9.*expected ACTIVITY_TYPE_CREATE_WALLET/ });
  });

  test("another path's activity type -> 400", opts, async () => {
    const res = await stamped({ ...walletBody("othertype"), type: "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2" });
    assertTurnkeyError(res, { ...INVALID, message: /ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2.*submit\/create_wallet/ });
  });

  test("organizationId that is not a UUID -> 400 naming organizationId", opts, async () => {
    const res = await stamped(walletBody("orgnotuuid", { organizationId: "not-a-uuid" }));
    assertTurnkeyError(res, { ...INVALID, message: /organizationId/ });
  });

  test("missing required fields -> 400 naming the field", opts, async () => {
    const { walletName, ...noName } = walletBody("noname").parameters;
    assertTurnkeyError(await stamped({ ...walletBody("noname2"), parameters: noName }), { ...INVALID, message: /walletName/ });
    const { parameters, ...noParameters } = walletBody("noparams");
    assertTurnkeyError(await stamped(noParameters), { ...INVALID, message: /parameters/ });
    const { timestampMs, ...noTimestamp } = walletBody("notimestamp");
    assertTurnkeyError(await stamped(noTimestamp), { ...INVALID, message: /timestampMs/ });
    assertTurnkeyError(await stamped({ organizationId: loadCredentials().organizationId }, "query/get_wallet"),
      { ...INVALID, message: /walletId/ });
  });

  test("wrong enum values -> 400 naming the value", opts, async () => {
    for (const [field, value] of [["curve", "CURVE_SECP256K2"], ["addressFormat", "ADDRESS_FORMAT_ETHEREUMX"],
      ["pathFormat", "PATH_FORMAT_BIP33"]]) {
      const body = walletBody(`enum-${field}`);
      body.parameters.accounts[0][field] = value;
      assertTurnkeyError(await stamped(body), { ...INVALID, message: new RegExp(value) }, field);
    }
    const sign = activityBody("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", loadCredentials().organizationId, {
      signWith: "0x0000000000000000000000000000000000000000", payload: "0x00", encoding: "PAYLOAD_ENCODING_HEX",
      hashFunction: "HASH_FUNCTION_NO_OP" });
    assertTurnkeyError(await stamped(sign, "submit/sign_raw_payload"), { ...INVALID, message: /PAYLOAD_ENCODING_HEX/ });
    const list = { organizationId: loadCredentials().organizationId, filterByStatus: ["ACTIVITY_STATUS_DONE"] };
    assertTurnkeyError(await stamped(list, "query/list_activities"), { ...INVALID, message: /ACTIVITY_STATUS_DONE/ });
  });

  test("an endpoint keyhold does not implement -> 501 not supported by keyhold", opts, async () => {
    for (const path of ["submit/create_authenticators_v9", "submit/init_otp", "query/get_nonces"]) {
      const res = await stamped({ ...walletBody(`unsupported-${path}`) }, path);
      assertTurnkeyError(res, { status: 501, code: 12, message: /not supported by keyhold/ }, path);
    }
  });

  test("none of the rejected requests created a wallet", opts, async () => {
    const { creds, client } = makeClient();
    const { wallets } = await client.getWallets({ organizationId: creds.organizationId });
    assert.ok(Array.isArray(wallets), "wallets must be an array");
    const leaked = wallets.filter((w) => typeof w.walletName === "string" && w.walletName.startsWith(PREFIX));
    assert.deepEqual(
      leaked.map((w) => w.walletName),
      [],
      `rejected requests must not store anything (tried: ${namesTried.join(", ")})`,
    );
  });
});

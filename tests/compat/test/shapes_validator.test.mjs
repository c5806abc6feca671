// Offline, every phase: the validator behind swagger_shapes.test.mjs finds what it must find,
// against Turnkey's real definitions (swagger or turnkey-shapes.json), so a passing shape test
// means something.

import { test } from "node:test";
import assert from "node:assert/strict";

import { loadTurnkey, validate } from "../shapes.mjs";

const turnkey = loadTurnkey();
const check = (value, def, options) =>
  validate(value, { $ref: `#/definitions/${def}` }, turnkey.definitions, options).errors;
const ts = { seconds: "1732617600", nanos: "0" };
const wallet = { walletId: "w", walletName: "n", createdAt: ts, updatedAt: ts, exported: false, imported: false };

test("a conforming body passes; each kind of mismatch is reported", () => {
  assert.deepEqual(check({ wallets: [wallet] }, "v1GetWalletsResponse"), []);
  const { walletName, ...nameless } = wallet;
  assert.match(check({ wallets: [nameless] }, "v1GetWalletsResponse").join(), /required property "walletName"/);
  assert.match(check({ wallets: [{ ...wallet, exported: "false" }] }, "v1GetWalletsResponse").join(), /wallets\[0\]\.exported: expected a boolean/);
  assert.match(check({ wallets: [{ ...wallet, createdAt: 1732617600 }] }, "v1GetWalletsResponse").join(), /timestamp/);
  assert.match(check({ wallets: [{ ...wallet, createdAt: { seconds: 1, nanos: 0 } }] }, "v1GetWalletsResponse").join(), /timestamp/);
  assert.match(check({ wallets: {} }, "v1GetWalletsResponse").join(), /expected an array/);
  assert.match(check({}, "v1GetWhoamiResponse").join(), /required property "organizationId"/);
});

test("enum values must be spelled exactly", () => {
  const policy = { policyId: "p", policyName: "n", effect: "EFFECT_ALLOW", createdAt: ts, updatedAt: ts, notes: "", consensus: "", condition: "" };
  assert.deepEqual(check({ policy }, "v1GetPolicyResponse"), []);
  assert.match(check({ policy: { ...policy, effect: "ALLOW" } }, "v1GetPolicyResponse").join(), /"ALLOW" is not one of v1Effect/);
  assert.match(check({ policy: { ...policy, effect: "effect_allow" } }, "v1GetPolicyResponse").join(), /not one of/);
});

test("strict mode reports undescribed properties; unknown definitions are errors", () => {
  assert.deepEqual(check({ wallets: [{ ...wallet, extra: 1 }] }, "v1GetWalletsResponse"), []);
  assert.match(check({ wallets: [{ ...wallet, extra: 1 }] }, "v1GetWalletsResponse", { strict: true }).join(), /"extra" is not described/);
  assert.match(check({}, "v1NoSuchThing").join(), /definition v1NoSuchThing is unknown/);
});

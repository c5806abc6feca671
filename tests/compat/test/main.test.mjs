// Phase "main": whoami, create wallet, list wallets/accounts, sign raw payloads,
// get activity, idempotent resubmission — all through the real @turnkey/http client.
// Tests run in order and share state (the wallet created in test 2).

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { computeActivityFingerprint } from "@turnkey/crypto";
import { getAddress, hashMessage, keccak256, sha256, toHex, verifyMessage } from "viem";
import { verifyMessage as ethersVerifyMessage } from "ethers";

import {
  TEST_TIMEOUT_MS,
  activityBody,
  assertActivityEnvelope,
  assertRecovers,
  assertRsv,
  assertTimestamp,
  assertUuid,
  makeClient,
  need,
  onlyInPhase,
  postRaw,
  saveState,
  statePath,
  uniqueName,
  viemSignature,
} from "../lib.mjs";

const ACCOUNT_PATHS = ["m/44'/60'/0'/0/0", "m/44'/60'/0'/0/1"];
const opts = { timeout: TEST_TIMEOUT_MS };

// Shared across the tests below (filled in as they pass).
const state = { walletName: uniqueName("keyhold-compat"), walletId: undefined, addresses: undefined, signActivity: undefined };

function signBody(organizationId, signWith, payload, hashFunction) {
  return activityBody("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", organizationId, {
    signWith,
    payload,
    encoding: "PAYLOAD_ENCODING_HEXADECIMAL",
    hashFunction,
  });
}

/** Submit sign_raw_payload through the SDK, check the envelope, return {activity, sig}. */
async function signRaw(signWith, payload, hashFunction) {
  const { creds, client, recorder } = makeClient();
  const body = signBody(creds.organizationId, signWith, payload, hashFunction);
  const res = await client.signRawPayload(body);
  const { activity } = res;
  assertActivityEnvelope(activity, {
    organizationId: creds.organizationId,
    type: "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
    intentKey: "signRawPayloadIntentV2",
    resultKey: "signRawPayloadResult",
    rawBody: recorder.lastBody,
  });
  const intent = activity.intent.signRawPayloadIntentV2;
  assert.equal(intent.signWith, signWith, "intent.signWith echo");
  assert.equal(intent.encoding, "PAYLOAD_ENCODING_HEXADECIMAL", "intent.encoding echo");
  assert.equal(intent.hashFunction, hashFunction, "intent.hashFunction echo");
  assert.equal(
    intent.payload.replace(/^0x/, "").toLowerCase(),
    payload.replace(/^0x/, "").toLowerCase(),
    "intent.payload echo",
  );
  const sig = activity.result.signRawPayloadResult;
  assertRsv(sig);
  return { activity, sig };
}

describe("phase main", { skip: onlyInPhase("main") }, () => {
  test("1. getWhoami returns the org and user from the credentials file", opts, async () => {
    const { creds, client } = makeClient();
    const who = await client.getWhoami({ organizationId: creds.organizationId });
    assert.equal(who.organizationId, creds.organizationId);
    assert.equal(who.userId, creds.userId);
    assert.equal(typeof who.organizationName, "string");
    assert.ok(who.organizationName.length > 0, "organizationName must not be empty");
    assert.equal(typeof who.username, "string");
    assert.ok(who.username.length > 0, "username must not be empty");
  });

  test("2. createWallet with two Ethereum accounts completes synchronously", opts, async (t) => {
    const { creds, client, recorder } = makeClient();
    const parameters = {
      walletName: state.walletName,
      accounts: ACCOUNT_PATHS.map((path) => ({
        curve: "CURVE_SECP256K1",
        pathFormat: "PATH_FORMAT_BIP32",
        path,
        addressFormat: "ADDRESS_FORMAT_ETHEREUM",
      })),
    };
    const res = await client.createWallet({
      type: "ACTIVITY_TYPE_CREATE_WALLET",
      timestampMs: String(Date.now()),
      organizationId: creds.organizationId,
      parameters,
    });
    const { activity } = res;
    assertActivityEnvelope(activity, {
      organizationId: creds.organizationId,
      type: "ACTIVITY_TYPE_CREATE_WALLET",
      intentKey: "createWalletIntent",
      resultKey: "createWalletResult",
      rawBody: recorder.lastBody,
    });
    const intent = activity.intent.createWalletIntent;
    assert.equal(intent.walletName, parameters.walletName, "intent.walletName echo");
    assert.equal(intent.accounts.length, 2, "intent.accounts echo");

    const result = activity.result.createWalletResult;
    assertUuid(result.walletId, "createWalletResult.walletId");
    assert.ok(Array.isArray(result.addresses), "createWalletResult.addresses must be an array");
    assert.equal(result.addresses.length, 2, "one address per requested account");
    for (const a of result.addresses) {
      assert.match(a, /^0x[0-9a-fA-F]{40}$/, `address ${a}`);
      assert.equal(getAddress(a), a, `address ${a} must be EIP-55 checksummed`);
    }
    assert.notEqual(result.addresses[0], result.addresses[1], "addresses must be distinct");

    state.walletId = result.walletId;
    state.addresses = result.addresses;
    if (saveState({ walletId: result.walletId, address: result.addresses[0] })) {
      t.diagnostic(`saved state to ${statePath()}`);
    } else {
      t.diagnostic("KEYHOLD_STATE not set: state for the restart phase was not saved");
    }
  });

  test("3. getWallets and getWalletAccounts list the new wallet and both accounts", opts, async () => {
    const walletId = need(state.walletId, "walletId from createWallet");
    const addresses = need(state.addresses, "addresses from createWallet");
    const { creds, client } = makeClient();

    const { wallets } = await client.getWallets({ organizationId: creds.organizationId });
    assert.ok(Array.isArray(wallets), "wallets must be an array");
    const wallet = wallets.find((w) => w.walletId === walletId);
    assert.ok(wallet, `getWallets must list ${walletId}`);
    assert.equal(wallet.walletName, state.walletName);
    assertTimestamp(wallet.createdAt, "wallet.createdAt");
    assertTimestamp(wallet.updatedAt, "wallet.updatedAt");
    assert.equal(wallet.exported, false, "wallet.exported");
    assert.equal(wallet.imported, false, "wallet.imported");

    const { accounts } = await client.getWalletAccounts({ organizationId: creds.organizationId, walletId });
    assert.ok(Array.isArray(accounts), "accounts must be an array");
    assert.equal(accounts.length, 2, "wallet has exactly two accounts");
    addresses.forEach((address, i) => {
      const acct = accounts.find((a) => a.address === address);
      assert.ok(acct, `getWalletAccounts must list ${address}`);
      assert.equal(acct.walletId, walletId);
      assert.equal(acct.organizationId, creds.organizationId);
      assert.equal(acct.curve, "CURVE_SECP256K1");
      assert.equal(acct.pathFormat, "PATH_FORMAT_BIP32");
      assert.equal(acct.path, ACCOUNT_PATHS[i]);
      assert.equal(acct.addressFormat, "ADDRESS_FORMAT_ETHEREUM");
      assert.equal(typeof acct.walletAccountId, "string");
      assertTimestamp(acct.createdAt, "account.createdAt");
    });
  });

  describe("4. signRawPayload", () => {
    const bytes = new TextEncoder().encode("keyhold compat payload \u2713");

    test("a. HASH_FUNCTION_NO_OP over an EIP-191 digest (what @turnkey/viem signMessage sends)", opts, async () => {
      const [address] = need(state.addresses, "addresses from createWallet");
      const message = "hello keyhold";
      const hash = hashMessage(message); // 0x-prefixed, as @turnkey/viem sends it
      const { activity, sig } = await signRaw(address, hash, "HASH_FUNCTION_NO_OP");
      await assertRecovers(hash, sig, address, "NO_OP");
      assert.equal(
        await verifyMessage({ address, message, signature: viemSignature(sig) }),
        true,
        "viem verifyMessage",
      );
      assert.equal(
        ethersVerifyMessage(message, { r: "0x" + sig.r, s: "0x" + sig.s, v: parseInt(sig.v) + 27 }),
        address,
        "ethers verifyMessage",
      );
      state.signActivity = activity;
    });

    test("b. HASH_FUNCTION_KECCAK256 over hex bytes without 0x", opts, async () => {
      const [address] = need(state.addresses, "addresses from createWallet");
      const payload = Buffer.from(bytes).toString("hex");
      const { sig } = await signRaw(address, payload, "HASH_FUNCTION_KECCAK256");
      await assertRecovers(keccak256(bytes), sig, address, "KECCAK256");
    });

    test("c. HASH_FUNCTION_SHA256 over hex bytes without 0x", opts, async () => {
      const [address] = need(state.addresses, "addresses from createWallet");
      const payload = Buffer.from(bytes).toString("hex");
      const { sig } = await signRaw(address, payload, "HASH_FUNCTION_SHA256");
      await assertRecovers(sha256(bytes), sig, address, "SHA256");
    });

    test("d. the second account signs with its own key", opts, async () => {
      const addresses = need(state.addresses, "addresses from createWallet");
      const hash = keccak256(toHex("second account"));
      const { sig } = await signRaw(addresses[1], hash, "HASH_FUNCTION_NO_OP");
      await assertRecovers(hash, sig, addresses[1], "second account");
    });
  });

  test("5. getActivity returns the completed sign activity unchanged", opts, async () => {
    const signed = need(state.signActivity, "activity from test 4a");
    const { creds, client } = makeClient();
    const { activity } = await client.getActivity({ organizationId: creds.organizationId, activityId: signed.id });
    assertActivityEnvelope(activity, {
      organizationId: creds.organizationId,
      type: "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
      intentKey: "signRawPayloadIntentV2",
      resultKey: "signRawPayloadResult",
    });
    assert.equal(activity.id, signed.id);
    assert.equal(activity.fingerprint, signed.fingerprint);
    assert.deepEqual(activity.intent, signed.intent);
    assert.deepEqual(activity.result, signed.result);
    assert.deepEqual(activity.createdAt, signed.createdAt);
  });

  test("6. resubmitting the exact same stamped body returns the same activity", opts, async () => {
    const [address] = need(state.addresses, "addresses from createWallet");
    const { creds, client } = makeClient();
    const hash = keccak256(toHex(`idempotency ${Date.now()}`));
    const input = signBody(creds.organizationId, address, hash, "HASH_FUNCTION_NO_OP");

    // {body: string, stamp: {stampHeaderName, stampHeaderValue}, url: string}
    const signed = await client.stampSignRawPayload(input);
    assert.equal(signed.stamp.stampHeaderName, "X-Stamp");
    const send = () => postRaw(signed.url, signed.body, { [signed.stamp.stampHeaderName]: signed.stamp.stampHeaderValue });

    const first = await send();
    assert.equal(first.status, 200, `first submit: ${first.text.slice(0, 500)}`);
    const second = await send();
    assert.equal(second.status, 200, `second submit: ${second.text.slice(0, 500)}`);

    const a1 = first.json.activity;
    const a2 = second.json.activity;
    for (const a of [a1, a2]) {
      assertActivityEnvelope(a, {
        organizationId: creds.organizationId,
        type: "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
        intentKey: "signRawPayloadIntentV2",
        resultKey: "signRawPayloadResult",
        rawBody: signed.body,
      });
    }
    assert.equal(a2.id, a1.id, "same body => same activity id");
    assert.deepEqual(a2.result, a1.result, "same body => same result");
    assert.equal(a1.fingerprint, computeActivityFingerprint(signed.body));
    await assertRecovers(hash, a1.result.signRawPayloadResult, address, "idempotent sign");

    // A new timestampMs is a new request, hence a new activity.
    const again = await client.signRawPayload({ ...input, timestampMs: String(Number(input.timestampMs) + 1) });
    assert.notEqual(again.activity.id, a1.id, "different body => different activity");
    assert.notEqual(again.activity.fingerprint, a1.fingerprint);
  });
});

// Phase "restart": after the server was stopped and started again, the wallet created
// in phase main (saved in $KEYHOLD_STATE) must still exist and still sign.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { keccak256 } from "viem";

import {
  TEST_TIMEOUT_MS,
  activityBody,
  assertActivityEnvelope,
  assertRecovers,
  assertRsv,
  loadState,
  makeClient,
  onlyInPhase,
} from "../lib.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };

describe("phase restart", { skip: onlyInPhase("restart") }, () => {
  test("the saved wallet survives a restart and still signs (KECCAK256)", opts, async () => {
    const { walletId, address } = loadState();
    const { creds, client, recorder } = makeClient();

    const bytes = new TextEncoder().encode(`after restart ${Date.now()}`);
    const { activity } = await client.signRawPayload(
      activityBody("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", creds.organizationId, {
        signWith: address,
        payload: Buffer.from(bytes).toString("hex"),
        encoding: "PAYLOAD_ENCODING_HEXADECIMAL",
        hashFunction: "HASH_FUNCTION_KECCAK256",
      }),
    );
    assertActivityEnvelope(activity, {
      organizationId: creds.organizationId,
      type: "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
      intentKey: "signRawPayloadIntentV2",
      resultKey: "signRawPayloadResult",
      rawBody: recorder.lastBody,
    });
    const sig = activity.result.signRawPayloadResult;
    assertRsv(sig);
    await assertRecovers(keccak256(bytes), sig, address, "after restart");

    const { wallets } = await client.getWallets({ organizationId: creds.organizationId });
    assert.ok(Array.isArray(wallets), "wallets must be an array");
    assert.ok(
      wallets.some((w) => w.walletId === walletId),
      `getWallets must still list ${walletId} after a restart`,
    );
  });
});

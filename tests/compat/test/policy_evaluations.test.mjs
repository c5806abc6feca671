// Phase "main": `getPolicyEvaluations` through `@turnkey/sdk-server` after real signing
// activities in a sub-organization: every policy's outcome in Turnkey's v1Outcome spelling, one
// evaluation per vote (the submission, then each approval), nothing policy-wise when the root
// quorum signs, and Turnkey's error for an unknown activity or another organization's.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { Turnkey } from "@turnkey/sdk-server";
import { generateP256KeyPair } from "@turnkey/crypto";
import { keccak256, toHex } from "viem";

import { TEST_TIMEOUT_MS, assertRecovers, assertTimestamp, assertUuid, loadCredentials, onlyInPhase, uniqueName } from "../lib.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const SIGN = "activity.resource == 'PRIVATE_KEY' && activity.action == 'SIGN'";

function sdk(keys, orgId) {
  const creds = loadCredentials();
  return new Turnkey({
    apiBaseUrl: creds.baseUrl,
    apiPublicKey: keys?.publicKey ?? creds.apiPublicKey,
    apiPrivateKey: keys?.privateKey ?? creds.apiPrivateKey,
    defaultOrganizationId: orgId ?? creds.organizationId,
    activityPoller: { intervalMs: 50, numRetries: 1 },
  }).apiClient();
}

function apiKey(name, kp) {
  return { apiKeyName: name, publicKey: kp.publicKey, curveType: "API_KEY_CURVE_P256" };
}

/** A sub-organization (one root user) with an Ethereum wallet and non-root users `names`. */
async function subOrg(names) {
  const rootKeys = generateP256KeyPair();
  const res = await sdk().createSubOrganization({
    subOrganizationName: uniqueName("evaluations"),
    rootUsers: [{ userName: "root", apiKeys: [apiKey("root key", rootKeys)], authenticators: [], oauthProviders: [] }],
    rootQuorumThreshold: 1,
    wallet: {
      walletName: "main",
      accounts: [{ curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/60'/0'/0/0", addressFormat: "ADDRESS_FORMAT_ETHEREUM" }],
    },
  });
  const orgId = res.subOrganizationId;
  const root = sdk(rootKeys, orgId);
  const keys = names.map(() => generateP256KeyPair());
  const created = names.length === 0 ? { userIds: [] } : await root.createUsers({
    organizationId: orgId,
    users: names.map((userName, i) => ({ userName, apiKeys: [apiKey(`${userName} key`, keys[i])], authenticators: [], oauthProviders: [], userTags: [] })),
  });
  const users = created.userIds.map((id, i) => ({ id, client: sdk(keys[i], orgId) }));
  const policy = async (effect, condition, consensus) =>
    (await root.createPolicy({ organizationId: orgId, policyName: uniqueName("p"), effect, condition, consensus, notes: "" })).policyId;
  return { orgId, root, address: res.wallet.addresses[0], users, policy };
}

function signParams(sub, message) {
  return { organizationId: sub.orgId, signWith: sub.address, payload: toHex(message), encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_KECCAK256" };
}

/** Checks one evaluation's envelope against its activity and the vote it was made for. */
function assertEvaluation(evaluation, activity, vote) {
  assertUuid(evaluation.id, "evaluation id");
  assert.equal(evaluation.activityId, activity.id);
  assert.equal(evaluation.organizationId, activity.organizationId);
  assert.equal(evaluation.voteId, vote.id, "the evaluation names the vote it was made for");
  assertTimestamp(evaluation.createdAt, "createdAt");
  assert.ok(Array.isArray(evaluation.policyEvaluations));
}

function outcomes(evaluation) {
  return evaluation.policyEvaluations.map((p) => [p.policyId, p.outcome]);
}

async function notFound(promise, what) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.name, "TurnkeyRequestError", `${what}: ${e}`);
    assert.equal(e.code, 5, `${what}: NOT_FOUND expected, got ${e.code} ${e.message}`);
    assert.ok(
      e.details?.some((d) => d["@type"] === "type.googleapis.com/errors.v1.TurnkeyErrorDetail"),
      `${what}: Turnkey's error detail`,
    );
    return true;
  });
}

describe("phase main: getPolicyEvaluations", { skip: onlyInPhase("main") }, () => {
  test("a signature by a non-root user: every policy's outcome, in the organization's order", opts, async () => {
    const sub = await subOrg(["agent"]);
    const [agent] = sub.users;
    const allow = await sub.policy("EFFECT_ALLOW", SIGN, `approvers.any(u, u.id == '${agent.id}')`);
    const denyOther = await sub.policy("EFFECT_DENY", "activity.type == 'ACTIVITY_TYPE_CREATE_USERS_V3'", "");
    const allowOther = await sub.policy("EFFECT_ALLOW", "activity.action == 'EXPORT'", "");
    const signed = await agent.client.signRawPayload(signParams(sub, "evaluated"));
    assert.equal(signed.activity.status, "ACTIVITY_STATUS_COMPLETED");
    await assertRecovers(keccak256(toHex("evaluated")), signed, sub.address, "signature");

    const res = await agent.client.getPolicyEvaluations({ organizationId: sub.orgId, activityId: signed.activity.id });
    assert.equal(res.policyEvaluations.length, 1, "one evaluation: the submission");
    const [evaluation] = res.policyEvaluations;
    assertEvaluation(evaluation, signed.activity, signed.activity.votes[0]);
    assert.deepEqual(outcomes(evaluation), [
      [allow, "OUTCOME_ALLOW"],
      [denyOther, "OUTCOME_DENY_IMPLICIT"],
      [allowOther, "OUTCOME_DENY_IMPLICIT"],
    ]);
    // the same answer for the organization's root user
    const again = await sub.root.getPolicyEvaluations({ organizationId: sub.orgId, activityId: signed.activity.id });
    assert.deepEqual(again, res);

    // the root quorum signs without consulting the policies: an evaluation with no outcomes
    const byRoot = await sub.root.signRawPayload(signParams(sub, "root"));
    const rootEvaluations = await sub.root.getPolicyEvaluations({ organizationId: sub.orgId, activityId: byRoot.activity.id });
    assert.equal(rootEvaluations.policyEvaluations.length, 1);
    assertEvaluation(rootEvaluations.policyEvaluations[0], byRoot.activity, byRoot.activity.votes[0]);
    assert.deepEqual(rootEvaluations.policyEvaluations[0].policyEvaluations, []);
  });

  test("2 of 3 approvals: one evaluation per vote, REQUIRES_CONSENSUS then ALLOW", opts, async () => {
    const sub = await subOrg(["alice", "bob", "carol"]);
    const ids = sub.users.map((u) => `'${u.id}'`).join(", ");
    const board = await sub.policy("EFFECT_ALLOW", SIGN, `approvers.filter(u, u.id in [${ids}]).count() >= 2`);
    const [alice, bob] = sub.users;
    const pending = await alice.client.signRawPayload(signParams(sub, "two of three"));
    assert.equal(pending.activity.status, "ACTIVITY_STATUS_CONSENSUS_NEEDED");
    const first = await bob.client.getPolicyEvaluations({ organizationId: sub.orgId, activityId: pending.activity.id });
    assert.equal(first.policyEvaluations.length, 1);
    assert.deepEqual(outcomes(first.policyEvaluations[0]), [[board, "OUTCOME_REQUIRES_CONSENSUS"]]);

    const approved = await bob.client.approveActivity({ organizationId: sub.orgId, fingerprint: pending.activity.fingerprint });
    assert.equal(approved.activity.status, "ACTIVITY_STATUS_COMPLETED");
    const { activity } = await alice.client.getActivity({ organizationId: sub.orgId, activityId: pending.activity.id });
    const both = await alice.client.getPolicyEvaluations({ organizationId: sub.orgId, activityId: pending.activity.id });
    assert.equal(both.policyEvaluations.length, 2, "the approval evaluated the policies again");
    const [submitted, voted] = both.policyEvaluations;
    assert.deepEqual(submitted, first.policyEvaluations[0], "the first evaluation is kept as it was");
    assertEvaluation(submitted, activity, activity.votes[0]);
    assertEvaluation(voted, activity, activity.votes[1]);
    assert.notEqual(submitted.id, voted.id);
    assert.deepEqual(outcomes(voted), [[board, "OUTCOME_ALLOW"]]);
  });

  test("an unknown activity, or one of another organization: NOT_FOUND", opts, async () => {
    const sub = await subOrg([]);
    const signed = await sub.root.signRawPayload(signParams(sub, "mine"));
    const creds = loadCredentials();
    await notFound(
      sub.root.getPolicyEvaluations({ organizationId: sub.orgId, activityId: "00000000-0000-4000-8000-000000000000" }),
      "unknown activity",
    );
    // the parent organization's root names the sub-organization's activity under its own id
    await notFound(
      sdk().getPolicyEvaluations({ organizationId: creds.organizationId, activityId: signed.activity.id }),
      "another organization's activity",
    );
    // a caller that is not a user of the organization asked for learns nothing
    const other = await subOrg([]);
    await assert.rejects(
      other.root.getPolicyEvaluations({ organizationId: sub.orgId, activityId: signed.activity.id }),
      (e) => e.code === 16,
    );
  });
});

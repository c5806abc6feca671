// Phase "main", organizations: users, API keys, user tags and policies through the real
// @turnkey/http client, and the policy engine deciding what a non-root user may do:
// denied by default, allowed by an ALLOW policy, denied again by a DENY policy (deny wins).
// Tests run in order and share state.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { TurnkeyClient } from "@turnkey/http";
import { generateP256KeyPair } from "@turnkey/crypto";

import {
  TEST_TIMEOUT_MS,
  activityBody,
  assertActivityEnvelope,
  assertUuid,
  makeClient,
  need,
  onlyInPhase,
  uniqueName,
} from "../lib.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const state = { bob: undefined, bobId: undefined, tagId: undefined, allowId: undefined, denyId: undefined };

function clientFor(kp) {
  const { creds } = makeClient();
  return new TurnkeyClient(
    { baseUrl: creds.baseUrl },
    new ApiKeyStamper({ apiPublicKey: kp.publicKey, apiPrivateKey: kp.privateKey }),
  );
}

function walletBody(organizationId) {
  return activityBody("ACTIVITY_TYPE_CREATE_WALLET", organizationId, {
    walletName: uniqueName("orgs"),
    accounts: [{ curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/60'/0'/0/0",
      addressFormat: "ADDRESS_FORMAT_ETHEREUM" }],
  });
}

/** Bob creates a wallet; resolves to the activity, or rejects with the TurnkeyRequestError. */
async function bobCreatesWallet() {
  const { creds } = makeClient();
  return clientFor(need(state.bob, "bob's key")).createWallet(walletBody(creds.organizationId));
}

async function assertDenied(promise, what) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.name, "TurnkeyRequestError", `${what}: ${e}`);
    assert.equal(e.code, 7, `${what}: gRPC PERMISSION_DENIED expected, got ${e.message}`);
    assert.equal(e.details?.[0]?.turnkeyErrorCode, "REQUEST_NOT_AUTHORIZED", what);
    return true;
  });
}

describe("phase main: organizations and policies", { skip: onlyInPhase("main") }, () => {
  test("1. createUsers (V4) adds a non-root user with an API key; getUser/getUsers/getApiKeys list it", opts, async () => {
    const { creds, client, recorder } = makeClient();
    state.bob = generateP256KeyPair();
    const { activity } = await client.createUsers(activityBody("ACTIVITY_TYPE_CREATE_USERS_V4", creds.organizationId, {
      users: [{ userName: uniqueName("bob"), apiKeys: [{ apiKeyName: "bob key", publicKey: state.bob.publicKey,
        curveType: "API_KEY_CURVE_P256" }], authenticators: [], oauthProviders: [], userTags: [] }],
    }));
    assertActivityEnvelope(activity, { organizationId: creds.organizationId, type: "ACTIVITY_TYPE_CREATE_USERS_V4",
      intentKey: "createUsersIntentV4", resultKey: "createUsersResult", rawBody: recorder.lastBody });
    [state.bobId] = activity.result.createUsersResult.userIds;
    assertUuid(state.bobId, "userIds[0]");

    const { user } = await client.getUser({ organizationId: creds.organizationId, userId: state.bobId });
    assert.equal(user.userId, state.bobId);
    assert.equal(user.apiKeys[0].credential.publicKey, state.bob.publicKey);
    assert.equal(user.apiKeys[0].credential.type, "CREDENTIAL_TYPE_API_KEY_P256");
    const { users } = await client.getUsers({ organizationId: creds.organizationId });
    assert.ok(users.some((u) => u.userId === creds.userId) && users.some((u) => u.userId === state.bobId));
    const { apiKeys } = await client.getApiKeys({ organizationId: creds.organizationId, userId: state.bobId });
    assert.equal(apiKeys.length, 1);
    // bob can read his organization (every user may), and is who he says
    const who = await clientFor(state.bob).getWhoami({ organizationId: creds.organizationId });
    assert.equal(who.userId, state.bobId);
  });

  test("2. a non-root user is denied by default (implicit deny)", opts, async () => {
    await assertDenied(bobCreatesWallet(), "bob without a policy");
  });

  test("3. createUserTag, then an ALLOW policy on the tag lets bob create wallets", opts, async () => {
    const { creds, client } = makeClient();
    const tag = await client.createUserTag(activityBody("ACTIVITY_TYPE_CREATE_USER_TAG", creds.organizationId, {
      userTagName: uniqueName("signers"), userIds: [need(state.bobId, "bob")] }));
    state.tagId = tag.activity.result.createUserTagResult.userTagId;
    const { userTags } = await client.listUserTags({ organizationId: creds.organizationId });
    assert.ok(userTags.some((t) => t.tagId === state.tagId && t.tagType === "TAG_TYPE_USER"));

    const { activity } = await client.createPolicy(activityBody("ACTIVITY_TYPE_CREATE_POLICY_V3", creds.organizationId, {
      policyName: uniqueName("signers may create wallets"), effect: "EFFECT_ALLOW",
      condition: "activity.resource == 'WALLET' && activity.action == 'CREATE'",
      consensus: `approvers.any(user, user.tags.contains('${state.tagId}'))`, notes: "compat suite",
    }));
    assert.equal(activity.status, "ACTIVITY_STATUS_COMPLETED");
    state.allowId = activity.result.createPolicyResult.policyId;
    assertUuid(state.allowId, "policyId");
    const { policy } = await client.getPolicy({ organizationId: creds.organizationId, policyId: state.allowId });
    assert.equal(policy.effect, "EFFECT_ALLOW");
    assert.equal(policy.notes, "compat suite");

    const res = await bobCreatesWallet();
    assert.equal(res.activity.status, "ACTIVITY_STATUS_COMPLETED");
    assertUuid(res.activity.result.createWalletResult.walletId, "walletId");
  });

  test("4. a DENY policy wins over the ALLOW; deleting it restores the permission", opts, async () => {
    const { creds, client } = makeClient();
    const { activity } = await client.createPolicy(activityBody("ACTIVITY_TYPE_CREATE_POLICY_V3", creds.organizationId, {
      policyName: uniqueName("no wallets for bob"), effect: "EFFECT_DENY",
      condition: "activity.type == 'ACTIVITY_TYPE_CREATE_WALLET'",
      consensus: `approvers.any(user, user.id == '${need(state.bobId, "bob")}')`, notes: "",
    }));
    state.denyId = activity.result.createPolicyResult.policyId;
    await assertDenied(bobCreatesWallet(), "bob with a matching DENY");
    // the root user is not affected (root quorum bypass)
    const root = await client.createWallet(walletBody(creds.organizationId));
    assert.equal(root.activity.status, "ACTIVITY_STATUS_COMPLETED");

    await client.deletePolicy(activityBody("ACTIVITY_TYPE_DELETE_POLICY", creds.organizationId, { policyId: state.denyId }));
    const { policies } = await client.getPolicies({ organizationId: creds.organizationId });
    assert.ok(!policies.some((p) => p.policyId === state.denyId));
    assert.ok(policies.some((p) => p.policyId === state.allowId));
    const res = await bobCreatesWallet();
    assert.equal(res.activity.status, "ACTIVITY_STATUS_COMPLETED");
  });

  test("5. an invalid policy is refused with HTTP 400 and the position of the error", opts, async () => {
    const { creds, client } = makeClient();
    await assert.rejects(
      client.createPolicy(activityBody("ACTIVITY_TYPE_CREATE_POLICY_V3", creds.organizationId, {
        policyName: uniqueName("typo"), effect: "EFFECT_ALLOW", condition: "eth.tx.vlaue > 0", notes: "" })),
      (e) => {
        assert.equal(e.code, 3, e.message);
        assert.match(e.message, /invalid policy condition: 1:\d+: .*vlaue/);
        return true;
      },
    );
  });

  test("6. bob cannot change the root quorum, whatever the policies say", opts, async () => {
    const { creds } = makeClient();
    await assertDenied(
      clientFor(state.bob).updateRootQuorum(activityBody("ACTIVITY_TYPE_UPDATE_ROOT_QUORUM", creds.organizationId, {
        threshold: 1, userIds: [need(state.bobId, "bob")] })),
      "bob updating the root quorum",
    );
  });

  test("7. getOrganization and getActivities (filters, pagination)", opts, async () => {
    const { creds, client } = makeClient();
    const { organizationData: org } = await client.getOrganization({ organizationId: creds.organizationId });
    assert.equal(org.organizationId, creds.organizationId);
    assert.deepEqual(org.rootQuorum.userIds, [creds.userId]);
    assert.ok(org.users.length >= 2 && Array.isArray(org.wallets) && Array.isArray(org.policies));
    const { activities } = await client.getActivities({ organizationId: creds.organizationId,
      filterByType: ["ACTIVITY_TYPE_CREATE_POLICY_V3"], paginationOptions: { limit: "1" } });
    assert.equal(activities.length, 1);
    assert.equal(activities[0].type, "ACTIVITY_TYPE_CREATE_POLICY_V3");
    const next = await client.getActivities({ organizationId: creds.organizationId,
      filterByType: ["ACTIVITY_TYPE_CREATE_POLICY_V3"], paginationOptions: { limit: "1", after: activities[0].id } });
    assert.equal(next.activities.length, 1);
    assert.notEqual(next.activities[0].id, activities[0].id);
  });

  test("8. deleteApiKeys and deleteUsers: bob's key stops working", opts, async () => {
    const { creds, client } = makeClient();
    const { user } = await client.getUser({ organizationId: creds.organizationId, userId: need(state.bobId, "bob") });
    await client.deleteApiKeys(activityBody("ACTIVITY_TYPE_DELETE_API_KEYS", creds.organizationId, {
      userId: state.bobId, apiKeyIds: [user.apiKeys[0].apiKeyId] }));
    await assert.rejects(bobCreatesWallet(), (e) => e.details?.[0]?.turnkeyErrorCode === "PUBLIC_KEY_NOT_FOUND");
    await client.deleteUsers(activityBody("ACTIVITY_TYPE_DELETE_USERS", creds.organizationId, { userIds: [state.bobId] }));
    const { users } = await client.getUsers({ organizationId: creds.organizationId });
    assert.ok(!users.some((u) => u.userId === state.bobId));
  });

  test("9. createSubOrganization (V8) with a wallet: the sub-org's root user signs there; getSubOrgIds lists it", opts, async () => {
    const { creds, client, recorder } = makeClient();
    const alice = generateP256KeyPair();
    const { activity } = await client.createSubOrganization(
      activityBody("ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8", creds.organizationId, {
        subOrganizationName: uniqueName("end-user"),
        rootUsers: [{ userName: "alice", apiKeys: [{ apiKeyName: "alice", publicKey: alice.publicKey,
          curveType: "API_KEY_CURVE_P256" }], authenticators: [], oauthProviders: [] }],
        rootQuorumThreshold: 1,
        wallet: { walletName: "main", accounts: [{ curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32",
          path: "m/44'/60'/0'/0/0", addressFormat: "ADDRESS_FORMAT_ETHEREUM" }] },
      }),
    );
    assertActivityEnvelope(activity, { organizationId: creds.organizationId,
      type: "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8", intentKey: "createSubOrganizationIntentV8",
      resultKey: "createSubOrganizationResultV8", rawBody: recorder.lastBody });
    const r = activity.result.createSubOrganizationResultV8;
    assertUuid(r.subOrganizationId, "subOrganizationId");
    assert.equal(r.rootUserIds.length, 1);
    const [address] = r.wallet.addresses;
    assert.match(address, /^0x[0-9a-fA-F]{40}$/);

    const sub = clientFor(alice);
    const who = await sub.getWhoami({ organizationId: r.subOrganizationId });
    assert.equal(who.userId, r.rootUserIds[0]);
    const signed = await sub.signRawPayload(activityBody("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", r.subOrganizationId, {
      signWith: address, payload: "deadbeef", encoding: "PAYLOAD_ENCODING_HEXADECIMAL",
      hashFunction: "HASH_FUNCTION_KECCAK256" }));
    assert.equal(signed.activity.status, "ACTIVITY_STATUS_COMPLETED");
    // the parent's key reads the sub-organization (Turnkey: read-only visibility) but cannot act in it
    const { wallets } = await client.getWallets({ organizationId: r.subOrganizationId });
    assert.deepEqual(wallets.map((w) => w.walletId), [r.wallet.walletId]);
    await assert.rejects(
      client.signRawPayload(activityBody("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", r.subOrganizationId, {
        signWith: address, payload: "deadbeef", encoding: "PAYLOAD_ENCODING_HEXADECIMAL",
        hashFunction: "HASH_FUNCTION_KECCAK256" })),
      (e) => e.details?.[0]?.turnkeyErrorCode === "REQUEST_NOT_AUTHORIZED" && /organization mismatch/.test(e.message),
    );
    const { organizationIds } = await client.getSubOrgIds({ organizationId: creds.organizationId,
      paginationOptions: { limit: "100" } });
    assert.ok(organizationIds.includes(r.subOrganizationId));
  });

  test("10. 2-of-3 approvals: CONSENSUS_NEEDED, approve_activity completes it; reject_activity rejects another", opts, async () => {
    const { creds, client } = makeClient();
    const board = [generateP256KeyPair(), generateP256KeyPair(), generateP256KeyPair()];
    const created = await client.createUsers(activityBody("ACTIVITY_TYPE_CREATE_USERS_V4", creds.organizationId, {
      users: board.map((kp, i) => ({ userName: uniqueName(`board${i}`), apiKeys: [{ apiKeyName: "k", publicKey: kp.publicKey,
        curveType: "API_KEY_CURVE_P256" }], authenticators: [], oauthProviders: [], userTags: [] })),
    }));
    const ids = created.activity.result.createUsersResult.userIds;
    const tag = await client.createUserTag(activityBody("ACTIVITY_TYPE_CREATE_USER_TAG", creds.organizationId, {
      userTagName: uniqueName("board"), userIds: ids }));
    const tagId = tag.activity.result.createUserTagResult.userTagId;
    await client.createPolicy(activityBody("ACTIVITY_TYPE_CREATE_POLICY_V3", creds.organizationId, {
      policyName: uniqueName("two board members create wallets"), effect: "EFFECT_ALLOW",
      condition: "activity.type == 'ACTIVITY_TYPE_CREATE_WALLET'",
      consensus: `approvers.filter(u, u.tags.contains('${tagId}')).count() >= 2`, notes: "" }));

    // member 0 submits: waits for consensus, result {}, one vote (the submitter's stamp)
    const [m0, m1, m2] = board.map(clientFor);
    const pending = (await m0.createWallet(walletBody(creds.organizationId))).activity;
    assert.equal(pending.status, "ACTIVITY_STATUS_CONSENSUS_NEEDED");
    assert.deepEqual(pending.result, {});
    assert.equal(pending.votes.length, 1);
    assert.equal(pending.votes[0].userId, ids[0]);
    const { activities } = await client.getActivities({ organizationId: creds.organizationId,
      filterByStatus: ["ACTIVITY_STATUS_CONSENSUS_NEEDED"] });
    assert.ok(activities.some((a) => a.id === pending.id));

    // member 1 approves: the wallet is created, and the returned activity is the approved one
    const approved = (await m1.approveActivity(activityBody("ACTIVITY_TYPE_APPROVE_ACTIVITY", creds.organizationId,
      { fingerprint: pending.fingerprint }))).activity;
    assert.equal(approved.id, pending.id);
    assert.equal(approved.status, "ACTIVITY_STATUS_COMPLETED");
    assertUuid(approved.result.createWalletResult.walletId, "walletId");
    assert.deepEqual(approved.votes.map((v) => v.userId), [ids[0], ids[1]]);
    const fetched = await client.getActivity({ organizationId: creds.organizationId, activityId: pending.id });
    assert.equal(fetched.activity.status, "ACTIVITY_STATUS_COMPLETED");

    // another one, rejected by member 2; approving it afterwards changes nothing
    const second = (await m0.createWallet(walletBody(creds.organizationId))).activity;
    assert.equal(second.status, "ACTIVITY_STATUS_CONSENSUS_NEEDED");
    const rejected = (await m2.rejectActivity(activityBody("ACTIVITY_TYPE_REJECT_ACTIVITY", creds.organizationId,
      { fingerprint: second.fingerprint }))).activity;
    assert.equal(rejected.status, "ACTIVITY_STATUS_REJECTED");
    assert.equal(rejected.votes[1].selection, "VOTE_SELECTION_REJECTED");
    const late = (await m1.approveActivity(activityBody("ACTIVITY_TYPE_APPROVE_ACTIVITY", creds.organizationId,
      { fingerprint: second.fingerprint }))).activity;
    assert.equal(late.status, "ACTIVITY_STATUS_REJECTED");
    assert.deepEqual(late.result, {});

    // an unknown fingerprint is a 404
    await assert.rejects(
      m1.approveActivity(activityBody("ACTIVITY_TYPE_APPROVE_ACTIVITY", creds.organizationId,
        { fingerprint: "sha256:" + "0".repeat(64) })),
      (e) => e.code === 5,
    );
  });
});

// Phase "main": users after creation, API-only users, the organization's name, deleting a
// sub-organization, read-only sessions and stamp login — through the real @turnkey/http client,
// @turnkey/sdk-browser's X-Session reads and @turnkey/crypto's session JWT check. Each runs in a
// sub-organization of its own; tests run in order and share state.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { TurnkeyClient } from "@turnkey/http";
import { TurnkeyBrowserClient } from "@turnkey/sdk-browser";
import { generateP256KeyPair, verifySessionJwtSignature } from "@turnkey/crypto";

import {
  TEST_TIMEOUT_MS,
  activityBody,
  assertActivityEnvelope,
  assertTurnkeyError,
  assertUuid,
  loadCredentials,
  makeClient,
  need,
  onlyInPhase,
  postRaw,
  uniqueName,
} from "../lib.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const s = {};

function clientFor(kp) {
  return new TurnkeyClient(
    { baseUrl: loadCredentials().baseUrl },
    new ApiKeyStamper({ apiPublicKey: kp.publicKey, apiPrivateKey: kp.privateKey }),
  );
}

const userParams = (name, kp) => ({ userName: uniqueName(name), apiKeys: kp ? [{ apiKeyName: `${name} key`,
  publicKey: kp.publicKey, curveType: "API_KEY_CURVE_P256" }] : [], authenticators: [], oauthProviders: [], userTags: [] });
const ethAccount = { curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/60'/0'/0/0",
  addressFormat: "ADDRESS_FORMAT_ETHEREUM" };

/** A fresh sub-organization of the dev organization, rooted in a new key; `{id, root, rootId, kp}`. */
async function subOrganization(name, wallet) {
  const { creds, client } = makeClient();
  const kp = generateP256KeyPair();
  const params = { subOrganizationName: uniqueName(name), rootUsers: [userParams(`${name}-root`, kp)], rootQuorumThreshold: 1 };
  if (wallet) params.wallet = { walletName: "main", accounts: [ethAccount] };
  const { activity } = await client.createSubOrganization(activityBody("ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8",
    creds.organizationId, params));
  const r = activity.result.createSubOrganizationResultV8;
  return { id: r.subOrganizationId, rootId: r.rootUserIds[0], root: clientFor(kp), kp, walletId: r.wallet?.walletId };
}

/** Rejects with @turnkey/http's TurnkeyRequestError of gRPC `code` whose message matches `message`. */
async function assertRefused(promise, code, message, what) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.name, "TurnkeyRequestError", `${what}: ${e}`);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    if (message) assert.match(e.message, message, what);
    return true;
  });
}

function jwtPart(jwt, i) {
  return JSON.parse(Buffer.from(jwt.split(".")[i], "base64url").toString("utf8"));
}

describe("phase main: users, organization name, sub-organization deletion, sessions", { skip: onlyInPhase("main") }, () => {
  test("1. createApiOnlyUsers: the users' keys authenticate; a non-root user may not create them", opts, async () => {
    s.org = await subOrganization("lifecycle", false);
    const { root, id } = s.org;
    s.svcKp = generateP256KeyPair();
    const { activity } = await root.createApiOnlyUsers(activityBody("ACTIVITY_TYPE_CREATE_API_ONLY_USERS", id, {
      apiOnlyUsers: [{ userName: uniqueName("svc"), userEmail: "svc@example.com", userTags: [],
        apiKeys: [{ apiKeyName: "svc key", publicKey: s.svcKp.publicKey }] }] }));
    assertActivityEnvelope(activity, { organizationId: id, type: "ACTIVITY_TYPE_CREATE_API_ONLY_USERS",
      intentKey: "createApiOnlyUsersIntent", resultKey: "createApiOnlyUsersResult" });
    [s.svcId] = activity.result.createApiOnlyUsersResult.userIds;
    assertUuid(s.svcId, "userIds[0]");
    const who = await clientFor(s.svcKp).getWhoami({ organizationId: id });
    assert.equal(who.userId, s.svcId);
    const { user } = await root.getUser({ organizationId: id, userId: s.svcId });
    assert.equal(user.userEmail, "svc@example.com");
    assert.equal(user.apiKeys[0].credential.publicKey, s.svcKp.publicKey);
    assert.deepEqual(user.authenticators, []);
    // the API-only user is not root: denied by default
    await assertRefused(clientFor(s.svcKp).createApiOnlyUsers(activityBody("ACTIVITY_TYPE_CREATE_API_ONLY_USERS", id, {
      apiOnlyUsers: [{ userName: uniqueName("more"), userTags: [], apiKeys: [] }] })), 7, /not authorized/, "svc creates users");
  });

  test("2. updateUser and the single-field updates show in getUser; verification tokens are not supported", opts, async () => {
    const { root, id } = need(s.org, "sub-organization");
    const svcId = need(s.svcId, "API-only user");
    const name = uniqueName("svc-renamed");
    const res = await root.updateUser(activityBody("ACTIVITY_TYPE_UPDATE_USER", id, {
      userId: svcId, userName: name, userEmail: "svc2@example.com", userTagIds: [], userPhoneNumber: "+13214567890" }));
    assert.deepEqual(res.activity.result, { updateUserResult: { userId: svcId } });
    let { user } = await root.getUser({ organizationId: id, userId: svcId });
    assert.equal(user.userName, name);
    assert.equal(user.userEmail, "svc2@example.com");
    assert.equal(user.userPhoneNumber, "+13214567890");

    await root.updateUserName(activityBody("ACTIVITY_TYPE_UPDATE_USER_NAME", id, { userId: svcId, userName: "svc" }));
    await root.updateUserEmail(activityBody("ACTIVITY_TYPE_UPDATE_USER_EMAIL", id, { userId: svcId, userEmail: "" }));
    const phone = await root.updateUserPhoneNumber(activityBody("ACTIVITY_TYPE_UPDATE_USER_PHONE_NUMBER", id, {
      userId: svcId, userPhoneNumber: "+447700900123" }));
    assert.deepEqual(phone.activity.result, { updateUserPhoneNumberResult: { userId: svcId } });
    ({ user } = await root.getUser({ organizationId: id, userId: svcId }));
    assert.equal(user.userName, "svc");
    assert.equal(user.userEmail, undefined, "an empty email removes it");
    assert.equal(user.userPhoneNumber, "+447700900123");

    await assertRefused(root.updateUserEmail(activityBody("ACTIVITY_TYPE_UPDATE_USER_EMAIL", id, {
      userId: svcId, userEmail: "x@example.com", verificationToken: "eyJhbGciOiJFUzI1NiJ9.e30.c2ln" })),
      12, /not supported by keyhold/, "email verification token");
    await assertRefused(root.updateUserPhoneNumber(activityBody("ACTIVITY_TYPE_UPDATE_USER_PHONE_NUMBER", id, {
      userId: svcId, userPhoneNumber: "+15550100", verificationToken: "eyJhbGciOiJFUzI1NiJ9.e30.c2ln" })),
      12, /not supported by keyhold/, "phone verification token");
    // a non-root user may not rename anyone (not even itself) without a policy
    await assertRefused(clientFor(s.svcKp).updateUserName(activityBody("ACTIVITY_TYPE_UPDATE_USER_NAME", id, {
      userId: svcId, userName: "me" })), 7, /not authorized/, "svc renames itself");
  });

  test("3. updateOrganizationName: getOrganization and whoami show it; root quorum only", opts, async () => {
    const { root, id } = need(s.org, "sub-organization");
    const name = uniqueName("renamed org");
    const { activity } = await root.updateOrganizationName(activityBody("ACTIVITY_TYPE_UPDATE_ORGANIZATION_NAME", id,
      { organizationName: name }));
    assert.deepEqual(activity.result, { updateOrganizationNameResult: { organizationId: id, organizationName: name } });
    const { organizationData } = await root.getOrganization({ organizationId: id });
    assert.equal(organizationData.name, name);
    assert.equal((await root.getWhoami({ organizationId: id })).organizationName, name);
    // even a policy allowing everything does not let a non-root user rename the organization
    await root.createPolicy(activityBody("ACTIVITY_TYPE_CREATE_POLICY_V3", id, { policyName: uniqueName("svc may"),
      effect: "EFFECT_ALLOW", condition: "true", consensus: `approvers.any(user, user.id == '${s.svcId}')`, notes: "" }));
    await assertRefused(clientFor(s.svcKp).updateOrganizationName(activityBody("ACTIVITY_TYPE_UPDATE_ORGANIZATION_NAME", id,
      { organizationName: "svc's" })), 7, /root quorum/, "svc renames the organization");
  });

  test("4. createReadOnlySession: @turnkey/sdk-browser reads with X-Session; no activity goes through it", opts, async () => {
    const { root, id, rootId } = need(s.org, "sub-organization");
    const { activity } = await root.createReadOnlySession(activityBody("ACTIVITY_TYPE_CREATE_READ_ONLY_SESSION", id, {}));
    const r = activity.result.createReadOnlySessionResult;
    assert.equal(r.organizationId, id);
    assert.equal(r.userId, rootId);
    const expiry = Number(r.sessionExpiry);
    assert.ok(Math.abs(expiry - (Date.now() / 1000 + 3600)) < 120, `sessionExpiry ${r.sessionExpiry}`);
    assert.equal(jwtPart(r.session, 1).session_type, "SESSION_TYPE_READ_ONLY");

    // the browser SDK's read-only client: no stamper, the session in X-Session
    const reader = new TurnkeyBrowserClient({ apiBaseUrl: loadCredentials().baseUrl, organizationId: id,
      readOnlySession: r.session });
    const who = await reader.getWhoami({ organizationId: id });
    assert.equal(who.userId, rootId);
    const { users } = await reader.getUsers({ organizationId: id });
    assert.ok(users.some((u) => u.userId === s.svcId));
    assert.deepEqual((await reader.getWallets({ organizationId: id })).wallets, []);

    const { baseUrl } = loadCredentials();
    const body = JSON.stringify(activityBody("ACTIVITY_TYPE_CREATE_WALLET", id, { walletName: "w", accounts: [ethAccount] }));
    assertTurnkeyError(await postRaw(`${baseUrl}/public/v1/submit/create_wallet`, body, { "X-Session": r.session }),
      { status: 403, code: 7, message: /read-only session/ }, "an activity with X-Session");
    const tampered = r.session.slice(0, -4) + (r.session.endsWith("AAAA") ? "BBBB" : "AAAA");
    assertTurnkeyError(await postRaw(`${baseUrl}/public/v1/query/whoami`, JSON.stringify({ organizationId: id }),
      { "X-Session": tampered }), { status: 401 }, "a tampered session");
    // another organization's reads are not this session's
    const { creds } = makeClient();
    assertTurnkeyError(await postRaw(`${baseUrl}/public/v1/query/whoami`, JSON.stringify({ organizationId: creds.organizationId }),
      { "X-Session": r.session }), { status: [401, 403] }, "the parent organization with a sub-organization's session");
  });

  test("5. stampLogin: a session JWT Turnkey's way, signed by /enclave/v1/session-signer; the session key stamps", opts, async () => {
    const { root, id, rootId } = need(s.org, "sub-organization");
    const session = generateP256KeyPair();
    const { activity } = await root.stampLogin(activityBody("ACTIVITY_TYPE_STAMP_LOGIN", id, {
      publicKey: session.publicKey, expirationSeconds: "600", invalidateExisting: true }));
    const jwt = activity.result.stampLoginResult.session;
    assert.deepEqual(jwtPart(jwt, 0), { alg: "ES256", typ: "JWT" });
    const claims = jwtPart(jwt, 1);
    assert.equal(claims.public_key, session.publicKey);
    assert.equal(claims.session_type, "SESSION_TYPE_READ_WRITE");
    assert.equal(claims.user_id, rootId);
    assert.equal(claims.organization_id, id);
    assert.ok(Math.abs(claims.exp - (Date.now() / 1000 + 600)) < 120, `exp ${claims.exp}`);

    const res = await fetch(`${loadCredentials().baseUrl}/enclave/v1/session-signer`);
    assert.equal(res.status, 200);
    const { sessionSignerPublicKey } = await res.json();
    assert.equal(await verifySessionJwtSignature(jwt, sessionSignerPublicKey), true, "verifySessionJwtSignature");
    assert.equal(await verifySessionJwtSignature(jwt), false, "not Turnkey's notarizer key");

    const created = await clientFor(session).createWallet(activityBody("ACTIVITY_TYPE_CREATE_WALLET", id, {
      walletName: uniqueName("by session"), accounts: [ethAccount] }));
    assert.equal(created.activity.status, "ACTIVITY_STATUS_COMPLETED");
    const { apiKeys } = await root.getApiKeys({ organizationId: id, userId: rootId });
    const key = apiKeys.find((k) => k.credential.publicKey === session.publicKey);
    assert.equal(key?.expirationSeconds, "600");
    // non-root users need a policy (AUTH/CREATE): svc has one allowing everything since test 3
    const svcLogin = await clientFor(s.svcKp).stampLogin(activityBody("ACTIVITY_TYPE_STAMP_LOGIN", id, {
      publicKey: generateP256KeyPair().publicKey }));
    assert.equal(jwtPart(svcLogin.activity.result.stampLoginResult.session, 1).user_id, s.svcId);
    await assertRefused(root.stampLogin(activityBody("ACTIVITY_TYPE_STAMP_LOGIN", id, {
      publicKey: generateP256KeyPair().publicKey, sessionProfileId: "profile" })), 12, /not supported by keyhold/, "session profile");
  });

  test("6. deleteSubOrganization: refused while a wallet was never exported; after export it goes", opts, async () => {
    const doomed = await subOrganization("doomed", true);
    await assertRefused(doomed.root.deleteSubOrganization(activityBody("ACTIVITY_TYPE_DELETE_SUB_ORGANIZATION", doomed.id,
      { deleteWithoutExport: false })), 3, /never exported/, "delete with an unexported wallet");
    // the parent's root is not the sub-organization's: it may read, never delete
    const { client } = makeClient();
    await assertRefused(client.deleteSubOrganization(activityBody("ACTIVITY_TYPE_DELETE_SUB_ORGANIZATION", doomed.id,
      { deleteWithoutExport: true })), 7, undefined, "the parent deletes");
    await doomed.root.exportWallet(activityBody("ACTIVITY_TYPE_EXPORT_WALLET", doomed.id, {
      walletId: need(doomed.walletId, "wallet"), targetPublicKey: generateP256KeyPair().publicKeyUncompressed }));
    const { activity } = await doomed.root.deleteSubOrganization(activityBody("ACTIVITY_TYPE_DELETE_SUB_ORGANIZATION",
      doomed.id, {}));
    assertActivityEnvelope(activity, { organizationId: doomed.id, type: "ACTIVITY_TYPE_DELETE_SUB_ORGANIZATION",
      intentKey: "deleteSubOrganizationIntent", resultKey: "deleteSubOrganizationResult" });
    assert.deepEqual(activity.result.deleteSubOrganizationResult, { subOrganizationUuid: doomed.id });
    s.deleted = doomed;
  });

  test("7. a deleted sub-organization is gone: list_suborgs, every query and activity", opts, async () => {
    const doomed = need(s.deleted, "deleted sub-organization");
    const { creds, client } = makeClient();
    const organizationIds = [];
    for (let after; ;) {
      const page = await client.getSubOrgIds({ organizationId: creds.organizationId,
        paginationOptions: after ? { limit: "100", after } : { limit: "100" } });
      organizationIds.push(...page.organizationIds);
      if (page.organizationIds.length < 100) break;
      after = page.organizationIds.at(-1);
    }
    assert.ok(!organizationIds.includes(doomed.id), "list_suborgs no longer lists it");
    assert.ok(organizationIds.includes(need(s.org, "sub-organization").id), "the other sub-organization is listed");
    for (const [what, call] of [
      ["whoami", () => doomed.root.getWhoami({ organizationId: doomed.id })],
      ["get_organization", () => doomed.root.getOrganization({ organizationId: doomed.id })],
      ["list_wallets", () => doomed.root.getWallets({ organizationId: doomed.id })],
      ["the parent reads it", () => client.getOrganization({ organizationId: doomed.id })],
      ["create_wallet", () => doomed.root.createWallet(activityBody("ACTIVITY_TYPE_CREATE_WALLET", doomed.id, {
        walletName: "w", accounts: [ethAccount] }))],
      ["delete it again", () => doomed.root.deleteSubOrganization(activityBody("ACTIVITY_TYPE_DELETE_SUB_ORGANIZATION",
        doomed.id, { deleteWithoutExport: true }))],
    ]) {
      await assertRefused(call(), 5, /has been deleted/, what);
    }
    // the parent carries on
    const { organizationData } = await client.getOrganization({ organizationId: creds.organizationId });
    assert.equal(organizationData.organizationId, creds.organizationId);
  });
});

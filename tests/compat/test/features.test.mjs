// Phase "main", organization features through `@turnkey/sdk-server` (setOrganizationFeature,
// removeOrganizationFeature, getOrganizationConfigs; getOrganization through @turnkey/http) in a fresh sub-organization:
// only its root quorum may change them; FEATURE_NAME_WEBAUTHN_ORIGINS makes keyhold refuse passkey
// stamps (the real @turnkey/webauthn-stamper) and registrations (getWebAuthnAttestation) from
// other origins, and removing it lifts that; features keyhold cannot honour are refused (501),
// names outside Turnkey's enum are invalid (400).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { Turnkey } from "@turnkey/sdk-server";
import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { TurnkeyClient, getWebAuthnAttestation } from "@turnkey/http";
import { WebauthnStamper } from "@turnkey/webauthn-stamper";
import { generateP256KeyPair } from "@turnkey/crypto";

import { TEST_TIMEOUT_MS, loadCredentials, onlyInPhase, uniqueName } from "../lib.mjs";
import { SoftAuthenticator } from "../softauthn.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const ORIGINS = "FEATURE_NAME_WEBAUTHN_ORIGINS";
const RP_ID = "wallet.example";
const authenticator = new SoftAuthenticator().install();

function sdk(keys) {
  const creds = loadCredentials();
  return new Turnkey({
    apiBaseUrl: creds.baseUrl,
    apiPublicKey: keys?.publicKey ?? creds.apiPublicKey,
    apiPrivateKey: keys?.privateKey ?? creds.apiPrivateKey,
    defaultOrganizationId: creds.organizationId,
  }).apiClient();
}

/** `getOrganization` is @turnkey/http's (sdk-server 8.2.1 has only getOrganizationConfigs). */
async function features(kp, organizationId) {
  const stamper = new ApiKeyStamper({ apiPublicKey: kp.publicKey, apiPrivateKey: kp.privateKey });
  const res = await new TurnkeyClient({ baseUrl: loadCredentials().baseUrl }, stamper).getOrganization({ organizationId });
  return res.organizationData.features;
}

const apiKey = (name, kp) => ({ apiKeyName: name, publicKey: kp.publicKey, curveType: "API_KEY_CURVE_P256" });

/** A passkey registration made on a page of `origin`, as a Turnkey front end makes one. */
async function passkeyFrom(origin) {
  const challenge = randomBytes(32);
  authenticator.origin = origin;
  try {
    const attestation = await getWebAuthnAttestation({ publicKey: {
      rp: { id: RP_ID, name: "keyhold features" }, challenge, pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      user: { id: randomBytes(16), name: "root", displayName: "root" } } });
    return { authenticatorName: uniqueName("passkey"), challenge: challenge.toString("base64url"), attestation };
  } finally {
    authenticator.origin = "https://wallet.example";
  }
}

async function rejects(promise, code, what, message) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.name, "TurnkeyRequestError", `${what}: ${e}`);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    if (message) assert.match(e.message, message, what);
    return true;
  });
}

describe("phase main: organization features", { skip: onlyInPhase("main") }, () => {
  test("the root quorum sets and removes WEBAUTHN_ORIGINS; passkeys from other origins are refused meanwhile", opts, async () => {
    const creds = loadCredentials();
    const rootKp = generateP256KeyPair();
    const made = await sdk().createSubOrganization({
      subOrganizationName: uniqueName("features"), rootQuorumThreshold: 1,
      rootUsers: [{ userName: "root", apiKeys: [apiKey("root key", rootKp)], authenticators: [], oauthProviders: [] }],
    });
    const organizationId = made.subOrganizationId;
    const rootUserId = made.rootUserIds[0];
    const root = sdk(rootKp);
    await root.createAuthenticators({ organizationId, userId: rootUserId, authenticators: [await passkeyFrom("https://wallet.example")] });
    const passkey = new TurnkeyClient({ baseUrl: creds.baseUrl }, new WebauthnStamper({ rpId: RP_ID }));
    const whoamiFrom = async (origin) => {
      authenticator.origin = origin;
      try {
        return await passkey.getWhoami({ organizationId });
      } finally {
        authenticator.origin = "https://wallet.example";
      }
    };
    // no feature: every origin, as in Turnkey
    assert.deepEqual((await features(rootKp, organizationId)), []);
    assert.equal((await whoamiFrom("https://elsewhere.example")).userId, rootUserId);

    const set = await root.setOrganizationFeature({ organizationId, name: ORIGINS, value: "https://wallet.example" });
    assert.equal(set.activity.status, "ACTIVITY_STATUS_COMPLETED");
    assert.equal(set.activity.type, "ACTIVITY_TYPE_SET_ORGANIZATION_FEATURE");
    assert.deepEqual(set.features, [{ name: ORIGINS, value: "https://wallet.example" }]);
    // set again: replaced, one entry
    const value = "https://wallet.example,http://localhost:3000";
    const again = await root.setOrganizationFeature({ organizationId, name: ORIGINS, value });
    assert.deepEqual(again.features, [{ name: ORIGINS, value }]);
    assert.deepEqual((await features(rootKp, organizationId)), [{ name: ORIGINS, value }]);
    assert.deepEqual((await root.getOrganizationConfigs({ organizationId })).configs.features, [{ name: ORIGINS, value }]);

    // allowed origins sign in; another one is refused, for stamps and for registrations
    assert.equal((await whoamiFrom("https://wallet.example")).userId, rootUserId);
    assert.equal((await whoamiFrom("http://localhost:3000")).userId, rootUserId);
    await rejects(whoamiFrom("https://elsewhere.example"), 16, "assertion from another origin", /origin/);
    const elsewhere = await passkeyFrom("https://elsewhere.example");
    // the software authenticator would otherwise assert with this newest (never registered) credential
    authenticator.credentials.delete(elsewhere.attestation.credentialId);
    await rejects(root.createAuthenticators({ organizationId, userId: rootUserId, authenticators: [elsewhere] }), 3,
      "registration from another origin", /origin/);

    const removed = await root.removeOrganizationFeature({ organizationId, name: ORIGINS });
    assert.equal(removed.activity.type, "ACTIVITY_TYPE_REMOVE_ORGANIZATION_FEATURE");
    assert.deepEqual(removed.features, []);
    assert.deepEqual((await features(rootKp, organizationId)), []);
    assert.equal((await whoamiFrom("https://elsewhere.example")).userId, rootUserId);
    // removing it again changes nothing
    assert.deepEqual((await root.removeOrganizationFeature({ organizationId, name: ORIGINS })).features, []);
  });

  test("others than the root quorum, unknown names and features keyhold cannot honour are refused", opts, async () => {
    const rootKp = generateP256KeyPair();
    const made = await sdk().createSubOrganization({
      subOrganizationName: uniqueName("features"), rootQuorumThreshold: 1,
      rootUsers: [{ userName: "root", apiKeys: [apiKey("root key", rootKp)], authenticators: [], oauthProviders: [] }],
    });
    const organizationId = made.subOrganizationId;
    const root = sdk(rootKp);
    const bobKp = generateP256KeyPair();
    await root.createUsers({ organizationId, users: [{ userName: "bob", apiKeys: [apiKey("bob key", bobKp)],
      authenticators: [], oauthProviders: [], userTags: [] }] });
    // even a policy that allows everything does not let bob change features
    await root.createPolicy({ organizationId, policyName: uniqueName("all"), effect: "EFFECT_ALLOW", condition: "true", notes: "" });
    const bob = sdk(bobKp);
    await rejects(bob.setOrganizationFeature({ organizationId, name: ORIGINS, value: "https://wallet.example" }), 7,
      "non-root set", /root quorum/);
    await rejects(bob.removeOrganizationFeature({ organizationId, name: ORIGINS }), 7, "non-root remove", /root quorum/);

    await rejects(root.setOrganizationFeature({ organizationId, name: "FEATURE_NAME_TELEPORT", value: "x" }), 3,
      "unknown feature name", /FEATURE_NAME_/);
    await rejects(root.setOrganizationFeature({ organizationId, name: ORIGINS, value: "wallet.example/login" }), 3,
      "an origins value that is not a list of origins", /origin/);
    for (const name of ["FEATURE_NAME_EMAIL_AUTH", "FEATURE_NAME_WEBHOOK", "FEATURE_NAME_SMS_AUTH", "FEATURE_NAME_AUTH_PROXY"]) {
      await rejects(root.setOrganizationFeature({ organizationId, name, value: "https://hooks.example/x" }), 12, name,
        /not supported by keyhold/);
    }
    assert.deepEqual((await features(rootKp, organizationId)), []);
  });
});

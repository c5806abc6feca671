// Phase "main", credentials: API keys on every curve Turnkey offers and passkeys, each used
// through the real @turnkey/http client; parent-organization credentials on a sub-organization.
//
// - secp256k1 (SIGNATURE_SCHEME_TK_API_SECP256K1): no npm stamper makes it (the Go and Rust SDKs
//   do), so a small stamper signs SHA-256(body) with node:crypto, DER, as they do.
// - Ed25519 and EIP-191: the real @turnkey/wallet-stamper, with a Solana wallet (node:crypto
//   Ed25519) and an Ethereum wallet (viem's privateKeyToAccount).
// - Passkeys: the real @turnkey/http getWebAuthnAttestation and @turnkey/webauthn-stamper, over a
//   software authenticator (softauthn.mjs) standing in for navigator.credentials.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";

import { TurnkeyClient, getWebAuthnAttestation } from "@turnkey/http";
import { WalletStamper, WalletType } from "@turnkey/wallet-stamper";
import { WebauthnStamper } from "@turnkey/webauthn-stamper";
import { privateKeyToAccount } from "viem/accounts";

import { TEST_TIMEOUT_MS, activityBody, makeClient, need, onlyInPhase, uniqueName } from "../lib.mjs";
import { SoftAuthenticator } from "../softauthn.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const RP_ID = "wallet.example";
const authenticator = new SoftAuthenticator().install();
const state = { subOrgId: undefined, passkeyUserId: undefined };

/** Compressed SEC1 from a JWK of an EC key. */
function compressed(jwk) {
  const y = Buffer.from(jwk.y, "base64url");
  return Buffer.concat([Buffer.from([y[y.length - 1] & 1 ? 3 : 2]), Buffer.from(jwk.x, "base64url")]).toString("hex");
}

/** X-Stamp with SIGNATURE_SCHEME_TK_API_SECP256K1: DER ECDSA over SHA-256(body), as tkhq's Go/Rust SDKs. */
class Secp256k1Stamper {
  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "secp256k1" });
    this.privateKey = privateKey;
    this.publicKey = compressed(publicKey.export({ format: "jwk" }));
  }
  async stamp(payload) {
    const signature = sign("sha256", Buffer.from(payload, "utf8"), this.privateKey).toString("hex");
    const stamp = { publicKey: this.publicKey, scheme: "SIGNATURE_SCHEME_TK_API_SECP256K1", signature };
    return { stampHeaderName: "X-Stamp", stampHeaderValue: Buffer.from(JSON.stringify(stamp)).toString("base64url") };
  }
}

/** A Solana-style wallet for wallet-stamper: Ed25519 over the message bytes, hex. */
function ed25519Wallet() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url").toString("hex");
  return {
    publicKey: raw,
    wallet: {
      type: WalletType.Solana,
      signMessage: async (message) => sign(null, Buffer.from(message, "utf8"), privateKey).toString("hex"),
      getPublicKey: async () => raw,
    },
  };
}

/** An Ethereum wallet for wallet-stamper (personal_sign via viem). */
function ethereumWallet() {
  const account = privateKeyToAccount(`0x${randomBytes(32).toString("hex")}`);
  const full = Buffer.from(account.publicKey.slice(2), "hex"); // 04 ‖ x ‖ y
  const publicKey = Buffer.concat([Buffer.from([full[64] & 1 ? 3 : 2]), full.subarray(1, 33)]).toString("hex");
  return {
    publicKey,
    wallet: {
      type: WalletType.Ethereum,
      signMessage: (message) => account.signMessage({ message }),
      getPublicKey: async () => publicKey,
    },
  };
}

function walletBody(organizationId, prefix) {
  return activityBody("ACTIVITY_TYPE_CREATE_WALLET", organizationId, {
    walletName: uniqueName(prefix),
    accounts: [{ curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/60'/0'/0/0",
      addressFormat: "ADDRESS_FORMAT_ETHEREUM" }],
  });
}

/** A passkey registration as a Turnkey front end makes one. */
async function registerPasskey(userName) {
  const challenge = randomBytes(32);
  const attestation = await getWebAuthnAttestation({
    publicKey: {
      rp: { id: RP_ID, name: "keyhold test" },
      challenge,
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      user: { id: randomBytes(16), name: userName, displayName: userName },
    },
  });
  return { authenticatorName: uniqueName("passkey"), challenge: challenge.toString("base64url"), attestation };
}

async function assertTurnkeyError(promise, grpc, turnkeyCode, what, messagePart) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.name, "TurnkeyRequestError", `${what}: ${e}`);
    assert.equal(e.code, grpc, `${what}: ${e.message}`);
    assert.equal(e.details?.[0]?.turnkeyErrorCode, turnkeyCode, `${what}: ${e.message}`);
    if (messagePart) assert.match(e.message, messagePart, what);
    return true;
  });
}

describe("phase main: credentials", { skip: onlyInPhase("main") }, () => {
  test("1. API keys on secp256k1, Ed25519 (wallet-stamper) and secp256k1 EIP-191 (wallet-stamper) stamp queries and activities", opts, async () => {
    const { creds, client } = makeClient();
    const secp = new Secp256k1Stamper();
    const ed = ed25519Wallet();
    const eth = ethereumWallet();
    const created = await client.createApiKeys(
      activityBody("ACTIVITY_TYPE_CREATE_API_KEYS_V2", creds.organizationId, {
        userId: creds.userId,
        apiKeys: [
          { apiKeyName: uniqueName("secp256k1"), publicKey: secp.publicKey, curveType: "API_KEY_CURVE_SECP256K1" },
          { apiKeyName: uniqueName("ed25519"), publicKey: ed.publicKey, curveType: "API_KEY_CURVE_ED25519" },
          { apiKeyName: uniqueName("eip191"), publicKey: eth.publicKey, curveType: "API_KEY_CURVE_SECP256K1" },
        ],
      }),
    );
    assert.equal(created.activity.status, "ACTIVITY_STATUS_COMPLETED");
    assert.equal(created.activity.result.createApiKeysResult.apiKeyIds.length, 3);

    const stampers = [
      ["secp256k1", secp],
      ["ed25519", new WalletStamper(ed.wallet)],
      ["eip191", new WalletStamper(eth.wallet)],
    ];
    for (const [what, stamper] of stampers) {
      const c = new TurnkeyClient({ baseUrl: creds.baseUrl }, stamper);
      const who = await c.getWhoami({ organizationId: creds.organizationId });
      assert.equal(who.userId, creds.userId, what);
      const { activity } = await c.createWallet(walletBody(creds.organizationId, what));
      assert.equal(activity.status, "ACTIVITY_STATUS_COMPLETED", what);
    }

    const { apiKeys } = await client.getApiKeys({ organizationId: creds.organizationId, userId: creds.userId });
    const byKey = new Map(apiKeys.map((k) => [k.credential.publicKey, k.credential.type]));
    assert.equal(byKey.get(secp.publicKey), "CREDENTIAL_TYPE_API_KEY_SECP256K1");
    assert.equal(byKey.get(ed.publicKey), "CREDENTIAL_TYPE_API_KEY_ED25519");
    assert.equal(byKey.get(eth.publicKey), "CREDENTIAL_TYPE_API_KEY_SECP256K1");

    // a stamp whose signature is by another key is refused
    const impostor = new Secp256k1Stamper();
    impostor.publicKey = secp.publicKey;
    await assertTurnkeyError(
      new TurnkeyClient({ baseUrl: creds.baseUrl }, impostor).getWhoami({ organizationId: creds.organizationId }),
      16, "SIGNATURE_INVALID", "forged secp256k1 stamp",
    );
  });

  test("2. a passkey registered with getWebAuthnAttestation stamps with WebauthnStamper; get_authenticators lists it", opts, async () => {
    const { creds, client } = makeClient();
    const passkey = await registerPasskey("root");
    const { activity } = await client.createAuthenticators(
      activityBody("ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2", creds.organizationId, {
        userId: creds.userId,
        authenticators: [passkey],
      }),
    );
    assert.equal(activity.status, "ACTIVITY_STATUS_COMPLETED");
    const [authenticatorId] = activity.result.createAuthenticatorsResult.authenticatorIds;

    const { authenticators } = await client.getAuthenticators({ organizationId: creds.organizationId, userId: creds.userId });
    const listed = authenticators.find((a) => a.authenticatorId === authenticatorId);
    assert.ok(listed, "listed");
    assert.equal(listed.credentialId, passkey.attestation.credentialId);
    assert.equal(listed.credential.type, "CREDENTIAL_TYPE_WEBAUTHN_AUTHENTICATOR");
    assert.deepEqual(listed.transports, ["AUTHENTICATOR_TRANSPORT_INTERNAL", "AUTHENTICATOR_TRANSPORT_HYBRID"]);
    const one = await client.getAuthenticator({ organizationId: creds.organizationId, authenticatorId });
    assert.equal(one.authenticator.authenticatorName, passkey.authenticatorName);

    const passkeyClient = new TurnkeyClient({ baseUrl: creds.baseUrl }, new WebauthnStamper({ rpId: RP_ID }));
    const who = await passkeyClient.getWhoami({ organizationId: creds.organizationId });
    assert.equal(who.userId, creds.userId);
    const made = await passkeyClient.createWallet(walletBody(creds.organizationId, "passkey"));
    assert.equal(made.activity.status, "ACTIVITY_STATUS_COMPLETED");

    // without user presence the assertion is refused
    authenticator.flags = 0x04;
    try {
      await assertTurnkeyError(passkeyClient.getWhoami({ organizationId: creds.organizationId }), 16, "SIGNATURE_INVALID",
        "no user presence", /WebAuthN/);
    } finally {
      authenticator.flags = undefined;
    }

    // deleted, it no longer signs in
    await client.deleteAuthenticators(
      activityBody("ACTIVITY_TYPE_DELETE_AUTHENTICATORS", creds.organizationId, {
        userId: creds.userId,
        authenticatorIds: [authenticatorId],
      }),
    );
    await assertTurnkeyError(passkeyClient.getWhoami({ organizationId: creds.organizationId }), 16, "CREDENTIAL_NOT_FOUND",
      "deleted passkey");
  });

  test("3. a sub-organization whose root user has only a passkey; the passkey acts in it", opts, async () => {
    const { creds, client } = makeClient();
    const passkey = await registerPasskey("end user");
    const { activity } = await client.createSubOrganization(
      activityBody("ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V7", creds.organizationId, {
        subOrganizationName: uniqueName("passkey-sub"),
        rootQuorumThreshold: 1,
        rootUsers: [{ userName: "end user", apiKeys: [], authenticators: [passkey], oauthProviders: [] }],
      }),
    );
    assert.equal(activity.status, "ACTIVITY_STATUS_COMPLETED");
    const result = activity.result.createSubOrganizationResultV7;
    state.subOrgId = result.subOrganizationId;
    state.passkeyUserId = result.rootUserIds[0];

    const passkeyClient = new TurnkeyClient({ baseUrl: creds.baseUrl }, new WebauthnStamper({ rpId: RP_ID }));
    const who = await passkeyClient.getWhoami({ organizationId: state.subOrgId });
    assert.equal(who.userId, state.passkeyUserId);
    assert.equal(who.organizationId, state.subOrgId);
    const made = await passkeyClient.createWallet(walletBody(state.subOrgId, "end-user"));
    assert.equal(made.activity.status, "ACTIVITY_STATUS_COMPLETED");
  });

  test("4. the parent's credentials read the sub-organization and cannot act in it", opts, async () => {
    const { creds, client } = makeClient();
    const subOrgId = need(state.subOrgId, "the sub-organization of test 3");
    const { organizationData } = await client.getOrganization({ organizationId: subOrgId });
    assert.equal(organizationData.organizationId, subOrgId);
    assert.equal(organizationData.parentOrganizationId, creds.organizationId);
    assert.equal(organizationData.users[0].userId, state.passkeyUserId);
    assert.equal(organizationData.users[0].authenticators.length, 1);
    const { wallets } = await client.getWallets({ organizationId: subOrgId });
    assert.equal(wallets.length, 1);
    const who = await client.getWhoami({ organizationId: subOrgId });
    assert.equal(who.userId, creds.userId, "the parent's user");

    await assertTurnkeyError(client.createWallet(walletBody(subOrgId, "parent")), 7, "REQUEST_NOT_AUTHORIZED",
      "parent activity in the sub-organization", /organization mismatch/);

    // a key of nobody: "… or its parent organization"
    const stranger = new Secp256k1Stamper();
    await assertTurnkeyError(
      new TurnkeyClient({ baseUrl: creds.baseUrl }, stranger).getWhoami({ organizationId: subOrgId }),
      16, "PUBLIC_KEY_NOT_FOUND", "stranger", /parent organization/,
    );
    // the sub-organization's passkey cannot read the parent
    const passkeyClient = new TurnkeyClient({ baseUrl: creds.baseUrl }, new WebauthnStamper({ rpId: RP_ID }));
    await assertTurnkeyError(passkeyClient.getWhoami({ organizationId: creds.organizationId }), 16, "CREDENTIAL_NOT_FOUND",
      "sub-organization passkey on the parent");
  });
});

// Keep the hash helper honest: the WebAuthn challenge is hex(sha256(body)) (Turnkey §2.2).
test("webauthn-stamper's challenge is the hex SHA-256 of the body", async () => {
  const seen = [];
  const spy = new SoftAuthenticator();
  spy.get = async (o) => {
    seen.push(Buffer.from(o.publicKey.challenge).toString("utf8"));
    throw new Error("stop");
  };
  const saved = globalThis.navigator;
  Object.defineProperty(globalThis, "navigator", { value: { credentials: { get: (o) => spy.get(o) } }, configurable: true, writable: true });
  try {
    await assert.rejects(new WebauthnStamper({ rpId: RP_ID }).stamp("hello"));
  } finally {
    Object.defineProperty(globalThis, "navigator", { value: saved, configurable: true, writable: true });
  }
  assert.deepEqual(seen, [createHash("sha256").update("hello").digest("hex")]);
});

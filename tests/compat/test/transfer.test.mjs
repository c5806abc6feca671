// Phase "main": export, import and read-write sessions with the real @turnkey/crypto.
//
// keyhold signs export and import bundles with its own deployment key (derived from the
// quorum key), published at GET /enclave/v1/signer; every @turnkey/crypto helper below is
// given it as `dangerouslyOverrideSignerPublicKey` and checks it exactly as it checks
// Turnkey's production signer key. Addresses are derived independently with viem and ethers.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import {
  decryptCredentialBundle,
  decryptExportBundle,
  encryptPrivateKeyToBundle,
  encryptWalletToBundle,
  generateP256KeyPair,
  getPublicKey,
} from "@turnkey/crypto";
import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { TurnkeyClient } from "@turnkey/http";
import { hashMessage } from "viem";
import { english, generateMnemonic, generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { HDNodeWallet, Wallet } from "ethers";

import {
  TEST_TIMEOUT_MS,
  activityBody,
  assertActivityEnvelope,
  assertRecovers,
  loadCredentials,
  makeClient,
  need,
  onlyInPhase,
  uniqueName,
} from "../lib.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const PATH = "m/44'/60'/0'/0/0";
const ETH_ACCOUNT = { curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32", path: PATH, addressFormat: "ADDRESS_FORMAT_ETHEREUM" };

const METHODS = {
  ACTIVITY_TYPE_CREATE_WALLET: ["createWallet", "createWalletIntent", "createWalletResult"],
  ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2: ["createPrivateKeys", "createPrivateKeysIntentV2", "createPrivateKeysResultV2"],
  ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2: ["signRawPayload", "signRawPayloadIntentV2", "signRawPayloadResult"],
  ACTIVITY_TYPE_EXPORT_WALLET: ["exportWallet", "exportWalletIntent", "exportWalletResult"],
  ACTIVITY_TYPE_EXPORT_WALLET_ACCOUNT: ["exportWalletAccount", "exportWalletAccountIntent", "exportWalletAccountResult"],
  ACTIVITY_TYPE_EXPORT_PRIVATE_KEY: ["exportPrivateKey", "exportPrivateKeyIntent", "exportPrivateKeyResult"],
  ACTIVITY_TYPE_INIT_IMPORT_WALLET: ["initImportWallet", "initImportWalletIntent", "initImportWalletResult"],
  ACTIVITY_TYPE_IMPORT_WALLET: ["importWallet", "importWalletIntent", "importWalletResult"],
  ACTIVITY_TYPE_INIT_IMPORT_PRIVATE_KEY: ["initImportPrivateKey", "initImportPrivateKeyIntent", "initImportPrivateKeyResult"],
  ACTIVITY_TYPE_IMPORT_PRIVATE_KEY: ["importPrivateKey", "importPrivateKeyIntent", "importPrivateKeyResult"],
  ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2: [
    "createReadWriteSession",
    "createReadWriteSessionIntentV2",
    "createReadWriteSessionResultV2",
  ],
};

/** Submits through the SDK method for `type`, checks the envelope, returns the result object. */
async function submit(type, parameters, client = makeClient().client) {
  const creds = loadCredentials();
  const [method, intentKey, resultKey] = METHODS[type];
  const { activity } = await client[method](activityBody(type, creds.organizationId, parameters));
  assertActivityEnvelope(activity, { organizationId: creds.organizationId, type, intentKey, resultKey });
  return activity.result[resultKey];
}

async function signerKey() {
  const creds = loadCredentials();
  const res = await fetch(`${creds.baseUrl}/enclave/v1/signer`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.match(body.signerPublicKey, /^04[0-9a-f]{128}$/, "signer key: lowercase uncompressed P-256 hex");
  assert.match(body.endorsement, /^30[0-9a-f]+$/, "endorsement: DER hex");
  return body.signerPublicKey;
}

async function signAndRecover(address, message) {
  const hash = hashMessage(message);
  const sig = await submit("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", {
    signWith: address, payload: hash, encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_NO_OP",
  });
  await assertRecovers(hash, sig, address, `signature by ${address}`);
}

const shared = { signer: undefined, wallet: undefined, address: undefined };

describe("phase main: export, import, sessions", { skip: onlyInPhase("main") }, () => {
  test("the signer key is published and stable", opts, async () => {
    shared.signer = await signerKey();
    assert.equal(await signerKey(), shared.signer);
    const created = await submit("ACTIVITY_TYPE_CREATE_WALLET", { walletName: uniqueName("export"), accounts: [ETH_ACCOUNT] });
    shared.wallet = created.walletId;
    shared.address = created.addresses[0];
  });

  test("export_wallet: @turnkey/crypto decrypts the mnemonic; viem and ethers derive the same address", opts, async () => {
    const { creds, client } = makeClient();
    const signer = need(shared.signer, "signer key");
    const walletId = need(shared.wallet, "wallet");
    const target = generateP256KeyPair();
    const result = await submit("ACTIVITY_TYPE_EXPORT_WALLET", { walletId, targetPublicKey: target.publicKeyUncompressed });
    assert.equal(result.walletId, walletId);
    const mnemonic = await decryptExportBundle({
      exportBundle: result.exportBundle,
      embeddedKey: target.privateKey,
      organizationId: creds.organizationId,
      returnMnemonic: true,
      dangerouslyOverrideSignerPublicKey: signer,
    });
    assert.equal(mnemonic.split(" ").length, 12);
    assert.equal(mnemonicToAccount(mnemonic).address, shared.address, "viem: mnemonic → address");
    assert.equal(HDNodeWallet.fromPhrase(mnemonic, undefined, PATH).address, shared.address, "ethers: mnemonic → address");
    // Turnkey's own signer key does not match ours: the default check refuses the bundle.
    await assert.rejects(
      decryptExportBundle({ exportBundle: result.exportBundle, embeddedKey: target.privateKey, organizationId: creds.organizationId, returnMnemonic: true }),
      /does not match signer key/,
    );
    // Another organization id is refused too (the signed data names ours).
    await assert.rejects(
      decryptExportBundle({
        exportBundle: result.exportBundle, embeddedKey: target.privateKey, returnMnemonic: true,
        organizationId: "00000000-0000-4000-8000-000000000000", dangerouslyOverrideSignerPublicKey: signer,
      }),
      /organization id does not match/,
    );
    const { wallet } = await client.getWallet({ organizationId: creds.organizationId, walletId });
    assert.equal(wallet.exported, true, "the wallet is marked exported");
    assert.equal(wallet.imported, false);
  });

  test("export_wallet_account and export_private_key: the raw key controls the address", opts, async () => {
    const { creds } = makeClient();
    const signer = need(shared.signer, "signer key");
    const target = generateP256KeyPair();
    const decrypt = (exportBundle) =>
      decryptExportBundle({ exportBundle, embeddedKey: target.privateKey, organizationId: creds.organizationId, dangerouslyOverrideSignerPublicKey: signer });
    const account = await submit("ACTIVITY_TYPE_EXPORT_WALLET_ACCOUNT", {
      address: need(shared.address, "wallet address"), targetPublicKey: target.publicKeyUncompressed,
    });
    assert.equal(account.address, shared.address);
    const accountKey = await decrypt(account.exportBundle);
    assert.equal(privateKeyToAccount(`0x${accountKey}`).address, shared.address);

    const created = await submit("ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2", {
      privateKeys: [{ privateKeyName: uniqueName("export-pk"), curve: "CURVE_SECP256K1", privateKeyTags: [], addressFormats: ["ADDRESS_FORMAT_ETHEREUM"] }],
    });
    const { privateKeyId, addresses } = created.privateKeys[0];
    const exported = await submit("ACTIVITY_TYPE_EXPORT_PRIVATE_KEY", { privateKeyId, targetPublicKey: target.publicKeyUncompressed });
    assert.equal(exported.privateKeyId, privateKeyId);
    const key = await decrypt(exported.exportBundle);
    assert.equal(new Wallet(`0x${key}`).address, addresses[0].address, "ethers: key → address");
    const { client } = makeClient();
    const { privateKey } = await client.getPrivateKey({ organizationId: creds.organizationId, privateKeyId });
    assert.equal(privateKey.exported, true);
  });

  test("import_wallet: a bundle from encryptWalletToBundle imports; the wallet signs as its mnemonic says", opts, async () => {
    const { creds, client } = makeClient();
    const signer = need(shared.signer, "signer key");
    const { importBundle } = await submit("ACTIVITY_TYPE_INIT_IMPORT_WALLET", { userId: creds.userId });
    const mnemonic = generateMnemonic(english);
    // The SDK refuses to encrypt to a bundle made for another user.
    await assert.rejects(
      encryptWalletToBundle({
        mnemonic, importBundle, userId: "00000000-0000-4000-8000-000000000000",
        organizationId: creds.organizationId, dangerouslyOverrideSignerPublicKey: signer,
      }),
      /user id does not match/,
    );
    // A host that swaps the target key in the bundle breaks the enclave's signature.
    const parsed = JSON.parse(importBundle);
    const data = JSON.parse(Buffer.from(parsed.data, "hex").toString("utf8"));
    data.targetPublic = generateP256KeyPair().publicKeyUncompressed;
    const swapped = JSON.stringify({ ...parsed, data: Buffer.from(JSON.stringify(data)).toString("hex") });
    await assert.rejects(
      encryptWalletToBundle({
        mnemonic, importBundle: swapped, userId: creds.userId, organizationId: creds.organizationId,
        dangerouslyOverrideSignerPublicKey: signer,
      }),
      /failed to verify enclave signature/,
    );
    const encryptedBundle = await encryptWalletToBundle({
      mnemonic, importBundle, userId: creds.userId, organizationId: creds.organizationId, dangerouslyOverrideSignerPublicKey: signer,
    });
    const result = await submit("ACTIVITY_TYPE_IMPORT_WALLET", {
      userId: creds.userId, walletName: uniqueName("imported"), encryptedBundle, accounts: [ETH_ACCOUNT],
    });
    const expected = mnemonicToAccount(mnemonic).address;
    assert.deepEqual(result.addresses, [expected]);
    await signAndRecover(expected, "signed by an imported wallet");
    const { wallet } = await client.getWallet({ organizationId: creds.organizationId, walletId: result.walletId });
    assert.equal(wallet.imported, true, "the wallet is marked imported");
    // The same mnemonic encrypted to an earlier bundle after a new init: refused.
    const { importBundle: newer } = await submit("ACTIVITY_TYPE_INIT_IMPORT_WALLET", { userId: creds.userId });
    assert.notEqual(newer, importBundle);
    await assert.rejects(
      submit("ACTIVITY_TYPE_IMPORT_WALLET", { userId: creds.userId, walletName: uniqueName("stale"), encryptedBundle, accounts: [ETH_ACCOUNT] }),
      /does not decrypt/,
    );
  });

  test("import_private_key: a bundle from encryptPrivateKeyToBundle imports and signs", opts, async () => {
    const { creds } = makeClient();
    const signer = need(shared.signer, "signer key");
    const { importBundle } = await submit("ACTIVITY_TYPE_INIT_IMPORT_PRIVATE_KEY", { userId: creds.userId });
    const privateKey = generatePrivateKey();
    const encryptedBundle = await encryptPrivateKeyToBundle({
      privateKey, keyFormat: "HEXADECIMAL", importBundle, userId: creds.userId, organizationId: creds.organizationId,
      dangerouslyOverrideSignerPublicKey: signer,
    });
    const result = await submit("ACTIVITY_TYPE_IMPORT_PRIVATE_KEY", {
      userId: creds.userId, privateKeyName: uniqueName("imported-pk"), encryptedBundle,
      curve: "CURVE_SECP256K1", addressFormats: ["ADDRESS_FORMAT_ETHEREUM"],
    });
    const expected = privateKeyToAccount(privateKey).address;
    assert.deepEqual(result.addresses, [{ format: "ADDRESS_FORMAT_ETHEREUM", address: expected }]);
    await signAndRecover(expected, "signed by an imported key");
  });

  test("create_read_write_session: the credential bundle's key stamps requests until it expires", opts, async () => {
    const { creds } = makeClient();
    const target = generateP256KeyPair();
    const result = await submit("ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2", {
      targetPublicKey: target.publicKeyUncompressed, expirationSeconds: "3", apiKeyName: uniqueName("session"),
    });
    assert.equal(result.organizationId, creds.organizationId);
    assert.equal(result.userId, creds.userId);
    for (const k of ["organizationName", "username", "apiKeyId", "credentialBundle"]) {
      assert.equal(typeof result[k], "string", k);
    }
    const sessionPrivate = decryptCredentialBundle(result.credentialBundle, target.privateKey);
    assert.match(sessionPrivate, /^[0-9a-f]{64}$/);
    const sessionPublic = Buffer.from(getPublicKey(sessionPrivate, true)).toString("hex");
    const session = new TurnkeyClient(
      { baseUrl: creds.baseUrl },
      new ApiKeyStamper({ apiPublicKey: sessionPublic, apiPrivateKey: sessionPrivate }),
    );
    const who = await session.getWhoami({ organizationId: creds.organizationId });
    assert.equal(who.userId, creds.userId);
    // read-write: it runs activities
    const created = await submit("ACTIVITY_TYPE_CREATE_WALLET", { walletName: uniqueName("by-session"), accounts: [ETH_ACCOUNT] }, session);
    assert.equal(created.addresses.length, 1);
    const { apiKeys } = await makeClient().client.getApiKeys({ organizationId: creds.organizationId, userId: creds.userId });
    const listed = apiKeys.find((k) => k.apiKeyId === result.apiKeyId);
    assert.ok(listed, "the session key is listed among the user's API keys");
    assert.equal(listed.credential.publicKey, sessionPublic);
    await new Promise((resolve) => setTimeout(resolve, 3500));
    await assert.rejects(session.getWhoami({ organizationId: creds.organizationId }), /expired/i);
  });
});

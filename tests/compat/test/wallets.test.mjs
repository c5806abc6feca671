// Phase "main": renaming and deleting wallets, wallet accounts and private keys, and private key
// tags, through the real @turnkey/http client and @turnkey/sdk-server's apiClient(). A deleted
// wallet or key disappears from every query and can no longer sign (Turnkey's NOT_FOUND error);
// one that was never exported is deleted only with deleteWithoutExport; a non-root user needs a
// policy for each; policies read private_key.tags.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { TurnkeyClient } from "@turnkey/http";
import { Turnkey } from "@turnkey/sdk-server";
import { generateP256KeyPair } from "@turnkey/crypto";
import { hashMessage } from "viem";

import {
  TEST_TIMEOUT_MS,
  activityBody,
  assertActivityEnvelope,
  assertRecovers,
  assertTimestamp,
  assertTurnkeyError,
  assertUuid,
  loadCredentials,
  makeClient,
  makeStamper,
  onlyInPhase,
  postRaw,
  uniqueName,
} from "../lib.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const account = (i) => ({
  curve: "CURVE_SECP256K1",
  pathFormat: "PATH_FORMAT_BIP32",
  path: `m/44'/60'/0'/0/${i}`,
  addressFormat: "ADDRESS_FORMAT_ETHEREUM",
});
const NOT_FOUND = { status: 404, code: 5 };
const INVALID = { status: 400, code: 3, turnkeyErrorCode: "REQUEST_INVALID" };

/** Submits `parameters` through the @turnkey/http method `method`, checks the activity envelope
 * and returns its result object. */
async function submit(method, type, parameters, client = makeClient()) {
  const { creds, client: http, recorder } = client;
  const { activity } = await http[method](activityBody(type, creds.organizationId, parameters));
  // ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2 -> createPrivateKeysIntentV2 / createPrivateKeysResultV2
  const [, name, version = ""] = type.match(/^ACTIVITY_TYPE_(.*?)(?:_(V\d+))?$/);
  const key = name.toLowerCase().replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  const resultKey = `${key}Result${version}`;
  assertActivityEnvelope(activity, {
    organizationId: creds.organizationId,
    type,
    intentKey: `${key}Intent${version}`,
    resultKey,
    rawBody: recorder?.lastBody,
  });
  return activity.result[resultKey];
}

/** The same request, stamped by hand, so the error answer can be checked as sent. */
async function rawSubmit(path, type, parameters, stamper = makeStamper()) {
  const creds = loadCredentials();
  const body = JSON.stringify(activityBody(type, creds.organizationId, parameters));
  const { stampHeaderName, stampHeaderValue } = await stamper.stamp(body);
  return postRaw(`${creds.baseUrl}/public/v1/submit/${path}`, body, { [stampHeaderName]: stampHeaderValue });
}

async function rawQuery(path, body) {
  const creds = loadCredentials();
  const text = JSON.stringify({ organizationId: creds.organizationId, ...body });
  const { stampHeaderName, stampHeaderValue } = await makeStamper(creds).stamp(text);
  return postRaw(`${creds.baseUrl}/public/v1/query/${path}`, text, { [stampHeaderName]: stampHeaderValue });
}

function sign(signWith, stamper) {
  return rawSubmit("sign_raw_payload", "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", {
    signWith,
    payload: hashMessage("keyhold"),
    encoding: "PAYLOAD_ENCODING_HEXADECIMAL",
    hashFunction: "HASH_FUNCTION_NO_OP",
  }, stamper);
}

async function assertSigns(signWith, address = signWith) {
  const res = await sign(signWith);
  assert.equal(res.status, 200, res.text);
  await assertRecovers(hashMessage("keyhold"), res.json.activity.result.signRawPayloadResult, address, `signWith ${signWith}`);
}

async function createWallet(accounts = 1) {
  const result = await submit("createWallet", "ACTIVITY_TYPE_CREATE_WALLET", {
    walletName: uniqueName("del"),
    accounts: Array.from({ length: accounts }, (_, i) => account(i)),
  });
  return result;
}

async function createKey(privateKeyTags = []) {
  const result = await submit("createPrivateKeys", "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2", {
    privateKeys: [{ privateKeyName: uniqueName("del-key"), curve: "CURVE_SECP256K1", privateKeyTags, addressFormats: ["ADDRESS_FORMAT_ETHEREUM"] }],
  });
  const [key] = result.privateKeys;
  return { id: key.privateKeyId, address: key.addresses[0].address };
}

async function exportWallet(walletId) {
  const target = generateP256KeyPair();
  await submit("exportWallet", "ACTIVITY_TYPE_EXPORT_WALLET", { walletId, targetPublicKey: target.publicKeyUncompressed });
}

/** An sdk-server client for the dev organization, with `keys` (the dev root's when omitted). */
function sdk(keys) {
  const creds = loadCredentials();
  return new Turnkey({
    apiBaseUrl: creds.baseUrl,
    apiPublicKey: keys?.publicKey ?? creds.apiPublicKey,
    apiPrivateKey: keys?.privateKey ?? creds.apiPrivateKey,
    defaultOrganizationId: creds.organizationId,
  }).apiClient();
}

async function denied(promise, what) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.name, "TurnkeyRequestError", `${what}: ${e}`);
    assert.equal(e.code, 7, `${what}: PERMISSION_DENIED expected, got ${e.message}`);
    return true;
  });
}

describe("phase main: renaming and deleting wallets and keys, private key tags", { skip: onlyInPhase("main") }, () => {
  test("update_wallet renames a wallet; get_wallet and list_wallets show the name and updatedAt", opts, async () => {
    const { walletId } = await createWallet();
    const { creds, client } = makeClient();
    const before = (await client.getWallet({ organizationId: creds.organizationId, walletId })).wallet;
    await new Promise((r) => setTimeout(r, 5));
    const name = uniqueName("renamed");
    const result = await submit("updateWallet", "ACTIVITY_TYPE_UPDATE_WALLET", { walletId, walletName: name });
    assert.deepEqual(result, { walletId });
    const { wallet } = await client.getWallet({ organizationId: creds.organizationId, walletId });
    assert.equal(wallet.walletName, name);
    assert.deepEqual(wallet.createdAt, before.createdAt);
    assertTimestamp(wallet.updatedAt, "wallet.updatedAt");
    const ms = (t) => Number(t.seconds) * 1000 + Number(t.nanos) / 1e6;
    assert.ok(ms(wallet.updatedAt) > ms(before.updatedAt), "updatedAt moves on a rename");
    const { wallets } = await client.getWallets({ organizationId: creds.organizationId });
    assert.equal(wallets.find((w) => w.walletId === walletId).walletName, name);
    // an unknown wallet
    assertTurnkeyError(
      await rawSubmit("update_wallet", "ACTIVITY_TYPE_UPDATE_WALLET", { walletId: "00000000-0000-4000-8000-000000000000", walletName: "x" }),
      NOT_FOUND,
      "unknown wallet",
    );
  });

  test("delete_wallets: refused for a never-exported wallet unless deleteWithoutExport; then gone from every query and signing fails with NOT_FOUND", opts, async () => {
    const { walletId, addresses } = await createWallet(2);
    await assertSigns(addresses[1]);
    assertTurnkeyError(
      await rawSubmit("delete_wallets", "ACTIVITY_TYPE_DELETE_WALLETS", { walletIds: [walletId] }),
      { ...INVALID, message: /deleteWithoutExport/ },
      "never exported",
    );
    await assertSigns(addresses[0]);
    const result = await submit("deleteWallets", "ACTIVITY_TYPE_DELETE_WALLETS", { walletIds: [walletId], deleteWithoutExport: true });
    assert.deepEqual(result, { walletIds: [walletId] });

    const { creds, client } = makeClient();
    const { wallets } = await client.getWallets({ organizationId: creds.organizationId });
    assert.ok(!wallets.some((w) => w.walletId === walletId), "list_wallets no longer lists it");
    assertTurnkeyError(await rawQuery("get_wallet", { walletId }), NOT_FOUND, "get_wallet");
    assertTurnkeyError(await rawQuery("get_wallet_account", { walletId, address: addresses[0] }), NOT_FOUND, "get_wallet_account");
    const { accounts } = await client.getWalletAccounts({ organizationId: creds.organizationId, walletId });
    assert.deepEqual(accounts, []);
    for (const address of addresses) {
      assertTurnkeyError(await sign(address), NOT_FOUND, `signing with ${address} of the deleted wallet`);
    }
    // through the SDK too: the rejection is Turnkey's error
    await assert.rejects(
      client.signRawPayload(activityBody("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", creds.organizationId, {
        signWith: addresses[0], payload: "00", encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_KECCAK256",
      })),
      (e) => e.name === "TurnkeyRequestError" && e.code === 5,
    );
    assertTurnkeyError(
      await rawSubmit("export_wallet", "ACTIVITY_TYPE_EXPORT_WALLET", { walletId, targetPublicKey: generateP256KeyPair().publicKeyUncompressed }),
      NOT_FOUND,
      "exporting the deleted wallet",
    );
    assertTurnkeyError(
      await rawSubmit("delete_wallets", "ACTIVITY_TYPE_DELETE_WALLETS", { walletIds: [walletId], deleteWithoutExport: true }),
      NOT_FOUND,
      "deleting it again",
    );
  });

  test("delete_wallets: an exported wallet is deleted without the flag (@turnkey/sdk-server)", opts, async () => {
    const { walletId, addresses } = await createWallet();
    await exportWallet(walletId);
    const res = await sdk().deleteWallets({ walletIds: [walletId] });
    assert.equal(res.activity.status, "ACTIVITY_STATUS_COMPLETED");
    assert.deepEqual(res.walletIds, [walletId]);
    assertTurnkeyError(await sign(addresses[0]), NOT_FOUND, "signing after the deletion");
  });

  test("delete_wallet_accounts: the export rule per account's wallet; the account is gone, the wallet and its other accounts stay", opts, async () => {
    const { walletId, addresses } = await createWallet(3);
    const { creds, client } = makeClient();
    const { accounts } = await client.getWalletAccounts({ organizationId: creds.organizationId, walletId });
    const byAddress = (a) => accounts.find((x) => x.address === a).walletAccountId;
    assertTurnkeyError(
      await rawSubmit("delete_wallet_accounts", "ACTIVITY_TYPE_DELETE_WALLET_ACCOUNTS", { walletAccountIds: [byAddress(addresses[0])] }),
      { ...INVALID, message: /deleteWithoutExport/ },
      "never exported",
    );
    assertTurnkeyError(
      await rawSubmit("delete_wallet_accounts", "ACTIVITY_TYPE_DELETE_WALLET_ACCOUNTS", {
        walletAccountIds: ["00000000-0000-4000-8000-000000000000"], deleteWithoutExport: true,
      }),
      NOT_FOUND,
      "unknown account",
    );
    const result = await submit("deleteWalletAccounts", "ACTIVITY_TYPE_DELETE_WALLET_ACCOUNTS", {
      walletAccountIds: [byAddress(addresses[0])], deleteWithoutExport: true,
    });
    assert.deepEqual(result, { walletAccountIds: [byAddress(addresses[0])] });
    // once the wallet was exported, no flag is needed
    await exportWallet(walletId);
    const sdkRes = await sdk().deleteWalletAccounts({ walletAccountIds: [byAddress(addresses[1])] });
    assert.deepEqual(sdkRes.walletAccountIds, [byAddress(addresses[1])]);

    const left = (await client.getWalletAccounts({ organizationId: creds.organizationId, walletId })).accounts;
    assert.deepEqual(left.map((a) => a.address), [addresses[2]]);
    assertTurnkeyError(await sign(addresses[0]), NOT_FOUND, "signing with a deleted account");
    assertTurnkeyError(await sign(addresses[1]), NOT_FOUND, "signing with a deleted account");
    await assertSigns(addresses[2]);
    const { wallet } = await client.getWallet({ organizationId: creds.organizationId, walletId });
    assert.equal(wallet.exported, true);
  });

  test("delete_private_keys: the export rule; the key is gone by id and address, get_private_key is NOT_FOUND", opts, async () => {
    const key = await createKey();
    await assertSigns(key.id, key.address);
    assertTurnkeyError(
      await rawSubmit("delete_private_keys", "ACTIVITY_TYPE_DELETE_PRIVATE_KEYS", { privateKeyIds: [key.id] }),
      { ...INVALID, message: /deleteWithoutExport/ },
      "never exported",
    );
    const result = await submit("deletePrivateKeys", "ACTIVITY_TYPE_DELETE_PRIVATE_KEYS", { privateKeyIds: [key.id], deleteWithoutExport: true });
    assert.deepEqual(result, { privateKeyIds: [key.id] });
    const { creds, client } = makeClient();
    assertTurnkeyError(await rawQuery("get_private_key", { privateKeyId: key.id }), NOT_FOUND, "get_private_key");
    const { privateKeys } = await client.getPrivateKeys({ organizationId: creds.organizationId });
    assert.ok(!privateKeys.some((k) => k.privateKeyId === key.id));
    assertTurnkeyError(await sign(key.id), NOT_FOUND, "signing by id");
    assertTurnkeyError(await sign(key.address), NOT_FOUND, "signing by address");
    // an exported key needs no flag (@turnkey/sdk-server)
    const exported = await createKey();
    await submit("exportPrivateKey", "ACTIVITY_TYPE_EXPORT_PRIVATE_KEY", {
      privateKeyId: exported.id, targetPublicKey: generateP256KeyPair().publicKeyUncompressed,
    });
    const res = await sdk().deletePrivateKeys({ privateKeyIds: [exported.id] });
    assert.deepEqual(res.privateKeyIds, [exported.id]);
    assertTurnkeyError(await sign(exported.address), NOT_FOUND, "signing with the exported, deleted key");
  });

  test("private key tags: create, list, tag keys at creation, update, delete; get_private_key shows them; policies read private_key.tags", opts, async () => {
    const { creds, client } = makeClient();
    const api = sdk();
    const keyA = await createKey();
    const tagName = uniqueName("hot");
    const created = await api.createPrivateKeyTag({ privateKeyTagName: tagName, privateKeyIds: [keyA.id] });
    assertUuid(created.privateKeyTagId, "privateKeyTagId");
    assert.deepEqual(created.privateKeyIds, [keyA.id]);
    const hot = created.privateKeyTagId;

    const { privateKeyTags } = await client.listPrivateKeyTags({ organizationId: creds.organizationId });
    const listed = privateKeyTags.find((t) => t.tagId === hot);
    assert.equal(listed.tagName, tagName);
    assert.equal(listed.tagType, "TAG_TYPE_PRIVATE_KEY");
    assertTimestamp(listed.createdAt, "tag.createdAt");
    // user tags and private key tags are listed apart
    const { userTags } = await client.listUserTags({ organizationId: creds.organizationId });
    assert.ok(!userTags.some((t) => t.tagId === hot));
    assert.ok(privateKeyTags.every((t) => t.tagType === "TAG_TYPE_PRIVATE_KEY"));

    const { privateKey } = await client.getPrivateKey({ organizationId: creds.organizationId, privateKeyId: keyA.id });
    assert.deepEqual(privateKey.privateKeyTags, [hot]);
    const keyB = await createKey([hot]);
    assert.deepEqual((await api.getPrivateKey({ privateKeyId: keyB.id })).privateKey.privateKeyTags, [hot]);
    assertTurnkeyError(
      await rawSubmit("create_private_keys", "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2", {
        privateKeys: [{ privateKeyName: uniqueName("k"), curve: "CURVE_SECP256K1", privateKeyTags: ["no-such-tag"], addressFormats: ["ADDRESS_FORMAT_ETHEREUM"] }],
      }),
      NOT_FOUND,
      "an unknown tag",
    );

    // a non-root user may sign with hot keys only, by policy
    const carol = generateP256KeyPair();
    const users = await api.createUsers({
      users: [{ userName: uniqueName("carol"), apiKeys: [{ apiKeyName: "k", publicKey: carol.publicKey, curveType: "API_KEY_CURVE_P256" }],
        authenticators: [], oauthProviders: [], userTags: [] }],
    });
    const carolId = users.userIds[0];
    const policy = await api.createPolicy({
      policyName: uniqueName("hot keys"), effect: "EFFECT_ALLOW", notes: "",
      condition: `activity.action == 'SIGN' && private_key.tags.contains('${hot}')`,
      consensus: `approvers.any(u, u.id == '${carolId}')`,
    });
    const carolStamper = new ApiKeyStamper({ apiPublicKey: carol.publicKey, apiPrivateKey: carol.privateKey });
    assert.equal((await sign(keyA.id, carolStamper)).status, 200);
    assertTurnkeyError(await sign((await createKey()).id, carolStamper), { status: 403, code: 7 }, "an untagged key");
    // non-root users are denied tag and deletion activities by default
    await denied(sdk(carol).createPrivateKeyTag({ privateKeyTagName: uniqueName("x"), privateKeyIds: [] }), "create tag");
    await denied(sdk(carol).deletePrivateKeys({ privateKeyIds: [keyA.id], deleteWithoutExport: true }), "delete key");
    await denied(sdk(carol).updateWallet({ walletId: (await createWallet()).walletId, walletName: "x" }), "rename wallet");

    // rename the tag and take it off key A: carol can no longer sign with A, still with B
    const updated = await submit("updatePrivateKeyTag", "ACTIVITY_TYPE_UPDATE_PRIVATE_KEY_TAG", {
      privateKeyTagId: hot, newPrivateKeyTagName: `${tagName}-2`, addPrivateKeyIds: [], removePrivateKeyIds: [keyA.id],
    });
    assert.deepEqual(updated, { privateKeyTagId: hot });
    assert.deepEqual((await api.getPrivateKey({ privateKeyId: keyA.id })).privateKey.privateKeyTags, []);
    assert.equal((await api.listPrivateKeyTags({})).privateKeyTags.find((t) => t.tagId === hot).tagName, `${tagName}-2`);
    assertTurnkeyError(await sign(keyA.id, carolStamper), { status: 403, code: 7 }, "key A untagged");
    assert.equal((await sign(keyB.id, carolStamper)).status, 200);

    // delete the tag: key B loses it too
    const deleted = await submit("deletePrivateKeyTags", "ACTIVITY_TYPE_DELETE_PRIVATE_KEY_TAGS", { privateKeyTagIds: [hot] });
    assert.deepEqual(deleted, { privateKeyTagIds: [hot], privateKeyIds: [keyB.id] });
    assert.deepEqual((await api.getPrivateKey({ privateKeyId: keyB.id })).privateKey.privateKeyTags, []);
    assert.ok(!(await api.listPrivateKeyTags({})).privateKeyTags.some((t) => t.tagId === hot));
    assertTurnkeyError(await sign(keyB.id, carolStamper), { status: 403, code: 7 }, "key B untagged");
    await api.deletePolicy({ policyId: policy.policyId });
  });
});

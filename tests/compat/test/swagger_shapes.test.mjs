// Phase "main": keyhold's /openapi.json against Turnkey's swagger, and every implemented
// endpoint's real answer against both.
//
// 1. Every path /openapi.json documents under /public/ is one of Turnkey's, with the same method;
//    every Turnkey path keyhold does not document answers 501 "not supported by keyhold", every
//    documented one does not (the router and the document agree).
// 2. Every documented endpoint is called through the real @turnkey/http client, in a fresh
//    sub-organization with the data it needs (wallets, users, passkeys, tags, policies, keys,
//    approvals; export and import bundles from @turnkey/crypto).
//    The SDK's request must be accepted (2xx) and fit keyhold's request definition; the answer
//    must fit Turnkey's response definition (required properties, primitive types, enums spelled
//    exactly, {seconds, nanos} timestamps) and keyhold's own (which must describe every field).
// Turnkey's swagger is read from next to the repository (or $TURNKEY_SWAGGER); without it, from
// the facts in turnkey-shapes.json (scripts/extract-turnkey-shapes), which must then cover
// every documented endpoint. An endpoint without a recipe below fails the suite.
// 3. keyhold's own GET routes answer what openapi.json says they do (the POST ones, operators'
//    genesis and provisioning, run in scripts/e2e-provisioning).

import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { randomBytes } from "node:crypto";

import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { TurnkeyClient, getWebAuthnAttestation } from "@turnkey/http";
import { encryptPrivateKeyToBundle, encryptWalletToBundle, generateP256KeyPair } from "@turnkey/crypto";
import { serializeTransaction } from "viem";
import { english, generateMnemonic, generatePrivateKey } from "viem/accounts";

import {
  TEST_TIMEOUT_MS,
  RecordingStamper,
  activityBody,
  loadCredentials,
  makeClient,
  need,
  onlyInPhase,
  postRaw,
  uniqueName,
} from "../lib.mjs";
import { FACTS_PATH, extractFacts, factsHeader, loadTurnkey, validate } from "../shapes.mjs";
import { SoftAuthenticator } from "../softauthn.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const PUBLIC = "/public/";

let ours; // keyhold's /openapi.json
let turnkey; // Turnkey's shapes (swagger or facts)
const exercised = new Set();
const s = {}; // state shared by the recipes, in order

function clientFor(kp) {
  const recorder = new RecordingStamper(new ApiKeyStamper({ apiPublicKey: kp.publicKey, apiPrivateKey: kp.privateKey }));
  return { client: new TurnkeyClient({ baseUrl: loadCredentials().baseUrl }, recorder), recorder };
}

const ethAccount = (index) => ({ curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32",
  path: `m/44'/60'/0'/0/${index}`, addressFormat: "ADDRESS_FORMAT_ETHEREUM" });
const solAccount = { curve: "CURVE_ED25519", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/501'/0'/0'",
  addressFormat: "ADDRESS_FORMAT_SOLANA" };
const userParams = (name, kp, userTags = []) => ({ userName: uniqueName(name), apiKeys: kp ? [{ apiKeyName: `${name} key`,
  publicKey: kp.publicKey, curveType: "API_KEY_CURVE_P256" }] : [], authenticators: [], oauthProviders: [], userTags });

// Passkeys come from a software authenticator standing in for navigator.credentials.
const RP_ID = "wallet.example";
new SoftAuthenticator().install();

/** A passkey registration as a Turnkey front end makes one (getWebAuthnAttestation). */
async function passkeyParams(userName) {
  const challenge = randomBytes(32);
  const attestation = await getWebAuthnAttestation({ publicKey: {
    rp: { id: RP_ID, name: "keyhold shapes" }, challenge, pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    user: { id: randomBytes(16), name: userName, displayName: userName } } });
  return { authenticatorName: uniqueName("passkey"), challenge: challenge.toString("base64url"), attestation };
}

/** keyhold's bundle signer key, which @turnkey/crypto checks import bundles against. */
async function signerKey() {
  const res = await fetch(`${loadCredentials().baseUrl}/enclave/v1/signer`);
  assert.equal(res.status, 200, "GET /enclave/v1/signer");
  return (await res.json()).signerPublicKey;
}

/** In the sub-organization, as its root user. */
const sub = () => need(s.root, "the sub-organization's root client");
const act = (type, parameters) => activityBody(type, need(s.subOrgId, "sub-organization id"), parameters);
const q = (extra = {}) => ({ organizationId: need(s.subOrgId, "sub-organization id"), ...extra });

// Path -> how to call it for real. Each returns [SDK response, the SDK client's recorder].
// Order matters: later recipes use what earlier ones created.
const RECIPES = [
  ["/public/v1/submit/create_sub_organization", async () => {
    const { creds, client, recorder } = makeClient();
    s.rootKp = generateP256KeyPair();
    const res = await client.createSubOrganization(activityBody("ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8", creds.organizationId, {
      subOrganizationName: uniqueName("shapes"), rootUsers: [userParams("shapes-root", s.rootKp)], rootQuorumThreshold: 1,
      wallet: { walletName: "first", accounts: [ethAccount(0)] },
    }));
    s.subOrgId = res.activity.result.createSubOrganizationResultV8.subOrganizationId;
    s.rootUserId = res.activity.result.createSubOrganizationResultV8.rootUserIds[0];
    s.root = clientFor(s.rootKp);
    return [res, recorder];
  }],
  ["/public/v1/query/list_suborgs", async () => {
    const { creds, client, recorder } = makeClient();
    const res = await client.getSubOrgIds({ organizationId: creds.organizationId, paginationOptions: { limit: "100" } });
    return [res, recorder];
  }],
  ["/public/v1/query/whoami", async () => [await sub().client.getWhoami(q()), sub().recorder]],
  ["/public/v1/submit/create_wallet", async () => {
    const res = await sub().client.createWallet(act("ACTIVITY_TYPE_CREATE_WALLET", {
      walletName: uniqueName("shapes"), accounts: [ethAccount(0), solAccount], mnemonicLength: 12 }));
    s.walletId = res.activity.result.createWalletResult.walletId;
    s.ethAddress = res.activity.result.createWalletResult.addresses[0];
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/create_wallet_accounts", async () => [await sub().client.createWalletAccounts(
    act("ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS", { walletId: need(s.walletId, "wallet"), accounts: [ethAccount(1)] })), sub().recorder]],
  ["/public/v1/query/list_wallets", async () => [await sub().client.getWallets(q()), sub().recorder]],
  ["/public/v1/query/get_wallet", async () => [await sub().client.getWallet(q({ walletId: need(s.walletId, "wallet") })), sub().recorder]],
  ["/public/v1/query/get_wallet_account", async () => [await sub().client.getWalletAccount(q({
    walletId: need(s.walletId, "wallet"), address: need(s.ethAddress, "address") })), sub().recorder]],
  ["/public/v1/query/list_wallet_accounts", async () => [await sub().client.getWalletAccounts(q({
    walletId: need(s.walletId, "wallet"), includeWalletDetails: true, paginationOptions: { limit: "10" } })), sub().recorder]],
  ["/public/v1/submit/create_private_keys", async () => {
    const res = await sub().client.createPrivateKeys(act("ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2", { privateKeys: [{
      privateKeyName: uniqueName("shapes-key"), curve: "CURVE_SECP256K1", privateKeyTags: [], addressFormats: ["ADDRESS_FORMAT_ETHEREUM"] }] }));
    s.privateKeyId = res.activity.result.createPrivateKeysResultV2.privateKeys[0].privateKeyId;
    return [res, sub().recorder];
  }],
  ["/public/v1/query/get_private_key", async () => [await sub().client.getPrivateKey(q({ privateKeyId: need(s.privateKeyId, "key") })), sub().recorder]],
  ["/public/v1/query/list_private_keys", async () => [await sub().client.getPrivateKeys(q()), sub().recorder]],
  ["/public/v1/submit/sign_raw_payload", async () => [await sub().client.signRawPayload(act("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", {
    signWith: need(s.ethAddress, "address"), payload: "0xdeadbeef", encoding: "PAYLOAD_ENCODING_HEXADECIMAL",
    hashFunction: "HASH_FUNCTION_KECCAK256" })), sub().recorder]],
  ["/public/v1/submit/sign_raw_payloads", async () => [await sub().client.signRawPayloads(act("ACTIVITY_TYPE_SIGN_RAW_PAYLOADS", {
    signWith: need(s.privateKeyId, "key"), payloads: ["hello", "world"], encoding: "PAYLOAD_ENCODING_TEXT_UTF8",
    hashFunction: "HASH_FUNCTION_SHA256" })), sub().recorder]],
  ["/public/v1/submit/sign_transaction", async () => {
    const unsigned = serializeTransaction({ type: "eip1559", chainId: 1, nonce: 0, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n,
      gas: 21000n, to: need(s.ethAddress, "address"), value: 0n }).slice(2);
    return [await sub().client.signTransaction(act("ACTIVITY_TYPE_SIGN_TRANSACTION_V2", {
      signWith: s.ethAddress, unsignedTransaction: unsigned, type: "TRANSACTION_TYPE_ETHEREUM" })), sub().recorder];
  }],
  // Renaming and deleting wallets, accounts and keys, private key tags: what is deleted is made
  // here, so the recipes below keep their wallet and key.
  ["/public/v1/submit/update_wallet", async () => [await sub().client.updateWallet(act("ACTIVITY_TYPE_UPDATE_WALLET", {
    walletId: need(s.walletId, "wallet"), walletName: uniqueName("renamed") })), sub().recorder]],
  ["/public/v1/submit/create_private_key_tag", async () => {
    const res = await sub().client.createPrivateKeyTag(act("ACTIVITY_TYPE_CREATE_PRIVATE_KEY_TAG", {
      privateKeyTagName: uniqueName("hot"), privateKeyIds: [need(s.privateKeyId, "key")] }));
    s.keyTagId = res.activity.result.createPrivateKeyTagResult.privateKeyTagId;
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/update_private_key_tag", async () => [await sub().client.updatePrivateKeyTag(act(
    "ACTIVITY_TYPE_UPDATE_PRIVATE_KEY_TAG", { privateKeyTagId: need(s.keyTagId, "key tag"),
      newPrivateKeyTagName: uniqueName("warm"), addPrivateKeyIds: [], removePrivateKeyIds: [] })), sub().recorder]],
  ["/public/v1/query/list_private_key_tags", async () => {
    const res = await sub().client.listPrivateKeyTags(q());
    assert.equal(res.privateKeyTags.length, 1, "the tag just made");
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/delete_private_key_tags", async () => [await sub().client.deletePrivateKeyTags(act(
    "ACTIVITY_TYPE_DELETE_PRIVATE_KEY_TAGS", { privateKeyTagIds: [need(s.keyTagId, "key tag")] })), sub().recorder]],
  // Smart contract interfaces: an ERC-20 ABI for an address of this run.
  ["/public/v1/submit/create_smart_contract_interface", async () => {
    const res = await sub().client.createSmartContractInterface(act("ACTIVITY_TYPE_CREATE_SMART_CONTRACT_INTERFACE", {
      smartContractAddress: `0x${randomBytes(20).toString("hex")}`, type: "SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM",
      smartContractInterface: JSON.stringify([{ type: "function", name: "transfer", stateMutability: "nonpayable",
        inputs: [{ name: "to", type: "address" }, { name: "value", type: "uint256" }], outputs: [{ name: "", type: "bool" }] }]),
      label: uniqueName("token"), notes: "swagger shapes" }));
    s.interfaceId = res.activity.result.createSmartContractInterfaceResult.smartContractInterfaceId;
    return [res, sub().recorder];
  }],
  ["/public/v1/query/get_smart_contract_interface", async () => [await sub().client.getSmartContractInterface(q({
    smartContractInterfaceId: need(s.interfaceId, "interface") })), sub().recorder]],
  ["/public/v1/query/list_smart_contract_interfaces", async () => [await sub().client.getSmartContractInterfaces(q()), sub().recorder]],
  ["/public/v1/submit/delete_smart_contract_interface", async () => [await sub().client.deleteSmartContractInterface(act(
    "ACTIVITY_TYPE_DELETE_SMART_CONTRACT_INTERFACE", { smartContractInterfaceId: need(s.interfaceId, "interface") })), sub().recorder]],
  ["/public/v1/submit/delete_wallet_accounts", async () => {
    const created = await sub().client.createWallet(act("ACTIVITY_TYPE_CREATE_WALLET", {
      walletName: uniqueName("doomed"), accounts: [ethAccount(0), ethAccount(1)] }));
    s.doomedWalletId = created.activity.result.createWalletResult.walletId;
    const { accounts } = await sub().client.getWalletAccounts(q({ walletId: s.doomedWalletId }));
    return [await sub().client.deleteWalletAccounts(act("ACTIVITY_TYPE_DELETE_WALLET_ACCOUNTS", {
      walletAccountIds: [accounts[1].walletAccountId], deleteWithoutExport: true })), sub().recorder];
  }],
  ["/public/v1/submit/delete_wallets", async () => [await sub().client.deleteWallets(act("ACTIVITY_TYPE_DELETE_WALLETS", {
    walletIds: [need(s.doomedWalletId, "doomed wallet")], deleteWithoutExport: true })), sub().recorder]],
  ["/public/v1/submit/delete_private_keys", async () => {
    const created = await sub().client.createPrivateKeys(act("ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2", { privateKeys: [{
      privateKeyName: uniqueName("doomed-key"), curve: "CURVE_SECP256K1", privateKeyTags: [], addressFormats: ["ADDRESS_FORMAT_ETHEREUM"] }] }));
    const doomed = created.activity.result.createPrivateKeysResultV2.privateKeys[0].privateKeyId;
    return [await sub().client.deletePrivateKeys(act("ACTIVITY_TYPE_DELETE_PRIVATE_KEYS", {
      privateKeyIds: [doomed], deleteWithoutExport: true })), sub().recorder];
  }],
  // Exports, before any policy exists (these are the root user's anyway).
  ["/public/v1/submit/export_wallet", async () => [await sub().client.exportWallet(act("ACTIVITY_TYPE_EXPORT_WALLET", {
    walletId: need(s.walletId, "wallet"), targetPublicKey: generateP256KeyPair().publicKeyUncompressed,
    language: "MNEMONIC_LANGUAGE_ENGLISH" })), sub().recorder]],
  ["/public/v1/submit/export_wallet_account", async () => [await sub().client.exportWalletAccount(act(
    "ACTIVITY_TYPE_EXPORT_WALLET_ACCOUNT", { address: need(s.ethAddress, "address"),
      targetPublicKey: generateP256KeyPair().publicKeyUncompressed })), sub().recorder]],
  ["/public/v1/submit/export_private_key", async () => [await sub().client.exportPrivateKey(act("ACTIVITY_TYPE_EXPORT_PRIVATE_KEY", {
    privateKeyId: need(s.privateKeyId, "key"), targetPublicKey: generateP256KeyPair().publicKeyUncompressed })), sub().recorder]],
  // Imports: the bundles are made by @turnkey/crypto, which checks the init's bundle first.
  ["/public/v1/submit/init_import_wallet", async () => {
    const res = await sub().client.initImportWallet(act("ACTIVITY_TYPE_INIT_IMPORT_WALLET", { userId: need(s.rootUserId, "root user") }));
    s.walletImportBundle = res.activity.result.initImportWalletResult.importBundle;
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/import_wallet", async () => {
    const encryptedBundle = await encryptWalletToBundle({ mnemonic: generateMnemonic(english),
      importBundle: need(s.walletImportBundle, "import bundle"), userId: s.rootUserId, organizationId: s.subOrgId,
      dangerouslyOverrideSignerPublicKey: await signerKey() });
    return [await sub().client.importWallet(act("ACTIVITY_TYPE_IMPORT_WALLET", { userId: s.rootUserId,
      walletName: uniqueName("imported"), encryptedBundle, accounts: [ethAccount(0), solAccount] })), sub().recorder];
  }],
  ["/public/v1/submit/init_import_private_key", async () => {
    const res = await sub().client.initImportPrivateKey(act("ACTIVITY_TYPE_INIT_IMPORT_PRIVATE_KEY", {
      userId: need(s.rootUserId, "root user") }));
    s.keyImportBundle = res.activity.result.initImportPrivateKeyResult.importBundle;
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/import_private_key", async () => {
    const encryptedBundle = await encryptPrivateKeyToBundle({ privateKey: generatePrivateKey(), keyFormat: "HEXADECIMAL",
      importBundle: need(s.keyImportBundle, "import bundle"), userId: s.rootUserId, organizationId: s.subOrgId,
      dangerouslyOverrideSignerPublicKey: await signerKey() });
    return [await sub().client.importPrivateKey(act("ACTIVITY_TYPE_IMPORT_PRIVATE_KEY", { userId: s.rootUserId,
      privateKeyName: uniqueName("imported-key"), encryptedBundle, curve: "CURVE_SECP256K1",
      addressFormats: ["ADDRESS_FORMAT_ETHEREUM"] })), sub().recorder];
  }],
  ["/public/v1/submit/create_read_write_session", async () => [await sub().client.createReadWriteSession(act(
    "ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2", { targetPublicKey: generateP256KeyPair().publicKeyUncompressed,
      userId: need(s.rootUserId, "root user"), apiKeyName: uniqueName("session"), expirationSeconds: "900",
      invalidateExisting: false })), sub().recorder]],
  ["/public/v1/submit/create_users", async () => {
    s.board = [generateP256KeyPair(), generateP256KeyPair()];
    s.bobKp = generateP256KeyPair();
    const res = await sub().client.createUsers(act("ACTIVITY_TYPE_CREATE_USERS_V4", {
      users: [userParams("board0", s.board[0]), userParams("board1", s.board[1]), userParams("bob", s.bobKp)] }));
    [s.board0Id, s.board1Id, s.bobId] = res.activity.result.createUsersResult.userIds;
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/create_authenticators", async () => {
    const res = await sub().client.createAuthenticators(act("ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2", {
      userId: need(s.rootUserId, "root user"), authenticators: [await passkeyParams("root"), await passkeyParams("root")] }));
    s.authenticatorIds = res.activity.result.createAuthenticatorsResult.authenticatorIds;
    return [res, sub().recorder];
  }],
  ["/public/v1/query/get_authenticators", async () => {
    const res = await sub().client.getAuthenticators(q({ userId: need(s.rootUserId, "root user") }));
    assert.equal(res.authenticators.length, 2, "the root user's two passkeys");
    return [res, sub().recorder];
  }],
  ["/public/v1/query/get_authenticator", async () => [await sub().client.getAuthenticator(q({
    authenticatorId: need(s.authenticatorIds, "authenticators")[0] })), sub().recorder]],
  ["/public/v1/query/get_user", async () => [await sub().client.getUser(q({ userId: need(s.bobId, "bob") })), sub().recorder]],
  ["/public/v1/query/list_users", async () => {
    const res = await sub().client.getUsers(q());
    const root = res.users.find((u) => u.userId === s.rootUserId);
    assert.equal(root?.authenticators.length, 2, "list_users shows the root user's passkeys");
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/delete_authenticators", async () => [await sub().client.deleteAuthenticators(act(
    "ACTIVITY_TYPE_DELETE_AUTHENTICATORS", { userId: need(s.rootUserId, "root user"),
      authenticatorIds: [need(s.authenticatorIds, "authenticators")[1]] })), sub().recorder]],
  ["/public/v1/submit/create_api_keys", async () => {
    const res = await sub().client.createApiKeys(act("ACTIVITY_TYPE_CREATE_API_KEYS_V2", { userId: need(s.bobId, "bob"),
      apiKeys: [{ apiKeyName: "second", publicKey: generateP256KeyPair().publicKey, curveType: "API_KEY_CURVE_P256",
        expirationSeconds: "3600" }] }));
    s.apiKeyId = res.activity.result.createApiKeysResult.apiKeyIds[0];
    return [res, sub().recorder];
  }],
  ["/public/v1/query/get_api_key", async () => [await sub().client.getApiKey(q({ apiKeyId: need(s.apiKeyId, "api key") })), sub().recorder]],
  ["/public/v1/query/get_api_keys", async () => [await sub().client.getApiKeys(q({ userId: need(s.bobId, "bob") })), sub().recorder]],
  ["/public/v1/submit/delete_api_keys", async () => [await sub().client.deleteApiKeys(act("ACTIVITY_TYPE_DELETE_API_KEYS", {
    userId: s.bobId, apiKeyIds: [need(s.apiKeyId, "api key")] })), sub().recorder]],
  ["/public/v1/submit/create_user_tag", async () => {
    const res = await sub().client.createUserTag(act("ACTIVITY_TYPE_CREATE_USER_TAG", { userTagName: uniqueName("board"),
      userIds: [need(s.board0Id, "board0"), need(s.board1Id, "board1")] }));
    s.tagId = res.activity.result.createUserTagResult.userTagId;
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/update_user_tag", async () => [await sub().client.updateUserTag(act("ACTIVITY_TYPE_UPDATE_USER_TAG", {
    userTagId: need(s.tagId, "tag"), newUserTagName: uniqueName("board-renamed"), addUserIds: [], removeUserIds: [] })), sub().recorder]],
  ["/public/v1/query/list_user_tags", async () => [await sub().client.listUserTags(q()), sub().recorder]],
  ["/public/v1/submit/create_policy", async () => {
    const res = await sub().client.createPolicy(act("ACTIVITY_TYPE_CREATE_POLICY_V3", {
      policyName: uniqueName("two board members create wallets"), effect: "EFFECT_ALLOW",
      condition: "activity.type == 'ACTIVITY_TYPE_CREATE_WALLET'",
      consensus: `approvers.filter(u, u.tags.contains('${need(s.tagId, "tag")}')).count() >= 2`, notes: "swagger shapes" }));
    s.policyId = res.activity.result.createPolicyResult.policyId;
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/create_policies", async () => {
    const res = await sub().client.createPolicies(act("ACTIVITY_TYPE_CREATE_POLICIES", { policies: [
      { policyName: uniqueName("deny bob export"), effect: "EFFECT_DENY", condition: "activity.type == 'ACTIVITY_TYPE_EXPORT_WALLET'", consensus: `approvers.any(u, u.id == '${need(s.bobId, "bob")}')`, notes: "" },
      { policyName: uniqueName("deny bob keys"), effect: "EFFECT_DENY", condition: "activity.type == 'ACTIVITY_TYPE_EXPORT_PRIVATE_KEY'", consensus: `approvers.any(u, u.id == '${s.bobId}')`, notes: "" },
    ] }));
    s.policyIds = res.activity.result.createPoliciesResult.policyIds;
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/update_policy", async () => [await sub().client.updatePolicy(act("ACTIVITY_TYPE_UPDATE_POLICY_V2", {
    policyId: need(s.policyIds, "policies")[0], policyNotes: "updated" })), sub().recorder]],
  ["/public/v1/query/get_policy", async () => [await sub().client.getPolicy(q({ policyId: need(s.policyId, "policy") })), sub().recorder]],
  ["/public/v1/query/list_policies", async () => [await sub().client.getPolicies(q()), sub().recorder]],
  ["/public/v1/submit/approve_activity", async () => {
    const [m0, m1] = need(s.board, "board").map(clientFor);
    const wallet = () => act("ACTIVITY_TYPE_CREATE_WALLET", { walletName: uniqueName("voted"), accounts: [ethAccount(0)] });
    const pending = (await m0.client.createWallet(wallet())).activity;
    assert.equal(pending.status, "ACTIVITY_STATUS_CONSENSUS_NEEDED", "the policy needs two board members");
    s.pendingCheck = validateTurnkey("/public/v1/submit/create_wallet", { activity: pending });
    s.toReject = (await m0.client.createWallet(wallet())).activity;
    const res = await m1.client.approveActivity(act("ACTIVITY_TYPE_APPROVE_ACTIVITY", { fingerprint: pending.fingerprint }));
    assert.equal(res.activity.status, "ACTIVITY_STATUS_COMPLETED");
    return [res, m1.recorder];
  }],
  ["/public/v1/submit/reject_activity", async () => {
    const m1 = clientFor(need(s.board, "board")[1]);
    const res = await m1.client.rejectActivity(act("ACTIVITY_TYPE_REJECT_ACTIVITY", { fingerprint: need(s.toReject, "pending").fingerprint }));
    assert.equal(res.activity.status, "ACTIVITY_STATUS_REJECTED");
    return [res, m1.recorder];
  }],
  ["/public/v1/submit/delete_policy", async () => [await sub().client.deletePolicy(act("ACTIVITY_TYPE_DELETE_POLICY", {
    policyId: need(s.policyId, "policy") })), sub().recorder]],
  ["/public/v1/submit/delete_policies", async () => [await sub().client.deletePolicies(act("ACTIVITY_TYPE_DELETE_POLICIES", {
    policyIds: need(s.policyIds, "policies") })), sub().recorder]],
  ["/public/v1/submit/delete_user_tags", async () => [await sub().client.deleteUserTags(act("ACTIVITY_TYPE_DELETE_USER_TAGS", {
    userTagIds: [need(s.tagId, "tag")] })), sub().recorder]],
  ["/public/v1/submit/delete_users", async () => [await sub().client.deleteUsers(act("ACTIVITY_TYPE_DELETE_USERS", {
    userIds: [need(s.bobId, "bob")] })), sub().recorder]],
  ["/public/v1/submit/update_root_quorum", async () => [await sub().client.updateRootQuorum(act("ACTIVITY_TYPE_UPDATE_ROOT_QUORUM", {
    threshold: 1, userIds: [need(s.rootUserId, "root user")] })), sub().recorder]],
  // Users after creation, API-only users, the organization's name and deletion, and the
  // sessions answered with a session JWT (test/lifecycle.test.mjs checks what they do).
  ["/public/v1/submit/create_api_only_users", async () => {
    const res = await sub().client.createApiOnlyUsers(act("ACTIVITY_TYPE_CREATE_API_ONLY_USERS", { apiOnlyUsers: [{
      userName: uniqueName("svc"), userEmail: "svc@example.com", userTags: [],
      apiKeys: [{ apiKeyName: "svc key", publicKey: generateP256KeyPair().publicKey, expirationSeconds: "3600" }] }] }));
    [s.svcId] = res.activity.result.createApiOnlyUsersResult.userIds;
    return [res, sub().recorder];
  }],
  ["/public/v1/submit/update_user", async () => [await sub().client.updateUser(act("ACTIVITY_TYPE_UPDATE_USER", {
    userId: need(s.svcId, "API-only user"), userName: uniqueName("svc-renamed"), userEmail: "svc2@example.com",
    userTagIds: [], userPhoneNumber: "+13214567890" })), sub().recorder]],
  ["/public/v1/submit/update_user_name", async () => [await sub().client.updateUserName(act("ACTIVITY_TYPE_UPDATE_USER_NAME", {
    userId: need(s.svcId, "API-only user"), userName: uniqueName("svc-named") })), sub().recorder]],
  ["/public/v1/submit/update_user_email", async () => [await sub().client.updateUserEmail(act("ACTIVITY_TYPE_UPDATE_USER_EMAIL", {
    userId: need(s.svcId, "API-only user"), userEmail: "svc3@example.com" })), sub().recorder]],
  ["/public/v1/submit/update_user_phone_number", async () => [await sub().client.updateUserPhoneNumber(act(
    "ACTIVITY_TYPE_UPDATE_USER_PHONE_NUMBER", { userId: need(s.svcId, "API-only user"), userPhoneNumber: "" })), sub().recorder]],
  ["/public/v1/submit/update_organization_name", async () => [await sub().client.updateOrganizationName(act(
    "ACTIVITY_TYPE_UPDATE_ORGANIZATION_NAME", { organizationName: uniqueName("shapes-renamed") })), sub().recorder]],
  ["/public/v1/submit/remove_organization_feature", async () => [await sub().client.removeOrganizationFeature(act(
    "ACTIVITY_TYPE_REMOVE_ORGANIZATION_FEATURE", { name: "FEATURE_NAME_WEBAUTHN_ORIGINS" })), sub().recorder]],
  // Set after the removal, so get_organization and get_organization_configs list a feature.
  ["/public/v1/submit/set_organization_feature", async () => [await sub().client.setOrganizationFeature(act(
    "ACTIVITY_TYPE_SET_ORGANIZATION_FEATURE", { name: "FEATURE_NAME_WEBAUTHN_ORIGINS", value: "https://wallet.example" })), sub().recorder]],
  ["/public/v1/submit/create_read_only_session", async () => [await sub().client.createReadOnlySession(act(
    "ACTIVITY_TYPE_CREATE_READ_ONLY_SESSION", {})), sub().recorder]],
  ["/public/v1/submit/stamp_login", async () => [await sub().client.stampLogin(act("ACTIVITY_TYPE_STAMP_LOGIN", {
    publicKey: generateP256KeyPair().publicKey, expirationSeconds: "900", invalidateExisting: false })), sub().recorder]],
  // @turnkey/http 6.6.0 has no webhook methods: its stamped `request`. The subscription is
  // inactive, so nothing is delivered to the (closed) port.
  ["/public/v1/submit/create_webhook_endpoint", async () => {
    const res = await sub().client.request("/public/v1/submit/create_webhook_endpoint", act("ACTIVITY_TYPE_CREATE_WEBHOOK_ENDPOINT", {
      url: "http://127.0.0.1:9/shapes", name: uniqueName("shapes-hook"), subscriptions: [{ eventType: "ACTIVITY_UPDATES", isActive: false }] }));
    s.endpointId = res.activity.result.createWebhookEndpointResult.endpointId;
    return [res, sub().recorder];
  }],
  ["/public/v1/query/list_webhook_endpoints", async () => [await sub().client.request("/public/v1/query/list_webhook_endpoints", q()), sub().recorder]],
  ["/public/v1/submit/update_webhook_endpoint", async () => [await sub().client.request("/public/v1/submit/update_webhook_endpoint", act(
    "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT", { endpointId: need(s.endpointId, "webhook endpoint"), name: uniqueName("shapes-hook"), isActive: false })), sub().recorder]],
  ["/public/v1/submit/delete_webhook_endpoint", async () => [await sub().client.request("/public/v1/submit/delete_webhook_endpoint", act(
    "ACTIVITY_TYPE_DELETE_WEBHOOK_ENDPOINT", { endpointId: need(s.endpointId, "webhook endpoint") })), sub().recorder]],
  ["/public/v1/submit/delete_sub_organization", async () => {
    // A sub-organization of its own, deleted by its own root: the shapes one is still needed.
    const { creds, client } = makeClient();
    const kp = generateP256KeyPair();
    const created = await client.createSubOrganization(activityBody("ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8", creds.organizationId, {
      subOrganizationName: uniqueName("doomed"), rootUsers: [userParams("doomed-root", kp)], rootQuorumThreshold: 1 }));
    const id = created.activity.result.createSubOrganizationResultV8.subOrganizationId;
    const doomed = clientFor(kp);
    return [await doomed.client.deleteSubOrganization(activityBody("ACTIVITY_TYPE_DELETE_SUB_ORGANIZATION", id, {
      deleteWithoutExport: false })), doomed.recorder];
  }],
  ["/public/v1/query/get_organization", async () => [await sub().client.getOrganization(q()), sub().recorder]],
  ["/public/v1/query/get_organization_configs", async () => [await sub().client.getOrganizationConfigs(q()), sub().recorder]],
  ["/public/v1/query/list_activities", async () => {
    const res = await sub().client.getActivities(q({ paginationOptions: { limit: "50" } }));
    s.activityId = res.activities[0]?.id;
    return [res, sub().recorder];
  }],
  ["/public/v1/query/get_activity", async () => [await sub().client.getActivity(q({ activityId: need(s.activityId, "activity") })), sub().recorder]],
  ["/public/v1/query/get_policy_evaluations", async () => [await sub().client.getPolicyEvaluations(q({ activityId: need(s.activityId, "activity") })), sub().recorder]],
];

function publicPaths(doc) {
  return Object.keys(doc.paths).filter((p) => p.startsWith(PUBLIC));
}

function validateTurnkey(path, body) {
  const def = turnkey.paths[path]?.response;
  assert.ok(def, `Turnkey's swagger has no response definition for ${path}`);
  const { errors } = validate(body, { $ref: `#/definitions/${def}` }, turnkey.definitions);
  return errors.map((e) => `Turnkey ${def}: ${e}`);
}

describe("phase main: /openapi.json and Turnkey's swagger", { skip: onlyInPhase("main") }, () => {
  before(async () => {
    const res = await fetch(`${loadCredentials().baseUrl}/openapi.json`);
    assert.equal(res.status, 200, "GET /openapi.json");
    ours = await res.json();
    turnkey = loadTurnkey();
    console.log(`# swagger shapes: comparing with Turnkey's ${turnkey.from === "swagger" ? "swagger" : "extracted facts (turnkey-shapes.json)"}`);
  });

  test("openapi.json is Swagger 2.0 and documents endpoints", opts, () => {
    assert.equal(ours.swagger, "2.0");
    assert.ok(publicPaths(ours).length >= 30, `only ${publicPaths(ours).length} public paths documented`);
  });

  test("every public path of openapi.json is Turnkey's, with the same method", opts, () => {
    const wrong = [];
    for (const path of publicPaths(ours)) {
      const methods = Object.keys(ours.paths[path]);
      const theirs = turnkey.paths[path];
      if (!theirs) wrong.push(`${path}: not in Turnkey's swagger`);
      else if (methods.length !== 1 || methods[0] !== theirs.method) wrong.push(`${path}: ${methods} vs Turnkey's ${theirs.method}`);
    }
    assert.deepEqual(wrong, []);
  });

  test("the server answers every Turnkey path as openapi.json says: documented ones are served, other public ones are 501", opts, async () => {
    const { baseUrl } = loadCredentials();
    const wrong = [];
    for (const path of Object.keys(turnkey.paths)) {
      // Without a stamp: a served path refuses it (401), an unsupported one says so first (501).
      const res = await postRaw(`${baseUrl}${path}`, "{}");
      const documented = path in ours.paths;
      if (documented && res.status === 501) wrong.push(`${path}: documented but answers 501`);
      if (!path.startsWith(PUBLIC)) {
        // Turnkey's internal /tkhq/* routes are not part of its public API.
        if (documented || res.status !== 404) wrong.push(`${path}: internal Turnkey route answers ${res.status}`);
      } else if (!documented) {
        if (res.status !== 501) wrong.push(`${path}: not documented but answers ${res.status}`);
        else if (!/not supported by keyhold/.test(res.json?.message || "")) wrong.push(`${path}: 501 without "not supported by keyhold"`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test("every documented endpoint has a recipe below, and Turnkey's shapes cover it", opts, () => {
    const recipes = new Set(RECIPES.map(([p]) => p));
    assert.deepEqual(publicPaths(ours).filter((p) => !recipes.has(p)), [], "endpoints without a recipe in swagger_shapes.test.mjs");
    assert.deepEqual([...recipes].filter((p) => !(p in ours.paths)), [], "recipes for endpoints openapi.json does not document");
    const uncovered = publicPaths(ours).filter((p) => !turnkey.definitions[turnkey.paths[p]?.response]);
    assert.deepEqual(uncovered, [], "Turnkey response definitions missing (rerun scripts/extract-turnkey-shapes)");
  });

  test("turnkey-shapes.json is what scripts/extract-turnkey-shapes makes of the swagger and openapi.json", opts, (t) => {
    if (turnkey.from !== "swagger") return t.skip("Turnkey's swagger is not available here; the facts file is the reference");
    const committed = JSON.parse(readFileSync(FACTS_PATH, "utf8"));
    const fresh = { ...factsHeader(turnkey.swaggerText), ...extractFacts(turnkey.swagger, ours) };
    assert.deepEqual(committed, fresh, "tests/compat/turnkey-shapes.json is stale: run scripts/extract-turnkey-shapes");
  });

  for (const [path, recipe] of RECIPES) {
    test(`${path}: the SDK's request is accepted and the answer fits Turnkey's and keyhold's definitions`, opts, async () => {
      assert.ok(ours.paths[path], `${path} is not in openapi.json`);
      const op = ours.paths[path].post;
      const [body, recorder] = await recipe(); // @turnkey/http throws on any non-2xx answer
      exercised.add(path);
      const problems = validateTurnkey(path, body);
      const mine = validate(body, op.responses["200"].schema, ours.definitions, { strict: true });
      problems.push(...mine.errors.map((e) => `keyhold ${op.responses["200"].schema.$ref}: ${e}`));
      const sent = JSON.parse(recorder.lastBody);
      const request = validate(sent, op.parameters[0].schema, ours.definitions);
      problems.push(...request.errors.map((e) => `keyhold request ${op.parameters[0].schema.$ref}: ${e}`));
      if (body.activity && op["x-keyhold-activity-types"]) {
        const accepted = op["x-keyhold-activity-types"].find((a) => a.type === sent.type);
        assert.ok(accepted, `${sent.type} is not among the types openapi.json lists for ${path}`);
        if (accepted.resultKey) {
          assert.deepEqual(Object.keys(body.activity.result), [accepted.resultKey], "activity.result key");
        }
      }
      if (path === "/public/v1/submit/approve_activity") problems.push(...need(s.pendingCheck, "pending activity check"));
      assert.deepEqual(problems, [], `${path}: shape mismatches`);
    });
  }

  test("keyhold's own GET routes answer as openapi.json describes them", opts, async () => {
    const { baseUrl, organizationId } = loadCredentials();
    const query = { "/enclave/v1/attestation": "?nonce=00ff", "/enclave/v1/audit/head": `?org=${organizationId}&nonce=00ff` };
    const problems = [];
    const gets = Object.keys(ours.paths).filter((p) => !p.startsWith(PUBLIC) && ours.paths[p].get);
    assert.ok(gets.includes("/enclave/v1/signer") && gets.includes("/enclave/v1/audit/head"), `GET routes: ${gets}`);
    for (const path of gets) {
      const res = await fetch(`${baseUrl}${path}${query[path] || ""}`);
      if (res.status !== 200) {
        problems.push(`${path}: HTTP ${res.status}`);
        continue;
      }
      const schema = ours.paths[path].get.responses["200"].schema;
      if (!schema) continue; // not JSON (metrics) or this document itself
      const { errors } = validate(await res.json(), schema, ours.definitions, { strict: true });
      problems.push(...errors.map((e) => `${path} ${schema.$ref}: ${e}`));
    }
    assert.deepEqual(problems, []);
  });

  test("every documented endpoint was exercised", opts, () => {
    assert.deepEqual(publicPaths(ours).filter((p) => !exercised.has(p)), []);
  });
});

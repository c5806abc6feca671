// Phase "main", through `@turnkey/sdk-server` (its `apiClient()`), the way a Turnkey customer's
// backend works: a sub-organization per end user with a wallet; inside it, a non-root user is
// denied by default, allowed by an ALLOW policy and denied again by a DENY policy; a 2-of-3
// approval flow completes after the second approval and is REJECTED when rejected; and a keyhold
// velocity limit stops the signature that crosses it. Signatures are checked with viem.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { Turnkey } from "@turnkey/sdk-server";
import { decryptExportBundle, encryptWalletToBundle, generateP256KeyPair } from "@turnkey/crypto";
import { createAccount } from "@turnkey/viem";
import { TurnkeySigner as EthersSigner } from "@turnkey/ethers";
import { TurnkeySigner as SolanaSigner } from "@turnkey/solana";
import { Keypair, PublicKey, SystemProgram, Transaction as SolanaTransaction } from "@solana/web3.js";
import { keccak256, recoverTransactionAddress, toHex, verifyMessage } from "viem";
import { english, generateMnemonic, mnemonicToAccount } from "viem/accounts";
import { verifyMessage as ethersVerifyMessage } from "ethers";

import { TEST_TIMEOUT_MS, assertRecovers, loadCredentials, onlyInPhase, uniqueName } from "../lib.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const ETH_ACCOUNT = {
  curve: "CURVE_SECP256K1",
  pathFormat: "PATH_FORMAT_BIP32",
  path: "m/44'/60'/0'/0/0",
  addressFormat: "ADDRESS_FORMAT_ETHEREUM",
};

/** An sdk-server client holding `keys` (the dev root's when omitted), for `orgId` (the dev
 * organization when omitted) — adapters sign in the client's default organization. */
function sdk(keys, orgId) {
  const creds = loadCredentials();
  const turnkey = new Turnkey({
    apiBaseUrl: creds.baseUrl,
    apiPublicKey: keys?.publicKey ?? creds.apiPublicKey,
    apiPrivateKey: keys?.privateKey ?? creds.apiPrivateKey,
    defaultOrganizationId: orgId ?? creds.organizationId,
    // CONSENSUS_NEEDED is not terminal: poll once, briefly, then hand back the activity.
    activityPoller: { intervalMs: 50, numRetries: 1 },
  });
  return turnkey.apiClient();
}

function apiKey(name, kp) {
  return { apiKeyName: name, publicKey: kp.publicKey, curveType: "API_KEY_CURVE_P256" };
}

/** A sub-organization for a new end user (its only root user) with one Ethereum wallet. */
async function endUserSubOrg() {
  const endUser = generateP256KeyPair();
  const res = await sdk().createSubOrganization({
    subOrganizationName: uniqueName("end-user"),
    rootUsers: [{ userName: "end user", apiKeys: [apiKey("end user key", endUser)], authenticators: [], oauthProviders: [] }],
    rootQuorumThreshold: 1,
    wallet: { walletName: "main", accounts: [ETH_ACCOUNT] },
  });
  assert.equal(res.activity.status, "ACTIVITY_STATUS_COMPLETED");
  assert.match(res.subOrganizationId, /^[0-9a-f-]{36}$/);
  assert.equal(res.wallet.addresses.length, 1);
  return { orgId: res.subOrganizationId, root: sdk(endUser), address: res.wallet.addresses[0], walletId: res.wallet.walletId };
}

/** Adds non-root users with fresh API keys; returns [{id, client}]. */
async function addUsers(sub, names) {
  const keys = names.map(() => generateP256KeyPair());
  const res = await sub.root.createUsers({
    organizationId: sub.orgId,
    users: names.map((userName, i) => ({ userName, apiKeys: [apiKey(`${userName} key`, keys[i])], authenticators: [], oauthProviders: [], userTags: [] })),
  });
  assert.equal(res.userIds.length, names.length);
  return res.userIds.map((id, i) => ({ id, client: sdk(keys[i]) }));
}

async function policy(sub, effect, condition, consensus) {
  const res = await sub.root.createPolicy({
    organizationId: sub.orgId, policyName: uniqueName("p"), effect, condition, consensus, notes: "",
  });
  return res.policyId;
}

function signParams(sub, message) {
  return {
    organizationId: sub.orgId,
    signWith: sub.address,
    payload: toHex(message),
    encoding: "PAYLOAD_ENCODING_HEXADECIMAL",
    hashFunction: "HASH_FUNCTION_KECCAK256",
  };
}

async function signs(sub, client, message) {
  const res = await client.signRawPayload(signParams(sub, message));
  assert.equal(res.activity.status, "ACTIVITY_STATUS_COMPLETED");
  await assertRecovers(keccak256(toHex(message)), res, sub.address, `signature over ${message}`);
  return res;
}

async function denied(promise, what) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.name, "TurnkeyRequestError", `${what}: ${e}`);
    assert.equal(e.code, 7, `${what}: PERMISSION_DENIED expected, got ${e.message}`);
    return true;
  });
}

/** The deployment's bundle signing key, pinned by the app for @turnkey/crypto. */
async function signerKey() {
  const res = await fetch(`${loadCredentials().baseUrl}/enclave/v1/signer`);
  assert.equal(res.status, 200);
  return (await res.json()).signerPublicKey;
}

describe("phase main: @turnkey/sdk-server app flow", { skip: onlyInPhase("main") }, () => {
  test("an end user's sub-organization: list and get everything, sign with viem, ethers and solana adapters, export, import, paginate", opts, async () => {
    const endUser = generateP256KeyPair();
    const created = await sdk().createSubOrganization({
      subOrganizationName: uniqueName("app-user"),
      rootUsers: [{ userName: "app user", apiKeys: [apiKey("device", endUser)], authenticators: [], oauthProviders: [] }],
      rootQuorumThreshold: 1,
      wallet: {
        walletName: "main",
        accounts: [ETH_ACCOUNT, { curve: "CURVE_ED25519", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/501'/0'/0'", addressFormat: "ADDRESS_FORMAT_SOLANA" }],
      },
    });
    const orgId = created.subOrganizationId;
    const [eth, sol] = created.wallet.addresses;
    const user = sdk(endUser, orgId);
    // the parent lists it among its sub-organizations (page through them: other tests create
    // sub-organizations in the same parent, and a page holds 10 by default, oldest first)
    const listed = [];
    for (let after; ;) {
      const { organizationIds } = await sdk().getSubOrgIds({
        paginationOptions: { limit: "100", ...(after ? { after } : {}) },
      });
      listed.push(...organizationIds);
      if (organizationIds.length < 100) break;
      after = organizationIds[organizationIds.length - 1];
    }
    assert.ok(listed.includes(orgId), "the parent lists the new sub-organization");
    // list and get everything, as the end user
    const whoami = await user.getWhoami({ organizationId: orgId });
    assert.equal(whoami.organizationId, orgId);
    const { wallets } = await user.getWallets({ organizationId: orgId });
    assert.deepEqual(wallets.map((w) => w.walletId), [created.wallet.walletId]);
    const { wallet } = await user.getWallet({ organizationId: orgId, walletId: created.wallet.walletId });
    assert.equal(wallet.walletName, "main");
    const { accounts } = await user.getWalletAccounts({ organizationId: orgId, walletId: created.wallet.walletId });
    assert.deepEqual(accounts.map((a) => a.address).sort(), [eth, sol].sort());
    const { account } = await user.getWalletAccount({ organizationId: orgId, walletId: created.wallet.walletId, address: sol });
    assert.equal(account.addressFormat, "ADDRESS_FORMAT_SOLANA");
    const { users } = await user.getUsers({ organizationId: orgId });
    assert.equal(users.length, 1);
    const { user: me } = await user.getUser({ organizationId: orgId, userId: whoami.userId });
    assert.equal(me.userName, "app user");
    const { configs } = await user.getOrganizationConfigs({ organizationId: orgId });
    assert.equal(typeof configs, "object");
    const { apiKeys } = await user.getApiKeys({ organizationId: orgId, userId: whoami.userId });
    assert.deepEqual(apiKeys.map((k) => k.credential.publicKey), [endUser.publicKey]);
    const { policies } = await user.getPolicies({ organizationId: orgId });
    assert.deepEqual(policies, []);

    // viem, ethers and solana adapters on the sdk-server client
    const viemAccount = await createAccount({ client: user, organizationId: orgId, signWith: eth, ethereumAddress: eth });
    const viemSig = await viemAccount.signMessage({ message: "hello from the app" });
    assert.ok(await verifyMessage({ address: eth, message: "hello from the app", signature: viemSig }));
    const tx = { type: "eip1559", chainId: 1, nonce: 0, maxFeePerGas: 2n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n, gas: 21000n, to: "0x3535353535353535353535353535353535353535", value: 1n };
    const signedTx = await viemAccount.signTransaction(tx);
    assert.equal((await recoverTransactionAddress({ serializedTransaction: signedTx })).toLowerCase(), eth.toLowerCase());
    const ethersSigner = new EthersSigner({ client: user, organizationId: orgId, signWith: eth });
    const ethersSig = await ethersSigner.signMessage("hello ethers");
    assert.equal(ethersVerifyMessage("hello ethers", ethersSig).toLowerCase(), eth.toLowerCase());
    const solSigner = new SolanaSigner({ organizationId: orgId, client: user });
    const fromKey = new PublicKey(sol);
    const solTx = new SolanaTransaction({ feePayer: fromKey, recentBlockhash: Keypair.generate().publicKey.toBase58() }).add(
      SystemProgram.transfer({ fromPubkey: fromKey, toPubkey: Keypair.generate().publicKey, lamports: 1000 }),
    );
    await solSigner.addSignature(solTx, sol);
    assert.ok(solTx.verifySignatures());

    // export the wallet; @turnkey/crypto decrypts it to the same mnemonic's addresses
    const signer = await signerKey();
    const target = generateP256KeyPair();
    const exported = await user.exportWallet({ organizationId: orgId, walletId: created.wallet.walletId, targetPublicKey: target.publicKeyUncompressed });
    const mnemonic = await decryptExportBundle({
      exportBundle: exported.exportBundle, embeddedKey: target.privateKey, organizationId: orgId,
      returnMnemonic: true, dangerouslyOverrideSignerPublicKey: signer,
    });
    assert.equal(mnemonicToAccount(mnemonic).address, eth);

    // import a wallet and sign with it
    const { importBundle } = await user.initImportWallet({ organizationId: orgId, userId: whoami.userId });
    const otherMnemonic = generateMnemonic(english);
    const encryptedBundle = await encryptWalletToBundle({
      mnemonic: otherMnemonic, importBundle, userId: whoami.userId, organizationId: orgId, dangerouslyOverrideSignerPublicKey: signer,
    });
    const imported = await user.importWallet({ organizationId: orgId, userId: whoami.userId, walletName: "imported", encryptedBundle, accounts: [ETH_ACCOUNT] });
    const importedAddress = mnemonicToAccount(otherMnemonic).address;
    assert.deepEqual(imported.addresses, [importedAddress]);
    const sig = await user.signRawPayload({
      organizationId: orgId, signWith: importedAddress, payload: toHex("imported"), encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_KECCAK256",
    });
    await assertRecovers(keccak256(toHex("imported")), sig, importedAddress, "imported wallet");

    // list activities, newest first, two at a time
    const all = await user.getActivities({ organizationId: orgId });
    assert.ok(all.activities.length >= 8, `${all.activities.length} activities`);
    const seen = [];
    let after;
    for (;;) {
      const page = await user.getActivities({ organizationId: orgId, paginationOptions: { limit: "2", ...(after ? { after } : {}) } });
      if (page.activities.length === 0) break;
      assert.ok(page.activities.length <= 2);
      seen.push(...page.activities.map((a) => a.id));
      after = page.activities.at(-1).id;
    }
    assert.deepEqual(seen, all.activities.map((a) => a.id), "pages add up to the whole list, in order");
  });

  test("a non-root user: denied by default, allowed by ALLOW, denied by DENY (deny wins)", opts, async () => {
    const sub = await endUserSubOrg();
    const [agent] = await addUsers(sub, ["agent"]);
    await denied(agent.client.signRawPayload(signParams(sub, "default")), "no policy");
    const onlyAgent = `approvers.any(u, u.id == '${agent.id}')`;
    await policy(sub, "EFFECT_ALLOW", "activity.resource == 'PRIVATE_KEY' && activity.action == 'SIGN'", onlyAgent);
    await signs(sub, agent.client, "allowed");
    await policy(sub, "EFFECT_DENY", `wallet_account.address == '${sub.address}'`, "");
    await denied(agent.client.signRawPayload(signParams(sub, "deny wins")), "deny policy");
    // the parent organization's root is not a user of the sub-organization
    await assert.rejects(sdk().signRawPayload(signParams(sub, "parent")));
  });

  test("2 of 3 approvals: CONSENSUS_NEEDED, COMPLETED after the second; REJECTED when rejected", opts, async () => {
    const sub = await endUserSubOrg();
    const board = await addUsers(sub, ["alice", "bob", "carol"]);
    const ids = board.map((u) => `'${u.id}'`).join(", ");
    await policy(sub, "EFFECT_ALLOW", "activity.action == 'SIGN'", `approvers.filter(u, u.id in [${ids}]).count() >= 2`);
    const [alice, bob, carol] = board;

    const pending = await alice.client.signRawPayload(signParams(sub, "two of three"));
    assert.equal(pending.activity.status, "ACTIVITY_STATUS_CONSENSUS_NEEDED");
    const approved = await bob.client.approveActivity({ organizationId: sub.orgId, fingerprint: pending.activity.fingerprint });
    assert.equal(approved.activity.status, "ACTIVITY_STATUS_COMPLETED");
    const done = await alice.client.getActivity({ organizationId: sub.orgId, activityId: pending.activity.id });
    assert.equal(done.activity.status, "ACTIVITY_STATUS_COMPLETED");
    const sig = done.activity.result.signRawPayloadResult;
    await assertRecovers(keccak256(toHex("two of three")), sig, sub.address, "approved signature");
    assert.ok(done.activity.votes.length >= 2, "both votes are recorded");

    const second = await alice.client.signRawPayload(signParams(sub, "rejected"));
    assert.equal(second.activity.status, "ACTIVITY_STATUS_CONSENSUS_NEEDED");
    const rejected = await carol.client.rejectActivity({ organizationId: sub.orgId, fingerprint: second.activity.fingerprint });
    assert.equal(rejected.activity.status, "ACTIVITY_STATUS_REJECTED");
    // approving it afterwards does not run it: the answer is the rejected activity, unchanged
    const late = await bob.client.approveActivity({ organizationId: sub.orgId, fingerprint: second.activity.fingerprint });
    assert.equal(late.activity.status, "ACTIVITY_STATUS_REJECTED");
    assert.deepEqual(late.activity.result, {});
    const after = await alice.client.getActivity({ organizationId: sub.orgId, activityId: second.activity.id });
    assert.equal(after.activity.status, "ACTIVITY_STATUS_REJECTED");
  });

  test("a velocity limit (keyhold) stops the signature that crosses it", opts, async () => {
    const sub = await endUserSubOrg();
    const [bot] = await addUsers(sub, ["bot"]);
    await policy(sub, "EFFECT_ALLOW", "activity.action == 'SIGN' && signatures.count('1h') < 2", `approvers.any(u, u.id == '${bot.id}')`);
    await signs(sub, bot.client, "one");
    await signs(sub, bot.client, "two");
    await denied(bot.client.signRawPayload(signParams(sub, "three")), "third signature within the hour");
    // listing the sub-organization's activities shows the two signatures and the policy
    const list = await sub.root.getActivities({ organizationId: sub.orgId, filterByType: ["ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2"] });
    assert.equal(list.activities.length, 2);
  });
});

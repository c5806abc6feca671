// Phase "main": smart contract interfaces through the real SDKs. An ERC-20 ABI uploaded with
// @turnkey/sdk-server (createSmartContractInterface) is listed, read and deleted; ERC-20
// transfers built with ethers' Interface.encodeFunctionData and viem's serializeTransaction are
// then signed or refused by a policy on eth.tx.function_name and eth.tx.contract_call_args, which
// keyhold's own ABI decoder fills in (so the calldata comes from a real encoder, not from ours).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { Turnkey } from "@turnkey/sdk-server";
import { TurnkeyClient } from "@turnkey/http";
import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { generateP256KeyPair } from "@turnkey/crypto";
import { TurnkeySigner as SolanaSigner } from "@turnkey/solana";
import { Keypair, PublicKey, Transaction as SolanaTransaction, TransactionInstruction } from "@solana/web3.js";
import { Interface } from "ethers";
import nacl from "tweetnacl";
import { recoverTransactionAddress, serializeTransaction } from "viem";

import { TEST_TIMEOUT_MS, loadCredentials, onlyInPhase, uniqueName } from "../lib.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const ETH_ACCOUNT = { curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/60'/0'/0/0",
  addressFormat: "ADDRESS_FORMAT_ETHEREUM" };
const SOL_ACCOUNT = { curve: "CURVE_ED25519", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/501'/0'/0'",
  addressFormat: "ADDRESS_FORMAT_SOLANA" };

// OpenZeppelin's ERC-20 interface, as `solc --abi` writes it (with the brief's parameter names).
const ERC20_ABI = [
  { type: "function", name: "transfer", stateMutability: "nonpayable",
    inputs: [{ name: "_to", type: "address", internalType: "address" }, { name: "_value", type: "uint256", internalType: "uint256" }],
    outputs: [{ name: "", type: "bool", internalType: "bool" }] },
  { type: "function", name: "approve", stateMutability: "nonpayable",
    inputs: [{ name: "_spender", type: "address" }, { name: "_value", type: "uint256" }], outputs: [{ name: "", type: "bool" }] },
  { type: "function", name: "transferFrom", stateMutability: "nonpayable",
    inputs: [{ name: "_from", type: "address" }, { name: "_to", type: "address" }, { name: "_value", type: "uint256" }],
    outputs: [{ name: "", type: "bool" }] },
  { type: "function", name: "balanceOf", stateMutability: "view", inputs: [{ name: "_owner", type: "address" }],
    outputs: [{ name: "balance", type: "uint256" }] },
  { type: "event", name: "Transfer", anonymous: false, inputs: [{ name: "from", type: "address", indexed: true },
    { name: "to", type: "address", indexed: true }, { name: "value", type: "uint256", indexed: false }] },
];
const erc20 = new Interface(ERC20_ABI);

function sdk(keys, orgId) {
  const creds = loadCredentials();
  return new Turnkey({ apiBaseUrl: creds.baseUrl, apiPublicKey: keys?.publicKey ?? creds.apiPublicKey,
    apiPrivateKey: keys?.privateKey ?? creds.apiPrivateKey, defaultOrganizationId: orgId ?? creds.organizationId }).apiClient();
}

function http(keys) {
  return new TurnkeyClient({ baseUrl: loadCredentials().baseUrl },
    new ApiKeyStamper({ apiPublicKey: keys.publicKey, apiPrivateKey: keys.privateKey }));
}

const randomAddress = () => `0x${randomBytes(20).toString("hex")}`;

/** An EIP-1559 call of `data` on `token`, unsigned, as hex without 0x. */
function call(token, data) {
  return serializeTransaction({ type: "eip1559", chainId: 1, nonce: 0, maxFeePerGas: 2n * 10n ** 9n,
    maxPriorityFeePerGas: 10n ** 9n, gas: 60000n, to: token, value: 0n, data }).slice(2);
}

async function denied(promise, what) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, 7, `${what}: PERMISSION_DENIED expected, got ${e.message}`);
    return true;
  });
}

/** A sub-organization with an Ethereum and a Solana account, and bob, a non-root user. */
async function subOrgWithBob() {
  const rootKeys = generateP256KeyPair();
  const created = await sdk().createSubOrganization({ subOrganizationName: uniqueName("contracts"),
    rootUsers: [{ userName: "root", apiKeys: [{ apiKeyName: "root", publicKey: rootKeys.publicKey, curveType: "API_KEY_CURVE_P256" }],
      authenticators: [], oauthProviders: [] }],
    rootQuorumThreshold: 1, wallet: { walletName: "w", accounts: [ETH_ACCOUNT, SOL_ACCOUNT] } });
  const orgId = created.subOrganizationId;
  const root = sdk(rootKeys, orgId);
  const bobKeys = generateP256KeyPair();
  const { userIds: [bobId] } = await root.createUsers({ organizationId: orgId, users: [{ userName: "bob",
    apiKeys: [{ apiKeyName: "bob", publicKey: bobKeys.publicKey, curveType: "API_KEY_CURVE_P256" }],
    authenticators: [], oauthProviders: [], userTags: [] }] });
  const [eth, sol] = created.wallet.addresses;
  return { orgId, root, rootKeys, bob: sdk(bobKeys, orgId), bobId, eth, sol };
}

describe("phase main: smart contract interfaces", { skip: onlyInPhase("main") }, () => {
  test("an Anchor IDL names a Solana instruction's accounts and arguments for a policy", opts, async () => {
    const { orgId, root, bob, bobId, sol } = await subOrgWithBob();
    const program = Keypair.generate().publicKey.toBase58();
    // Anchor 0.30's IDL format: explicit discriminators.
    const idl = { address: program, metadata: { name: "vault", version: "0.1.0", spec: "0.1.0" },
      instructions: [{ name: "deposit", discriminator: [242, 35, 198, 137, 82, 225, 242, 182],
        accounts: [{ name: "owner", signer: true }, { name: "vault", writable: true }],
        args: [{ name: "amount", type: "u64" }, { name: "memo", type: "string" }] }] };
    const { smartContractInterfaceId } = await root.createSmartContractInterface({ organizationId: orgId,
      smartContractAddress: program, smartContractInterface: JSON.stringify(idl), type: "SMART_CONTRACT_INTERFACE_TYPE_SOLANA",
      label: "vault" });
    const { smartContractInterfaces } = await root.getSmartContractInterfaces({ organizationId: orgId });
    assert.deepEqual(smartContractInterfaces.map((i) => [i.smartContractInterfaceId, i.type]),
      [[smartContractInterfaceId, "SMART_CONTRACT_INTERFACE_TYPE_SOLANA"]]);
    await root.createPolicy({ organizationId: orgId, policyName: uniqueName("small deposits"), effect: "EFFECT_ALLOW",
      condition: "solana.tx.instructions.count() == 1 && solana.tx.instructions.all(i, "
        + `i.program_key == '${program}' && i.parsed_instruction_data.instruction_name == 'deposit' `
        + `&& i.parsed_instruction_data.named_accounts['owner'] == '${sol}' `
        + "&& i.parsed_instruction_data.program_call_args['amount'] < 100)",
      consensus: `approvers.any(u, u.id == '${bobId}')`, notes: "" });
    const signer = new SolanaSigner({ organizationId: orgId, client: bob });
    const owner = new PublicKey(sol);
    const deposit = (amount) => {
      const data = Buffer.alloc(8 + 8 + 4 + 2);
      Buffer.from(idl.instructions[0].discriminator).copy(data, 0);
      data.writeBigUInt64LE(amount, 8);
      data.writeUInt32LE(2, 16);
      data.write("hi", 20);
      return new SolanaTransaction({ feePayer: owner, recentBlockhash: Keypair.generate().publicKey.toBase58() }).add(
        new TransactionInstruction({ programId: new PublicKey(program), data, keys: [
          { pubkey: owner, isSigner: true, isWritable: false },
          { pubkey: Keypair.generate().publicKey, isSigner: false, isWritable: true }] }));
    };
    // signTransaction sends the transaction itself (addSignature would sign its message as a raw
    // payload, which no transaction policy reads)
    const signed = await signer.signTransaction(deposit(99n), sol);
    assert.ok(nacl.sign.detached.verify(signed.serializeMessage(), signed.signature, owner.toBytes()));
    await denied(signer.signTransaction(deposit(100n), sol), "a deposit of 100");
  });


  test("create, list, get and delete an ABI; a policy reads the decoded ERC-20 transfer", opts, async () => {
    // A sub-organization with a wallet, and bob, a non-root user.
    const rootKeys = generateP256KeyPair();
    const created = await sdk().createSubOrganization({ subOrganizationName: uniqueName("contracts"),
      rootUsers: [{ userName: "root", apiKeys: [{ apiKeyName: "root", publicKey: rootKeys.publicKey, curveType: "API_KEY_CURVE_P256" }],
        authenticators: [], oauthProviders: [] }],
      rootQuorumThreshold: 1, wallet: { walletName: "w", accounts: [ETH_ACCOUNT] } });
    const orgId = created.subOrganizationId;
    const [address] = created.wallet.addresses;
    const root = sdk(rootKeys, orgId);
    const bobKeys = generateP256KeyPair();
    const { userIds: [bobId] } = await root.createUsers({ organizationId: orgId, users: [{ userName: "bob",
      apiKeys: [{ apiKeyName: "bob", publicKey: bobKeys.publicKey, curveType: "API_KEY_CURVE_P256" }],
      authenticators: [], oauthProviders: [], userTags: [] }] });
    const bob = sdk(bobKeys, orgId);

    // Upload: only the root may, until a policy allows bob.
    const token = randomAddress();
    const params = { organizationId: orgId, smartContractAddress: token, smartContractInterface: JSON.stringify(ERC20_ABI),
      type: "SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM", label: "token", notes: "an ERC-20" };
    await denied(bob.createSmartContractInterface(params), "bob without a policy");
    const { smartContractInterfaceId: id } = await root.createSmartContractInterface(params);
    assert.match(id, /^[0-9a-f-]{36}$/);
    // a malformed ABI and a second ABI for the same contract are refused
    await assert.rejects(root.createSmartContractInterface({ ...params, smartContractAddress: randomAddress(),
      smartContractInterface: JSON.stringify([{ type: "function", name: "f", inputs: [{ type: "uint7" }] }]) }), /uint7/);
    await assert.rejects(root.createSmartContractInterface({ ...params, smartContractAddress: token.toUpperCase().replace("0X", "0x") }),
      /already exists/);

    // Read it back through @turnkey/http as well.
    const client = http(rootKeys);
    const { smartContractInterfaces: listed } = await client.getSmartContractInterfaces({ organizationId: orgId });
    assert.deepEqual(listed.map((i) => i.smartContractInterfaceId), [id]);
    const { smartContractInterface: got } = await client.getSmartContractInterface({ organizationId: orgId, smartContractInterfaceId: id });
    assert.equal(got.smartContractAddress, token);
    assert.equal(got.type, "SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM");
    assert.deepEqual(JSON.parse(got.smartContractInterface), ERC20_ABI);
    assert.equal(got.label, "token");
    assert.equal(got.notes, "an ERC-20");
    assert.equal(got.organizationId, orgId);
    const { organizationData } = await client.getOrganization({ organizationId: orgId });
    assert.deepEqual(organizationData.smartContractInterfaceReferences.map((r) => r.smartContractInterfaceId), [id]);
    assert.equal(organizationData.smartContractInterfaces, undefined, "get_organization lists references only");

    // The brief's policy: bob may transfer under 1000 units of this token to one recipient.
    const recipient = randomAddress();
    await root.createPolicy({ organizationId: orgId, policyName: uniqueName("small transfers"), effect: "EFFECT_ALLOW",
      condition: `eth.tx.to == '${token}' && eth.tx.function_name == 'transfer' && eth.tx.function_signature == '0xa9059cbb' `
        + `&& eth.tx.contract_call_args['_value'] < 1000 && eth.tx.contract_call_args['_to'] == '${recipient}'`,
      consensus: `approvers.any(u, u.id == '${bobId}')`, notes: "" });
    const transfer = (to, value) => call(token, erc20.encodeFunctionData("transfer", [to, value]));
    const sign = (unsignedTransaction) => bob.signTransaction({ organizationId: orgId, signWith: address, unsignedTransaction,
      type: "TRANSACTION_TYPE_ETHEREUM" });

    const ok = await sign(transfer(recipient, 999n));
    const signed = `0x${ok.signedTransaction.replace(/^0x/, "")}`;
    assert.equal((await recoverTransactionAddress({ serializedTransaction: signed })).toLowerCase(), address.toLowerCase());
    await denied(sign(transfer(recipient, 1000n)), "1000 units");
    await denied(sign(transfer(randomAddress(), 1n)), "another recipient");
    await denied(sign(call(token, erc20.encodeFunctionData("approve", [recipient, 1n]))), "approve, not transfer");
    await denied(sign(call(randomAddress(), erc20.encodeFunctionData("transfer", [recipient, 1n]))), "a contract without an ABI");
    // a uint256 beyond i128 decodes (keyhold's ints are 256-bit) and compares as the number it is
    await denied(sign(transfer(recipient, 2n ** 255n)), "2^255 units");

    // Delete: bob may not; the root may, and then the policy can no longer read the call.
    await denied(bob.deleteSmartContractInterface({ organizationId: orgId, smartContractInterfaceId: id }), "bob deleting");
    const deleted = await root.deleteSmartContractInterface({ organizationId: orgId, smartContractInterfaceId: id });
    assert.equal(deleted.smartContractInterfaceId, id);
    const after = await client.getSmartContractInterfaces({ organizationId: orgId });
    assert.deepEqual(after.smartContractInterfaces, []);
    await assert.rejects(client.getSmartContractInterface({ organizationId: orgId, smartContractInterfaceId: id }), /not found/);
    await denied(sign(transfer(recipient, 5n)), "after the ABI was deleted");
  });
});

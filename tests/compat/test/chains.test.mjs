// Phase "main": keys and chains through the chain adapters Turnkey publishes — @turnkey/viem,
// @turnkey/ethers and @turnkey/solana — and a bitcoinjs-lib PSBT, each result verified with the
// chain's own library (viem, ethers v6, @solana/web3.js + tweetnacl, bitcoinjs-lib +
// tiny-secp256k1). Also: every address format, create_wallet_accounts, create_private_keys,
// sign_raw_payloads, and Turnkey-style errors for bad transactions and unknown enums.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { createAccount } from "@turnkey/viem";
import { TurnkeySigner as EthersSigner } from "@turnkey/ethers";
import { TurnkeySigner as SolanaSigner } from "@turnkey/solana";
import {
  hashMessage,
  recoverTransactionAddress,
  verifyMessage,
  verifyTypedData,
  getTypesForEIP712Domain,
  keccak256,
  serializeTransaction,
} from "viem";
import { Transaction as EthersTransaction, verifyMessage as ethersVerifyMessage, verifyTypedData as ethersVerifyTypedData } from "ethers";
import {
  Keypair,
  PublicKey,
  SystemProgram,
  Transaction as SolanaTransaction,
  TransactionMessage,
  VersionedTransaction,
} from "@solana/web3.js";
import nacl from "tweetnacl";
import * as bitcoin from "bitcoinjs-lib";
import * as ecc from "tiny-secp256k1";

import {
  TEST_TIMEOUT_MS,
  activityBody,
  assertRecovers,
  assertTurnkeyError,
  loadCredentials,
  makeClient,
  makeStamper,
  onlyInPhase,
  postRaw,
  uniqueName,
  viemSignature,
} from "../lib.mjs";

bitcoin.initEccLib(ecc);
const opts = { timeout: TEST_TIMEOUT_MS };

const ACCOUNTS = [
  ["CURVE_SECP256K1", "m/44'/60'/0'/0/0", "ADDRESS_FORMAT_ETHEREUM", /^0x[0-9a-fA-F]{40}$/],
  ["CURVE_ED25519", "m/44'/501'/0'/0'", "ADDRESS_FORMAT_SOLANA", /^[1-9A-HJ-NP-Za-km-z]{32,44}$/],
  ["CURVE_SECP256K1", "m/84'/1'/0'/0/0", "ADDRESS_FORMAT_BITCOIN_REGTEST_P2WPKH", /^bcrt1q[02-9ac-hj-np-z]{38}$/],
  ["CURVE_SECP256K1", "m/86'/1'/0'/0/0", "ADDRESS_FORMAT_BITCOIN_REGTEST_P2TR", /^bcrt1p[02-9ac-hj-np-z]{58}$/],
  ["CURVE_SECP256K1", "m/84'/0'/0'/0/0", "ADDRESS_FORMAT_BITCOIN_MAINNET_P2WPKH", /^bc1q/],
  ["CURVE_SECP256K1", "m/44'/0'/0'/0/0", "ADDRESS_FORMAT_BITCOIN_MAINNET_P2PKH", /^1[1-9A-HJ-NP-Za-km-z]{25,34}$/],
  ["CURVE_SECP256K1", "m/44'/118'/0'/0/0", "ADDRESS_FORMAT_COSMOS", /^cosmos1[02-9ac-hj-np-z]{38}$/],
  ["CURVE_SECP256K1", "m/44'/195'/0'/0/0", "ADDRESS_FORMAT_TRON", /^T[1-9A-HJ-NP-Za-km-z]{33}$/],
  ["CURVE_P256", "m/0'/1", "ADDRESS_FORMAT_COMPRESSED", /^0[23][0-9a-f]{64}$/],
  ["CURVE_P256", "m/0'/2", "ADDRESS_FORMAT_UNCOMPRESSED", /^04[0-9a-f]{128}$/],
];

const st = {};

const MAIL = {
  domain: { name: "Ether Mail", version: "1", chainId: 1, verifyingContract: "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC" },
  types: {
    Person: [{ name: "name", type: "string" }, { name: "wallet", type: "address" }],
    Mail: [{ name: "from", type: "Person" }, { name: "to", type: "Person" }, { name: "contents", type: "string" }],
  },
  primaryType: "Mail",
  message: {
    from: { name: "Cow", wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
    to: { name: "Bob", wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB" },
    contents: "Hello, Bob!",
  },
};

async function submit(type, parameters) {
  const { creds, client } = makeClient();
  const body = activityBody(type, creds.organizationId, parameters);
  const fn = {
    ACTIVITY_TYPE_SIGN_TRANSACTION_V2: "signTransaction",
    ACTIVITY_TYPE_SIGN_RAW_PAYLOADS: "signRawPayloads",
    ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2: "signRawPayload",
    ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS: "createWalletAccounts",
    ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2: "createPrivateKeys",
    ACTIVITY_TYPE_CREATE_WALLET: "createWallet",
  }[type];
  const { activity } = await client[fn](body);
  assert.equal(activity.status, "ACTIVITY_STATUS_COMPLETED");
  return activity.result;
}

async function rawSubmit(path, type, parameters) {
  const creds = loadCredentials();
  const body = JSON.stringify(activityBody(type, creds.organizationId, parameters));
  const { stampHeaderName, stampHeaderValue } = await makeStamper(creds).stamp(body);
  return postRaw(`${creds.baseUrl}/public/v1/submit/${path}`, body, { [stampHeaderName]: stampHeaderValue });
}

const account = (format) => st.accounts.find((a) => a.addressFormat === format);

describe("phase main: keys and chains", { skip: onlyInPhase("main") }, () => {
  test("create_wallet derives every supported address format", opts, async () => {
    const result = await submit("ACTIVITY_TYPE_CREATE_WALLET", {
      walletName: uniqueName("keyhold-chains"),
      mnemonicLength: 24,
      accounts: ACCOUNTS.map(([curve, path, addressFormat]) => ({ curve, pathFormat: "PATH_FORMAT_BIP32", path, addressFormat })),
    });
    const { walletId, addresses } = result.createWalletResult;
    assert.equal(addresses.length, ACCOUNTS.length);
    ACCOUNTS.forEach(([, , format, re], i) => assert.match(addresses[i], re, format));
    const { creds, client } = makeClient();
    const { accounts } = await client.getWalletAccounts({ organizationId: creds.organizationId, walletId });
    assert.equal(accounts.length, ACCOUNTS.length);
    st.walletId = walletId;
    st.accounts = accounts;
    const sol = account("ADDRESS_FORMAT_SOLANA");
    assert.equal(sol.curve, "CURVE_ED25519");
    assert.equal(new PublicKey(sol.address).toBuffer().toString("hex"), sol.publicKey);
    // the P2WPKH address is what bitcoinjs-lib computes from the returned public key
    const wpkh = account("ADDRESS_FORMAT_BITCOIN_REGTEST_P2WPKH");
    const pay = bitcoin.payments.p2wpkh({ pubkey: Buffer.from(wpkh.publicKey, "hex"), network: bitcoin.networks.regtest });
    assert.equal(pay.address, wpkh.address);
    const tr = account("ADDRESS_FORMAT_BITCOIN_REGTEST_P2TR");
    const p2tr = bitcoin.payments.p2tr({ internalPubkey: Buffer.from(tr.publicKey, "hex").subarray(1), network: bitcoin.networks.regtest });
    assert.equal(p2tr.address, tr.address);
  });

  test("create_wallet_accounts adds accounts to the wallet", opts, async () => {
    const result = await submit("ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS", {
      walletId: st.walletId,
      accounts: [{ curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/60'/0'/0/7", addressFormat: "ADDRESS_FORMAT_ETHEREUM" }],
    });
    const [address] = result.createWalletAccountsResult.addresses;
    assert.match(address, /^0x[0-9a-fA-F]{40}$/);
    const { creds, client } = makeClient();
    const { accounts } = await client.getWalletAccounts({ organizationId: creds.organizationId, walletId: st.walletId });
    assert.ok(accounts.some((a) => a.address === address));
  });

  test("@turnkey/viem: signMessage, signTypedData, legacy and EIP-1559 transactions", opts, async () => {
    const { creds, client } = makeClient();
    const eth = account("ADDRESS_FORMAT_ETHEREUM").address;
    const viemAccount = await createAccount({ client, organizationId: creds.organizationId, signWith: eth, ethereumAddress: eth });
    const sig = await viemAccount.signMessage({ message: "hello keyhold" });
    assert.ok(await verifyMessage({ address: eth, message: "hello keyhold", signature: sig }));
    // viem's wallet client adds EIP712Domain to `types` before calling the account (its
    // serializeTypedData drops the domain otherwise); do the same here.
    const typed = await viemAccount.signTypedData({
      ...MAIL,
      types: { EIP712Domain: getTypesForEIP712Domain({ domain: MAIL.domain }), ...MAIL.types },
    });
    assert.ok(await verifyTypedData({ address: eth, signature: typed, ...MAIL }));
    const to = "0x3535353535353535353535353535353535353535";
    for (const tx of [
      { type: "legacy", chainId: 1, nonce: 9, gasPrice: 20_000_000_000n, gas: 21000n, to, value: 10n ** 18n },
      { type: "eip1559", chainId: 8453, nonce: 0, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n, gas: 50_000n, to, value: 1n, data: "0xdeadbeef" },
      { type: "eip2930", chainId: 10, nonce: 3, gasPrice: 1n, gas: 30_000n, to, value: 0n, accessList: [{ address: to, storageKeys: [keccak256("0x01")] }] },
    ]) {
      const signed = await viemAccount.signTransaction(tx);
      assert.equal((await recoverTransactionAddress({ serializedTransaction: signed })).toLowerCase(), eth.toLowerCase(), tx.type);
    }
  });

  test("@turnkey/ethers: signMessage, signTypedData, signTransaction", opts, async () => {
    const { creds, client } = makeClient();
    const eth = account("ADDRESS_FORMAT_ETHEREUM").address;
    const signer = new EthersSigner({ client, organizationId: creds.organizationId, signWith: eth });
    assert.equal((await signer.getAddress()).toLowerCase(), eth.toLowerCase());
    const sig = await signer.signMessage("hello ethers");
    assert.equal(ethersVerifyMessage("hello ethers", sig).toLowerCase(), eth.toLowerCase());
    const typed = await signer.signTypedData(MAIL.domain, MAIL.types, MAIL.message);
    assert.equal(ethersVerifyTypedData(MAIL.domain, MAIL.types, MAIL.message, typed).toLowerCase(), eth.toLowerCase());
    for (const tx of [
      { type: 2, chainId: 1n, nonce: 1, to: "0x3535353535353535353535353535353535353535", value: 5n, gasLimit: 21000n, maxFeePerGas: 2n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n },
      { type: 0, chainId: 1n, nonce: 2, to: "0x3535353535353535353535353535353535353535", value: 5n, gasLimit: 21000n, gasPrice: 10n ** 9n },
    ]) {
      const signed = await signer.signTransaction(tx);
      assert.equal(EthersTransaction.from(signed).from.toLowerCase(), eth.toLowerCase(), `type ${tx.type}`);
    }
  });

  test("@turnkey/solana: legacy and v0 transfers verify with web3.js and tweetnacl", opts, async () => {
    const { creds, client } = makeClient();
    const from = account("ADDRESS_FORMAT_SOLANA").address;
    const signer = new SolanaSigner({ organizationId: creds.organizationId, client });
    const fromKey = new PublicKey(from);
    const blockhash = Keypair.generate().publicKey.toBase58();
    const legacy = new SolanaTransaction({ feePayer: fromKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: fromKey, toPubkey: Keypair.generate().publicKey, lamports: 1000 }),
    );
    await signer.addSignature(legacy, from);
    assert.ok(legacy.verifySignatures(), "legacy transaction signature");
    const message = new TransactionMessage({
      payerKey: fromKey,
      recentBlockhash: blockhash,
      instructions: [SystemProgram.transfer({ fromPubkey: fromKey, toPubkey: Keypair.generate().publicKey, lamports: 2000 })],
    }).compileToV0Message();
    const v0 = await signer.signTransaction(new VersionedTransaction(message), from);
    assert.ok(nacl.sign.detached.verify(v0.message.serialize(), v0.signatures[0], fromKey.toBytes()), "v0 signature");
    // sign_raw_payloads with Ed25519: each signature verifies over its message
    const payloads = ["00", "deadbeef", Buffer.from("hello solana").toString("hex")];
    const res = await submit("ACTIVITY_TYPE_SIGN_RAW_PAYLOADS", {
      signWith: from, payloads, encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_NOT_APPLICABLE",
    });
    const sigs = res.signRawPayloadsResult.signatures;
    assert.equal(sigs.length, payloads.length);
    sigs.forEach((s, i) => {
      assert.equal(s.v, "00");
      assert.ok(nacl.sign.detached.verify(Buffer.from(payloads[i], "hex"), Buffer.from(s.r + s.s, "hex"), fromKey.toBytes()), `payload ${i}`);
    });
  });

  test("bitcoinjs-lib PSBT: P2WPKH and P2TR inputs sign, validate, finalise", opts, async () => {
    const network = bitcoin.networks.regtest;
    for (const format of ["ADDRESS_FORMAT_BITCOIN_REGTEST_P2WPKH", "ADDRESS_FORMAT_BITCOIN_REGTEST_P2TR"]) {
      const acct = account(format);
      const pubkey = Buffer.from(acct.publicKey, "hex");
      const taproot = format.endsWith("P2TR");
      const pay = taproot
        ? bitcoin.payments.p2tr({ internalPubkey: pubkey.subarray(1), network })
        : bitcoin.payments.p2wpkh({ pubkey, network });
      const psbt = new bitcoin.Psbt({ network });
      psbt.addInput({
        hash: randomBytes(32).toString("hex"),
        index: 1,
        witnessUtxo: { script: pay.output, value: 100_000n },
        ...(taproot ? { tapInternalKey: pubkey.subarray(1) } : {}),
      });
      psbt.addOutput({ address: acct.address, value: 90_000n });
      const result = await submit("ACTIVITY_TYPE_SIGN_TRANSACTION_V2", {
        signWith: acct.address, unsignedTransaction: psbt.toHex(), type: "TRANSACTION_TYPE_BITCOIN",
      });
      const signed = bitcoin.Psbt.fromHex(result.signTransactionResult.signedTransaction, { network });
      const validator = taproot
        ? (pk, msghash, sig) => ecc.verifySchnorr(msghash, pk, sig)
        : (pk, msghash, sig) => ecc.verify(msghash, pk, sig);
      assert.ok(signed.validateSignaturesOfInput(0, validator), format);
      signed.finalizeAllInputs();
      const tx = signed.extractTransaction();
      assert.equal(tx.ins.length, 1);
    }
  });

  test("create_private_keys: sign with the key's id and with its address", opts, async () => {
    const result = await submit("ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2", {
      privateKeys: [
        { privateKeyName: uniqueName("pk-eth"), curve: "CURVE_SECP256K1", privateKeyTags: [], addressFormats: ["ADDRESS_FORMAT_ETHEREUM"] },
        { privateKeyName: uniqueName("pk-sol"), curve: "CURVE_ED25519", privateKeyTags: [], addressFormats: ["ADDRESS_FORMAT_SOLANA"] },
      ],
    });
    const [eth, sol] = result.createPrivateKeysResultV2.privateKeys;
    assert.equal(eth.addresses[0].format, "ADDRESS_FORMAT_ETHEREUM");
    const address = eth.addresses[0].address;
    const hash = hashMessage("private key");
    for (const signWith of [address, eth.privateKeyId]) {
      const res = await submit("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", {
        signWith, payload: hash, encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_NO_OP",
      });
      await assertRecovers(hash, res.signRawPayloadResult, address, `signWith ${signWith}`);
    }
    // The adapters resolve a private-key id through get_private_key.
    const { creds, client } = makeClient();
    const { privateKey } = await client.getPrivateKey({ organizationId: creds.organizationId, privateKeyId: eth.privateKeyId });
    assert.equal(privateKey.privateKeyId, eth.privateKeyId);
    assert.deepEqual(privateKey.addresses, [{ format: "ADDRESS_FORMAT_ETHEREUM", address }]);
    assert.equal(privateKey.curve, "CURVE_SECP256K1");
    const { privateKeys } = await client.getPrivateKeys({ organizationId: creds.organizationId });
    assert.ok(privateKeys.some((k) => k.privateKeyId === sol.privateKeyId));
    const byId = await createAccount({ client, organizationId: creds.organizationId, signWith: eth.privateKeyId });
    assert.equal(byId.address, address);
    const sigById = await byId.signMessage({ message: "signed by key id" });
    assert.ok(await verifyMessage({ address, message: "signed by key id", signature: sigById }));
    const ethersById = new EthersSigner({ client, organizationId: creds.organizationId, signWith: eth.privateKeyId });
    assert.equal(await ethersById.getAddress(), address);
    const solAddress = sol.addresses[0].address;
    const res = await submit("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", {
      signWith: solAddress, payload: "hello", encoding: "PAYLOAD_ENCODING_TEXT_UTF8", hashFunction: "HASH_FUNCTION_NOT_APPLICABLE",
    });
    const s = res.signRawPayloadResult;
    assert.ok(nacl.sign.detached.verify(Buffer.from("hello"), Buffer.from(s.r + s.s, "hex"), new PublicKey(solAddress).toBytes()));
  });

  test("bad transactions, unknown keys and unknown enums are Turnkey-style errors", opts, async () => {
    const eth = account("ADDRESS_FORMAT_ETHEREUM").address;
    const sol = account("ADDRESS_FORMAT_SOLANA").address;
    const btc = account("ADDRESS_FORMAT_BITCOIN_REGTEST_P2WPKH").address;
    const tx = (signWith, unsignedTransaction, type) => rawSubmit("sign_transaction", "ACTIVITY_TYPE_SIGN_TRANSACTION_V2", { signWith, unsignedTransaction, type });
    const invalid = { status: 400, code: 3, turnkeyErrorCode: "REQUEST_INVALID" };
    assertTurnkeyError(await tx(eth, "f8ff00", "TRANSACTION_TYPE_ETHEREUM"), { ...invalid, message: /RLP/ }, "malformed RLP");
    assertTurnkeyError(await tx(eth, "zz", "TRANSACTION_TYPE_ETHEREUM"), invalid, "not hex");
    assertTurnkeyError(await tx(sol, "0100", "TRANSACTION_TYPE_SOLANA"), { ...invalid, message: /Solana/ }, "malformed Solana");
    assertTurnkeyError(await tx(btc, "70736274ff0000", "TRANSACTION_TYPE_BITCOIN"), { ...invalid, message: /PSBT/ }, "malformed PSBT");
    assertTurnkeyError(await tx(eth, "00", "TRANSACTION_TYPE_NONSENSE"), invalid, "unknown transaction type");
    assertTurnkeyError(await tx(eth, "00", "TRANSACTION_TYPE_TRON"), { status: 501, message: /not supported by keyhold/ }, "tron");
    const unsigned = serializeTransaction({ type: "eip1559", chainId: 1, nonce: 0, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n, gas: 21000n, to: eth, value: 0n }).slice(2);
    const stranger = "0x" + randomBytes(20).toString("hex");
    assertTurnkeyError(await tx(stranger, unsigned, "TRANSACTION_TYPE_ETHEREUM"), { status: 404, code: 5 }, "a key the org does not hold");
    assertTurnkeyError(await tx(sol, unsigned, "TRANSACTION_TYPE_ETHEREUM"), invalid, "Ethereum tx with an Ed25519 key");
    const raw = (params) => rawSubmit("sign_raw_payload", "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", { signWith: eth, payload: "00", encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_KECCAK256", ...params });
    assertTurnkeyError(await raw({ encoding: "PAYLOAD_ENCODING_BASE64" }), { ...invalid, message: /encoding/ }, "unknown encoding");
    assertTurnkeyError(await raw({ hashFunction: "HASH_FUNCTION_MD5" }), { ...invalid, message: /hash function/ }, "unknown hash");
    assertTurnkeyError(await raw({ hashFunction: "HASH_FUNCTION_NO_OP" }), { ...invalid, message: /32-byte/ }, "NO_OP with 1 byte");
    const wallet = (accounts) => rawSubmit("create_wallet", "ACTIVITY_TYPE_CREATE_WALLET", { walletName: uniqueName("bad"), accounts });
    const acct = (curve, path, addressFormat) => [{ curve, pathFormat: "PATH_FORMAT_BIP32", path, addressFormat }];
    assertTurnkeyError(await wallet(acct("CURVE_ED25519", "m/44'/501'/0'/0", "ADDRESS_FORMAT_SOLANA")), { ...invalid, message: /hardened/ }, "non-hardened Ed25519");
    assertTurnkeyError(await wallet(acct("CURVE_ED25519", "m/44'/784'/0'/0'/0'", "ADDRESS_FORMAT_SUI")), { status: 501, message: /ADDRESS_FORMAT_SUI is not supported by keyhold|ADDRESS_FORMAT_SUI`? is not supported/ }, "SUI");
    assertTurnkeyError(await wallet(acct("CURVE_SECP256K1", "m/0", "ADDRESS_FORMAT_NONSENSE")), invalid, "unknown address format");
    assertTurnkeyError(await wallet(acct("CURVE_SECP256K1", "m/0", "ADDRESS_FORMAT_SOLANA")), invalid, "Solana format on secp256k1");
    assertTurnkeyError(await wallet(acct("CURVE_NONSENSE", "m/0", "ADDRESS_FORMAT_ETHEREUM")), invalid, "unknown curve");
  });
});

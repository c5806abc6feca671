// Phase "main", webhook endpoints: a fresh sub-organization (through @turnkey/sdk-server)
// registers a receiver on 127.0.0.1 with create_webhook_endpoint (sdk-server 8.2.1 and
// @turnkey/http 6.6.0 predate Turnkey's webhook methods, so through @turnkey/http's stamped
// `request`), signs, and the receiver gets the activity exactly as get_activity answers it, with
// Turnkey's delivery headers, signed so that @turnkey/crypto's verifyTurnkeyWebhookSignature
// accepts it with the key keyhold serves. list/update/delete_webhook_endpoint; an inactive endpoint gets
// nothing; an unknown endpoint is not found; URLs and event types are validated (in the enclave).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";

import { Turnkey } from "@turnkey/sdk-server";
import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { TurnkeyClient } from "@turnkey/http";
import { generateP256KeyPair, verifyTurnkeyWebhookSignature } from "@turnkey/crypto";

import { TEST_TIMEOUT_MS, loadCredentials, onlyInPhase, uniqueName } from "../lib.mjs";

const opts = { timeout: TEST_TIMEOUT_MS };
const ETH_ACCOUNT = { curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/60'/0'/0/0", addressFormat: "ADDRESS_FORMAT_ETHEREUM" };

function sdk(keys) {
  const creds = loadCredentials();
  return new Turnkey({
    apiBaseUrl: creds.baseUrl,
    apiPublicKey: keys?.publicKey ?? creds.apiPublicKey,
    apiPrivateKey: keys?.privateKey ?? creds.apiPrivateKey,
    defaultOrganizationId: creds.organizationId,
  }).apiClient();
}

function httpClient(kp) {
  const stamper = new ApiKeyStamper({ apiPublicKey: kp.publicKey, apiPrivateKey: kp.privateKey });
  return new TurnkeyClient({ baseUrl: loadCredentials().baseUrl }, stamper);
}

/** A local receiver that records every delivery: {path, headers, body}. */
class Receiver {
  deliveries = [];
  waiters = [];
  async start() {
    this.server = http.createServer((req, res) => {
            const chunks = [];
      req.on("data", (c) => { chunks.push(c); });
      req.on("end", () => {
        // The raw bytes, as Turnkey's verifier wants them (a character split between chunks
        // must not be decoded twice).
        const raw = Buffer.concat(chunks);
        const text = raw.toString("utf8");
        const delivery = { method: req.method, path: req.url, headers: req.headers, raw, text, body: JSON.parse(text) };
        this.deliveries.push(delivery);
        res.writeHead(200).end();
        this.waiters = this.waiters.filter((w) => !w(delivery));
      });
    });
    await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
  }
  /** The delivery of activity `id` at `path` (waits for it). */
  delivery(id, path) {
    const match = (d) => d.path === path && d.body?.activity?.id === id;
    const found = this.deliveries.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no delivery of activity ${id} to ${path}`)), 15_000);
      this.waiters.push((d) => {
        if (!match(d)) return false;
        clearTimeout(timer);
        resolve(d);
        return true;
      });
    });
  }
  delivered(id) {
    return this.deliveries.some((d) => d.body?.activity?.id === id);
  }
  stop() {
    this.server.closeAllConnections?.();
    return new Promise((resolve) => this.server.close(resolve));
  }
}

const receiver = new Receiver();

async function submit(client, path, type, organizationId, parameters) {
  return client.request(`/public/v1/submit/${path}`, { type, timestampMs: String(Date.now()), organizationId, parameters });
}

async function rejects(promise, code, what, message) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.name, "TurnkeyRequestError", `${what}: ${e}`);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    if (message) assert.match(e.message, message, what);
    return true;
  });
}

describe("phase main: webhook endpoints", { skip: onlyInPhase("main") }, () => {
  before(() => receiver.start());
  after(() => receiver.stop());

  test("activity updates are delivered to an active endpoint; list, update (inactive: no delivery), delete", opts, async () => {
    const rootKp = generateP256KeyPair();
    const made = await sdk().createSubOrganization({
      subOrganizationName: uniqueName("webhooks"), rootQuorumThreshold: 1,
      rootUsers: [{ userName: "root", apiKeys: [{ apiKeyName: "root key", publicKey: rootKp.publicKey, curveType: "API_KEY_CURVE_P256" }], authenticators: [], oauthProviders: [] }],
      wallet: { walletName: "main", accounts: [ETH_ACCOUNT] },
    });
    const organizationId = made.subOrganizationId;
    const address = made.wallet.addresses[0];
    const root = sdk(rootKp);
    const client = httpClient(rootKp);
    const path = `/hooks/${uniqueName("h")}`;

    const created = await submit(client, "create_webhook_endpoint", "ACTIVITY_TYPE_CREATE_WEBHOOK_ENDPOINT", organizationId,
      { url: receiver.url + path, name: "activity updates", subscriptions: [{ eventType: "ACTIVITY_UPDATES" }] });
    assert.equal(created.activity.status, "ACTIVITY_STATUS_COMPLETED");
    assert.deepEqual(created.activity.intent.createWebhookEndpointIntent.subscriptions, [{ eventType: "ACTIVITY_UPDATES" }]);
    const result = created.activity.result.createWebhookEndpointResult;
    const endpointId = result.endpointId;
    assert.match(endpointId, /^[0-9a-f-]{36}$/);
    const endpoint = { endpointId, organizationId, url: receiver.url + path, name: "activity updates", isActive: true,
      subscriptions: [{ eventType: "ACTIVITY_UPDATES", isActive: true }] };
    assert.deepEqual(result.webhookEndpoint, endpoint);

    const listed = await client.request("/public/v1/query/list_webhook_endpoints", { organizationId });
    assert.deepEqual(listed, { webhookEndpoints: [endpoint] });

    // Sign something: the receiver gets the activity as get_activity answers it.
    const signed = await root.signRawPayload({ organizationId, signWith: address, payload: "0xabcd",
      encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_KECCAK256" });
    const id = signed.activity.id;
    const delivery = await receiver.delivery(id, path);
    assert.equal(delivery.method, "POST");
    assert.match(delivery.headers["content-type"], /^application\/json/);
    assert.equal(delivery.headers["x-turnkey-organization-id"], organizationId);
    assert.equal(delivery.headers["x-turnkey-event-type"], "ACTIVITY_UPDATES");
        assert.ok(Math.abs(Number(delivery.headers["x-turnkey-timestamp"]) - Date.now()) < 60_000, "timestamp in ms");
    // Signed as Turnkey signs its deliveries: @turnkey/crypto's own verifier accepts it with the
    // key keyhold serves, and refuses it with another key or a changed body.
    const signingKey = await (await fetch(`${loadCredentials().baseUrl}/webhooks/v1/signing-key`)).json();
    assert.equal(signingKey.algorithm, "ed25519");
    const verificationKeys = [{ keyId: signingKey.keyId, publicKey: signingKey.publicKey }];
    const verify = (body, keys = verificationKeys) =>
      verifyTurnkeyWebhookSignature({ headers: delivery.headers, body, verificationKeys: keys, maxTimestampAgeMs: 300_000 });
    const verified = verify(new Uint8Array(delivery.raw));
    assert.ok(verified.ok, `signature refused: ${JSON.stringify(verified)}`);
    assert.equal(verified.keyId, signingKey.keyId);
    assert.match(verified.eventId, /^[0-9a-f-]{36}$/);
    assert.equal(verify(delivery.text.replace("COMPLETED", "FAILED")).reason, "invalid_signature");
    const otherKey = [{ keyId: signingKey.keyId, publicKey: "11".repeat(32) }];
    assert.equal(verify(delivery.text, otherKey).ok, false);
    assert.equal(verify(delivery.text).ok, true, "the text verifies as the bytes do");
    const got = await root.getActivity({ organizationId, activityId: id });
    assert.equal(delivery.body.activity.status, "ACTIVITY_STATUS_COMPLETED");
    assert.deepEqual(delivery.body.activity, got.activity);
    assert.equal(delivery.body.activity.result.signRawPayloadResult.r, signed.r);

    // Inactive: nothing is delivered (the update itself neither: it is stored first).
    const renamed = await submit(client, "update_webhook_endpoint", "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT", organizationId,
      { endpointId, name: "paused", isActive: false });
    assert.deepEqual(renamed.activity.result.updateWebhookEndpointResult,
      { endpointId, webhookEndpoint: { ...endpoint, name: "paused", isActive: false } });
    const quiet = await root.signRawPayload({ organizationId, signWith: address, payload: "0x01",
      encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_KECCAK256" });
    // Active again: the re-activation is delivered, and deliveries are queued in order, so by
    // then the paused activity would have been sent.
    const resumed = await submit(client, "update_webhook_endpoint", "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT", organizationId,
      { endpointId, isActive: true });
    await receiver.delivery(resumed.activity.id, path);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(!receiver.delivered(quiet.activity.id), "an inactive endpoint got a delivery");
    assert.ok(!receiver.delivered(renamed.activity.id), "the deactivating update was delivered");
    const listedAgain = await client.request("/public/v1/query/list_webhook_endpoints", { organizationId });
    assert.deepEqual(listedAgain.webhookEndpoints, [{ ...endpoint, name: "paused" }]);

    const deleted = await submit(client, "delete_webhook_endpoint", "ACTIVITY_TYPE_DELETE_WEBHOOK_ENDPOINT", organizationId, { endpointId });
    assert.deepEqual(deleted.activity.result.deleteWebhookEndpointResult, { endpointId });
    assert.deepEqual(await client.request("/public/v1/query/list_webhook_endpoints", { organizationId }), { webhookEndpoints: [] });
    const last = await root.signRawPayload({ organizationId, signWith: address, payload: "0x02",
      encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_KECCAK256" });

    // A deleted (or never created) endpoint is not found.
    for (const [p, type, params] of [
      ["update_webhook_endpoint", "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT", { endpointId, name: "gone" }],
      ["delete_webhook_endpoint", "ACTIVITY_TYPE_DELETE_WEBHOOK_ENDPOINT", { endpointId }],
    ]) {
      await rejects(submit(client, p, type, organizationId, params), 5, p, /not found/);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(!receiver.delivered(last.activity.id), "a deleted endpoint got a delivery");
  });

  test("URLs, names and event types are validated; a user without a policy is refused", opts, async () => {
    const creds = loadCredentials();
    const client = new TurnkeyClient({ baseUrl: creds.baseUrl },
      new ApiKeyStamper({ apiPublicKey: creds.apiPublicKey, apiPrivateKey: creds.apiPrivateKey }));
    const create = (parameters) => submit(client, "create_webhook_endpoint", "ACTIVITY_TYPE_CREATE_WEBHOOK_ENDPOINT", creds.organizationId, parameters);
    const subs = [{ eventType: "ACTIVITY_UPDATES" }];
    await rejects(create({ url: "http://hooks.example/x", name: "n", subscriptions: subs }), 3, "plain http", /https/);
    await rejects(create({ url: "https://u:p@hooks.example/x", name: "n", subscriptions: subs }), 3, "credentials");
    await rejects(create({ url: "https://hooks.example/x", name: "", subscriptions: subs }), 3, "empty name");
    await rejects(create({ url: "https://hooks.example/x", name: "n", subscriptions: [{ eventType: "EVERYTHING" }] }), 3, "event type", /eventType/);
    await rejects(create({ url: "https://hooks.example/x", name: "n", subscriptions: [{ eventType: "BALANCE_CONFIRMED_UPDATES" }] }), 12, "balance updates");

    // A user of a sub-organization without a policy may not create one.
    const rootKp = generateP256KeyPair();
    const userKp = generateP256KeyPair();
    const made = await sdk().createSubOrganization({
      subOrganizationName: uniqueName("webhooks-policy"), rootQuorumThreshold: 1,
      rootUsers: [{ userName: "root", apiKeys: [{ apiKeyName: "root key", publicKey: rootKp.publicKey, curveType: "API_KEY_CURVE_P256" }], authenticators: [], oauthProviders: [] }],
    });
    const organizationId = made.subOrganizationId;
    await sdk(rootKp).createUsers({ organizationId, users: [{ userName: "ops",
      apiKeys: [{ apiKeyName: "ops key", publicKey: userKp.publicKey, curveType: "API_KEY_CURVE_P256" }], authenticators: [], oauthProviders: [], userTags: [] }] });
    const params = { url: receiver.url + "/denied", name: "n", subscriptions: subs };
    const ops = httpClient(userKp);
    await rejects(submit(ops, "create_webhook_endpoint", "ACTIVITY_TYPE_CREATE_WEBHOOK_ENDPOINT", organizationId, params), 7, "no policy");
    await sdk(rootKp).createPolicy({ organizationId, policyName: uniqueName("p"), effect: "EFFECT_ALLOW",
      condition: "activity.resource == 'WEBHOOK_ENDPOINT' && activity.action == 'CREATE'", consensus: "", notes: "" });
    const ok = await submit(ops, "create_webhook_endpoint", "ACTIVITY_TYPE_CREATE_WEBHOOK_ENDPOINT", organizationId, params);
    assert.equal(ok.activity.status, "ACTIVITY_STATUS_COMPLETED");
  });
});

// Scale-out: two keyhold hosts on one PostgreSQL database, each with its own enclave (the
// second provisioned by key forwarding), serve one organization. Driven by scripts/e2e-scaleout,
// which starts the stack and afterwards checks the organization's state version in the database
// against the number of changes reported here (KEYHOLD_SCALEOUT_REPORT).
//
// Environment: KEYHOLD_CREDENTIALS (the dev organization's root key), KEYHOLD_SCALEOUT_URLS
// ("http://host1,http://host2"), KEYHOLD_SCALEOUT_REPORT (a file to write {organizationId,
// orgChanges} to).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";

import { TurnkeyClient } from "@turnkey/http";
import { generateP256KeyPair } from "@turnkey/crypto";
import { keccak256, toHex } from "viem";

import {
  RecordingStamper,
  activityBody,
  assertActivityEnvelope,
  assertRecovers,
  assertRsv,
  loadCredentials,
  makeStamper,
  need,
  postRaw,
  uniqueName,
} from "../lib.mjs";

const opts = { timeout: 120_000 };
/** Organization changes made concurrently, half through each host. */
const CHANGES = 16;

const urls = (process.env.KEYHOLD_SCALEOUT_URLS || "").split(",").filter(Boolean);
const report = process.env.KEYHOLD_SCALEOUT_REPORT;
const state = { orgChanges: 0, wallets: [] };

function hosts() {
  assert.equal(urls.length, 2, "KEYHOLD_SCALEOUT_URLS must name two hosts");
  const creds = loadCredentials();
  return urls.map((baseUrl) => {
    const recorder = new RecordingStamper(makeStamper(creds));
    return { baseUrl, recorder, client: new TurnkeyClient({ baseUrl }, recorder) };
  });
}

function policyBody(organizationId, name) {
  return activityBody("ACTIVITY_TYPE_CREATE_POLICY_V3", organizationId, {
    policyName: name, effect: "EFFECT_ALLOW",
    condition: "activity.resource == 'WALLET' && activity.action == 'CREATE'",
    consensus: `approvers.any(user, user.id == '${loadCredentials().userId}')`, notes: "scale-out",
  });
}

function usersBody(organizationId, name) {
  return activityBody("ACTIVITY_TYPE_CREATE_USERS_V4", organizationId, {
    users: [{ userName: name, apiKeys: [{ apiKeyName: `${name} key`, publicKey: generateP256KeyPair().publicKey,
      curveType: "API_KEY_CURVE_P256" }], authenticators: [], oauthProviders: [], userTags: [] }],
  });
}

/** Every activity of `type` in the organization, newest first, through `client`. */
async function allActivities(client, organizationId, type) {
  const out = [];
  let after;
  for (;;) {
    const { activities } = await client.getActivities({ organizationId, filterByType: [type],
      paginationOptions: { limit: "100", ...(after ? { after } : {}) } });
    out.push(...activities);
    if (activities.length < 100) return out;
    after = activities[activities.length - 1].id;
  }
}

function countBy(list, key) {
  const counts = new Map();
  for (const item of list) counts.set(key(item), (counts.get(key(item)) || 0) + 1);
  return counts;
}

describe("scale-out: two hosts, two enclaves, one database", () => {
  test(`${CHANGES} concurrent organization changes split across both hosts all complete, each exactly once`, opts, async () => {
    const creds = loadCredentials();
    const [a, b] = hosts();
    const policies = [];
    const users = [];
    // Every request gets its own client (and stamper), so the recorded body is its own.
    const submissions = [];
    for (let i = 0; i < CHANGES; i++) {
      const host = hosts()[i % 2];
      if (i % 4 < 2) {
        const name = uniqueName(`scaleout-policy-${i}`);
        policies.push(name);
        submissions.push(host.client.createPolicy(policyBody(creds.organizationId, name))
          .then((r) => ({ ...r, rawBody: host.recorder.lastBody, via: host.baseUrl, kind: "policy" })));
      } else {
        const name = uniqueName(`scaleout-user-${i}`);
        users.push(name);
        submissions.push(host.client.createUsers(usersBody(creds.organizationId, name))
          .then((r) => ({ ...r, rawBody: host.recorder.lastBody, via: host.baseUrl, kind: "users" })));
      }
    }
    const results = await Promise.all(submissions);
    state.orgChanges += results.length;
    for (const { activity, rawBody, kind } of results) {
      assert.equal(activity.status, "ACTIVITY_STATUS_COMPLETED", `${kind}: ${JSON.stringify(activity)}`);
      assertActivityEnvelope(activity, kind === "policy"
        ? { organizationId: creds.organizationId, type: "ACTIVITY_TYPE_CREATE_POLICY_V3",
          intentKey: "createPolicyIntentV3", resultKey: "createPolicyResult", rawBody }
        : { organizationId: creds.organizationId, type: "ACTIVITY_TYPE_CREATE_USERS_V4",
          intentKey: "createUsersIntentV4", resultKey: "createUsersResult", rawBody });
    }
    assert.equal(new Set(results.map((r) => r.activity.id)).size, CHANGES, "distinct activity ids");

    // Both hosts see every change exactly once: in the organization's state (policies, users)
    // and in the activity list.
    for (const { client, baseUrl } of [a, b]) {
      const { policies: listed } = await client.getPolicies({ organizationId: creds.organizationId });
      const policyCounts = countBy(listed, (p) => p.policyName);
      for (const name of policies) assert.equal(policyCounts.get(name), 1, `policy ${name} via ${baseUrl}`);
      const { users: listedUsers } = await client.getUsers({ organizationId: creds.organizationId });
      const userCounts = countBy(listedUsers, (u) => u.userName);
      for (const name of users) assert.equal(userCounts.get(name), 1, `user ${name} via ${baseUrl}`);

      const stored = [
        ...await allActivities(client, creds.organizationId, "ACTIVITY_TYPE_CREATE_POLICY_V3"),
        ...await allActivities(client, creds.organizationId, "ACTIVITY_TYPE_CREATE_USERS_V4"),
      ];
      const byFingerprint = countBy(stored, (s) => s.fingerprint);
      const byId = new Map(stored.map((s) => [s.id, s]));
      for (const { activity } of results) {
        assert.equal(byFingerprint.get(activity.fingerprint), 1, `activity ${activity.id} once via ${baseUrl}`);
        assert.deepEqual(byId.get(activity.id)?.result, activity.result, `stored result of ${activity.id}`);
      }
    }
  });

  test("the same stamped request sent to both hosts at once is one activity, applied once", opts, async () => {
    const creds = loadCredentials();
    const name = uniqueName("scaleout-twice");
    const body = JSON.stringify(policyBody(creds.organizationId, name));
    const { stampHeaderName, stampHeaderValue } = await makeStamper(creds).stamp(body);
    const answers = await Promise.all(urls.map((url) =>
      postRaw(`${url}/public/v1/submit/create_policy`, body, { [stampHeaderName]: stampHeaderValue })));
    state.orgChanges += 1;
    for (const res of answers) assert.equal(res.status, 200, res.text);
    const [first, second] = answers.map((r) => r.json.activity);
    assert.equal(first.id, second.id, "both hosts answer with the same activity");
    assert.equal(first.status, "ACTIVITY_STATUS_COMPLETED");
    assert.deepEqual(first.result, second.result);
    const [{ client }] = hosts();
    const { policies } = await client.getPolicies({ organizationId: creds.organizationId });
    assert.equal(policies.filter((p) => p.policyName === name).length, 1, "the policy exists once");
  });

  test("wallets created through either host sign through both", opts, async () => {
    const creds = loadCredentials();
    const created = await Promise.all(hosts().map(({ client }, i) => client.createWallet(
      activityBody("ACTIVITY_TYPE_CREATE_WALLET", creds.organizationId, {
        walletName: uniqueName(`scaleout-wallet-${i}`),
        accounts: [{ curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/60'/0'/0/0",
          addressFormat: "ADDRESS_FORMAT_ETHEREUM" }],
      }))));
    // A wallet is recorded in the organization's state: two more changes.
    state.orgChanges += created.length;
    for (const { activity } of created) {
      assert.equal(activity.status, "ACTIVITY_STATUS_COMPLETED");
      state.wallets.push(activity.result.createWalletResult.addresses[0]);
    }
    const [a, b] = hosts();
    // Each wallet signs through each host, concurrently.
    const signing = [];
    for (const address of state.wallets) {
      for (const { client, baseUrl } of [a, b]) {
        const payload = toHex(`scale-out ${address} via ${baseUrl}`);
        const hash = keccak256(payload);
        signing.push(client.signRawPayload(activityBody("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", creds.organizationId, {
          signWith: address, payload: hash, encoding: "PAYLOAD_ENCODING_HEXADECIMAL",
          hashFunction: "HASH_FUNCTION_NO_OP",
        })).then(({ activity }) => ({ activity, hash, address, baseUrl })));
      }
    }
    for (const { activity, hash, address, baseUrl } of await Promise.all(signing)) {
      assert.equal(activity.status, "ACTIVITY_STATUS_COMPLETED");
      const sig = activity.result.signRawPayloadResult;
      assertRsv(sig);
      await assertRecovers(hash, sig, address, `${address} via ${baseUrl}`);
    }
  });

  test("report the changes for the database check", () => {
    need(report, "KEYHOLD_SCALEOUT_REPORT");
    const { organizationId } = loadCredentials();
    writeFileSync(report, JSON.stringify({ organizationId, orgChanges: state.orgChanges }) + "\n");
  });
});

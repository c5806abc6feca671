// Crash-test driver (run by scripts/crash-test, not by `npm test`): streams activities at a
// keyhold host with Turnkey's own client while the script kill -9s the enclave or the host, then
// checks with real queries that every acknowledged activity exists exactly once and that the
// stored effects agree with the stored activities.
//
//   node crash/driver.mjs setup   once, against `keyhold dev`: the velocity-limited user, its
//                                 policy, a root wallet and a sub-organization
//   node crash/driver.mjs round   one round: stream, survive the outage, verify
//
// Environment: KEYHOLD_CREDENTIALS (dev-credentials.json), KEYHOLD_URL (the host, overrides the
// credentials' baseUrl), KEYHOLD_CRASH_SETUP (JSON written by setup), KEYHOLD_CRASH_DIR (the
// round's control directory: the driver creates `streaming` when the script may kill, the script
// creates `killed` and `restarted`; the driver writes `report.json`), KEYHOLD_CRASH_ROUND,
// KEYHOLD_BIN and KEYHOLD_DATA_DIR (for `keyhold audit verify`).

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

import { TurnkeyClient } from "@turnkey/http";
import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { computeActivityFingerprint, generateP256KeyPair } from "@turnkey/crypto";
import { keccak256, toHex, recoverAddress, getAddress } from "viem";

import { RecordingStamper, activityBody, loadCredentials, uniqueName } from "../lib.mjs";

const MODE = process.argv[2];
const ROUND = Number(process.env.KEYHOLD_CRASH_ROUND || "0");
const CONTROL = process.env.KEYHOLD_CRASH_DIR;
const SETUP = process.env.KEYHOLD_CRASH_SETUP;

/** Requests in flight at once. */
const CONCURRENCY = 6;
/** The velocity limit: at most this many signatures per hour per signing wallet. */
const VELOCITY_LIMIT = 5;
/** Velocity-limited signatures attempted per round (more than the limit allows). */
const VELOCITY_ATTEMPTS = VELOCITY_LIMIT + 4;
/** Per round, at most this many policies and users are created (the state holds 100 policies). */
const PER_ROUND = { policy: 4, users: 4 };
/** A request gets no answer within this: reported (a hang is not a clear error). */
const REQUEST_TIMEOUT_MS = 30_000;
/** How long one activity is retried through an outage before the round fails. */
const RETRY_DEADLINE_MS = 60_000;
/** After the restart, stream this long (and until every worker succeeded once) before checking. */
const AFTER_RESTART_MS = 1_500;

const STATE_CHANGING = new Set([
  "ACTIVITY_TYPE_CREATE_POLICY_V3",
  "ACTIVITY_TYPE_DELETE_POLICY",
  "ACTIVITY_TYPE_CREATE_USERS_V4",
]);

/** Every request has a deadline: a hung server is a finding, not a hung test. */
class TimeoutError extends Error {
  name = "TimeoutError";
}
function withDeadline(promise) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const creds = loadCredentials();
const baseUrl = (process.env.KEYHOLD_URL || creds.baseUrl).replace(/\/+$/, "");
const violations = [];
const violation = (what) => {
  violations.push(what);
  if (violations.length <= 40) console.error(`VIOLATION: ${what}`);
};

function clientFor(keys) {
  const recorder = new RecordingStamper(new ApiKeyStamper({ apiPublicKey: keys.publicKey, apiPrivateKey: keys.privateKey }));
  return { client: new TurnkeyClient({ baseUrl }, recorder), recorder };
}
const rootKeys = { publicKey: creds.apiPublicKey, privateKey: creds.apiPrivateKey };
const root = () => clientFor(rootKeys).client;

const ETH_ACCOUNT = { curve: "CURVE_SECP256K1", pathFormat: "PATH_FORMAT_BIP32", path: "m/44'/60'/0'/0/0",
  addressFormat: "ADDRESS_FORMAT_ETHEREUM" };

// ---------------------------------------------------------------------------
// Errors: what a client sees while a process is down

/**
 * Sorts a failed request: `{clear, transient, label}`. Clear errors are a Turnkey error body
 * with a code and a message, or a connection error; anything else (a non-JSON error body, a
 * hang) is not.
 */
function classify(e) {
  if (e?.name === "TurnkeyRequestError") {
    const detail = Array.isArray(e.details) && e.details.find((d) => d?.["@type"] === "type.googleapis.com/errors.v1.TurnkeyErrorDetail");
    const clear = typeof e.code === "number" && /^Turnkey error \d+: \S/.test(e.message) && Boolean(detail);
    // 14 UNAVAILABLE: the signer is down or restarting; 10 ABORTED: concurrent changes.
    const transient = e.code === 14 || e.code === 10;
    return { clear, transient, label: `turnkey-${e.code}`, message: e.message };
  }
  // @turnkey/http fetches with node-fetch (through cross-fetch): a refused or reset connection
  // is a FetchError of type "system" with the errno code.
  if (e?.name === "FetchError" && e.type === "system" && e.code) {
    return { clear: true, transient: true, label: `connection-${e.code}`, message: e.message };
  }
  if (e?.name === "TimeoutError") {
    return { clear: false, transient: true, label: "timeout", message: `no answer within ${REQUEST_TIMEOUT_MS} ms` };
  }
  if (/^503 /.test(e?.message || "")) return { clear: true, transient: true, label: "http-503", message: e.message };
  return { clear: false, transient: false, label: "other", message: String(e?.stack || e) };
}

// ---------------------------------------------------------------------------
// Setup (once per data directory)

async function setup() {
  const client = root();
  const org = creds.organizationId;
  // Wallets `keyhold dev` made without an activity (if any).
  const { wallets: initial } = await client.getWallets({ organizationId: org });
  const bot = generateP256KeyPair();
  const users = await client.createUsers(activityBody("ACTIVITY_TYPE_CREATE_USERS_V4", org, {
    users: [{ userName: uniqueName("crash-bot"), apiKeys: [{ apiKeyName: "bot", publicKey: bot.publicKey,
      curveType: "API_KEY_CURVE_P256" }], authenticators: [], oauthProviders: [], userTags: [] }],
  }));
  const botId = users.activity.result.createUsersResult.userIds[0];
  const policy = await client.createPolicy(activityBody("ACTIVITY_TYPE_CREATE_POLICY_V3", org, {
    policyName: uniqueName("crash-velocity"), effect: "EFFECT_ALLOW",
    condition: `activity.action == 'SIGN' && signatures.count('1h') < ${VELOCITY_LIMIT}`,
    consensus: `approvers.any(u, u.id == '${botId}')`, notes: "crash test velocity limit",
  }));
  const wallet = await client.createWallet(activityBody("ACTIVITY_TYPE_CREATE_WALLET", org, {
    walletName: uniqueName("crash-root"), accounts: [ETH_ACCOUNT],
  }));
  // A sub-organization whose root user is the dev key: no counter-reading policy there, so its
  // signatures change no organization state (the other kind of activity).
  const sub = await client.createSubOrganization(activityBody("ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V7", org, {
    subOrganizationName: uniqueName("crash-sub"),
    rootUsers: [{ userName: "crash sub root", apiKeys: [{ apiKeyName: "dev", publicKey: creds.apiPublicKey,
      curveType: "API_KEY_CURVE_P256" }], authenticators: [], oauthProviders: [] }],
    rootQuorumThreshold: 1,
    wallet: { walletName: "crash-sub-wallet", accounts: [ETH_ACCOUNT] },
  }));
  const subResult = sub.activity.result.createSubOrganizationResultV7;
  const state = {
    initialWallets: initial.map((w) => w.walletId),
    bot: { id: botId, publicKey: bot.publicKey, privateKey: bot.privateKey },
    velocityPolicyId: policy.activity.result.createPolicyResult.policyId,
    rootAddress: wallet.activity.result.createWalletResult.addresses[0],
    sub: { orgId: subResult.subOrganizationId, rootUserId: subResult.rootUserIds[0],
      walletId: subResult.wallet.walletId, address: subResult.wallet.addresses[0] },
  };
  writeFileSync(SETUP, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
  console.log(`crash setup: organization ${org}, sub-organization ${state.sub.orgId}, bot ${botId}`);
}

// ---------------------------------------------------------------------------
// One round

const control = (name) => `${CONTROL}/${name}`;
const markTime = (name) => (existsSync(control(name)) ? Number(readFileSync(control(name), "utf8").trim() || "0") : undefined);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An activity the driver submits: one body, resent unchanged on every retry. */
function work(kind, ctx) {
  const org = creds.organizationId;
  const payload = () => toHex(`crash round ${ROUND} ${uniqueName(kind)}`);
  const signBody = (orgId, signWith, hex) => activityBody("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", orgId, {
    signWith, payload: hex, encoding: "PAYLOAD_ENCODING_HEXADECIMAL", hashFunction: "HASH_FUNCTION_KECCAK256" });
  switch (kind) {
    case "policy": {
      const name = uniqueName(`crash-p${ROUND}`);
      return { kind, org, method: "createPolicy", resultKey: "createPolicyResult", name,
        body: activityBody("ACTIVITY_TYPE_CREATE_POLICY_V3", org, { policyName: name, effect: "EFFECT_DENY",
          condition: `activity.resource == 'WALLET' && wallet.id == '${uniqueName("none")}'`, consensus: "", notes: "crash test" }) };
    }
    case "deletePolicy": {
      const policyId = ctx.oldPolicies.pop();
      return { kind, org, method: "deletePolicy", resultKey: "deletePolicyResult", policyId,
        body: activityBody("ACTIVITY_TYPE_DELETE_POLICY", org, { policyId }) };
    }
    case "users": {
      const name = uniqueName(`crash-u${ROUND}`);
      return { kind, org, method: "createUsers", resultKey: "createUsersResult", name,
        body: activityBody("ACTIVITY_TYPE_CREATE_USERS_V4", org, { users: [{ userName: name,
          apiKeys: [{ apiKeyName: "k", publicKey: generateP256KeyPair().publicKey, curveType: "API_KEY_CURVE_P256" }],
          authenticators: [], oauthProviders: [], userTags: [] }] }) };
    }
    case "wallet": {
      const name = uniqueName(`crash-w${ROUND}`);
      return { kind, org, method: "createWallet", resultKey: "createWalletResult", name,
        body: activityBody("ACTIVITY_TYPE_CREATE_WALLET", org, { walletName: name, accounts: [ETH_ACCOUNT] }) };
    }
    case "rootSign": {
      const hex = payload();
      return { kind, org, method: "signRawPayload", resultKey: "signRawPayloadResult", hex, address: ctx.setup.rootAddress,
        body: signBody(org, ctx.setup.rootAddress, hex) };
    }
    case "subSign": {
      const hex = payload();
      return { kind, org: ctx.setup.sub.orgId, method: "signRawPayload", resultKey: "signRawPayloadResult", hex,
        address: ctx.setup.sub.address, body: signBody(ctx.setup.sub.orgId, ctx.setup.sub.address, hex) };
    }
    case "velocitySign": {
      const hex = payload();
      return { kind, org, method: "signRawPayload", resultKey: "signRawPayloadResult", hex, address: ctx.velocityAddress,
        keys: ctx.setup.bot, body: signBody(org, ctx.velocityAddress, hex) };
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

/** Checks a 200 answer; returns what it acknowledges (or records why it is garbage). */
async function acknowledge(item, answer, rawBody) {
  const a = answer?.activity;
  const bad = (why) => {
    violation(`${item.kind}: a 200 answer that is not a completed activity (${why}): ${JSON.stringify(answer).slice(0, 400)}`);
    return undefined;
  };
  if (!a || typeof a.id !== "string") return bad("no activity id");
  if (a.status !== "ACTIVITY_STATUS_COMPLETED") return bad(`status ${a.status}`);
  if (a.type !== item.body.type) return bad(`type ${a.type}`);
  if (a.organizationId !== item.org) return bad("organization");
  if (a.fingerprint !== computeActivityFingerprint(rawBody)) return bad("fingerprint is not the body's");
  const result = a.result?.[item.resultKey];
  if (!result) return bad(`no result.${item.resultKey}`);
  if (item.method === "signRawPayload") {
    const signer = await recoverAddress({ hash: keccak256(item.hex),
      signature: `0x${result.r}${result.s}${result.v === "00" ? "1b" : "1c"}` }).catch(() => undefined);
    if (signer !== getAddress(item.address)) return bad("the signature does not recover to signWith");
  }
  return { kind: item.kind, org: item.org, id: a.id, fingerprint: a.fingerprint, type: a.type, at: Date.now(),
    body: item.body, keys: item.keys, result };
}

async function submit(item, stats) {
  const started = Date.now();
  const { client, recorder } = clientFor(item.keys || rootKeys);
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await withDeadline(client[item.method](item.body));
      return { ack: await acknowledge(item, answer, recorder.lastBody), attempts: attempt + 1 };
    } catch (e) {
      const c = classify(e);
      if (item.kind === "velocitySign" && e?.code === 7) return { denied: true };
      stats.errors[c.label] = (stats.errors[c.label] || 0) + 1;
      // Requests cut off mid-flight, by kind (their answers may have been lost after the enclave ran them).
      if (c.label === "connection-ECONNRESET") stats.cutOff[item.kind] = (stats.cutOff[item.kind] || 0) + 1;
      if (!c.clear) violation(`${item.kind}: unclear error during the outage: ${c.label}: ${c.message.slice(0, 300)}`);
      if (!c.transient) {
        violation(`${item.kind}: refused (${c.message.slice(0, 300)})`);
        return {};
      }
      if (Date.now() - started > RETRY_DEADLINE_MS) {
        violation(`${item.kind}: still failing ${RETRY_DEADLINE_MS} ms after the first try (${c.message.slice(0, 200)})`);
        return {};
      }
      await sleep(Math.min(50 * 2 ** attempt, 400));
    }
  }
}

async function allActivities(orgId) {
  const out = [];
  let after;
  for (;;) {
    const { activities } = await root().getActivities({ organizationId: orgId,
      paginationOptions: { limit: "100", ...(after ? { after } : {}) } });
    out.push(...activities);
    if (activities.length < 100) return out;
    after = activities[activities.length - 1].id;
  }
}

function duplicates(values) {
  const seen = new Set();
  const dup = new Set();
  for (const v of values) (seen.has(v) ? dup : seen).add(v);
  return [...dup];
}

const sameSet = (what, expected, actual) => {
  const missing = [...expected].filter((x) => !actual.has(x));
  const extra = [...actual].filter((x) => !expected.has(x));
  if (missing.length) violation(`${what}: recorded by an activity but absent: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? " …" : ""}`);
  if (extra.length) violation(`${what}: present without an activity: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? " …" : ""}`);
};

/** Every stored effect against the stored activities of the main organization and the sub-organization. */
async function checkEffects(setup, lists) {
  const completed = (list, type) => list.filter((a) => a.type === type && a.status === "ACTIVITY_STATUS_COMPLETED");
  const main = lists.get(creds.organizationId);
  const sub = lists.get(setup.sub.orgId);

  // Policies: created minus deleted, exactly.
  const created = completed(main, "ACTIVITY_TYPE_CREATE_POLICY_V3").map((a) => a.result.createPolicyResult.policyId);
  const deleted = new Set(completed(main, "ACTIVITY_TYPE_DELETE_POLICY").map((a) => a.intent.deletePolicyIntent.policyId));
  const { policies } = await root().getPolicies({ organizationId: creds.organizationId });
  const dupPolicies = duplicates(policies.map((p) => p.policyId));
  if (dupPolicies.length) violation(`policies listed twice: ${dupPolicies.join(", ")}`);
  sameSet("policies", new Set(created.filter((id) => !deleted.has(id))), new Set(policies.map((p) => p.policyId)));

  // Users: the root user and every created one.
  const userIds = completed(main, "ACTIVITY_TYPE_CREATE_USERS_V4").flatMap((a) => a.result.createUsersResult.userIds);
  const { users } = await root().getUsers({ organizationId: creds.organizationId });
  const dupUsers = duplicates(users.map((u) => u.userId));
  if (dupUsers.length) violation(`users listed twice: ${dupUsers.join(", ")}`);
  sameSet("users", new Set([creds.userId, ...userIds]), new Set(users.map((u) => u.userId)));
  for (const u of users) {
    if (u.userId !== creds.userId && (!Array.isArray(u.apiKeys) || u.apiKeys.length !== 1)) {
      violation(`user ${u.userId} has ${u.apiKeys?.length} API keys, created with 1 (half applied?)`);
    }
  }

  // Wallets: every created wallet, with its account, and no other.
  let mainWallets;
  for (const [orgId, list, extra] of [
    [creds.organizationId, main, new Map(setup.initialWallets.map((w) => [w, undefined]))],
    [setup.sub.orgId, sub, new Map([[setup.sub.walletId, setup.sub.address]])],
  ]) {
    const expected = new Map(extra);
    for (const a of completed(list, "ACTIVITY_TYPE_CREATE_WALLET")) {
      expected.set(a.result.createWalletResult.walletId, a.result.createWalletResult.addresses[0]);
    }
    const { wallets } = await root().getWallets({ organizationId: orgId });
    const dup = duplicates(wallets.map((w) => w.walletId));
    if (dup.length) violation(`wallets listed twice: ${dup.join(", ")}`);
    sameSet(`wallets of ${orgId}`, new Set(expected.keys()), new Set(wallets.map((w) => w.walletId)));
    if (orgId === creds.organizationId) mainWallets = expected;
  }
  return mainWallets;
}

async function round() {
  const setup = JSON.parse(readFileSync(SETUP, "utf8"));
  const stats = { round: ROUND, acked: {}, errors: {}, cutOff: {}, denied: 0, attempts: 0, retried: 0 };
  const client = root();
  const org = creds.organizationId;

  // This round's velocity-limited wallet: a fresh signing resource, so a fresh counter.
  const velocityWallet = await client.createWallet(activityBody("ACTIVITY_TYPE_CREATE_WALLET", org, {
    walletName: uniqueName(`crash-velocity-${ROUND}`), accounts: [ETH_ACCOUNT] }));
  const velocityAddress = velocityWallet.activity.result.createWalletResult.addresses[0];
  const { policies } = await client.getPolicies({ organizationId: org });
  const oldPolicies = policies.filter((p) => p.policyId !== setup.velocityPolicyId).map((p) => p.policyId);
  const ctx = { setup, velocityAddress, oldPolicies };

  // Stream until the outage is over and every worker has succeeded since.
  const budget = { policy: PER_ROUND.policy, users: PER_ROUND.users, velocitySign: VELOCITY_ATTEMPTS };
  const acks = [];
  let velocityCompleted = 0;
  const pick = () => {
    const kinds = ["wallet", "rootSign", "rootSign", "subSign", "subSign"];
    if (budget.policy > 0) kinds.push("policy");
    if (budget.users > 0) kinds.push("users");
    if (oldPolicies.length > 0) kinds.push("deletePolicy");
    if (budget.velocitySign > 0) kinds.push("velocitySign", "velocitySign");
    const kind = kinds[Math.floor(Math.random() * kinds.length)];
    if (kind in budget) budget[kind]--;
    return kind;
  };
  writeFileSync(control("streaming"), String(Date.now()));
  const started = Date.now();
  const worker = async () => {
    let successAfterRestart = false;
    for (;;) {
      const restarted = markTime("restarted");
      if (restarted && successAfterRestart && Date.now() - restarted > AFTER_RESTART_MS) return;
      if (Date.now() - started > 120_000) {
        violation("the round did not finish within 120 s (was the process restarted?)");
        return;
      }
      const item = work(pick(), ctx);
      stats.attempts++;
      const { ack, denied, attempts } = await submit(item, stats);
      if (attempts > 1) stats.retried++;
      if (denied) stats.denied++;
      if (ack) {
        acks.push(ack);
        stats.acked[item.kind] = (stats.acked[item.kind] || 0) + 1;
        if (item.kind === "velocitySign") velocityCompleted++;
        if (markTime("restarted") && ack.at > markTime("restarted")) successAfterRestart = true;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  // Whatever velocity budget is left, spent now: the limit must hold at the end of every round.
  while (budget.velocitySign > 0) {
    budget.velocitySign--;
    const { ack, denied } = await submit(work("velocitySign", ctx), stats);
    if (ack) { acks.push(ack); velocityCompleted++; stats.acked.velocitySign = (stats.acked.velocitySign || 0) + 1; }
    if (denied) stats.denied++;
  }
  if (!markTime("killed")) violation("the script never killed anything (no `killed` mark)");

  // 1. Every acknowledged activity is stored, once, as acknowledged.
  for (const ack of acks) {
    const { activity } = await root().getActivity({ organizationId: ack.org, activityId: ack.id });
    if (activity.id !== ack.id || activity.fingerprint !== ack.fingerprint || activity.status !== "ACTIVITY_STATUS_COMPLETED"
      || activity.type !== ack.type) {
      violation(`${ack.kind} ${ack.id}: stored as ${JSON.stringify({ id: activity.id, status: activity.status, type: activity.type })}`);
    }
  }
  const lists = new Map();
  for (const orgId of [org, setup.sub.orgId]) {
    const list = await allActivities(orgId);
    lists.set(orgId, list);
    for (const [what, values] of [["fingerprint", list.map((a) => a.fingerprint)], ["id", list.map((a) => a.id)]]) {
      const dup = duplicates(values);
      if (dup.length) violation(`${orgId}: ${dup.length} activities share a ${what} (applied twice): ${dup.slice(0, 3).join(", ")}`);
    }
    const listed = new Set(list.map((a) => a.fingerprint));
    for (const ack of acks.filter((a) => a.org === orgId)) {
      if (!listed.has(ack.fingerprint)) violation(`${ack.kind} ${ack.id} is acknowledged but not listed`);
    }
  }

  // 2. Effects agree with records.
  const mainWallets = await checkEffects(setup, lists);
  for (const ack of acks.filter((a) => a.kind === "wallet")) {
    const { accounts } = await root().getWalletAccounts({ organizationId: org, walletId: ack.result.walletId });
    if (accounts.length !== 1 || accounts[0].address !== ack.result.addresses[0]) {
      violation(`wallet ${ack.result.walletId}: accounts ${JSON.stringify(accounts.map((x) => x.address))}, created with ${ack.result.addresses[0]}`);
    }
    if (!mainWallets.has(ack.result.walletId)) violation(`wallet ${ack.result.walletId} acknowledged but not listed`);
  }

  // 3. The velocity limit held: stored completed signatures per limited wallet (this round's and
  // every earlier one's), and, every attempt having had its final answer, exactly the limit.
  const bySigner = new Map();
  for (const a of lists.get(org)) {
    if (a.type !== "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2" || a.status !== "ACTIVITY_STATUS_COMPLETED") continue;
    const signWith = a.intent.signRawPayloadIntentV2.signWith;
    if (a.votes?.[0]?.userId === setup.bot.id) bySigner.set(signWith, (bySigner.get(signWith) || 0) + 1);
  }
  for (const [address, count] of bySigner) {
    if (count > VELOCITY_LIMIT) violation(`velocity limit broken: ${count} signatures with ${address} within the hour (limit ${VELOCITY_LIMIT})`);
  }
  const thisRound = bySigner.get(velocityAddress) || 0;
  if (thisRound !== VELOCITY_LIMIT) {
    violation(`velocity: ${thisRound} signatures stored with this round's wallet, expected exactly ${VELOCITY_LIMIT} of ${VELOCITY_ATTEMPTS} attempts`);
  }
  if (velocityCompleted > VELOCITY_LIMIT) violation(`velocity: ${velocityCompleted} signatures acknowledged (limit ${VELOCITY_LIMIT})`);

  // 4. Retrying an acknowledged request (the same body) returns the same activity.
  const killed = markTime("killed") || 0;
  const restarted = markTime("restarted") || 0;
  const near = acks.filter((a) => a.at >= killed - 1000 && a.at <= restarted + 2000);
  const others = acks.filter((a) => !near.includes(a)).sort(() => Math.random() - 0.5).slice(0, 20);
  for (const ack of [...near, ...others]) {
    const { client: c } = clientFor(ack.keys || rootKeys);
    const method = { policy: "createPolicy", deletePolicy: "deletePolicy", users: "createUsers", wallet: "createWallet" }[ack.kind] || "signRawPayload";
    try {
      const again = await c[method](ack.body);
      if (again.activity?.id !== ack.id) violation(`${ack.kind} ${ack.id}: resent, answered with activity ${again.activity?.id}`);
    } catch (e) {
      violation(`${ack.kind} ${ack.id}: resent, refused: ${e.message}`);
    }
  }
  stats.resent = near.length + others.length;

  // 5. The audit chains verify; receipts issued without a stored activity are allowed only for
  // activities that change no organization state (their answers are lost with the host).
  stats.recovered = 0;
  for (const orgId of [org, setup.sub.orgId]) {
    let out;
    try {
      ({ stdout: out } = await promisify(execFile)(process.env.KEYHOLD_BIN,
        ["audit", "verify", "--org", orgId, "--data-dir", process.env.KEYHOLD_DATA_DIR, "--url", baseUrl, "--json"]));
    } catch (e) {
      out = e.stdout;
      if (!out) { violation(`audit verify ${orgId} could not run: ${e.message}`); continue; }
    }
    const report = JSON.parse(out);
    if (!report.ok || report.problems.length) {
      violation(`audit verify ${orgId}: ${report.problems.map((p) => `[${p.kind}] ${p.message}`).join("; ")}`);
    }
    for (const r of report.recovered) {
      stats.recovered++;
      if (STATE_CHANGING.has(r.activityType) || (orgId === org && r.activityType === "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2")) {
        violation(`audit ${orgId}: receipt seq ${r.seq} (${r.activityType}) changed the organization's state but its activity was never stored`);
      }
    }
  }

  stats.violations = violations;
  writeFileSync(control("report.json"), JSON.stringify(stats, null, 2) + "\n");
  const acked = Object.entries(stats.acked).map(([k, v]) => `${k} ${v}`).join(", ");
  const errors = Object.entries(stats.errors).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const cutOff = Object.entries(stats.cutOff).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  console.log(`acknowledged ${acks.length} (${acked}); velocity ${thisRound}/${VELOCITY_LIMIT} signed, ${stats.denied} denied; ` +
    `errors during the outage: ${errors} (cut off mid-request: ${cutOff}); ${stats.retried} retried through it; ${stats.resent} resent; ` +
    `${stats.recovered} receipts without record; ${violations.length} violations`);
}

try {
  if (MODE === "setup") await setup();
  else if (MODE === "round") await round();
  else throw new Error("usage: driver.mjs setup|round");
} catch (e) {
  violation(`driver failed: ${e.stack || e}`);
}
process.exit(violations.length ? 1 : 0);

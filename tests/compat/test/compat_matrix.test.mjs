// Phase "main": the README's compatibility matrix is what scripts/compat-matrix makes of the
// running server's /openapi.json (the endpoint table), Turnkey's paths and package.json.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { TEST_TIMEOUT_MS, loadCredentials, onlyInPhase } from "../lib.mjs";
import { FACTS_PATH, REPO_ROOT } from "../shapes.mjs";
import { matrixSection, renderMatrix } from "../matrix.mjs";

test("README.md's compatibility matrix matches the server's endpoint table", { skip: onlyInPhase("main"), timeout: TEST_TIMEOUT_MS }, async () => {
  const res = await fetch(`${loadCredentials().baseUrl}/openapi.json`);
  assert.equal(res.status, 200);
  const ours = await res.json();
  const facts = JSON.parse(readFileSync(FACTS_PATH, "utf8"));
  const pkg = JSON.parse(readFileSync(resolve(REPO_ROOT, "tests/compat/package.json"), "utf8"));
  const section = matrixSection(readFileSync(resolve(REPO_ROOT, "README.md"), "utf8"));
  assert.ok(section, "README.md has no compat-matrix section");
  assert.equal(section, renderMatrix(facts, ours, pkg), "README.md's compatibility matrix is stale: run scripts/compat-matrix");
  for (const path of Object.keys(ours.paths).filter((p) => p.startsWith("/public/"))) {
    assert.ok(section.includes(`\`${path.replace("/public/v1/", "")}\` | implemented`), `${path} not listed as implemented`);
  }
});

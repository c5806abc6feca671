// Offline test (no server needed; runs in every phase).
//
// Pins our understanding of the X-Stamp wire format (keyhold spec notes
// "turnkey-api.md" §2.1) against the published @turnkey/api-key-stamper 0.6.17.
// The vector was produced with `runtimeOverride: "purejs"`, which signs with
// RFC 6979 deterministic nonces, so the header value is reproducible byte-for-byte.
// If a future stamper version changes the header (key order, encoding, scheme
// string), this test tells us before the server does.

import test from "node:test";
import assert from "node:assert/strict";
import { createHash, createPublicKey, verify as nodeVerify, ECDH } from "node:crypto";

import { ApiKeyStamper } from "@turnkey/api-key-stamper";
import { computeActivityFingerprint, verifyStampSignature } from "@turnkey/crypto";

import { decodeStamp } from "../lib.mjs";

const PRIVATE_KEY = "0c1f8c5e7a0b3d2e4f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e";
const PUBLIC_KEY = "03b4cc5e9409b34329ccbf636813be1d8fdbea9f2406e960490f6b848a0de3d38f";
const BODY =
  '{"type":"ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2","timestampMs":"1700000000000",' +
  '"organizationId":"00000000-0000-0000-0000-000000000000","parameters":{' +
  '"signWith":"0x0000000000000000000000000000000000000000","payload":"0xdeadbeef",' +
  '"encoding":"PAYLOAD_ENCODING_HEXADECIMAL","hashFunction":"HASH_FUNCTION_NO_OP"}}';
const X_STAMP =
  "eyJwdWJsaWNLZXkiOiIwM2I0Y2M1ZTk0MDliMzQzMjljY2JmNjM2ODEzYmUxZDhmZGJlYTlmMjQwNmU5NjA0OTBmNmI4NDhhMGRlM2QzOGYi" +
  "LCJzY2hlbWUiOiJTSUdOQVRVUkVfU0NIRU1FX1RLX0FQSV9QMjU2Iiwic2lnbmF0dXJlIjoiMzA0NTAyMjEwMGNiNTJiZGVlNDYwOTY2OGUx" +
  "NGUzYmNmNTAyYWI4YjkxZGViZjY0ODlhNGQ0ZTVlZjE0YmMyZmM4NTAxMmE0NDgwMjIwMTkwODM0NzVkZDI2NTk3OWUwOTQzNzM0MzBhMTBj" +
  "OWY3OTJjZDFiZTNkNzJhYWZiNjZmZTQxYTI4YTczODFmNyJ9";
const FINGERPRINT = "sha256:d9c7fc5133e64452d502c0f91e3756adab3e83f3d76f3c1412fa962ade63b2e5";

/** Independent check with Node's OpenSSL: DER ECDSA P-256 over SHA-256(body). */
function nodeVerifyP256(compressedPubHex, derSigHex, body) {
  const uncompressed = ECDH.convertKey(compressedPubHex, "prime256v1", "hex", "buffer", "uncompressed");
  const key = createPublicKey({
    key: {
      kty: "EC",
      crv: "P-256",
      x: uncompressed.subarray(1, 33).toString("base64url"),
      y: uncompressed.subarray(33, 65).toString("base64url"),
    },
    format: "jwk",
  });
  return nodeVerify("sha256", Buffer.from(body, "utf8"), { key, dsaEncoding: "der" }, Buffer.from(derSigHex, "hex"));
}

test("api-key-stamper purejs reproduces the X-Stamp vector byte-for-byte", async () => {
  const stamper = new ApiKeyStamper({ apiPublicKey: PUBLIC_KEY, apiPrivateKey: PRIVATE_KEY, runtimeOverride: "purejs" });
  const stamp = await stamper.stamp(BODY);
  assert.equal(stamp.stampHeaderName, "X-Stamp");
  assert.equal(stamp.stampHeaderValue, X_STAMP);
});

test("the vector decodes to {publicKey, scheme, signature} and verifies", async () => {
  // base64url without padding, JSON with this key order
  assert.doesNotMatch(X_STAMP, /[+/=]/);
  const json = Buffer.from(X_STAMP, "base64url").toString("utf8");
  assert.match(json, /^\{"publicKey":"[0-9a-f]{66}","scheme":"SIGNATURE_SCHEME_TK_API_P256","signature":"30[0-9a-f]+"\}$/);
  const stamp = decodeStamp(X_STAMP);
  assert.equal(stamp.publicKey, PUBLIC_KEY);
  assert.equal(stamp.scheme, "SIGNATURE_SCHEME_TK_API_P256");
  assert.equal(await verifyStampSignature(stamp.publicKey, stamp.signature, BODY), true);
  assert.equal(nodeVerifyP256(stamp.publicKey, stamp.signature, BODY), true, "OpenSSL verify");
  assert.equal(nodeVerifyP256(stamp.publicKey, stamp.signature, BODY + " "), false, "must not verify other bytes");
});

test("the node runtime (what the suite uses) produces verifiable stamps for the same key", async () => {
  const stamper = new ApiKeyStamper({ apiPublicKey: PUBLIC_KEY, apiPrivateKey: PRIVATE_KEY, runtimeOverride: "node" });
  const { stampHeaderValue } = await stamper.stamp(BODY);
  const stamp = decodeStamp(stampHeaderValue);
  assert.equal(stamp.publicKey, PUBLIC_KEY);
  assert.equal(stamp.scheme, "SIGNATURE_SCHEME_TK_API_P256");
  assert.equal(nodeVerifyP256(stamp.publicKey, stamp.signature, BODY), true);
});

test("activity fingerprint of the vector body is sha256:hex(sha256(body))", () => {
  assert.equal(computeActivityFingerprint(BODY), FINGERPRINT);
  assert.equal("sha256:" + createHash("sha256").update(BODY, "utf8").digest("hex"), FINGERPRINT);
});

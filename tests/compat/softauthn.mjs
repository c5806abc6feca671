// A software WebAuthn authenticator (ES256 on node:crypto P-256) installed as
// `navigator.credentials`, so that Turnkey's own browser code — `getWebAuthnAttestation` from
// @turnkey/http and `WebauthnStamper` from @turnkey/webauthn-stamper — runs unchanged in Node.
// It answers `create` with a `none` attestation and `get` with an assertion, as a platform
// authenticator does, building authenticatorData and clientDataJSON by the WebAuthn spec.

import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";

const sha256 = (data) => createHash("sha256").update(data).digest();
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
/** An ArrayBuffer holding exactly `buf` (what browsers hand out). */
const arrayBuffer = (buf) => buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);

// ---- minimal CBOR encoder (RFC 8949): unsigned/negative ints, byte and text strings, arrays,
// and maps given as [key, value] pairs (COSE keys are integers).
function head(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}
export function cbor(value) {
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === "string") {
    const t = Buffer.from(value, "utf8");
    return Buffer.concat([head(3, t.length), t]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (value instanceof Map) {
    const parts = [head(5, value.size)];
    for (const [k, v] of value) parts.push(cbor(k), cbor(v));
    return Buffer.concat(parts);
  }
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  throw new Error(`cannot CBOR-encode ${typeof value}`);
}

export class SoftAuthenticator {
  constructor() {
    /** credential id (base64url) → {privateKey, rpId, counter, credentialId} */
    this.credentials = new Map();
    this.origin = "https://wallet.example";
  }

  /** Makes this authenticator the one Turnkey's browser code finds. */
  install() {
    globalThis.window = globalThis.window || {};
    globalThis.window.PublicKeyCredential = globalThis.window.PublicKeyCredential || function PublicKeyCredential() {};
    Object.defineProperty(globalThis, "navigator", {
      value: { credentials: { create: (o) => this.create(o), get: (o) => this.get(o) } },
      configurable: true,
      writable: true,
    });
    return this;
  }

  async create(options) {
    const o = options.publicKey;
    const rpId = o.rp.id;
    if (!o.pubKeyCredParams.some((p) => p.alg === -7)) throw new Error("only ES256 here");
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const jwk = publicKey.export({ format: "jwk" });
    const credentialId = randomBytes(16);
    const coseKey = new Map([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x, "base64url")],
      [-3, Buffer.from(jwk.y, "base64url")],
    ]);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(credentialId.length);
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([0x45]), // UP | UV | AT
      Buffer.alloc(4), // signCount 0
      Buffer.alloc(16), // aaguid (none attestation: zeros)
      length,
      credentialId,
      cbor(coseKey),
    ]);
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: "webauthn.create", challenge: b64url(o.challenge), origin: this.origin, crossOrigin: false }),
    );
    const attestationObject = cbor(new Map([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
    this.credentials.set(b64url(credentialId), { privateKey, rpId, counter: 0, credentialId });
    return {
      type: "public-key",
      id: b64url(credentialId),
      rawId: arrayBuffer(credentialId),
      response: {
        clientDataJSON: arrayBuffer(clientDataJSON),
        attestationObject: arrayBuffer(attestationObject),
        getTransports: () => ["internal", "hybrid"],
      },
      getClientExtensionResults: () => ({}),
    };
  }

  async get(options) {
    const o = options.publicKey;
    const allowed = (o.allowCredentials || []).map((c) => b64url(c.id));
    const candidates = [...this.credentials.entries()].filter(
      ([id, c]) => c.rpId === o.rpId && (allowed.length === 0 || allowed.includes(id)),
    );
    if (candidates.length === 0) throw new Error(`no credential for ${o.rpId}`);
    const [, cred] = candidates[candidates.length - 1];
    cred.counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(cred.counter);
    const authenticatorData = Buffer.concat([sha256(cred.rpId), Buffer.from([this.flags ?? 0x05]), counter]);
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: "webauthn.get", challenge: b64url(o.challenge), origin: this.origin, crossOrigin: false }),
    );
    const signature = sign("sha256", Buffer.concat([authenticatorData, sha256(clientDataJSON)]), cred.privateKey);
    return {
      type: "public-key",
      id: b64url(cred.credentialId),
      rawId: arrayBuffer(cred.credentialId),
      response: {
        clientDataJSON: arrayBuffer(clientDataJSON),
        authenticatorData: arrayBuffer(authenticatorData),
        signature: arrayBuffer(signature),
        userHandle: null,
      },
      getClientExtensionResults: () => ({}),
    };
  }
}

import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readTlsPair } from "../../../src/config/file.js";
import { configErrorOf } from "../../helpers/config.js";

describe("the TLS certificate and key", () => {
  const dir = mkdtempSync(join(tmpdir(), "tls-pair-"));
  const file = (name: string) => join(dir, name);
  beforeAll(() => {
    for (const name of ["a", "b"]) {
      execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file(`${name}.key`), "-out", file(`${name}.crt`), "-subj", `/CN=${name}`, "-days", "1"], { stdio: "ignore" });
    }
    writeFileSync(file("garbage.crt"), "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
    writeFileSync(file("garbage.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  });

  it("reads a certificate and its own key", () => {
    const pair = readTlsPair(file("a.crt"), file("a.key"));
    expect(pair.cert).toContain("BEGIN CERTIFICATE");
    expect(pair.key).toContain("PRIVATE KEY");
  });

  it("names TLS_KEY_FILE for the key of another certificate", () => {
    const error = configErrorOf(() => readTlsPair(file("a.crt"), file("b.key")));
    expect(error.setting).toBe("TLS_KEY_FILE");
    expect(error.message).toBe(`invalid configuration: TLS_KEY_FILE=${JSON.stringify(file("b.key"))}: expected the private key of TLS_CERT_FILE's certificate (this key belongs to another)`);
  });

  it.each([
    ["garbage.crt", "a.key", "TLS_CERT_FILE", /expected a PEM certificate \(PEM routines: /],
    ["a.key", "a.key", "TLS_CERT_FILE", /expected a PEM certificate \(PEM routines: no start line\)/],
    ["a.crt", "garbage.key", "TLS_KEY_FILE", /expected an unencrypted PEM private key \(/],
    ["a.crt", "missing.key", "TLS_KEY_FILE", /expected a readable PEM file \(ENOENT\)/],
    ["missing.crt", "a.key", "TLS_CERT_FILE", /expected a readable PEM file \(ENOENT\)/],
  ])("names the setting for %s with %s, in one line", (cert, key, setting, expected) => {
    const error = configErrorOf(() => readTlsPair(file(cert), file(key)));
    expect(error.setting).toBe(setting);
    expect(error.message).toMatch(expected);
    expect(error.message.split("\n")).toHaveLength(1);
  });
});

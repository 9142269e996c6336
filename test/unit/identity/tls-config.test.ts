import { describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildConfig, ConfigError } from "../../../src/config/config.js";
import { NodeTls, TlsConfigError } from "../../../src/identity/node-tls.js";
import { createPki } from "../../helpers/pki.js";

const gen = () => "generated-secret-value-0123456789";

describe("TLS options", () => {
  it("go together, take several CA files, and name the node after its certificate unless --node-id is given", async () => {
    const pki = await createPki();
    const { certFile, keyFile } = await pki.issue("from-cert");
    expect(buildConfig("worker", {}, {}, gen).tls).toBeUndefined();
    const c = buildConfig("worker", { tlsCert: certFile, tlsKey: keyFile, tlsCa: [pki.caFile, "/etc/old-ca.crt"] }, {}, gen);
    expect(c.tls).toEqual({ certFile, keyFile, caFiles: [pki.caFile, "/etc/old-ca.crt"] });
    expect(c.nodeId).toBe("from-cert");
    const env = { P2P_TLS_CERT: certFile, P2P_TLS_KEY: keyFile, P2P_TLS_CA: `${pki.caFile},/b.crt`, P2P_API_TLS_CERT: "/api.crt", P2P_API_TLS_KEY: "/api.key" };
    expect(buildConfig("worker", { nodeId: "explicit" }, env, gen)).toMatchObject({ nodeId: "explicit", tls: { caFiles: [pki.caFile, "/b.crt"], apiCertFile: "/api.crt", apiKeyFile: "/api.key" } });
    expect(() => buildConfig("worker", { tlsCert: certFile }, {}, gen)).toThrow(ConfigError);
    expect(() => buildConfig("worker", { apiTlsCert: "/a", apiTlsKey: "/b" }, {}, gen)).toThrow(/need the node's own --tls-cert/);
    expect(() => buildConfig("worker", { tlsCert: "/nope.crt", tlsKey: keyFile, tlsCa: pki.caFile }, {}, gen)).toThrow(/--tls-cert: cannot read/);
  });

  it("refuse at start a certificate for another node, a key that is not its own, and a certificate of another CA", async () => {
    const pki = await createPki();
    const a = await pki.issue("a", { outDir: join(pki.dir, "a") });
    const b = await pki.issue("b", { outDir: join(pki.dir, "b") });
    expect(NodeTls.load({ certFile: a.certFile, keyFile: a.keyFile, caFiles: [pki.caFile] }, "a").nodeId).toBe("a");
    expect(() => NodeTls.load({ certFile: a.certFile, keyFile: a.keyFile, caFiles: [pki.caFile] }, "b")).toThrow(/for node "a", this node is "b"/);
    expect(() => NodeTls.load({ certFile: a.certFile, keyFile: b.keyFile, caFiles: [pki.caFile] }, "a")).toThrow(/does not belong to the certificate/);
    const other = await createPki("other");
    expect(() => NodeTls.load({ certFile: a.certFile, keyFile: a.keyFile, caFiles: [other.caFile] }, "a")).toThrow(TlsConfigError);
    expect(NodeTls.load({ certFile: a.certFile, keyFile: a.keyFile, caFiles: [other.caFile, pki.caFile] }, "a").cas).toHaveLength(2);
  });

  it("a failed reload keeps the certificate in use", async () => {
    const pki = await createPki();
    const a = await pki.issue("a");
    const tls = NodeTls.load({ certFile: a.certFile, keyFile: a.keyFile, caFiles: [pki.caFile] }, "a");
    const before = tls.notAfter;
    writeFileSync(a.certFile, "garbage");
    expect(() => tls.reload()).toThrow(TlsConfigError);
    expect(tls.notAfter).toBe(before);
    await pki.issue("a", { days: 10 });
    tls.reload();
    expect(tls.notAfter).toBeLessThan(before);
  });
});

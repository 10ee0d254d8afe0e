// The Tauri adapter: each call reaches the command the shell registers, with its arguments.
import { afterEach, expect, test } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { tauriBackend } from "./lib/tauri";

afterEach(() => clearMocks());

test("commands and arguments match the shell's", async () => {
  const seen: [string, unknown][] = [];
  mockIPC((cmd, args) => {
    seen.push([cmd, args]);
    if (cmd === "contact_detail") throw { kind: "not_found", message: "No contact with the number +1" };
    return cmd === "broadcast_create" ? 7 : null;
  });
  await tauriBackend.consentSet({ phone: "+1", topic: "marketing", state: "opted_out", sourceKind: "phone_call", sourceDetail: null, proof: null });
  expect(await tauriBackend.broadcastCreate({ name: null, template: "t", language: "en", values: [["1", "@name|there"]], header: null, tags: [], overrideReason: null })).toBe(7);
  await tauriBackend.receiverStart(8787);
  await tauriBackend.secretSet("access_token", "EAAG");
  await expect(tauriBackend.contactDetail("+1")).rejects.toEqual({ kind: "not_found", message: "No contact with the number +1" });
  expect(seen.map(([c]) => c)).toEqual(["consent_set", "broadcast_create", "receiver_start", "secret_set", "contact_detail"]);
  expect(seen[0][1]).toEqual({ input: { phone: "+1", topic: "marketing", state: "opted_out", sourceKind: "phone_call", sourceDetail: null, proof: null } });
  expect(seen[2][1]).toEqual({ port: 8787 });
  expect(seen[3][1]).toEqual({ secret: "access_token", value: "EAAG" });
});

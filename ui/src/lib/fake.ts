// A fake Backend for component tests: contacts in memory, every call recorded.
import type { Backend } from "./backend";
import type { Row } from "../bindings/Row";

export function fakeBackend(rows: Row[]): Backend & { calls: [string, unknown][] } {
  const calls: [string, unknown][] = [];
  const data = rows.slice();
  const unused = () => Promise.reject({ kind: "invalid", message: "not in the fake" });
  return {
    calls,
    appStatus: async () => ({
      businessName: "Bakery Sol", connected: false,
      receiver: { running: false, port: null, url: null, public_url: null, error: null },
      lastEventAt: null, reviewOpen: 0, contacts: data.length, database: "/tmp/fake",
      webhookConfirmed: false, webhookDrift: null, health: null,
    }),
    contactsList: async () => data.slice(),
    contactDetail: unused,
    contactAdd: unused,
    contactProofSave: unused,
    consentSet: async (input) => {
      calls.push(["consentSet", input]);
      const i = data.findIndex((r) => r.phone === input.phone);
      if (i < 0) throw { kind: "not_found", message: `No contact with the number ${input.phone}` };
      data[i] = { ...data[i], [input.topic]: input.state };
      return data[i];
    },
    importPeek: unused, importRun: unused, templatesList: async () => [], templatesSync: unused,
    templateCheck: unused, broadcastsList: async () => [], broadcastCreate: unused, broadcastPreview: unused,
    broadcastSend: unused, broadcastSchedule: unused, broadcastResults: unused, pricingCard: async () => null, pricingImport: unused, broadcastStop: unused, broadcastResolve: unused, optoutsList: async () => [],
    reviewList: async () => [], reviewDecide: unused, consentTrends: async () => [],
    settingsGet: async () => [{ name: "consent_wording", help: "", value: "Yes to offers from Bakery Sol" }],
    settingsSet: unused, secretsStatus: async () => [], secretSet: unused, connectionTest: unused,
    receiverStart: unused, receiverStop: unused, auditRun: async () => [], backupNow: unused,
    signupCreate: unused, signupsList: async () => [],
    webhookStatus: unused, webhookConnect: unused, webhookDisconnect: unused,
    onBroadcastProgress: async () => () => {},
    onImportProgress: async () => () => {},
    onOptoutsChanged: async () => () => {},
  };
}

export function row(phone: string, name: string, marketing: Row["marketing"] = null): Row {
  return { phone, name, tags: [], marketing, utility: "opted_in", meta_blocked: false, updated_at: "2026-11-25T10:00:00Z" };
}

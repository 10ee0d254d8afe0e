// The Backend over Tauri's IPC: command names and argument names match src-tauri/src/commands.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { Backend } from "./backend";
import type { Columns } from "../bindings/Columns";
import type { Row } from "../bindings/Row";

const STATES = [null, "opted_in", "opted_out"] as const;

/** The contact list arrives column by column (less to send and parse); the UI wants rows. */
export function rowsFrom(c: Columns): Row[] {
  const rows: Row[] = new Array(c.phone.length);
  for (let i = 0; i < rows.length; i++) {
    rows[i] = { phone: c.phone[i], name: c.name[i], tags: c.tags[i], marketing: STATES[c.marketing[i]], utility: STATES[c.utility[i]], meta_blocked: c.meta_blocked[i] === 1, updated_at: c.updated_at[i] };
  }
  return rows;
}

export const tauriBackend: Backend = {
  appStatus: () => invoke("app_status"),
  contactsList: async () => rowsFrom(await invoke<Columns>("contacts_list")),
  contactDetail: (phone) => invoke("contact_detail", { phone }),
  contactAdd: (phone, name, tags) => invoke("contact_add", { phone, name, tags }),
  consentSet: (input) => invoke("consent_set", { input }),
  contactProofSave: (phone) => invoke("contact_proof_save", { phone }),
  importPeek: (fileBase64) => invoke("import_peek", { fileBase64 }),
  importRun: (input) => invoke("import_run", { input }),
  templatesList: () => invoke("templates_list"),
  templatesSync: () => invoke("templates_sync"),
  templateCheck: (draft) => invoke("template_check", { draft }),
  broadcastsList: () => invoke("broadcasts_list"),
  broadcastCreate: (input) => invoke("broadcast_create", { input }),
  broadcastPreview: (id) => invoke("broadcast_preview", { id }),
  broadcastSend: (id, withoutRelay, duringQuietHours) =>
    invoke("broadcast_send", { id, withoutRelay: withoutRelay ?? false, duringQuietHours: duringQuietHours ?? false }),
  broadcastSchedule: (id, at, lateOk) => invoke("broadcast_schedule", { id, at, lateOk: lateOk ?? null }),
  broadcastResults: (id) => invoke("broadcast_results", { id }),
  pricingCard: () => invoke("pricing_card"),
  pricingImport: (fileBase64, source, effective) => invoke("pricing_import", { fileBase64, source, effective }),
  broadcastStop: (id, cancel) => invoke("broadcast_stop", { id, cancel }),
  broadcastResolve: (id, resend) => invoke("broadcast_resolve", { id, resend }),
  optoutsList: () => invoke("optouts_list"),
  reviewList: () => invoke("review_list"),
  reviewDecide: (id, accept) => invoke("review_decide", { id, accept }),
  consentTrends: (weeks) => invoke("consent_trends", { weeks }),
  settingsGet: () => invoke("settings_get"),
  settingsSet: (name, value) => invoke("settings_set", { name, value }),
  secretsStatus: () => invoke("secrets_status"),
  secretSet: (secret, value) => invoke("secret_set", { secret, value }),
  connectionTest: () => invoke("connection_test"),
  receiverStart: (port) => invoke("receiver_start", { port }),
  receiverStop: () => invoke("receiver_stop"),
  auditRun: () => invoke("audit_run"),
  backupNow: () => invoke("backup_now"),
  signupCreate: (label, topic) => invoke("signup_create", { label, topic }),
  signupsList: () => invoke("signups_list"),
  webhookStatus: (live) => invoke("webhook_status", { live }),
  webhookConnect: (choice) => invoke("webhook_connect", { choice }),
  webhookDisconnect: () => invoke("webhook_disconnect"),
  onBroadcastProgress: (cb) => listen("broadcast-progress", (e) => cb(e.payload as never)),
  onImportProgress: (cb) => listen("import-progress", (e) => cb(e.payload as never)),
  onOptoutsChanged: (cb) => listen("optouts-changed", () => cb()),
};

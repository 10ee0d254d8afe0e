// Every word the window shows, in one place, so the interface can be translated later.
import type { BlockReason } from "../bindings/BlockReason";
import type { SourceKind } from "../bindings/SourceKind";
import { parsePhoneNumberFromString } from "libphonenumber-js";

export const places = ["Contacts", "Import", "Templates", "Broadcasts", "Opt-outs", "Settings"] as const;
export type Place = (typeof places)[number];

export const t = {
  notConnected: "Not connected",
  listening: "Listening",
  receiverOff: "Receiver off",
  offlineSince: (when: string) => `Offline since ${when} — opt-outs may be waiting`,
  receivingOptouts: "Receiving opt-outs",
  notReceivingOptouts: "Not receiving opt-outs",
  connectTitle: "Connect webhooks",
  howMetaReaches: "How WhatsApp reaches this PC",
  modeName: { ngrok: "ngrok tunnel", manual: "My own HTTPS address", relay: "Always-on mailbox" } as Record<"ngrok" | "manual" | "relay", string>,
  modeNgrok: "Quickest start: OptDesk runs a tunnel while it is open. Needs a free ngrok account. ngrok can see the messages it carries; the free plan's 20,000 requests a month cover about 5,000 messages, and when they run out nothing arrives until the month resets. While this PC is off nothing arrives.",
  modeManual: "A tunnel you run yourself, a reverse proxy on a server, or Tailscale Funnel. It must lead to this PC's receiver port.",
  modeRelay: "A small always-on server (`optdesk relay`) keeps every message while this PC is off, sealed so the server cannot read it; OptDesk collects them when it starts, before any broadcast. Someone must run that server.",
  sendWithoutRelay: "Send anyway, without the opt-outs the mailbox may hold (this time only; recorded)",
  relayUrl: "Mailbox hook URL (as `optdesk relay mailbox add` printed it)",
  relayPullSecret: "Mailbox pull secret",
  relayCollected: (when: string, waiting: number) => `Mailbox last collected ${when}; ${waiting.toLocaleString()} waiting there.`,
  relayFailing: (since: string, why: string) => `The mailbox has not been reached since ${since}: ${why}`,
  relayRefused: (n: number) => `${n.toLocaleString()} messages from the mailbox were refused: WhatsApp's signature did not match (forged or altered).`,
  publicUrl: "Public HTTPS address",
  ngrokToken: "ngrok authtoken (dashboard.ngrok.com → Your Authtoken)",
  ngrokDomain: "ngrok domain, optional (so the address never changes)",
  tunnelCount: (n: number, of: number) => `The tunnel carried ${n.toLocaleString()} of ${of.toLocaleString()} requests this month.`,
  connect: "Connect webhooks",
  connecting: "Connecting…",
  disconnect: "Disconnect",
  replaceCallback: "Replace it with OptDesk",
  numberOnly: "Only this number's messages",
  connectedIn: (ms: number) => `Routing confirmed with WhatsApp in ${(ms / 1000).toFixed(1)} s.`,
  sendTest: "Last step: send \"test\" from your own phone to the business number. This shows when it arrives.",
  testArrived: "Your test message arrived: the whole path works.",
  lastWebhook: (when: string) => `Last webhook received: ${when}`,
  consentIn: "In",
  consentOut: "Out",
  consentUnknown: "No consent yet",
  metaBlocked: "Customer stopped marketing in WhatsApp — only they can undo this",
  switchLabel: (who: string, topic: string) => `${topic} consent for ${who}`,
  search: "Search name or number",
  noContacts: "No contacts yet. Import a CSV file or add someone to start.",
  noMatches: "No contact matches this search.",
  addContact: "Add contact",
  signupQr: "Sign-up QR",
  howDoYouKnow: "How do you know?",
  whatTheyAgreedTo: "What the customer agreed to",
  record: "Record",
  cancel: "Cancel",
  close: "Close",
  timeline: "Consent history",
  messages: "Messages sent",
  noMessages: "No messages sent yet.",
  chooseCsv: "Choose a file (CSV, Excel, LibreOffice or vCard)",
  dryRun: "Check the file",
  importNow: "Import",
  importDone: (n: number) => `Imported: ${n} rows. The contacts are on the Contacts screen.`,
  templatesEmpty: "No templates yet. Connect WhatsApp in Settings, then sync.",
  sync: "Sync with WhatsApp",
  noWayOut: "No way out: customers cannot opt out from this marketing template",
  footerAdded: "added by OptDesk",
  willReceive: (n: number) => `${n.toLocaleString()} will receive it`,
  wontReceive: (n: number) => `${n.toLocaleString()} won't`,
  send: "Send",
  pause: "Pause",
  resume: "Resume",
  cancelBroadcast: "Cancel broadcast",
  optoutsEmpty: "No opt-outs recorded yet.",
  reviewEmpty: "Nothing waits for review.",
  accept: "Accept as opt-out",
  dismiss: "Not an opt-out",
  saved: "Saved in the system keyring",
  notSaved: "Not saved",
  testConnection: "Test connection",
};

export const consentSources: { kind: SourceKind; label: string }[] = [
  { kind: "in_store", label: "In store" },
  { kind: "phone_call", label: "Phone call" },
  { kind: "paper_form", label: "Paper form" },
  { kind: "web_form", label: "Web form" },
  { kind: "owner_toggle", label: "Other…" },
];

export const sourceLabel: Record<string, string> = {
  owner_toggle: "Owner",
  import: "Import",
  web_form: "Web form",
  in_store: "In store",
  paper_form: "Paper form",
  phone_call: "Phone call",
  keyword: "Keyword reply",
  button: "Button",
  meta_signal: "Meta",
  signup: "Sign-up code",
  api: "API",
};

export const sourceIcon: Record<string, string> = {
  owner_toggle: "✎",
  import: "⇪",
  web_form: "⌨",
  in_store: "🏪",
  paper_form: "📝",
  phone_call: "☎",
  keyword: "💬",
  button: "🔘",
  meta_signal: "🛡",
  signup: "▦",
  api: "⚙",
};

export const reasonLabel: Record<BlockReason | string, string> = {
  suppressed: "On the suppression list",
  opted_out: "Opted out",
  no_opt_in: "No consent",
  meta_blocked: "Blocked by Meta",
  unreachable: "Not on WhatsApp",
  review_pending: "Waiting for review",
  frequency_cap: "Messaged recently",
  held_back: "Held back by WhatsApp (not opted out)",
};

export function describeEvent(subject: string, state: string, kind: string, at: string): string {
  const how = (sourceLabel[kind] ?? kind).toLowerCase();
  const when = formatTime(at);
  if (subject === "meta_blocked") {
    return state === "set" ? `Stopped marketing in WhatsApp on ${when}` : `Resumed marketing in WhatsApp on ${when}`;
  }
  // The topic by its one name, as the CLI and every other screen say it.
  if (state === "opted_in") return `Opted in to ${subject} (${how}) on ${when}`;
  if (state === "opted_out") return `Opted out of ${subject} (${how}) on ${when}`;
  return `${subject} ${state} (${how}) on ${when}`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** A number in E.164, in libphonenumber's international format, the way its own country groups
 * it: +44 7911 123456 (a mobile), +44 20 7946 0018 (a London line), +34 612 34 56 78. */
export function formatPhone(e164: string): string {
  const n = parsePhoneNumberFromString(e164);
  return n ? n.formatInternational() : e164;
}

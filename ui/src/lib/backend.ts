// The one module the UI talks to the app through. Components call `backend()`; the Tauri
// adapter (tauri.ts) is installed at start-up and a fake (fake.ts) in component tests.
import type { AppStatus } from "../bindings/AppStatus";
import type { Backups } from "../bindings/Backups";
import type { BroadcastProgress } from "../bindings/BroadcastProgress";
import type { Card } from "../bindings/Card";
import type { Check } from "../bindings/Check";
import type { Checked } from "../bindings/Checked";
import type { ConsentInput } from "../bindings/ConsentInput";
import type { CreateInput } from "../bindings/CreateInput";
import type { ImportInput } from "../bindings/ImportInput";
import type { ImportProgress } from "../bindings/ImportProgress";
import type { OptOut } from "../bindings/OptOut";
import type { Peek } from "../bindings/Peek";
import type { PhoneNumberInfo } from "../bindings/PhoneNumberInfo";
import type { Preview } from "../bindings/Preview";
import type { Proof } from "../bindings/Proof";
import type { ReceiverStatus } from "../bindings/ReceiverStatus";
import type { Report } from "../bindings/Report";
import type { ReviewItem } from "../bindings/ReviewItem";
import type { ResultsView } from "../bindings/ResultsView";
import type { Row } from "../bindings/Row";
import type { Schedule } from "../bindings/Schedule";
import type { SecretKind } from "../bindings/SecretKind";
import type { SecretState } from "../bindings/SecretState";
import type { Setting } from "../bindings/Setting";
import type { SignUp } from "../bindings/SignUp";
import type { Source } from "../bindings/Source";
import type { StoredTemplate } from "../bindings/StoredTemplate";
import type { Summary } from "../bindings/Summary";
import type { SyncReport } from "../bindings/SyncReport";
import type { Topic } from "../bindings/Topic";
import type { Week } from "../bindings/Week";
import type { AppError } from "../bindings/AppError";
import type { Outcome } from "../bindings/Outcome";
import type { Status } from "../bindings/Status";

export type { AppError };

export interface Backend {
  appStatus(): Promise<AppStatus>;
  contactsList(): Promise<Row[]>;
  contactDetail(phone: string): Promise<Proof>;
  contactAdd(phone: string, name: string, tags: string[]): Promise<Row>;
  consentSet(input: ConsentInput): Promise<Row>;
  /** Saves the proof of consent as a printable page; returns its path. */
  contactProofSave(phone: string): Promise<string>;
  importPeek(fileBase64: string): Promise<Peek>;
  importRun(input: ImportInput): Promise<Report>;
  templatesList(): Promise<StoredTemplate[]>;
  templatesSync(): Promise<SyncReport>;
  templateCheck(draft: unknown): Promise<Checked>;
  broadcastsList(): Promise<Summary[]>;
  broadcastCreate(input: CreateInput): Promise<number>;
  broadcastPreview(id: number): Promise<Preview>;
  broadcastSend(id: number, withoutRelay?: boolean, duringQuietHours?: boolean): Promise<void>;
  /** `at` is the shop's local time, as a datetime-local field gives it. */
  broadcastSchedule(id: number, at: string, lateOk?: string): Promise<Schedule>;
  broadcastResults(id: number): Promise<ResultsView>;
  pricingCard(): Promise<Card | null>;
  pricingImport(fileBase64: string, source: string, effective: string): Promise<Card>;
  broadcastStop(id: number, cancel: boolean): Promise<void>;
  broadcastResolve(id: number, resend: boolean): Promise<number>;
  optoutsList(): Promise<OptOut[]>;
  reviewList(): Promise<ReviewItem[]>;
  reviewDecide(id: number, accept: boolean): Promise<void>;
  consentTrends(weeks: number): Promise<Week[]>;
  settingsGet(): Promise<Setting[]>;
  settingsSet(name: string, value: string): Promise<string | null>;
  secretsStatus(): Promise<SecretState[]>;
  secretSet(secret: SecretKind, value: string): Promise<void>;
  connectionTest(): Promise<PhoneNumberInfo>;
  receiverStart(port: number): Promise<ReceiverStatus>;
  receiverStop(): Promise<ReceiverStatus>;
  auditRun(): Promise<Check[]>;
  backupNow(): Promise<Backups>;
  signupCreate(label: string, topic: Topic): Promise<SignUp>;
  signupsList(): Promise<Source[]>;
  /** Where each kind of event goes; `live` asks Meta, else what OptDesk last saw. */
  webhookStatus(live: boolean): Promise<Status>;
  /** The Connect button; "ask" stops when another system holds the callback. */
  webhookConnect(choice: "ask" | "replace" | "number_only"): Promise<Outcome>;
  webhookDisconnect(): Promise<string[]>;
  onBroadcastProgress(cb: (p: BroadcastProgress) => void): Promise<() => void>;
  onImportProgress(cb: (p: ImportProgress) => void): Promise<() => void>;
  /** The receiver applied webhooks or a confirmation changed: what the Opt-outs screen shows may have changed. */
  onOptoutsChanged(cb: () => void): Promise<() => void>;
}

let current: Backend | null = null;

export function setBackend(b: Backend): void {
  current = b;
}

export function backend(): Backend {
  if (!current) throw new Error("no backend installed");
  return current;
}

/** The message of any error, whether it came from the app ({kind, message}) or elsewhere. */
export function errorMessage(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as AppError).message);
  return String(e);
}

import { afterEach, describe, expect, test } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import ConnectCard from "./components/ConnectCard.svelte";
import { setBackend } from "./lib/backend";
import { fakeBackend } from "./lib/fake";
import type { Status } from "./bindings/Status";
import type { Route } from "./bindings/Route";
import type { Routing } from "./bindings/Routing";

afterEach(() => cleanup());

const route = (label: string, reaches: boolean, note: string | null = null): Route =>
  ({ label, url: reaches ? "https://shop/webhook" : "https://crm/hook", reaches_optdesk: reaches, note });

const routing = (prefs: boolean): Routing => ({
  ours: "https://shop/webhook", subscribed: true, app_url: "https://crm/hook", waba_override: null,
  number_override: "https://shop/webhook", app_fields: ["messages"],
  messages: route("customers' messages and delivery statuses", true),
  user_preferences: route("WhatsApp's \"Stop marketing\" and \"Resume\"", prefs, prefs ? null : "it goes to https://crm/hook"),
  templates: route("template approvals, pauses and categories", prefs),
  account: route("quality rating and account events", prefs),
});

function status(over: Partial<Status> = {}): Status {
  return {
    mode: "manual", mode_tradeoffs: "", endpoint_url: "https://shop", endpoint_state: "external", endpoint_since: null,
    registered_level: null, registered_url: null, routing: null, routing_live: false, routing_error: null,
    routing_checked_at: null, drift: null, confirmed: false, tunnel_requests_this_month: 0, tunnel_monthly_quota: null,
    quota_warning: null, last_webhook_at: null, last_message_at: null, test_asked_at: null, test_arrived: false, relay: null, ...over,
  };
}

describe("ConnectCard", () => {
  test("says plainly it is not receiving, asks before replacing another system, and shows each route", async () => {
    const b = fakeBackend([]);
    const calls: string[] = [];
    let current = status();
    b.webhookStatus = async () => current;
    b.settingsSet = async (name, value) => { calls.push(`set ${name}=${value}`); return value; };
    b.webhookConnect = async (choice) => {
      calls.push(`connect ${choice}`);
      if (choice === "ask") return { outcome: "needs_choice", current: "https://crm/hook", why: "this app's webhooks go to https://crm/hook, another system" };
      current = status({ routing: routing(false), registered_level: "number", test_asked_at: "2026-12-01T10:00:00Z" });
      return { outcome: "connected", callback_url: "https://shop/webhook", level: "number", routing: routing(false),
        self_test: { url: "https://shop/webhook", handshake: null, delivery: null }, warnings: ["WhatsApp's \"Stop marketing\" events keep going to https://crm/hook"], took_ms: 420 };
    };
    setBackend(b);
    const { container } = render(ConnectCard, { onChanged: () => {} });
    await waitFor(() => expect(container.querySelector("[data-ready=true]")).toBeTruthy());
    expect(screen.getByTestId("receiving").textContent).toContain("Not receiving opt-outs");

    await fireEvent.click(screen.getByTestId("connect"));
    await waitFor(() => expect(screen.getByTestId("needs-choice")).toBeTruthy());
    expect(screen.getByTestId("needs-choice").textContent).toContain("https://crm/hook");
    expect(calls).toEqual(["set webhook_mode=manual", "set public_url=https://shop", "connect ask"]);
    expect(screen.queryByTestId("routes")).toBeNull();

    await fireEvent.click(screen.getByTestId("number-only"));
    await waitFor(() => expect(screen.getByTestId("routes")).toBeTruthy());
    expect(calls.at(-1)).toBe("connect number_only");
    const items = [...screen.getByTestId("routes").querySelectorAll("li")];
    expect(items.map((li) => li.dataset.reaches)).toEqual(["yes", "no", "no", "no"]);
    expect(items[1].textContent).toContain("it goes to https://crm/hook");
    expect(screen.getByText(/Routing confirmed with WhatsApp in 0.4 s/)).toBeTruthy();
    expect(screen.getByTestId("test-step").textContent).toContain("send \"test\" from your own phone");
  });

  test("a change made elsewhere is a banner, and the ngrok mode says what it costs", async () => {
    const b = fakeBackend([]);
    b.webhookStatus = async () => status({ mode: "ngrok", drift: "The webhook routing was changed outside OptDesk: this number's override is now https://x", tunnel_monthly_quota: 20000, tunnel_requests_this_month: 16500,
      quota_warning: "ngrok has carried 16500 of the plan's 20000 requests this month (82%)" });
    setBackend(b);
    const { container } = render(ConnectCard, { onChanged: () => {} });
    await waitFor(() => expect(container.querySelector("[data-ready=true]")).toBeTruthy());
    expect(screen.getByTestId("drift").textContent).toContain("changed outside OptDesk");
    expect(screen.getByText(/ngrok can see the messages it carries/)).toBeTruthy();
    expect(screen.getByText(/16,500 of 20,000 requests/)).toBeTruthy();
    expect(screen.getByText(/\(82%\)/)).toBeTruthy();
  });

  test("the relay mode takes the mailbox's address and secret, and shows what the desktop refused", async () => {
    const b = fakeBackend([]);
    const calls: string[] = [];
    b.webhookStatus = async () => status({ mode: "relay", endpoint_url: "https://relay.example/m/abc", relay: {
      mailbox_url: "https://relay.example/m/abc", last_pull_at: "2026-12-01T08:57:00Z", failing_since: null, error: null,
      waiting: 3, refused: 2, refused_at: "2026-12-01T08:57:00Z", trust: "It can delay or drop them, but not forge or alter them" } });
    b.settingsSet = async (name, value) => { calls.push(`set ${name}=${value}`); return value; };
    b.secretSet = async (kind, value) => { calls.push(`secret ${kind}=${value}`); };
    b.webhookConnect = async () => { calls.push("connect"); throw new Error("stop here"); };
    setBackend(b);
    const { container } = render(ConnectCard, { onChanged: () => {} });
    await waitFor(() => expect(container.querySelector("[data-ready=true]")).toBeTruthy());
    expect((screen.getByTestId("relay-url") as HTMLInputElement).value).toBe("https://relay.example/m/abc/webhook");
    expect(screen.getByTestId("relay-health").textContent).toContain("3 waiting");
    expect(screen.getByTestId("relay-refused").textContent).toContain("2 messages from the mailbox were refused");
    expect(screen.getByText(/not forge or alter/)).toBeTruthy();
    await fireEvent.input(screen.getByTestId("relay-secret"), { target: { value: "pull-123" } });
    await fireEvent.click(screen.getByTestId("connect"));
    await waitFor(() => expect(calls).toContain("connect"));
    expect(calls.slice(0, 3)).toEqual(["set webhook_mode=relay", "set relay_url=https://relay.example/m/abc/webhook", "secret relay_pull_secret=pull-123"]);
  });
});

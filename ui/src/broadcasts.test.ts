import { afterEach, describe, expect, test } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Broadcasts from "./screens/Broadcasts.svelte";
import { setBackend } from "./lib/backend";
import { fakeBackend } from "./lib/fake";
import type { Summary } from "./bindings/Summary";
import type { ResultsView } from "./bindings/ResultsView";
import type { Preview } from "./bindings/Preview";
import type { StoredTemplate } from "./bindings/StoredTemplate";

afterEach(() => cleanup());

const counts = { total: 4, queued: 0, sending: 0, sent: 4, failed: 0, blocked: 0, unknown: 0, delivered: 3, read: 1 };
const past: Summary = {
  broadcast: {
    id: 7, name: "Summer sale", template: "summer_sale", language: "en_GB", category: "MARKETING", params: {}, tags: [],
    override_reason: null, state: "paused", pause_reason: "the brake: …", created_at: "2026-12-01T09:00:00Z",
    scheduled_at: null, schedule_missed_at: null, slots: { named: {}, header: null },
  },
  counts,
};
const view: ResultsView = {
  results: {
    broadcast: 7, recipients: 4, sent: 4, delivered: 4, read: 1, failed: 0, failed_by_reason: [], held_back: 0,
    stopped_marketing_before: 0, not_sent_by_consent: 0, queued: 0, unknown: 0,
    opt_outs: [{ contact_id: 2, phone: "+447911100002", name: "Ben", event_id: 41, source_kind: "keyword",
      delivered_at: "2026-12-01T09:00:00Z", opted_out_at: "2026-12-01T09:12:00Z", after_minutes: 12 }],
    replied: 1, read_rate: 25, opt_out_rate: 25, reply_rate: 25, window_hours: 72,
  },
  pauses: [{ kind: "brake", detail: "the brake: 1 of 4 delivered opted out", figures: null, paused_at: "2026-12-01T09:13:00Z", cleared_at: null, cleared_by: null }],
};

describe("Broadcasts", () => {
  test("a past broadcast's results name who opted out after it, with the ledger event and the pause", async () => {
    const fake = fakeBackend([]);
    fake.broadcastsList = async () => [past];
    fake.broadcastResults = async (id) => { fake.calls.push(["broadcastResults", id]); return view; };
    setBackend(fake);
    const { container } = render(Broadcasts);
    await waitFor(() => expect(container.querySelector("[data-ready=true]")).toBeTruthy());
    await fireEvent.click(await screen.findByTestId("bc-results"));
    await screen.findByTestId("results");
    expect(fake.calls).toEqual([["broadcastResults", 7]]);
    expect(screen.getByTestId("res-optouts").textContent).toBe("1");
    expect(screen.getByTestId("res-optout-list").textContent).toContain("+44 7911 100002");
    expect(screen.getByTestId("res-optout-list").textContent).toContain("#41");
    expect(screen.getByTestId("res-pauses").textContent).toContain("brake");
  });

  test("inside quiet hours the send waits for the owner's yes, and the yes is passed on", async () => {
    const fake = fakeBackend([]);
    const template = {
      name: "summer_sale", language: "en_GB", category: "MARKETING", status: "APPROVED", quality: null, parameter_format: null,
      wa_template_id: "1", components: [{ type: "BODY", text: "Offers this week" }], rejected_reason: null, synced_at: null,
      deleted: false, way_out: true, variables: { body: [], header: null },
    } as unknown as StoredTemplate;
    const preview: Preview = {
      broadcast: 9, audience: 3, will_receive: 3, excluded: 0, by_reason: [], rate: 20, estimated_seconds: 1,
      brake: { on: true, canary: 0, wait_seconds: 0, optout_threshold: 2, failure_threshold: 20, off: null },
      quiet_now: "it is quiet hours (21:00-08:00 in Europe/Madrid) until Sun 6 Dec 2026 08:00", cost: null, warnings: [],
    };
    fake.templatesList = async () => [template];
    fake.broadcastCreate = async () => 9;
    fake.broadcastPreview = async () => preview;
    fake.broadcastSend = async (id, withoutRelay, quiet) => { fake.calls.push(["broadcastSend", [id, withoutRelay, quiet]]); };
    setBackend(fake);
    const { container } = render(Broadcasts);
    await waitFor(() => expect(container.querySelector("[data-ready=true]")).toBeTruthy());
    await fireEvent.change(screen.getByTestId("bc-template"), { target: { value: "summer_sale|en_GB" } });
    await fireEvent.click(await screen.findByTestId("bc-next"));
    await fireEvent.click(await screen.findByTestId("bc-review"));
    await screen.findByTestId("quiet-now");
    expect(screen.getByTestId("brake").textContent).toContain("watches it while it sends");
    const send = screen.getByTestId("bc-send") as HTMLButtonElement;
    expect(send.disabled).toBe(true);
    await fireEvent.click(screen.getByTestId("quiet-ok"));
    expect(send.disabled).toBe(false);
    await fireEvent.click(send);
    await waitFor(() => expect(fake.calls).toContainEqual(["broadcastSend", [9, false, true]]));
  });
});

describe("RateCard", () => {
  test("says when no rate card is loaded, and what is loaded once one is", async () => {
    const RateCard = (await import("./components/RateCard.svelte")).default;
    const fake = fakeBackend([]);
    setBackend(fake);
    render(RateCard);
    await screen.findByTestId("rate-card-none");
    expect((screen.getByTestId("rate-card-import") as HTMLButtonElement).disabled).toBe(true);
    cleanup();
    fake.pricingCard = async () => ({
      source: "Meta rate card", effective: "2026-10-01", imported_at: "2026-12-02T06:00:00Z",
      currency: "USD", markets: 4, rates: 32,
    });
    render(RateCard);
    expect((await screen.findByTestId("rate-card-loaded")).textContent).toContain("4 markets in USD, from Meta rate card (rates from 2026-10-01)");
  });
});

describe("Broadcasts with named and header variables", () => {
  test("a NAMED template's fields, from the core's reading of it, are sent as typed, with the header's beside them", async () => {
    const fake = fakeBackend([]);
    const template = {
      name: "named_offer", language: "en_GB", category: "MARKETING", status: "APPROVED", quality: null, parameter_format: "NAMED",
      wa_template_id: "1", rejected_reason: null, synced_at: null, deleted: false, way_out: { footer: "Reply STOP" },
      components: [{ type: "HEADER", format: "TEXT", text: "For {{who}}" }, { type: "BODY", text: "Hi {{first_name}}, {{offer}}" }],
      variables: { body: ["first_name", "offer"], header: "who" },
    } as unknown as StoredTemplate;
    fake.templatesList = async () => [template];
    fake.broadcastCreate = async (input) => { fake.calls.push(["broadcastCreate", input]); throw { kind: "invalid", message: "stop here" }; };
    setBackend(fake);
    const { container } = render(Broadcasts);
    await waitFor(() => expect(container.querySelector("[data-ready=true]")).toBeTruthy());
    await fireEvent.change(screen.getByTestId("bc-template"), { target: { value: "named_offer|en_GB" } });
    const fields = await screen.findAllByTestId("bc-param");
    expect(fields.length).toBe(2);
    await fireEvent.input(fields[0], { target: { value: "@name|there" } });
    await fireEvent.input(fields[1], { target: { value: "20% off" } });
    await fireEvent.input(screen.getByTestId("bc-header-param"), { target: { value: "you" } });
    await fireEvent.click(screen.getByTestId("bc-next"));
    await fireEvent.click(await screen.findByTestId("bc-review"));
    await waitFor(() => expect(fake.calls.length).toBe(1));
    // As typed: the core reads "@name|there" (tests of Rust's `fill` and `Param::parse`).
    expect(fake.calls[0][1]).toMatchObject({
      values: [["first_name", "@name|there"], ["offer", "20% off"]],
      header: "you",
    });
  });
});

import { afterEach, describe, expect, test } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import ConsentSwitch from "./components/ConsentSwitch.svelte";
import Contacts from "./screens/Contacts.svelte";
import { setBackend } from "./lib/backend";
import { fakeBackend, row } from "./lib/fake";

afterEach(() => cleanup());

describe("ConsentSwitch", () => {
  test("is a real switch, named by contact and topic, with the state in words", () => {
    render(ConsentSwitch, { state: "opted_out", who: "Ana", topic: "Marketing", onToggle: () => {} });
    const sw = screen.getByRole("switch", { name: "Marketing consent for Ana" });
    expect(sw.getAttribute("aria-checked")).toBe("false");
    expect(screen.getByText("Out")).toBeTruthy();
  });

  test("blocked by Meta: disabled, with the reason", () => {
    render(ConsentSwitch, { state: "opted_in", who: "Ana", topic: "Marketing", blocked: true, onToggle: () => {} });
    expect((screen.getByRole("switch") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByLabelText(/only they can undo this/)).toBeTruthy();
  });
});

describe("Contacts", () => {
  const rows = [
    row("+447911100001", "Ana Lopez", "opted_in"),
    row("+447911100002", "Ben Smith", "opted_out"),
    row("+34612345678", "Carla Diaz"),
  ];

  test("shows every contact, then filters as the owner types a name or number", async () => {
    setBackend(fakeBackend(rows));
    const { container } = render(Contacts, { onImport: () => {} });
    await waitFor(() => expect(container.querySelector("[data-ready=true]")).toBeTruthy());
    expect(screen.getByTestId("count").textContent).toContain("3 of 3");
    await fireEvent.input(screen.getByTestId("search"), { target: { value: "ben" } });
    expect(screen.getByTestId("count").textContent).toContain("1 of 3");
    await fireEvent.input(screen.getByTestId("search"), { target: { value: "612 345" } });
    expect(screen.getByTestId("count").textContent).toContain("1 of 3");
  });

  test("a switch changes nothing until the owner says how they know", async () => {
    const fake = fakeBackend(rows);
    setBackend(fake);
    const { container } = render(Contacts, { onImport: () => {} });
    await waitFor(() => expect(container.querySelector("[data-ready=true]")).toBeTruthy());
    await fireEvent.click(screen.getByRole("switch", { name: "Marketing consent for Carla Diaz" }));
    expect(fake.calls).toEqual([]);
    const proof = (await screen.findByLabelText("What the customer agreed to")) as HTMLTextAreaElement;
    expect(proof.value).toBe("Yes to offers from Bakery Sol");
    await fireEvent.click(screen.getByTestId("consent-record"));
    await waitFor(() => expect(fake.calls.length).toBe(1));
    expect(fake.calls[0][1]).toMatchObject({ phone: "+34612345678", topic: "marketing", state: "opted_in", sourceKind: "in_store" });
    await waitFor(() => expect(screen.getByRole("switch", { name: "Marketing consent for Carla Diaz" }).getAttribute("aria-checked")).toBe("true"));
  });

  test("an opt-in needs the customer's words", async () => {
    const fake = fakeBackend(rows);
    setBackend(fake);
    const { container } = render(Contacts, { onImport: () => {} });
    await waitFor(() => expect(container.querySelector("[data-ready=true]")).toBeTruthy());
    await fireEvent.click(screen.getByRole("switch", { name: "Marketing consent for Carla Diaz" }));
    const proof = await screen.findByLabelText("What the customer agreed to");
    await fireEvent.input(proof, { target: { value: "  " } });
    await fireEvent.click(screen.getByTestId("consent-record"));
    expect(screen.getByRole("alert").textContent).toContain("proof of their opt-in");
    expect(fake.calls).toEqual([]);
  });
});

describe("topic names", () => {
  test("utility is called utility in the history, as everywhere else", async () => {
    const { describeEvent } = await import("./lib/strings");
    const line = describeEvent("utility", "opted_out", "keyword", "2026-03-01T10:00:00Z");
    expect(line.startsWith("Opted out of utility (")).toBe(true);
    expect(line).not.toContain("updates");
  });
});

describe("Settings", () => {
  test("a failing keyring empties only the credentials, and says so", async () => {
    const { default: Settings } = await import("./screens/Settings.svelte");
    const b = fakeBackend([]);
    b.secretsStatus = () => Promise.reject({ kind: "keyring", message: "the system keyring is locked" });
    setBackend(b);
    render(Settings, { onChanged: () => {} });
    await waitFor(() => expect(screen.getByTestId("failed-secrets").textContent).toContain("the system keyring is locked"));
    // The other cards loaded on their own.
    expect((screen.getByDisplayValue("Yes to offers from Bakery Sol") as HTMLInputElement).dataset.setting).toBe("consent_wording");
    expect(screen.queryByTestId("failed-settings")).toBeNull();
  });
});

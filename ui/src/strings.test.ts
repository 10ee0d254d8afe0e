import { describe, expect, it } from "vitest";
import { formatPhone } from "./lib/strings";

describe("formatPhone", () => {
  it("groups each number as its own country does", () => {
    expect(formatPhone("+447911123456")).toBe("+44 7911 123456");
    // A London landline: area code 20, not a mobile's four digits.
    expect(formatPhone("+442079460018")).toBe("+44 20 7946 0018");
    expect(formatPhone("+34612345678")).toBe("+34 612 34 56 78");
    expect(formatPhone("+5511987654321")).toBe("+55 11 98765 4321");
    expect(formatPhone("+14165550123")).toBe("+1 416 555 0123");
  });

  it("leaves what it cannot read as it was", () => {
    expect(formatPhone("not a number")).toBe("not a number");
    expect(formatPhone("")).toBe("");
  });
});

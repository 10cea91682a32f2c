import { describe, expect, it } from "vitest";
import { parseIsoUtc } from "../../src/lib/time.ts";

/** parseIsoUtc: every time a client sends (filters, a ban's end, the KC7 import), UTC where no zone is named. */
describe("parseIsoUtc", () => {
	it.each([
		["2026-12-01T10:20:30Z", Date.UTC(2026, 11, 1, 10, 20, 30)],
		["2026-12-01T10:20:30.5+01:00", Date.UTC(2026, 11, 1, 9, 20, 30, 500)],
		["2026-12-01T10:20:30.123456789-05:30", Date.UTC(2026, 11, 1, 15, 50, 30, 123)],
		["2026-12-01T10:20", Date.UTC(2026, 11, 1, 10, 20)],
		["2026-12-01 10:20:30.123456", Date.UTC(2026, 11, 1, 10, 20, 30, 123)],
		["2026-12-01", Date.UTC(2026, 11, 1)],
		["2024-02-29", Date.UTC(2024, 1, 29)],
		// Years 0–99 as written (Date.UTC would read them as 1900–1999): Go's zero time is a common "since".
		["0001-01-01T00:00:00Z", Date.parse("0001-01-01T00:00:00Z")],
		["0099-12-31", Date.parse("0099-12-31T00:00:00Z")],
		["0000-01-01T00:00:00+01:00", Date.parse("0000-01-01T00:00:00+01:00")],
	])("reads %s", (text, ms) => {
		expect(parseIsoUtc(text)).toBe(ms);
	});

	it.each([
		"2026-02-29",
		"0001-02-29",
		"2026-02-30T00:00:00Z",
		"2026-13-01",
		"2026-12-01T24:00:00Z",
		"2026-12-01T10:60",
		"2026-12-01Z",
		"2026-12-01T10",
		"20261201",
		"1700000000000",
		"yesterday",
		"",
		" 2026-12-01",
	])("refuses %j", (text) => {
		expect(parseIsoUtc(text)).toBeNull();
	});
});

/** Times are stored as epoch milliseconds and shown on both surfaces as ISO 8601 (UTC). */
export const iso = (ms: number): string => new Date(ms).toISOString();

export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

// A date, optionally a time (`T`, or the space of SQL and Python's str()), optionally a zone: only with a time.
const ISO_TIME = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)?)?$/;

/**
 * An ISO 8601 date or date-time as clients and exports write it, in epoch milliseconds, read as UTC where it
 * names no zone (a date is its UTC midnight; `2026-01-01T12:00` and Python's `isoformat()` of a UTC time are UTC);
 * null for anything else, an impossible date (February 30th, hour 24) included. Fractions beyond milliseconds
 * are cut.
 */
export function parseIsoUtc(text: string): number | null {
	const m = ISO_TIME.exec(text);
	if (!m) return null;
	const [, year, month, day, hour = "00", minute = "00", second = "00", fraction = "", zone = "Z"] = m;
	const date = new Date(0);
	date.setUTCFullYear(Number(year), Number(month) - 1, Number(day)); // not Date.UTC: it reads years 0–99 as 19xx
	// The calendar and the clock as written, not rolled over (February 30th, 24:00).
	if (date.toISOString().slice(0, 10) !== `${year}-${month}-${day}`) return null;
	if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return null;
	const ms = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${fraction.slice(0, 4)}${zone}`);
	return Number.isFinite(ms) ? ms : null;
}

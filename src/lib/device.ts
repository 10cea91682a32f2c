import Bowser from "bowser";

/** What a session list shows of a device: browser and OS families, and the kind of device. */
export interface Device {
	browser: string | null;
	os: string | null;
	deviceType: "desktop" | "mobile" | "tablet" | "unknown";
}

const UNKNOWN: Device = { browser: null, os: null, deviceType: "unknown" };

/** Parsed by Bowser (a maintained parser, ~35 KB), never by regexes of our own. A missing or junk agent is unknown. */
export function describeDevice(userAgent: string | null | undefined): Device {
	if (!userAgent) return UNKNOWN;
	try {
		const parsed = Bowser.parse(userAgent);
		const type = parsed.platform.type;
		return {
			browser: parsed.browser.name ?? null,
			os: parsed.os.name ?? null,
			deviceType: type === "desktop" || type === "mobile" || type === "tablet" ? type : "unknown",
		};
	} catch {
		return UNKNOWN;
	}
}

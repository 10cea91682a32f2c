import Bowser from "bowser";

/** What a session list shows of a device: browser and OS families, and the kind of device. */
export interface Device {
	browser: string | null;
	os: string | null;
	deviceType: "desktop" | "mobile" | "tablet" | "unknown";
}

const UNKNOWN: Device = { browser: null, os: null, deviceType: "unknown" };

// Parsing runs Bowser's whole list of patterns, and a client sends the same agent on every sign-in and refresh:
// the latest agents' answers are kept per isolate (a bounded map, oldest out first; the answers are frozen).
const RECENT_LIMIT = 256;
const recent = new Map<string, Device>();

/** Parsed by Bowser (a maintained parser, ~35 KB), never by regexes of our own. A missing or junk agent is unknown. */
export function describeDevice(userAgent: string | null | undefined): Device {
	if (!userAgent) return UNKNOWN;
	let device = recent.get(userAgent);
	if (device === undefined) {
		device = Object.freeze(parse(userAgent));
		if (recent.size >= RECENT_LIMIT) recent.delete(recent.keys().next().value as string);
		recent.set(userAgent, device);
	}
	return device;
}

function parse(userAgent: string): Device {
	try {
		const parsed = Bowser.parse(userAgent);
		const type = parsed.platform.type;
		return {
			// Bowser names what it cannot tell "": unknown is null, as the contract's fields say.
			browser: parsed.browser.name || null,
			os: parsed.os.name || null,
			deviceType: type === "desktop" || type === "mobile" || type === "tablet" ? type : "unknown",
		};
	} catch {
		return UNKNOWN;
	}
}

import { describe, expect, it } from "vitest";
import { networkKey } from "../../src/lib/rate-limit.ts";

describe("networkKey: per-IP limits count networks", () => {
	it("keeps IPv4 addresses one by one", () => {
		expect(networkKey("203.0.113.7")).toBe("203.0.113.7");
		expect(networkKey("203.0.113.8")).not.toBe(networkKey("203.0.113.7"));
	});

	it("keys IPv6 by /64, whatever the spelling", () => {
		const key = networkKey("2001:db8:1:2::1");
		expect(key).toBe("2001:db8:1:2::/64");
		for (const same of [
			"2001:db8:1:2:ffff:ffff:ffff:ffff",
			"2001:0db8:0001:0002:0000:0000:0000:0002",
			"2001:DB8:1:2:abcd::",
			"2001:db8:1:2:0:0:1.2.3.4",
			"2001:db8:1:2::9%eth0",
		]) {
			expect(networkKey(same), same).toBe(key);
		}
		expect(networkKey("2001:db8:1:3::1")).not.toBe(key);
		expect(networkKey("::1")).toBe("0:0:0:0::/64");
	});

	it("treats IPv4-mapped IPv6 as the IPv4 address", () => {
		expect(networkKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
		expect(networkKey("::ffff:cb00:7107")).toBe("203.0.113.7");
		expect(networkKey("0:0:0:0:0:ffff:203.0.113.7")).toBe("203.0.113.7");
	});

	it("counts anything unparsable as itself", () => {
		for (const odd of ["unknown", "1:2:3", "2001:db8::1::2", "2001:db8:zz::1", "::ffff:300.1.1.1"]) {
			expect(networkKey(odd)).toBe(odd);
		}
	});
});

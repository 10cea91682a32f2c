/** Floor Worker: one PBKDF2-SHA256 deriveBits of 100,000 iterations (the production cap) per request. */
import { instrument } from "./instrument.ts";

const ITERATIONS = 100_000;
const encoder = new TextEncoder();

export default {
	fetch: instrument(async () => {
		const salt = crypto.getRandomValues(new Uint8Array(16));
		const key = await crypto.subtle.importKey("raw", encoder.encode("correct-horse-battery-staple"), "PBKDF2", false, [
			"deriveBits",
		]);
		const bits = await crypto.subtle.deriveBits(
			{ name: "PBKDF2", hash: "SHA-256", salt, iterations: ITERATIONS },
			key,
			256,
		);
		return Response.json({ bytes: bits.byteLength });
	}),
} satisfies ExportedHandler<object>;

import { PBKDF2_MAX_ITERATIONS } from "../../src/lib/password.ts";

// Production Workers refuse PBKDF2 above 100,000 iterations; local workerd does not.
// Emulate the production limit for everything running in this isolate (tests and the Worker).
const subtle = crypto.subtle;
const deriveBits = subtle.deriveBits.bind(subtle);
Object.defineProperty(subtle, "deriveBits", {
	configurable: true,
	value: (algorithm: string | SubtleCryptoDeriveKeyAlgorithm, baseKey: CryptoKey, length?: number | null) => {
		const iterations =
			typeof algorithm === "object" && algorithm.name.toUpperCase() === "PBKDF2" ? algorithm.iterations : 0;
		if (iterations !== undefined && iterations > PBKDF2_MAX_ITERATIONS) {
			return Promise.reject(
				new DOMException(
					`Pbkdf2 failed: iteration counts above ${PBKDF2_MAX_ITERATIONS} are not supported (requested ${iterations}).`,
					"NotSupportedError",
				),
			);
		}
		return deriveBits(algorithm, baseKey, length);
	},
});

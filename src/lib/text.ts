/**
 * Characters that have no business in human text or URLs we hand out: C0/C1 controls (NUL included),
 * LRM/RLM, and bidi embeddings/overrides/isolates — invisible, and used to spoof names and links.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the purpose
export const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** The same, but allowing tab and newlines (multi-line text such as descriptions). */
export const CONTROL_OR_BIDI_EXCEPT_NEWLINES =
	// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the purpose
	/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

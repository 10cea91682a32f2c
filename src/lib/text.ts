/**
 * Characters that have no business in a name or in a URL we hand out, by kind. They are invisible or reorder what
 * a reader sees, so they let one name pass for another ("ad\u200bmin", a right-to-left override turning "txt.exe"
 * around) or hide text from the person reading it.
 */

/** C0 and C1 controls, NUL and DEL included. */
const CONTROLS = String.raw`\u0000-\u001f\u007f-\u009f`;
/** The same without tab, line feed and carriage return, which multi-line text needs. */
const CONTROLS_EXCEPT_NEWLINES = String.raw`\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f`;
/** Bidi marks (ALM, LRM, RLM), embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069). */
const BIDI = String.raw`\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069`;
/**
 * Invisible format characters and separators: soft hyphen; Mongolian vowel separator; zero-width space, non-joiner
 * and joiner; line and paragraph separators (a line break inside a one-line field); word joiner, the invisible
 * operators and the unassigned U+2065; the deprecated format characters U+206A–U+206F; BOM (zero-width no-break
 * space); interlinear annotation controls; and the tag characters, which can carry a hidden ASCII message.
 *
 * The joiners also glue emoji sequences (👩‍💻) and shape Persian and Indic words: refusing them in names is the
 * price of names that are what they look like. Variation selectors (the U+FE0F in ❤️) stay allowed.
 */
const INVISIBLE = String.raw`\u00ad\u180e\u200b-\u200d\u2028\u2029\u2060-\u2065\u206a-\u206f\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}`;

/** Refused in one-line human text (names, titles) and in redirect targets: controls, bidi and invisible characters. */
export const CONTROL_BIDI_OR_INVISIBLE = new RegExp(`[${CONTROLS}${BIDI}${INVISIBLE}]`, "u");

/**
 * Refused in multi-line text (descriptions): controls other than tab and newlines, and bidi controls. Zero-width
 * joiners and line separators stay allowed there, where emoji sequences and line breaks are ordinary content.
 */
export const CONTROL_OR_BIDI_EXCEPT_NEWLINES = new RegExp(`[${CONTROLS_EXCEPT_NEWLINES}${BIDI}]`, "u");

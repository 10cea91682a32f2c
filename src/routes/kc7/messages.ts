/** The KC7 API's fixed strings (the contract's wording), in one place to audit. */
export const KC7 = {
	invalidCredentials: "Invalid credentials",
	emailNotVerified: "Email not verified",
	accountDisabled: "Account disabled",
	/** A valid access token whose user is gone. */
	invalidOrExpiredToken: "Invalid or expired token",
	/** KC7's word for every refusal of a caller: wrong role, missing or unusable integration key, refused target. */
	unauthorized: "Unauthorized",
	invalidToken: "Invalid token",
	userNotFound: "User not found",
	moduleNotFound: "Module not found",
	notEnrolled: "User is not enrolled in this module",
	integrationKeyNotFound: "Integration key not found",
	nextNotAllowed: "next must be a path or URL on an allowed origin",
} as const;

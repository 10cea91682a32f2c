/** The ILD Auth API's fixed strings (the contract's wording), in one place to audit. */
export const ILD = {
	invalidLogin: "Invalid email or password",
	emailNotVerified: "Email not verified",
	/** A bad one-time token (verify, reset), and a valid access token whose user is gone. */
	invalidOrExpiredToken: "Invalid or expired token",
	authenticationRequired: "Authentication required",
	signedOut: "Signed out",
	emailVerified: "Email verified",
	passwordChanged: "Password changed",
	resetRequested: "If an account exists for this email, a reset link has been sent",
	userNotFound: "User not found",
	communityNotFound: "Community not found",
	imageNotFound: "Image not found",
	imageTooLarge: "Profile image must be at most 5 MiB",
	imageEmpty: "Profile image is empty",
	imageType: "Profile image must be a JPEG, PNG, WebP or GIF image",
	imageIfMatch: "The image does not match If-Match",
	nothingToUpdateProfile: "Nothing to update: give firstName, lastName, username or profileImage",
	nothingToUpdateCommunity: "Nothing to update: give name, description or categories",
} as const;

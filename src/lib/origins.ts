/** Loopback origins (any port): what development allows for CORS and redirects, and production never does. */
const LOOPBACK_ORIGIN = /^http:\/\/(localhost|127\.0\.0\.1)(:\d{1,5})?$/;

export const isLoopbackOrigin = (origin: string) => LOOPBACK_ORIGIN.test(origin);

CREATE TABLE `deletion_requests` (
	`user_id` integer PRIMARY KEY NOT NULL,
	`requested_at` integer NOT NULL,
	`scheduled_for` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `deletion_requests_due_idx` ON `deletion_requests` (`scheduled_for`);--> statement-breakpoint
CREATE TABLE `email_reservations` (
	`email` text PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`until` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `email_reservations_user_idx` ON `email_reservations` (`user_id`);--> statement-breakpoint
CREATE TABLE `erasures` (
	`kind` text NOT NULL,
	`target` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`kind`, `target`)
);
--> statement-breakpoint
-- Hand-written (drizzle-kit does not generate triggers). An address reserved by an email change (see
-- email_reservations in src/db/schema.ts) reads as taken to everyone but its holder, until the reservation ends:
-- the same error as the unique index, so every path that sets an email (registration, provisioning, import,
-- a confirmed change) refuses it the same way.
CREATE TRIGGER `users_email_reserved_on_insert` BEFORE INSERT ON `users`
WHEN EXISTS (
	SELECT 1 FROM `email_reservations` r
	WHERE r.`email` = NEW.`email` AND r.`until` > CAST(strftime('%s', 'now') AS INTEGER) * 1000
)
BEGIN
	SELECT RAISE(ABORT, 'UNIQUE constraint failed: users.email (reserved by an email change)');
END;
--> statement-breakpoint
CREATE TRIGGER `users_email_reserved_on_update` BEFORE UPDATE OF `email` ON `users`
WHEN NEW.`email` <> OLD.`email` AND EXISTS (
	SELECT 1 FROM `email_reservations` r
	WHERE r.`email` = NEW.`email` AND r.`user_id` <> NEW.`id`
		AND r.`until` > CAST(strftime('%s', 'now') AS INTEGER) * 1000
)
BEGIN
	SELECT RAISE(ABORT, 'UNIQUE constraint failed: users.email (reserved by an email change)');
END;

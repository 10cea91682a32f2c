-- Hardening (issue 8): bound and scoped integration keys (existing keys: unbound, scope all), who
-- provisioned each user, and the outbox of R2 objects to delete.
-- drizzle-kit writes ADD COLUMN … REFERENCES without the ON DELETE action; it is added by hand (see schema.ts).
CREATE TABLE `image_deletions` (
	`object_key` text PRIMARY KEY NOT NULL,
	`reason` text NOT NULL,
	`due_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `image_deletions_due_idx` ON `image_deletions` (`due_at`);--> statement-breakpoint
ALTER TABLE `integration_keys` ADD `owner_user_id` integer REFERENCES users(id) ON DELETE cascade;--> statement-breakpoint
ALTER TABLE `integration_keys` ADD `scope` text DEFAULT 'all' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `provisioned_by` integer;--> statement-breakpoint
CREATE INDEX `users_provisioned_by_idx` ON `users` (`provisioned_by`);
CREATE TABLE `integration_keys` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`key_hash` text NOT NULL,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `integration_keys_hash_unique` ON `integration_keys` (`key_hash`);--> statement-breakpoint
CREATE TABLE `module_progress` (
	`user_id` integer NOT NULL,
	`module_id` integer NOT NULL,
	`score` integer DEFAULT 0 NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `module_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`module_id`) REFERENCES `modules`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `modules` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`title` text NOT NULL,
	`clean_title` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`est_time` text DEFAULT 'na' NOT NULL,
	`difficulty` text NOT NULL,
	`max_score` integer NOT NULL,
	`is_core` integer DEFAULT true NOT NULL,
	`sort_order` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `modules_core_order_idx` ON `modules` (`is_core`,`sort_order`,`id`);
CREATE TABLE `dunning_collections` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`payer_id` text NOT NULL,
	`invoice_id` text NOT NULL,
	`invoice_number` text,
	`amount` integer NOT NULL,
	`currency` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`payer_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `dunning_collections_invoice` ON `dunning_collections` (`invoice_id`);--> statement-breakpoint
CREATE INDEX `dunning_collections_org` ON `dunning_collections` (`organisation_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `dunning_log` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`payer_id` text NOT NULL,
	`type` text NOT NULL,
	`invoice_number` text,
	`amount` integer,
	`currency` text,
	`detail` text,
	`note` text,
	`at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`payer_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `dunning_log_org_at` ON `dunning_log` (`organisation_id`,`at`);--> statement-breakpoint
CREATE INDEX `dunning_log_payer` ON `dunning_log` (`payer_id`,`at`);--> statement-breakpoint
CREATE TABLE `dunning_pay_links` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`member_id` text NOT NULL,
	`invoice_id` text NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`member_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `dunning_pay_links_invoice` ON `dunning_pay_links` (`invoice_id`);--> statement-breakpoint
CREATE TABLE `dunning_policies` (
	`organisation_id` text PRIMARY KEY NOT NULL,
	`policy` text NOT NULL,
	`pay_link_base` text,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action
);

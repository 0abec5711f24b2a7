CREATE TABLE `door_alarms` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`site_id` text NOT NULL,
	`door_id` text,
	`device_id` text NOT NULL,
	`type` text NOT NULL,
	`open_for_ms` integer,
	`occurred_at` integer NOT NULL,
	`received_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `door_alarms_org_time` ON `door_alarms` (`organisation_id`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `door_alarms_door_time` ON `door_alarms` (`door_id`,`occurred_at`);--> statement-breakpoint
ALTER TABLE `members` ADD `pin_verifier` text;
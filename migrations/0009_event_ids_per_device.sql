-- Event ids are unique per device, not across every organisation: the tables are rebuilt with (device_id, id) as the key.
-- Nothing references these tables, so no foreign key pragma is needed (D1 runs a migration as one transaction).
CREATE TABLE `__new_checkins` (
	`id` text NOT NULL,
	`organisation_id` text NOT NULL,
	`site_id` text NOT NULL,
	`door_id` text,
	`device_id` text NOT NULL,
	`member_id` text,
	`credential_key` text,
	`granted` integer NOT NULL,
	`reason` text NOT NULL,
	`explanation` text NOT NULL,
	`uses_pass` integer DEFAULT false NOT NULL,
	`occurred_at` integer NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`device_id`, `id`),
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `__new_checkins`("id", "organisation_id", "site_id", "door_id", "device_id", "member_id", "credential_key", "granted", "reason", "explanation", "uses_pass", "occurred_at", "received_at") SELECT "id", "organisation_id", "site_id", "door_id", "device_id", "member_id", "credential_key", "granted", "reason", "explanation", "uses_pass", "occurred_at", "received_at" FROM `checkins`;--> statement-breakpoint
DROP TABLE `checkins`;--> statement-breakpoint
ALTER TABLE `__new_checkins` RENAME TO `checkins`;--> statement-breakpoint
CREATE INDEX `checkins_org_time` ON `checkins` (`organisation_id`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `checkins_member_time` ON `checkins` (`member_id`,`occurred_at`);--> statement-breakpoint
CREATE TABLE `__new_door_alarms` (
	`id` text NOT NULL,
	`organisation_id` text NOT NULL,
	`site_id` text NOT NULL,
	`door_id` text,
	`device_id` text NOT NULL,
	`type` text NOT NULL,
	`open_for_ms` integer,
	`occurred_at` integer NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`device_id`, `id`),
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `__new_door_alarms`("id", "organisation_id", "site_id", "door_id", "device_id", "type", "open_for_ms", "occurred_at", "received_at") SELECT "id", "organisation_id", "site_id", "door_id", "device_id", "type", "open_for_ms", "occurred_at", "received_at" FROM `door_alarms`;--> statement-breakpoint
DROP TABLE `door_alarms`;--> statement-breakpoint
ALTER TABLE `__new_door_alarms` RENAME TO `door_alarms`;--> statement-breakpoint
CREATE INDEX `door_alarms_org_time` ON `door_alarms` (`organisation_id`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `door_alarms_door_time` ON `door_alarms` (`door_id`,`occurred_at`);
CREATE TABLE `access_profiles` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`name` text NOT NULL,
	`sites` text,
	`door_groups` text NOT NULL,
	`schedule_kind` text NOT NULL,
	`schedule` text,
	`max_entries_per_day` integer,
	`staff` integer DEFAULT false NOT NULL,
	`lockdown_access` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `access_profiles_org` ON `access_profiles` (`organisation_id`);--> statement-breakpoint
CREATE TABLE `bookings` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`member_id` text NOT NULL,
	`door_group` text NOT NULL,
	`starts_at` integer NOT NULL,
	`ends_at` integer NOT NULL,
	`opens_minutes_before` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`member_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `bookings_member` ON `bookings` (`member_id`,`ends_at`);--> statement-breakpoint
CREATE TABLE `commands` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`device_id` text NOT NULL,
	`action` text NOT NULL,
	`nonce` text NOT NULL,
	`issued_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`status` text NOT NULL,
	`result_reason` text,
	`result_detail` text,
	`acked_at` integer,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`device_id`) REFERENCES `devices`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `commands_device` ON `commands` (`device_id`,`issued_at`);--> statement-breakpoint
CREATE TABLE `entitlement_changes` (
	`site_id` text NOT NULL,
	`version` integer NOT NULL,
	`kind` text NOT NULL,
	`entity_id` text NOT NULL,
	PRIMARY KEY(`site_id`, `version`, `kind`, `entity_id`),
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `checkins` ADD `uses_pass` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `devices` ADD `entitlement_hash` text;--> statement-breakpoint
ALTER TABLE `devices` ADD `last_heartbeat_at` integer;--> statement-breakpoint
ALTER TABLE `devices` ADD `uptime_seconds` integer;--> statement-breakpoint
ALTER TABLE `devices` ADD `clock_offset_ms` integer;--> statement-breakpoint
ALTER TABLE `devices` ADD `mqtt_connected` integer;--> statement-breakpoint
ALTER TABLE `devices` ADD `reconnects_last_hour` integer;--> statement-breakpoint
ALTER TABLE `devices` ADD `outbox_pending` integer;--> statement-breakpoint
ALTER TABLE `doors` ADD `door_group` text DEFAULT 'general' NOT NULL;--> statement-breakpoint
ALTER TABLE `doors` ADD `mode` text DEFAULT 'normal' NOT NULL;--> statement-breakpoint
ALTER TABLE `doors` ADD `unlock_during_staffed_hours` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `doors` ADD `anti_passback_seconds` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `doors` ADD `max_offline_seconds` integer DEFAULT 259200 NOT NULL;--> statement-breakpoint
ALTER TABLE `doors` ADD `grant_seconds` integer DEFAULT 5 NOT NULL;--> statement-breakpoint
ALTER TABLE `members` ADD `suspension` text;--> statement-breakpoint
ALTER TABLE `members` ADD `access_profile_id` text REFERENCES access_profiles(id);--> statement-breakpoint
ALTER TABLE `members` ADD `valid_from` integer;--> statement-breakpoint
ALTER TABLE `members` ADD `valid_until` integer;--> statement-breakpoint
ALTER TABLE `members` ADD `entries_left` integer;--> statement-breakpoint
ALTER TABLE `sites` ADD `staffed_hours` text;--> statement-breakpoint
ALTER TABLE `sites` ADD `closures` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `sites` ADD `entitlement_hash` text;--> statement-breakpoint
ALTER TABLE `sites` ADD `hash_version` integer;
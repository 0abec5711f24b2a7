CREATE TABLE `audit_events` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`actor_type` text NOT NULL,
	`actor_id` text,
	`actor_name` text,
	`action` text NOT NULL,
	`resource_type` text NOT NULL,
	`resource_id` text,
	`outcome` text NOT NULL,
	`status` integer NOT NULL,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`ip` text,
	`user_agent` text,
	`before` text,
	`after` text,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `audit_events_org` ON `audit_events` (`organisation_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_events_resource` ON `audit_events` (`organisation_id`,`resource_type`,`resource_id`);--> statement-breakpoint
CREATE INDEX `audit_events_actor` ON `audit_events` (`organisation_id`,`actor_id`);--> statement-breakpoint
-- Audit events are never changed or removed, whoever asks (written by hand: drizzle-kit knows no triggers).
CREATE TRIGGER `audit_events_never_updated` BEFORE UPDATE ON `audit_events` BEGIN SELECT RAISE(ABORT, 'audit events are never changed'); END;--> statement-breakpoint
CREATE TRIGGER `audit_events_never_deleted` BEFORE DELETE ON `audit_events` BEGIN SELECT RAISE(ABORT, 'audit events are never removed'); END;

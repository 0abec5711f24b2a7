CREATE TABLE `dev_mailbox` (
	`id` text PRIMARY KEY NOT NULL,
	`message_id` text NOT NULL,
	`channel` text NOT NULL,
	`to_address` text NOT NULL,
	`subject` text,
	`text` text NOT NULL,
	`html` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `dev_mailbox_created` ON `dev_mailbox` (`created_at`);--> statement-breakpoint
CREATE TABLE `notification_messages` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`member_id` text,
	`channel` text NOT NULL,
	`to_address` text NOT NULL,
	`template` text NOT NULL,
	`locale` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`claim_token` text,
	`claimed_until` integer,
	`last_error` text,
	`provider` text,
	`provider_message_id` text,
	`dedupe_key` text,
	`created_at` integer NOT NULL,
	`sent_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`member_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `notification_messages_due` ON `notification_messages` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `notification_messages_member` ON `notification_messages` (`organisation_id`,`member_id`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `notification_messages_dedupe` ON `notification_messages` (`organisation_id`,`dedupe_key`,`channel`);
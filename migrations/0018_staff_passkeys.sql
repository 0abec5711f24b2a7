CREATE TABLE `staff_passkey_challenges` (
	`challenge` text PRIMARY KEY NOT NULL,
	`purpose` text NOT NULL,
	`user_id` text,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `staff_passkeys` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`credential_id` text NOT NULL,
	`public_key` text NOT NULL,
	`counter` integer NOT NULL,
	`transports` text,
	`name` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `staff_users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `staff_passkeys_credential` ON `staff_passkeys` (`credential_id`);--> statement-breakpoint
CREATE INDEX `staff_passkeys_user` ON `staff_passkeys` (`user_id`);--> statement-breakpoint
ALTER TABLE `staff_sessions` ADD `mfa` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Sessions of people who already sign in with an authenticator code were started with it.
UPDATE `staff_sessions` SET `mfa` = 1 WHERE `user_id` IN (SELECT `id` FROM `staff_users` WHERE `totp_secret` IS NOT NULL);

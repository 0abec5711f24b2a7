CREATE TABLE `billing_customers` (
	`member_id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`provider` text NOT NULL,
	`customer_id` text NOT NULL,
	`default_payment_method_id` text,
	`card_brand` text,
	`card_last4` text,
	`card_exp_month` integer,
	`card_exp_year` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`member_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `billing_customers_provider_customer` ON `billing_customers` (`provider`,`customer_id`);--> statement-breakpoint
CREATE TABLE `credit_notes` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`invoice_id` text NOT NULL,
	`payer_id` text NOT NULL,
	`number` text NOT NULL,
	`outcome` text NOT NULL,
	`reason` text NOT NULL,
	`memo` text,
	`lines` text NOT NULL,
	`subtotal` integer NOT NULL,
	`tax` integer NOT NULL,
	`total` integer NOT NULL,
	`sequence_on_invoice` integer NOT NULL,
	`issued_at` integer NOT NULL,
	`voided` integer DEFAULT false NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`invoice_id`) REFERENCES `invoices`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`payer_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credit_notes_org_number` ON `credit_notes` (`organisation_id`,`number`);--> statement-breakpoint
CREATE UNIQUE INDEX `credit_notes_invoice_sequence` ON `credit_notes` (`invoice_id`,`sequence_on_invoice`);--> statement-breakpoint
CREATE INDEX `credit_notes_payer` ON `credit_notes` (`payer_id`);--> statement-breakpoint
CREATE TABLE `dunning_states` (
	`payer_id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`state` text NOT NULL,
	`next_wake_at` integer,
	`version` integer DEFAULT 0 NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`payer_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `invoice_sequences` (
	`organisation_id` text PRIMARY KEY NOT NULL,
	`prefix` text DEFAULT 'INV' NOT NULL,
	`next_invoice` integer DEFAULT 1 NOT NULL,
	`next_credit_note` integer DEFAULT 1 NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `invoices` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`payer_id` text NOT NULL,
	`subscription_id` text,
	`reason` text NOT NULL,
	`period_start` text,
	`period_end` text,
	`source_key` text,
	`status` text NOT NULL,
	`number` text,
	`currency` text NOT NULL,
	`lines` text NOT NULL,
	`subtotal` integer NOT NULL,
	`tax` integer NOT NULL,
	`total` integer NOT NULL,
	`starting_credit_balance` integer NOT NULL,
	`credit_applied` integer NOT NULL,
	`amount_due` integer NOT NULL,
	`ending_credit_balance` integer NOT NULL,
	`amount_paid` integer DEFAULT 0 NOT NULL,
	`amount_credited` integer DEFAULT 0 NOT NULL,
	`amount_remaining` integer NOT NULL,
	`pending_item_count` integer NOT NULL,
	`created_at` integer NOT NULL,
	`finalised_at` integer,
	`paid_at` integer,
	`voided_at` integer,
	`uncollectible_at` integer,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`payer_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`subscription_id`) REFERENCES `subscriptions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `invoices_subscription_period` ON `invoices` (`subscription_id`,`period_start`,`reason`);--> statement-breakpoint
CREATE UNIQUE INDEX `invoices_org_number` ON `invoices` (`organisation_id`,`number`);--> statement-breakpoint
CREATE UNIQUE INDEX `invoices_org_source` ON `invoices` (`organisation_id`,`source_key`);--> statement-breakpoint
CREATE INDEX `invoices_payer` ON `invoices` (`payer_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `payments` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`payer_id` text NOT NULL,
	`invoice_id` text,
	`provider` text NOT NULL,
	`method` text NOT NULL,
	`provider_payment_id` text,
	`charge_id` text,
	`attempt` integer NOT NULL,
	`idempotency_key` text NOT NULL,
	`status` text NOT NULL,
	`amount` integer NOT NULL,
	`currency` text NOT NULL,
	`amount_refunded` integer DEFAULT 0 NOT NULL,
	`failure_code` text,
	`decline_code` text,
	`failure_message` text,
	`hard_decline` integer DEFAULT false NOT NULL,
	`reference` text,
	`dispute` text,
	`applied_token` text,
	`last_event_id` text,
	`last_event` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`settled_at` integer,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`payer_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`invoice_id`) REFERENCES `invoices`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payments_idempotency` ON `payments` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `payments_provider_id` ON `payments` (`provider_payment_id`);--> statement-breakpoint
CREATE INDEX `payments_invoice` ON `payments` (`invoice_id`);--> statement-breakpoint
CREATE INDEX `payments_payer` ON `payments` (`payer_id`);--> statement-breakpoint
CREATE TABLE `pending_items` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`member_id` text NOT NULL,
	`kind` text NOT NULL,
	`description` text NOT NULL,
	`quantity` integer NOT NULL,
	`unit_amount` integer NOT NULL,
	`currency` text NOT NULL,
	`tax_name` text,
	`tax_basis_points` integer,
	`tax_mode` text,
	`invoice_id` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`member_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`invoice_id`) REFERENCES `invoices`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `pending_items_member` ON `pending_items` (`member_id`,`invoice_id`);--> statement-breakpoint
CREATE TABLE `plans` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`name` text NOT NULL,
	`currency` text NOT NULL,
	`price` integer NOT NULL,
	`interval` text NOT NULL,
	`joining_fee` integer DEFAULT 0 NOT NULL,
	`minimum_term_months` integer DEFAULT 0 NOT NULL,
	`notice_unit` text DEFAULT 'days' NOT NULL,
	`notice_count` integer DEFAULT 0 NOT NULL,
	`tax_name` text,
	`tax_basis_points` integer,
	`tax_mode` text,
	`freeze_fee` integer,
	`trial_days` integer DEFAULT 0 NOT NULL,
	`grace_days` integer DEFAULT 0 NOT NULL,
	`max_members` integer DEFAULT 1 NOT NULL,
	`access_profile_id` text,
	`archived_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`access_profile_id`) REFERENCES `access_profiles`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `plans_org` ON `plans` (`organisation_id`,`id`);--> statement-breakpoint
CREATE TABLE `processed_webhook_events` (
	`event_id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`outcome` text NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `refunds` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`payer_id` text NOT NULL,
	`payment_id` text NOT NULL,
	`credit_note_id` text,
	`amount` integer NOT NULL,
	`currency` text NOT NULL,
	`reason` text NOT NULL,
	`provider_refund_id` text,
	`idempotency_key` text NOT NULL,
	`status` text NOT NULL,
	`failure_message` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`payer_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`payment_id`) REFERENCES `payments`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`credit_note_id`) REFERENCES `credit_notes`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `refunds_idempotency` ON `refunds` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `refunds_payer` ON `refunds` (`payer_id`);--> statement-breakpoint
CREATE INDEX `refunds_payment` ON `refunds` (`payment_id`);--> statement-breakpoint
CREATE TABLE `simulated_processor_records` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `subscription_events` (
	`id` text PRIMARY KEY NOT NULL,
	`subscription_id` text NOT NULL,
	`organisation_id` text NOT NULL,
	`version` integer NOT NULL,
	`type` text NOT NULL,
	`date` text NOT NULL,
	`event` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`subscription_id`) REFERENCES `subscriptions`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `subscription_events_sub` ON `subscription_events` (`subscription_id`,`version`);--> statement-breakpoint
CREATE TABLE `subscription_members` (
	`subscription_id` text NOT NULL,
	`member_id` text NOT NULL,
	`organisation_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`subscription_id`, `member_id`),
	FOREIGN KEY (`subscription_id`) REFERENCES `subscriptions`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`member_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `subscription_members_member` ON `subscription_members` (`member_id`);--> statement-breakpoint
CREATE TABLE `subscriptions` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`payer_id` text NOT NULL,
	`plan_id` text NOT NULL,
	`state` text NOT NULL,
	`status` text NOT NULL,
	`home_site_id` text,
	`timezone` text NOT NULL,
	`next_review_on` text,
	`next_review_at` integer,
	`joining_fee_due` integer DEFAULT false NOT NULL,
	`pending_prorations` text DEFAULT '[]' NOT NULL,
	`version` integer DEFAULT 0 NOT NULL,
	`write_token` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`payer_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`plan_id`) REFERENCES `plans`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`home_site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `subscriptions_org` ON `subscriptions` (`organisation_id`,`id`);--> statement-breakpoint
CREATE INDEX `subscriptions_review` ON `subscriptions` (`next_review_at`);--> statement-breakpoint
CREATE INDEX `subscriptions_payer` ON `subscriptions` (`payer_id`);
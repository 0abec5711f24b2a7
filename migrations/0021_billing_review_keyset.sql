-- The daily run reads due subscriptions in (next_review_at, id) order, a range of this index:
-- paging by id alone scanned every later row of the table to find the last few due.
DROP INDEX `subscriptions_review`;--> statement-breakpoint
CREATE INDEX `subscriptions_review` ON `subscriptions` (`next_review_at`,`id`);
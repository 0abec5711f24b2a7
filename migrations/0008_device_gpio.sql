ALTER TABLE `devices` ADD `gpio_driver` text;--> statement-breakpoint
ALTER TABLE `devices` ADD `gpio_simulated_fallback` integer;
-- A browser or OS the user-agent parser cannot name was stored as '' before 2026-12-03; it is unknown: NULL, as
-- the session list's fields and the new-device check (`browser is ?`) read it.
UPDATE `sessions` SET `browser` = NULL WHERE `browser` = '';
--> statement-breakpoint
UPDATE `sessions` SET `os` = NULL WHERE `os` = '';

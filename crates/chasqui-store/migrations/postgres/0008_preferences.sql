-- Marketing preferences from WhatsApp (`user_preferences` webhooks): when a contact stopped them.
ALTER TABLE contacts ADD COLUMN marketing_opt_out_at BIGINT;

-- Languages (issue 15): the server's language for what is posted for the circle (set with
-- /setup language; NULL means Discord's server locale), and the language a member last used with
-- the bot in a server, for direct messages sent later (personal data: exported and deleted with
-- the rest of member_settings).

ALTER TABLE guilds ADD COLUMN language TEXT;
ALTER TABLE member_settings ADD COLUMN language TEXT;

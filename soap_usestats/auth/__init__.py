"""Authentication: Moodle tokens, client credentials (HTTP Basic, UsernameToken), addresses."""

"""Keys, signatures, token formats and hashing. Imports nothing of PunchGuard's own."""

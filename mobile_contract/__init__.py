"""The wire: every request and response body, error type and token format a client sees.

Imports nothing of PunchGuard's but `crypto`. `api/` uses these definitions as they are.
"""

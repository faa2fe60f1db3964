"""Server-rendered HTML for the public Connect pages: pure functions from frozen views to escaped markup.

No template engine and no JavaScript: every page is a string built here with ``html.escape`` on each
interpolated value, served with a strict nonce-based Content-Security-Policy (see ``html.py``).
"""

"""The hosted Connect pages: views and the page resolver."""

"""The HTML side of the platform: escaped templates, the request's public base URL, cookies and forms."""

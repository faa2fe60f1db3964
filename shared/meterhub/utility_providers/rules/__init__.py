"""Pure utility-provider rules: the Green Button ESPI reader and PKCE."""

"""Pure webhook rules: signatures and receiver URL checks."""

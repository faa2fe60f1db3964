"""Pure interval rules: the file grammar, Leap's error codes, slots, and the row validator."""

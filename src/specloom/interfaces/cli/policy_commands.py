"""``specloom policy ...``."""

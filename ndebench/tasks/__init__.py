"""Built-in tasks. They register through the same hook as a third-party task would."""

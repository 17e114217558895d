"""Small IO helpers: partition writes that replace exactly one partition."""

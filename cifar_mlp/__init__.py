"""Helper package of the book."""

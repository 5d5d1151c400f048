"""Unit tests of the console proxies."""

"""Tests of the collectors that read the running Linux host."""

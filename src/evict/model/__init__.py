"""The vocabulary every layer shares: states, observations, the store's records. No I/O."""

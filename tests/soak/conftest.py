"""The soak suite (`make soak`): long runs kept out of `make test`. It starts its own brokers."""

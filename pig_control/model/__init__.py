"""The PIG world model: encoder, velocity estimator, physics cell and decoder."""

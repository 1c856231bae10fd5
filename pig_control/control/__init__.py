"""Control from pixels: the model agent, its state estimator, costs and compiled dynamics."""

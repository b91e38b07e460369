"""How good a trained model is: evaluators yielding (name, value), and `relive evaluate` reports."""

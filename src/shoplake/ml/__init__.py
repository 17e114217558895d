"""Machine learning: inference engines, training and evaluation (torch/transformers imported lazily)."""

"""Training: configuration, data preparation, the loop, fit, distillation and augmentation."""

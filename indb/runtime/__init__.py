"""What runs models and holds device memory: GPUs and turns at them, the resident cache,
predictors and CUDA graphs."""

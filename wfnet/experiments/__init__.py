"""Running the paper's protocol: presets, ``reproduce``, result files keyed by what they depend on,
the pipeline, the ablation, the beyond step, the baselines' search and the paper-scale queue."""

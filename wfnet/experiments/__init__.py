"""Running the paper's protocol: presets, ``reproduce``, result files keyed by what they depend
on, the train-untrain-evaluate pipeline, the ablation, the beyond-the-paper step, the baselines'
search, and paper scale as a queue of GPU pieces (plan, queue, bundles)."""

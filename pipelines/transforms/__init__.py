"""The PTransforms and DoFns stages are wired from; logic lives in core/, filters/ and synth/."""

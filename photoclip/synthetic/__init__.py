"""Generated scenes (coloured shapes, rendered words) and the tiny CLIP trained on them.

Pretrained CLIP weights cannot be downloaded in tests, and random weights cannot tell a red
circle from a blue star, so the project trains its own small model on these scenes and
loads it through the same open_clip path as real models (the `test-shapes` profile).
"""

"""Training and ONNX export: the only part of Unrolled that imports torch."""

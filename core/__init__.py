"""Unrolled's runtime: numpy + onnxruntime. Loads the shipped models, encodes text, runs, samples, measures.

Never imports torch (the hosted app does not install it) nor streamlit (the runtime serves tests,
benchmarks and the app alike).
"""
